"""Writes of the handover on release from compulsory isolation (无缝衔接) and of the
community measures' follow-up (reporting, agreement, serious breach, completion).

Handover steps (each a local date; each step a separate call, in this order):

1. :func:`record_release_notice` — the facility's release notice, ≥ 3 days ahead of the
   release (JDTL 34); a shorter notice is accepted and flagged (:func:`notice_warning`).
2. :func:`record_pickup` — the town collects the person on the release day (出所必接);
   writes the ``release`` event on the timeline.
3. :func:`record_handover_report` — the person reports to the town within 15 days of the
   release (JDTL 38); writes the ``reported`` event.
4. :func:`record_handover_agreement` — the community rehabilitation agreement is signed
   (JDTL 16, 38); writes the ``agreement_signed`` event. The handover is then complete.

:func:`mark_handover_failed` closes a handover that cannot be completed (lost contact, new
isolation decision …) with a reason. The next deadline of an open handover is
``derivation.handover_due_on`` (also kept as the person's ``handover`` due item).

Community measures: :func:`propose_isolation` records that the town proposed compulsory
isolation to the police for a serious breach of the agreement (JDTL 20, JDF 38(3)). The
proposal is **an audit event** (``persons.breach_proposal_made``, target the person) rather
than a record of its own: the decision belongs to the police (who record an
``isolation_decision`` event when they decide), the town only needs to show that it raised
the case, when and why; ``workflows.serious_breaches`` reads the latest proposal per person.
:func:`record_measure_completed` records the release notice at the end of a community
measure (JDTL 23, 40) as a ``measure_completed`` event.

Every function is keyword-only, runs in one transaction, re-checks scope and writes one audit
event of its own (the timeline events it adds through ``registry.add_event`` carry their own
``persons.event_recorded`` event, as any timeline entry does); errors are ``ValidationError``
(field → Chinese message) or ``PermissionDenied`` / ``StaleEditError``; nothing is written then.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from jindu.core.audit import record_event
from jindu.core.scope import ADD, CHANGE
from jindu.core.services import ensure_in_scope, update_versioned
from jindu.core.timeutils import local_today
from jindu.persons.choices import EventKind, EventSource, HandoverStatus, Status
from jindu.persons.models import Event, Handover, Person
from jindu.persons.services import registry

#: Minimum notice the facility gives before a release (JDTL 34: "出所前3日").
MIN_NOTICE_DAYS = 3
#: Days after the release within which the person must report (JDTL 38).
REPORT_DAYS = 15
OPEN_STATUSES = (HandoverStatus.NOTIFIED, HandoverStatus.RECEIVED, HandoverStatus.REPORTED)
#: Statuses of the community measures whose follow-up this module writes.
COMMUNITY_STATUSES = (Status.COMMUNITY_DRUG_REHAB, Status.COMMUNITY_REHAB)
BREACH_PROPOSAL_ACTION = "persons.breach_proposal_made"


def notice_days(handover: Handover) -> int:
    """Days between the notice and the expected release (negative if noticed afterwards)."""
    return (handover.expected_release_on - handover.notice_received_on).days


def notice_warning(handover: Handover) -> str:
    """A Chinese warning when the notice came less than 3 days before the release
    (JDTL 34), else ``""``."""
    days = notice_days(handover)
    if days >= MIN_NOTICE_DAYS:
        return ""
    return _("出所通知仅提前%(days)s天收到，少于《戒毒条例》第三十四条规定的3日，请立即安排接回并记录情况。") % {
        "days": days}


def _iso(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


def _not_future(value: dt.date | None, field: str, label: str, errors: dict[str, str]) -> None:
    if value is None:
        errors[field] = _("请填写%(field)s") % {"field": label}
    elif value > local_today():
        errors[field] = _("%(field)s不能晚于今天") % {"field": label}


def _timeline_event(*, user: Any, person: Person, kind: str, on: dt.date, notes: str = "",
                    source: str = EventSource.TOWN) -> Event:
    """The timeline event for a step, reusing one already recorded for that day (the facility
    or the police may have entered the release first) so the timeline gets no duplicate."""
    existing = (Event.objects.filter(person=person, kind=kind, occurred_on=on, corrections__isnull=True)
                .order_by("pk").first())
    if existing is not None:
        registry.recompute_person(Person.objects.get(pk=person.pk))  # the handover itself changed
        return existing
    return registry.add_event(user=user, person=person,
                              data={"kind": kind, "occurred_on": on, "source": source, "notes": notes})


def _open_handover(handover: Handover, allowed: tuple[str, ...]) -> None:
    if handover.status not in allowed:
        raise ValidationError({"status": _("该衔接当前状态为“%(status)s”，不能进行此步骤") % {
            "status": handover.get_status_display()}})


@transaction.atomic
def record_release_notice(*, user: Any, person: Person, facility: str, notice_received_on: dt.date,
                          expected_release_on: dt.date, notes: str = "") -> Handover:
    """Open a handover for ``person`` from the facility's release notice.

    ``notice_received_on`` (not in the future) and ``expected_release_on`` are local dates;
    a notice less than 3 days ahead (JDTL 34) is accepted — the release happens anyway —
    and :func:`notice_warning` says so. Refuses a second open handover of the same person and
    a release date before the notice. Raises ``ValidationError`` / ``PermissionDenied``.
    """
    locked = Person.objects.select_for_update().get(pk=person.pk)
    ensure_in_scope(locked, user=user, action=CHANGE)
    errors: dict[str, str] = {}
    _not_future(notice_received_on, "notice_received_on", _("收到出所通知日期"), errors)
    if expected_release_on is None:
        errors["expected_release_on"] = _("请填写预计出所日期")
    elif notice_received_on and expected_release_on < notice_received_on:
        errors["expected_release_on"] = _("预计出所日期不能早于收到通知的日期")
    if Handover.objects.filter(person=locked, status__in=OPEN_STATUSES).exists():
        errors["person"] = _("该人员已有未完成的出所衔接，请先完成或关闭")
    if errors:
        raise ValidationError(errors)
    handover = Handover(person=locked, facility=facility or "", notice_received_on=notice_received_on,
                        expected_release_on=expected_release_on, notes=notes or "",
                        status=HandoverStatus.NOTIFIED)
    handover.full_clean()
    handover.save()
    ensure_in_scope(handover, user=user, action=ADD)
    record_event(action="persons.handover_notified", target=handover, actor=user,
                 changes={"person": locked.pk, "facility": handover.facility,
                          "notice_received_on": _iso(notice_received_on),
                          "expected_release_on": _iso(expected_release_on),
                          "notice_days": notice_days(handover)})
    registry.recompute_person(locked)
    return handover


@transaction.atomic
def record_pickup(*, user: Any, handover: Handover, released_on: dt.date, received_on: dt.date,
                  expected_version: int | None, notes: str = "") -> Handover:
    """The town received the person (出所必接): ``released_on`` (the actual release date) and
    ``received_on`` (normally the same day); writes the ``release`` event (source: facility).

    Raises ``ValidationError`` (dates missing, in the future, pickup before release, wrong
    step), ``StaleEditError`` or ``PermissionDenied``."""
    _open_handover(handover, (HandoverStatus.NOTIFIED,))
    errors: dict[str, str] = {}
    _not_future(released_on, "released_on", _("实际出所日期"), errors)
    _not_future(received_on, "received_on", _("接回日期"), errors)
    if released_on and received_on and received_on < released_on:
        errors["received_on"] = _("接回日期不能早于出所日期")
    if errors:
        raise ValidationError(errors)
    values = {"released_on": released_on, "received_on": received_on, "status": HandoverStatus.RECEIVED}
    if notes:
        values["notes"] = "\n".join(x for x in (handover.notes, notes) if x)
    handover, _changed = update_versioned(handover, user=user, data=values, fields=tuple(values),
                                          expected_version=expected_version)
    event = _timeline_event(user=user, person=handover.person, kind=EventKind.RELEASE, on=released_on,
                            source=EventSource.FACILITY, notes=handover.facility)
    record_event(action="persons.handover_received", target=handover, actor=user,
                 changes={"person": handover.person_id, "released_on": _iso(released_on),
                          "received_on": _iso(received_on), "event": event.pk,
                          "on_release_day": received_on == released_on})
    return handover


@transaction.atomic
def record_handover_report(*, user: Any, handover: Handover, reported_on: dt.date, expected_version: int | None,
                           released_on: dt.date | None = None) -> Handover:
    """The person reported to the town (JDTL 38: within 15 days of the release); writes the
    ``reported`` event. A person who was not collected may report directly: then give
    ``released_on`` and the ``release`` event is written too (``received_on`` stays empty,
    which the pickup rate counts as not collected). A late report is accepted (it is
    counted as late by :func:`jindu.persons.workflows.handover_rates`)."""
    _open_handover(handover, (HandoverStatus.NOTIFIED, HandoverStatus.RECEIVED))
    errors: dict[str, str] = {}
    release = handover.released_on
    if handover.status == HandoverStatus.NOTIFIED:
        _not_future(released_on, "released_on", _("实际出所日期"), errors)
        release = released_on
    _not_future(reported_on, "reported_on", _("报到日期"), errors)
    if release and reported_on and reported_on < release:
        errors["reported_on"] = _("报到日期不能早于出所日期")
    if errors:
        raise ValidationError(errors)
    values: dict[str, Any] = {"reported_on": reported_on, "status": HandoverStatus.REPORTED}
    if handover.status == HandoverStatus.NOTIFIED:
        values["released_on"] = released_on
    handover, _changed = update_versioned(handover, user=user, data=values, fields=tuple(values),
                                          expected_version=expected_version)
    if "released_on" in values:
        _timeline_event(user=user, person=handover.person, kind=EventKind.RELEASE, on=released_on,
                        source=EventSource.FACILITY, notes=handover.facility)
    event = _timeline_event(user=user, person=handover.person, kind=EventKind.REPORTED, on=reported_on)
    late_days = (reported_on - (release + dt.timedelta(days=REPORT_DAYS))).days
    record_event(action="persons.handover_reported", target=handover, actor=user,
                 changes={"person": handover.person_id, "reported_on": _iso(reported_on), "event": event.pk,
                          "released_on": _iso(release), "days_late": max(late_days, 0)})
    return handover


@transaction.atomic
def record_handover_agreement(*, user: Any, handover: Handover, signed_on: dt.date,
                              expected_version: int | None) -> Handover:
    """The community rehabilitation agreement was signed (JDTL 16, 38); writes the
    ``agreement_signed`` event and completes the handover."""
    _open_handover(handover, (HandoverStatus.REPORTED,))
    errors: dict[str, str] = {}
    _not_future(signed_on, "agreement_signed_on", _("签订协议日期"), errors)
    if signed_on and handover.reported_on and signed_on < handover.reported_on:
        errors["agreement_signed_on"] = _("签订协议日期不能早于报到日期")
    if errors:
        raise ValidationError(errors)
    values = {"agreement_signed_on": signed_on, "status": HandoverStatus.AGREEMENT_SIGNED}
    handover, _changed = update_versioned(handover, user=user, data=values, fields=tuple(values),
                                          expected_version=expected_version)
    event = _timeline_event(user=user, person=handover.person, kind=EventKind.AGREEMENT_SIGNED, on=signed_on)
    record_event(action="persons.handover_agreement_signed", target=handover, actor=user,
                 changes={"person": handover.person_id, "agreement_signed_on": _iso(signed_on), "event": event.pk})
    return handover


@transaction.atomic
def mark_handover_failed(*, user: Any, handover: Handover, reason: str, expected_version: int | None) -> Handover:
    """Close an open handover that cannot be completed, with the reason (audited)."""
    _open_handover(handover, OPEN_STATUSES)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("请填写未能衔接的原因")})
    values = {"status": HandoverStatus.FAILED, "notes": "\n".join(x for x in (handover.notes, reason) if x)}
    handover, _changed = update_versioned(handover, user=user, data=values, fields=tuple(values),
                                          expected_version=expected_version)
    record_event(action="persons.handover_failed", target=handover, actor=user,
                 changes={"person": handover.person_id, "previous_status": "open"}, reason=reason)
    registry.recompute_person(Person.objects.get(pk=handover.person_id))
    return handover


# --- community measures ---------------------------------------------------------------------

@transaction.atomic
def propose_isolation(*, user: Any, person: Person, note: str, document_number: str = "") -> Person:
    """Record that the town proposed compulsory isolation to the police because ``person``
    seriously breached the community agreement (JDTL 20; ground of JDF 38(3)).

    Only for a person the rules flag (``serious_breach``) who is in a community measure; the
    counters the rules found are kept in the audit event with the note. Raises
    ``ValidationError`` / ``PermissionDenied``."""
    from jindu.persons import rules
    from jindu.persons.services.registry import timeline_of

    locked = Person.objects.select_for_update().get(pk=person.pk)
    ensure_in_scope(locked, user=user, action=CHANGE)
    note = (note or "").strip()
    errors: dict[str, str] = {}
    if not note:
        errors["note"] = _("请填写提请意见")
    if not locked.serious_breach or locked.status not in COMMUNITY_STATUSES:
        errors["person"] = _("该人员当前没有严重违反社区戒毒（康复）协议的情形，不能提请强制隔离戒毒")
    if errors:
        raise ValidationError(errors)
    state = rules.derive_state(timeline_of(locked), local_today(), rules.RulesConfig.from_settings(), explain=False)
    record_event(action=BREACH_PROPOSAL_ACTION, target=locked, actor=user, reason=note,
                 changes={"status": locked.status, "refused_tests": state.refused_tests,
                          "unapproved_departures": state.unapproved_departures, "days_away": state.days_away,
                          "serious_breach_on": _iso(state.serious_breach_on),
                          "document_number": (document_number or "").strip()})
    return locked


@transaction.atomic
def record_measure_completed(*, user: Any, person: Person, completed_on: dt.date, document_number: str = "",
                             notes: str = "") -> Event:
    """Record the release notice at the end of a community measure (JDTL 23 社区戒毒, 40
    社区康复) as a ``measure_completed`` event on ``completed_on`` (not before the measure's
    computed end, not in the future)."""
    locked = Person.objects.select_for_update().get(pk=person.pk)
    ensure_in_scope(locked, user=user, action=CHANGE)
    errors: dict[str, str] = {}
    _not_future(completed_on, "completed_on", _("解除日期"), errors)
    if locked.status not in COMMUNITY_STATUSES:
        errors["person"] = _("该人员当前不在社区戒毒或社区康复中")
    elif completed_on and locked.measure_end_on and completed_on < locked.measure_end_on:
        errors["completed_on"] = _("解除日期不能早于措施期满日期（%(date)s）") % {
            "date": locked.measure_end_on.isoformat()}
    if errors:
        raise ValidationError(errors)
    status = locked.status
    event = registry.add_event(user=user, person=locked, data={
        "kind": EventKind.MEASURE_COMPLETED, "occurred_on": completed_on, "source": EventSource.POLICE,
        "document_number": (document_number or "").strip(), "notes": notes or ""})
    record_event(action="persons.measure_completed", target=locked, actor=user,
                 changes={"measure": status, "completed_on": _iso(completed_on), "event": event.pk})
    return event
