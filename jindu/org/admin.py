from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from jindu.core.admin import ScopedAdminMixin
from jindu.org.models import CommissionMembership, Pairing, Unit


@admin.register(Unit)
class UnitAdmin(ScopedAdminMixin, SimpleHistoryAdmin):
    list_display = ["name", "kind", "division", "head_name", "is_active", "is_demo"]
    list_filter = ["kind", "is_active", "is_demo"]
    search_fields = ["name", "short_name"]
    raw_id_fields = ["division", "parent"]
    filter_horizontal = ["jurisdiction"]
    readonly_fields = ["version"]


@admin.register(CommissionMembership)
class CommissionMembershipAdmin(ScopedAdminMixin, SimpleHistoryAdmin):
    list_display = ["year", "unit", "role"]
    list_filter = ["year", "role"]
    raw_id_fields = ["unit"]
    readonly_fields = ["version"]


@admin.register(Pairing)
class PairingAdmin(ScopedAdminMixin, SimpleHistoryAdmin):
    list_display = ["year", "unit", "town", "note"]
    list_filter = ["year"]
    raw_id_fields = ["unit", "town"]
    readonly_fields = ["version"]
