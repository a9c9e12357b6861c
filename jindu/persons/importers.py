"""Spreadsheet imports of the registry: people (``persons.person``) and drug-test results
(``persons.test_result``), through the core engine (:mod:`jindu.core.imports`: xlsx/csv,
encodings, merged cells, numeric-cell and date rules, preview, all-or-nothing commit).

People: one row per person, identified by (证件类型, 证件号码) normalised — full-width digits,
lower-case x and a 15-digit first-generation number all name the same person, so two rows
of one file naming the same person are both refused as in-file duplicates (peer case 6) and
a row naming a person already registered (and in the importer's scope) updates that person
instead of creating a second one (peer case 17). New people are written by
:func:`jindu.persons.services.register_person`, edits by ``update_person``: the same
validation, audit event, scope re-check and duplicate check as registration by hand. The
control status is derived from the timeline and is never imported (a 管控状态 column is
ignored with a warning); 初次查获日期 becomes the first "found using" event of a new person.

Test results: one row per test, appended to the person's timeline by
:func:`jindu.persons.services.casework.record_test` (through ``add_event``). A row naming a
test already on the timeline (same person, kind and date, not voided) with the same
result is "unchanged", so re-importing a file adds nothing; with a different result it is
refused (a wrong record is corrected on the timeline, never overwritten).

Bulk: the registry importer validates and writes people in batches of
:attr:`PersonImporter.bulk_rows` (:meth:`PersonImporter.process_rows`): every new person
still goes through :class:`PersonImportForm` — its fields' and its own checks, with
Django's form and model machinery around them compiled once per import
(:class:`jindu.core.imports.rowcheck.RowChecker`; with ``compiled_checks = False`` the form
re-bound per row, :class:`jindu.core.imports.bulk.FormPool`) — and through the checks of
``register_person`` (:mod:`jindu.persons.services.bulk_registry`), so each row gets the
answer the row-by-row path gives; the writes, the duplicate look-ups and the recomputation
are made once per batch. Rows naming a registered person are handed to the row-by-row path (``update_person``).
With the core engine streaming the file, memory does not grow with the file (beyond a
16-byte digest per row for the in-file duplicate check).
"""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, IntegrityError, transaction
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _

from jindu.core.fields import IdentityNumberFormField
from jindu.core.idnumbers import DocumentType, IdentityNumberError, mask_identity_number, normalize_document_number
from jindu.core.imports import (
    BooleanColumn, CellError, ChoiceColumn, Column, DateColumn, IdentityNumberColumn, Importer, PhoneColumn,
    TextColumn, register,
)
from jindu.core.imports.bulk import FormPool, KeyPool, PlannerStatistics
from jindu.core.imports.rowcheck import RowChecker
from jindu.core.imports.columns import cell_text
from jindu.core.imports.engine import (
    CREATED, ERROR, RowOutcome, _form_base_data, _form_errors, division_in_scope, error_problems,
)
from jindu.core.models import AuditEvent
from jindu.core.scope import ADD, CHANGE, VIEW
from jindu.core.timeutils import local_today
from jindu.geo.models import Division
from jindu.org.importers import DivisionColumn
from jindu.persons import services
from jindu.persons.choices import EventKind, EventSource, Sex, TestResult
from jindu.persons.models import Event, Person
from jindu.persons.services import bulk_registry, casework
from jindu.persons.services.registry import PERSON_EDIT_FIELDS, PERSON_FIELDS
from jindu.substances.models import Substance
from jindu.substances.names import NamePolicy, find_substance as find_named_substance

# -- substances --------------------------------------------------------------------------

_SEPARATORS = re.compile(r"[、,，;；/\n]+")


