"""Spreadsheet imports of the precursors registry: enterprises (``precursors.enterprise``),
licences and filings (``precursors.licence``) and stock-ledger entries
(``precursors.ledger``), through the core engine (:mod:`jindu.core.imports`: xlsx/csv,
encodings, numeric-cell and date rules, preview, all-or-nothing commit kept as batches).

Real records are messy (``reference/regulatory/precursor_import_notes.md``); every value
goes through :mod:`jindu.precursors.normalize` and the value as written is kept beside the
matched one (``chemical_raw``, ``number_raw``, ``issuer_raw``, ``permit_number_raw``):

- chemical names are matched to the catalogue after traditional → simplified folding,
  bracket and asterisk normalisation and the synonym table, or by CAS number; the preview
  lists every name that was matched to a different catalogue name;
- licence numbers and permit numbers are stored with brackets folded (〔2024〕, （琼）);
- pre-reform issuer names are stored as their successor (安全生产监督管理局 → 应急管理局);
- dates may be written 2022-01-18, 2018/11/19, 2015年09月24日 (full-width digits too);
- enterprise codes may be 18-character credit codes, 9-character organisation codes or
  15-digit registration numbers; a ``92…`` individual-business code is flagged.

Validation is the manual entry's: each row goes through the page's form
(:class:`~jindu.precursors.forms.EnterpriseForm`, ``LicenceForm``, ``LedgerEntryForm``,
subclassed here only to read what spreadsheets write), and every write is a service call
(:mod:`jindu.precursors.services`) with its scope re-check and audit event.

Ledger entries are posted together at the end of the run
(:meth:`LedgerImporter.finish`) by :func:`jindu.precursors.services.post_entries`, which
locks the balance rows: an outbound that would make a balance negative refuses the whole
file, naming the row. Rows are posted in date order (file order within a day), so a file
listed newest first imports like one listed oldest first; the same check is made row by
row against the current balances so that the preview names every such row together with
the other errors. A row already in the ledger (same enterprise, chemical, direction,
document number, date and quantity) is refused, so importing a file twice adds nothing.
Ledger rows are validated in batches with one pooled form (the core engine's bulk path,
:meth:`LedgerImporter.process_rows`), the same checks as one form per row.

Licences: one row per licence × chemical; rows with the same kind and number (after
normalisation) are one licence, whose other cells may be left empty after its first row
(filled, they must agree). Only new licences are imported.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterable

from django import forms
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, transaction
from django.db.models import Q
from django.db.models.functions import Substr
from django.forms.utils import ErrorDict
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _

from jindu.core.imports import (
    BooleanColumn,
    CellError,
    ChoiceColumn,
    CodeColumn,
    Column,
    DateColumn,
    Importer,
    PhoneColumn,
    TextColumn,
    register,
)
from jindu.core.imports.columns import cell_text
from jindu.core.imports.engine import CREATED, ERROR, error_problems
from jindu.core.imports.readers import DATE, NUMBER
from jindu.core.scope import ADD, CHANGE, VIEW
from jindu.core.timeutils import local_today
from jindu.org.importers import DivisionColumn
from jindu.org.models import Unit
from jindu.precursors import selectors
from jindu.precursors.choices import (
    OUTBOUND_DIRECTIONS,
    Direction,
    EnterpriseKind,
    EnterpriseStatus,
    EntrySource,
    LicenceKind,
    QuantityUnit,
    RiskLevel,
)
from jindu.precursors.forms import ENTERPRISE_FIELDS, EnterpriseForm, LedgerEntryForm, LicenceForm
from jindu.precursors.models import KG, Enterprise, LedgerEntry, Licence, StockBalance
from jindu.precursors.normalize import (
    ChemicalIndex,
    ChemicalResolution,
    chemical_key,
    check_credit_code,
    fold_traditional,
    normalize_issuer,
    normalize_number,
    parse_date,
    parse_licence_kind,
    parse_quantity,
    parse_unit,
)
from jindu.precursors.units import quantity_to_kg

#: Ledger rows per :func:`~jindu.precursors.services.post_entries` call: each call holds its
#: unsaved entries in memory; the calls share the import's transaction (all or nothing).
POST_CHUNK = 5000
#: Warnings of one kind listed in the preview; the rest are counted.
WARNINGS_SHOWN = 20

_SEPARATORS = re.compile(r"[、,，;；/\n]+")


def _fold(text: str) -> str:
    return "".join(fold_traditional(unicodedata.normalize("NFKC", text or "")).split()).casefold()


def _services():
    from jindu.precursors import services

    return services


# -- columns ----------------------------------------------------------------------------------


class LenientDateColumn(DateColumn):
    """A date as real records write it (:func:`jindu.precursors.normalize.parse_date`):
    2022-01-18, 2018/11/19, 2018.11.19, 2015年09月24日, 20150924, full-width digits; also
    Excel date cells and serial numbers. Always year first."""

    def parse(self, cell, ctx):
        if cell.kind in (DATE, NUMBER):
            return super().parse(cell, ctx)
        text = cell_text(cell)
        if not text:
            return None
        try:
            return parse_date(text)
        except ValidationError as exc:
            raise CellError(exc.messages[0]) from None

    def describe(self):
        return str(self.help) or _g("日期，年份在前：2022-01-18、2022/1/18、2022年1月18日 等")


class SynonymChoiceColumn(ChoiceColumn):
    """A choice column that also reads customary words for its labels (``synonyms``,
    compared after full-width and traditional folding) or a ``parser`` of free wording."""

    def __init__(self, field, header, *, synonyms=None, parser=None, **kwargs):
        super().__init__(field, header, **kwargs)
        self.synonyms = {_fold(k): v for k, v in (synonyms or {}).items()}
        self.parser = parser

    def parse(self, cell, ctx):
        text = cell_text(cell)
        if not text:
            return None
        if _fold(text) in self.synonyms:
            return self.synonyms[_fold(text)]
        if self.parser is not None:
            value = self.parser(text)
            if value:
                return value
        return super().parse(cell, ctx)


def find_enterprise(text: str, user: Any) -> Enterprise:
    """The enterprise ``text`` names among those ``user`` may see: by credit code, by
    organisation code or registration number (also the organisation code inside a credit
    code: an enterprise registered with only its old code is found by its new one), else
    by exact name (traditional characters folded). Raises :class:`CellError` (Chinese)."""
    visible = selectors.enterprises_for(user)
    try:
        checked = check_credit_code(text)
    except ValidationError as exc:
        checked = None
        looks_like_code = bool(re.fullmatch(r"[0-9A-Za-z\-\s]{9,20}", unicodedata.normalize("NFKC", text)))
        if looks_like_code:
            raise CellError(exc.messages[0]) from None
    if checked is not None and (checked.credit_code or checked.legacy_code):
        if checked.credit_code:
            rows = list(visible.filter(credit_code=checked.credit_code)[:2]) or list(
                visible.filter(credit_code="", legacy_code=checked.credit_code[8:17])[:2])
        else:
            rows = list(visible.filter(legacy_code=checked.legacy_code)[:2])
            if not rows and len(checked.legacy_code) == 9:
                rows = list(visible.annotate(_org=Substr("credit_code", 9, 9)).filter(_org=checked.legacy_code)[:2])
        if len(rows) == 1:
            return rows[0]
        raise CellError(_g("未找到代码为“%(code)s”的企业，或不在您的管辖范围内") % {"code": text})
    rows: list[Enterprise] = []
    tried: set[str] = set()
    name = text.strip()
    for candidate in (name, "".join(name.split()), fold_traditional(unicodedata.normalize("NFKC", name))):
        if candidate and candidate not in tried and not rows:
            tried.add(candidate)
            rows = list(visible.filter(name=candidate)[:2])
    if len(rows) > 1:
        raise CellError(_g("名称为“%(name)s”的企业不止一家，请改填统一社会信用代码") % {"name": text})
    if not rows:
        raise CellError(_g("未找到企业“%(name)s”，或不在您的管辖范围内（可填统一社会信用代码或企业全称）")
                        % {"name": text})
    return rows[0]


class EnterpriseColumn(Column):
    """An enterprise by credit code, organisation code, registration number or exact name
    (:func:`find_enterprise`); the form then checks the user may write for it."""

    kind = "enterprise"
    text_format = True

    def parse(self, cell, ctx):
        if cell.kind == NUMBER:
            value = cell.value
            if isinstance(value, float) and value.is_integer() and value < 10**15:
                value = int(value)
            if not isinstance(value, int):
                raise CellError(_g("企业代码填在了数字格式的单元格中，精度已丢失。请将该列设置为“文本”格式后重新填写"))
            text = str(value)
        else:
            text = cell_text(cell)
        if not text:
            return None
        key = (id(self), text)
        if key not in ctx.cache:
            try:
                ctx.cache[key] = find_enterprise(text, ctx.user)
            except CellError as exc:
                ctx.cache[key] = exc
        found = ctx.cache[key]
        if isinstance(found, CellError):
            raise found
        return found

    def to_form(self, value):
        return "" if value is None else value.pk

    def display(self, value):
        if value is None:
            return ""
        code = value.credit_code or value.legacy_code
        return f"{value.name}（{code}）" if code else value.name

    def describe(self):
        return str(self.help) or _g("统一社会信用代码（旧档案可填组织机构代码或注册号）或企业全称，单元格须为文本格式")


class UnitsColumn(Column):
    """Supervising departments by name or short name, several separated by 、 , ; or /;
    only active units the user may see."""

    kind = "units"

    def parse(self, cell, ctx):
        text = cell_text(cell)
        if not text:
            return []
        found: list[Unit] = []
        visible = Unit.objects.restrict(ctx.user, VIEW).filter(is_active=True)
        for name in (n.strip() for n in _SEPARATORS.split(text)):
            if not name:
                continue
            key = ("unit", name)
            if key not in ctx.cache:
                rows = list(visible.filter(Q(name=name) | Q(short_name=name)).order_by("pk")[:2])
                if len(rows) == 1:
                    ctx.cache[key] = rows[0]
                elif rows:
                    ctx.cache[key] = CellError(_g("监管部门“%(name)s”对应多个单位，请填写单位全称") % {"name": name})
                else:
                    ctx.cache[key] = CellError(_g("未找到监管部门“%(name)s”，或不在您的可见范围内") % {"name": name})
            unit = ctx.cache[key]
            if isinstance(unit, CellError):
                raise unit
            if unit not in found:
                found.append(unit)
        return found

    def to_form(self, value):
        return [u.pk for u in value] if value else []

    def display(self, value):
        return "、".join(u.name for u in value) if value else ""

    def describe(self):
        return str(self.help) or _g("单位全称或简称，多个用“、”分隔，如“海口市公安局、海口市应急管理局”")


class QuantityColumn(Column):
    """A quantity, with or without its unit in the same cell ("25", "25kg", "1.5吨",
    "200L", "4桶"): numeric cells exactly as Excel shows them; text kept for the form,
    which parses it (:func:`jindu.precursors.normalize.parse_quantity`)."""

    kind = "quantity"

    def parse(self, cell, ctx):
        if cell.kind == NUMBER:
            v = cell.value
            return Decimal(v) if isinstance(v, int) else Decimal(repr(v))
        text = unicodedata.normalize("NFKC", cell_text(cell)).strip()
        return text or None

    def to_form(self, value):
        return "" if value is None else str(value)


class MassColumn(Column):
    """A mass in kilograms: a number, or text with a mass unit ("25kg", "500g", "0.5吨")."""

    kind = "decimal"

    def parse(self, cell, ctx):
        if cell.kind == NUMBER:
            v = cell.value
            return Decimal(v) if isinstance(v, int) else Decimal(repr(v))
        text = cell_text(cell)
        if not text:
            return None
        try:
            number, unit = parse_quantity(text)
        except ValidationError as exc:
            raise CellError(exc.messages[0]) from None
        if unit in (None, QuantityUnit.KG):
            return number
        if unit == QuantityUnit.T:
            return number * 1000
        if unit == QuantityUnit.G:
            return number / 1000
        raise CellError(_g("应为质量（千克、吨或克），收到“%(value)s”") % {"value": text})

    def to_form(self, value):
        return "" if value is None else format(value, "f")


_DENSITY_UNITS = re.compile(r"(?i)(kg/l|g/ml|g/cm3|g/cm³|千克/升|公斤/升|克/毫升|克/立方厘米)$")


class DensityColumn(Column):
    """A density in kg/L: a number, or text with the unit (kg/L, g/mL and g/cm³ are the
    same number)."""

    kind = "decimal"

    def parse(self, cell, ctx):
        if cell.kind == NUMBER:
            v = cell.value
            return Decimal(v) if isinstance(v, int) else Decimal(repr(v))
        text = "".join(unicodedata.normalize("NFKC", cell_text(cell)).split())
        if not text:
            return None
        number = _DENSITY_UNITS.sub("", text)
        try:
            value = Decimal(number)
        except ArithmeticError:
            raise CellError(_g("密度应为数字（千克/升），收到“%(value)s”") % {"value": cell_text(cell)}) from None
        if not value.is_finite():
            raise CellError(_g("密度应为数字（千克/升），收到“%(value)s”") % {"value": cell_text(cell)})
        return value

    def to_form(self, value):
        return "" if value is None else format(value, "f")


# -- shared helpers -----------------------------------------------------------------------------


@dataclass
class _Refusals:
    """Rows refused by an importer's :meth:`finish` (after the engine counted them)."""

    rows: set = field(default_factory=set)

    def refuse(self, result: Any, row: int | None, column: str, message: str) -> None:
        result.add_error(row, column, message)
        if row is None or row in self.rows:
            return
        self.rows.add(row)
        result.error_rows += 1
        result.counts[CREATED] = max(0, result.counts[CREATED] - 1)
        for shown in result.preview:
            if shown["row"] == row:
                shown["action"] = ERROR

    @staticmethod
    def sort(result: Any) -> None:
        result.errors.sort(key=lambda e: (e["row"] is None, e["row"] or 0))


