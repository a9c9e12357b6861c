"""Authentication backend whose permissions come from role assignments (for Django admin
and ``user.has_perm``). Row-level answers come from :func:`jindu.core.scope.scope_q`."""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend


class RoleBackend(ModelBackend):
    def get_all_permissions(self, user_obj, obj=None):
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if user_obj.is_superuser:
            return super().get_all_permissions(user_obj)
        perms: set[str] = set()
        for grant in user_obj.get_scope_grants():
            perms |= grant.permissions
        return perms

    def get_user_permissions(self, user_obj, obj=None):
        return set()

    def get_group_permissions(self, user_obj, obj=None):
        return set()