def find_substance(text: str, cache: dict) -> Substance:
    """The controlled substance ``text`` names in a person's record: the list's Chinese
    name, abbreviation (MDMA) or English name, case-insensitive, or a name of the shared
    table :mod:`jindu.substances.names` read with the ``REPORTED_USE`` policy — common usage
    is enough for the drugs a person is reported to use (冰毒/麻古 → 甲基苯丙胺, K粉 → 氯胺酮,
    摇头丸 → MDMA, 白粉 → 海洛因). Raises :class:`CellError` (Chinese) when nothing or several
    substances match; answers are kept in ``cache``."""
    return find_named_substance(text, policy=NamePolicy.REPORTED_USE, cache=cache).substance


class SubstancesColumn(Column):
    """Several substances in one cell, separated by 、 , ， ; or /; parsed to a list."""

    kind = "substances"

    def parse(self, cell, ctx):
        text = cell_text(cell)
        if not text:
            return None
        names = [n.strip() for n in _SEPARATORS.split(text) if n.strip()]
        found: list[Substance] = []
        for name in names:
            substance = find_substance(name, ctx.cache)
            if substance not in found:
                found.append(substance)
        return found

    def to_form(self, value):
        return [s.pk for s in value] if value else []

    def display(self, value):
        return "、".join(s.name_zh for s in value) if value else ""

    def describe(self):
        return str(self.help) or _g("管制物质中文名称（如 甲基苯丙胺、氯胺酮、依托咪酯），多种用“、”分隔")


class SubstanceColumn(Column):
    """One substance (see :func:`find_substance`)."""

    kind = "substance"

    def parse(self, cell, ctx):
        text = cell_text(cell)
        return find_substance(text, ctx.cache) if text else None

    def to_form(self, value):
        return "" if value is None else value.pk

    def display(self, value):
        return "" if value is None else value.name_zh


class SynonymChoiceColumn(ChoiceColumn):
    """A choice column that also reads a few customary synonyms of its labels."""

    def __init__(self, field, header, *, synonyms=None, **kwargs):
        super().__init__(field, header, **kwargs)
        self.synonyms = dict(synonyms or {})

    def parse(self, cell, ctx):
        text = cell_text(cell)
        if text in self.synonyms:
            return self.synonyms[text]
        return super().parse(cell, ctx)


def _all_divisions(user):
    return Division.objects.all()


# -- helpers shared by both importers ---------------------------------------------------------

def document_digests(raw: Any, document_type: str | None = None) -> list[str]:
    """Blind indexes of ``raw`` as ``document_type`` (or as any type accepting it)."""
    from jindu.core.crypto import blind_index

    types = [document_type] if document_type else list(DocumentType.values)
    out = []
    for t in types:
        try:
            number = normalize_document_number(t, raw)
        except IdentityNumberError:
            continue
        out.append(blind_index(number, document_type=str(t)))
    return out


# -- people ------------------------------------------------------------------------------------

