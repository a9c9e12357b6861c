import django_tables2 as tables
from django.utils.translation import gettext_lazy as _

from jindu.org.models import Pairing, Unit


class UnitTable(tables.Table):
    # Sortable only on columns every role may see; tables2 ignores ?sort= on anything else.
    name = tables.Column(verbose_name=_("单位名称"), linkify=("org:unit_detail", {"pk": tables.A("pk")}))
    short_name = tables.Column(verbose_name=_("简称"), orderable=False)
    kind = tables.Column(verbose_name=_("单位类型"))
    division = tables.Column(verbose_name=_("所属区划"), accessor="division__name", order_by=("division__code", "name"))
    head_name = tables.Column(verbose_name=_("负责人"), orderable=False)
    is_active = tables.BooleanColumn(verbose_name=_("有效"))

    class Meta:
        model = Unit
        fields = ("name", "short_name", "kind", "division", "head_name", "is_active")
        attrs = {"class": "table table-sm table-hover align-middle", "data-testid": "unit-table"}
        empty_text = _("没有符合条件的单位。")


class UnitPairingTable(tables.Table):
    year = tables.Column(verbose_name=_("年度"))
    town = tables.Column(verbose_name=_("挂点镇街"), linkify=("geo:division_detail", {"pk": tables.A("town_id")}))
    note = tables.Column(verbose_name=_("备注"), orderable=False)

    class Meta:
        model = Pairing
        fields = ("year", "town", "note")
        orderable = False
        attrs = {"class": "table table-sm mb-0"}
