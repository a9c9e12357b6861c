"""Chinese phone numbers: one stored form per number, for display and duplicate checks.

Parsing and validity come from Google's libphonenumber metadata (``phonenumbers``),
region ``CN``. The stored forms:

* mobile: the 11 national digits, ``"+86 139-0000-1111"`` → ``"13900001111"``;
* landline: trunk ``0``, area code, hyphen, subscriber number,
  ``"(0898)66123456"`` / ``"+86 898 6612 3456"`` → ``"0898-66123456"``,
  ``"010 1234 5678"`` → ``"010-12345678"``;
* other valid national numbers (``400``/``800`` service numbers): their national digits,
  ``"400-810-8888"`` → ``"4008108888"``.

Input clean-up: NFKC (full-width digits, ``＋``, ``（）`` and U+3000), then
``phonenumbers`` accepts the usual separators and prefixes (``+86``, ``0086``, ``86``).
A landline without its area code (``"66123456"``) is completed with ``default_area_code``
when given (for instance ``"0898"`` for Haikou), else refused: the same digits are a
different line in every city.

Refused with :class:`PhoneNumberError` (a Django ``ValidationError``; codes ``empty``,
``invalid``, ``missing_area_code``, ``not_chinese``, ``extension``): anything
libphonenumber does not consider a valid Chinese number, foreign numbers, extensions
(store them in a remark), short service numbers such as ``95588``. Numbers that arrive
from Excel as floats (``13900001111.0``) are the import adapter's concern: they are
refused here as ``invalid``.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Any

import phonenumbers
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

__all__ = ["PhoneNumberError", "normalize_phone", "is_mobile", "phone_kind", "mask_phone"]


class PhoneNumberError(ValidationError):
    """A phone number that cannot be accepted; ``code`` says why."""

    def __init__(self, message: Any, code: str, params: dict | None = None):
        super().__init__(message, code=code, params=params)


_MOBILE = phonenumbers.PhoneNumberType.MOBILE
_LOCAL_NUMBER = re.compile(r"^(\d{7,8}|\d{3,4}[- ]\d{4})$")
_FIXED = phonenumbers.PhoneNumberType.FIXED_LINE


#: Eleven ASCII digits starting 13–16, 170–178, 18 or 19: no prefix libphonenumber strips
#: from a CN number (its international prefix and carrier codes begin 11, 12 or 179; the
#: country code 86 begins with 8) — it parses them to +86 and the digits as they stand, so
#: they are built directly (the parse is most of the cost of a number; imports bring
#: 100,000 of them). Checked against the library by ``test_plain_mobiles_parse_as_the_library_parses``.
_PLAIN_MOBILE = re.compile(r"1(?:[3-689][0-9]|7[0-8])[0-9]{8}")


def _parse(text: str) -> phonenumbers.PhoneNumber | None:
    if _PLAIN_MOBILE.fullmatch(text):
        return phonenumbers.PhoneNumber(country_code=86, national_number=int(text))
    try:
        number = phonenumbers.parse(text, "CN")
    except phonenumbers.NumberParseException:
        return None
    return number


def normalize_phone(raw: Any, *, default_area_code: str | None = None) -> str:
    """The stored form of a Chinese mobile or landline number (see the module docstring).

    ``raw``: str as typed or imported. ``default_area_code``: ``"0898"``-style code used
    when a landline number has no area code. Raises :class:`PhoneNumberError`.
    """
    if isinstance(raw, str):
        # One number is normalised several times on its way in (column, form, model, save,
        # history); libphonenumber's parse is the expensive part. Errors are not cached.
        return _normalize_cached(raw, default_area_code)
    return _normalize(raw, default_area_code)


@lru_cache(maxsize=4096)
def _normalize_cached(raw: str, default_area_code: str | None) -> str:
    return _normalize(raw, default_area_code)


def _normalize(raw: Any, default_area_code: str | None) -> str:
    text = unicodedata.normalize("NFKC", "" if raw is None else str(raw)).strip()
    if not text:
        raise PhoneNumberError(_("电话号码为空"), code="empty")
    if "." in text:
        raise PhoneNumberError(_("电话号码格式不正确（含小数点，可能是表格中的数字单元格）"), code="invalid")
    number = _parse(text)
    if (number is not None and number.extension) or "转" in text or "分机" in text:
        raise PhoneNumberError(_("电话号码不能带分机号，请把分机号写在备注中"), code="extension")
    if number is not None and number.country_code != 86 and phonenumbers.is_valid_number(number):
        raise PhoneNumberError(_("不是中国大陆的电话号码"), code="not_chinese")
    # For +86 (one region, CN) ``is_valid_number`` is ``number_type(...) != UNKNOWN``: one
    # classification answers both questions.
    kind = phonenumbers.number_type(number) if number is not None and number.country_code == 86 else None
    if kind is None or kind == phonenumbers.PhoneNumberType.UNKNOWN:
        digits = "".join(ch for ch in text if ch.isdigit())
        # Only what is written like a local number ("66123456", "6612-3456") lacks an area
        # code; "2024-02-30" has 8 digits too but is no phone number at all.
        local = _LOCAL_NUMBER.match(text) is not None and digits[0] not in "01"
        if default_area_code and local:
            return normalize_phone(default_area_code + digits)
        if local:
            raise PhoneNumberError(_("固定电话缺少区号"), code="missing_area_code")
        raise PhoneNumberError(_("不是有效的手机号码或固定电话号码"), code="invalid")
    national = str(number.national_number)
    if kind == _MOBILE:
        return national
    if kind in (_FIXED, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE):
        area_len = phonenumbers.length_of_geographical_area_code(number)
        if area_len:
            return f"0{national[:area_len]}-{national[area_len:]}"
    return national


def phone_kind(value: str) -> str:
    """``"mobile"``, ``"landline"`` or ``"other"`` for a stored form."""
    if len(value) == 11 and value.startswith("1") and value.isdigit():
        return "mobile"
    if value.startswith("0") and "-" in value:
        return "landline"
    return "other"


def is_mobile(value: str) -> bool:
    """Whether a stored form is a mobile number."""
    return phone_kind(value) == "mobile"


def mask_phone(value: str) -> str:
    """Mobile numbers keep the first 3 and last 4 digits (``139****1111``); others the last 4."""
    if not value:
        return ""
    if is_mobile(value):
        return value[:3] + "****" + value[-4:]
    return "*" * max(len(value) - 4, 0) + value[-4:]