class PersonImportForm(forms.ModelForm):
    """The registration fields of a person, validated as manual registration validates them
    (the model's ``full_clean``, then :func:`services.register_person` / ``update_person``
    when the row is written). The identity number is normalised for the row's document type,
    so "changed" means a different number, not a different spelling of the same one."""

    first_found_on = forms.DateField(label=_("初次查获日期"), required=False)

    class Meta:
        model = Person
        fields = [f for f in PERSON_FIELDS if f != "registering_unit"] + ["drugs"]

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        # What is stored, before validation copies the row's values onto the instance.
        self.stored = {name: getattr(self.instance, name) for name in PERSON_EDIT_FIELDS} \
            if self.instance.pk else {}
        self.stored_residence_id = self.instance.residence_division_id
        document_type = self.data.get("document_type") or getattr(self.instance, "document_type", "") \
            or DocumentType.RESIDENT_ID
        if document_type not in DocumentType.values:
            document_type = None  # the document_type field reports it
        label = self.fields["identity_number"].label
        self.fields["identity_number"] = IdentityNumberFormField(document_type=document_type, label=label)
        self.fields["residence_division"].queryset = Division.objects.restrict(user, VIEW)
        self.fields["drugs"].queryset = Substance.objects.all()
        for name in ("sex", "registered_on", "document_type"):
            self.fields[name].required = False

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("document_type"):
            cleaned["document_type"] = DocumentType.RESIDENT_ID
        return cleaned

    def _post_clean(self):
        # Empty cells of columns with model defaults take the default (the service fills
        # sex and birth date from a resident identity number).
        for name, default in (("sex", Sex.UNKNOWN), ("document_type", DocumentType.RESIDENT_ID)):
            if not self.cleaned_data.get(name):
                self.cleaned_data[name] = default
        super()._post_clean()

    def changes(self) -> list[str]:
        """Fields of an existing person this row changes (compared as stored)."""
        person = self.instance
        out: list[str] = []
        for name in PERSON_EDIT_FIELDS:
            if name not in self.cleaned_data or name == "registering_unit":
                continue
            value = self.cleaned_data[name]
            if value in (None, "") and name in ("birth_date", "sex", "registered_on", "document_type"):
                continue  # an empty cell keeps what is stored (derived or defaulted)
            if name == "sex" and value == Sex.UNKNOWN:
                continue
            if self.stored.get(name) != value:
                out.append(name)
        if self.cleaned_data.get("residence_division") and \
                self.cleaned_data["residence_division"].pk != self.stored_residence_id:
            out.append("residence_division")
        drugs = self.cleaned_data.get("drugs")
        if drugs is not None and "drugs" in self.data and \
                {d.pk for d in drugs} != set(person.drugs.values_list("pk", flat=True)):
            out.append("drugs")
        return out

    def has_changed(self):
        if self.instance.pk is None or not hasattr(self, "cleaned_data"):
            return super().has_changed()
        return bool(self.changes())


