from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from jindu.core.admin import ScopedAdminMixin
from jindu.geo.models import Division


@admin.register(Division)
class DivisionAdmin(ScopedAdminMixin, SimpleHistoryAdmin):
    list_display = ["code", "name", "level", "town_kind", "parent", "is_active"]
    list_filter = ["level", "town_kind", "is_active"]
    search_fields = ["code", "name"]
    raw_id_fields = ["parent"]
    readonly_fields = ["path", "depth"]
