"""Writes on accounts: granting and revoking roles, API tokens.

Every function is keyword-only and runs in one transaction. The audit row for a grant,
revocation or token change is written by the signal handlers in
:mod:`jindu.accounts.signals` — the single writer, so the same change made through
pages, API, services or Django admin leaves exactly one event. Services hand the handler
their actor and reason through attributes on the instance (``_audit_actor``,
``_audit_reason``) instead of writing a second event.

Escalation rule (who may grant what): the actor needs ``accounts.add_roleassignment``
(``delete_roleassignment`` to revoke) in a subtree containing the assignment's division,
and the role's permissions must be a subset of the permissions the actor holds in
subtrees containing that division; a narrowing ``assigned_only`` grant of the actor does
not count towards granting a role without that narrowing. Nobody grants to themself.
Superusers are exempt (they can do everything anyway).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from rest_framework.authtoken.models import Token

from jindu.accounts.models import Role, RoleAssignment, User
from jindu.core.scope import ScopeGrant, user_grants
from jindu.geo.models import Division


def _covering_grants(actor: Any, division: Division) -> list[ScopeGrant]:
    return [g for g in user_grants(actor) if division.path.startswith(g.division_path)]


def role_permission_names(role: Role) -> frozenset[str]:
    return frozenset(
        f"{p.content_type.app_label}.{p.codename}" for p in role.permissions.select_related("content_type")
    )


def check_may_manage(*, actor: Any, role: Role, division: Division, action: str) -> None:
    """Raise ``PermissionDenied`` (Chinese message) unless ``actor`` may grant/revoke ``role`` in ``division``.

    ``action`` is ``"add"`` (grant) or ``"delete"`` (revoke). See the module docstring for
    the rule.
    """
    if actor is None or not actor.is_authenticated or not actor.is_active:
        raise PermissionDenied(_("请先登录。"))
    if actor.is_superuser:
        return
    covering = _covering_grants(actor, division)
    needed = f"accounts.{action}_roleassignment"
    if not any(needed in g.permissions for g in covering):
        raise PermissionDenied(
            _("您无权在“%(division)s”范围内%(verb)s角色。")
            % {"division": division.name, "verb": _("授予") if action == "add" else _("撤销")}
        )
    own: set[str] = set()
    for g in covering:
        if g.assigned_only and not role.assigned_only:
            continue
        own |= g.permissions
    missing = sorted(role_permission_names(role) - own)
    if missing:
        raise PermissionDenied(
            _("角色“%(role)s”包含您在该范围内没有的权限（%(perms)s），不能%(verb)s。")
            % {"role": role.name, "perms": "、".join(missing[:5]) + ("…" if len(missing) > 5 else ""),
               "verb": _("授予") if action == "add" else _("撤销")}
        )


def grant_role(*, actor: Any, user: User, role: Role, division: Division, note: str = "") -> RoleAssignment:
    """Give ``user`` the ``role`` within the subtree rooted at ``division``.

    Returns the new :class:`RoleAssignment`. Raises ``PermissionDenied`` when the actor
    may not (see module docstring; granting to oneself is always refused) and
    ``ValidationError`` when the user already holds that role there. Audited once
    (``accounts.role_granted``) by the signal handler.
    """
    if actor is not None and actor.pk == user.pk:
        raise PermissionDenied(_("不能给自己授予角色。"))
    check_may_manage(actor=actor, role=role, division=division, action="add")
    with transaction.atomic():
        if RoleAssignment.objects.filter(user=user, role=role, division=division).exists():
            raise ValidationError(
                _("%(user)s 已在“%(division)s”拥有角色“%(role)s”。")
                % {"user": user, "division": division.name, "role": role.name}
            )
        assignment = RoleAssignment(user=user, role=role, division=division, granted_by=actor, note=note.strip())
        assignment._audit_actor = actor
        assignment._audit_reason = note.strip()
        assignment.save()
    user.refresh_grants()
    return assignment


def revoke_role(*, actor: Any, assignment: RoleAssignment, reason: str) -> None:
    """Remove a grant. ``reason`` is required (it goes into the audit row).

    Raises ``ValidationError`` without a reason, ``PermissionDenied`` when the actor may
    not revoke it (same rule as granting). Audited once (``accounts.role_revoked``).
    """
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(_("撤销授权必须填写原因。"))
    check_may_manage(actor=actor, role=assignment.role, division=assignment.division, action="delete")
    with transaction.atomic():
        assignment._audit_actor = actor
        assignment._audit_reason = reason
        assignment.delete()
    assignment.user.refresh_grants()


def _check_token_actor(actor: Any, user: User) -> None:
    if actor is None or not actor.is_authenticated or not actor.is_active:
        raise PermissionDenied(_("请先登录。"))
    if actor.pk != user.pk and not actor.is_superuser:
        raise PermissionDenied(_("只能管理自己的 API 令牌。"))


def create_token(*, actor: Any, user: User) -> Token:
    """Create (or replace) ``user``'s API token and return it; the key is shown once.

    Only the user themself or a superuser may. Any previous token stops working.
    Audited by the signal handlers (``accounts.token_revoked`` for a replaced token, then
    ``accounts.token_created``); the key itself is never written to the audit trail.
    """
    _check_token_actor(actor, user)
    with transaction.atomic():
        for old in Token.objects.filter(user=user):
            old._audit_actor = actor
            old._audit_reason = _("重新生成令牌")
            old.delete()
        token = Token(user=user)
        token._audit_actor = actor
        token.save()
    return token


def revoke_token(*, actor: Any, user: User) -> bool:
    """Delete ``user``'s API token; returns whether there was one. Audited."""
    _check_token_actor(actor, user)
    with transaction.atomic():
        tokens = list(Token.objects.filter(user=user))
        for t in tokens:
            t._audit_actor = actor
            t.delete()
    return bool(tokens)
