"""Write helpers shared by every app's services: versioned partial updates and scope re-checks.

Patterns: HackSoft's ``model_update`` (explicit allow-list of fields, returns whether
anything changed) and NetBox's ``ObjectEditView.post`` (save in a transaction, read the
row back through the restricted queryset, roll back if the user could no longer see it).
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from django.core.exceptions import PermissionDenied
from django.db import models, transaction
from django.utils.translation import gettext as _

from jindu.core.models import StaleEditError
from jindu.core.scope import CHANGE


def ensure_in_scope(instance: models.Model, *, user: Any, action: str = CHANGE) -> None:
    """Raise ``PermissionDenied`` unless ``instance`` (already saved) is within ``user``'s scope.

    Call inside the writing transaction, after the save: the exception rolls the write back,
    so a record can never be moved out of the scope of the user who moved it.
    """
    model = type(instance)
    if not model._default_manager.restrict(user, action).filter(pk=instance.pk).exists():
        raise PermissionDenied(_("该记录超出您的管辖范围，操作已撤销。"))


def update_versioned(
    instance: models.Model,
    *,
    user: Any,
    data: Mapping[str, Any],
    fields: Iterable[str],
    expected_version: int | None,
) -> tuple[models.Model, bool]:
    """Apply ``data`` restricted to ``fields`` to ``instance`` if its version still matches.

    Returns ``(instance, changed)``. The row is locked (``SELECT … FOR UPDATE``), its stored
    ``version`` compared with ``expected_version`` (``None`` skips the check, for callers
    that hold the lock themselves), the allowed fields set, ``version`` incremented and the
    row saved (history recorded); then the scope is re-checked.

    Raises :class:`StaleEditError` when someone saved in between, ``PermissionDenied`` when
    the edit would move the row out of ``user``'s scope. Either way nothing is written.
    """
    model = type(instance)
    allowed = set(fields)
    with transaction.atomic():
        locked = model._default_manager.select_for_update().get(pk=instance.pk)
        if expected_version is not None and locked.version != expected_version:
            raise StaleEditError(expected_version, locked.version)
        changed_fields = []
        for name, value in data.items():
            if name not in allowed:
                continue
            field = model._meta.get_field(name)
            if field.many_to_many:
                continue
            if getattr(locked, name) != value:
                setattr(locked, name, value)
                changed_fields.append(name)
        if changed_fields:
            locked.version += 1
            locked.save()
            ensure_in_scope(locked, user=user, action=CHANGE)
        return locked, bool(changed_fields)
