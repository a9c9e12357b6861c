"""Organisation API: units, commission memberships, pairings — scoped like the pages.

Every write goes through :mod:`jindu.org.services`, the same functions the pages and
imports call, so each leaves exactly one audit event with the acting user. Deleting a
pairing needs a reason (``?reason=`` or ``{"reason": ...}`` in the body).
"""

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import ProtectedError
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from jindu.core.api import Conflict, MultiIdFilter, ScopedViewSetMixin
from jindu.core.models import StaleEditError
from jindu.core.scope import ADD, CHANGE
from jindu.geo.models import Division
from jindu.org import services
from jindu.org.api.serializers import CommissionMembershipSerializer, PairingSerializer, UnitSerializer
from jindu.org.choices import CommissionRole, UnitKind
from jindu.org.filtersets import StrictBooleanFilter
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
    is_active = StrictBooleanFilter()

    class Meta:
        model = Unit
        fields = ["kind", "division", "serves", "is_active", "within"]


class CommissionMembershipFilterSet(_WithinFilterSet):
    within_path = "unit__division"
    unit = django_filters.NumberFilter(field_name="unit_id")
    year = django_filters.NumberFilter(min_value=services.YEAR_MIN, max_value=services.YEAR_MAX)
    role = django_filters.ChoiceFilter(choices=CommissionRole.choices)

    class Meta:
        model = CommissionMembership
        fields = ["unit", "year", "role", "within"]


class PairingFilterSet(_WithinFilterSet):
    within_path = "town"
    unit = django_filters.NumberFilter(field_name="unit_id")
    town = django_filters.NumberFilter(field_name="town_id")
    year = django_filters.NumberFilter(min_value=services.YEAR_MIN, max_value=services.YEAR_MAX)

    class Meta:
        model = Pairing
        fields = ["unit", "town", "year", "within"]


def _validation_error(exc: DjangoValidationError) -> exceptions.ValidationError:
    if hasattr(exc, "error_dict"):
        return exceptions.ValidationError(exc.message_dict)
    return exceptions.ValidationError({"detail": exc.messages})


def _stale(exc: StaleEditError) -> Conflict:
    return Conflict(
        _("该记录已被他人修改（您读取的版本 %(expected)s，当前版本 %(actual)s），请刷新后重试。")
        % {"expected": exc.expected, "actual": exc.actual}
    )


def _reason(request) -> str:
    value = request.query_params.get("reason")
    if value is None and hasattr(request.data, "get"):
        value = request.data.get("reason")
    return (value or "").strip()


_REASON_PARAM = OpenApiParameter("reason", str, description="删除原因", required=False)


class _ServiceWritesMixin:
    """Route create/update/destroy through services; their errors become API answers."""

    def handle_exception(self, exc):
        if isinstance(exc, DjangoValidationError):
            exc = _validation_error(exc)
        elif isinstance(exc, StaleEditError):
            exc = _stale(exc)
        elif isinstance(exc, ProtectedError):
            exc = Conflict(_("该记录仍被其他记录引用，不能删除。"))
        return super().handle_exception(exc)

    @staticmethod
    def _data(serializer) -> tuple[dict, int | None]:
        data = dict(serializer.validated_data)
        return data, data.pop("version", None)


class UnitViewSet(_ServiceWritesMixin, ScopedViewSetMixin, viewsets.ModelViewSet):
    """单位：增删改查，按管辖范围过滤；修改须带版本号。"""

    queryset = Unit.objects.prefetch_related("jurisdiction")
    serializer_class = UnitSerializer
    filterset_class = UnitFilterSet
    search_fields = ["name", "short_name"]
    ordering_fields = ["name", "kind", "division__code", "updated_at"]

    def perform_create(self, serializer):
        data, _version = self._data(serializer)
        jurisdiction = data.pop("jurisdiction", [])
        serializer.instance = services.create_unit(user=self.request.user, data=data, jurisdiction=jurisdiction)

    def perform_update(self, serializer):
        data, version = self._data(serializer)
        jurisdiction = data.pop("jurisdiction", None)
        unit, _changed = services.update_unit(
            user=self.request.user, unit=serializer.instance, data=data, jurisdiction=jurisdiction,
            expected_version=version,
        )
        serializer.instance = Unit.objects.prefetch_related("jurisdiction").get(pk=unit.pk)

    @extend_schema(parameters=[_REASON_PARAM])
    def destroy(self, request, *args, **kwargs):
        return super().destroy(request, *args, **kwargs)

    def perform_destroy(self, instance):
        services.delete_unit(user=self.request.user, unit=instance, reason=_reason(self.request))


class MembershipEntrySerializer(serializers.Serializer):
    unit = serializers.IntegerField(label="单位")
    role = serializers.ChoiceField(choices=CommissionRole.choices, default=CommissionRole.MEMBER)