def _add_warnings(result: Any, warnings: Iterable[str]) -> None:
    warnings = list(dict.fromkeys(warnings))
    result.warnings.extend(warnings[:WARNINGS_SHOWN])
    if len(warnings) > WARNINGS_SHOWN:
        result.warnings.append(_g("另有 %(n)s 条提示未列出") % {"n": len(warnings) - WARNINGS_SHOWN})


def _row_list(rows: list[int]) -> str:
    shown = "、".join(str(r) for r in rows[:10])
    return shown + (_g(" 等 %(n)s 行") % {"n": len(rows)} if len(rows) > 10 else "")


# -- enterprises ------------------------------------------------------------------------------

ENTERPRISE_KIND_WORDS = {
    "生产": EnterpriseKind.PRODUCER, "生产单位": EnterpriseKind.PRODUCER,
    "经营": EnterpriseKind.TRADER, "销售": EnterpriseKind.TRADER, "贸易": EnterpriseKind.TRADER,
    "经营单位": EnterpriseKind.TRADER, "使用": EnterpriseKind.USER, "使用企业": EnterpriseKind.USER,
    "运输": EnterpriseKind.TRANSPORTER, "运输单位": EnterpriseKind.TRANSPORTER,
    "仓储": EnterpriseKind.STORAGE, "储存": EnterpriseKind.STORAGE, "储存企业": EnterpriseKind.STORAGE,
}
RISK_WORDS = {"高": RiskLevel.HIGH, "中": RiskLevel.MEDIUM, "低": RiskLevel.LOW}
STATUS_WORDS = {
    "正常": EnterpriseStatus.OPERATING, "在营": EnterpriseStatus.OPERATING, "存续": EnterpriseStatus.OPERATING,
    "营业": EnterpriseStatus.OPERATING, "停产": EnterpriseStatus.SUSPENDED, "停业": EnterpriseStatus.SUSPENDED,
    "注销": EnterpriseStatus.CLOSED, "吊销": EnterpriseStatus.CLOSED, "已吊销": EnterpriseStatus.CLOSED,
}


