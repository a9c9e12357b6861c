"""Django admin for users, roles and grants.

Every change is audited by :mod:`jindu.accounts.signals` (flags, groups, role permissions,
grants, tokens). Grants made or removed here go through :mod:`jindu.accounts.services`,
so admin obeys the same escalation rule as pages and API.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from jindu.accounts import services
from jindu.accounts.models import Role, RoleAssignment, User
from jindu.core.admin import ScopedAdminMixin

ADMIN_REVOKE_REASON = _("在管理后台删除")


@admin.register(User)
class UserAdmin(ScopedAdminMixin, DjangoUserAdmin, SimpleHistoryAdmin):
    list_display = ["username", "full_name", "unit", "is_active", "is_staff", "is_superuser", "is_demo"]
    list_filter = ["is_active", "is_staff", "is_superuser", "is_demo"]
    search_fields = ["username", "full_name"]
    raw_id_fields = ["unit"]
    fieldsets = (
        *DjangoUserAdmin.fieldsets[:1],
        (_("个人信息"), {"fields": ("full_name", "phone", "unit", "email")}),
        (_("状态"), {"fields": ("is_active", "is_staff", "is_superuser", "groups")}),
        (_("时间"), {"fields": ("last_login", "date_joined")}),
    )
    readonly_fields = ["last_login", "date_joined"]


@admin.register(Role)
class RoleAdmin(SimpleHistoryAdmin):
    list_display = ["code", "name", "assigned_only", "requires_otp"]
    search_fields = ["code", "name"]
    filter_horizontal = ["permissions"]


class RoleAssignmentForm(forms.ModelForm):
    class Meta:
        model = RoleAssignment
        fields = ["user", "role", "division", "note"]

    def clean(self):
        data = super().clean()
        actor = self.request_user
        try:
            if data.get("user") and actor.pk == data["user"].pk:
                raise PermissionDenied(_("不能给自己授予角色。"))
            if data.get("role") and data.get("division"):
                services.check_may_manage(actor=actor, role=data["role"], division=data["division"], action="add")
        except PermissionDenied as exc:
            raise ValidationError(str(exc)) from exc
        return data


@admin.register(RoleAssignment)
class RoleAssignmentAdmin(ScopedAdminMixin, SimpleHistoryAdmin):
    form = RoleAssignmentForm
    list_display = ["user", "role", "division", "granted_by", "granted_at", "note"]
    list_filter = ["role"]
    search_fields = ["user__username", "user__full_name", "division__name", "division__code"]
    raw_id_fields = ["user", "division"]
    actions = ["revoke_selected"]

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        form.request_user = request.user
        return form

    def has_change_permission(self, request, obj=None):
        # A grant is made or revoked, never edited in place (its audit row would lie).
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        if change:  # pragma: no cover - change is disabled above
            raise PermissionDenied
        created = services.grant_role(actor=request.user, user=obj.user, role=obj.role, division=obj.division,
                                      note=obj.note)
        obj.pk = created.pk
        obj.granted_at = created.granted_at

    def delete_model(self, request, obj):
        services.revoke_role(actor=request.user, assignment=obj, reason=str(ADMIN_REVOKE_REASON))

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # bulk delete would bypass the services
        return actions

    @admin.action(description=_("撤销所选授权"), permissions=["delete"])
    def revoke_selected(self, request, queryset):
        done = 0
        for assignment in queryset.select_related("role", "division", "user"):
            try:
                services.revoke_role(actor=request.user, assignment=assignment, reason=str(ADMIN_REVOKE_REASON))
                done += 1
            except PermissionDenied as exc:
                self.message_user(request, f"{assignment}：{exc}", messages.ERROR)
        if done:
            self.message_user(request, _("已撤销 %(n)d 项授权。") % {"n": done}, messages.SUCCESS)
