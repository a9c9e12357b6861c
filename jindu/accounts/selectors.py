"""Reads on accounts, always given the acting user and always scoped."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from jindu.accounts.models import Role, RoleAssignment, User
from jindu.core.scope import ADD, VIEW, grant_roots, permission_name, subtree_q
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
    cond = subtree_q(grant_roots(actor, permission_name(RoleAssignment, ADD)))
    return Division.objects.none() if cond is None else Division.objects.filter(cond)


def roles() -> QuerySet[Role]:
    return Role.objects.all()
