import django_tables2 as tables
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from jindu.inspections.choices import Colour
from jindu.inspections.models import Hazard, Target

COLOUR_LABELS = dict(Colour.choices)
DUE_LABELS = {"upcoming": _("未到期"), "due_today": _("今日到期"), "overdue": _("已逾期")}


def colour_badge(value) -> str:
    return format_html('<span class="badge colour-badge colour-{}" data-colour="{}">{}</span>',
                       value, value, COLOUR_LABELS.get(value, value))


class TargetTable(tables.Table):
    # Sortable only on columns every role may see (no operator or phone columns here).
    colour = tables.Column(verbose_name=_("四色状态"), order_by=("colour", "name"))
    name = tables.Column(verbose_name=_("名称"), linkify=("inspections:target_detail", {"pk": tables.A("pk")}))
    kind = tables.Column(verbose_name=_("类型"))
    division = tables.Column(verbose_name=_("所属区划"), accessor="division__name",
                             order_by=("division__code", "name"))
    address = tables.Column(verbose_name=_("地址"), orderable=False)
    open_hazards = tables.Column(verbose_name=_("未整改隐患"), attrs={"td": {"class": "text-end"}})
    last_inspected_at = tables.DateTimeColumn(verbose_name=_("最近检查"), format="Y-m-d", default="—")

    class Meta:
        model = Target
        fields = ("colour", "name", "kind", "division", "address", "open_hazards", "last_inspected_at")
        attrs = {"class": "table table-sm table-hover align-middle", "data-testid": "target-table"}
        empty_text = _("没有符合条件的检查对象。")

    def render_colour(self, value):
        return colour_badge(value)


class HazardTable(tables.Table):
    target = tables.Column(verbose_name=_("检查对象"), accessor="target__name",
                           linkify=("inspections:target_detail", {"pk": tables.A("target_id")}))
    description = tables.Column(verbose_name=_("隐患"), orderable=False,
                                linkify=("inspections:hazard_detail", {"pk": tables.A("pk")}))
    found_at = tables.DateTimeColumn(verbose_name=_("发现时间"), format="Y-m-d", attrs={"td": {"class": "text-nowrap"}})
    deadline = tables.DateColumn(verbose_name=_("整改期限"), format="Y-m-d", attrs={"td": {"class": "text-nowrap"}})
    due = tables.Column(verbose_name=_("期限状态"), empty_values=(), orderable=False,
                        attrs={"td": {"class": "text-nowrap"}})
    status = tables.Column(verbose_name=_("状态"), attrs={"td": {"class": "text-nowrap"}})
    division = tables.Column(verbose_name=_("所属区划"), accessor="target__division__name",
                             order_by=("target__division__code",))

    class Meta:
        model = Hazard
        fields = ("target", "description", "found_at", "deadline", "due", "status", "division")
        attrs = {"class": "table table-sm table-hover align-middle", "data-testid": "hazard-table"}
        empty_text = _("没有符合条件的隐患。")

    def render_description(self, value):
        return value if len(value) <= 40 else value[:40] + "…"

    def render_due(self, record):
        due = record.due
        if due is None:
            return "—"
        css = {"overdue": "text-bg-danger", "due_today": "text-bg-warning", "upcoming": "text-bg-light border"}[due]
        return format_html('<span class="badge {}" data-due="{}">{}</span>', css, due, DUE_LABELS[due])
