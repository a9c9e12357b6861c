import django_tables2 as tables
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from jindu.core.idnumbers import display_identity_number
from jindu.core.timeutils import due_status
from jindu.persons.models import Person

DUE_BADGES = {
    "overdue": ("text-bg-danger", _("逾期")),
    "due_today": ("text-bg-warning", _("今日")),
}
TIER_BADGES = {"A": "text-bg-danger", "B": "text-bg-warning", "C1": "text-bg-info", "C2": "text-bg-success"}


class PersonTable(tables.Table):
    # Sortable only on columns every role may see; the identity number is never sortable
    # (stored encrypted, and masked for most roles).
    name = tables.Column(verbose_name=_("姓名"), linkify=("persons:person_detail", {"pk": tables.A("pk")}),
                         attrs={"td": {"data-col": "name"}})
    identity_number = tables.Column(verbose_name=_("证件号码"), orderable=False, empty_values=())
    sex = tables.Column(verbose_name=_("性别"))
    birth_date = tables.DateColumn(verbose_name=_("出生日期"), format="Y-m-d")
    residence = tables.Column(verbose_name=_("居住地"), accessor="residence_division__name",
                              order_by=("residence_division__code", "name"))
    status = tables.Column(verbose_name=_("管控状态"))
    tier = tables.Column(verbose_name=_("风险等级"), empty_values=())
    assigned_worker = tables.Column(verbose_name=_("责任社工"), orderable=False)
    next_due_on = tables.Column(verbose_name=_("最近待办"))

    class Meta:
        model = Person
        fields = ("name", "identity_number", "sex", "birth_date", "residence", "status", "tier", "assigned_worker",
                  "next_due_on")
        attrs = {"class": "table table-sm table-hover align-middle", "data-testid": "person-table"}
        empty_text = _("没有符合条件的人员。")
        order_by = ("-registered_on",)

    def render_identity_number(self, value, record):
        user = getattr(getattr(self, "request", None), "user", None)
        return display_identity_number(value, user, record.residence_division) or "—"

    def render_residence(self, value, record):
        division = record.residence_division
        parent = division.parent.name if division.parent_id else ""
        return f"{parent} · {value}" if parent else value

    def render_tier(self, value, record):
        if not value:
            return format_html('<span class="text-body-secondary">{}</span>', _("未评估"))
        return format_html('<span class="badge {}">{}</span>', TIER_BADGES.get(value, "text-bg-secondary"), value)

    def render_assigned_worker(self, value):
        return value.full_name or value.username

    def render_next_due_on(self, value):
        status = due_status(value)
        badge = DUE_BADGES.get(status)
        if badge is None:
            return value.isoformat()
        return format_html('{} <span class="badge {}">{}</span>', value.isoformat(), badge[0], badge[1])
