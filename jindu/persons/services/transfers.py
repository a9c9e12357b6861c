"""Writes of transfers of a person's file between villages, towns and districts (JDTL 22).

The sending side (who may change the person) requests a transfer to a village; both sides
see it while it is pending (``Transfer`` scope: ``to_division`` for the receiver, the person
for the sender). The receiving side accepts or rejects; the sender may cancel. Only
acceptance moves the person: ``residence_division`` becomes the new village, a
``residence_changed`` event goes on the timeline (the community measure's term keeps running
from the original reporting date, JDTL 22 — the rules do not restart it), and the assigned
social worker of the old town is unassigned (the receiving town assigns its own). From then
on the old town no longer sees the person or the transfer.

One pending transfer per person is a database constraint (``persons_transfer_one_pending``);
a concurrent second request is refused with the same Chinese message as a sequential one.
Every function is keyword-only, one transaction, one audit event; errors are
``ValidationError`` (field → Chinese message) or ``PermissionDenied``; nothing is written then.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from jindu.core.audit import record_event
from jindu.core.scope import ADD, CHANGE, holds_permission_at
from jindu.core.services import ensure_in_scope, update_versioned
from jindu.core.timeutils import local_today
from jindu.persons.choices import EventKind, EventSource, TransferStatus
from jindu.persons.models import Person, Transfer
from jindu.persons.services import registry

RECEIVE_PERMISSION = "persons.change_transfer"


def _check_destination(person: Person, to_division) -> dict[str, str]:
    from jindu.geo.choices import Level

    errors: dict[str, str] = {}
    if to_division is None:
        errors["to_division"] = _("请选择新居住地（村、社区）")
    elif to_division.level not in (Level.VILLAGE, Level.GRID):
        errors["to_division"] = _("新居住地须选择到村（社区）或网格")
    elif to_division.pk == person.residence_division_id:
        errors["to_division"] = _("新居住地与现居住地相同")
    return errors


def may_receive(user: Any, transfer: Transfer) -> bool:
    """Whether ``user`` acts for the receiving side: holds ``persons.change_transfer`` (not
    only for assigned people) in a subtree containing the destination village."""
    return holds_permission_at(user, RECEIVE_PERMISSION, transfer.to_division.path)


def may_send(user: Any, transfer: Transfer) -> bool:
    """Whether ``user`` acts for the sending side (may change the person now)."""
    return Person.objects.restrict(user, CHANGE).filter(pk=transfer.person_id).exists()


@transaction.atomic
def request_transfer(*, user: Any, person: Person, to_division: Any, reason: str, new_address: str = "",
                     requested_on: dt.date | None = None) -> Transfer:
    """Ask the town of ``to_division`` (a village or grid) to take over ``person``'s file.

    ``user`` must be able to change the person (sending side). Refuses a destination that is
    not a village, the current village, a second pending transfer and an empty reason.
    """
    locked = Person.objects.select_for_update().get(pk=person.pk)
    ensure_in_scope(locked, user=user, action=CHANGE)
    reason = (reason or "").strip()
    errors = _check_destination(locked, to_division)
    if not reason:
        errors["reason"] = _("请填写转移原因")
    requested_on = requested_on or local_today()
    if requested_on > local_today():
        errors["requested_on"] = _("申请日期不能晚于今天")
    if locked.merged_into_id:
        errors["person"] = _("该人员记录已合并，不能转移")
    if Transfer.objects.filter(person=locked, status=TransferStatus.PENDING).exists():
        errors["person"] = _("该人员已有待接收的转移申请，请等待对方处理或先撤销")
    if errors:
        raise ValidationError(errors)
    transfer = Transfer(person=locked, from_division=locked.residence_division, to_division=to_division,
                        new_address=new_address or "", reason=reason, requested_on=requested_on,
                        requested_by=user if getattr(user, "pk", None) else None)
    transfer.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            transfer.save()
    except IntegrityError as exc:  # a concurrent request for the same person won
        raise ValidationError({"person": _("该人员已有待接收的转移申请，请等待对方处理或先撤销")}) from exc
    ensure_in_scope(transfer, user=user, action=ADD)
    record_event(action="persons.transfer_requested", target=transfer, actor=user, reason=reason,
                 changes={"person": locked.pk, "from_division": transfer.from_division_id,
                          "to_division": to_division.pk, "requested_on": requested_on.isoformat()})
    return transfer


def _pending(transfer: Transfer) -> Transfer:
    locked = Transfer.objects.select_for_update(of=("self",)).select_related("to_division").get(pk=transfer.pk)
    if locked.status != TransferStatus.PENDING:
        raise ValidationError({"status": _("该转移已处理（%(status)s），不能再操作") % {
            "status": locked.get_status_display()}})
    return locked


@transaction.atomic
def accept_transfer(*, user: Any, transfer: Transfer, expected_version: int | None = None,
                    decided_on: dt.date | None = None, note: str = "") -> Transfer:
    """The receiving side takes the person over: the person's village becomes
    ``to_division`` (and the address ``new_address`` when given), a ``residence_changed``
    event is recorded on ``decided_on`` (default today), the old town's social worker is
    unassigned. Raises ``PermissionDenied`` unless ``user`` may receive (:func:`may_receive`)."""
    locked = _pending(transfer)
    if not may_receive(user, locked):
        raise PermissionDenied(_("只有接收地的禁毒办可以接收该人员"))
    if expected_version is not None and locked.version != expected_version:
        from jindu.core.models import StaleEditError

        raise StaleEditError(expected_version, locked.version)
    decided_on = decided_on or local_today()
    if decided_on > local_today():
        raise ValidationError({"decided_on": _("接收日期不能晚于今天")})
    person = (Person.objects.select_for_update(of=("self",)).select_related("residence_division")
              .get(pk=locked.person_id))
    if person.residence_division_id != locked.from_division_id:
        raise ValidationError({"to_division": _("该人员的居住地在申请后已变化，请退回后重新申请")})
    before = {"residence_division": person.residence_division_id, "assigned_worker": person.assigned_worker_id}
    data: dict[str, Any] = {"residence_division": locked.to_division, "assigned_worker": None}
    if locked.new_address:
        data["residence_address"] = locked.new_address
    person, _changed = update_versioned(person, user=user, data=data, fields=tuple(data), expected_version=None)
    registry.add_event(user=user, person=person, data={
        "kind": EventKind.RESIDENCE_CHANGED, "occurred_on": decided_on, "source": EventSource.TOWN,
        "notes": _("由%(old)s转入%(new)s（人员转移）") % {"old": locked.from_division.name,
                                                      "new": locked.to_division.name}})
    locked.status = TransferStatus.ACCEPTED
    locked.decided_on = decided_on
    locked.decided_by = user if getattr(user, "pk", None) else None
    locked.decision_note = (note or "").strip()
    locked.version += 1
    locked.save()
    ensure_in_scope(locked, user=user, action=CHANGE)
    record_event(action="persons.transfer_accepted", target=locked, actor=user, reason=locked.decision_note,
                 changes={"person": person.pk, "residence_division": [before["residence_division"],
                                                                      locked.to_division_id],
                          "assigned_worker": [before["assigned_worker"], None],
                          "decided_on": decided_on.isoformat()})
    return locked


@transaction.atomic
def reject_transfer(*, user: Any, transfer: Transfer, reason: str, expected_version: int | None = None) -> Transfer:
    """The receiving side sends the request back with a reason; the person stays where it is."""
    locked = _pending(transfer)
    if not may_receive(user, locked):
        raise PermissionDenied(_("只有接收地的禁毒办可以退回该转移"))
    return _close(user=user, transfer=locked, status=TransferStatus.REJECTED, reason=reason,
                  expected_version=expected_version, action="persons.transfer_rejected",
                  empty=_("请填写退回理由"))


@transaction.atomic
def cancel_transfer(*, user: Any, transfer: Transfer, reason: str, expected_version: int | None = None) -> Transfer:
    """The sending side withdraws its pending request."""
    locked = _pending(transfer)
    if not may_send(user, locked):
        raise PermissionDenied(_("只有原居住地的禁毒办可以撤销该转移"))
    return _close(user=user, transfer=locked, status=TransferStatus.CANCELLED, reason=reason,
                  expected_version=expected_version, action="persons.transfer_cancelled",
                  empty=_("请填写撤销理由"))


def _close(*, user, transfer: Transfer, status: str, reason: str, expected_version, action: str, empty) -> Transfer:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": empty})
    if expected_version is not None and transfer.version != expected_version:
        from jindu.core.models import StaleEditError

        raise StaleEditError(expected_version, transfer.version)
    transfer.status = status
    transfer.decided_on = local_today()
    transfer.decided_by = user if getattr(user, "pk", None) else None
    transfer.decision_note = reason
    transfer.version += 1
    transfer.save()
    ensure_in_scope(transfer, user=user, action=CHANGE)
    record_event(action=action, target=transfer, actor=user, reason=reason,
                 changes={"person": transfer.person_id, "status": status})
    return transfer
