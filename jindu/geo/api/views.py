"""Divisions API: read scoped to the user's subtrees; grids written through geo services.

Grid writes are actions on the division they concern, so the same scope decides them as
on the pages (out of scope → 404):

- ``POST /api/divisions/{village}/grids/`` ``{"name", "code"?}``: new grid (``geo.add_division``);
- ``POST /api/divisions/{grid}/rename/`` ``{"name", "reason"?}`` (``geo.change_division``);
- ``POST /api/divisions/{grid}/deactivate/`` and ``…/reactivate/`` ``{"reason"?}``.
"""

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from jindu.core.api import ScopedViewSetMixin
from jindu.core.scope import ADD, CHANGE
from jindu.geo import services
from jindu.geo.api.serializers import (
    DivisionSerializer,
    GridCreateSerializer,
    GridReasonSerializer,
    GridRenameSerializer,
)
from jindu.geo.choices import Level
from jindu.geo.models import Division


class DivisionFilterSet(django_filters.FilterSet):
    level = django_filters.ChoiceFilter(choices=Level.choices)
    # Plain ids, applied to the already restricted rows: an out-of-scope parent gives an
    # empty list, never rows outside the user's subtrees.
    parent = django_filters.NumberFilter(field_name="parent_id")
    code = django_filters.CharFilter(field_name="code")
    is_active = django_filters.BooleanFilter()

    class Meta:
        model = Division
        fields = ["level", "parent", "code", "is_active"]


def _api_validation_error(exc: DjangoValidationError) -> exceptions.ValidationError:
    if hasattr(exc, "error_dict"):
        return exceptions.ValidationError(exc.message_dict)
    return exceptions.ValidationError({"detail": exc.messages})


class DivisionViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """行政区划（只读），按当前用户的管辖范围过滤；网格可在村居下新建、改名、停用。"""

    queryset = Division.objects.all()
    serializer_class = DivisionSerializer
    filterset_class = DivisionFilterSet
    search_fields = ["name", "code"]
    ordering_fields = ["code", "name", "level", "depth"]
    scope_actions = {"grids": ADD, "rename": CHANGE, "deactivate": CHANGE, "reactivate": CHANGE}

    def _grid(self) -> Division:
        grid = self.get_object()
        if grid.level != Level.GRID:
            raise exceptions.ValidationError({"detail": [f"“{grid.name}”不是网格，只能修改网格。"]})
        return grid

    @extend_schema(request=GridCreateSerializer, responses={201: DivisionSerializer}, summary="在村居下新建网格")
    @action(detail=True, methods=["post"], url_path="grids")
    def grids(self, request, pk=None):
        village = self.get_object()
        body = GridCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            grid = services.create_grid(user=request.user, village=village, name=body.validated_data["name"],
                                        code=body.validated_data.get("code") or None)
        except DjangoValidationError as exc:
            raise _api_validation_error(exc) from exc
        return Response(DivisionSerializer(grid).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=GridRenameSerializer, responses={200: DivisionSerializer}, summary="网格改名")
    @action(detail=True, methods=["post"])
    def rename(self, request, pk=None):
        grid = self._grid()
        body = GridRenameSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            grid, _changed = services.rename_grid(user=request.user, grid=grid, name=body.validated_data["name"],
                                                  reason=body.validated_data.get("reason", ""))
        except DjangoValidationError as exc:
            raise _api_validation_error(exc) from exc
        return Response(DivisionSerializer(grid).data)

    def _set_active(self, request, active: bool):
        grid = self._grid()
        body = GridReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        grid, _changed = services.set_grid_active(user=request.user, grid=grid, active=active,
                                                  reason=body.validated_data.get("reason", ""))
        return Response(DivisionSerializer(grid).data)

    @extend_schema(request=GridReasonSerializer, responses={200: DivisionSerializer}, summary="停用网格")
    @action(detail=True, methods=["post"])
    def deactivate(self, request, pk=None):
        return self._set_active(request, False)

    @extend_schema(request=GridReasonSerializer, responses={200: DivisionSerializer}, summary="重新启用网格")
    @action(detail=True, methods=["post"])
    def reactivate(self, request, pk=None):
        return self._set_active(request, True)
