"""Row-level scope: one ``restrict(user, action)`` for every queryset a user reaches.

The idea is NetBox's ``RestrictedQuerySet.restrict()`` with administrative divisions as
the constraint. A user holds *grants* (see :class:`ScopeGrant`): a role's permissions
valid in one division subtree, optionally narrowed to rows assigned to the user.
For a model ``M`` and action ``A`` the visible rows are the union, over the grants whose
permissions include ``<app>.<A>_<model>``, of the rows inside that grant's subtree.
Grants that do not carry the permission contribute nothing, so holding an extra role can
never widen what another role sees of a model it does not cover.

A scoped model declares, as class attributes:

- ``scope_division_path``: lookup path from the model to the geo division that decides
  jurisdiction (``"division"``, ``"residence_village"``, ``"unit__division"``). It must be
  a to-one path, so filtering on it can never duplicate rows.
- ``scope_assignee_path`` (optional): lookup path to the user a row is assigned to; grants
  with ``assigned_only`` see only rows where it equals the user. Models without it are
  invisible to ``assigned_only`` grants unless ``scope_assigned_only_sees_jurisdiction``
  is true (reference data such as divisions and units).
- ``scope_extra_q(user, action)`` (optional classmethod): a further filter OR-ed into the
  result — rows reachable another way (a person's approved temporary access; a transfer seen
  by the sending side). Returns ``None`` for nothing.
- ``scope_national = True`` instead, for national reference data (the controlled-substances
  list, legal thresholds): every row is visible to any grant carrying the permission.

The cost of a restricted query follows the user's subtree, not the table: the filter is
``<division_fk> IN (SELECT id FROM division WHERE path LIKE '<subtree>%')``, answered from
the foreign-key index.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from django.db import models
from django.db.models import Q

VIEW, ADD, CHANGE, DELETE = "view", "add", "change", "delete"


@dataclass(frozen=True)
class ScopeGrant:
    """One role held in one division subtree.

    ``permissions`` are Django permission names (``"org.view_unit"``); ``division_path``
    is the materialised path of the subtree root (``"46/4601/460107/"``); an empty path
    means the whole country. ``assigned_only`` narrows models that declare an assignee.
    """

    role: str
    permissions: frozenset[str]
    division_path: str
    assigned_only: bool = False


def permission_name(model: type[models.Model], action: str) -> str:
    """``"<app_label>.<action>_<model_name>"`` for ``model`` and ``action``."""
    return f"{model._meta.app_label}.{action}_{model._meta.model_name}"


def user_grants(user: Any) -> list[ScopeGrant]:
    """The user's grants; anonymous or inactive users have none.

    The user model supplies them through ``get_scope_grants()`` (accounts app), cached
    per request object by that method.
    """
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return []
    return list(user.get_scope_grants())


def _is_active_superuser(user: Any) -> bool:
    return user is not None and getattr(user, "is_superuser", False) and getattr(user, "is_active", False)


def grant_roots(user: Any, perm: str, *, include_assigned: bool = False) -> list[str] | None:
    """Division paths (minimal subtree roots) where ``user`` holds ``perm``.

    ``None`` means everywhere (active superuser, or a country-wide grant); ``[]`` nowhere.
    Assignment-narrowed grants count only with ``include_assigned``.
    """
    if _is_active_superuser(user):
        return None
    paths = [
        g.division_path for g in user_grants(user)
        if perm in g.permissions and (include_assigned or not g.assigned_only)
    ]
    roots = _minimal_roots(paths)
    return None if "" in roots else roots


def holds_permission_at(user: Any, perm: str, path: str | None, *, include_assigned: bool = False) -> bool:
    """Whether ``user`` holds ``perm`` in a subtree containing the division at ``path``
    (``None``: anywhere)."""
    roots = grant_roots(user, perm, include_assigned=include_assigned)
    if roots is None:
        return True
    return any(path is None or path.startswith(r) for r in roots)


def subtree_q(roots: list[str] | None, field: str = "path") -> Q | None:
    """Filter on a division ``path`` field for the subtrees ``roots`` (from :func:`grant_roots`):
    ``Q()`` for everywhere, ``None`` for nowhere."""
    if roots is None:
        return Q()
    if not roots:
        return None
    q = Q()
    for r in roots:
        q |= Q(**{f"{field}__startswith": r})
    return q


def _division_model(model: type[models.Model], path: str) -> type[models.Model]:
    current = model
    for part in path.split("__"):
        field = current._meta.get_field(part)
        if not (field.many_to_one or field.one_to_one):
            raise TypeError(f"{model.__name__}.scope_division_path {path!r} must be a to-one path")
        current = field.related_model
    return current


def scope_q(model: type[models.Model], user: Any, action: str) -> Q | None:
    """The filter selecting the rows ``user`` may ``action`` on ``model`` (see
    :func:`_grant_scope_q`), widened by the model's ``scope_extra_q`` when it declares one."""
    q = _grant_scope_q(model, user, action)
    extra = getattr(model, "scope_extra_q", None)
    if extra is None or q == Q():
        return q
    more = extra(user, action)
    if more is None:
        return q
    return more if q is None else q | more


