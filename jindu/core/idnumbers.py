"""Identity documents: normalise, validate, describe and mask their numbers.

One validation path for forms, imports and the API: every caller that receives an
identity number from a person or a file passes it through :func:`normalize_identity_number`
(citizen identity numbers) or :func:`normalize_document_number` (any document type).

Citizen identity number (公民身份号码), GB 11643-1999, checked with python-stdnum's
``stdnum.cn.ric`` plus the rules below (see ``shared/reference/regulatory/id_card.md``):

* Input clean-up: NFKC (full-width digits and the ideographic space U+3000 become ASCII),
  every whitespace and invisible format character (zero-width space, BOM) removed,
  trailing ``x`` upper-cased.
* 18 characters: 17 digits and a check character ``0``–``9``/``X`` (ISO 7064 MOD 11-2).
* 15 characters (first-generation cards, no check character): 6-digit address code,
  ``YYMMDD``, 3-digit sequence. Converted to 18 by inserting ``19`` before ``YY`` and
  appending the computed check character; the birth date is checked like an 18-digit one.
* Refused: wrong length, non-digits, a check character that does not match, a birth date
  that does not exist (2000-02-30, month 13, 2001-02-29), a birth date before 1900-01-01 or
  after today (Asia/Shanghai), a first two digits that are no province code, and numbers
  made of one repeated digit (``111111111111111111``).
* Not refused: address codes that are not *current* GB/T 2260 codes. The number keeps the
  code of first registration for life (居民身份证法 art. 3), so a code that has since been
  abolished is normal; :func:`parse_identity_number` reports it as a warning only.

Errors are :class:`IdentityNumberError` (a Django ``ValidationError``) with a Chinese
message and a machine-readable ``code``. Messages never repeat the number itself, so
they can be logged and shown in import reports without leaking personal data.

Other documents (passport, travel permits, foreign permanent residence card) get a light
normalisation only (NFKC, upper case, whitespace removed, charset checked); a document's
identity is the pair (document type, number), so passport ``E12345678`` and Hong Kong and
Macao permit ``E12345678`` are different documents.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import date
from functools import lru_cache
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from stdnum import exceptions as stdnum_exceptions
from stdnum.cn import ric

from jindu.core.timeutils import local_today

__all__ = [
    "DocumentType",
    "IdentityNumberError",
    "IdentityNumberInfo",
    "MALE",
    "FEMALE",
    "normalize_identity_number",
    "parse_identity_number",
    "is_valid_identity_number",
    "birth_date_of",
    "sex_of",
    "normalize_document_number",
    "mask_identity_number",
    "may_view_identity_number",
    "display_identity_number",
    "VIEW_IDENTITY_NUMBER_PERMISSION",
]

MALE, FEMALE = "male", "female"

#: Permission (held through a role) that lets a user see full identity numbers.
VIEW_IDENTITY_NUMBER_PERMISSION = "accounts.view_identity_number"

# First two digits of GB/T 2260 province-level codes, including 81/82/83 used by residence
# permits for Hong Kong, Macao and Taiwan residents (港澳台居民居住证, same number format).
# Province codes have only ever been added (46 Hainan 1988, 50 Chongqing 1997), never
# reused, so historic numbers always start with one of these.
_PROVINCE_PREFIXES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 "
    "50 51 52 53 54 61 62 63 64 65 71 81 82 83".split()
)
_EARLIEST_BIRTH_DATE = date(1900, 1, 1)


class DocumentType(models.TextChoices):
    """Kinds of identity document a person may be registered with."""

    RESIDENT_ID = "resident_id", _("居民身份证")
    PASSPORT = "passport", _("护照")
    HK_MACAO_PERMIT = "hk_macao_permit", _("港澳居民来往内地通行证")
    TAIWAN_PERMIT = "taiwan_permit", _("台湾居民来往大陆通行证")
    FOREIGN_PERMANENT_RESIDENCE = "foreign_permanent_residence", _("外国人永久居留身份证")
    OTHER = "other", _("其他")


class IdentityNumberError(ValidationError):
    """An identity or document number that cannot be accepted.

    ``code`` is one of: ``empty``, ``invalid_characters``, ``invalid_length``,
    ``invalid_checksum``, ``invalid_birth_date``, ``birth_date_out_of_range``,
    ``invalid_region``, ``repeated_digits``, ``invalid_document_type``.
    """

    def __init__(self, message: Any, code: str, params: dict | None = None):
        super().__init__(message, code=code, params=params)


@dataclass(frozen=True)
class IdentityNumberInfo:
    """What an accepted citizen identity number says.

    ``number`` is the normalised 18-character form; ``birth_date`` and ``sex``
    (``"male"``/``"female"``, from the parity of the 17th digit) are derived from it;
    ``converted_from_15`` tells that the input was a first-generation 15-digit number;
    ``warnings`` are Chinese notes for a person to check (never reasons to refuse).
    """

    number: str
    birth_date: date
    sex: str
    converted_from_15: bool = False
    warnings: tuple[str, ...] = field(default=())


def _clean(raw: Any) -> str:
    if raw is None:
        return ""
    text = unicodedata.normalize("NFKC", str(raw))
    # Whitespace (NFKC already mapped U+3000 to a space) and invisible format characters
    # such as U+200B/U+FEFF that copy-paste from web pages and Excel leaves behind.
    return "".join(ch for ch in text if not ch.isspace() and unicodedata.category(ch) != "Cf")


def _check_birth_date(number18: str) -> date:
    try:
        born = ric.get_birth_date(number18)
    except stdnum_exceptions.ValidationError:
        raise IdentityNumberError(
            _("身份证号码中的出生日期 %(value)s 不存在"),
            code="invalid_birth_date",
            params={"value": f"{number18[6:10]}-{number18[10:12]}-{number18[12:14]}"},
        ) from None
    if born < _EARLIEST_BIRTH_DATE or born > local_today():
        raise IdentityNumberError(
            _("身份证号码中的出生日期 %(value)s 不在合理范围内（1900-01-01 至今天）"),
            code="birth_date_out_of_range",
            params={"value": born.isoformat()},
        )
    return born


def parse_identity_number(raw: Any) -> IdentityNumberInfo:
    """Validate a citizen identity number and describe it.

    ``raw``: what a person typed or a file held (str; full-width digits, spaces, U+3000,
    lower-case ``x`` and 15-digit numbers are accepted). Returns
    :class:`IdentityNumberInfo`. Raises :class:`IdentityNumberError` (see the module
    docstring for the rules and the ``code`` values).
    """
    info = _checked(raw)
    if not _birth_place_known(info.number[:6], info.birth_date.year):
        from django.utils.translation import get_language

        return _with_address_warning(info, get_language())
    return info


@lru_cache(maxsize=1024)
def _with_address_warning(info: IdentityNumberInfo, language: str | None) -> IdentityNumberInfo:
    # Historic or unknown address code: legitimate for life, so only a note.
    return replace(info, warnings=(str(
        _("地址码 %(code)s 未见于出生当年的行政区划代码表，可能是旧代码，请人工核对") % {"code": info.number[:6]}
    ),))


def _checked(raw: Any) -> IdentityNumberInfo:
    """:func:`parse_identity_number` without the address-code warning (for callers that
    want only the number, birth date or sex)."""
    if isinstance(raw, str):
        # Imports and bulk writes normalise one number several times (column, form, model,
        # save, history); the checks depend only on the text and today's date (the range
        # check).
        return _parse_cached(raw, local_today())
    return _parse(raw)


@lru_cache(maxsize=4096)
def _parse_cached(raw: str, today: date) -> IdentityNumberInfo:
    return _parse(raw)


def _parse(raw: Any) -> IdentityNumberInfo:
    number = _clean(raw).upper()
    if not number:
        raise IdentityNumberError(_("身份证号码为空"), code="empty")
    if not re.fullmatch(r"\d{17}[\dX]|\d{15}", number):
        if re.fullmatch(r"[\dX]+", number) and len(number) not in (15, 18):
            raise IdentityNumberError(
                _("身份证号码应为 18 位（或旧版 15 位），实际为 %(length)d 位"),
                code="invalid_length",
                params={"length": len(number)},
            )
        raise IdentityNumberError(
            _("身份证号码只能由数字组成，最后一位可以是 X"), code="invalid_characters"
        )
    if len(set(number)) == 1:
        raise IdentityNumberError(_("身份证号码不能由同一个数字重复组成"), code="repeated_digits")
    if number[:2] not in _PROVINCE_PREFIXES:
        raise IdentityNumberError(
            _("身份证号码前两位 %(prefix)s 不是省级行政区划代码"),
            code="invalid_region",
            params={"prefix": number[:2]},
        )
    converted = len(number) == 15
    if converted:
        first17 = number[:6] + "19" + number[6:]
        number = first17 + ric.calc_check_digit(first17 + "0")
    elif number[-1] != ric.calc_check_digit(number):
        raise IdentityNumberError(
            _("身份证号码校验位不正确，请核对号码是否抄录有误"), code="invalid_checksum"
        )
    born = _check_birth_date(number)
    sex = MALE if int(number[16]) % 2 else FEMALE
    # Warnings (the address code) are added by parse_identity_number.
    return IdentityNumberInfo(number=number, birth_date=born, sex=sex, converted_from_15=converted)


@lru_cache(maxsize=4096)
def _birth_place_known(address_code: str, year: int) -> bool:
    """Whether ``address_code`` was a county code in ``year`` (stdnum's GB/T 2260 table;
    what ``ric.get_birth_place`` reads from a number), cached: the look-up dominates the
    cost of a parse and a city's numbers share a few hundred codes."""
    try:
        ric.get_birth_place(f"{address_code}{year:04d}0101000X")
    except (stdnum_exceptions.ValidationError, KeyError, ValueError):
        # stdnum 2.2 raises KeyError for a code known only at prefecture level.
        return False
    return True


