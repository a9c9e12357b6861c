"""Population figure export: the list's rows (same filters) as xlsx/csv, in the import
template's columns, so an export edited in Excel imports again without duplicates (rows
match by division code, year and kind). Figures are public statistics: no access log."""

from __future__ import annotations

from django.core.exceptions import BadRequest
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _

from jindu.core.exports import CODE, NUMBER, ExportColumn, Exporter
from jindu.geo.filtersets import population_filterset
from jindu.geo.models import Population


class PopulationExporter(Exporter):
    name = "geo.population"
    label = _("人口数据")
    model = Population
    select_related = ("division",)
    columns = [
        ExportColumn(_("区划代码"), "division.code", kind=CODE),
        ExportColumn(_("区划名称"), "division.name"),
        ExportColumn(_("年度"), "year", kind=NUMBER),
        ExportColumn(_("口径"), "get_kind_display"),
        ExportColumn(_("人口数"), "population", kind=NUMBER),
        ExportColumn(_("来源文件"), "source_doc"),
        ExportColumn(_("出处"), "source_ref"),
        ExportColumn(_("可信度"), "confidence"),
    ]

    def get_queryset(self, user, params=None):
        """The list page's rows for ``params`` (``?year=&kind=&level=&district=&q=``).
        Raises ``BadRequest`` (Chinese message) when a filter value cannot be read."""
        filterset = population_filterset(user, params, super().get_queryset(user, params))
        if not filterset.is_valid():
            raise BadRequest(_g("筛选条件有误，未导出：%(errors)s") % {"errors": filterset.error_text()})
        return filterset.qs.order_by("division__code", "-year", "kind")
