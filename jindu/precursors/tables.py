from __future__ import annotations

from decimal import Decimal

import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from jindu.core.timeutils import due_status, local_today
from jindu.precursors import selectors
from jindu.precursors.choices import Direction, DiscrepancySeverity, DiscrepancyStatus, QuantityUnit, RiskLevel
from jindu.precursors.models import Discrepancy, Enterprise, LedgerEntry
from jindu.precursors.rules import report_deadline

RISK_CSS = {RiskLevel.HIGH: "text-bg-danger", RiskLevel.MEDIUM: "text-bg-warning", RiskLevel.LOW: "text-bg-light border"}
STATUS_CSS = {DiscrepancyStatus.OPEN: "text-bg-danger", DiscrepancyStatus.IN_PROGRESS: "text-bg-warning",
              DiscrepancyStatus.CLOSED: "text-bg-success"}
DUE_LABELS = {"upcoming": _("未到期"), "due_today": _("今日到期"), "overdue": _("已逾期")}
DUE_CSS = {"overdue": "text-bg-danger", "due_today": "text-bg-warning", "upcoming": "text-bg-light border"}


def kg_text(value) -> str:
    """``Decimal("1250.500")`` → ``"1250.5"``: plain notation, trailing zeros dropped, never
    through float."""
    if value is None:
        return "—"
    value = Decimal(value)
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def entered_text(entry) -> str:
    """What was written on a ledger line entered in another unit than kilograms, with the
    factor the conversion used: ``"50 升 × 1.84 千克/升"``, ``"4 件/瓶 × 25 千克/件"``,
    ``"0.5 吨"``."""
    text = f"{kg_text(entry.quantity_entered)} {entry.get_unit_entered_display()}"
    if entry.unit_entered in (QuantityUnit.L, QuantityUnit.ML) and entry.density_kg_per_l:
        return _("%(q)s × %(d)s 千克/升") % {"q": text, "d": kg_text(entry.density_kg_per_l)}
    if entry.unit_entered == QuantityUnit.PIECE and entry.piece_mass_kg:
        return _("%(q)s × %(m)s 千克/件") % {"q": text, "m": kg_text(entry.piece_mass_kg)}
    return text


def risk_badge(level: str, label: str) -> str:
    return format_html('<span class="badge {}" data-risk="{}">{}</span>', RISK_CSS.get(level, "text-bg-light"),
                       level, label)


def due_badge(deadline, status) -> str:
    if deadline is None or status == DiscrepancyStatus.CLOSED:
        return "—"
    due = due_status(deadline)
    return format_html('<span class="badge {}" data-due="{}">{}</span>', DUE_CSS[due], due, DUE_LABELS[due])


class EnterpriseTable(tables.Table):
    # Sortable only on columns every role that sees enterprises may see.
    name = tables.Column(verbose_name=_("企业名称"), linkify=("precursors:enterprise_detail", {"pk": tables.A("pk")}))
    credit_code = tables.Column(verbose_name=_("统一社会信用代码"), orderable=False, empty_values=(),
                                attrs={"td": {"class": "text-nowrap font-monospace small"}})
    kind = tables.Column(verbose_name=_("类型"), attrs={"td": {"class": "text-nowrap"}})
    division = tables.Column(verbose_name=_("所属区划"), accessor="division__name",
                             order_by=("division__code", "name"), attrs={"td": {"class": "text-nowrap"}})
    risk_level = tables.Column(verbose_name=_("风险等级"))
    status = tables.Column(verbose_name=_("经营状态"))
    supervising_units = tables.Column(verbose_name=_("监管部门"), orderable=False, empty_values=(),
                                      attrs={"td": {"class": "text-nowrap"}})
    licences_expiring = tables.Column(verbose_name=_("30日内到期证照"), attrs={"td": {"class": "text-end"}})
    open_discrepancies = tables.Column(verbose_name=_("待办核对问题"), attrs={"td": {"class": "text-end"}})

    class Meta:
        model = Enterprise
        fields = ("name", "credit_code", "kind", "division", "risk_level", "status", "supervising_units",
                  "licences_expiring", "open_discrepancies")
        attrs = {"class": "table table-sm table-hover align-middle", "data-testid": "enterprise-table",
                 "th": {"class": "text-nowrap"}}
        empty_text = _("没有符合条件的企业。")

    def render_credit_code(self, record):
        return record.credit_code or record.legacy_code or "—"

    def render_division(self, record):
        parent = record.division.parent
        return f"{parent.name} · {record.division.name}" if parent and parent.level != "city" else record.division.name

    def render_risk_level(self, record):
        return risk_badge(record.risk_level, record.get_risk_level_display())

    def render_supervising_units(self, record):
        names = [u.short_name or u.name for u in record.supervising_units.all()]
        if len(names) <= 2:
            return "、".join(names) or "—"
        return format_html('<span title="{}">{}</span>', "、".join(names),
                           _("%(names)s 等 %(n)d 个部门") % {"names": "、".join(names[:2]), "n": len(names)})

    def render_licences_expiring(self, value):
        if not value:
            return "0"
        return format_html('<span class="badge text-bg-warning" data-testid="expiring-count">{}</span>', value)

    def render_open_discrepancies(self, value):
        if not value:
            return "0"
        return format_html('<span class="badge text-bg-danger">{}</span>', value)