@register
class PersonImporter(Importer):
    name = "persons.person"
    label = _("吸毒人员")
    model = Person
    form_class = PersonImportForm
    key_fields = ("document_type", "identity_number")
    personal_data = True
    columns = [
        ChoiceColumn("document_type", _("证件类型"), choices=DocumentType, required=False,
                     help=_("居民身份证、护照等；空白为居民身份证")),
        IdentityNumberColumn("identity_number", _("证件号码"), aliases=(_("身份证号"), _("身份证号码"), _("公民身份号码")),
                             required=True, help=_("18位身份证号（旧15位号码自动转换），单元格须为文本格式")),
        TextColumn("name", _("姓名")),
        TextColumn("alias", _("曾用名或绰号")),
        ChoiceColumn("sex", _("性别"), choices=Sex, required=False, help=_("男/女；空白时按身份证号")),
        DateColumn("birth_date", _("出生日期"), help=_("空白时按身份证号")),
        PhoneColumn("phone", _("联系电话")),
        DivisionColumn("household_division", _("户籍地"), queryset=_all_divisions,
                       help=_("户籍所在区划的12位代码或唯一名称，可为空")),
        TextColumn("household_address", _("户籍地址")),
        DivisionColumn("residence_division", _("居住地（村居代码或名称）"),
                       aliases=(_("居住地"), _("居住村居"), _("村居代码"), _("所属村居")), required=True,
                       help=_("居住村（社区）的12位统计用区划代码，或唯一的村居名称；决定管辖")),
        TextColumn("residence_address", _("居住地址")),
        SubstancesColumn("drugs", _("滥用毒品种类")),
        DateColumn("registered_on", _("登记日期"), required=False, help=_("空白为今天")),
        DateColumn("first_found_on", _("初次查获日期"), aliases=(_("首次查获日期"),),
                   help=_("新登记人员的第一条“查获吸毒”事件；已登记人员不再写入")),
        BooleanColumn("holds_driving_licence", _("持有机动车驾驶证")),
        TextColumn("driving_licence_classes", _("准驾车型")),
    ]

    def get_form_kwargs(self, *, user, instance):
        return {"user": user}

    def key_of(self, values):
        raw = values.get("identity_number")
        if not raw:
            return None
        document_type = values.get("document_type") or DocumentType.RESIDENT_ID
        try:
            return (str(document_type), normalize_document_number(document_type, raw))
        except IdentityNumberError:
            return None

    def key_lookup(self, values):
        document_type = values.get("document_type") or DocumentType.RESIDENT_ID
        return {"identity_number_digest__in": document_digests(values["identity_number"], document_type)}

    def _registration(self, cleaned) -> tuple[dict, list, list]:
        """``register_person``'s arguments from a new person's cleaned row: data, drugs,
        and the first "found using" event when 初次查获日期 is given."""
        data = {f: cleaned[f] for f in PERSON_FIELDS if cleaned.get(f) not in (None, "")}
        found = cleaned.get("first_found_on")
        events = [{"kind": EventKind.FOUND_USING, "occurred_on": found, "source": EventSource.IMPORT}] \
            if found else []
        return data, list(cleaned.get("drugs") or []), events

    def save(self, form, *, user, created):
        cleaned = form.cleaned_data
        try:
            if created:
                data, drugs, events = self._registration(cleaned)
                return services.register_person(user=user, data=data, drugs=drugs, events=events)
            changes = form.changes()
            if "residence_division" in changes:
                raise ValidationError({"residence_division": _g("居住地变更须通过人员转移办理（双方确认后生效），不能通过导入修改")})
            data = {f: cleaned[f] for f in changes if f != "drugs"}
            drugs = cleaned.get("drugs") if "drugs" in changes else None
            person, _changed = services.update_person(user=user, person=Person.objects.get(pk=form.instance.pk),
                                                      data=data, expected_version=form.instance.version, drugs=drugs)
            return person
        except services.DuplicatePersonError as exc:
            raise ValidationError({"identity_number": _duplicate_message()}) from exc

    # -- bulk --------------------------------------------------------------------------------

    bulk_rows = 1000
    #: New people's rows validated by :class:`RowChecker` (the form's checks, compiled);
    #: ``False``: by :class:`FormPool` (the form re-bound per row).
    compiled_checks = True

    def process_rows(self, rows, *, user, commit, fallback):
        """A batch of rows (see the module docstring): rows naming a person the user may
        change go the row-by-row way (``fallback``); every other row is checked exactly as
        :func:`jindu.core.imports.engine._process_clean_row` and :meth:`save` would —
        scope from the file's village, :class:`PersonImportForm`, scope from the form,
        ``register_person``'s checks — and, in the commit, all valid new people of the batch
        are written together (:func:`bulk_registry.register_people`). If that write meets a
        database conflict (a number registered meanwhile), the batch's new rows are redone
        one by one, so the row at fault is named."""
        state = self._bulk_state(user)
        outcomes: list[RowOutcome | None] = [None] * len(rows)

        # Rows updating a registered person the user may change: find_existing, per batch.
        digests = state.digests(rows, self._digests)
        wanted = {d for ds in digests.values() for d in ds}
        # Who is registered (anyone's, one query — or read ahead, see look_ahead); of
        # those, whom the user may change.
        registered_as = state.registered(rows, wanted)
        changeable: set[int] = set()
        if registered_as:
            changeable = set(self.match_queryset(user=user).filter(
                pk__in={pk for pks in registered_as.values() for pk in pks}).values_list("pk", flat=True))
        creating = []
        for i, row in enumerate(rows):
            matches = {pk for d in digests.get(i, ()) for pk in registered_as.get(d, ()) if pk in changeable}
            if len(matches) == 1:
                outcomes[i] = fallback(row)
            else:
                creating.append(i)

        registered = {d for i in creating for d in digests.get(i, ()) if d in registered_as}
        pending: list[tuple[int, bulk_registry.PendingRegistration]] = []
        for i in creating:
            row = rows[i]
            if state.in_scope(row.values.get("residence_division")) is False:
                outcomes[i] = RowOutcome(ERROR, state.out_of_scope)
                continue
            data = dict(state.base)
            for name, value in row.values.items():
                data[name] = state.columns[name].to_form(value)
            form = state.pool.validate(data)
            if form.errors:
                outcomes[i] = RowOutcome(ERROR, _form_errors(self, form))
                continue
            if state.in_scope(form.instance.residence_division) is False:
                outcomes[i] = RowOutcome(ERROR, state.out_of_scope)
                continue
            reg_data, drugs, events = self._registration(form.cleaned_data)
            try:
                entry = bulk_registry.prepare_registration(user=user, data=reg_data, drugs=drugs, events=events,
                                                           registered=registered, today=state.today,
                                                           person=form.instance, event_checks=state.event_checks)
            except services.DuplicatePersonError:
                outcomes[i] = RowOutcome(ERROR, error_problems(
                    self, ValidationError({"identity_number": _duplicate_message()}), form))
                continue
            except ValidationError as exc:
                outcomes[i] = RowOutcome(ERROR, error_problems(self, exc, form))
                continue
            pending.append((i, entry))

        if not commit:
            for i, _entry in pending:
                outcomes[i] = RowOutcome(CREATED)
            return outcomes
        try:
            with transaction.atomic():
                written = bulk_registry.register_people(user=user, pending=[e for _i, e in pending],
                                                        as_of=state.today, key_pool=state.keys)
        except (IntegrityError, DatabaseError):
            for i, _entry in pending:
                outcomes[i] = fallback(rows[i])
            return outcomes
        state.statistics.wrote(len(written))
        for (i, _entry), person in zip(pending, written, strict=True):
            if isinstance(person, PermissionDenied):
                outcomes[i] = RowOutcome(ERROR, state.out_of_scope)
            else:
                outcomes[i] = RowOutcome(CREATED, pk=person.pk)
        return outcomes

    def look_ahead(self, rows, *, user):
        """Who is registered under the next batch's numbers (:meth:`process_rows`' first
        query): handed to the import's writer now, after the people of the batch just done
        (queued at once) and before its deferred writes, which nothing read here depends on."""
        state = self._bulk_state(user)
        state.read_ahead(rows, self._digests(rows))
        # At most a person, an audit event and one event (_registration) per row.
        state.keys.reserve([(Person, len(rows)), (Event, len(rows)), (AuditEvent, len(rows))])

    def _digests(self, rows) -> dict[int, list[str]]:
        """Per row index, the blind indexes its identity number is looked up by."""
        return {i: self.key_lookup(row.values)["identity_number_digest__in"]
                for i, row in enumerate(rows) if row.key is not None}  # the engine's key_of(values)

    def _bulk_state(self, user) -> "_BulkState":
        state = getattr(self, "_bulk", None)
        if state is None or state.user is not user:
            state = self._bulk = _BulkState(self, user)
        return state


