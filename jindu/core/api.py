"""DRF building blocks that keep the API scoped exactly like the pages.

- :class:`ScopedPermission`: authenticated users with the model permission for the HTTP
  method; object access is decided by the restricted queryset (out of scope → 404).
- :class:`SafeSearchFilter` / :class:`SafeOrderingFilter`: search and ordering only on the
  fields a view declares, so no role can probe fields it may not see.
- :class:`Pagination`: page-number paging with a stable tie-breaker (``pk``) so pages
  never repeat or skip rows that share a sort key.
"""

from __future__ import annotations

from rest_framework import filters, pagination, permissions

from jindu.core.scope import has_model_permission

_METHOD_ACTIONS = {
    "GET": "view", "HEAD": "view", "OPTIONS": "view",
    "POST": "add", "PUT": "change", "PATCH": "change", "DELETE": "delete",
}


class ScopedPermission(permissions.BasePermission):
    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated):
            return False
        # Remember the API user for the audit context (token auth happens after middleware).
        request._request._jindu_api_user = user
        queryset = getattr(view, "queryset", None)
        if queryset is None:
            return True
        return has_model_permission(user, queryset.model, _METHOD_ACTIONS.get(request.method, "view"))


class SafeSearchFilter(filters.SearchFilter):
    """Search only over ``view.search_fields``; nothing else is ever searchable."""


class SafeOrderingFilter(filters.OrderingFilter):
    """Order only by ``view.ordering_fields`` (never ``__all__``), then by ``pk``."""

    def get_valid_fields(self, queryset, view, context=None):
        fields = getattr(view, "ordering_fields", None)
        if not fields or fields == "__all__":
            return []
        return [(f, f) for f in fields]

    def filter_queryset(self, request, queryset, view):
        ordering = self.get_ordering(request, queryset, view)
        if ordering:
            return queryset.order_by(*ordering, "pk")
        return queryset


class Pagination(pagination.PageNumberPagination):
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
