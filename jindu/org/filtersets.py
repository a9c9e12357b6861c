import django_filters
from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from jindu.core.scope import VIEW
from jindu.geo.choices import Level
from jindu.geo.models import Division
from jindu.org.choices import UnitKind
from jindu.org.models import Unit


def _divisions(level):
    def qs(request):
        if request is None:
            return Division.objects.none()
        return Division.objects.restrict(request.user, VIEW).filter(level=level).order_by("code")

    return qs


class UnitFilterSet(django_filters.FilterSet):
    """Unit list filters; only fields every role may see (no contact details)."""

    q = django_filters.CharFilter(label=_("名称"), method="filter_q")
    kind = django_filters.ChoiceFilter(label=_("单位类型"), choices=UnitKind.choices, empty_label=_("全部类型"))
    district = django_filters.ModelChoiceFilter(
        label=_("区县"), queryset=_divisions(Level.DISTRICT), method="filter_subtree", empty_label=_("全部区县")
    )
    town = django_filters.ModelChoiceFilter(
        label=_("镇街"), queryset=_divisions(Level.TOWN), method="filter_subtree", empty_label=_("全部镇街")
    )
    is_active = django_filters.BooleanFilter(
        label=_("状态"),
        widget=forms.Select(choices=[("", _("全部")), ("true", _("有效")), ("false", _("已停用"))]),
    )

    class Meta:
        model = Unit
        fields = ["q", "kind", "district", "town", "is_active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.form.fields.values():
            is_select = isinstance(field.widget, forms.Select)
            field.widget.attrs.setdefault("class", "form-select" if is_select else "form-control")

    def filter_q(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(name__icontains=value) | Q(short_name__icontains=value))

    def filter_subtree(self, queryset, name, value):
        return queryset.filter(division__path__startswith=value.path)
