"""Unit export: the user's scoped unit list as xlsx/csv, in the import template's columns
(so an export edited in Excel can be imported again without creating duplicates).

The rows are those of the unit list page with the same query string: the list's own
:class:`~jindu.org.filtersets.UnitFilterSet` (``?name=&kind=&district=&town=&is_active=``)
is applied, and filter values it cannot read refuse the export instead of widening it.
The head's name and phone are personal information, so every export writes an access-log
row (kind ``export``) with the ids exported.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from django.core.exceptions import BadRequest
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _

from jindu.core.exports import CODE, ExportColumn, Exporter
from jindu.org.filtersets import UnitFilterSet
from jindu.org.models import Unit


def unit_filterset(user: Any, params: Any, queryset=None) -> UnitFilterSet:
    """The unit list's filterset bound to ``params`` (a ``QueryDict`` or dict; ``None`` = no
    filters), its choice lists scoped to ``user``."""
    if queryset is None:
        queryset = Unit.objects.restrict(user, "view")
    return UnitFilterSet(params if params is not None else {}, queryset=queryset, request=SimpleNamespace(user=user))


class UnitExporter(Exporter):
    name = "org.unit"
    label = _("单位")
    model = Unit
    select_related = ("division",)
    personal_data = True  # 负责人 and 联系电话
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
        """The list page's rows for ``params``. Raises ``BadRequest`` (Chinese message)
        when a filter value cannot be read."""
        filterset = unit_filterset(user, params, super().get_queryset(user, params))
        if not filterset.is_valid():
            raise BadRequest(_g("筛选条件有误，未导出：%(errors)s") % {"errors": filterset.error_text()})
        return filterset.qs
