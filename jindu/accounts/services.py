"""Writes on accounts: users (create, deactivate/reactivate, password and second-factor
resets), granting and revoking roles, API tokens.

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

Who may manage a user (create, deactivate, reactivate, reset password or second factor):
the actor holds ``accounts.add_user`` (create) or ``accounts.change_user`` (the others) in
a subtree containing the user's unit's division — a user is in scope through their unit;
a user without a unit only for country-wide grants. Managing an existing user also
requires that the actor could grant every role the user holds (the escalation rule above),
so a district office can never take over a city administrator's account by resetting its
password. Superuser and staff accounts are managed only by superusers. Nobody manages
their own account through these functions.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from rest_framework.authtoken.models import Token

from jindu.accounts import otp
from jindu.accounts.models import Role, RoleAssignment, User
from jindu.core.audit import record_event
from jindu.core.phones import normalize_phone
from jindu.core.scope import ADD, ScopeGrant, grant_roots, user_grants
from jindu.core.services import ensure_in_scope
from jindu.geo.models import Division
from jindu.org.models import Unit


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
    if missing_permissions(actor=actor, role=role, division=division):
        # The refusal names no permission codenames: they mean nothing to the reader and
        # describe the system's internals (tester's finding B6/3).
        raise PermissionDenied(
            _("角色“%(role)s”的权限超出了您在“%(division)s”范围内拥有的权限，您不能%(verb)s该角色。")
            % {"role": role, "division": division.name,
               "verb": _("授予") if action == "add" else _("撤销")}
        )


def missing_permissions(*, actor: Any, role: Role, division: Division,
                        role_perms: frozenset[str] | None = None) -> set[str]:
    """Permission names of ``role`` that ``actor`` does not hold in subtrees containing ``division``.

    Empty for superusers. A narrowing ``assigned_only`` grant of the actor counts only
    towards roles with the same narrowing.
    """
    if actor.is_superuser:
        return set()
    own: set[str] = set()
    for g in _covering_grants(actor, division):
        if g.assigned_only and not role.assigned_only:
            continue
        own |= g.permissions
    return set((role_perms if role_perms is not None else role_permission_names(role)) - own)


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
    A user who must pass the second factor (:mod:`jindu.accounts.otp`) gets a token only
    from an OTP-verified session (``actor`` is the request's user); the audit event then
    says ``{"otp_verified": true}``, which
    :class:`jindu.accounts.authentication.TokenAuthentication` requires of such users.
    Audited by the signal handlers (``accounts.token_revoked`` for a replaced token, then
    ``accounts.token_created``); the key itself is never written to the audit trail.
    """
    _check_token_actor(actor, user)
    verified = actor.pk == user.pk and otp.is_verified(actor)
    if otp.otp_enforced() and otp.otp_required(user) and not verified:
        raise PermissionDenied(_("您的账号需要二次验证：请先完成动态验证码验证，再生成 API 令牌。"))
    with transaction.atomic():
        for old in Token.objects.filter(user=user):
            old._audit_actor = actor
            old._audit_reason = _("重新生成令牌")
            old.delete()
        token = Token(user=user)
        token._audit_actor = actor
        token._audit_changes = {"otp_verified": verified}
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


# -- users -------------------------------------------------------------------------------
_PASSWORD_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"


def generate_password() -> str:
    """A random 16-character password (letters without look-alikes, digits, one hyphen),
    about 93 bits; passes the project's password validators."""
    while True:
        raw = "".join(secrets.choice(_PASSWORD_ALPHABET) for _i in range(15))
        if any(c.isdigit() for c in raw) and any(c.isupper() for c in raw) and any(c.islower() for c in raw):
            return f"{raw[:8]}-{raw[8:]}"


def _check_actor(actor: Any) -> None:
    if actor is None or not actor.is_authenticated or not actor.is_active:
        raise PermissionDenied(_("请先登录。"))


