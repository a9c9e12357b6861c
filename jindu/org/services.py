"""Writes to units, commission memberships and pairings: keyword-only, one transaction
each, each with exactly one audit event. Pages, the API and imports all call these.

Scope rule (DESIGN.md): after the write the unit is read back through the user's scope and
the transaction rolls back if the user could no longer reach it, so nobody can move a unit
out of their own jurisdiction (NetBox ``ObjectEditView.post``).
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from jindu.core.audit import record_event
from jindu.core.scope import ADD, CHANGE, DELETE, VIEW
from jindu.core.services import ensure_in_scope, update_versioned
from jindu.geo.choices import Level
from jindu.geo.models import Division
from jindu.org.choices import CommissionRole
from jindu.org.models import CommissionMembership, Pairing, Unit

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


def delete_unit(*, user: Any, unit: Unit, reason: str = "") -> None:
    """Delete a unit no record points at. Raises ``PermissionDenied`` outside the user's
    ``org.delete_unit`` scope and ``ProtectedError`` when pairings or users refer to it
    (deactivate it instead). Writes one ``org.unit_deleted`` event."""
    with transaction.atomic():
        if not Unit.objects.restrict(user, DELETE).filter(pk=unit.pk).exists():
            raise PermissionDenied(_("该单位不在您的管辖范围内。"))
        summary = {"name": unit.name, "kind": unit.kind, "division": unit.division_id}
        record_event(action="org.unit_deleted", target=unit, actor=user, changes=summary, reason=reason)
        unit._history_user = user
        unit.delete()


# -- commission membership by year (禁毒委成员单位名单) ------------------------------------
#
# A year's list is the set of CommissionMembership rows of that year. Every write is
# limited to rows the user may reach: ``add`` needs the new row inside the user's
# ``org.add_commissionmembership`` scope, a role change ``change``, a removal ``delete``.
# Rows of the year outside the user's scope are never touched (nor shown).

YEAR_MIN, YEAR_MAX = 1990, 2100


def check_year(year: Any, field: str = "year") -> int:
    """``year`` as an int in 1990–2100. Raises ``ValidationError`` naming ``field``."""
    try:
        value = int(year)
    except (TypeError, ValueError):
        raise ValidationError({field: _("年度应为四位数字，收到“%(value)s”。") % {"value": year}}) from None
    if not YEAR_MIN <= value <= YEAR_MAX:
        raise ValidationError({field: _("年度应在 %(lo)d–%(hi)d 之间，收到 %(value)d。")
                               % {"lo": YEAR_MIN, "hi": YEAR_MAX, "value": value}})
    return value


def _check_role(role: str) -> str:
    if role not in CommissionRole.values:
        raise ValidationError({"role": _("未知的职责“%(value)s”，应为：%(choices)s。")
                               % {"value": role, "choices": "、".join(str(label) for label in CommissionRole.labels)}})
    return role


def _visible_unit(user: Any, unit: Unit) -> Unit:
    found = Unit.objects.restrict(user, VIEW).filter(pk=unit.pk).first()
    if found is None:
        raise PermissionDenied(_("该单位不在您的管辖范围内。"))
    return found


def _member_summary(m: CommissionMembership) -> dict[str, Any]:
    return {"unit": m.unit_id, "unit_name": m.unit.name, "role": m.role}


def add_membership(*, user: Any, unit: Unit, year: int, role: str = CommissionRole.MEMBER) -> CommissionMembership:
    """Make ``unit`` a member of the commission in ``year`` with ``role``.

    Raises ``ValidationError`` for a bad year or role or when the unit is already a member
    that year, ``PermissionDenied`` when the unit is not visible to ``user`` or the row
    would lie outside their ``org.add_commissionmembership`` scope. Writes one
    ``org.membership_added`` event.
    """
    year = check_year(year)
    role = _check_role(role)
    with transaction.atomic():
        unit = _visible_unit(user, unit)
        if CommissionMembership.objects.filter(unit=unit, year=year).exists():
            raise ValidationError({"unit": _("%(unit)s已是 %(year)d 年成员单位。") % {"unit": unit.name, "year": year}})
        membership = CommissionMembership(unit=unit, year=year, role=role)
        membership._history_user = user
        membership.save()
        ensure_in_scope(membership, user=user, action=ADD)
        record_event(action="org.membership_added", target=membership, actor=user,
                     changes={"year": year, **_member_summary(membership)})
    return membership


def update_membership(
    *, user: Any, membership: CommissionMembership, data: Mapping[str, Any], expected_version: int | None
) -> tuple[CommissionMembership, bool]:
    """Change ``unit``, ``year`` or ``role`` of one membership (API edits).

    Returns ``(membership, changed)``. Raises :class:`StaleEditError` for a stale
    ``expected_version``, ``PermissionDenied`` when the result would leave the user's
    scope, ``ValidationError`` for a bad year or role. Writes one ``org.membership_updated``.
    """
    data = dict(data)
    if "year" in data:
        data["year"] = check_year(data["year"])
    if "role" in data:
        data["role"] = _check_role(data["role"])
    if "unit" in data:
        data["unit"] = _visible_unit(user, data["unit"])
    with transaction.atomic():
        stored = CommissionMembership.objects.select_for_update().get(pk=membership.pk)
        before = {"unit": stored.unit_id, "year": stored.year, "role": stored.role}
        updated, changed = update_versioned(stored, user=user, data=data, fields=("unit", "year", "role"),
                                            expected_version=expected_version)
        if changed:
            after = {"unit": updated.unit_id, "year": updated.year, "role": updated.role}
            record_event(action="org.membership_updated", target=updated, actor=user,
                         changes={k: [before[k], after[k]] for k in before if before[k] != after[k]})
    return updated, changed


def remove_membership(*, user: Any, membership: CommissionMembership, reason: str = "") -> None:
    """Remove one unit from one year's list. Raises ``PermissionDenied`` outside the user's
    ``org.delete_commissionmembership`` scope. Writes one ``org.membership_removed``."""
    with transaction.atomic():
        row = CommissionMembership.objects.restrict(user, DELETE).select_related("unit").filter(pk=membership.pk).first()
        if row is None:
            raise PermissionDenied(_("该成员记录不在您的管辖范围内。"))
        record_event(action="org.membership_removed", target=row, actor=user,
                     changes={"year": row.year, **_member_summary(row)}, reason=reason)
        row._history_user = user
        row.delete()


def set_memberships(
    *,
    user: Any,
    year: int,
    units_with_roles: Mapping[Unit, str] | Iterable[tuple[Unit, str]],
    reason: str = "",
    expected_versions: Mapping[int, int] | None = None,
) -> dict[str, list]:
    """Replace ``year``'s member list (within the user's scope) by ``units_with_roles``.

    ``units_with_roles`` maps units to :class:`~jindu.org.choices.CommissionRole` values
    (or is a list of ``(unit, role)`` pairs; a unit listed twice is refused). Units not in
    it lose their membership of that year, listed units are added or get their new role.
    Memberships of the year outside the user's scope are left as they are.

    ``expected_versions`` (unit id → membership ``version`` the editor read) makes the save
    refuse a list someone else changed meanwhile (a row's role changed or the row removed),
    instead of silently reverting their change.

    Returns the diff ``{"added": [...], "removed": [...], "role_changed": [...]}`` (each
    entry has ``unit``, ``unit_name`` and the roles). Nothing is written — not even an
    event — when the list is unchanged; otherwise one ``org.memberships_set`` event holds
    the whole diff. Raises ``ValidationError`` (year, role, duplicate unit),
    ``PermissionDenied`` when a unit is not visible or a needed add/change/delete
    permission is missing for one of the rows; either way nothing is written.
    """
    year = check_year(year)
    pairs = list(units_with_roles.items()) if isinstance(units_with_roles, Mapping) else list(units_with_roles)
    wanted: dict[int, tuple[Unit, str]] = {}
    for unit, role in pairs:
        if unit.pk in wanted:
            raise ValidationError({"unit": _("%(unit)s在名单中出现了两次。") % {"unit": unit.name}})
        wanted[unit.pk] = (unit, _check_role(role))
    diff: dict[str, list] = {"added": [], "removed": [], "role_changed": []}
    with transaction.atomic():
        current = {
            m.unit_id: m for m in CommissionMembership.objects.restrict(user, VIEW)
            .select_for_update(of=("self",)).select_related("unit").filter(year=year)
        }
        stale = [
            unit_pk for unit_pk, version in (expected_versions or {}).items()
            if unit_pk not in current or current[unit_pk].version != version
        ]
        if stale:
            raise ValidationError(
                _("名单在您打开后已被他人修改，未保存。请刷新页面后重新调整。"), code="stale"
            )
        visible_units = {u.pk: u for u in Unit.objects.restrict(user, VIEW).filter(pk__in=list(wanted))}
        missing = [u.name for pk, (u, _r) in wanted.items() if pk not in visible_units]
        if missing:
            raise PermissionDenied(_("以下单位不在您的管辖范围内：%(units)s。") % {"units": "、".join(missing)})
        hidden = set(CommissionMembership.objects.filter(year=year, unit_id__in=list(wanted))
                     .exclude(unit_id__in=list(current)).values_list("unit_id", flat=True))
        if hidden:
            # Already members through a row the user may not see: adding would collide.
            raise PermissionDenied(_("名单中有单位的成员记录不在您的管辖范围内，未保存。"))
        for unit_pk, m in sorted(current.items(), key=lambda kv: kv[1].unit.name):
            if unit_pk not in wanted:
                if not CommissionMembership.objects.restrict(user, DELETE).filter(pk=m.pk).exists():
                    raise PermissionDenied(_("您没有移除“%(unit)s”的权限。") % {"unit": m.unit.name})
                diff["removed"].append(_member_summary(m))
                m._history_user = user
                m.delete()
            elif m.role != wanted[unit_pk][1]:
                new_role = wanted[unit_pk][1]
                diff["role_changed"].append({"unit": unit_pk, "unit_name": m.unit.name, "role": [m.role, new_role]})
                m.role = new_role
                m.version += 1
                m._history_user = user
                m.save()
                ensure_in_scope(m, user=user, action=CHANGE)
        for unit_pk, (unit, role) in sorted(wanted.items(), key=lambda kv: visible_units[kv[0]].name):
            if unit_pk in current:
                continue
            m = CommissionMembership(unit=visible_units[unit_pk], year=year, role=role)
            m._history_user = user
            m.save()
            ensure_in_scope(m, user=user, action=ADD)
            diff["added"].append(_member_summary(m))
        if any(diff.values()):
            record_event(action="org.memberships_set", target=None, actor=user,
                         changes={"year": year, **diff}, reason=reason)
    return diff


def copy_memberships(*, user: Any, from_year: int, to_year: int, reason: str = "") -> list[CommissionMembership]:
    """Start ``to_year``'s list as a copy of ``from_year``'s (units and roles, within the
    user's scope; inactive units are left out). Returns the new rows.

    Raises ``ValidationError`` when the years are equal, ``from_year`` has no members or
    ``to_year`` already has some (adjust that list instead), ``PermissionDenied`` without
    ``org.add_commissionmembership`` for a row. Writes one ``org.memberships_copied``.
    """
    from_year, to_year = check_year(from_year, "from_year"), check_year(to_year, "to_year")
    if from_year == to_year:
        raise ValidationError({"to_year": _("复制的源年度与目标年度相同。")})
    with transaction.atomic():
        visible = CommissionMembership.objects.restrict(user, VIEW)
        existing = visible.filter(year=to_year).count()
        if existing:
            raise ValidationError({"to_year": _("%(year)d 年已有成员单位 %(n)d 个，不能整体复制；请在名单中逐个调整。")
                                   % {"year": to_year, "n": existing}})
        source = list(visible.filter(year=from_year, unit__is_active=True).select_related("unit").order_by("unit__name"))
        if not source:
            raise ValidationError({"from_year": _("%(year)d 年没有成员单位可复制。") % {"year": from_year}})
        created = []
        for m in source:
            new = CommissionMembership(unit=m.unit, year=to_year, role=m.role)
            new._history_user = user
            new.save()
            ensure_in_scope(new, user=user, action=ADD)
            created.append(new)
        record_event(action="org.memberships_copied", target=None, actor=user, reason=reason,
                     changes={"from_year": from_year, "to_year": to_year,
                              "added": [_member_summary(m) for m in created]})
    return created


# -- pairing (挂点帮扶) --------------------------------------------------------------------


def _visible_town(user: Any, town: Division) -> Division:
    found = Division.objects.restrict(user, VIEW).filter(pk=town.pk).first()
    if found is None:
        raise PermissionDenied(_("该镇街不在您的管辖范围内。"))
    if found.level != Level.TOWN:
        raise ValidationError({"town": _("挂点对象必须是镇街，“%(name)s”是%(level)s。")
                               % {"name": found.name, "level": found.get_level_display()}})
    return found


def _pairing_summary(p: Pairing) -> dict[str, Any]:
    return {"year": p.year, "unit": p.unit_id, "unit_name": p.unit.name, "town": p.town.code,
            "town_name": p.town.name, "note": p.note}


def create_pairing(*, user: Any, unit: Unit, town: Division, year: int, note: str = "") -> Pairing:
    """Pair ``unit`` with ``town`` for ``year``.

    The town must be a town-level division in the user's ``org.add_pairing`` scope, the
    unit visible to the user. Raises ``ValidationError`` (not a town, bad year, the pair
    exists already) or ``PermissionDenied``; nothing written then. Writes one
    ``org.pairing_created`` event.
    """
    year = check_year(year)
    with transaction.atomic():
        town = _visible_town(user, town)
        unit = _visible_unit(user, unit)
        if Pairing.objects.filter(unit=unit, town=town, year=year).exists():
            raise ValidationError({"unit": _("%(year)d 年%(unit)s已挂点%(town)s。")
                                   % {"year": year, "unit": unit.name, "town": town.name}})
        pairing = Pairing(unit=unit, town=town, year=year, note=(note or "").strip())
        pairing.full_clean()
        pairing._history_user = user
        pairing.save()
        ensure_in_scope(pairing, user=user, action=ADD)
        record_event(action="org.pairing_created", target=pairing, actor=user, changes=_pairing_summary(pairing))
    return pairing


def update_pairing(
    *, user: Any, pairing: Pairing, data: Mapping[str, Any], expected_version: int | None
) -> tuple[Pairing, bool]:
    """Change ``unit``, ``town``, ``year`` or ``note`` of a pairing (API edits), with the
    same checks as :func:`create_pairing` plus the version check. Writes one
    ``org.pairing_updated`` event when anything changed."""
    data = dict(data)
    if "year" in data:
        data["year"] = check_year(data["year"])
    if "town" in data:
        data["town"] = _visible_town(user, data["town"])
    if "unit" in data:
        data["unit"] = _visible_unit(user, data["unit"])
    fields = ("unit", "town", "year", "note")
    with transaction.atomic():
        stored = Pairing.objects.select_for_update().get(pk=pairing.pk)
        before = {"unit": stored.unit_id, "town": stored.town_id, "year": stored.year, "note": stored.note}
        updated, changed = update_versioned(stored, user=user, data=data, fields=fields,
                                            expected_version=expected_version)
        if changed:
            after = {"unit": updated.unit_id, "town": updated.town_id, "year": updated.year, "note": updated.note}
            record_event(action="org.pairing_updated", target=updated, actor=user,
                         changes={k: [before[k], after[k]] for k in fields if before[k] != after[k]})
    return updated, changed


def delete_pairing(*, user: Any, pairing: Pairing, reason: str) -> None:
    """End a pairing. ``reason`` is required (the assessment links a town's results to its
    paired units, so removing one must say why). Raises ``ValidationError`` for an empty
    reason, ``PermissionDenied`` outside the user's ``org.delete_pairing`` scope. Writes
    one ``org.pairing_deleted`` event."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("请填写删除挂点的原因。")})
    with transaction.atomic():
        row = Pairing.objects.restrict(user, DELETE).select_related("unit", "town").filter(pk=pairing.pk).first()
        if row is None:
            raise PermissionDenied(_("该挂点记录不在您的管辖范围内。"))
        record_event(action="org.pairing_deleted", target=row, actor=user, changes=_pairing_summary(row),
                     reason=reason)
        row._history_user = user
        row.delete()


def copy_pairings(*, user: Any, from_year: int, to_year: int) -> list[Pairing]:
    """Start ``to_year``'s pairings as a copy of ``from_year``'s, for the towns in the
    user's scope (pairings with inactive units are left out). Returns the new rows.

    Raises ``ValidationError`` when the years are equal, ``from_year`` has nothing to copy
    or ``to_year`` already has pairings in the user's scope, ``PermissionDenied`` without
    ``org.add_pairing`` for a town. Writes one ``org.pairings_copied`` event.
    """
    from_year, to_year = check_year(from_year, "from_year"), check_year(to_year, "to_year")
    if from_year == to_year:
        raise ValidationError({"to_year": _("复制的源年度与目标年度相同。")})
    with transaction.atomic():
        visible = Pairing.objects.restrict(user, VIEW)
        existing = visible.filter(year=to_year).count()
        if existing:
            raise ValidationError({"to_year": _("%(year)d 年已有挂点 %(n)d 条，不能整体复制；请逐条调整。")
                                   % {"year": to_year, "n": existing}})
        visible_units = Unit.objects.restrict(user, VIEW).filter(is_active=True)
        source = list(
            visible.filter(year=from_year, unit__in=visible_units).select_related("unit", "town")
            .order_by("town__code", "unit__name")
        )
        if not source:
            raise ValidationError({"from_year": _("%(year)d 年没有可复制的挂点。") % {"year": from_year}})
        created = []
        for p in source:
            new = Pairing(unit=p.unit, town=p.town, year=to_year, note=p.note)
            new._history_user = user
            new.save()
            ensure_in_scope(new, user=user, action=ADD)
            created.append(new)
        record_event(action="org.pairings_copied", target=None, actor=user,
                     changes={"from_year": from_year, "to_year": to_year,
                              "added": [_pairing_summary(p) for p in created]})
    return created
