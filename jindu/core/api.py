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
- :func:`exception_handler` (``REST_FRAMEWORK["EXCEPTION_HANDLER"]``): every error answer
  is ``{"detail": <Chinese sentence>, "code": <machine code>, "errors": {field: [..]}}``.
"""

from __future__ import annotations

import re
from typing import Any

import django_filters
from django import forms
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
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


class InvalidPage(exceptions.NotFound):
    """404 for a page number past the end or not a number (not "record not found")."""

    default_code = "invalid_page"


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
        try:
            return super().paginate_queryset(queryset, request, view)
        except exceptions.NotFound:
            pages = max(self.django_paginator_class(queryset, self.get_page_size(request)).num_pages, 1)
            raise InvalidPage(_("页码无效或超出范围：请使用 1 到 %(pages)d 之间的整数。") % {"pages": pages}) from None


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


# -- error answers ------------------------------------------------------------------------
_CJK = re.compile(r"[\u3400-\u9fff]")

# Fixed sentences per status: DRF's and Django's own texts are English or name models
# ("No Unit matches the given query."), and "missing" must read the same as "out of scope".
_STATUS_DETAIL = {
    400: _("提交的数据有误，请按各字段的提示修改后重试。"),
    401: _("请先登录，或在请求头中提供有效的 API 令牌（Authorization: Token …）。"),
    403: _("您没有执行此操作的权限。"),
    404: _("记录不存在，或不在您的管辖范围内。"),
    405: _("该地址不支持 %(method)s 请求。"),
    406: _("无法提供请求的响应格式，请使用 JSON。"),
    409: _("该记录已被他人修改或仍被引用，请刷新后重试。"),
    413: _("请求内容过大。"),
    415: _("不支持该请求内容类型，请以 application/json 提交。"),
    429: _("请求过于频繁，请稍后再试。"),
}
_STATUS_CODE = {
    400: "invalid", 401: "not_authenticated", 403: "permission_denied", 404: "not_found",
    405: "method_not_allowed", 406: "not_acceptable", 409: "conflict", 413: "too_large",
    415: "unsupported_media_type", 429: "throttled",
}
_FIELD_CODE_MESSAGES = {
    "null_characters_not_allowed": _("不能包含空字符（\\x00）。"),
    "surrogate_characters_not_allowed": _("包含无法识别的字符。"),
}


def _is_chinese(text: str) -> bool:
    return bool(_CJK.search(text))


def _messages(detail: Any) -> Any:
    """Error details as plain strings (lists and dicts kept), with known English or
    misleading texts replaced by their Chinese sentence."""
    if isinstance(detail, dict):
        return {str(k): _messages(v) for k, v in detail.items()}
    if isinstance(detail, (list, tuple)):
        return [_messages(v) for v in detail]
    code = getattr(detail, "code", None)
    if code in _FIELD_CODE_MESSAGES:
        return str(_FIELD_CODE_MESSAGES[code])
    return str(detail)


def _first_text(value: Any) -> str:
    if isinstance(value, dict):
        return next((_first_text(v) for v in value.values()), "")
    if isinstance(value, (list, tuple)):
        return "；".join(t for t in (_first_text(v) for v in value) if t)
    return str(value)


def exception_handler(exc, context):
    """DRF exception handler giving every error one shape, in Chinese.

    Returns ``{"detail": str, "code": str, "errors": {field: [str, ...]}}`` for 400, 401,
    403, 404, 405, 406, 409, 413, 415, 429 and any other ``APIException``; ``errors`` holds
    field errors of a 400 (``non_field_errors`` for errors of the whole body) and is ``{}``
    otherwise. Messages raised by our own code in Chinese are kept; DRF's and Django's
    English or model-naming texts (404 "No Unit matches…", "CSRF Failed: …",
    "JSON parse error - …") are replaced by fixed sentences; 404 never says which model or
    whether the row exists. Django's ``ValidationError`` and ``PermissionDenied`` raised
    from services map to 400 and 403. Anything else is left to Django (500).

    Setting: ``REST_FRAMEWORK["EXCEPTION_HANDLER"] = "jindu.core.api.exception_handler"``.
    """
    # Imported here: rest_framework.views imports this module (DEFAULT_PERMISSION_CLASSES).
    from rest_framework.views import exception_handler as drf_exception_handler

    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(detail)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    status_code = response.status_code
    code = _STATUS_CODE.get(status_code, getattr(exc, "default_code", "error"))
    fallback = str(_STATUS_DETAIL.get(status_code, _("请求未能完成。")))
    errors: dict[str, Any] = {}
    raw = getattr(exc, "detail", None)

    if isinstance(exc, exceptions.ValidationError):
        data = _messages(raw)
        if isinstance(data, list):
            data = {"non_field_errors": data}
        elif not isinstance(data, dict):
            data = {"non_field_errors": [data]}
        own = data.pop("detail", None)  # views raise ValidationError({"detail": "…"}) for whole-request errors
        errors = data
        if own:
            detail = _first_text(own)
        elif set(errors) == {"non_field_errors"}:
            detail = _first_text(errors["non_field_errors"])
        else:
            detail = fallback
    elif isinstance(exc, exceptions.ParseError):
        code, detail = "parse_error", str(_("请求内容不是有效的 JSON，无法解析。"))
    elif isinstance(exc, exceptions.MethodNotAllowed):
        request = context.get("request")
        detail = fallback % {"method": getattr(request, "method", "")}
    elif isinstance(exc, exceptions.Throttled) and exc.wait:
        detail = str(_("请求过于频繁，请 %(n)d 秒后再试。") % {"n": int(exc.wait + 0.999)})
    elif isinstance(exc, InvalidPage):
        code, detail = "invalid_page", str(exc.detail)
    elif status_code == 404:
        detail = fallback
    else:
        text = _first_text(_messages(raw)) if raw is not None else ""
        if text.startswith("CSRF Failed"):
            code, detail = "csrf_failed", str(_("页面安全校验（CSRF）未通过：请刷新页面后重试；程序调用请使用 API 令牌。"))
        else:
            detail = text if text and _is_chinese(text) else fallback
            own_code = getattr(raw, "code", None)
            if own_code and own_code not in {"error", "invalid"}:
                code = own_code
    response.data = {"detail": detail, "code": code, "errors": errors}
    return response


__all__ = [
    "AccessLogListMixin", "Conflict", "MultiIdFilter", "Pagination", "SafeOrderingFilter", "SafeSearchFilter",
    "ScopedPermission", "ScopedRelatedField", "ScopedViewSetMixin", "VersionedModelSerializer",
    "exception_handler", "scope_action_for",
]


def api_not_found(request, *args, **kwargs):
    """404 for an unknown ``/api/`` address, in the API's error shape (Chinese)."""
    from django.http import JsonResponse

    return JsonResponse(
        {"detail": str(_("没有这个接口地址。请查看 /api/docs/。")), "code": "not_found", "errors": {}}, status=404
    )