@dataclass
class _EnterpriseRun:
    warnings: list[str] = field(default_factory=list)


class EnterpriseImportForm(EnterpriseForm):
    """One enterprise row: :class:`~jindu.precursors.forms.EnterpriseForm` with the code
    cells read as records give them — the 统一社会信用代码 column may hold an 18-character
    credit code, a 9-character organisation code or a 15-digit registration number
    (:func:`~jindu.precursors.normalize.check_credit_code` decides which field it is)."""

    credit_code = forms.CharField(label=_("统一社会信用代码"), required=False, max_length=40)
    legacy_code = forms.CharField(label=_("组织机构代码/注册号"), required=False, max_length=40)

    def __init__(self, *args, user, action, run: _EnterpriseRun, **kwargs):
        super().__init__(*args, user=user, action=action, **kwargs)
        self.run = run
        self.code_warnings: list[str] = []
        self.fields["division"].error_messages["invalid_choice"] = _(
            "所属区划须为您有权登记企业的区县、镇街或村居")
        if self.is_bound:
            # An empty 风险等级 / 经营状态 cell keeps the record's value (a new one: the default).
            data = dict(self.data.items()) if hasattr(self.data, "items") else dict(self.data)
            for name in ("risk_level", "status"):
                if _blank(data.get(name)):
                    data[name] = self.initial.get(name) or self.fields[name].initial or ""
            self.data = data
        self._stored = self._current_values() if self.instance.pk else {}

    def _current_values(self) -> dict[str, Any]:
        values = {f: getattr(self.instance, f) for f in ENTERPRISE_FIELDS if f != "supervising_units"}
        values["division"] = self.instance.division_id
        values["supervising_units"] = set(self.instance.supervising_units.values_list("pk", flat=True))
        return values

    def clean(self):
        data = super().clean()
        credit, legacy = "", ""
        for name in ("credit_code", "legacy_code"):
            try:
                checked = check_credit_code(data.get(name))
            except ValidationError as exc:
                self.add_error(name, exc)
                continue
            if checked.warning:
                self.code_warnings.append(checked.warning)
            for value, current, target in ((checked.credit_code, credit, "credit"),
                                           (checked.legacy_code, legacy, "legacy")):
                if value and current and value != current:
                    self.add_error(name, _g("本行填写了两个不同的代码（%(a)s、%(b)s）") % {"a": current, "b": value})
                elif value and target == "credit":
                    credit = value
                elif value:
                    legacy = value
        if credit and len(legacy) == 9 and credit[8:17] != legacy:
            self.add_error("legacy_code", _g("组织机构代码“%(org)s”与统一社会信用代码第9–17位（%(part)s）不一致")
                           % {"org": legacy, "part": credit[8:17]})
        data["credit_code"], data["legacy_code"] = credit, legacy
        others = Enterprise.objects.exclude(pk=self.instance.pk) if self.instance.pk else Enterprise.objects.all()
        if credit and others.filter(credit_code=credit).exists():
            self.add_error("credit_code", _g("统一社会信用代码“%(code)s”已登记为另一家企业（可能不在您的管辖范围内）")
                           % {"code": credit})
        if legacy and others.filter(legacy_code=legacy).exists():
            self.add_error("legacy_code", _g("代码“%(code)s”已登记为另一家企业（可能不在您的管辖范围内）")
                           % {"code": legacy})
        return data

    def _get_validation_exclusions(self):
        # The codes are checked above with messages that name them; the model's conditional
        # unique constraints would add a second, generic message.
        exclude = super()._get_validation_exclusions()
        exclude.update({"credit_code", "legacy_code"})
        return exclude

    def changes(self) -> list[str]:
        """Fields whose cleaned value differs from the stored record (all on create)."""
        data = self.cleaned_data
        if not self.instance.pk:
            return [f for f in ENTERPRISE_FIELDS if f in data]
        out = []
        for f in ENTERPRISE_FIELDS:
            if f not in data:
                continue
            value = data[f]
            if f == "supervising_units":
                value = {u.pk for u in value}
            elif f == "division":
                value = value.pk if value is not None else None
            if value != self._stored.get(f):
                out.append(f)
        return out

    def has_changed(self):
        if self.instance.pk and hasattr(self, "cleaned_data"):
            return bool(self.changes())
        return super().has_changed()


@register
class EnterpriseImporter(Importer):
    """Enterprises, created or updated by their code (credit code, organisation code or
    registration number; an enterprise on file with only its organisation code is found by
    the credit code that contains it), or by division and name when a record has no code."""

    name = "precursors.enterprise"
    label = _("易制毒化学品企业")
    model = Enterprise
    form_class = EnterpriseImportForm
    key_fields = ("credit_code",)
    personal_data = True  # 联系人, 联系电话
    columns = [
        TextColumn("name", _("企业名称")),
        CodeColumn("credit_code", _("统一社会信用代码"), aliases=(_("信用代码"), _("社会信用代码")), help=_(
            "18位统一社会信用代码；旧档案没有信用代码的，可填9位组织机构代码或15位注册号。单元格须为文本格式")),
        CodeColumn("legacy_code", _("组织机构代码/注册号"), aliases=(_("组织机构代码"), _("注册号")), required=False),
        SynonymChoiceColumn("kind", _("企业类型"), choices=EnterpriseKind, synonyms=ENTERPRISE_KIND_WORDS),
        DivisionColumn("division", _("所属区划"), aliases=(_("区划代码"),)),
        TextColumn("address", _("地址"), aliases=(_("企业地址"), _("经营地址"))),
        UnitsColumn("supervising_units", _("监管部门"), required=False),
        TextColumn("contact_name", _("联系人")),
        PhoneColumn("contact_phone", _("联系电话")),
        SynonymChoiceColumn("risk_level", _("风险等级"), choices=RiskLevel, synonyms=RISK_WORDS, required=False),
        SynonymChoiceColumn("status", _("经营状态"), choices=EnterpriseStatus, synonyms=STATUS_WORDS,
                            required=False),
        TextColumn("note", _("备注")),
    ]

    def __init__(self):
        self.run = _EnterpriseRun()

    def get_form_kwargs(self, *, user, instance):
        return {"user": user, "action": ADD if instance.pk is None else CHANGE, "run": self.run}

    @staticmethod
    def _code(values: dict) -> tuple[str, str]:
        """``(credit_code, legacy_code)`` from the row's code cells; blanks when unreadable."""
        credit = legacy = ""
        for name in ("credit_code", "legacy_code"):
            try:
                c, lg = check_credit_code(values.get(name))
            except ValidationError:
                continue
            credit, legacy = credit or c, legacy or lg
        return credit, legacy

    def key_of(self, values):
        credit, legacy = self._code(values)
        if credit or legacy:
            return ("code", credit or legacy)
        division, name = values.get("division"), values.get("name")
        if division is not None and name:
            return ("name", division.pk, name)
        return None

    def find_existing(self, values, *, user, lock=False):
        credit, legacy = self._code(values)
        qs = self.match_queryset(user=user)
        if credit:
            candidates = [qs.filter(credit_code=credit), qs.filter(credit_code="", legacy_code=credit[8:17])]
        elif legacy:
            candidates = [qs.filter(legacy_code=legacy)]
        else:
            candidates = [qs.filter(division=values.get("division"), name=values.get("name"), credit_code="",
                                    legacy_code="")]
        for candidate in candidates:
            candidate = candidate.order_by("pk")
            if lock:
                candidate = candidate.select_for_update(of=("self",))
            found = list(candidate[:2])
            if len(found) == 1:
                return found[0]
        return None

    def save(self, form, *, user, created):
        services = _services()
        row = self.row_number
        self.run.warnings += [_g("第 %(row)s 行：%(msg)s") % {"row": row, "msg": w} for w in form.code_warnings]
        data = form.cleaned_data
        if created:
            values = {f: data[f] for f in services.ENTERPRISE_FIELDS if f in data}
            values["supervising_units"] = list(data.get("supervising_units") or [])
            return services.create_enterprise(user=user, data=values)
        changes = form.changes()
        values = {f: data[f] for f in changes}
        enterprise, _changed = services.update_enterprise(
            user=user, enterprise=Enterprise.objects.get(pk=form.instance.pk), data=values,
            expected_version=data.get("version") or form.instance.version)
        return enterprise

    def finish(self, *, user, commit, result):
        _add_warnings(result, self.run.warnings)


