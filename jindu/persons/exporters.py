"""Exports of the registry: the person list and the drug-test list, as the user sees them.

- Rows are the list's rows for the same query string: ``restrict(user, "view")`` and the
  list page's own :class:`jindu.persons.filtersets.PersonFilterSet` (``?q=&status=&tier=
  &drug=&division=&worker=&due=``); a filter value that cannot be read refuses the export
  (``BadRequest``) instead of widening it.
- Identity numbers are masked per role by the same function as pages and the API
  (:func:`jindu.core.idnumbers.display_identity_number`, decided in the residence
  village's subtree); every export writes one access-log row (kind ``export``) with the ids.
- The person export's first columns are the import template's, so a file exported by a
  user who sees full numbers can be edited and imported again: it matches the people
  already registered instead of creating duplicates (peer case 17). Status, tier and the
  other derived columns are for reading; the importer ignores them.
- Test dates are local dates; ``date_from``/``date_to`` select whole local days, so a test
  taken at 07:30 on 1 March in Shanghai is a March test (peer case 8).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from django.core.exceptions import BadRequest
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _

from jindu.core.exports import CODE, DATE, IDENTITY, ExportColumn, Exporter
from jindu.persons.choices import EventKind
from jindu.persons.models import Event, Person


def _drugs(person: Person) -> str:
    return "、".join(d.name_zh for d in person.drugs.all())


def _worker(obj: Any) -> str:
    worker = obj.assigned_worker
    return (worker.full_name or worker.get_username()) if worker is not None else ""


def person_filterset(user: Any, params: Any, queryset=None):
    """The person list page's filterset bound to ``params`` (``None`` = no filters)."""
    from jindu.persons.filtersets import PersonFilterSet

    if queryset is None:
        queryset = Person.objects.restrict(user, "view")
    return PersonFilterSet(params if params is not None else {}, queryset=queryset,
                           request=SimpleNamespace(user=user))


def _filter_error(filterset) -> str:
    if hasattr(filterset, "error_text"):
        return filterset.error_text()
    return "；".join(str(e) for errors in filterset.form.errors.values() for e in errors)


class PersonExporter(Exporter):
    name = "persons.person"
    label = _("吸毒人员")
    model = Person
    personal_data = True
    select_related = ("residence_division", "residence_division__parent", "household_division",
                      "assigned_worker")
    prefetch_related = ("drugs",)
    columns = [
        ExportColumn(_("证件类型"), "get_document_type_display"),
        ExportColumn(_("证件号码"), "identity_number", kind=IDENTITY, width=22),
        ExportColumn(_("姓名"), "name"),
        ExportColumn(_("曾用名或绰号"), "alias"),
        ExportColumn(_("性别"), "get_sex_display"),
        ExportColumn(_("出生日期"), "birth_date", kind=DATE),
        ExportColumn(_("联系电话"), "phone", kind=CODE),
        ExportColumn(_("户籍地"), "household_division.code", kind=CODE),
        ExportColumn(_("户籍地址"), "household_address"),
        ExportColumn(_("居住地（村居代码或名称）"), "residence_division.code", kind=CODE, width=16),
        ExportColumn(_("村居名称"), "residence_division.name"),
        ExportColumn(_("所属镇街"), "residence_division.parent.name"),
        ExportColumn(_("居住地址"), "residence_address"),
        ExportColumn(_("滥用毒品种类"), _drugs),
        ExportColumn(_("登记日期"), "registered_on", kind=DATE),
        ExportColumn(_("持有机动车驾驶证"), "holds_driving_licence"),
        ExportColumn(_("准驾车型"), "driving_licence_classes"),
        ExportColumn(_("管控状态"), "get_status_display"),
        ExportColumn(_("风险等级"), "get_tier_display"),
        ExportColumn(_("责任社工"), _worker),
        ExportColumn(_("措施期满日期"), "measure_end_on", kind=DATE),
        ExportColumn(_("满三年未复吸日期"), "abstinent_three_years_on", kind=DATE),
        ExportColumn(_("最近待办日期"), "next_due_on", kind=DATE),
    ]

    def get_queryset(self, user, params=None):
        """The person list's rows for ``params``. Raises ``BadRequest`` (Chinese message)
        when a filter value cannot be read."""
        filterset = person_filterset(user, params, super().get_queryset(user, params))
        if not filterset.is_valid():
            raise BadRequest(_g("筛选条件有误，未导出：%(errors)s") % {"errors": _filter_error(filterset)})
        return filterset.qs


def drug_test_filterset(user: Any, params: Any, queryset):
    from jindu.persons.api.views import DrugTestFilterSet

    return DrugTestFilterSet(params if params is not None else {}, queryset=queryset,
                             request=SimpleNamespace(user=user))


class DrugTestExporter(Exporter):
    """Urinalysis and hair tests in the user's scope (``?person=&kind=&result=&date_from=&date_to=
    &division=``, the API's test filters), in the test-result import template's columns."""

    name = "persons.test"
    label = _("检测结果")
    model = Event
    personal_data = True
    select_related = ("person", "person__residence_division", "substance")
    columns = [
        ExportColumn(_("身份证号"), "person.identity_number", kind=IDENTITY,
                     division="person.residence_division", width=22),
        ExportColumn(_("姓名"), "person.name"),
        ExportColumn(_("检测类型"), "get_kind_display"),
        ExportColumn(_("检测日期"), "occurred_on", kind=DATE),
        ExportColumn(_("结果"), "get_result_display"),
        ExportColumn(_("检出物质"), "substance.name_zh"),
        ExportColumn(_("备注"), "notes"),
        ExportColumn(_("居住地（村居代码或名称）"), "person.residence_division.code", kind=CODE),
    ]

    def get_queryset(self, user, params=None):
        qs = super().get_queryset(user, params).filter(kind__in=(EventKind.URINALYSIS, EventKind.HAIR_TEST))
        filterset = drug_test_filterset(user, params, qs)
        if not filterset.is_valid():
            raise BadRequest(_g("筛选条件有误，未导出：%(errors)s") % {"errors": _filter_error(filterset)})
        return filterset.qs.order_by("occurred_on", "pk")