def _holds_at_unit(actor: Any, perm: str, unit: Unit | None) -> bool:
    roots = grant_roots(actor, perm)
    if roots is None:
        return True
    path = unit.division.path if unit is not None and unit.division_id else None
    return path is not None and any(path.startswith(r) for r in roots)


def check_may_manage_user(*, actor: Any, user: User, perm: str = "accounts.change_user") -> None:
    """Raise ``PermissionDenied`` (Chinese message) unless ``actor`` may manage ``user``.

    See the module docstring for the rule.
    """
    _check_actor(actor)
    if actor.pk == user.pk:
        raise PermissionDenied(_("不能对自己的账号执行此操作。"))
    if actor.is_superuser:
        return
    if user.is_superuser or user.is_staff:
        raise PermissionDenied(_("该账号是系统管理员账号，只有超级管理员可以管理。"))
    if not _holds_at_unit(actor, perm, user.unit):
        raise PermissionDenied(_("该用户不在您可管理的范围内。"))
    for a in user.role_assignments.select_related("role", "division"):
        if missing_permissions(actor=actor, role=a.role, division=a.division) or not _covering_grants(
            actor, a.division
        ):
            raise PermissionDenied(
                _("该用户拥有角色“%(role)s”（%(division)s），权限超出您的范围，您不能管理该账号。")
                % {"role": a.role, "division": a.division.name}
            )


def _checked_password(password: str | None, user: User) -> tuple[str, bool]:
    if password:
        try:
            validate_password(password, user=user)
        except ValidationError as exc:
            raise ValidationError({"password": exc.messages}) from exc
        return password, False
    return generate_password(), True


def create_user(
    *, actor: Any, username: str, full_name: str, unit: Unit, phone: str = "", password: str | None = None,
) -> tuple[User, str | None]:
    """Create an active user of ``unit`` and return ``(user, generated_password)``.

    ``password``: an initial password meeting ``AUTH_PASSWORD_VALIDATORS``; when empty one
    is generated (:func:`generate_password`) and returned so it can be shown once —
    otherwise ``generated_password`` is ``None``. The new user holds no role; grant one
    afterwards. Raises ``PermissionDenied`` when the actor lacks ``accounts.add_user`` at
    the unit's division, ``ValidationError`` (``{field: [messages]}``: ``username``,
    ``full_name``, ``phone``, ``unit``, ``password``) for bad input; nothing is written then.
    Audited as ``accounts.user_created`` (never with the password).
    """
    _check_actor(actor)
    errors: dict[str, list[str]] = {}
    username = (username or "").strip()
    full_name = (full_name or "").strip()
    if not username:
        errors["username"] = [_("请填写用户名。")]
    else:
        try:
            User.username_validator(username)
        except ValidationError:
            errors["username"] = [_("用户名只能包含字母、数字和 @ . + - _ 字符，且不超过 150 个字符。")]
        if len(username) > 150:
            errors["username"] = [_("用户名只能包含字母、数字和 @ . + - _ 字符，且不超过 150 个字符。")]
        elif User.objects.filter(username__iexact=username).exists():
            errors["username"] = [_("用户名“%(username)s”已被使用。") % {"username": username}]
    if not full_name:
        errors["full_name"] = [_("请填写姓名。")]
    elif len(full_name) > 50:
        errors["full_name"] = [_("姓名不能超过 50 个字符。")]
    if phone and phone.strip():
        try:
            phone = normalize_phone(phone)
        except ValidationError as exc:
            errors["phone"] = [_("手机号：%(reason)s。") % {"reason": exc.messages[0]}]
    else:
        phone = ""
    if unit is None:
        errors["unit"] = [_("请选择所在单位。")]
    elif not unit.is_active:
        errors["unit"] = [_("单位“%(unit)s”已停用，不能在其下创建用户。") % {"unit": unit}]
    elif not _holds_at_unit(actor, "accounts.add_user", unit):
        raise PermissionDenied(_("您无权在单位“%(unit)s”下创建用户。") % {"unit": unit})
    user = User(username=username, full_name=full_name, phone=phone, unit=unit, is_active=True)
    if not errors:
        try:
            password, generated = _checked_password(password, user)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        user.set_password(password)
        user.save()
        ensure_in_scope(user, user=actor, action=ADD)
        record_event(action="accounts.user_created", target=user, actor=actor,
                     changes={"username": username, "unit": unit.pk, "password_generated": generated})
    return user, (password if generated else None)