# -- licences -----------------------------------------------------------------------------------

#: Licence fields a row of the licence import carries (``number`` and ``issuer`` are derived
#: from the raw cells by normalisation).
LICENCE_IMPORT_FIELDS = ("kind", "number_raw", "issuer_raw", "issued_on", "valid_from", "valid_until", "one_trip",
                         "counterparty_credit_code", "counterparty_name", "note")
#: Cells a continuation row of one licence may leave empty (and must repeat exactly if not).
LICENCE_GROUP_FIELDS = ("enterprise", "issuer_raw", "issued_on", "valid_from", "valid_until", "one_trip",
                        "counterparty_credit_code", "counterparty_name", "note")


@dataclass
class _LicenceGroup:
    first_row: int
    enterprise: Enterprise
    data: dict[str, Any]          # services.create_licence data
    cleaned: dict[str, Any]       # the first row's cleaned group fields (for comparison)
    form_data: dict[str, Any]     # the first row's form data (to fill empty continuation cells)
    lines: list[tuple[Any, Decimal | None, int, str]] = field(default_factory=list)
    issuer_note: str = ""


@dataclass
class _LicenceRun:
    groups: dict[tuple, _LicenceGroup] = field(default_factory=dict)
    failed: set = field(default_factory=set)
    index: ChemicalIndex | None = None
    warnings: list[str] = field(default_factory=list)

    def chemicals(self) -> ChemicalIndex:
        if self.index is None:
            self.index = ChemicalIndex.load()
        return self.index


def _licence_key(kind: Any, number_raw: Any) -> tuple | None:
    number = normalize_number(number_raw)
    return (str(kind), number) if kind and number else None


def _blank(value: Any) -> bool:
    return value is None or value == "" or value == []


class LicenceImportForm(LicenceForm):
    """One licence × chemical row: :class:`~jindu.precursors.forms.LicenceForm` reading
    the number and issuer as printed (normalised here, the printed text kept), plus the
    enterprise, one chemical (matched to the catalogue) and its quantity limit."""

    enterprise = forms.ModelChoiceField(label=_("企业"), queryset=Enterprise.objects.none(), error_messages={
        "required": _("请填写企业（统一社会信用代码或企业全称）"),
        "invalid_choice": _("您不能为该企业登记证照（不在您的管辖范围内）")})
    chemical = forms.CharField(label=_("品种"), max_length=120, error_messages={"required": _("请填写证照载明的品种")})
    quantity_limit = forms.CharField(label=_("限量"), required=False, max_length=60)

    class Meta(LicenceForm.Meta):
        fields = list(LICENCE_IMPORT_FIELDS)

    def __init__(self, data=None, *args, user, run: _LicenceRun, **kwargs):
        self.run = run
        self.group: _LicenceGroup | None = None
        self.key = None
        self._explicit: set[str] = set()
        if data is not None:
            data = dict(data.items())
            self._explicit = {n for n in LICENCE_GROUP_FIELDS if not _blank(data.get(n))}
            if _blank(data.get("kind")):
                # A continuation row may leave the kind out when its number names one licence.
                number = normalize_number(data.get("number_raw"))
                same = [key for key in run.groups if key[1] == number]
                if number and len(same) == 1:
                    data["kind"] = same[0][0]
            self.key = _licence_key(data.get("kind"), data.get("number_raw"))
            if self.key is not None and self.key in run.groups:
                self.group = run.groups[self.key]
                for name in LICENCE_GROUP_FIELDS:
                    if _blank(data.get(name)):
                        data[name] = self.group.form_data.get(name, "")
        super().__init__(data, *args, **kwargs)
        self.fields["enterprise"].queryset = selectors.enterprises_where(user, Licence, ADD)
        self.fields["number_raw"].required = True
        self.fields["number_raw"].label = _("证照编号")
        self.fields["issuer_raw"].label = _("发证机关")
        self.issuer = None
        self.resolution: ChemicalResolution | None = None

    def clean_counterparty_credit_code(self):
        try:
            checked = check_credit_code(self.cleaned_data.get("counterparty_credit_code"))
        except ValidationError as exc:
            raise ValidationError(exc.messages) from None
        return checked.credit_code or checked.legacy_code

    def clean_chemical(self):
        found = self.run.chemicals().resolve(self.cleaned_data["chemical"])
        if found.chemical is None:
            raise ValidationError(found.problem)
        if not found.chemical.is_active:
            raise ValidationError(_g("品种“%(name)s”已不在现行目录中") % {"name": found.chemical.name_zh})
        self.resolution = found
        return found.chemical

    def clean_quantity_limit(self):
        text = self.cleaned_data.get("quantity_limit")
        number, unit = parse_quantity(text)
        if number is None:
            return None
        factors = {None: Decimal("1"), QuantityUnit.KG: Decimal("1"), QuantityUnit.T: Decimal("1000"),
                   QuantityUnit.G: Decimal("0.001")}
        if unit not in factors:
            raise ValidationError(_g("限量请按质量填写（千克、吨或克），收到“%(value)s”") % {"value": text})
        kg = number * factors[unit]
        if kg <= 0:
            raise ValidationError(_g("限量须大于 0"))
        if kg != kg.quantize(KG):
            raise ValidationError(_g("限量最多精确到克（千克后三位小数），收到“%(value)s”") % {"value": text})
        return kg

    def clean(self):
        data = super().clean()
        kind, number_raw = data.get("kind"), data.get("number_raw")
        key = _licence_key(kind, number_raw)
        self.key = key
        number = normalize_number(number_raw)
        self.instance.number = number
        if self.group is not None:
            for name in LICENCE_GROUP_FIELDS:
                if name in self._explicit and name in data and data[name] != self.group.cleaned.get(name):
                    self.add_error(name, _g("与本文件中同一证照的首行（第 %(row)s 行）不一致；同一证照的其余行可留空")
                                   % {"row": self.group.first_row})
            chem = data.get("chemical")
            if chem is not None and any(c.pk == chem.pk for c, _l, _r, _raw in self.group.lines):
                self.add_error("chemical", _g("品种“%(name)s”在本证照中重复") % {"name": chem.name_zh})
        else:
            if key is not None and Licence.objects.filter(kind=kind, number=number).exists():
                self.add_error("number_raw", _g("%(kind)s“%(number)s”已登记：导入只登记新证照")
                               % {"kind": LicenceKind(kind).label, "number": number})
            valid_from, valid_until = data.get("valid_from"), data.get("valid_until")
            if valid_from and valid_until and valid_until < valid_from:
                self.add_error("valid_until", _g("有效期至（%(u)s）不能早于有效期起（%(f)s）")
                               % {"u": valid_until, "f": valid_from})
        self.issuer = normalize_issuer(data.get("issuer_raw"), on=data.get("issued_on") or data.get("valid_from"))
        self.instance.issuer = str(self.issuer)
        self.instance.enterprise = data.get("enterprise")
        return data

    def _get_validation_exclusions(self):
        # The validity range is checked in clean() with a message naming both dates; the
        # model's check constraint would add a second, generic one.
        exclude = super()._get_validation_exclusions()
        exclude.add("valid_until")
        return exclude

    def _post_clean(self):
        super()._post_clean()
        if self._errors and self.group is None and self.key is not None and self.key not in self.run.failed:
            self.run.failed.add(self.key)
            self._marked_failed = True

    def full_clean(self):
        self._marked_failed = False
        super().full_clean()
        if self.is_bound and self.group is None and self.key in self.run.failed and not self._marked_failed:
            # Only the reason: the empty cells of a continuation row are not its fault.
            self._errors = ErrorDict({"number_raw": self.error_class([
                _g("同一证照的首行有错误，请先改正该证照的首行")])})

    def licence_data(self) -> dict[str, Any]:
        d = self.cleaned_data
        return {
            "kind": d["kind"], "number": normalize_number(d["number_raw"]), "number_raw": d["number_raw"],
            "issuer": str(self.issuer or ""), "issuer_raw": d.get("issuer_raw") or "",
            "issued_on": d.get("issued_on"), "valid_from": d["valid_from"], "valid_until": d["valid_until"],
            "one_trip": bool(d.get("one_trip")), "counterparty_credit_code": d.get("counterparty_credit_code") or "",
            "counterparty_name": d.get("counterparty_name") or "", "note": d.get("note") or "",
        }