def _duplicate_message() -> str:
    """The import's answer for a number registered already (maybe out of the user's scope)."""
    return _g("该证件号码已登记（人员可能不在您的管辖范围内，请联系上级核实）")


class _BulkState:
    """What one run of the registry import keeps between batches: the form pool, the form's
    initial data for a new person, the scope answers per village, today, the registry's
    planner statistics as it grows (:class:`PlannerStatistics`)."""

    def __init__(self, importer: PersonImporter, user):
        self.user = user
        self.columns = {c.field: c for c in importer.columns}
        kwargs = importer.get_form_kwargs(user=user, instance=Person())
        self.base = _form_base_data(importer.form_class(instance=Person(), **kwargs))
        pool = RowChecker if importer.compiled_checks else FormPool
        self.pool = pool(importer.form_class, model=Person, form_kwargs=kwargs,
                         variant=lambda data: data.get("document_type") or "")
        self.today = local_today()
        self.event_checks: dict = {}
        self.statistics = PlannerStatistics(Person)
        self.keys = KeyPool()
        self.out_of_scope = [("", _g("该记录超出您的管辖范围或您没有%(action)s权限") % {"action": _g("新增")})]
        self._scope: dict = {}
        self._ahead: tuple = ([], {}, set(), dict)

    def read_ahead(self, rows: list, digests: dict[int, list[str]]) -> None:
        """Hand the look-up of ``digests`` (per index of ``rows``, the next batch's rows:
        their blind indexes) to the import's writer now
        (:func:`bulk_registry.look_up_registered`), for the next :meth:`registered`."""
        per_row = {id(rows[i]): found for i, found in digests.items()}
        wanted = {d for ds in digests.values() for d in ds}
        self._ahead = (rows, per_row, wanted, bulk_registry.look_up_registered(wanted))

    def digests(self, rows: list, compute) -> dict[int, list[str]]:
        """``compute(rows)`` (per index of ``rows``, their blind indexes), taken from
        :meth:`read_ahead` for rows it was given (the same objects: the list it keeps holds
        them, so their ids are theirs)."""
        held, per_row, _wanted, _found = self._ahead
        if held and all(id(r) in per_row or not self._keyed(r) for r in rows):
            return {i: per_row[id(r)] for i, r in enumerate(rows) if id(r) in per_row}
        return compute(rows)

    @staticmethod
    def _keyed(row) -> bool:
        return row.key is not None

    def registered(self, rows: list, digests: set) -> dict:
        """:func:`bulk_registry.registered_people` of ``digests`` (of ``rows``): what
        :meth:`read_ahead` found, if it was given these very rows and numbers; else a query
        now. Either way the read-ahead is used up."""
        _held, per_row, ahead, found = self._ahead
        self._ahead = ([], {}, set(), dict)
        if digests <= ahead and all(id(r) in per_row or not self._keyed(r) for r in rows):
            found = found()
            return {d: found[d] for d in digests if d in found}
        return bulk_registry.registered_people(digests)

    def in_scope(self, division) -> bool | None:
        """:func:`division_in_scope` of a new person living in ``division`` (memoised)."""
        key = getattr(division, "pk", None)
        if key not in self._scope:
            probe = Person(residence_division=division) if division is not None else Person()
            self._scope[key] = division_in_scope(Person, self.user, ADD, probe)
        return self._scope[key]


