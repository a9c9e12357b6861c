"""DRF building blocks that keep the API scoped exactly like the pages.

- :class:`ScopedPermission`: authenticated users with the model permission for the
  request's action; object access is decided by the restricted queryset (out of scope → 404).
- :class:`ScopedViewSetMixin`: ``get_queryset`` is ``Model.objects.restrict(user, action)``
  with the action matching the HTTP method (or ``scope_actions`` for custom actions);
  creates and updates re-check the scope inside the writing transaction
  (:func:`jindu.core.services.ensure_in_scope`); updates are versioned
  (:func:`jindu.core.services.update_versioned`, stale → 409); unknown query parameters are
  refused with 400 instead of being silently ignored.
- :class:`SafeSearchFilter` / :class:`SafeOrderingFilter`: search and ordering only on the
  fields a view declares, so no role can probe fields it may not see; an undeclared
  ordering field is refused with 400.
- :class:`Pagination`: page-number paging with a stable tie-breaker (``pk``) so pages
  never repeat or skip rows that share a sort key (peer case 20).
- :class:`AccessLogListMixin`: list/retrieve responses of personal-data models write an
  :class:`~jindu.core.models.AccessLog` row.
- :class:`ScopedRelatedField`: a primary-key field whose choices are the rows the
  requesting user may view, so a payload can never point at an out-of-scope row.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils.translation import gettext_lazy as _
from django_filters.widgets import QueryArrayWidget
from rest_framework import exceptions, filters, pagination, permissions, serializers, status

from jindu.core.audit import log_access
from jindu.core.models import AccessLog, StaleEditError
from jindu.core.scope import ADD, CHANGE, DELETE, VIEW, has_model_permission
from jindu.core.services import ensure_in_scope, update_versioned

_METHOD_ACTIONS = {
    "GET": VIEW, "HEAD": VIEW, "OPTIONS": VIEW,
    "POST": ADD, "PUT": CHANGE, "PATCH": CHANGE, "DELETE": DELETE,
}

# Query parameters every list accepts besides the declared filters.
_GENERIC_PARAMS = {"page", "page_size", "format"}


class Conflict(exceptions.APIException):
    """409: the record changed since the client read it (stale ``version``) or is still in use."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = _("该记录已被他人修改，请刷新后重试。")
    default_code = "conflict"


def scope_action_for(request, view) -> str:
    """The scope action (view/add/change/delete) of a request to ``view``.

    Custom viewset actions map through ``view.scope_actions`` (``{"revoke": "delete"}``);
    everything else follows the HTTP method.
    """
    mapping = getattr(view, "scope_actions", None) or {}
    action = getattr(view, "action", None)
    if action in mapping:
        return mapping[action]
    return _METHOD_ACTIONS.get(request.method, VIEW)


class ScopedPermission(permissions.BasePermission):
    """Authenticated, and holding the model permission for the request's action somewhere.

    The model comes from ``view.scoped_model`` or ``view.queryset.model``. Which rows are
    reachable is the restricted queryset's business, so a missing row and an
    out-of-scope row both answer 404.
    """

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated):
            return False
        # Remember the API user for the audit context (token auth happens after middleware).
        request._request._jindu_api_user = user
        model = getattr(view, "scoped_model", None)
        if model is None:
            queryset = getattr(view, "queryset", None)
            model = queryset.model if queryset is not None else None
        if model is None:
            return True
        return has_model_permission(user, model, scope_action_for(request, view))


class SafeSearchFilter(filters.SearchFilter):
    """Search only over ``view.search_fields``; nothing else is ever searchable."""


class SafeOrderingFilter(filters.OrderingFilter):
    """Order only by ``view.ordering_fields`` (never ``__all__``), then by ``pk``.

    An ordering term naming any other field is refused with 400: silently dropping it
    would let a client believe a list is sorted when it is not.
    """

    def get_valid_fields(self, queryset, view, context=None):
        fields = getattr(view, "ordering_fields", None)
        if not fields or fields == "__all__":
            return []
        return [(f, f) for f in fields]

    def get_ordering(self, request, queryset, view):
        params = request.query_params.get(self.ordering_param)
        if params:
            terms = [t.strip() for t in params.split(",") if t.strip()]
            valid = {name for name, _label in self.get_valid_fields(queryset, view, {"request": request})}
            bad = [t for t in terms if t.lstrip("-") not in valid]
            if bad:
                raise exceptions.ValidationError(
                    {self.ordering_param: _("不支持按以下字段排序：%(fields)s。可用字段：%(valid)s。")
                     % {"fields": "、".join(bad), "valid": "、".join(sorted(valid)) or "—"}}
                )
            return terms
        return self.get_default_ordering(view)

    def filter_queryset(self, request, queryset, view):
        ordering = self.get_ordering(request, queryset, view)
        if ordering:
            return queryset.order_by(*ordering, "pk")
        return queryset