@register
class LicenceImporter(Importer):
    """Licences and filings with their chemicals and quantity limits, one row per licence
    × chemical (see the module docstring); written by
    :func:`jindu.precursors.services.create_licence` once all rows are read."""

    name = "precursors.licence"
    label = _("易制毒化学品许可与备案")
    model = Licence
    form_class = LicenceImportForm
    key_fields = ()
    columns = [
        EnterpriseColumn("enterprise", _("企业"), aliases=(_("持证单位"), _("企业名称"), _("单位名称"))),
        SynonymChoiceColumn("kind", _("证照类型"), choices=LicenceKind, parser=parse_licence_kind, help=_(
            "如 经营许可证、购买备案证明、运输许可证；也可写证照或事项的原名称，如“第二、三类非药品类易制毒化学品经营备案”"
            "“生产备案通知书”")),
        TextColumn("number_raw", _("证照编号"), aliases=(_("许可证编号"), _("备案证明编号"), _("编号")), help=_(
            "按证照原样填写；〔〕、（）、() 等括号样式自动统一，原文保留")),
        TextColumn("issuer_raw", _("发证机关"), aliases=(_("发证单位"), _("备案机关")), help=_(
            "按证照原样填写；机构改革前的名称（如安全生产监督管理局）按现名（应急管理局）登记，原文保留")),
        LenientDateColumn("issued_on", _("发证日期"), aliases=(_("备案日期"),)),
        LenientDateColumn("valid_from", _("有效期起"), aliases=(_("有效期自"),)),
        LenientDateColumn("valid_until", _("有效期至"), aliases=(_("有效期止"),)),
        BooleanColumn("one_trip", _("一次有效"), required=False),
        CodeColumn("counterparty_credit_code", _("对方信用代码"), required=False),
        TextColumn("counterparty_name", _("对方单位"), required=False),
        TextColumn("chemical", _("品种"), aliases=(_("品种名称"), _("化学品名称"), _("品名")), help=_(
            "易制毒化学品目录中的名称、常用别名（如 乙酸酐、丁酮）或CAS号；繁体字、括号样式不影响识别，原文保留")),
        TextColumn("quantity_limit", _("限量"), aliases=(_("许可数量"), _("限量（千克）")), required=False, help=_(
            "如 500、500kg、2吨；空白为不限量")),
        TextColumn("note", _("备注"), required=False),
    ]

    def __init__(self):
        self.run = _LicenceRun()

    def get_form_kwargs(self, *, user, instance):
        return {"user": user, "run": self.run}

    def save(self, form, *, user, created):
        data = form.cleaned_data
        group = self.run.groups.get(form.key)
        if group is None:
            group = _LicenceGroup(
                first_row=self.row_number, enterprise=data["enterprise"], data=form.licence_data(),
                cleaned={n: data.get(n) for n in LICENCE_GROUP_FIELDS},
                form_data={n: form.data.get(n, "") for n in LICENCE_GROUP_FIELDS},
                issuer_note=form.issuer.note if form.issuer is not None else "",
            )
            self.run.groups[form.key] = group
        raw = form.resolution.raw if form.resolution is not None else ""
        group.lines.append((data["chemical"], data.get("quantity_limit"), self.row_number, raw))
        if form.resolution is not None and chemical_key(form.resolution.raw) != chemical_key(data["chemical"].name_zh):
            self.run.warnings.append(_g("第 %(row)s 行：品种“%(raw)s”按目录登记为“%(name)s”")
                                     % {"row": self.row_number, "raw": form.resolution.raw,
                                        "name": data["chemical"].name_zh})
        return None

    def finish(self, *, user, commit, result):
        services = _services()
        refusals = _Refusals()
        if not (commit and not result.ok):
            for group in self.run.groups.values():
                lines = [(chem, limit, raw) for chem, limit, _row, raw in group.lines]
                try:
                    with transaction.atomic():
                        services.create_licence(user=user, enterprise=group.enterprise, data=group.data, lines=lines)
                except ValidationError as exc:
                    for column, message in error_problems(self, exc):
                        refusals.refuse(result, group.first_row, str(column), message)
                except PermissionDenied as exc:
                    refusals.refuse(result, group.first_row, "", str(exc))
                if group.issuer_note:
                    self.run.warnings.append(_g("第 %(row)s 行：%(msg)s") % {"row": group.first_row,
                                                                           "msg": group.issuer_note})
        if refusals.rows:
            _Refusals.sort(result)
        _add_warnings(result, self.run.warnings)


# -- stock ledger -------------------------------------------------------------------------------

DIRECTION_WORDS = {
    "入": Direction.IN, "入库": Direction.IN, "购入": Direction.IN, "购进": Direction.IN, "采购": Direction.IN,
    "采购入库": Direction.IN, "进货": Direction.IN, "收货": Direction.IN, "调入": Direction.IN,
    "生产入库": Direction.IN, "出": Direction.OUT, "出库": Direction.OUT, "销售": Direction.OUT,
    "售出": Direction.OUT, "销售出库": Direction.OUT, "发货": Direction.OUT, "调出": Direction.OUT,
    "使用": Direction.USED, "领用": Direction.USED, "消耗": Direction.USED, "生产使用": Direction.USED,
    "生产领用": Direction.USED, "投料": Direction.USED, "销毁": Direction.DESTROYED,
    "损耗": Direction.LOSS, "丢失": Direction.LOSS, "被盗": Direction.LOSS, "盘亏": Direction.LOSS,
    "损耗/丢失": Direction.LOSS,
}


@dataclass
class _Posting:
    row: int
    data: dict[str, Any]
    quantity_kg: Decimal
    resolution: ChemicalResolution
    typical_density: Decimal | None = None