class SupervisionTable(EnterpriseTable):
    """A department's responsibility field: its enterprises with what needs attention."""

    licences_expiring_90 = tables.Column(verbose_name=_("90日内到期证照"), attrs={"td": {"class": "text-end"}})
    next_expiry = tables.DateColumn(verbose_name=_("最近证照到期"), format="Y-m-d", default="—")

    class Meta(EnterpriseTable.Meta):
        fields = ("name", "credit_code", "kind", "division", "risk_level", "status", "licences_expiring",
                  "licences_expiring_90", "next_expiry", "open_discrepancies")
        exclude = ("supervising_units",)
        attrs = {"class": "table table-sm table-hover align-middle", "data-testid": "supervision-table",
                 "th": {"class": "text-nowrap"}}
        empty_text = _("本部门监管责任田中没有符合条件的企业。")

    def render_licences_expiring_90(self, value):
        return str(value or 0)


class LedgerTable(tables.Table):
    occurred_on = tables.DateColumn(verbose_name=_("发生日期"), format="Y-m-d", attrs={"td": {"class": "text-nowrap"}},
                                    linkify=("precursors:entry_detail", {"pk": tables.A("pk")}))
    chemical = tables.Column(verbose_name=_("品种"), accessor="chemical__name_zh", order_by=("chemical_id",),
                             attrs={"td": {"class": "text-nowrap"}})
    direction = tables.Column(verbose_name=_("方向"))
    quantity_kg = tables.Column(verbose_name=_("数量（千克）"), attrs={"td": {"class": "text-end text-nowrap"}})
    balance_after_kg = tables.Column(verbose_name=_("结存（千克）"), orderable=False,
                                     attrs={"td": {"class": "text-end text-nowrap"}})
    counterparty = tables.Column(verbose_name=_("对方单位"), empty_values=(), orderable=False)
    document_number = tables.Column(verbose_name=_("单据编号"), orderable=False)
    permit_number = tables.Column(verbose_name=_("许可/备案编号"), orderable=False)
    source = tables.Column(verbose_name=_("来源"), attrs={"td": {"class": "text-nowrap small"}})
    state = tables.Column(verbose_name=_("状态"), empty_values=(), orderable=False)
    void = tables.Column(verbose_name=_("操作"), empty_values=(), orderable=False, accessor="pk",
                         attrs={"td": {"class": "text-nowrap"}})

    class Meta:
        model = LedgerEntry
        fields = ("occurred_on", "chemical", "direction", "quantity_kg", "balance_after_kg",
                  "counterparty", "document_number", "permit_number", "source", "state", "void")
        attrs = {"class": "table table-sm table-hover align-middle", "data-testid": "ledger-table",
                 "th": {"class": "text-nowrap"}}
        empty_text = _("没有台账记录。")
        order_by = ("-occurred_on",)

    def __init__(self, *args, void: str = "", **kwargs):
        """``void``: "" (no 作废 column), ``"any"`` (a supervisor: every entry not voided)
        or ``"own"`` (an enterprise's own user: entries still within the reporting window,
        :func:`jindu.precursors.services.own_void_refusal`)."""
        self.void_mode = void
        if not void:
            kwargs["exclude"] = (*(kwargs.get("exclude") or ()), "void")
        super().__init__(*args, **kwargs)

    def render_void(self, record):
        if record.voided_at:
            return "—"
        if self.void_mode == "own" and local_today() > report_deadline(record.chemical.category, record.occurred_on):
            return format_html('<span class="small text-body-secondary" title="{}">{}</span>',
                               _("已超过报告时限，请联系监管部门更正"), _("不可自行作废"))
        url = reverse("precursors:entry_detail", args=[record.pk]) + "#void"
        return format_html('<a class="btn btn-sm btn-outline-danger py-0" href="{}" data-testid="void-link">{}</a>',
                           url, _("作废"))

    def render_direction(self, record):
        css = "text-bg-success" if record.direction == Direction.IN else "text-bg-secondary"
        return format_html('<span class="badge {}">{}</span>', css, record.get_direction_display())

    def render_quantity_kg(self, record):
        sign = "+" if record.direction == Direction.IN else "−"
        text = f"{sign}{kg_text(record.quantity_kg)}"
        if record.quantity_entered is None or record.unit_entered == "kg":
            return text
        # Entered in another unit (t, g, L, mL, pieces): show what was written too, with
        # the density or piece mass the conversion used.
        return format_html('{}<div class="small text-body-secondary" data-testid="entered">{}</div>', text,
                           entered_text(record))

    def render_balance_after_kg(self, value):
        return kg_text(value)

    def render_counterparty(self, record):
        if record.counterparty_id:
            return record.counterparty.name
        return record.counterparty_name or "—"

    def render_state(self, record):
        if record.voided_at:
            return format_html('<span class="badge text-bg-dark" title="{}">{}</span>', record.void_reason,
                               _("已作废"))
        return format_html('<span class="badge text-bg-light border">{}</span>', _("有效"))


