"""Audit of every change to who may see what: grants, roles, staff flags, groups.

Signal handlers, so that changes made in pages, the API and Django admin are all recorded.
These handlers are the only writers of these events: services (``jindu.accounts.services``)
do not call ``record_event`` for the same change but attach ``_audit_actor`` and
``_audit_reason`` to the instance, which the handlers use. Without them the acting user
comes from the request's audit context (admin, pages) and the reason from the grant note.
"""

from __future__ import annotations

from django.contrib.auth.models import Permission
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save
from django.dispatch import receiver
from rest_framework.authtoken.models import Token, TokenProxy

from jindu.accounts.models import Role, RoleAssignment, User
from jindu.core.audit import record_event

_WATCHED_USER_FLAGS = ("is_active", "is_staff", "is_superuser")


@receiver(post_save, sender=RoleAssignment)
def _grant_saved(sender, instance: RoleAssignment, created: bool, **kwargs):
    record_event(
        action="accounts.role_granted" if created else "accounts.role_grant_changed",
        target=instance.user,
        actor=getattr(instance, "_audit_actor", None),
        changes={"role": instance.role.code, "division": instance.division.code, "assignment": instance.pk},
        reason=getattr(instance, "_audit_reason", None) or instance.note,
    )


@receiver(post_delete, sender=RoleAssignment)
def _grant_deleted(sender, instance: RoleAssignment, **kwargs):
    record_event(
        action="accounts.role_revoked",
        target=instance.user if User.objects.filter(pk=instance.user_id).exists() else None,
        actor=getattr(instance, "_audit_actor", None),
        changes={"user": instance.user_id, "role": instance.role.code, "division": instance.division.code},
        reason=getattr(instance, "_audit_reason", ""),
    )


@receiver(post_save, sender=Token)
@receiver(post_save, sender=TokenProxy)
def _token_saved(sender, instance, created: bool, **kwargs):
    if created:  # the key is never logged
        # _audit_changes carries {"otp_verified": bool} from services.create_token, which
        # jindu.accounts.authentication reads back for privileged users.
        record_event(action="accounts.token_created", target=instance.user,
                     changes=getattr(instance, "_audit_changes", None),
                     actor=getattr(instance, "_audit_actor", None), reason=getattr(instance, "_audit_reason", ""))


@receiver(post_delete, sender=Token)
@receiver(post_delete, sender=TokenProxy)
def _token_deleted(sender, instance, **kwargs):
    user = User.objects.filter(pk=instance.user_id).first()
    record_event(action="accounts.token_revoked", target=user, changes={"user": instance.user_id},
                 actor=getattr(instance, "_audit_actor", None), reason=getattr(instance, "_audit_reason", ""))


@receiver(m2m_changed, sender=Role.permissions.through)
def _role_permissions_changed(sender, instance, action, pk_set, **kwargs):
    if action not in {"post_add", "post_remove", "post_clear"} or not isinstance(instance, Role):
        return
    names = sorted(
        f"{p.content_type.app_label}.{p.codename}"
        for p in Permission.objects.filter(pk__in=pk_set or []).select_related("content_type")
    )
    record_event(action=f"accounts.role_permissions_{action[5:]}", target=instance, changes={"permissions": names})


@receiver(m2m_changed, sender=User.groups.through)
@receiver(m2m_changed, sender=User.user_permissions.through)
def _user_groups_or_perms_changed(sender, instance, action, pk_set, **kwargs):
    if action not in {"post_add", "post_remove", "post_clear"} or not isinstance(instance, User):
        return
    what = "groups" if sender is User.groups.through else "permissions"
    record_event(action=f"accounts.user_{what}_{action[5:]}", target=instance, changes={what: sorted(pk_set or [])})


@receiver(pre_save, sender=User)
def _remember_flags(sender, instance: User, **kwargs):
    if instance.pk:
        old = User.objects.filter(pk=instance.pk).values(*_WATCHED_USER_FLAGS).first()
        instance._old_flags = old
    else:
        instance._old_flags = None


@receiver(post_save, sender=User)
def _flags_changed(sender, instance: User, created: bool, **kwargs):
    old = getattr(instance, "_old_flags", None)
    new = {f: getattr(instance, f) for f in _WATCHED_USER_FLAGS}
    if created:
        if instance.is_staff or instance.is_superuser:
            record_event(action="accounts.user_created_privileged", target=instance, changes=new)
        return
    if old and old != new:
        diff = {f: [old[f], new[f]] for f in _WATCHED_USER_FLAGS if old[f] != new[f]}
        # Services (set_user_active) name the action and give actor and reason.
        record_event(action=getattr(instance, "_audit_action", None) or "accounts.user_flags_changed",
                     target=instance, changes=diff, actor=getattr(instance, "_audit_actor", None),
                     reason=getattr(instance, "_audit_reason", ""))


def sync_roles(**kwargs):
    from jindu.accounts.roles import ensure_default_roles

    ensure_default_roles()