# -- test results -----------------------------------------------------------------------------

class PersonByNumberColumn(IdentityNumberColumn):
    """The registered person with this identity (or other document) number, among the
    people the importing user may change; the preview shows the number masked."""

    kind = "person"

    #: Look-ups remembered per import (the people of a long file are not all kept).
    CACHED = 5000

    def parse(self, cell, ctx):
        text = super().parse(cell, ctx)
        if not text:
            return None
        key = ("person", text)
        if key not in ctx.cache:
            ctx.cache["people_cached"] = ctx.cache.get("people_cached", 0) + 1
            if ctx.cache["people_cached"] > self.CACHED:
                for stale in [k for k in ctx.cache if isinstance(k, tuple) and k[0] == "person"]:
                    del ctx.cache[stale]
                ctx.cache["people_cached"] = 1
            digests = document_digests(text)
            if not digests:
                try:
                    normalize_document_number(DocumentType.RESIDENT_ID, text)
                except IdentityNumberError as exc:
                    ctx.cache[key] = CellError(exc.messages[0])
            if key not in ctx.cache:
                rows = list(Person.objects.restrict(ctx.user, CHANGE).select_related("residence_division")
                            .filter(identity_number_digest__in=digests)[:2])
                if len(rows) == 1:
                    ctx.cache[key] = rows[0]
                elif rows:
                    ctx.cache[key] = CellError(_g("该号码对应多种证件的人员，请在人员页面录入"))
                else:
                    ctx.cache[key] = CellError(_g("未找到该证件号码对应的已登记人员，或该人员不在您的管辖范围内"))
        found = ctx.cache[key]
        if isinstance(found, CellError):
            raise found
        return found

    def to_form(self, value):
        return "" if value is None else value.pk

    def display(self, value):
        return mask_identity_number(value.identity_number) if value is not None else ""


