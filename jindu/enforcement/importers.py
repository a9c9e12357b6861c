"""Drug-case import from xlsx/csv: cases with their suspects and seizures, **one file, one
row per seizure**, rows of one case sharing its 案件编号.

Layout (the downloadable template, :func:`jindu.core.imports.template.import_template_xlsx`):
case columns (编号, 名称, 类别, 案由, 区划, 办案单位, dates, status…), suspect columns
(嫌疑人姓名, 身份证号, …) and seizure columns (毒品名称, 形态, 净重…). The first row of a
case number registers the case; later rows with the same number add a seizure (and their
suspect) to it — their case cells may be left empty, and if filled must equal the first
row's. A row may carry only a suspect (no seizure) or only the case. One file rather than
a case sheet plus a seizure sheet because the core reader reads one sheet (csv has only
one) and because all-or-nothing then covers a case *and* its seizures together.

Only new cases are imported: a case number already registered is refused (seizures of an
existing case are added on its page), so importing the same file twice cannot double the
seized grams.

Validation is the manual entry's: the case part by :class:`~jindu.enforcement.forms.CaseForm`,
the suspect part by :class:`~jindu.enforcement.forms.SuspectForm`, the seizure part by
:class:`~jindu.enforcement.forms.SeizureForm`; writes go through
:func:`~jindu.enforcement.services.create_case`, ``create_suspect`` and ``create_seizure``
(the same audit events and scope re-checks). Errors name the row and the column.

Drug names (:func:`find_substance`) are matched to the controlled-substances list by its
Chinese name, abbreviation or English name, or by one of the other names of the shared
table :mod:`jindu.substances.names` that reliably identify one substance, each with its
source; the written name is kept as the seizure's 物品名称 when it differs from the list
name. Weights (:class:`WeightColumn`) are grams: numeric cells or text such as ``12.5``,
``12.5克``, ``0.8kg`` (→ 800 g), ``500mg``; units whose size is not certain (两, 斤, 钱…)
or that are counts (包, 粒, 片) are refused.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.forms.utils import ErrorDict
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _

from jindu.core.idnumbers import normalize_identity_number
from jindu.core.imports import (
    CellError,
    ChoiceColumn,
    Column,
    DateColumn,
    ForeignKeyColumn,
    IdentityNumberColumn,
    Importer,
    IntegerColumn,
    TextColumn,
    register,
)
from jindu.core.imports.columns import cell_text
from jindu.core.imports.readers import NUMBER
from jindu.core.scope import ADD, VIEW
from jindu.enforcement import services
from jindu.enforcement.choices import (
    CaseKind,
    CaseStatus,
    Gender,
    HandlingLevel,
    Offence,
    SeizureForm as SeizureFormChoice,
    SuspectRole,
    TargetLevel,
)
from jindu.enforcement.forms import CaseForm, SeizureForm, SuspectForm
from jindu.enforcement.models import Campaign, Case
from jindu.org.choices import UnitKind
from jindu.org.importers import DivisionColumn
from jindu.org.models import Unit
from jindu.substances.names import NameMatch, NamePolicy, find_substance as find_named_substance

# -- drug names -------------------------------------------------------------------------------

#: A drug name resolved (:class:`jindu.substances.names.NameMatch`): ``substance``,
#: ``implied_form`` ("" if none) and ``written`` (kept as the item name when it differs).
DrugMatch = NameMatch


def find_substance(text: str, cache: dict | None = None) -> DrugMatch:
    """The controlled substance a seizure's drug name ``text`` denotes: the shared look-up
    :func:`jindu.substances.names.find_substance` with the ``SEIZURE`` policy. Only names
    that reliably identify one substance are mapped (冰毒, 麻古 → tablets, 鸦片, 度冷丁,
    大麻油 → liquid…, each sourced in ``substances/data/drug_names.csv``); 摇头丸, K粉, 白粉
    and the like are refused because a seizure's quantity class depends on the tested
    substance (法释〔2016〕8号 art. 1–2). Raises :class:`CellError` (Chinese) when nothing
    matches; answers are kept in ``cache``."""
    return find_named_substance(text, policy=NamePolicy.SEIZURE, cache=cache)


# -- columns ----------------------------------------------------------------------------------

_WEIGHT_TEXT = re.compile(r"^(?P<number>[+-]?(?:\d+(?:\.\d*)?|\.\d+))(?P<unit>.*)$")
#: Units converted to grams (exact factors).
GRAM_FACTORS = {
    "": Decimal("1"), "g": Decimal("1"), "克": Decimal("1"),
    "kg": Decimal("1000"), "千克": Decimal("1000"), "公斤": Decimal("1000"),
    "mg": Decimal("0.001"), "毫克": Decimal("0.001"),
}
#: Units refused with the reason: market units whose size depends on the system used
#: (a 两 is 50 g in the metric market system, 31.25 g in the old 16-两 catty), foreign
#: units, and counts that are not weights.
AMBIGUOUS_UNITS = {
    "两": "50 克或 31.25 克", "斤": "500 克或 596.8 克", "钱": "5 克或 3.125 克",
    "oz": "28.35 克（常衡）或 31.10 克（金衡）", "盎司": "28.35 克（常衡）或 31.10 克（金衡）", "lb": "453.6 克", "磅": "453.6 克",
}
COUNT_UNITS = {"包", "袋", "粒", "片", "颗", "支", "瓶", "个", "株", "块"}


def parse_grams(text: str) -> Decimal | None:
    """Grams from a weight written as text: ``"12.5"`` / ``"12.5克"`` / ``"12.5 g"`` →
    ``Decimal("12.5")``; ``"0.8kg"`` / ``"0.8千克"`` / ``"0.8公斤"`` → ``Decimal("800.0")``;
    ``"500mg"`` → ``Decimal("0.500")``; empty → ``None``. Thousands commas are allowed.
    Raises :class:`CellError` naming the reason for anything else: units whose size is not
    certain (:data:`AMBIGUOUS_UNITS`), counts (:data:`COUNT_UNITS`), other words,
    negative numbers."""
    norm = unicodedata.normalize("NFKC", text or "")
    norm = "".join(norm.split()).replace(",", "")
    if not norm:
        return None
    m = _WEIGHT_TEXT.match(norm)
    if not m:
        raise CellError(_g("重量应为数字加单位（克、千克或毫克），如“12.5”“12.5克”“0.8kg”；收到“%(value)s”")
                        % {"value": text})
    unit = m.group("unit").casefold()
    if unit in AMBIGUOUS_UNITS:
        raise CellError(_g("重量单位“%(unit)s”不明确（可能是 %(sizes)s），请换算为克后填写")
                        % {"unit": m.group("unit"), "sizes": AMBIGUOUS_UNITS[unit]})
    if unit in COUNT_UNITS:
        raise CellError(_g("“%(value)s”是数量不是重量：请填写以克计的净重，片数、株数填在对应列")
                        % {"value": text})
    if unit not in GRAM_FACTORS:
        raise CellError(_g("无法识别重量单位“%(unit)s”：请用克、千克（kg）或毫克（mg）") % {"unit": m.group("unit")})
    try:
        number = Decimal(m.group("number"))
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
        raise CellError(_g("重量应为数字，收到“%(value)s”") % {"value": text}) from None
    if number < 0:
        raise CellError(_g("重量不能为负数，收到“%(value)s”") % {"value": text})
    return number * GRAM_FACTORS[unit]


class WeightColumn(Column):
    """A weight in grams as an exact ``Decimal``. Numeric cells are grams
    (``Decimal(repr(value))``, what Excel shows); text goes through :func:`parse_grams`.
    The form then checks the places (at most three, i.e. milligrams)."""

    kind = "decimal"

    def parse(self, cell, ctx) -> Any:
        if cell.kind == NUMBER:
            v = cell.value
            value = Decimal(v) if isinstance(v, int) else Decimal(repr(v))
            if value < 0:
                raise CellError(_g("重量不能为负数，收到 %(value)s") % {"value": value})
            return value
        return parse_grams(cell_text(cell))

    def to_form(self, value: Any) -> Any:
        return "" if value is None else format(value.normalize(), "f")

    def describe(self) -> str:
        return str(self.help) or _g("以克计，可写“12.5”“12.5克”“0.8kg”（换算为 800 克）“500mg”；"
                                    "不接受两、斤等不明确的单位")


class PercentColumn(Column):
    """A percentage 0–100 as ``Decimal``: ``85``, ``85%``, ``85.5％``, or a numeric cell
    (a cell formatted as a percentage holds 0.855 for 85.5 %, read as such)."""

    kind = "decimal"

    def parse(self, cell, ctx) -> Any:
        if cell.kind == NUMBER:
            value = Decimal(repr(cell.value)) if isinstance(cell.value, float) else Decimal(cell.value)
            if "%" in (cell.number_format or ""):
                value *= 100
            return value
        text = "".join(unicodedata.normalize("NFKC", cell_text(cell)).split()).rstrip("%")
        if not text:
            return None
        try:
            return Decimal(text)
        except InvalidOperation:
            raise CellError(_g("纯度应为 0 到 100 的数字（可带 %%），收到“%(value)s”") % {"value": cell_text(cell)}) from None

    def to_form(self, value: Any) -> Any:
        return "" if value is None else str(value)


def _police_units(user):
    return Unit.objects.restrict(user, VIEW).filter(kind=UnitKind.POLICE)


# -- the row form -------------------------------------------------------------------------------

SUSPECT_PARTS = {  # row form field → SuspectForm field
    "suspect_name": "name", "suspect_id_number": "id_number", "suspect_gender": "gender",
    "suspect_role": "role", "suspect_caught_on": "caught_on", "suspect_measure": "measure",
}
SEIZURE_PARTS = {  # row form field → SeizureForm field
    "drug": "substance", "item_name": "item_name", "seizure_form": "form", "gross_weight_g": "gross_weight_g",
    "net_weight_g": "net_weight_g", "tablet_count": "tablet_count", "plant_count": "plant_count",
    "purity_pct": "purity_pct", "place": "place", "seized_on": "seized_on",
}
CASE_PARTS = (*services.CASE_FIELDS, "campaign_names")


@dataclass
class _CaseEntry:
    pk: int | None
    data: dict[str, Any]                      # the case part as form data (for re-creation)
    cleaned: dict[str, Any]                   # the case part as cleaned values (for comparison)
    campaigns: list = field(default_factory=list)
    case_data: dict[str, Any] = field(default_factory=dict)  # services.create_case data
    suspects: dict[Any, tuple[int | None, dict]] = field(default_factory=dict)  # key → (pk, cleaned)


@dataclass
class ImportRun:
    """What one run of the importer has written so far: case number → the case of its first
    row, and that case's suspects by identity number (or name). Preview chunks roll back
    between chunks, so a case is re-created from ``data`` when its row vanished."""

    cases: dict[str, _CaseEntry] = field(default_factory=dict)
    failed: set[str] = field(default_factory=set)
    cache: dict = field(default_factory=dict)


def _blank(value: Any) -> bool:
    return value is None or value == "" or value == [] or (hasattr(value, "exists") and not value.exists())


def _same(a: Any, b: Any) -> bool:
    if hasattr(a, "all") and hasattr(b, "all"):  # querysets of campaigns
        return {x.pk for x in a} == {x.pk for x in b}
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return {getattr(x, "pk", x) for x in a} == {getattr(x, "pk", x) for x in b}
    return a == b


def _shown(value: Any) -> str:
    if value is None or value == "":
        return "（空）"
    if isinstance(value, (list, tuple)):
        return "、".join(str(v) for v in value)
    return str(value)


class CaseRowForm(CaseForm):
    """One spreadsheet row: the case fields of :class:`CaseForm` (campaigns by name instead
    of a multiple choice; no linked cases), plus the suspect and seizure parts carried as
    text and validated by :class:`SuspectForm` / :class:`SeizureForm` in :meth:`clean`.

    ``run`` is the :class:`ImportRun` of the importer: a row whose case number an earlier
    row of the file registered continues that case (empty case cells take the first row's
    values; filled ones must equal them)."""

    campaign_names = forms.CharField(label=_("专项行动"), required=False)

    def __init__(self, *args, user, action: str, run: ImportRun, **kwargs):
        data = kwargs.get("data") if "data" in kwargs else (args[0] if args else None)
        self.run = run
        self.user = user
        number = str((data or {}).get("number") or "").strip()
        self.entry = run.cases.get(number) if data is not None else None
        if self.entry is not None:
            data = data.copy()
            for name in CASE_PARTS:
                if _blank(data.get(name)) and name in self.entry.data:
                    data[name] = self.entry.data[name]
            if "data" in kwargs:
                kwargs["data"] = data
            else:
                args = (data, *args[1:])
        super().__init__(*args, user=user, action=action, **kwargs)
        for name in ("campaigns", "linked_cases", "version"):
            self.fields.pop(name, None)
        for name in (*SUSPECT_PARTS, *SEIZURE_PARTS):
            self.fields[name] = forms.CharField(required=False)
        self.suspect_form: SuspectForm | None = None
        self.seizure_form: SeizureForm | None = None
        self.drug: DrugMatch | None = None
        self._first_row_of_failed = False

    def full_clean(self):
        super().full_clean()
        number = str(self.data.get("number") or "").strip() if self.is_bound else ""
        if self.entry is None and number in self.run.failed and not self._first_row_of_failed:
            # Only the reason: the empty case cells of a continuation row are not its fault.
            self._errors = ErrorDict({"number": self.error_class([
                _g("同一案件编号的首行有错误，请先改正该案件的首行")])})

    # The number is unique; a continuation row names a case this file just registered.
    def validate_unique(self):
        if self.entry is None:
            super().validate_unique()

    def clean_number(self):
        number = self.cleaned_data["number"]
        if self.entry is None and Case.objects.filter(number=number).exists():
            raise forms.ValidationError(_g("案件编号“%(n)s”已登记：导入只登记新案件，已有案件的缴获请在案件页面登记")
                                        % {"n": number})
        return number

    def clean_campaign_names(self):
        text = self.cleaned_data.get("campaign_names") or ""
        names = [n for n in re.split(r"[、,，;；\n]+", text) if n.strip()]
        visible = Campaign.objects.restrict(self.user, VIEW)
        found = []
        for name in names:
            rows = list(visible.filter(name=name.strip())[:2])
            if not rows:
                raise forms.ValidationError(_g("未找到专项行动“%(n)s”，或不在您的管辖范围内") % {"n": name.strip()})
            if len(rows) > 1:
                raise forms.ValidationError(_g("专项行动“%(n)s”有多个同名行动，请在案件页面选择") % {"n": name.strip()})
            found.append(rows[0])
        return found

    def _part(self, mapping: dict[str, str]) -> dict[str, Any]:
        return {target: self.cleaned_data.get(source, "") for source, target in mapping.items()}

    def _copy_errors(self, form: forms.BaseForm, mapping: dict[str, str]) -> None:
        reverse = {target: source for source, target in mapping.items()}
        for name, messages in form.errors.items():
            for message in messages:
                self.add_error(reverse.get(name), message)

    def clean(self):
        data = super().clean()
        if self.entry is not None:
            for name in CASE_PARTS:
                if name in data and name in self.entry.cleaned and not _same(data[name], self.entry.cleaned[name]):
                    self.add_error(name, _g("与本文件中同一案件编号的首行不一致（首行为“%(first)s”，本行为“%(this)s”）；"
                                            "同一案件的其余行可留空") % {"first": _shown(self.entry.cleaned[name]),
                                                                     "this": _shown(data[name])})
        # Suspect part: validated by the suspect form of the case page.
        suspect = self._part(SUSPECT_PARTS)
        if any(not _blank(v) for v in suspect.values()):
            # Empty cells: the values of the same suspect on an earlier row, else what the
            # case page's form preselects (the model defaults: role 主犯, gender unknown).
            known = self.entry.suspects.get(self._suspect_key(suspect)) if self.entry is not None else None
            blank_form = SuspectForm()
            defaults = {name: blank_form[name].value() for name in blank_form.fields}
            for name, value in suspect.items():
                if _blank(value):
                    fallback = known[1].get(name) if known is not None else None
                    suspect[name] = fallback if not _blank(fallback) else defaults.get(name, "")
            self.suspect_form = SuspectForm(data={k: v for k, v in suspect.items()})
            if not self.suspect_form.is_valid():
                self._copy_errors(self.suspect_form, SUSPECT_PARTS)
                self.suspect_form = None
            elif self.entry is not None:
                self._check_same_suspect()
        # Seizure part: validated by the seizure form of the case page.
        seizure = self._part(SEIZURE_PARTS)
        if any(not _blank(v) for k, v in seizure.items()):
            self._clean_seizure(seizure)
        return data

    def _post_clean(self):
        super()._post_clean()  # the model's own checks (dates in order…) run here
        number = (self.cleaned_data or {}).get("number")
        if self._errors and self.entry is None and number and number not in self.run.failed:
            self.run.failed.add(number)
            self._first_row_of_failed = True

    def _suspect_key(self, cleaned: dict) -> Any:
        """A suspect of one case: by identity number (normalised), else by name."""
        if cleaned.get("id_number"):
            try:
                return ("id", normalize_identity_number(cleaned["id_number"]))
            except Exception:  # already validated by the form; fall back to the text
                return ("id", cleaned["id_number"])
        return ("name", cleaned.get("name"))

    def _check_same_suspect(self) -> None:
        cleaned = self.suspect_form.cleaned_data
        known = self.entry.suspects.get(self._suspect_key(cleaned))
        if known is None:
            return
        for source, target in SUSPECT_PARTS.items():
            value = cleaned.get(target)
            if not _blank(value) and not _blank(known[1].get(target)) and value != known[1][target]:
                self.add_error(source, _g("与前面行中的同一嫌疑人不一致（前面为“%(first)s”，本行为“%(this)s”）")
                               % {"first": _shown(known[1][target]), "this": _shown(value)})

    def _clean_seizure(self, seizure: dict[str, Any]) -> None:
        drug_text = seizure.pop("substance")
        if _blank(drug_text):
            self.add_error("drug", _g("请填写毒品名称"))
            return
        try:
            self.drug = find_substance(drug_text, self.run.cache)
        except CellError as exc:
            self.add_error("drug", str(exc))
            return
        if _blank(seizure.get("form")) and self.drug.implied_form:
            seizure["form"] = self.drug.implied_form
        if _blank(seizure.get("item_name")) and drug_text != self.drug.substance.name_zh:
            seizure["item_name"] = drug_text  # the name as written (冰毒, 麻古…) is kept
        if _blank(seizure.get("seized_on")):
            seizure["seized_on"] = self.cleaned_data.get("solved_on") or self.cleaned_data.get("filed_on") or ""
        seizure["substance"] = self.drug.substance.pk
        self.seizure_form = SeizureForm(data=seizure, case=None)
        if not self.seizure_form.is_valid():
            mapping = {**SEIZURE_PARTS}
            self._copy_errors(self.seizure_form, mapping)
            self.seizure_form = None


# -- the importer -------------------------------------------------------------------------------


@register
class CaseImporter(Importer):
    """Cases with suspects and seizures, one row per seizure (see the module docstring)."""

    name = "enforcement.case"
    label = _("毒品案件及缴获")
    model = Case
    form_class = CaseRowForm
    key_fields = ()  # rows of one case share its number: grouping is done by the row form
    personal_data = True  # suspects' names and identity numbers
    columns = [
        TextColumn("number", _("案件编号"), help=_(
            "同一案件的多条缴获各占一行、编号相同；案件各列只需在该案件的首行填写，其余行可留空（填写则须与首行一致）。"
            "只登记新案件，已登记的编号不能导入")),
        TextColumn("name", _("案件名称")),
        ChoiceColumn("kind", _("案件类别"), choices=CaseKind, required=False),
        ChoiceColumn("offence", _("案由"), choices=Offence),
        DivisionColumn("division", _("发案区划")),
        ForeignKeyColumn("handling_unit", _("办案单位"), queryset=_police_units, code_field=None,
                         help=_("公安机关单位名称（须为系统中已有的公安单位）")),
        ChoiceColumn("handling_level", _("办案层级"), choices=HandlingLevel, required=False),
        DateColumn("filed_on", _("立案日期")),
        DateColumn("solved_on", _("破案日期")),
        DateColumn("transferred_on", _("移送起诉日期")),
        DateColumn("closed_on", _("结案日期")),
        ChoiceColumn("status", _("案件状态"), choices=CaseStatus, required=False),
        ChoiceColumn("target_level", _("目标案件级别"), choices=TargetLevel),
        TextColumn("campaign_names", _("专项行动"), help=_("专项行动名称，多个用顿号分隔，如“2023年秋冬攻势”")),
        TextColumn("summary", _("简要案情")),
        TextColumn("suspect_name", _("嫌疑人姓名"), required=False, help=_(
            "本行缴获所属的犯罪嫌疑人；同一嫌疑人可出现在多行（按身份证号，无身份证号时按姓名识别）")),
        IdentityNumberColumn("suspect_id_number", _("嫌疑人身份证号"), required=False),
        ChoiceColumn("suspect_gender", _("嫌疑人性别"), choices=Gender, required=False),
        ChoiceColumn("suspect_role", _("涉案角色"), choices=SuspectRole, required=False),
        DateColumn("suspect_caught_on", _("抓获日期"), required=False),
        TextColumn("suspect_measure", _("强制措施"), required=False),
        TextColumn("drug", _("毒品名称"), required=False, help=_(
            "列管目录中的中文名称或英文缩写（如 甲基苯丙胺、MDMA），也可写冰毒、麻古、鸦片、度冷丁等；"
            "原写法保留为物品名称。摇头丸、K粉等成分不唯一的俗称请按鉴定意见填写")),
        TextColumn("item_name", _("物品名称"), required=False),
        ChoiceColumn("seizure_form", _("形态"), choices=SeizureFormChoice, required=False),
        WeightColumn("gross_weight_g", _("毛重（克）"), required=False),
        WeightColumn("net_weight_g", _("净重（克）"), required=False),
        IntegerColumn("tablet_count", _("片（件）数"), required=False),
        IntegerColumn("plant_count", _("株数"), required=False),
        PercentColumn("purity_pct", _("纯度（%）"), required=False),
        TextColumn("place", _("缴获地点"), required=False),
        DateColumn("seized_on", _("缴获日期"), required=False, help=_("不填则为破案日期（未破案为立案日期）")),
    ]

    def __init__(self):
        self.run = ImportRun()

    def key_of(self, values):
        return None

    def get_form_kwargs(self, *, user, instance):
        return {"user": user, "action": ADD, "run": self.run}

    def _case(self, form: CaseRowForm, *, user) -> tuple[Case, _CaseEntry]:
        entry = form.entry
        if entry is not None and entry.pk and Case.objects.filter(pk=entry.pk).exists():
            return Case.objects.get(pk=entry.pk), entry
        number = form.cleaned_data["number"]
        if entry is None:
            entry = _CaseEntry(
                pk=None, data={k: form.data.get(k, "") for k in CASE_PARTS},
                cleaned={k: form.cleaned_data.get(k) for k in CASE_PARTS},
                campaigns=form.cleaned_data.get("campaign_names") or [],
                case_data={f: form.cleaned_data[f] for f in services.CASE_FIELDS if f in form.cleaned_data},
            )
        # New, or re-created after a preview chunk rolled the first row back.
        entry.suspects.clear()
        try:
            case = services.create_case(user=user, data=entry.case_data, campaigns=entry.campaigns)
        except Exception:
            self.run.failed.add(number)
            raise
        entry.pk = case.pk
        self.run.cases[number] = entry
        return case, entry

    def save(self, form, *, user, created):
        case, entry = self._case(form, user=user)
        suspect = None
        if form.suspect_form is not None:
            cleaned = form.suspect_form.cleaned_data
            key = form._suspect_key(cleaned)
            known = entry.suspects.get(key)
            if known is not None and case.suspects.filter(pk=known[0]).exists():
                suspect = case.suspects.get(pk=known[0])
            else:
                suspect = services.create_suspect(
                    user=user, case=case, data={f: cleaned[f] for f in services.SUSPECT_FIELDS if f in cleaned})
                entry.suspects[key] = (suspect.pk, dict(cleaned))
        if form.seizure_form is not None:
            cleaned = form.seizure_form.cleaned_data
            data = {f: cleaned[f] for f in services.SEIZURE_FIELDS if f in cleaned and f != "suspect"}
            data["suspect"] = suspect
            services.create_seizure(user=user, case=case, data=data)
        return case
