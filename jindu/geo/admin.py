from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from jindu.core.admin import ScopedAdminMixin
from jindu.geo.models import Division, Population


@admin.register(Division)
class DivisionAdmin(ScopedAdminMixin, SimpleHistoryAdmin):
    list_display = ["code", "name", "level", "town_kind", "parent", "is_active"]
    list_filter = ["level", "town_kind", "is_active"]
    search_fields = ["code", "name"]
    raw_id_fields = ["parent"]
    readonly_fields = ["path", "depth"]


@admin.register(Population)
class PopulationAdmin(ScopedAdminMixin, SimpleHistoryAdmin):
    list_display = ["division", "year", "kind", "population", "confidence"]
    list_filter = ["kind", "year"]
    search_fields = ["division__name", "division__code"]
    raw_id_fields = ["division"]
