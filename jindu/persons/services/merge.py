"""Decisions on suspected duplicates (疑似重复人员): a city user accepts or rejects a
:class:`~jindu.persons.models.MergeProposal` raised by ``registry.propose_duplicates``.

Deciding needs ``persons.decide_merge`` held in a subtree containing *both* people's
villages (in practice the city's NCC office), besides the usual scope re-check.

Accepting merges ``duplicate`` into ``keep`` (the decider may swap them) and deletes nothing:

- every timeline event, contact, plan, help given, risk assessment, handover, transfer,
  temporary access and screening result of the duplicate is moved to ``keep`` (row history
  records each move; a screening result stays where ``keep`` is already listed in the same
  round); the duplicate's pending transfers are cancelled first (one pending per person);
- due items are derived, so both people's are recomputed rather than moved;
- substances used are united; ``keep``'s empty alias, phone, household and residence address
  are filled from the duplicate; a driving licence held by either is kept with its
  cancellation date;
- the duplicate gets ``merged_into = keep`` and stays as a record (its identity number
  remains registered, so it cannot be registered again); lists and statistics leave it out;
- other pending proposals naming the duplicate are closed (rejected with the reason
  "merged"), and ``keep`` is checked again for near duplicates.

One audit event (``persons.merge_accepted``) lists what moved, by kind and count.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _
from simple_history.utils import bulk_update_with_history

from jindu.core.audit import record_event
from jindu.core.models import StaleEditError
from jindu.core.scope import CHANGE, holds_permission_at
from jindu.core.services import ensure_in_scope
from jindu.core.timeutils import local_today
from jindu.persons.choices import ProposalStatus, TransferStatus
from jindu.persons.models import (
    Assistance, CasePlan, Contact, DueItem, Event, Handover, MergeProposal, Person, RiskAssessment, ScreeningResult,
    TemporaryAccess, Transfer,
)
from jindu.persons.services import registry

DECIDE_PERMISSION = "persons.decide_merge"
#: Records that follow the person on a merge (label used in the audit event).
MOVED_MODELS = (
    ("events", Event), ("contacts", Contact), ("plans", CasePlan), ("assistance", Assistance),
    ("assessments", RiskAssessment), ("handovers", Handover), ("transfers", Transfer),
    ("temporary_accesses", TemporaryAccess),
)
FILLED_FIELDS = ("alias", "phone", "household_division", "household_address", "residence_address",
                 "driving_licence_classes")


def may_decide(user: Any, proposal: MergeProposal) -> bool:
    """Whether ``user`` holds ``persons.decide_merge`` over both people of ``proposal``."""
    return all(holds_permission_at(user, DECIDE_PERMISSION, p.residence_division.path)
               for p in (proposal.keep, proposal.duplicate))


def _pending(proposal: MergeProposal, user: Any, expected_version: int | None) -> MergeProposal:
    locked = (MergeProposal.objects.select_for_update(of=("self",))
              .select_related("keep__residence_division", "duplicate__residence_division").get(pk=proposal.pk))
    if not may_decide(user, locked):
        raise PermissionDenied(_("您没有决定合并这两名人员的权限（需要市级“决定疑似重复人员合并”权限）"))
    if locked.status != ProposalStatus.PENDING:
        raise ValidationError({"status": _("该疑似重复已处理（%(status)s）") % {"status": locked.get_status_display()}})
    if expected_version is not None and locked.version != expected_version:
        raise StaleEditError(expected_version, locked.version)
    return locked


def _move(model, objs: list, keep: Person) -> int:
    for obj in objs:
        obj.person = keep
        obj.version += 1
    if objs:
        bulk_update_with_history(objs, model, fields=["person", "version"], batch_size=500)
    return len(objs)


@transaction.atomic
def accept_merge(*, user: Any, proposal: MergeProposal, reason: str, keep: Person | None = None,
                 expected_version: int | None = None) -> MergeProposal:
    """Merge the proposal's duplicate into ``keep`` (default ``proposal.keep``; passing
    ``proposal.duplicate`` swaps the roles). See the module docstring for what moves.

    Raises ``PermissionDenied`` (no ``persons.decide_merge`` over both people),
    ``ValidationError`` (already decided, empty reason, ``keep`` not one of the two, either
    already merged) or ``StaleEditError``; nothing is written then."""
    locked = _pending(proposal, user, expected_version)
    reason = (reason or "").strip()
    errors: dict[str, str] = {}
    if not reason:
        errors["reason"] = _("请填写合并理由")
    keep_pk = keep.pk if keep is not None else locked.keep_id
    if keep_pk not in (locked.keep_id, locked.duplicate_id):
        errors["keep"] = _("保留人员须是这两名人员之一")
    if errors:
        raise ValidationError(errors)
    dup_pk = locked.duplicate_id if keep_pk == locked.keep_id else locked.keep_id
    # Lock both in primary-key order so two merges touching the same people cannot deadlock.
    people = {p.pk: p for p in Person.objects.select_for_update().filter(pk__in=sorted([keep_pk, dup_pk]))
              .order_by("pk")}
    keeper, dup = people[keep_pk], people[dup_pk]
    if keeper.merged_into_id or dup.merged_into_id:
        raise ValidationError({"keep": _("其中一人已被合并，不能再次合并")})
    if keep_pk != locked.keep_id:
        locked.keep, locked.duplicate = keeper, dup

    today = local_today()
    cancelled = []
    for transfer in Transfer.objects.select_for_update().filter(person=dup, status=TransferStatus.PENDING):
        transfer.status = TransferStatus.CANCELLED
        transfer.decided_on = today
        transfer.decided_by = user if getattr(user, "pk", None) else None
        transfer.decision_note = _("人员合并，转移申请自动撤销")
        transfer.version += 1
        transfer.save()
        cancelled.append(transfer.pk)

    moved: dict[str, int] = {}
    for label, model in MOVED_MODELS:
        moved[label] = _move(model, list(model.objects.filter(person=dup)), keeper)
    taken_rounds = set(ScreeningResult.objects.filter(person=keeper).values_list("round_id", flat=True))
    results = [r for r in ScreeningResult.objects.filter(person=dup) if r.round_id not in taken_rounds]
    for r in results:
        r.person = keeper
        r.version += 1
    if results:
        bulk_update_with_history(results, ScreeningResult, fields=["person", "version"], batch_size=500)
    moved["screening_results"] = len(results)

    keeper.drugs.add(*dup.drugs.all())
    filled = []
    for name in FILLED_FIELDS:
        if not getattr(keeper, name) and getattr(dup, name):
            setattr(keeper, name, getattr(dup, name))
            filled.append(name)
    if dup.holds_driving_licence and not keeper.holds_driving_licence:
        keeper.holds_driving_licence = True
        keeper.licence_cancelled_on = dup.licence_cancelled_on
        filled += ["holds_driving_licence", "licence_cancelled_on"]
    if filled:
        keeper.version += 1
        keeper.save()
    dup.merged_into = keeper
    dup.assigned_worker = None
    dup.version += 1
    dup.save()
    DueItem.objects.filter(person=dup).delete()
    ensure_in_scope(keeper, user=user, action=CHANGE)

    closed = []
    others = (MergeProposal.objects.select_for_update().filter(status=ProposalStatus.PENDING)
              .filter(Q(keep=dup) | Q(duplicate=dup)).exclude(pk=locked.pk))
    for other in others:
        other.status = ProposalStatus.REJECTED
        other.decided_on = today
        other.decided_by = user if getattr(user, "pk", None) else None
        other.decision_reason = _("疑似重复人员已合并至其他记录，本条自动关闭")
        other.version += 1
        other.save()
        closed.append(other.pk)

    locked.status = ProposalStatus.ACCEPTED
    locked.decided_on = today
    locked.decided_by = user if getattr(user, "pk", None) else None
    locked.decision_reason = reason
    locked.version += 1
    locked.save()
    ensure_in_scope(locked, user=user, action=CHANGE)
    record_event(action="persons.merge_accepted", target=locked, actor=user, reason=reason,
                 changes={"keep": keeper.pk, "duplicate": dup.pk, "moved": moved, "filled": filled,
                          "transfers_cancelled": cancelled, "proposals_closed": closed,
                          "drugs": sorted(keeper.drugs.values_list("pk", flat=True))})
    registry.recompute_person(keeper)
    registry.recompute_person(dup)
    DueItem.objects.filter(person=dup).delete()  # a merged record has nothing due
    registry.propose_duplicates(keeper)
    return locked


@transaction.atomic
def reject_merge(*, user: Any, proposal: MergeProposal, reason: str,
                 expected_version: int | None = None) -> MergeProposal:
    """Decide that the two people are different; ``reason`` is required. The pair is not
    proposed again (``registry.propose_duplicates`` skips a decided pair)."""
    locked = _pending(proposal, user, expected_version)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("请填写驳回理由")})
    locked.status = ProposalStatus.REJECTED
    locked.decided_on = local_today()
    locked.decided_by = user if getattr(user, "pk", None) else None
    locked.decision_reason = reason
    locked.version += 1
    locked.save()
    ensure_in_scope(locked, user=user, action=CHANGE)
    record_event(action="persons.merge_rejected", target=locked, actor=user, reason=reason,
                 changes={"keep": locked.keep_id, "duplicate": locked.duplicate_id})
    return locked