def set_user_active(*, actor: Any, user: User, active: bool, reason: str) -> bool:
    """Deactivate (``active=False``) or reactivate a user; users are never deleted.

    ``reason`` is required. Deactivating also voids the user's API token (so reactivating
    does not bring an old token back); the user's sessions stop working at once because
    inactive users are not authenticated. Returns whether anything changed. Raises
    ``ValidationError`` without a reason, ``PermissionDenied`` per
    :func:`check_may_manage_user`. Audited as ``accounts.user_deactivated`` /
    ``accounts.user_reactivated``.
    """
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [_("请填写原因。")]})
    check_may_manage_user(actor=actor, user=user)
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if locked.is_active == active:
            return False
        locked.is_active = active
        locked._audit_actor = actor
        locked._audit_reason = reason
        locked._audit_action = "accounts.user_reactivated" if active else "accounts.user_deactivated"
        locked.save(update_fields=["is_active"])
        if not active:
            for t in Token.objects.filter(user=locked):
                t._audit_actor = actor
                t._audit_reason = reason
                t.delete()
    user.is_active = active
    return True


def reset_password(*, actor: Any, user: User, password: str | None = None, reason: str = "") -> str | None:
    """Set a new password for ``user``; returns the generated one (to show once) or ``None``.

    Every session of the user ends (Django's session hash changes with the password) and
    the user's API token is voided. Raises ``ValidationError`` (``{"password": [...]}``)
    for a password the validators refuse, ``PermissionDenied`` per
    :func:`check_may_manage_user`. Audited as ``accounts.password_reset`` (never the password).
    """
    check_may_manage_user(actor=actor, user=user)
    password, generated = _checked_password(password, user)
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        for t in Token.objects.filter(user=user):
            t._audit_actor = actor
            t._audit_reason = _("重置密码")
            t.delete()
        record_event(action="accounts.password_reset", target=user, actor=actor,
                     changes={"password_generated": generated}, reason=(reason or "").strip())
    return password if generated else None


# -- second factor -----------------------------------------------------------------------
def confirm_otp_device(*, user: User, device: Any) -> None:
    """Mark ``user``'s enrolment ``device`` confirmed after a correct first code; other
    unconfirmed devices are removed. Audited as ``accounts.otp_enrolled``."""
    with transaction.atomic():
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        type(device).objects.filter(user=user, confirmed=False).exclude(pk=device.pk).delete()
        record_event(action="accounts.otp_enrolled", target=user, actor=user,
                     changes={"device": device.persistent_id})


def reset_otp(*, actor: Any, user: User, reason: str) -> int:
    """Remove ``user``'s second-factor devices so they enrol again at their next login.

    Used when a phone is lost or replaced. ``reason`` is required. The user's API token is
    voided too (it was made with the old device). Returns the number of devices removed.
    Raises ``ValidationError`` without a reason, ``PermissionDenied`` per
    :func:`check_may_manage_user`. Audited as ``accounts.otp_reset``.
    """
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [_("请填写原因。")]})
    check_may_manage_user(actor=actor, user=user)
    if not otp.otp_installed():
        return 0
    from django_otp import devices_for_user

    with transaction.atomic():
        devices = list(devices_for_user(user, confirmed=None))
        for d in devices:
            d.delete()
        for t in Token.objects.filter(user=user):
            t._audit_actor = actor
            t._audit_reason = reason
            t.delete()
        record_event(action="accounts.otp_reset", target=user, actor=actor,
                     changes={"devices": len(devices)}, reason=reason)
    return len(devices)
