"""Unit export: the user's scoped unit list as xlsx/csv, in the import template's columns
(so an export edited in Excel can be imported again without creating duplicates).
The unit list's filters (``?q=&kind=&district=&town=&is_active=``) apply to the export."""

from __future__ import annotations

from types import SimpleNamespace

from django.utils.translation import gettext_lazy as _

from jindu.core.exports import CODE, ExportColumn, Exporter
from jindu.org.filtersets import UnitFilterSet
from jindu.org.models import Unit


class UnitExporter(Exporter):
    name = "org.unit"
    label = _("单位")
    model = Unit
    select_related = ("division",)
    columns = [
        ExportColumn(_("单位名称"), "name"),
        ExportColumn(_("简称"), "short_name"),
        ExportColumn(_("单位类型"), "get_kind_display"),
        ExportColumn(_("所属区划"), "division.code", kind=CODE),
        ExportColumn(_("区划名称"), "division.name"),
        ExportColumn(_("负责人"), "head_name"),
        ExportColumn(_("负责人职务"), "head_title"),
        ExportColumn(_("联系电话"), "phone", kind=CODE),
        ExportColumn(_("地址"), "address"),
    ]

    def get_queryset(self, user, params=None):
        qs = super().get_queryset(user, params)
        if params:
            # The filterset's choice lists are scoped by ``request.user``.
            qs = UnitFilterSet(params, queryset=qs, request=SimpleNamespace(user=user)).qs
        return qs
