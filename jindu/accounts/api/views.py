"""Accounts API: users in scope (list, create, deactivate, reactivate), role grants through
the services, API tokens."""

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from jindu.accounts import services
from jindu.accounts.api.serializers import (
    ReasonSerializer, RevokeSerializer, RoleAssignmentSerializer, TokenSerializer, UserCreateSerializer,
    UserSerializer,
)
from jindu.accounts.models import RoleAssignment, User
from jindu.core.api import AccessLogListMixin, ScopedViewSetMixin


def _validation_error(exc: DjangoValidationError) -> exceptions.ValidationError:
    if hasattr(exc, "error_dict"):
        return exceptions.ValidationError(exc.message_dict)
    return exceptions.ValidationError({"detail": exc.messages})


class UserFilterSet(django_filters.FilterSet):
    unit = django_filters.NumberFilter(field_name="unit_id")
    is_active = django_filters.BooleanFilter()
    role = django_filters.CharFilter(method="filter_role")

    class Meta:
        model = User
        fields = ["unit", "is_active", "role"]

    def filter_role(self, queryset, name, value):
        visible = RoleAssignment.objects.restrict(self.request.user, "view").filter(role__code=value)
        return queryset.filter(pk__in=visible.values("user_id"))


class UserViewSet(ScopedViewSetMixin, AccessLogListMixin, viewsets.ReadOnlyModelViewSet):
    """管辖范围内的用户。列表与详情写入访问日志；新建（POST，未提供密码时由系统生成，只返回一次）、
    停用与启用（POST …/deactivate/、…/reactivate/，须填写原因）均经审计。用户不会被删除。"""

    queryset = User.objects.all()
    serializer_class = UserSerializer
    filterset_class = UserFilterSet
    search_fields = ["username", "full_name"]
    ordering_fields = ["username", "full_name", "date_joined"]
    scope_actions = {"deactivate": "change", "reactivate": "change"}

    def get_queryset(self):
        grants = RoleAssignment.objects.restrict(self.request.user, "view").select_related("role", "division")
        return super().get_queryset().prefetch_related(
            Prefetch("role_assignments", queryset=grants, to_attr="visible_grants")
        )

    def _read_back(self, user):
        # Answer with the user as the actor sees them (only grants visible to the actor).
        grants = RoleAssignment.objects.restrict(self.request.user, "view").select_related("role", "division")
        user.visible_grants = list(grants.filter(user=user))
        return user

    @extend_schema(request=UserCreateSerializer, responses={201: UserSerializer})
    def create(self, request, *args, **kwargs):
        body = UserCreateSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        data = body.validated_data
        try:
            user, generated = services.create_user(
                actor=request.user, username=data["username"], full_name=data["full_name"],
                phone=data.get("phone", ""), unit=data["unit"], password=data.get("password") or None,
            )
        except DjangoValidationError as exc:
            raise exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages) \
                from exc
        payload = dict(UserSerializer(self._read_back(user), context=self.get_serializer_context()).data)
        if generated:
            payload["password"] = generated
        return Response(payload, status=status.HTTP_201_CREATED)

    def _set_active(self, request, active: bool):
        user = self.get_object()
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            services.set_user_active(actor=request.user, user=user, active=active,
                                     reason=body.validated_data["reason"])
        except DjangoValidationError as exc:
            raise _validation_error(exc) from exc
        user.refresh_from_db()
        return Response(UserSerializer(self._read_back(user), context=self.get_serializer_context()).data)

    @extend_schema(request=ReasonSerializer, responses={200: UserSerializer})
    @action(detail=True, methods=["post"])
    def deactivate(self, request, pk=None):
        return self._set_active(request, False)

    @extend_schema(request=ReasonSerializer, responses={200: UserSerializer})
    @action(detail=True, methods=["post"])
    def reactivate(self, request, pk=None):
        return self._set_active(request, True)


class RoleAssignmentViewSet(
    ScopedViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """角色授权：授予（POST）与撤销（POST …/revoke/，须填写原因），均经审计。"""

    queryset = RoleAssignment.objects.select_related("role", "division", "user")
    serializer_class = RoleAssignmentSerializer
    scope_actions = {"revoke": "delete"}
    ordering_fields = ["granted_at", "user__username"]

    class filterset_class(django_filters.FilterSet):  # noqa: N801 - DRF attribute name
        user = django_filters.NumberFilter(field_name="user_id")
        role = django_filters.CharFilter(field_name="role__code")
        division = django_filters.NumberFilter(field_name="division_id")

        class Meta:
            model = RoleAssignment
            fields = ["user", "role", "division"]

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            assignment = services.grant_role(
                actor=request.user, user=data["user"], role=data["role"], division=data["division"],
                note=data.get("note", ""),
            )
        except DjangoValidationError as exc:
            raise _validation_error(exc) from exc
        return Response(self.get_serializer(assignment).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=RevokeSerializer, responses={204: None})
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        assignment = self.get_object()
        body = RevokeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            services.revoke_role(actor=request.user, assignment=assignment, reason=body.validated_data["reason"])
        except DjangoValidationError as exc:
            raise _validation_error(exc) from exc
        return Response(status=status.HTTP_204_NO_CONTENT)


class TokenView(APIView):
    """本人的 API 令牌：POST 生成（旧令牌作废，密钥只显示这一次），DELETE 作废。"""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(request=None, responses={201: TokenSerializer})
    def post(self, request):
        token = services.create_token(actor=request.user, user=request.user)
        return Response(TokenSerializer(token).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request):
        services.revoke_token(actor=request.user, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
