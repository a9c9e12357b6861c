"""Case export: the case list (same filters as the page) as xlsx/csv. Cases carry no
personal data (suspects are not exported here), so no access-log row is needed."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from django.core.exceptions import BadRequest
from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _

from jindu.core.exports import CODE, DATE, NUMBER, ExportColumn, Exporter
from jindu.enforcement.filtersets import CaseFilterSet
from jindu.enforcement.models import Case, Suspect


def case_filterset(user: Any, params: Any, queryset=None) -> CaseFilterSet:
    if queryset is None:
        queryset = Case.objects.restrict(user, "view")
    return CaseFilterSet(params if params is not None else {}, queryset=queryset, request=SimpleNamespace(user=user))


class CaseExporter(Exporter):
    name = "enforcement.case"
    label = _("毒品案件")
    model = Case
    select_related = ("division", "handling_unit")
    columns = [
        ExportColumn(_("案件编号"), "number", kind=CODE),
        ExportColumn(_("案件名称"), "name"),
        ExportColumn(_("案件类别"), "get_kind_display"),
        ExportColumn(_("案由"), "get_offence_display"),
        ExportColumn(_("发案区划代码"), "division.code", kind=CODE),
        ExportColumn(_("发案区划"), "division.name"),
        ExportColumn(_("办案单位"), "handling_unit.name"),
        ExportColumn(_("办案层级"), "get_handling_level_display"),
        ExportColumn(_("立案日期"), "filed_on", kind=DATE),
        ExportColumn(_("破案日期"), "solved_on", kind=DATE),
        ExportColumn(_("移送起诉日期"), "transferred_on", kind=DATE),
        ExportColumn(_("案件状态"), "get_status_display"),
        ExportColumn(_("目标案件级别"), "get_target_level_display"),
        ExportColumn(_("嫌疑人数"), "suspect_count", kind=NUMBER),
    ]

    def get_queryset(self, user, params=None):
        filterset = case_filterset(user, params, super().get_queryset(user, params))
        if not filterset.is_valid():
            raise BadRequest(_g("筛选条件有误，未导出：%(errors)s") % {"errors": filterset.error_text()})
        # One correlated count per row inside the same query (a per-row count query made the
        # export cost one round trip per case).
        counts = Suspect.objects.filter(case=OuterRef("pk")).order_by().values("case").annotate(
            n=Count("pk")).values("n")
        return filterset.qs.annotate(suspect_count=Coalesce(Subquery(counts, output_field=IntegerField()), 0))
