"""Column specs: what each spreadsheet column means and how a raw cell becomes a value.

An importer declares its columns (see :class:`jindu.core.imports.Importer`); each column
turns a :class:`~jindu.core.imports.readers.RawCell` into a Python value
(:meth:`Column.parse`), which is then handed to the importer's form as ``data`` (the same
form manual entry uses validates it: one validation path). A column refuses what the
form could not judge any more once the cell has been typed by Excel:

- identity numbers in numeric cells (precision already lost beyond 15 digits; DESIGN.md
  "Input"); long codes in numeric cells unless the number is provably exact;
- "13900001111.0": integral floats are read as their integer's digits (peer case 1);
- dates in another order than the column's declared formats ("15/04/2023" in a
  ``YYYY-MM-DD`` column, peer case 7) and dates that do not exist ("2024-02-30");
- decimals are never floats: a numeric cell becomes ``Decimal(repr(value))``, the
  shortest text that reads back as the stored double, i.e. what Excel shows.

Errors are :class:`CellError` with a Chinese message; the engine adds row and column.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Iterable

from django.db import models
from django.utils.translation import gettext as _

from jindu.core.imports.readers import BOOL, DATE, EMPTY, ERROR, FORMULA, NUMBER, TEXT, RawCell


def language_forms(text: Any) -> list[str]:
    """``text`` (a gettext_lazy msgid) rendered in every configured language, the msgid's
    own language first: spreadsheets travel between users whose UI languages differ, so
    headers and choice labels are recognised in any of them."""
    from django.conf import settings
    from django.utils import translation

    forms_: list[str] = []
    for code in [settings.LANGUAGE_CODE] + [c for c, _n in settings.LANGUAGES]:
        with translation.override(code):
            value = str(text)
        if value not in forms_:
            forms_.append(value)
    current = str(text)
    if current not in forms_:
        forms_.append(current)
    return forms_


class CellError(Exception):
    """A cell that cannot be read as its column's type; ``str(exc)`` is the Chinese reason."""


@dataclass
class ParseContext:
    """What a column may need beyond the cell: the importing user and a per-import cache
    (foreign-key look-ups are made once per distinct value, not once per row)."""

    user: Any = None
    cache: dict = field(default_factory=dict)


# Excel's day 0 for the 1900 date system, valid for serials ≥ 61 (1900-03-01 on), i.e. after
# Excel's fictitious 1900-02-29 (serial 60).
_EXCEL_EPOCH = date(1899, 12, 30)
_MAX_EXACT_INT = 10**15  # Excel keeps 15 significant digits; beyond that digits are lost


