"""Reads on accounts, always given the acting user and always scoped."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from jindu.accounts.models import Role, RoleAssignment, User
from jindu.core.scope import ADD, VIEW, grant_roots, permission_name, subtree_q, user_grants
from jindu.geo.models import Division
from jindu.org.models import Unit


def users_for(actor: Any) -> QuerySet[User]:
    """Users the actor may see (their unit sits in one of the actor's subtrees)."""
    return User.objects.restrict(actor, VIEW).select_related("unit")


def grants_visible_to(actor: Any, *, user: User | None = None) -> QuerySet[RoleAssignment]:
    """Role assignments the actor may see, optionally only those of ``user``."""
    qs = RoleAssignment.objects.restrict(actor, VIEW).select_related("role", "division", "granted_by")
    return qs.filter(user=user) if user is not None else qs


def grant_divisions(actor: Any) -> QuerySet[Division]:
    """Divisions in which the actor may grant roles (subtrees of their grant-carrying roles)."""
    cond = subtree_q(grant_roots(actor, permission_name(RoleAssignment, ADD)))
    return Division.objects.none() if cond is None else Division.objects.filter(cond)


def roles() -> QuerySet[Role]:
    return Role.objects.all()


def grantable_roles(actor: Any) -> QuerySet[Role]:
    """Roles the actor could grant in at least one division (the escalation rule of
    :mod:`jindu.accounts.services`): each role's permissions are a subset of what the actor
    holds at some point of their granting subtrees. Superusers: every role.

    The actor's own permissions only grow deeper in a subtree (more grants cover it), so
    the points worth checking are the granting roots and the actor's grant divisions
    inside them. Roles are few; they are compared in Python.
    """
    if actor is None or not getattr(actor, "is_authenticated", False):
        return Role.objects.none()
    if actor.is_superuser and actor.is_active:
        return Role.objects.all()
    roots = grant_roots(actor, permission_name(RoleAssignment, ADD))
    if roots is not None and not roots:
        return Role.objects.none()
    roots = [""] if roots is None else roots
    grants = user_grants(actor)
    points = set(roots) | {g.division_path for g in grants if g.division_path.startswith(tuple(roots))}
    # (permissions held at a point, whether they include narrowed assigned_only grants)
    owned: list[tuple[set[str], bool]] = []
    for point in points:
        covering = [g for g in grants if point.startswith(g.division_path)]
        owned.append(({p for g in covering if not g.assigned_only for p in g.permissions}, False))
        owned.append(({p for g in covering for p in g.permissions}, True))
    allowed = []
    for role in Role.objects.prefetch_related("permissions__content_type"):
        perms = {f"{p.content_type.app_label}.{p.codename}" for p in role.permissions.all()}
        if any(perms <= own for own, narrowed in owned if role.assigned_only or not narrowed):
            allowed.append(role.pk)
    return Role.objects.filter(pk__in=allowed)


def manageable_units(actor: Any, perm: str = "accounts.add_user") -> QuerySet[Unit]:
    """Units under which the actor may create users (``perm`` held at the unit's division)."""
    cond = subtree_q(grant_roots(actor, perm), field="division__path")
    return Unit.objects.none() if cond is None else Unit.objects.filter(cond).select_related("division")
