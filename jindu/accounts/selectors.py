"""Reads on accounts, always given the acting user and always scoped."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from jindu.accounts.models import Role, RoleAssignment, User
from jindu.core.scope import ADD, VIEW, permission_name, user_grants
from jindu.geo.models import Division


def users_for(actor: Any) -> QuerySet[User]:
    """Users the actor may see (their unit sits in one of the actor's subtrees)."""
    return User.objects.restrict(actor, VIEW).select_related("unit")


def grants_visible_to(actor: Any, *, user: User | None = None) -> QuerySet[RoleAssignment]:
    """Role assignments the actor may see, optionally only those of ``user``."""
    qs = RoleAssignment.objects.restrict(actor, VIEW).select_related("role", "division", "granted_by")
    return qs.filter(user=user) if user is not None else qs


def grant_divisions(actor: Any) -> QuerySet[Division]:
    """Divisions in which the actor may grant roles (subtrees of their grant-carrying roles)."""
    if getattr(actor, "is_superuser", False) and actor.is_active:
        return Division.objects.all()
    perm = permission_name(RoleAssignment, ADD)
    paths = {g.division_path for g in user_grants(actor) if perm in g.permissions and not g.assigned_only}
    if not paths:
        return Division.objects.none()
    cond = Q()
    for p in paths:
        cond |= Q(path__startswith=p)
    return Division.objects.filter(cond)


def roles() -> QuerySet[Role]:
    return Role.objects.all()