def _integral(value: Any) -> int | None:
    """The int a numeric cell holds exactly, or ``None`` if it has a fraction."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def cell_text(cell: RawCell) -> str:
    """The text a person sees in the cell, whatever its type ("" for empty).

    Integral numbers lose Excel's float suffix (13900001111.0 → "13900001111"); dates
    are ISO; booleans 是/否. Error cells (``#N/A``) and formula cells raise :class:`CellError`.
    """
    if cell.kind == EMPTY:
        return ""
    if cell.kind == TEXT:
        return str(cell.value).strip()
    if cell.kind == NUMBER:
        n = _integral(cell.value)
        return str(n) if n is not None else repr(cell.value)
    if cell.kind == DATE:
        v = cell.value
        if isinstance(v, datetime) and (v.hour, v.minute, v.second, v.microsecond) == (0, 0, 0, 0):
            return v.date().isoformat()
        return v.isoformat(sep=" ") if isinstance(v, datetime) else v.isoformat()
    if cell.kind == BOOL:
        return _("是") if cell.value else _("否")
    if cell.kind == ERROR:
        raise CellError(_("单元格是错误值 %(value)s，请填写实际内容") % {"value": cell.value})
    if cell.kind == FORMULA:
        raise CellError(_("单元格是公式，请改为直接填写数值或文字"))
    return str(cell.value).strip()


class Column:
    """One spreadsheet column mapped to one form field.

    ``field``: the form field's name. ``header``: the Chinese header (a gettext msgid).
    ``aliases``: other headers accepted for the same column (``("区划代码",)``).
    ``required``: whether the header must be present; ``None`` takes the form field's
    ``required``. Whether a *cell* may be empty is the form's decision.
    ``text_format``: the template formats this column as text (``@``).
    ``help``: shown in the template's instructions sheet.
    """

    kind = "text"
    text_format = False

    def __init__(
        self,
        field: str,
        header: Any,
        *,
        aliases: Iterable[Any] = (),
        required: bool | None = None,
        help: Any = "",
    ):
        self.field = field
        self.header = header
        self.aliases = tuple(aliases)
        self.required = required
        self.help = help

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.field}>"

    @property
    def label(self) -> str:
        """The header in the current UI language (messages, preview)."""
        return str(self.header)

    @property
    def canonical_header(self) -> str:
        """The header as templates write it: the msgid's language (Chinese)."""
        return language_forms(self.header)[0]

    def header_forms(self) -> list[str]:
        """Every header text this column answers to (all languages, and the aliases)."""
        out: list[str] = []
        for name in (self.header, *self.aliases):
            out.extend(language_forms(name))
        return out

    def parse(self, cell: RawCell, ctx: ParseContext) -> Any:
        """The cell's value (``None`` when empty). Raises :class:`CellError`."""
        text = cell_text(cell)
        return text or None

    def to_form(self, value: Any) -> Any:
        """The value as form ``data`` (``""`` for empty)."""
        return "" if value is None else value

    def display(self, value: Any) -> str:
        """The value as shown in the preview (personal data masked)."""
        return "" if value is None else str(value)

    def describe(self) -> str:
        """One line for the template's instructions sheet."""
        return str(self.help)


class TextColumn(Column):
    """Free text; surrounding whitespace (also U+3000) removed, inner text kept exactly."""


class IdentityNumberColumn(Column):
    """A citizen identity number. Numeric cells are refused (Excel keeps 15 digits, so an
    18-digit number is already corrupted, and the check character X cannot be a number).
    Validation and normalisation are the form's (:mod:`jindu.core.idnumbers`); the preview
    shows the number masked."""

    kind = "identity"
    text_format = True

    def parse(self, cell: RawCell, ctx: ParseContext) -> Any:
        if cell.kind == NUMBER:
            raise CellError(
                _("身份证号填在了数字格式的单元格中，可能已丢失末位数字或校验位。请将该列设置为“文本”格式后重新填写")
            )
        return super().parse(cell, ctx)

    def display(self, value: Any) -> str:
        from jindu.core.idnumbers import mask_identity_number

        return mask_identity_number(value) if value else ""

    def describe(self) -> str:
        return str(self.help) or _("18位身份证号，单元格须为文本格式")


class PhoneColumn(Column):
    """A telephone number as text. A numeric cell with an integral value is read as its
    digits (13900001111, never "13900001111.0"); a fraction or exponent is refused.

    Only the spreadsheet part is done here: whether the text is a valid number, and its
    stored form, are decided by the importer's form through the model's
    :class:`jindu.core.fields.PhoneNumberField` — the same check as manual entry and API.
    """

    kind = "phone"
    text_format = True

    def parse(self, cell: RawCell, ctx: ParseContext) -> Any:
        if cell.kind == NUMBER:
            n = _integral(cell.value)
            if n is None or n < 0 or n >= _MAX_EXACT_INT:
                raise CellError(_("电话号码不能是小数或超长数字，请将该列设置为“文本”格式后重新填写"))
            return str(n)
        text = unicodedata.normalize("NFKC", cell_text(cell)).strip()
        return text or None


_ZERO_PAD_FORMAT = re.compile(r"^0+$")


class CodeColumn(Column):
    """A code made of digits (division code, unit code, licence number) kept as text.

    Text cells are read as written (full-width digits folded to ASCII, spaces removed).
    A numeric cell is accepted only when nothing can have been lost, and refused
    otherwise with a request to use text format (peer case 1):

    - its number format is a zero-pad pattern (``0000``): the code is padded as Excel
      shows it (231 shown as ``0000`` → ``"0231"``);
    - ``length`` is declared and the integer has exactly that many digits (≤ 15), so no
      leading zero can be missing.
    """

    kind = "code"
    text_format = True

    def __init__(self, field: str, header: Any, *, length: int | None = None, **kwargs: Any):
        super().__init__(field, header, **kwargs)
        self.length = length

    def parse(self, cell: RawCell, ctx: ParseContext) -> Any:
        if cell.kind == NUMBER:
            return self._from_number(cell)
        text = unicodedata.normalize("NFKC", cell_text(cell))
        text = "".join(text.split())
        return text or None

    def _from_number(self, cell: RawCell) -> str:
        n = _integral(cell.value)
        if n is None or n < 0 or n >= _MAX_EXACT_INT:
            raise CellError(
                _("编码填在了数字格式的单元格中，精度已丢失。请将该列设置为“文本”格式后重新填写")
            )
        fmt = (cell.number_format or "").strip()
        if _ZERO_PAD_FORMAT.match(fmt):
            return str(n).zfill(len(fmt))
        if self.length and len(str(n)) == self.length:
            return str(n)
        raise CellError(
            _("编码填在了数字格式的单元格中，前导零可能已丢失（读到 %(value)s）。请将该列设置为“文本”格式后重新填写")
            % {"value": n}
        )

    def describe(self) -> str:
        if str(self.help):
            return str(self.help)
        if self.length:
            return _("%(n)d位数字编码，单元格须为文本格式") % {"n": self.length}
        return _("编码，单元格须为文本格式")


_INT_TEXT = re.compile(r"^[+-]?\d{1,3}(,\d{3})*$|^[+-]?\d+$")


class IntegerColumn(Column):
    """A whole number: integral numeric cells, or text digits (thousands commas allowed)."""

    kind = "integer"

    def parse(self, cell: RawCell, ctx: ParseContext) -> Any:
        if cell.kind == NUMBER:
            n = _integral(cell.value)
            if n is None:
                raise CellError(_("应为整数，收到 %(value)s") % {"value": repr(cell.value)})
            return n
        text = unicodedata.normalize("NFKC", cell_text(cell)).replace(" ", "")
        if not text:
            return None
        if not _INT_TEXT.match(text):
            raise CellError(_("应为整数，收到“%(value)s”") % {"value": text})
        return int(text.replace(",", ""))


class DecimalColumn(Column):
    """An exact quantity as :class:`~decimal.Decimal`, never a float.

    Numeric cells: ``Decimal(repr(value))`` — the shortest decimal that reads back as
    the stored double, which is what Excel displays (0.1 → ``Decimal("0.1")``, not
    0.1000000000000000055…). Text: digits with an optional sign, point and thousands
    commas. Places and range are the form field's to check.
    """

    kind = "decimal"

    def parse(self, cell: RawCell, ctx: ParseContext) -> Any:
        if cell.kind == NUMBER:
            v = cell.value
            return Decimal(v) if isinstance(v, int) else Decimal(repr(v))
        text = unicodedata.normalize("NFKC", cell_text(cell)).replace(" ", "").replace(",", "")
        if not text:
            return None
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise CellError(_("应为数字，收到“%(value)s”") % {"value": text}) from None
        if not value.is_finite():
            raise CellError(_("应为数字，收到“%(value)s”") % {"value": text})
        return value

    def to_form(self, value: Any) -> Any:
        return "" if value is None else str(value)


#: Declared date formats (what the template's instructions show → pattern).
DATE_ISO = "YYYY-MM-DD"
DATE_SLASH = "YYYY/M/D"
DATE_CJK = "YYYY年M月D日"
_TIME_SUFFIX = r"(?:[ T]00:00(?::00)?)?"
DATE_PATTERNS = {
    DATE_ISO: re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})" + _TIME_SUFFIX + "$"),
    DATE_SLASH: re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})" + _TIME_SUFFIX + "$"),
    DATE_CJK: re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日$"),
}
DEFAULT_DATE_FORMATS = (DATE_ISO, DATE_SLASH, DATE_CJK)


