"""Organisation API: units, commission memberships, pairings — scoped like the pages."""

import django_filters
from rest_framework import viewsets

from jindu.core.api import MultiIdFilter, ScopedViewSetMixin
from jindu.geo.models import Division
from jindu.org.api.serializers import CommissionMembershipSerializer, PairingSerializer, UnitSerializer
from jindu.org.choices import CommissionRole, UnitKind
from jindu.org.models import CommissionMembership, Pairing, Unit


class _WithinFilterSet(django_filters.FilterSet):
    """``within=<division id>``: rows in that division's subtree.

    The division is looked up through the user's own scope, so naming one outside it
    gives an empty list (peer case 12), never rows beyond the user's subtrees.
    """

    within = django_filters.NumberFilter(method="filter_within")
    within_path: str = "division"

    def filter_within(self, queryset, name, value):
        user = getattr(self.request, "user", None)
        root = Division.objects.restrict(user, "view").filter(pk=value).values_list("path", flat=True).first()
        if root is None:
            return queryset.none()
        return queryset.filter(**{f"{self.within_path}__path__startswith": root})


class UnitFilterSet(_WithinFilterSet):
    kind = django_filters.MultipleChoiceFilter(choices=UnitKind.choices)
    division = django_filters.NumberFilter(field_name="division_id")
    serves = MultiIdFilter(field_name="jurisdiction")
    is_active = django_filters.BooleanFilter()

    class Meta:
        model = Unit
        fields = ["kind", "division", "serves", "is_active", "within"]


class CommissionMembershipFilterSet(_WithinFilterSet):
    within_path = "unit__division"
    unit = django_filters.NumberFilter(field_name="unit_id")
    year = django_filters.NumberFilter()
    role = django_filters.ChoiceFilter(choices=CommissionRole.choices)

    class Meta:
        model = CommissionMembership
        fields = ["unit", "year", "role", "within"]


class PairingFilterSet(_WithinFilterSet):
    within_path = "town"
    unit = django_filters.NumberFilter(field_name="unit_id")
    town = django_filters.NumberFilter(field_name="town_id")
    year = django_filters.NumberFilter()

    class Meta:
        model = Pairing
        fields = ["unit", "town", "year", "within"]


class UnitViewSet(ScopedViewSetMixin, viewsets.ModelViewSet):
    """单位：增删改查，按管辖范围过滤；修改须带版本号。"""

    queryset = Unit.objects.prefetch_related("jurisdiction")
    serializer_class = UnitSerializer
    filterset_class = UnitFilterSet
    search_fields = ["name", "short_name"]
    ordering_fields = ["name", "kind", "division__code", "updated_at"]


class CommissionMembershipViewSet(ScopedViewSetMixin, viewsets.ModelViewSet):
    """禁毒委成员单位（按年度）。"""

    queryset = CommissionMembership.objects.all()
    serializer_class = CommissionMembershipSerializer
    filterset_class = CommissionMembershipFilterSet
    search_fields = ["unit__name"]
    ordering_fields = ["year", "unit__name", "role"]


class PairingViewSet(ScopedViewSetMixin, viewsets.ModelViewSet):
    """挂点帮扶：单位与镇街按年度挂点。"""

    queryset = Pairing.objects.all()
    serializer_class = PairingSerializer
    filterset_class = PairingFilterSet
    search_fields = ["unit__name", "town__name"]
    ordering_fields = ["year", "town__code", "unit__name"]