@dataclass
class _LedgerRun:
    """What one run of the ledger importer keeps: the validated rows (posted by
    ``finish``), warnings, and per-run look-ups made once instead of once per row — the
    catalogue index, the enterprises the user may post for, and each distinct enterprise
    cell's answer (same queryset, same answer, within one run)."""

    postings: list[_Posting] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    index: ChemicalIndex | None = None
    enterprises: Any = None
    default_enterprise: dict = field(default_factory=dict)
    enterprise_answers: dict = field(default_factory=dict)
    chemical_answers: dict = field(default_factory=dict)
    shared_enterprises: dict = field(default_factory=dict)

    def chemicals(self) -> ChemicalIndex:
        if self.index is None:
            self.index = ChemicalIndex.load()
        return self.index

    def resolve(self, raw: str) -> ChemicalResolution:
        if raw not in self.chemical_answers:
            self.chemical_answers[raw] = self.chemicals().resolve(raw)
        return self.chemical_answers[raw]

    def enterprise_queryset(self, user: Any):
        """Enterprises for which ``user`` may add ledger entries (the page form's choices)."""
        if self.enterprises is None:
            self.enterprises = selectors.enterprises_where(user, LedgerEntry, ADD).order_by("name")
        return self.enterprises

    def only_enterprise(self, user: Any) -> Enterprise | None:
        """The user's single enterprise for ledger entries (an enterprise account), if any."""
        if "value" not in self.default_enterprise:
            rows = list(self.enterprise_queryset(user)[:2])
            self.default_enterprise["value"] = rows[0] if len(rows) == 1 else None
        return self.default_enterprise["value"]


class LedgerImportForm(LedgerEntryForm):
    """One ledger row: :class:`~jindu.precursors.forms.LedgerEntryForm` reading what
    ledgers write — the chemical as a name, synonym, traditional spelling or CAS number,
    the quantity with its unit in one cell or two, codes and numbers as written. The
    enterprise may be left out by a user who keeps the ledger of one enterprise only."""

    chemical = forms.CharField(label=_("品种"), max_length=120, error_messages={"required": _("请填写品种名称")})
    quantity_entered = forms.CharField(label=_("数量"), max_length=60, error_messages={"required": _("请填写数量")})
    unit_entered = forms.CharField(label=_("单位"), required=False, max_length=20)
    counterparty_credit_code = forms.CharField(label=_("对方信用代码"), required=False, max_length=40)
    transport_permit_number = forms.CharField(label=_("运输许可/备案编号"), required=False, max_length=120)

    def __init__(self, data=None, *args, instance=None, user, run: _LedgerRun, **kwargs):
        # The page form's __init__ only sets the two choice lists; they are built once per
        # run here (building the scoped queryset cost more than validating a row).
        forms.Form.__init__(self, data, *args, **kwargs)
        self.run = run
        self.user = user
        self.instance = LedgerEntry()  # the engine's scope probe reads instance.enterprise
        field_ = self.fields["enterprise"]
        field_.queryset = run.enterprise_queryset(user)
        field_.error_messages["required"] = _("请填写企业（统一社会信用代码或企业全称）")
        field_.error_messages["invalid_choice"] = _("您不能为该企业登记台账（不在您的管辖范围内）")
        field_.clean = self._clean_enterprise_once
        only = run.only_enterprise(user)
        if only is not None:
            field_.initial = only.pk
        self._reset()

    def _reset(self) -> None:
        self.resolution: ChemicalResolution | None = None
        self.quantity_kg: Decimal | None = None
        self.typical_density: Decimal | None = None
        self.code_warning = ""
        self._unit_in_quantity: str | None = None

    def _clean_enterprise_once(self, value):
        answers = self.run.enterprise_answers
        key = str(value)
        if key not in answers:
            try:
                answers[key] = (True, forms.ModelChoiceField.clean(self.fields["enterprise"], value))
            except ValidationError as exc:
                answers[key] = (False, exc.messages)
        ok, answer = answers[key]
        if not ok:
            raise ValidationError(answer)
        return answer

    def full_clean(self):
        # Per-row state is reset on each validation, so a form may be re-bound to the next
        # row (the core engine's form pooling) without carrying values over.
        self._reset()
        only = self.run.only_enterprise(self.user)
        if self.is_bound and only is not None and _blank(self.data.get("enterprise")):
            self.data = {**self.data, "enterprise": only.pk}  # an empty 企业 cell: the user's enterprise
        super().full_clean()

    def clean_chemical(self):
        found = self.run.resolve(self.cleaned_data["chemical"])
        if found.chemical is None:
            raise ValidationError(found.problem)
        if not found.chemical.is_active:
            raise ValidationError(_g("品种“%(name)s”已不在现行目录中") % {"name": found.chemical.name_zh})
        self.resolution = found
        return found.chemical

    def clean_quantity_entered(self):
        number, unit = parse_quantity(self.cleaned_data["quantity_entered"])
        self._unit_in_quantity = unit
        # The page form's own field checks places and range (one validation path).
        return LedgerEntryForm.base_fields["quantity_entered"].clean(str(number))

    def clean_unit_entered(self):
        return parse_unit(self.cleaned_data.get("unit_entered"))

    def clean_counterparty_credit_code(self):
        try:
            checked = check_credit_code(self.cleaned_data.get("counterparty_credit_code"))
        except ValidationError as exc:
            raise ValidationError(exc.messages) from None
        self.code_warning = checked.warning
        return checked.credit_code or checked.legacy_code

    def clean_transport_permit_number(self):
        return normalize_number(self.cleaned_data.get("transport_permit_number"))

    def clean(self):
        data = super().clean()
        in_cell, in_column = self._unit_in_quantity, data.get("unit_entered")
        if in_cell and in_column and in_cell != in_column:
            self.add_error("unit_entered", _g("数量中的单位（%(a)s）与单位列（%(b)s）不一致")
                           % {"a": QuantityUnit(in_cell).label, "b": QuantityUnit(in_column).label})
            return data
        unit = in_cell or in_column or QuantityUnit.KG
        data["unit_entered"] = unit
        occurred_on = data.get("occurred_on")
        if occurred_on and occurred_on > local_today():
            self.add_error("occurred_on", _g("发生日期 %(d)s 晚于今天") % {"d": occurred_on})
        chem, quantity = data.get("chemical"), data.get("quantity_entered")
        if chem is not None and quantity is not None:
            density = data.get("density_kg_per_l")
            if unit in (QuantityUnit.L, QuantityUnit.ML) and density is None:
                density = chem.typical_density_kg_per_l
                self.typical_density = density
            try:
                self.quantity_kg = quantity_to_kg(quantity, unit, density_kg_per_l=density,
                                                  piece_mass_kg=data.get("piece_mass_kg"))
            except ValidationError as exc:
                if unit in (QuantityUnit.L, QuantityUnit.ML) and density is None:
                    target = "density_kg_per_l"
                elif unit == QuantityUnit.PIECE and data.get("piece_mass_kg") is None:
                    target = "piece_mass_kg"
                else:
                    target = "quantity_entered"
                self.add_error(target, exc)
        self.instance.enterprise = data.get("enterprise")
        return data

    def posting_data(self) -> dict[str, Any]:
        """The row as a :func:`~jindu.precursors.services.post_entries` mapping."""
        d = self.cleaned_data
        permit_raw = (d.get("permit_number") or "").strip()
        unit = d["unit_entered"]
        density = d.get("density_kg_per_l") if d.get("density_kg_per_l") is not None else self.typical_density
        return {
            "enterprise": d["enterprise"], "chemical": d["chemical"], "chemical_raw": self.resolution.raw,
            "occurred_on": d["occurred_on"], "direction": d["direction"], "quantity_entered": d["quantity_entered"],
            "unit_entered": unit,
            "density_kg_per_l": density if unit in (QuantityUnit.L, QuantityUnit.ML) else None,
            "piece_mass_kg": d.get("piece_mass_kg") if unit == QuantityUnit.PIECE else None,
            "counterparty_credit_code": d.get("counterparty_credit_code") or "",
            "counterparty_name": d.get("counterparty_name") or "", "document_number": d.get("document_number") or "",
            "permit_number": normalize_number(permit_raw), "permit_number_raw": permit_raw,
            "transport_permit_number": d.get("transport_permit_number") or "", "purpose": d.get("purpose") or "",
            "expires_on": d.get("expires_on"), "reported_on": d.get("reported_on"),
        }


