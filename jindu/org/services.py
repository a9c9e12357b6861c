"""Writes to units: keyword-only, one transaction each, each with its audit event.

Scope rule (DESIGN.md): after the write the unit is read back through the user's scope and
the transaction rolls back if the user could no longer reach it, so nobody can move a unit
out of their own jurisdiction (NetBox ``ObjectEditView.post``).
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from django.db import transaction

from jindu.core.audit import record_event
from jindu.core.scope import ADD, CHANGE
from jindu.core.services import ensure_in_scope, update_versioned
from jindu.geo.models import Division
from jindu.org.models import Unit

UNIT_FIELDS = (
    "name", "short_name", "kind", "division", "parent", "head_name", "head_title", "phone", "address", "is_active",
)


def _summary(data: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in data.items():
        out[k] = v.pk if hasattr(v, "pk") else v
    return out


def create_unit(*, user: Any, data: Mapping[str, Any], jurisdiction: Iterable[Division] = ()) -> Unit:
    """Create a unit from ``data`` (keys of :data:`UNIT_FIELDS`) serving ``jurisdiction``.

    Raises ``PermissionDenied`` (nothing written) when the new unit would lie outside the
    divisions where ``user`` may add units.
    """
    with transaction.atomic():
        unit = Unit(**{k: v for k, v in data.items() if k in UNIT_FIELDS})
        unit.full_clean()
        unit.save()
        unit.jurisdiction.set(list(jurisdiction))
        ensure_in_scope(unit, user=user, action=ADD)
        record_event(
            action="org.unit_created", target=unit, actor=user,
            changes={**_summary({k: data[k] for k in UNIT_FIELDS if k in data}),
                     "jurisdiction": sorted(d.pk for d in unit.jurisdiction.all())},
        )
    return unit


def update_unit(
    *,
    user: Any,
    unit: Unit,
    data: Mapping[str, Any],
    jurisdiction: Iterable[Division] | None = None,
    expected_version: int,
) -> tuple[Unit, bool]:
    """Apply ``data`` (keys of :data:`UNIT_FIELDS`) and, if given, the new ``jurisdiction``.

    Returns ``(unit, changed)``. Raises :class:`~jindu.core.models.StaleEditError` when
    the unit was saved by someone else since ``expected_version`` was read, and
    ``PermissionDenied`` when the edit would move it out of ``user``'s scope; either way
    nothing is written.
    """
    with transaction.atomic():
        # Read "before" from the locked row: a ModelForm has already written the user's
        # input onto ``unit`` while validating.
        stored = Unit.objects.select_for_update().get(pk=unit.pk)
        before = {f: getattr(stored, f"{f}_id" if f in ("division", "parent") else f) for f in UNIT_FIELDS}
        unit, changed = update_versioned(
            stored, user=user, data=data, fields=UNIT_FIELDS, expected_version=expected_version
        )
        changes = {}
        for f in UNIT_FIELDS:
            after = getattr(unit, f"{f}_id" if f in ("division", "parent") else f)
            if after != before[f]:
                changes[f] = [before[f], after]
        if jurisdiction is not None:
            old = set(unit.jurisdiction.values_list("pk", flat=True))
            new = {d.pk for d in jurisdiction}
            if old != new:
                unit.jurisdiction.set(list(new))
                changes["jurisdiction"] = [sorted(old), sorted(new)]
                if not changed:
                    # Only the served divisions changed: still a new version of the unit.
                    unit.version += 1
                    unit.save(update_fields=["version", "updated_at"])
                    ensure_in_scope(unit, user=user, action=CHANGE)
                changed = True
        if changed:
            record_event(action="org.unit_updated", target=unit, actor=user, changes=changes)
    return unit, changed
