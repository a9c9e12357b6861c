"""List filters of the precursors pages, shared with their exports and the API (one
definition each).

Values that cannot be read are errors, never ignored: a dropped filter would widen the
list. Choice lists offer only what the user may see (divisions of their scope, units that
supervise enterprises they see, rules of the reconciliation registry).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import django_filters
from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from jindu.core.scope import VIEW
from jindu.core.timeutils import local_today
from jindu.geo.choices import Level
from jindu.geo.models import Division
from jindu.org.filtersets import StrictBooleanFilter
from jindu.org.models import Unit
from jindu.precursors import selectors
from jindu.precursors.choices import (
    Direction,
    DiscrepancySeverity,
    DiscrepancyStatus,
    EnterpriseKind,
    EnterpriseStatus,
    RiskLevel,
)
from jindu.precursors.models import Chemical, Discrepancy, Enterprise, LedgerEntry

_DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _divisions(level):
    def qs(request):
        if request is None:
            return Division.objects.none()
        return Division.objects.restrict(request.user, VIEW).filter(level=level).order_by("code")

    return qs


def _supervising_units(request):
    """Units that supervise at least one enterprise the user sees."""
    if request is None:
        return Unit.objects.none()
    seen = Enterprise.supervising_units.through.objects.filter(
        enterprise__in=selectors.enterprises_for(request.user).order_by().values("pk")).values("unit_id")
    return Unit.objects.filter(pk__in=seen).order_by("name")


def _chemicals(request):
    return Chemical.objects.restrict(request.user if request else None, VIEW).order_by("category", "id")


class _StyledFilterSet(django_filters.FilterSet):
    def __init__(self, data=None, *args, **kwargs):
        super().__init__(data, *args, **kwargs)
        for f in self.form.fields.values():
            is_select = isinstance(f.widget, forms.Select)
            f.widget.attrs.setdefault("class", "form-select" if is_select else "form-control")

    def error_text(self) -> str:
        parts = []
        for name, errors in self.form.errors.items():
            label = self.form.fields[name].label if name in self.form.fields else ""
            parts += [f"{label}：{e}" if label else str(e) for e in errors]
        return "；".join(parts)


class EnterpriseFilterSet(_StyledFilterSet):
    """Enterprise list filters: name / credit code / old organisation code, kind, risk
    level, status, district, town, supervising department."""

    q = django_filters.CharFilter(label=_("名称/信用代码"), method="filter_q")
    kind = django_filters.ChoiceFilter(label=_("企业类型"), choices=EnterpriseKind.choices, empty_label=_("全部类型"))
    risk_level = django_filters.ChoiceFilter(label=_("风险等级"), choices=RiskLevel.choices, empty_label=_("全部"))
    status = django_filters.ChoiceFilter(label=_("经营状态"), choices=EnterpriseStatus.choices, empty_label=_("全部"))
    district = django_filters.ModelChoiceFilter(label=_("区县"), queryset=_divisions(Level.DISTRICT),
                                                method="filter_subtree", empty_label=_("全部区县"))
    town = django_filters.ModelChoiceFilter(label=_("镇街"), queryset=_divisions(Level.TOWN),
                                            method="filter_subtree", empty_label=_("全部镇街"))
    supervising_unit = django_filters.ModelChoiceFilter(label=_("监管部门"), queryset=_supervising_units,
                                                        method="filter_unit", empty_label=_("全部部门"))

    class Meta:
        model = Enterprise
        fields = ["q", "kind", "risk_level", "status", "district", "town", "supervising_unit"]

    def filter_q(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(name__icontains=value) | Q(credit_code__iexact=value)
                               | Q(credit_code__istartswith=value) | Q(legacy_code__iexact=value))

    def filter_subtree(self, queryset, name, value):
        return queryset.filter(division__path__startswith=value.path)

    def filter_unit(self, queryset, name, value):
        # pk__in keeps one row per enterprise (no join duplicates) and a true count.
        mine = Enterprise.supervising_units.through.objects.filter(unit=value).values("enterprise_id")
        return queryset.filter(pk__in=mine)


def enterprise_filterset(user: Any, params: Any, queryset=None) -> EnterpriseFilterSet:
    """The list's filterset for ``user`` over ``queryset`` (default: visible enterprises);
    for exports (``params`` is the request's GET)."""
    if queryset is None:
        queryset = selectors.enterprises_for(user)
    return EnterpriseFilterSet(params if params is not None else {}, queryset=queryset,
                               request=SimpleNamespace(user=user))


class LedgerFilterSet(_StyledFilterSet):
    """Ledger filters of an enterprise's full ledger: chemical, direction, inclusive local
    dates of ``occurred_on``, voided or not."""

    chemical = django_filters.ModelChoiceFilter(label=_("品种"), queryset=_chemicals, empty_label=_("全部品种"))
    direction = django_filters.ChoiceFilter(label=_("方向"), choices=Direction.choices, empty_label=_("全部"))
    date_from = django_filters.DateFilter(label=_("日期自"), field_name="occurred_on", lookup_expr="gte",
                                          widget=_DATE)
    date_to = django_filters.DateFilter(label=_("至"), field_name="occurred_on", lookup_expr="lte", widget=_DATE)
    voided = StrictBooleanFilter(label=_("作废"), method="filter_voided",
                                 widget=forms.Select(choices=[("", _("全部")), ("false", _("有效")),
                                                              ("true", _("已作废"))]))

    class Meta:
        model = LedgerEntry
        fields = ["chemical", "direction", "date_from", "date_to", "voided"]

    def filter_voided(self, queryset, name, value):
        return queryset.filter(voided_at__isnull=not value)

    def is_valid(self):
        ok = super().is_valid()
        data = self.form.cleaned_data if ok else {}
        if ok and data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.form.add_error("date_to", _("起始日期不能晚于截止日期"))
            return False
        return ok


OVERDUE_CHOICES = (("true", _("已逾期")), ("false", _("未逾期")))


class DiscrepancyFilterSet(_StyledFilterSet):
    """The discrepancy queue's filters: rule, status, severity, overdue (open or in
    progress with a deadline before today, local date), district, town, enterprise name."""

    rule = django_filters.ChoiceFilter(label=_("核对规则"), choices=selectors.rule_choices, empty_label=_("全部规则"))
    status = django_filters.ChoiceFilter(label=_("办理状态"), choices=DiscrepancyStatus.choices,
                                         empty_label=_("全部状态"))
    severity = django_filters.ChoiceFilter(label=_("性质"), choices=DiscrepancySeverity.choices, empty_label=_("全部"))
    overdue = StrictBooleanFilter(label=_("期限"), method="filter_overdue",
                                  widget=forms.Select(choices=[("", _("全部")), *OVERDUE_CHOICES]))
    district = django_filters.ModelChoiceFilter(label=_("区县"), queryset=_divisions(Level.DISTRICT),
                                                method="filter_subtree", empty_label=_("全部区县"))
    town = django_filters.ModelChoiceFilter(label=_("镇街"), queryset=_divisions(Level.TOWN),
                                            method="filter_subtree", empty_label=_("全部镇街"))
    q = django_filters.CharFilter(label=_("企业"), method="filter_q")

    class Meta:
        model = Discrepancy
        fields = ["rule", "status", "severity", "overdue", "district", "town", "q"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Rules of the registry, plus codes still carried by visible discrepancies (a rule
        # retired since, or the registry not loaded): every discrepancy stays findable.
        known = selectors.rule_choices()
        codes = {c for c, _t in known}
        request = kwargs.get("request")
        if request is not None:
            extra = (Discrepancy.objects.restrict(request.user, VIEW).order_by("rule").values_list("rule", flat=True)
                     .distinct())
            known += [(c, selectors.rule_title(c)) for c in extra if c not in codes]
        self.filters["rule"].extra["choices"] = known
        self.form.fields["rule"].choices = [("", self.filters["rule"].extra.get("empty_label")), *known]

    def filter_overdue(self, queryset, name, value):
        cond = Q(status__in=selectors.OPEN_STATUSES, deadline__lt=local_today())
        return queryset.filter(cond) if value else queryset.exclude(cond)

    def filter_subtree(self, queryset, name, value):
        return queryset.filter(enterprise__division__path__startswith=value.path)

    def filter_q(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(enterprise__name__icontains=value) | Q(enterprise__credit_code__iexact=value))