class MembershipSetSerializer(serializers.Serializer):
    year = serializers.IntegerField(label="年度")
    members = MembershipEntrySerializer(many=True, label="成员单位")
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500)


class CopyYearSerializer(serializers.Serializer):
    from_year = serializers.IntegerField(label="源年度")
    to_year = serializers.IntegerField(label="目标年度")


class CommissionMembershipViewSet(_ServiceWritesMixin, ScopedViewSetMixin, viewsets.ModelViewSet):
    """禁毒委成员单位（按年度）。``set``：整体替换某年度名单；``copy``：复制上年名单。"""

    queryset = CommissionMembership.objects.all()
    serializer_class = CommissionMembershipSerializer
    filterset_class = CommissionMembershipFilterSet
    search_fields = ["unit__name"]
    ordering_fields = ["year", "unit__name", "role"]
    # A whole-list replacement may add, change and remove; each row is re-checked by the service.
    scope_actions = {"set_list": CHANGE, "copy": ADD}

    def perform_create(self, serializer):
        data, _version = self._data(serializer)
        serializer.instance = services.add_membership(
            user=self.request.user, unit=data["unit"], year=data["year"],
            role=data.get("role", CommissionRole.MEMBER),
        )

    def perform_update(self, serializer):
        data, version = self._data(serializer)
        serializer.instance, _changed = services.update_membership(
            user=self.request.user, membership=serializer.instance, data=data, expected_version=version
        )

    @extend_schema(parameters=[_REASON_PARAM])
    def destroy(self, request, *args, **kwargs):
        return super().destroy(request, *args, **kwargs)

    def perform_destroy(self, instance):
        services.remove_membership(user=self.request.user, membership=instance, reason=_reason(self.request))

    @extend_schema(request=MembershipSetSerializer, responses={200: dict}, summary="整体替换某年度成员单位名单")
    @action(detail=False, methods=["post"], url_path="set")
    def set_list(self, request):
        body = MembershipSetSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        ids = [e["unit"] for e in body.validated_data["members"]]
        units = Unit.objects.restrict(request.user, "view").in_bulk(ids)
        unknown = sorted({i for i in ids if i not in units})
        if unknown:
            raise exceptions.ValidationError({"members": [_("单位不存在或不在您的管辖范围内：%(ids)s。")
                                                          % {"ids": "、".join(map(str, unknown))}]})
        diff = services.set_memberships(
            user=request.user, year=body.validated_data["year"],
            units_with_roles=[(units[e["unit"]], e["role"]) for e in body.validated_data["members"]],
            reason=body.validated_data.get("reason", ""),
        )
        return Response(diff)

    @extend_schema(request=CopyYearSerializer, responses={201: CommissionMembershipSerializer(many=True)},
                   summary="复制某年度成员单位名单到另一年度")
    @action(detail=False, methods=["post"])
    def copy(self, request):
        body = CopyYearSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        rows = services.copy_memberships(user=request.user, **body.validated_data)
        data = CommissionMembershipSerializer(rows, many=True, context=self.get_serializer_context()).data
        return Response(data, status=status.HTTP_201_CREATED)


class PairingViewSet(_ServiceWritesMixin, ScopedViewSetMixin, viewsets.ModelViewSet):
    """挂点帮扶：单位与镇街按年度挂点。删除须说明原因（``reason``）；``copy``：复制上年挂点。"""

    queryset = Pairing.objects.all()
    serializer_class = PairingSerializer
    filterset_class = PairingFilterSet
    search_fields = ["unit__name", "town__name"]
    ordering_fields = ["year", "town__code", "unit__name"]
    scope_actions = {"copy": ADD}

    def perform_create(self, serializer):
        data, _version = self._data(serializer)
        serializer.instance = services.create_pairing(
            user=self.request.user, unit=data["unit"], town=data["town"], year=data["year"],
            note=data.get("note", ""),
        )

    def perform_update(self, serializer):
        data, version = self._data(serializer)
        serializer.instance, _changed = services.update_pairing(
            user=self.request.user, pairing=serializer.instance, data=data, expected_version=version
        )

    @extend_schema(parameters=[OpenApiParameter("reason", str, description="删除原因（必填）", required=True)])
    def destroy(self, request, *args, **kwargs):
        return super().destroy(request, *args, **kwargs)

    def perform_destroy(self, instance):
        services.delete_pairing(user=self.request.user, pairing=instance, reason=_reason(self.request))

    @extend_schema(request=CopyYearSerializer, responses={201: PairingSerializer(many=True)},
                   summary="复制某年度挂点到另一年度")
    @action(detail=False, methods=["post"])
    def copy(self, request):
        body = CopyYearSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        rows = services.copy_pairings(user=request.user, **body.validated_data)
        data = PairingSerializer(rows, many=True, context=self.get_serializer_context()).data
        return Response(data, status=status.HTTP_201_CREATED)