def excel_serial_to_date(serial: int | float) -> date:
    """Excel 1900-system serial → date (45356 → 2024-03-05). Time of day is dropped.

    Raises :class:`CellError` for serials before 1900-03-01 (61) or after 9999-12-31.
    """
    if serial < 61 or serial > 2958465:
        raise CellError(_("日期序号 %(value)s 超出有效范围") % {"value": serial})
    return _EXCEL_EPOCH + timedelta(days=int(serial))


class DateColumn(Column):
    """A calendar date. Accepted: real date cells, Excel serial numbers in numeric cells,
    and text in one of the column's declared ``formats`` (default: ``YYYY-MM-DD``,
    ``YYYY/M/D``, ``YYYY年M月D日``; all year-first, so "2024-11-06" is always 6 Nov).
    Text in any other order ("15/04/2023") is refused naming the expected formats, so two
    rows of one column can never be read in different orders (peer case 7); a date that
    does not exist ("2024-02-30") is refused for that row (peer case 2)."""

    kind = "date"

    def __init__(self, field: str, header: Any, *, formats: Iterable[str] = DEFAULT_DATE_FORMATS, **kwargs: Any):
        super().__init__(field, header, **kwargs)
        self.formats = tuple(formats)
        unknown = [f for f in self.formats if f not in DATE_PATTERNS]
        if unknown:
            raise ValueError(f"unknown date formats {unknown}; use {list(DATE_PATTERNS)}")

    def parse(self, cell: RawCell, ctx: ParseContext) -> Any:
        if cell.kind == DATE:
            v = cell.value
            if isinstance(v, datetime):
                return v.date()
            if isinstance(v, date):
                return v
            raise CellError(_("应为日期，收到时间 %(value)s") % {"value": v})
        if cell.kind == NUMBER:
            return excel_serial_to_date(cell.value)
        text = unicodedata.normalize("NFKC", cell_text(cell)).strip()
        if not text:
            return None
        for fmt in self.formats:
            m = DATE_PATTERNS[fmt].match(text)
            if m:
                y, mo, d = (int(g) for g in m.groups())
                try:
                    return date(y, mo, d)
                except ValueError:
                    raise CellError(_("日期“%(value)s”不存在") % {"value": text}) from None
        raise CellError(
            _("日期格式不符：应为 %(formats)s，收到“%(value)s”")
            % {"formats": "、".join(self.formats), "value": text}
        )

    def to_form(self, value: Any) -> Any:
        # The date itself: a form's DateField takes it as is (no second parse).
        return "" if value is None else value

    def display(self, value: Any) -> str:
        return "" if value is None else value.isoformat()

    def describe(self) -> str:
        return str(self.help) or _("日期，格式：%(formats)s") % {"formats": "、".join(self.formats)}


