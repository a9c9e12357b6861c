"""Temporary access (临时查阅) to a person outside one's scope: request, approve, reject, revoke.

A worker who needs to read the file of a person registered elsewhere (a suspect from another
district, a person met during a check) asks for it by the person's **exact identity number**
and a reason; until a supervisor approves, the worker learns nothing but whether that number is
registered. A supervisor holding ``persons.approve_temporary_access`` in a subtree containing
the person's village approves with an expiry — at most
``settings.JINDU_PERSONS["temporary_access_max_days"]`` days (default 7, :func:`max_days`) — or
rejects with a reason. While approved and unexpired, the worker *reads* the person and the
person's records (``models.temporary_access_q`` ORs it into the VIEW scope of ``Person`` and
every person-scoped model; never for change). Expiry needs no job: the scope compares
``expires_at`` with the current time. Every request, decision and revocation is an audit
event; the look-up by number is an access-log row (kind ``search``); reads during the access
are access-logged by the pages and the API like any other read.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from jindu.core.audit import log_access
from jindu.core.audit import record_event
from jindu.core.idnumbers import DocumentType
from jindu.core.models import AccessLog, StaleEditError
from jindu.core.scope import ADD, VIEW, has_model_permission, holds_permission_at
from jindu.core.services import ensure_in_scope
from jindu.persons.choices import AccessStatus
from jindu.persons.models import Person, TemporaryAccess

APPROVE_PERMISSION = "persons.approve_temporary_access"
DEFAULT_MAX_DAYS = 7


def max_days() -> int:
    """Longest approval in days: ``settings.JINDU_PERSONS["temporary_access_max_days"]``,
    default 7 (a reasoned default: a week covers a case conference or a joint check; longer
    needs are a transfer or a standing grant, not a temporary access)."""
    config = getattr(settings, "JINDU_PERSONS", None) or {}
    return int(config.get("temporary_access_max_days", DEFAULT_MAX_DAYS))


def is_active(access: TemporaryAccess, now: dt.datetime | None = None) -> bool:
    """Approved and not yet expired at ``now`` (default: now)."""
    now = now or timezone.now()
    return access.status == AccessStatus.APPROVED and access.expires_at is not None and access.expires_at > now


def may_approve(user: Any, access: TemporaryAccess) -> bool:
    """Whether ``user`` may decide ``access``: ``persons.approve_temporary_access`` over the
    person's village, and not the requester."""
    if getattr(user, "pk", None) == access.user_id:
        return False
    return holds_permission_at(user, APPROVE_PERMISSION, access.person.residence_division.path)


def request_temporary_access(*, user: Any, identity_number: str, reason: str,
                             document_type: str = DocumentType.RESIDENT_ID) -> TemporaryAccess:
    """Ask to read the person registered with ``identity_number`` (exact, any accepted form).

    Raises ``PermissionDenied`` without ``persons.add_temporaryaccess``; ``ValidationError``
    (field → Chinese message) when the number is invalid or not registered, the person is
    already within the user's scope, the user already has a pending or active access to the
    person, or the reason is empty. The look-up is access-logged whatever its result.
    """
    from jindu.persons.selectors import find_person_by_identity

    if not has_model_permission(user, TemporaryAccess, ADD):
        raise PermissionDenied(_("您的角色不能申请临时查阅权限"))
    reason = (reason or "").strip()
    person = find_person_by_identity(identity_number, document_type=document_type)
    log_access(kind=AccessLog.Kind.SEARCH, model=Person, user=user, object_ids=[person.pk] if person else [],
               result_count=1 if person else 0, path="persons.temporary_access.request",
               query={"identity_number": str(identity_number), "document_type": document_type})
    # The look-up's log row is written before the transaction, so a refused request keeps it.
    with transaction.atomic():
        return _create_request(user=user, person=person, reason=reason)