def normalize_identity_number(raw: Any) -> str:
    """The normalised 18-character citizen identity number for ``raw``.

    ``"１１０１０１１９９００３０７１２３３"`` → ``"110101199003071233"``;
    ``"11010119880516105x"`` → ``"11010119880516105X"``;
    ``"110101750812341"`` → ``"110101197508123415"``.
    Raises :class:`IdentityNumberError`.
    """
    return _checked(raw).number


def is_valid_identity_number(raw: Any) -> bool:
    """Whether :func:`normalize_identity_number` accepts ``raw``."""
    try:
        _checked(raw)
    except IdentityNumberError:
        return False
    return True


def birth_date_of(number: Any) -> date:
    """Birth date encoded in a citizen identity number (any accepted form)."""
    return _checked(number).birth_date


def sex_of(number: Any) -> str:
    """``"male"`` or ``"female"``: parity of the 17th digit (GB 11643-1999 §5.3)."""
    return _checked(number).sex


# Other documents: letters and digits only; "other" also allows the separators that
# appear in e.g. military or old household documents.
_DOC_PATTERNS = {
    DocumentType.OTHER: re.compile(r"[A-Z0-9\-/()]{1,64}"),
}
_DEFAULT_DOC_PATTERN = re.compile(r"[A-Z0-9]{5,32}")


