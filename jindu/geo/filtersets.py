"""Population figure filters, shared by the list page and its export (one definition).

A filter value that cannot be read is an error, never ignored (a dropped filter would
widen the list and the export): the page shows the error and no rows, the export refuses.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import django_filters
from django.utils.translation import gettext_lazy as _

from jindu.core.scope import VIEW
from jindu.geo.choices import Level
from jindu.geo.models import Division, Population


def _districts(request):
    if request is None:
        return Division.objects.none()
    return Division.objects.restrict(request.user, VIEW).filter(level=Level.DISTRICT).order_by("code")


class PopulationFilterSet(django_filters.FilterSet):
    """``?year=&kind=&level=&district=&q=`` (``q``: division name or code prefix)."""

    q = django_filters.CharFilter(label=_("区划名称或代码"), method="filter_q")
    year = django_filters.NumberFilter(label=_("年度"), field_name="year", min_value=1949, max_value=2100)
    kind = django_filters.ChoiceFilter(label=_("口径"), choices=Population.Kind.choices, empty_label=_("全部口径"))
    level = django_filters.ChoiceFilter(
        label=_("层级"), field_name="division__level", empty_label=_("全部层级"),
        choices=[c for c in Level.choices if c[0] != Level.GRID],
    )
    district = django_filters.ModelChoiceFilter(
        label=_("区县"), queryset=_districts, method="filter_subtree", empty_label=_("全部区县"),
    )

    class Meta:
        model = Population
        fields: list[str] = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, field in self.form.fields.items():
            css = "form-select" if name in ("kind", "level", "district") else "form-control"
            field.widget.attrs.setdefault("class", css)
        self.form.fields["year"].error_messages.update(
            invalid=_("年度应为四位数字，如 2020。"), min_value=_("年度不能早于 %(limit_value)s 年。"),
            max_value=_("年度不能晚于 %(limit_value)s 年。"))

    def filter_q(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        from django.db.models import Q

        return queryset.filter(Q(division__name__icontains=value) | Q(division__code__startswith=value))

    def filter_subtree(self, queryset, name, value):
        return queryset.filter(division__path__startswith=value.path) if value else queryset

    def error_text(self) -> str:
        parts = []
        for field, errors in self.form.errors.items():
            label = self.form.fields[field].label if field in self.form.fields else ""
            parts += [f"{label}：{e}" if label else str(e) for e in errors]
        return "；".join(parts)


def population_filterset(user: Any, params: Any, queryset=None) -> PopulationFilterSet:
    """The list's filterset bound to ``params`` (``None`` = no filters), its district
    choices scoped to ``user``."""
    if queryset is None:
        queryset = Population.objects.restrict(user, VIEW).select_related("division")
    return PopulationFilterSet(params if params is not None else {}, queryset=queryset,
                               request=SimpleNamespace(user=user))
