"""Users, roles and the division subtrees in which each role is held."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser, Permission
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from jindu.core.fields import PhoneNumberField
from jindu.core.models import NormalizedTextModel
from jindu.core.scope import ScopedManager, ScopedQuerySet, ScopeGrant
from jindu.geo.models import Division
from jindu.org.models import Unit


class UserManager(DjangoUserManager.from_queryset(ScopedQuerySet)):
    pass


class User(NormalizedTextModel, AbstractUser):
    """A person who signs in to Jindu: commission staff, officers, social workers, assessors.

    What a user may do comes only from :class:`RoleAssignment` rows (role × division
    subtree); Django groups and direct permissions are not used for data access.
    """

    full_name = models.CharField(_("姓名"), max_length=50, blank=True)
    phone = PhoneNumberField(_("手机号"), blank=True)
    unit = models.ForeignKey(
        Unit, verbose_name=_("所在单位"), null=True, blank=True, on_delete=models.SET_NULL, related_name="users"
    )
    is_demo = models.BooleanField(_("演示账号"), default=False, editable=False)

    person_name_fields = ("full_name",)
    history = HistoricalRecords(excluded_fields=["password", "last_login"])
    objects = UserManager()
    # A user is visible where their unit sits; users without a unit only to country-wide grants.
    scope_division_path = "unit__division"

    class Meta(AbstractUser.Meta):
        verbose_name = _("用户")
        verbose_name_plural = _("用户")
        permissions = [("view_identity_number", _("查看完整身份证号"))]

    def __str__(self) -> str:
        return self.full_name or self.username

    def get_scope_grants(self) -> list[ScopeGrant]:
        """The user's active grants, loaded once per user object (2 queries)."""
        cached = getattr(self, "_scope_grants", None)
        if cached is None:
            cached = []
            assignments = (
                self.role_assignments.select_related("role", "division")
                .prefetch_related("role__permissions__content_type")
            )
            for a in assignments:
                perms = frozenset(f"{p.content_type.app_label}.{p.codename}" for p in a.role.permissions.all())
                cached.append(
                    ScopeGrant(role=a.role.code, permissions=perms, division_path=a.division.path,
                               assigned_only=a.role.assigned_only)
                )
            self._scope_grants = cached
        return cached

    def refresh_grants(self) -> None:
        self.__dict__.pop("_scope_grants", None)
        self._scope_grants = None

    def role_codes(self) -> set[str]:
        return {g.role for g in self.get_scope_grants()}


class Role(models.Model):
    """A job role (city office admin, town office, social worker, police …) and its permissions.

    Defaults are defined in :mod:`jindu.accounts.roles` and created after migration;
    changes made later (admin, API) are audited. ``assigned_only`` roles see rows of
    models that declare an assignee only when the row is assigned to them.
    """

    code = models.SlugField(_("代码"), max_length=50, unique=True)
    name = models.CharField(_("名称"), max_length=50)
    description = models.TextField(_("说明"), blank=True)
    permissions = models.ManyToManyField(Permission, verbose_name=_("权限"), blank=True, related_name="+")
    assigned_only = models.BooleanField(_("仅限分配给本人的对象"), default=False)
    requires_otp = models.BooleanField(_("需要二次验证"), default=False)
    # Permission names the default-role sync has ever given this role; a permission an
    # administrator removed stays removed because it is recorded here.
    seeded_permissions = models.JSONField(default=list, editable=False)

    history = HistoricalRecords(m2m_fields=[permissions])

    class Meta:
        verbose_name = _("角色")
        verbose_name_plural = _("角色")
        ordering = ["id"]

    def __str__(self) -> str:
        # Default roles' names are msgids (accounts/roles.py): shown in the user's language.
        return gettext(self.name)


class RoleAssignment(models.Model):
    """A grant: ``user`` holds ``role`` within the subtree rooted at ``division``."""

    user = models.ForeignKey(User, verbose_name=_("用户"), on_delete=models.CASCADE, related_name="role_assignments")
    role = models.ForeignKey(Role, verbose_name=_("角色"), on_delete=models.PROTECT, related_name="assignments")
    division = models.ForeignKey(Division, verbose_name=_("管辖区划"), on_delete=models.PROTECT, related_name="+")
    granted_by = models.ForeignKey(
        User, verbose_name=_("授权人"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    granted_at = models.DateTimeField(_("授权时间"), auto_now_add=True)
    note = models.CharField(_("备注"), max_length=255, blank=True)

    history = HistoricalRecords()
    objects = ScopedManager()
    scope_division_path = "division"

    class Meta:
        verbose_name = _("角色授权")
        verbose_name_plural = _("角色授权")
        ordering = ["user__username", "role_id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "role", "division"], name="accounts_assignment_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.role} · {self.division}"