class ChoiceColumn(Column):
    """One of fixed choices, written as its Chinese label (the stored value is accepted
    too). ``choices`` is a ``TextChoices`` class or ``[(value, label), ...]``."""

    kind = "choice"

    def __init__(self, field: str, header: Any, *, choices: Any, **kwargs: Any):
        super().__init__(field, header, **kwargs)
        self._choices = choices

    @property
    def choices(self) -> list[tuple[Any, str]]:
        c = self._choices
        if isinstance(c, type) and issubclass(c, models.Choices):
            c = c.choices
        return [(v, str(label)) for v, label in c]

    def _lookup(self) -> dict[str, Any]:
        table = getattr(self, "_lookup_table", None)
        if table is None:
            c = self._choices
            if isinstance(c, type) and issubclass(c, models.Choices):
                c = c.choices
            table = {}
            for value, label in c:
                table[str(value)] = value
                for form in language_forms(label):
                    table.setdefault(_fold(form), value)
            self._lookup_table = table
        return table

    def parse(self, cell: RawCell, ctx: ParseContext) -> Any:
        text = cell_text(cell)
        if not text:
            return None
        table = self._lookup()
        if text in table:
            return table[text]
        if _fold(text) in table:
            return table[_fold(text)]
        raise CellError(
            _("应为以下之一：%(labels)s；收到“%(value)s”")
            % {"labels": "、".join(label for _v, label in self.choices), "value": text}
        )

    def display(self, value: Any) -> str:
        return dict(self.choices).get(value, "" if value is None else str(value))

    def describe(self) -> str:
        return str(self.help) or _("可选：%(labels)s") % {"labels": "、".join(lbl for _v, lbl in self.choices)}


