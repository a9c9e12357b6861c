"""Target export: the target list (with the list's filters, the period and the
four-colour status) as xlsx/csv, in the import template's columns plus the status.

The operator's name and phone are personal information, so every export writes an
access-log row (kind ``export``) with the ids exported.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from django.core.exceptions import BadRequest
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _

from jindu.core.exports import CODE, NUMBER, ExportColumn, Exporter
from jindu.core.timeutils import local_today, parse_period, period_containing
from jindu.inspections.choices import Colour
from jindu.inspections.filtersets import TargetFilterSet
from jindu.inspections.models import Target
from jindu.inspections.selectors import targets_with_colour

COLOURS = dict(Colour.choices)


def export_period(params: Any):
    """The period of ``?period=`` (default: the current local quarter). Raises
    ``BadRequest`` (Chinese message) for an unreadable label."""
    raw = (params.get("period") if params is not None else "") or ""
    if not raw.strip():
        return period_containing("quarter", local_today())
    try:
        return parse_period(raw)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None


class TargetExporter(Exporter):
    name = "inspections.target"
    label = _("检查对象")
    model = Target
    select_related = ("division",)
    personal_data = True  # 负责人 and 负责人电话
    columns = [
        ExportColumn(_("名称"), "name"),
        ExportColumn(_("检查对象类型"), "get_kind_display"),
        ExportColumn(_("所属区划"), "division.code", kind=CODE),
        ExportColumn(_("区划名称"), "division.name"),
        ExportColumn(_("地址"), "address"),
        ExportColumn(_("经度"), "longitude", kind=NUMBER),
        ExportColumn(_("纬度"), "latitude", kind=NUMBER),
        ExportColumn(_("许可证/执照编号"), "licence_number", kind=CODE),
        ExportColumn(_("负责人"), "operator_name"),
        ExportColumn(_("负责人电话"), "operator_phone", kind=CODE),
        ExportColumn(_("经营状态"), "get_status_display"),
        ExportColumn(_("四色状态"), lambda t: str(COLOURS.get(getattr(t, "colour", ""), ""))),
        ExportColumn(_("未整改隐患"), "open_hazards", kind=NUMBER),
    ]

    def get_queryset(self, user, params=None):
        """The list page's rows for ``params`` (filters and ``period``). Raises
        ``BadRequest`` when a filter value cannot be read."""
        period = export_period(params)
        qs = targets_with_colour(user, period, queryset=super().get_queryset(user, params))
        filterset = TargetFilterSet(params if params is not None else {}, queryset=qs,
                                    request=SimpleNamespace(user=user))
        if not filterset.is_valid():
            raise BadRequest(_g("筛选条件有误，未导出：%(errors)s") % {"errors": filterset.error_text()})
        return filterset.qs.order_by("division__code", "kind", "name", "pk")