class DrugTestImportForm(forms.ModelForm):
    """One test result; the person must be one the user may change."""

    class Meta:
        model = Event
        fields = ["person", "kind", "occurred_on", "result", "substance", "notes"]

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["person"].queryset = Person.objects.restrict(user, CHANGE)
        self.fields["kind"].choices = [(k.value, k.label) for k in casework.TEST_KINDS]
        self.fields["result"].required = True
        self.fields["substance"].queryset = Substance.objects.all()
        # What is stored, before validation copies the row's values onto the instance.
        self.stored = (self.instance.result, self.instance.substance_id)

    def has_changed(self):
        if self.instance.pk is None or not hasattr(self, "cleaned_data"):
            return super().has_changed()
        substance = self.cleaned_data.get("substance")
        return (self.cleaned_data.get("result"), substance.pk if substance else None) != self.stored


TEST_KIND_CHOICES = [(EventKind.URINALYSIS.value, EventKind.URINALYSIS.label),
                     (EventKind.HAIR_TEST.value, EventKind.HAIR_TEST.label)]
TEST_RESULT_CHOICES = [(v.value, v.label) for v in (TestResult.NEGATIVE, TestResult.POSITIVE, TestResult.REFUSED)]


@register
class DrugTestResultImporter(Importer):
    name = "persons.test_result"
    label = _("检测结果")
    model = Event
    form_class = DrugTestImportForm
    key_fields = ("person", "kind", "occurred_on")
    personal_data = True
    columns = [
        PersonByNumberColumn("person", _("身份证号"), aliases=(_("证件号码"), _("身份证号码")), required=True,
                             help=_("已登记人员的身份证号（或其他证件号码），单元格须为文本格式")),
        SynonymChoiceColumn("kind", _("检测类型"), choices=TEST_KIND_CHOICES,
                            synonyms={"毛发": EventKind.HAIR_TEST, "尿液检测": EventKind.URINALYSIS,
                                      "尿液": EventKind.URINALYSIS}),
        DateColumn("occurred_on", _("检测日期"), aliases=(_("尿检日期"), _("毛发检测日期"))),
        SynonymChoiceColumn("result", _("结果"), aliases=(_("检测结果"),), choices=TEST_RESULT_CHOICES,
                            synonyms={"拒绝检测": TestResult.REFUSED, "阴": TestResult.NEGATIVE,
                                      "阳": TestResult.POSITIVE}),
        SubstanceColumn("substance", _("检出物质"), help=_("阳性时填写检出的管制物质中文名称")),
        TextColumn("notes", _("备注")),
    ]

    def get_form_kwargs(self, *, user, instance):
        return {"user": user}

    def key_lookup(self, values):
        return {"person": values["person"], "kind": values["kind"], "occurred_on": values["occurred_on"]}

    def match_queryset(self, *, user):
        # Voided records do not count: a corrected test may be imported again.
        return Event.objects.restrict(user, CHANGE).filter(corrections__isnull=True)

    def save(self, form, *, user, created):
        if not created:
            raise ValidationError(_g("该人员当日已有一条同类检测记录，结果与文件不同。原记录如有误，请在人员时间轴上更正后再导入"))
        data = {k: form.cleaned_data.get(k) for k in ("kind", "occurred_on", "result", "substance", "notes")}
        data["notes"] = data["notes"] or ""
        data["source"] = EventSource.IMPORT
        return casework.record_test(user=user, person=form.cleaned_data["person"], data=data)