def _fold(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split()).casefold()


class BooleanColumn(Column):
    """Yes/no written as 是/否 (also 1/0, Y/N, TRUE/FALSE)."""

    kind = "boolean"
    _TRUE = {"是", "1", "Y", "YES", "TRUE", "有效", "√"}
    _FALSE = {"否", "0", "N", "NO", "FALSE", "无效", "×"}

    def parse(self, cell: RawCell, ctx: ParseContext) -> Any:
        if cell.kind == BOOL:
            return bool(cell.value)
        text = cell_text(cell).upper()
        if not text:
            return None
        if text in self._TRUE:
            return True
        if text in self._FALSE:
            return False
        raise CellError(_("应为“是”或“否”，收到“%(value)s”") % {"value": text})

    def to_form(self, value: Any) -> Any:
        return "" if value is None else value

    def display(self, value: Any) -> str:
        return "" if value is None else (_("是") if value else _("否"))


class ForeignKeyColumn(CodeColumn):
    """A reference to another record, written as its code or its name.

    ``queryset(user)`` gives the rows the importing user may reference (scoped: a row
    outside the user's scope reads as "not found", the same answer as a missing one).
    A cell matching ``code_field`` wins; otherwise ``name_field`` must match exactly one
    row — an ambiguous name is refused asking for the code. Numeric cells follow
    :class:`CodeColumn` (exact ``code_length``-digit integers only). The parsed value
    is the model instance; the form gets its primary key.
    """

    kind = "foreign_key"

    def __init__(
        self,
        field: str,
        header: Any,
        *,
        queryset: Callable[[Any], models.QuerySet],
        code_field: str | None = "code",
        name_field: str | None = "name",
        code_length: int | None = None,
        normalize_code: Callable[[str], str] | None = None,
        **kwargs: Any,
    ):
        super().__init__(field, header, length=code_length, **kwargs)
        self.queryset = queryset
        self.code_field = code_field
        self.name_field = name_field
        self.normalize_code = normalize_code

    def parse(self, cell: RawCell, ctx: ParseContext) -> Any:
        if cell.kind == NUMBER:
            text = self._from_number(cell)
        else:
            text = cell_text(cell)
        if not text:
            return None
        key = (id(self), text)
        if key not in ctx.cache:
            ctx.cache[key] = self._lookup(text, ctx)
        result = ctx.cache[key]
        if isinstance(result, CellError):
            raise result
        return result

    def _lookup(self, text: str, ctx: ParseContext) -> Any:
        qs = self.queryset(ctx.user)
        if self.code_field:
            code = "".join(unicodedata.normalize("NFKC", text).split())
            if self.normalize_code:
                code = self.normalize_code(code)
            found = list(qs.filter(**{self.code_field: code})[:2])
            if len(found) == 1:
                return found[0]
        if self.name_field:
            found = list(qs.filter(**{self.name_field: text})[:2])
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                return CellError(
                    _("名称“%(value)s”对应多条记录，请改填编码") % {"value": text}
                )
        return CellError(_("未找到“%(value)s”，或不在您的管辖范围内") % {"value": text})

    def to_form(self, value: Any) -> Any:
        return "" if value is None else value.pk

    def display(self, value: Any) -> str:
        if value is None:
            return ""
        code = getattr(value, self.code_field, "") if self.code_field else ""
        return f"{value}（{code}）" if code else str(value)

    def describe(self) -> str:
        return str(self.help) or _("填写编码或名称（名称重复时须填编码）")
