"""Divisions API: read-only, scoped to the user's subtrees."""

import django_filters
from rest_framework import viewsets

from jindu.core.api import ScopedViewSetMixin
from jindu.geo.api.serializers import DivisionSerializer
from jindu.geo.choices import Level
from jindu.geo.models import Division


class DivisionFilterSet(django_filters.FilterSet):
    level = django_filters.ChoiceFilter(choices=Level.choices)
    # Plain ids, applied to the already restricted rows: an out-of-scope parent gives an
    # empty list, never rows outside the user's subtrees.
    parent = django_filters.NumberFilter(field_name="parent_id")
    code = django_filters.CharFilter(field_name="code")

    class Meta:
        model = Division
        fields = ["level", "parent", "code"]


class DivisionViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """行政区划（只读），按当前用户的管辖范围过滤。"""

    queryset = Division.objects.all()
    serializer_class = DivisionSerializer
    filterset_class = DivisionFilterSet
    search_fields = ["name", "code"]
    ordering_fields = ["code", "name", "level", "depth"]