class _LedgerBulkState:
    """What the ledger importer's bulk path keeps between batches: the form pool, the
    form's initial data, the columns, and the scope answer per enterprise."""

    def __init__(self, importer: "LedgerImporter", user):
        from jindu.core.imports.bulk import FormPool
        from jindu.core.imports.engine import _form_base_data

        self.user = user
        self.columns = {c.field: c for c in importer.columns}
        kwargs = importer.get_form_kwargs(user=user, instance=LedgerEntry())
        self.base = _form_base_data(importer.form_class(instance=LedgerEntry(), **kwargs))
        self.pool = FormPool(importer.form_class, model=LedgerEntry, form_kwargs=kwargs)
        self.out_of_scope = [("", _g("该记录超出您的管辖范围或您没有%(action)s权限") % {"action": _g("新增")})]
        self._scope: dict = {}

    def in_scope(self, enterprise) -> bool | None:
        """:func:`~jindu.core.imports.engine.division_in_scope` of an entry of
        ``enterprise`` (memoised per enterprise)."""
        from jindu.core.imports.engine import division_in_scope

        key = getattr(enterprise, "pk", None)
        if key is None:
            return None
        if key not in self._scope:
            self._scope[key] = division_in_scope(LedgerEntry, self.user, ADD, LedgerEntry(enterprise=enterprise))
        return self._scope[key]


