"""Case list filters, shared by the list page, its export and the API (one definition).

Unreadable values are errors, never ignored (an ignored filter would widen the list).
"""

import django_filters
from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from jindu.core.scope import VIEW
from jindu.enforcement.choices import CaseKind, CaseStatus, DriverCategory, Offence, TargetLevel
from jindu.enforcement.models import Campaign, Case, Gang, ScreeningSession
from jindu.geo.choices import Level
from jindu.geo.models import Division
from jindu.org.filtersets import StrictBooleanFilter


def _divisions(level):
    def qs(request):
        if request is None:
            return Division.objects.none()
        return Division.objects.restrict(request.user, VIEW).filter(level=level).order_by("code")

    return qs


def _campaigns(request):
    if request is None:
        return Campaign.objects.none()
    return Campaign.objects.restrict(request.user, VIEW).order_by("-start_date", "name")


class _StyledFilterSet(django_filters.FilterSet):
    def __init__(self, data=None, *args, **kwargs):
        super().__init__(data, *args, **kwargs)
        for field in self.form.fields.values():
            is_select = isinstance(field.widget, forms.Select)
            field.widget.attrs.setdefault("class", "form-select" if is_select else "form-control")

    def error_text(self) -> str:
        parts = []
        for name, errors in self.form.errors.items():
            label = self.form.fields[name].label if name in self.form.fields else ""
            parts += [f"{label}：{e}" if label else str(e) for e in errors]
        return "；".join(parts)

    def filter_subtree(self, queryset, name, value):
        return queryset.filter(division__path__startswith=value.path)


_DATE = forms.DateInput(attrs={"type": "date"})


class CaseFilterSet(_StyledFilterSet):
    """Case list filters on fields every role that sees cases may see (no suspect data)."""

    q = django_filters.CharFilter(label=_("编号或名称"), method="filter_q")
    kind = django_filters.ChoiceFilter(label=_("案件类别"), choices=CaseKind.choices, empty_label=_("全部类别"))
    offence = django_filters.ChoiceFilter(label=_("案由"), choices=Offence.choices, empty_label=_("全部案由"))
    status = django_filters.ChoiceFilter(label=_("案件状态"), choices=CaseStatus.choices, empty_label=_("全部状态"))
    target_level = django_filters.ChoiceFilter(
        label=_("目标案件"), choices=[c for c in TargetLevel.choices if c[0]], empty_label=_("不限")
    )
    district = django_filters.ModelChoiceFilter(label=_("区县"), queryset=_divisions(Level.DISTRICT),
                                                method="filter_subtree", empty_label=_("全部区县"))
    campaign = django_filters.ModelChoiceFilter(label=_("专项行动"), queryset=_campaigns, field_name="campaigns",
                                                method="filter_campaign", empty_label=_("全部"))
    filed_from = django_filters.DateFilter(label=_("立案日期起"), field_name="filed_on", lookup_expr="gte", widget=_DATE)
    filed_to = django_filters.DateFilter(label=_("立案日期止"), field_name="filed_on", lookup_expr="lte", widget=_DATE)
    solved_from = django_filters.DateFilter(label=_("破案日期起"), field_name="solved_on", lookup_expr="gte",
                                            widget=_DATE)
    solved_to = django_filters.DateFilter(label=_("破案日期止"), field_name="solved_on", lookup_expr="lte",
                                          widget=_DATE)

    class Meta:
        model = Case
        fields = ["q", "kind", "offence", "status", "target_level", "district", "campaign", "filed_from", "filed_to",
                  "solved_from", "solved_to"]

    def filter_q(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(number__icontains=value) | Q(name__icontains=value))

    def filter_campaign(self, queryset, name, value):
        # pk__in keeps one row per case and the real count.
        return queryset.filter(pk__in=Case.campaigns.through.objects.filter(campaign=value).values("case_id"))


class GangFilterSet(_StyledFilterSet):
    name = django_filters.CharFilter(label=_("团伙名称"), lookup_expr="icontains")
    district = django_filters.ModelChoiceFilter(label=_("区县"), queryset=_divisions(Level.DISTRICT),
                                                method="filter_subtree", empty_label=_("全部区县"))
    is_broken_up = StrictBooleanFilter(
        label=_("状态"), widget=forms.Select(choices=[("", _("全部")), ("true", _("已打掉")), ("false", _("未打掉"))]),
    )

    class Meta:
        model = Gang
        fields = ["name", "district", "is_broken_up"]


class CampaignFilterSet(_StyledFilterSet):
    name = django_filters.CharFilter(label=_("行动名称"), lookup_expr="icontains")

    class Meta:
        model = Campaign
        fields = ["name", "kind", "level"]


class ScreeningFilterSet(_StyledFilterSet):
    category = django_filters.ChoiceFilter(label=_("重点驾驶员类别"), choices=DriverCategory.choices,
                                           empty_label=_("全部类别"))
    district = django_filters.ModelChoiceFilter(label=_("区县"), queryset=_divisions(Level.DISTRICT),
                                                method="filter_subtree", empty_label=_("全部区县"))
    held_from = django_filters.DateFilter(label=_("检测日期起"), field_name="held_on", lookup_expr="gte", widget=_DATE)
    held_to = django_filters.DateFilter(label=_("检测日期止"), field_name="held_on", lookup_expr="lte", widget=_DATE)

    class Meta:
        model = ScreeningSession
        fields = ["category", "district", "held_from", "held_to"]