def _create_request(*, user: Any, person: Person | None, reason: str) -> TemporaryAccess:
    errors: dict[str, str] = {}
    if not reason:
        errors["reason"] = _("请填写申请理由")
    if person is None:
        errors["identity_number"] = _("未找到该证件号码的登记人员，请核对号码")
    elif person.merged_into_id:
        person = person.merged_into
    if person is not None and not errors.get("identity_number"):
        if Person.objects.restrict(user, VIEW).filter(pk=person.pk).exists():
            errors["identity_number"] = _("该人员已在您的查看范围内，无需申请")
        elif TemporaryAccess.objects.filter(user=user, person=person, status=AccessStatus.PENDING).exists():
            errors["identity_number"] = _("您已申请查阅该人员，正在等待审批")
        elif TemporaryAccess.objects.filter(user=user, person=person, status=AccessStatus.APPROVED,
                                            expires_at__gt=timezone.now()).exists():
            errors["identity_number"] = _("您对该人员的临时查阅权限仍在有效期内")
    if errors:
        raise ValidationError(errors)
    access = TemporaryAccess(person=person, user=user, reason=reason, status=AccessStatus.PENDING)
    access.full_clean()
    access.save()
    ensure_in_scope(access, user=user, action=VIEW)  # the requester's own row (models.TemporaryAccess)
    record_event(action="persons.temporary_access_requested", target=access, actor=user, reason=reason,
                 changes={"person": person.pk, "requester": user.pk})
    return access


def _pending(access: TemporaryAccess, user: Any, expected_version: int | None) -> TemporaryAccess:
    locked = (TemporaryAccess.objects.select_for_update(of=("self",)).select_related("person__residence_division")
              .get(pk=access.pk))
    if getattr(user, "pk", None) == locked.user_id:
        raise PermissionDenied(_("不能审批本人的申请"))
    if not may_approve(user, locked):
        raise PermissionDenied(_("您没有审批该人员临时查阅权限的权限"))
    if locked.status != AccessStatus.PENDING:
        raise ValidationError({"status": _("该申请已处理（%(status)s）") % {"status": locked.get_status_display()}})
    if expected_version is not None and locked.version != expected_version:
        raise StaleEditError(expected_version, locked.version)
    return locked


@transaction.atomic
def approve_temporary_access(*, user: Any, access: TemporaryAccess, days: int,
                             expected_version: int | None = None) -> TemporaryAccess:
    """Approve for ``days`` (1 … :func:`max_days`) from now: ``expires_at`` = now + days.

    Raises ``PermissionDenied`` (not an approver over the person, or the requester),
    ``ValidationError`` (already decided, days out of range) or ``StaleEditError``."""
    locked = _pending(access, user, expected_version)
    limit = max_days()
    if days is None or not 1 <= int(days) <= limit:
        raise ValidationError({"days": _("有效期须为 1 至 %(max)s 天") % {"max": limit}})
    locked.status = AccessStatus.APPROVED
    locked.decided_by = user
    locked.expires_at = timezone.now() + dt.timedelta(days=int(days))
    locked.version += 1
    locked.save()
    record_event(action="persons.temporary_access_approved", target=locked, actor=user,
                 changes={"person": locked.person_id, "requester": locked.user_id, "days": int(days),
                          "expires_at": locked.expires_at.isoformat()})
    return locked


@transaction.atomic
def reject_temporary_access(*, user: Any, access: TemporaryAccess, reason: str,
                            expected_version: int | None = None) -> TemporaryAccess:
    """Refuse the request with a reason (kept in the audit event)."""
    locked = _pending(access, user, expected_version)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("请填写驳回理由")})
    locked.status = AccessStatus.REJECTED
    locked.decided_by = user
    locked.version += 1
    locked.save()
    record_event(action="persons.temporary_access_rejected", target=locked, actor=user, reason=reason,
                 changes={"person": locked.person_id, "requester": locked.user_id})
    return locked


@transaction.atomic
def revoke_temporary_access(*, user: Any, access: TemporaryAccess, reason: str) -> TemporaryAccess:
    """End an approved access early: by the requester (no longer needed) or by an approver
    over the person. ``reason`` is required."""
    locked = (TemporaryAccess.objects.select_for_update(of=("self",)).select_related("person__residence_division")
              .get(pk=access.pk))
    if getattr(user, "pk", None) != locked.user_id and not holds_permission_at(
            user, APPROVE_PERMISSION, locked.person.residence_division.path):
        raise PermissionDenied(_("您不能撤销该临时查阅权限"))
    if not is_active(locked):
        raise ValidationError({"status": _("该临时查阅权限已失效，无需撤销")})
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("请填写撤销理由")})
    locked.status = AccessStatus.REVOKED
    locked.version += 1
    locked.save()
    record_event(action="persons.temporary_access_revoked", target=locked, actor=user, reason=reason,
                 changes={"person": locked.person_id, "requester": locked.user_id})
    return locked