def normalize_document_number(document_type: str, raw: Any) -> str:
    """Normalise the number of a document of ``document_type`` (a :class:`DocumentType` value).

    Resident identity cards go through :func:`normalize_identity_number`. Other documents:
    NFKC, whitespace removed, upper case, then checked against a charset (letters and
    digits, 5–32 characters; ``other``: also ``- / ( )``, 1–64). Structure beyond that is
    not checked: foreign passports vary too much.
    Raises :class:`IdentityNumberError`.
    """
    if document_type in (None, "", DocumentType.RESIDENT_ID):
        return normalize_identity_number(raw)
    if document_type not in DocumentType.values:
        raise IdentityNumberError(
            _("未知的证件类型 %(value)s"), code="invalid_document_type", params={"value": str(document_type)}
        )
    number = _clean(raw).upper()
    if not number:
        raise IdentityNumberError(_("证件号码为空"), code="empty")
    pattern = _DOC_PATTERNS.get(document_type, _DEFAULT_DOC_PATTERN)
    if not pattern.fullmatch(number):
        if document_type == DocumentType.OTHER:
            message = _("证件号码只能包含字母、数字和 - / ( )，最长 64 位")
        else:
            message = _("证件号码应为 5 至 32 位字母或数字")
        raise IdentityNumberError(message, code="invalid_characters")
    return number


def mask_identity_number(value: Any) -> str:
    """The masked form shown to users who may not see full numbers.

    18-character citizen numbers keep the first 6 and last 4 characters
    (``460107********0015``); other lengths keep the first 2 and last 2 when longer than
    6 characters and are fully masked otherwise. The length is preserved; ``""`` for empty.
    The same function serves lists, detail pages, exports and the API.
    """
    if value is None:
        return ""
    text = str(value)
    n = len(text)
    if n == 0:
        return ""
    if n == 18:
        return text[:6] + "*" * 8 + text[-4:]
    if n > 6:
        return text[:2] + "*" * (n - 4) + text[-2:]
    return "*" * n


def _division_path(division: Any) -> str | None:
    if division is None:
        return None
    if isinstance(division, str):
        return division
    return division.path


def may_view_identity_number(user: Any, division: Any = None) -> bool:
    """Whether ``user`` may see full identity numbers (of a record in ``division``).

    True for active superusers and for users holding a role with
    ``accounts.view_identity_number``. When ``division`` (a ``geo.Division`` or its
    materialised path) is given, the role must be held in a subtree containing it, so a
    permission held in one district never unmasks another district's records.
    """
    from jindu.core.scope import holds_permission_at

    if user is None or not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False):
        return False
    return holds_permission_at(user, VIEW_IDENTITY_NUMBER_PERMISSION, _division_path(division), include_assigned=True)


def display_identity_number(value: Any, user: Any, division: Any = None) -> str:
    """``value`` in full if :func:`may_view_identity_number`, else :func:`mask_identity_number`.

    The one implementation behind the template filter, the API serializers and exports.
    Callers that show a full number should also write an access-log row.
    """
    if value is None or value == "":
        return ""
    if may_view_identity_number(user, division):
        return str(value)
    return mask_identity_number(value)