class Pagination(pagination.PageNumberPagination):
    """Page-number paging; ``count`` is the real row count, ``pk`` breaks every tie."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def paginate_queryset(self, queryset, request, view=None):
        if queryset.ordered:
            order = list(queryset.query.order_by) or list(queryset.model._meta.ordering)
            if "pk" not in order and "-pk" not in order and "id" not in order and "-id" not in order:
                queryset = queryset.order_by(*order, "pk")
        else:
            queryset = queryset.order_by("pk")
        return super().paginate_queryset(queryset, request, view)


class _IntListField(forms.Field):
    widget = QueryArrayWidget

    def to_python(self, value):
        if value in (None, "", []):
            return []
        values = value if isinstance(value, (list, tuple)) else [value]
        try:
            parts = [p.strip() for v in values for p in str(v).split(",")]
            return [int(p) for p in parts if p]
        except (TypeError, ValueError):
            raise forms.ValidationError(_("请填写整数编号。"), code="invalid") from None


class MultiIdFilter(django_filters.Filter):
    """``?name=1&name=2`` (or ``?name=1,2``): rows related to any of the ids through a to-many path.

    Applied as ``pk IN (subquery)`` so a row related to several of the ids appears once and
    ``count`` stays the real number of rows (peer case 20), without ``DISTINCT``.
    """

    field_class = _IntListField

    def filter(self, qs, value):
        if not value:
            return qs
        inner = qs.model._default_manager.filter(**{f"{self.field_name}__in": value}).values("pk")
        return qs.filter(pk__in=inner)


class ScopedRelatedField(serializers.PrimaryKeyRelatedField):
    """Primary key of a row the requesting user may view (``model.objects.restrict(user, "view")``).

    An id outside the user's scope gets the same error as an id that does not exist.
    """

    def __init__(self, model=None, **kwargs):
        self.scoped_model = model
        if not kwargs.get("read_only"):
            kwargs.setdefault("queryset", model._default_manager.none())
        super().__init__(**kwargs)

    def get_queryset(self):
        request = self.context.get("request")
        user = getattr(request, "user", None)
        return self.scoped_model._default_manager.restrict(user, VIEW)


class VersionedModelSerializer(serializers.ModelSerializer):
    """ModelSerializer for :class:`~jindu.core.models.VersionedModel` subclasses.

    ``version`` is read on every response and required on updates: the client sends back
    the version it read, and a stale one is refused with 409.
    """

    version = serializers.IntegerField(required=False, min_value=1)

    def validate(self, attrs):
        if self.instance is not None and "version" not in attrs:
            raise serializers.ValidationError({"version": _("修改时必须提供读取时的版本号（version）。")})
        return super().validate(attrs)

    def create(self, validated_data):
        validated_data.pop("version", None)  # a new row always starts at version 1
        return super().create(validated_data)


class ScopedViewSetMixin:
    """Mixin for model viewsets: scoped querysets, scope-checked writes, strict parameters.

    Subclasses set ``queryset`` (the unrestricted base queryset, with its
    ``select_related``/``prefetch_related``), ``filterset_class`` or ``filterset_fields``,
    ``search_fields`` and ``ordering_fields``. ``extra_query_params`` names further
    accepted parameters (for custom actions).
    """

    scope_actions: dict[str, str] = {}
    extra_query_params: frozenset[str] = frozenset()
    # Fields update_versioned may write; default: every writable serializer field.
    versioned_fields: tuple[str, ...] | None = None

    # -- reading ------------------------------------------------------------------------
    def get_scope_action(self) -> str:
        return scope_action_for(self.request, self)

    def get_queryset(self):
        base = super().get_queryset()
        return base.restrict(self.request.user, self.get_scope_action())

    def allowed_query_params(self) -> set[str]:
        allowed = set(_GENERIC_PARAMS) | set(self.extra_query_params)
        for backend in self.filter_backends:
            if isinstance(backend, type) and issubclass(backend, filters.SearchFilter) and getattr(
                self, "search_fields", None
            ):
                allowed.add(backend.search_param)
            elif isinstance(backend, type) and issubclass(backend, filters.OrderingFilter):
                allowed.add(backend.ordering_param)
        filterset_class = getattr(self, "filterset_class", None)
        if filterset_class is not None:
            for name, flt in filterset_class.base_filters.items():
                allowed.add(name)
                # Range-style filters read <name>_min/_max, <name>_after/_before.
                widget = getattr(flt.field_class, "widget", None)
                for suffix in getattr(widget, "suffixes", ()) or ():
                    allowed.add(f"{name}_{suffix}" if suffix else name)
        else:
            fields = getattr(self, "filterset_fields", None) or ()
            allowed |= set(fields)
        return allowed

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if request.method in ("GET", "HEAD"):
            unknown = sorted(set(request.query_params.keys()) - self.allowed_query_params())
            if unknown:
                raise exceptions.ValidationError(
                    {"detail": _("不支持的查询参数：%(params)s。") % {"params": "、".join(unknown)}}
                )

    # -- writing ------------------------------------------------------------------------
    def perform_create(self, serializer):
        with transaction.atomic():
            instance = serializer.save()  # ModelSerializer.create sets many-to-many fields
            ensure_in_scope(instance, user=self.request.user, action=ADD)

    def perform_update(self, serializer):
        instance = serializer.instance
        data = dict(serializer.validated_data)
        expected = data.pop("version", None)
        fields = self.versioned_fields or [
            name for name, f in serializer.fields.items() if not f.read_only and name != "version"
        ]
        with transaction.atomic():
            try:
                updated, _changed = update_versioned(
                    instance, user=self.request.user, data=data, fields=fields, expected_version=expected
                )
            except StaleEditError as exc:
                raise Conflict(
                    _("该记录已被他人修改（您读取的版本 %(expected)s，当前版本 %(actual)s），请刷新后重试。")
                    % {"expected": exc.expected, "actual": exc.actual}
                ) from exc
            if self.save_related(updated, serializer):
                ensure_in_scope(updated, user=self.request.user, action=CHANGE)
        serializer.instance = updated

    def save_related(self, instance, serializer) -> bool:
        """Write many-to-many fields of the payload; returns whether any was written."""
        wrote = False
        for name, value in serializer.validated_data.items():
            field = serializer.fields.get(name)
            if isinstance(field, serializers.ManyRelatedField):
                getattr(instance, field.source).set(value)
                wrote = True
        return wrote

    def perform_destroy(self, instance):
        try:
            with transaction.atomic():
                instance.delete()
        except ProtectedError as exc:
            raise Conflict(_("该记录仍被其他记录引用，不能删除。")) from exc

    def handle_exception(self, exc):
        if isinstance(exc, DjangoPermissionDenied):
            exc = exceptions.PermissionDenied(str(exc) or None)
        elif isinstance(exc, IntegrityError):
            exc = Conflict(_("与已有记录重复，未保存。"))
        return super().handle_exception(exc)


class AccessLogListMixin:
    """Write an :class:`AccessLog` row for every list page and detail of personal data.

    The list entry records the ids on the page and the true total, plus the filter
    parameters (identity-number-shaped values masked by :func:`jindu.core.audit.scrub`).
    """

    def list(self, request, *args, **kwargs):
        response = super().list(request, *args, **kwargs)
        if response.status_code == 200:
            data = response.data
            results = data.get("results", []) if isinstance(data, dict) else data
            total = data.get("count", len(results)) if isinstance(data, dict) else len(results)
            params = request.query_params
            search_param = getattr(SafeSearchFilter, "search_param", "search")
            log_access(
                kind=AccessLog.Kind.SEARCH if params.get(search_param) else AccessLog.Kind.LIST,
                model=self.get_scoped_model(),
                user=request.user,
                object_ids=[r.get("id") for r in results if isinstance(r, dict)],
                result_count=total,
                path=request.path,
                query={k: ",".join(params.getlist(k)) for k in params},
            )
        return response

    def retrieve(self, request, *args, **kwargs):
        response = super().retrieve(request, *args, **kwargs)
        if response.status_code == 200:
            log_access(
                kind=AccessLog.Kind.VIEW, model=self.get_scoped_model(), user=request.user,
                object_ids=[response.data.get("id")], path=request.path,
            )
        return response

    def get_scoped_model(self) -> Any:
        return getattr(self, "scoped_model", None) or self.queryset.model


__all__ = [
    "AccessLogListMixin", "Conflict", "MultiIdFilter", "Pagination", "SafeOrderingFilter", "SafeSearchFilter",
    "ScopedPermission", "ScopedRelatedField", "ScopedViewSetMixin", "VersionedModelSerializer",
    "scope_action_for",
]
