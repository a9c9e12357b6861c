"""List filters shared by the pages, their exports and the API (one definition each).

Values that cannot be read are errors, never ignored (a dropped filter widens the list).
"""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from jindu.core.timeutils import date_range_q, local_today
from jindu.inspections.choices import Colour, HazardStatus, TargetCategory, TargetKind, TargetStatus, kinds_of
from jindu.inspections.models import Hazard, Inspection, Target
from jindu.org.filtersets import _divisions
from jindu.geo.choices import Level


class _ErrorText:
    def error_text(self) -> str:
        parts = []
        for name, errors in self.form.errors.items():
            label = self.form.fields[name].label if name in self.form.fields else ""
            parts += [f"{label}：{e}" if label else str(e) for e in errors]
        return "；".join(parts)

    def _style(self):
        for field in self.form.fields.values():
            is_select = isinstance(field.widget, forms.Select)
            field.widget.attrs.setdefault("class", "form-select" if is_select else "form-control")


class DateRangeMixin:
    """``date_from`` / ``date_to``: inclusive local dates (peer case 9: ``date_to`` covers the
    whole local day). ``date_field`` names the datetime field filtered."""

    date_field = ""

    def filter_dates(self, queryset, name, value):
        return queryset

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        data = self.form.cleaned_data
        if data.get("date_from") or data.get("date_to"):
            queryset = queryset.filter(date_range_q(self.date_field, data.get("date_from"), data.get("date_to")))
        return queryset



class RangeForm(forms.Form):
    """Filter form refusing ``date_from`` after ``date_to``."""

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", _("起始日期不能晚于截止日期"))
        return data


class TargetFilterSet(_ErrorText, django_filters.FilterSet):
    """Target list filters: name (also address and licence number), kind or category,
    district, town, business status, and the four-colour status (on a queryset annotated
    by :func:`jindu.inspections.selectors.targets_with_colour`)."""

    q = django_filters.CharFilter(label=_("名称/地址/证号"), method="filter_q")
    category = django_filters.ChoiceFilter(label=_("类别"), choices=TargetCategory.choices, method="filter_category",
                                           empty_label=_("全部类别"))
    kind = django_filters.ChoiceFilter(label=_("类型"), choices=TargetKind.choices, empty_label=_("全部类型"))
    district = django_filters.ModelChoiceFilter(label=_("区县"), queryset=_divisions(Level.DISTRICT),
                                                method="filter_subtree", empty_label=_("全部区县"))
    town = django_filters.ModelChoiceFilter(label=_("镇街"), queryset=_divisions(Level.TOWN),
                                            method="filter_subtree", empty_label=_("全部镇街"))
    status = django_filters.ChoiceFilter(label=_("经营状态"), choices=TargetStatus.choices, empty_label=_("全部"))
    colour = django_filters.ChoiceFilter(label=_("四色状态"), choices=Colour.choices, method="filter_colour",
                                         empty_label=_("全部颜色"))

    class Meta:
        model = Target
        fields = ["q", "category", "kind", "district", "town", "status", "colour"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._style()

    def filter_q(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(name__icontains=value) | Q(address__icontains=value)
                               | Q(licence_number__icontains=value))

    def filter_category(self, queryset, name, value):
        return queryset.filter(kind__in=kinds_of(value))

    def filter_subtree(self, queryset, name, value):
        return queryset.filter(division__path__startswith=value.path)

    def filter_colour(self, queryset, name, value):
        return queryset.filter(colour=value)


DUE_CHOICES = (("upcoming", _("未到期")), ("due_today", _("今日到期")), ("overdue", _("已逾期")))


class HazardFilterSet(DateRangeMixin, _ErrorText, django_filters.FilterSet):
    """Hazard list filters: status, due state of open hazards (local dates: due all of
    the deadline's day, overdue from the next local midnight), target kind, district,
    town, and the local dates found (``date_from``/``date_to``)."""

    date_field = "found_at"
    status = django_filters.ChoiceFilter(label=_("状态"), choices=HazardStatus.choices, empty_label=_("全部状态"))
    due = django_filters.ChoiceFilter(label=_("期限"), choices=DUE_CHOICES, method="filter_due",
                                      empty_label=_("全部"))
    category = django_filters.ChoiceFilter(label=_("类别"), choices=TargetCategory.choices,
                                           method="filter_category", empty_label=_("全部类别"))
    district = django_filters.ModelChoiceFilter(label=_("区县"), queryset=_divisions(Level.DISTRICT),
                                                method="filter_subtree", empty_label=_("全部区县"))
    town = django_filters.ModelChoiceFilter(label=_("镇街"), queryset=_divisions(Level.TOWN),
                                            method="filter_subtree", empty_label=_("全部镇街"))
    date_from = django_filters.DateFilter(label=_("发现日期自"), method="filter_dates",
                                          widget=forms.DateInput(attrs={"type": "date"}))
    date_to = django_filters.DateFilter(label=_("至"), method="filter_dates",
                                        widget=forms.DateInput(attrs={"type": "date"}))

    class Meta:
        model = Hazard
        form = RangeForm
        fields = ["status", "due", "category", "district", "town", "date_from", "date_to"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._style()

    def filter_due(self, queryset, name, value):
        today = local_today()
        open_ = queryset.filter(status=HazardStatus.OPEN)
        if value == "overdue":
            return open_.filter(deadline__lt=today)
        if value == "due_today":
            return open_.filter(deadline=today)
        return open_.filter(deadline__gt=today)

    def filter_category(self, queryset, name, value):
        return queryset.filter(target__kind__in=kinds_of(value))

    def filter_subtree(self, queryset, name, value):
        return queryset.filter(target__division__path__startswith=value.path)



class InspectionFilterSet(DateRangeMixin, django_filters.FilterSet):
    """API inspection filters: ``date_from``/``date_to`` (inclusive local dates of
    ``inspected_at``; peer case 9), target, kind, passed, campaign, template code."""

    date_field = "inspected_at"
    date_from = django_filters.DateFilter(method="filter_dates")
    date_to = django_filters.DateFilter(method="filter_dates")
    target = django_filters.NumberFilter(field_name="target_id")
    kind = django_filters.MultipleChoiceFilter(field_name="target__kind", choices=TargetKind.choices)
    passed = django_filters.BooleanFilter()
    campaign = django_filters.NumberFilter(field_name="campaign_id")
    template = django_filters.CharFilter(field_name="template__code")

    class Meta:
        model = Inspection
        form = RangeForm
        fields = ["date_from", "date_to", "target", "kind", "passed", "campaign", "template"]
