"""Django admin for the framework models, and :class:`ScopedAdminMixin` for every app's admin.

Admin is a staff tool, not a way around scope: a staff user who is not a superuser sees
and edits only the rows their roles reach (``restrict(user, action)``), and admin writes
are audited by the same signals and history as every other path.
"""

from __future__ import annotations

from django.contrib import admin

from jindu.core.models import AccessLog, AuditEvent, ImportBatch, Job
from jindu.core.scope import CHANGE, DELETE, VIEW


class ScopedAdminMixin:
    """Admin querysets restricted like everything else; change/delete re-checked per row."""

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if getattr(self.model, "scope_division_path", None) is None:
            return qs
        return qs.restrict(request.user, VIEW)

    def _row_allowed(self, request, obj, action) -> bool:
        if obj is None or getattr(self.model, "scope_division_path", None) is None:
            return True
        return self.model._default_manager.restrict(request.user, action).filter(pk=obj.pk).exists()

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self._row_allowed(request, obj, CHANGE)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and self._row_allowed(request, obj, DELETE)


class ReadOnlyAdmin(admin.ModelAdmin):
    """The audit trail is append-only: nobody adds, edits or deletes it through admin."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["occurred_at", "actor_repr", "action", "target_repr", "reason"]
    list_filter = ["action"]
    search_fields = ["actor_repr", "action", "target_repr", "target_id"]
    date_hierarchy = "occurred_at"


@admin.register(AccessLog)
class AccessLogAdmin(ReadOnlyAdmin):
    list_display = ["at", "user_repr", "kind", "model", "result_count", "path"]
    list_filter = ["kind", "model"]
    search_fields = ["user_repr", "model", "path"]
    date_hierarchy = "at"


@admin.register(ImportBatch)
class ImportBatchAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "importer", "original_name", "status", "total_rows", "valid_rows", "created_by"]
    list_filter = ["importer", "status"]


@admin.register(Job)
class JobAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "kind", "title", "status", "progress_done", "progress_total", "created_by"]
    list_filter = ["kind", "status"]