@register
class LedgerImporter(Importer):
    """Stock-ledger entries (出入库台账, Regulation arts. 18–19), one row per movement,
    posted together by :func:`jindu.precursors.services.post_entries` (see the module
    docstring)."""

    name = "precursors.ledger"
    label = _("易制毒化学品出入库台账")
    model = LedgerEntry
    form_class = LedgerImportForm
    key_fields = ()
    columns = [
        EnterpriseColumn("enterprise", _("企业"), aliases=(_("企业名称"), _("单位名称"), _("统一社会信用代码")),
                         required=False, help=_(
                             "统一社会信用代码或企业全称；企业账号只登记本企业台账时可不填此列")),
        LenientDateColumn("occurred_on", _("发生日期"), aliases=(_("日期"), _("业务日期"), _("出入库日期"))),
        TextColumn("chemical", _("品种"), aliases=(_("品种名称"), _("化学品名称"), _("品名")), help=_(
            "易制毒化学品目录中的名称、常用别名（如 乙酸酐、丁酮、氯仿）或CAS号；繁体字、括号样式不影响识别，原文保留")),
        SynonymChoiceColumn("direction", _("方向"), choices=Direction, synonyms=DIRECTION_WORDS,
                            aliases=(_("出入库方向"), _("业务类型"), _("类型")), help=_(
                                "入库（购入）、出库（销售）、使用消耗（领用）、销毁、损耗/丢失")),
        QuantityColumn("quantity_entered", _("数量"), help=_(
            "数字，可带单位：25、25kg、1.5吨、200L、4桶；不带单位时按“单位”列，无单位列为千克")),
        TextColumn("unit_entered", _("单位"), aliases=(_("计量单位"),), required=False, help=_(
            "千克、吨、克、升、毫升，或件、瓶、桶（须填每件净重）")),
        DensityColumn("density_kg_per_l", _("密度（千克/升）"), aliases=(_("密度"),), required=False, help=_(
            "按升或毫升记录时使用；空白则用品种目录中的常用密度")),
        MassColumn("piece_mass_kg", _("每件净重（千克）"), aliases=(_("每件净重"), _("规格")), required=False, help=_(
            "按件、瓶、桶记录时必填，如 25 或 25kg")),
        CodeColumn("counterparty_credit_code", _("对方信用代码"), aliases=(_("对方统一社会信用代码"),),
                   required=False),
        TextColumn("counterparty_name", _("对方单位"), aliases=(_("对方单位名称"), _("供货/购买单位")),
                   required=False),
        TextColumn("document_number", _("单据编号"), aliases=(_("单据号"), _("票据编号")), required=False),
        TextColumn("permit_number", _("许可/备案编号"), aliases=(_("许可证编号"), _("备案证明编号"),
                                                             _("购买许可/备案编号")), required=False, help=_(
            "按证照原样填写；括号样式自动统一，原文保留")),
        TextColumn("transport_permit_number", _("运输许可/备案编号"), required=False),
        TextColumn("purpose", _("用途"), required=False),
        LenientDateColumn("expires_on", _("失效日期"), aliases=(_("有效期至"),), required=False),
        LenientDateColumn("reported_on", _("报告公安日期"), required=False),
    ]

    def __init__(self):
        self.run = _LedgerRun()

    def get_form_kwargs(self, *, user, instance):
        return {"user": user, "run": self.run}

    def find_existing(self, values, *, user, lock=False):
        return None  # ledger rows are only ever added

    def save(self, form, *, user, created):
        data = form.posting_data()
        # One Enterprise object per enterprise for the whole run (the form's choice field
        # fetches one per row; a large file would hold as many copies).
        data["enterprise"] = self.run.shared_enterprises.setdefault(data["enterprise"].pk, data["enterprise"])
        self.run.postings.append(_Posting(self.row_number, data, form.quantity_kg, form.resolution,
                                          form.typical_density))
        if form.code_warning:
            self.run.warnings.append(_g("第 %(row)s 行：%(msg)s") % {"row": self.row_number, "msg": form.code_warning})
        return None  # posted in bulk by finish()

    # -- batches of rows (the core engine's bulk path) -----------------------------------------

    bulk_rows = 1000

    def process_rows(self, rows, *, user, commit, fallback):
        """A batch of rows, each checked exactly as
        :func:`jindu.core.imports.engine._process_clean_row` would (scope from the file's
        enterprise, :class:`LedgerImportForm`, scope from the form, :meth:`save`) but with
        one pooled form (:class:`jindu.core.imports.bulk.FormPool`) instead of two new forms
        per row. Nothing is written here: :meth:`save` keeps the row and :meth:`finish`
        posts them all, so preview and commit take the same path."""
        from jindu.core.imports.engine import CREATED as _CREATED, RowOutcome, _form_errors

        state = self._bulk_state(user)
        outcomes = []
        for row in rows:
            self.row_number = row.number
            if state.in_scope(row.values.get("enterprise")) is False:
                outcomes.append(RowOutcome(ERROR, state.out_of_scope))
                continue
            data = dict(state.base)
            for name, value in row.values.items():
                data[name] = state.columns[name].to_form(value)
            form = state.pool.validate(data)
            if form.errors:
                outcomes.append(RowOutcome(ERROR, _form_errors(self, form)))
                continue
            if state.in_scope(form.cleaned_data.get("enterprise")) is False:
                outcomes.append(RowOutcome(ERROR, state.out_of_scope))
                continue
            self.save(form, user=user, created=True)
            outcomes.append(RowOutcome(_CREATED))
        return outcomes

    def _bulk_state(self, user) -> "_LedgerBulkState":
        state = getattr(self, "_bulk", None)
        if state is None or state.user is not user:
            state = self._bulk = _LedgerBulkState(self, user)
        return state

    # -- finish: checks across rows, then the bulk posting ----------------------------------

    def finish(self, *, user, commit, result):
        postings = sorted(self.run.postings, key=lambda p: (p.data["occurred_on"], p.row))
        refusals = _Refusals()
        self._note_matches(postings)
        self._refuse_repeats(postings, result, refusals)
        self._refuse_overdrafts(postings, result, refusals)
        if result.ok and postings:
            self._post(postings, user=user, commit=commit, result=result, refusals=refusals)
        if refusals.rows:
            _Refusals.sort(result)
        _add_warnings(result, self.run.warnings)

    def _note_matches(self, postings: list[_Posting]) -> None:
        """Warnings naming each written name matched to a different catalogue name, and
        the rows whose litres were converted with the catalogue's reference density."""
        renamed: dict[tuple[str, str], list[int]] = defaultdict(list)
        densities: dict[tuple[str, Decimal], list[int]] = defaultdict(list)
        for p in sorted(postings, key=lambda p: p.row):
            chem = p.data["chemical"]
            if chemical_key(p.resolution.raw) != chemical_key(chem.name_zh):
                renamed[(p.resolution.raw, chem.name_zh)].append(p.row)
            if p.typical_density is not None:
                densities[(chem.name_zh, p.typical_density)].append(p.row)
        for (raw, name), rows in renamed.items():
            self.run.warnings.append(_g("品种“%(raw)s”按目录登记为“%(name)s”（第 %(rows)s 行），原文保留")
                                     % {"raw": raw, "name": name, "rows": _row_list(rows)})
        for (name, density), rows in densities.items():
            self.run.warnings.append(_g("%(name)s 按目录常用密度 %(d)s 千克/升由体积换算为千克（第 %(rows)s 行）")
                                     % {"name": name, "d": density, "rows": _row_list(rows)})

    @staticmethod
    def _identity(p: _Posting) -> tuple:
        d = p.data
        return (d["enterprise"].pk, d["chemical"].pk, d["direction"], d["document_number"], d["occurred_on"],
                p.quantity_kg)

    def _refuse_repeats(self, postings: list[_Posting], result: Any, refusals: _Refusals) -> None:
        """A movement with a document number that is already in the ledger, or twice in the
        file (same enterprise, chemical, direction, document number, date and quantity)."""
        seen: dict[tuple, int] = {}
        with_doc = [p for p in sorted(postings, key=lambda p: p.row) if p.data["document_number"]]
        for p in with_doc:
            key = self._identity(p)
            if key in seen:
                refusals.refuse(result, p.row, str(_("单据编号")), _g(
                    "与第 %(row)s 行完全相同（单据编号、品种、方向、日期、数量）：同一笔出入库只能出现一次")
                    % {"row": seen[key]})
            else:
                seen[key] = p.row
        docs = sorted({p.data["document_number"] for p in with_doc})
        enterprises = sorted({p.data["enterprise"].pk for p in with_doc})
        # Chemicals and dates are part of a movement's identity too: with them the look-up
        # reads the (enterprise, chemical, occurred_on) index instead of every entry of the
        # file's enterprises (document numbers are not indexed).
        chemicals = sorted({p.data["chemical"].pk for p in with_doc})
        dates = sorted({p.data["occurred_on"] for p in with_doc})
        stored: set[tuple] = set()
        for i in range(0, len(docs), 500):
            rows = LedgerEntry.objects.filter(voided_at__isnull=True, enterprise_id__in=enterprises,
                                              chemical_id__in=chemicals, occurred_on__in=dates,
                                              document_number__in=docs[i:i + 500]).values_list(
                "enterprise_id", "chemical_id", "direction", "document_number", "occurred_on", "quantity_kg")
            stored.update(tuple(r) for r in rows)
        for p in with_doc:
            if self._identity(p) in stored:
                d = p.data
                refusals.refuse(result, p.row, str(_("单据编号")), _g(
                    "单据“%(doc)s”的这笔%(direction)s（%(chemical)s，%(date)s，%(qty)s 千克）已在台账中：同一笔不能重复导入")
                    % {"doc": d["document_number"], "direction": Direction(d["direction"]).label,
                       "chemical": d["chemical"].name_zh, "date": d["occurred_on"], "qty": p.quantity_kg})

    def _refuse_overdrafts(self, postings: list[_Posting], result: Any, refusals: _Refusals) -> None:
        """Run the rows in posting order (date, then row) against the current balances and
        refuse each outbound row that would take a balance below zero (Regulation arts.
        18–19: the ledger records real stock). A refused row is left out of the running
        balance, so each message names a row that is wrong by itself."""
        pairs = sorted({(p.data["enterprise"].pk, p.data["chemical"].pk) for p in postings})
        running: dict[tuple[int, int], Decimal] = {pair: Decimal("0") for pair in pairs}
        enterprises = sorted({e for e, _c in pairs})
        for i in range(0, len(enterprises), 500):
            for e, c, qty in StockBalance.objects.filter(enterprise_id__in=enterprises[i:i + 500]).values_list(
                    "enterprise_id", "chemical_id", "quantity_kg"):
                if (e, c) in running:
                    running[(e, c)] = qty
        start = dict(running)
        for p in postings:
            if p.row in refusals.rows:
                continue
            d = p.data
            key = (d["enterprise"].pk, d["chemical"].pk)
            if d["direction"] in OUTBOUND_DIRECTIONS:
                after = running[key] - p.quantity_kg
                if after < 0:
                    refusals.refuse(result, p.row, str(_("数量")), _g(
                        "%(chemical)s 结存不足：%(date)s 前结存 %(before)s 千克（系统结存 %(stock)s 千克，加本文件中"
                        "日期在前的各行），本行%(direction)s %(qty)s 千克后将为 %(after)s 千克。结存不能为负"
                        "（《易制毒化学品管理条例》第十八、十九条：台账须如实记录），请核对数量或补录入库")
                        % {"chemical": d["chemical"].name_zh, "date": d["occurred_on"], "before": running[key],
                           "stock": start[key], "direction": Direction(d["direction"]).label,
                           "qty": p.quantity_kg, "after": after})
                    continue
                running[key] = after
            else:
                running[key] += p.quantity_kg

    def _post(self, postings: list[_Posting], *, user, commit: bool, result: Any, refusals: _Refusals) -> None:
        """Post the rows through the bulk service in chunks of :data:`POST_CHUNK`, all in
        the import's transaction: balances locked, negative balances refused under lock."""
        from jindu.precursors.services import PostingError, post_entries

        batch = self.batch if commit else None
        for start in range(0, len(postings), POST_CHUNK):
            chunk = postings[start:start + POST_CHUNK]
            rows = [{**p.data, "row_number": p.row} for p in chunk]
            try:
                post_entries(user=user, rows=rows, source=EntrySource.IMPORT, import_batch=batch)
            except PostingError as exc:
                for row, message in exc.rows:
                    refusals.refuse(result, row, "", message)
                return
            except ValidationError as exc:
                for message in exc.messages:
                    refusals.refuse(result, None, "", message)
                return
            except PermissionDenied as exc:
                refusals.refuse(result, None, "", str(exc) or _g("超出您的管辖范围"))
                return
            except DatabaseError:
                refusals.refuse(result, None, "", _g("数据库拒绝了这批台账（数值超出范围或格式不符），未导入"))
                return


__all__ = [
    "EnterpriseImporter", "LicenceImporter", "LedgerImporter", "find_enterprise", "DIRECTION_WORDS",
    "ENTERPRISE_KIND_WORDS",
]