class DiscrepancyTable(tables.Table):
    summary = tables.Column(verbose_name=_("问题"), orderable=False,
                            linkify=("precursors:discrepancy_detail", {"pk": tables.A("pk")}))
    rule = tables.Column(verbose_name=_("核对规则"), attrs={"td": {"class": "small"}})
    severity = tables.Column(verbose_name=_("性质"), attrs={"td": {"class": "text-nowrap"}})
    enterprise = tables.Column(verbose_name=_("企业"), accessor="enterprise__name", order_by=("enterprise__name",),
                               linkify=("precursors:enterprise_detail", {"pk": tables.A("enterprise_id")}))
    chemical = tables.Column(verbose_name=_("品种"), accessor="chemical__name_zh", default="—", orderable=False)
    occurred_on = tables.DateColumn(verbose_name=_("问题日期"), format="Y-m-d", default="—",
                                    attrs={"td": {"class": "text-nowrap"}})
    status = tables.Column(verbose_name=_("办理状态"), attrs={"td": {"class": "text-nowrap"}})
    assignee = tables.Column(verbose_name=_("承办人"), default="—", orderable=False)
    deadline = tables.DateColumn(verbose_name=_("办理期限"), format="Y-m-d", default="—",
                                 attrs={"td": {"class": "text-nowrap"}})
    due = tables.Column(verbose_name=_("期限状态"), empty_values=(), orderable=False,
                        attrs={"td": {"class": "text-nowrap"}})

    class Meta:
        model = Discrepancy
        fields = ("summary", "rule", "severity", "enterprise", "chemical", "occurred_on", "status", "assignee",
                  "deadline", "due")
        attrs = {"class": "table table-sm table-hover align-middle", "data-testid": "discrepancy-table",
                 "th": {"class": "text-nowrap"}}
        empty_text = _("没有符合条件的核对问题。")

    def render_summary(self, value):
        return value if len(value) <= 45 else value[:45] + "…"

    def render_rule(self, value):
        return selectors.rule_title(value)

    def render_severity(self, record):
        css = "text-bg-danger" if record.severity == DiscrepancySeverity.VIOLATION else "text-bg-info"
        return format_html('<span class="badge {}">{}</span>', css, record.get_severity_display())

    def render_status(self, record):
        return format_html('<span class="badge {}" data-status="{}">{}</span>', STATUS_CSS.get(record.status, ""),
                           record.status, record.get_status_display())

    def render_due(self, record):
        return due_badge(record.deadline, record.status)