def _grant_scope_q(model: type[models.Model], user: Any, action: str) -> Q | None:
    """The filter selecting the rows ``user`` may ``action`` on ``model``.

    Returns ``None`` when nothing is visible, ``Q()`` when everything is (superuser, or a
    country-wide grant without assignment narrowing).

    Raises ``TypeError`` if the model does not declare ``scope_division_path``.
    """
    if _is_active_superuser(user):
        return Q()
    if getattr(model, "scope_national", False):
        return Q() if has_model_permission(user, model, action) else None
    div_path = getattr(model, "scope_division_path", None)
    if div_path is None:
        raise TypeError(f"{model.__name__} does not declare scope_division_path")
    perm = permission_name(model, action)
    assignee_path = getattr(model, "scope_assignee_path", None)
    jurisdiction_ok = getattr(model, "scope_assigned_only_sees_jurisdiction", False)
    division_model = _division_model(model, div_path) if div_path else None

    subtree_paths: set[str] = set()
    assigned_paths: set[str] = set()
    for grant in user_grants(user):
        if perm not in grant.permissions:
            continue
        if grant.assigned_only and not jurisdiction_ok:
            if assignee_path is None:
                continue
            assigned_paths.add(grant.division_path)
        else:
            subtree_paths.add(grant.division_path)
    if not subtree_paths and not assigned_paths:
        return None

    def within(paths: Iterable[str]) -> Q:
        roots = _minimal_roots(paths)
        cond = subtree_q(None if "" in roots else roots)
        if not cond or not div_path:  # everywhere, or the model is the division tree itself
            return cond
        return Q(**{f"{div_path}__in": division_model.objects.filter(cond).values("pk")})

    result = Q(pk__in=[])
    if subtree_paths:
        result = within(subtree_paths)
    if assigned_paths:
        result |= within(assigned_paths) & Q(**{assignee_path: user})
    return result


def _minimal_roots(paths: Iterable[str]) -> list[str]:
    """Drop paths already covered by a shorter path in the set."""
    roots: list[str] = []
    for p in sorted(set(paths), key=len):
        if not any(p.startswith(r) for r in roots):
            roots.append(p)
    return roots


class ScopedQuerySet(models.QuerySet):
    """QuerySet with :meth:`restrict`; the only way views, API and selectors read rows."""

    def restrict(self, user: Any, action: str = VIEW) -> "ScopedQuerySet":
        """Rows of this queryset that ``user`` may ``action`` (view/add/change/delete).

        Anonymous users, users without the permission and users without a grant get an
        empty queryset; callers turn a miss into 404, the same answer as "does not exist".
        """
        q = scope_q(self.model, user, action)
        if q is None:
            return self.none()
        return self.filter(q) if q else self.all()


ScopedManager = models.Manager.from_queryset(ScopedQuerySet)


def has_model_permission(user: Any, model: type[models.Model], action: str) -> bool:
    """Whether any of the user's grants carries ``action`` on ``model`` (ignoring rows)."""
    if _is_active_superuser(user):
        return True
    perm = permission_name(model, action)
    return any(perm in g.permissions for g in user_grants(user))
