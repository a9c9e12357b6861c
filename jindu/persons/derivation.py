"""Writes what the rules derive back onto a person: the cached status columns and the
:class:`~jindu.persons.models.DueItem` rows that worklists read.

Inputs: the timeline (``rules.derive_state``), the latest risk assessment, the dates the
recurring work was last done, the active plan and open handovers; the schedule
(``schedule.due_items``) turns them into due dates. Called by ``services.recompute_person``
after every write and by the nightly recomputation (``tasks.recompute_all``).
"""

from __future__ import annotations

import datetime as dt
from typing import Iterable

from django.db.models import Max

from jindu.persons import rules, schedule
from jindu.persons.choices import ContactKind, DueKind, EventKind, HandoverStatus, TestResult
from jindu.persons.models import CasePlan, Contact, DueItem, Event, Handover, Person, RiskAssessment

DERIVED_FIELDS = ("status", "status_since", "measure_end_on", "report_due_on", "last_detected_use_on",
                  "abstinent_three_years_on", "serious_breach", "tier", "tier_assessed_on", "next_due_on",
                  "derived_on")

#: Test results that count as "done" for the schedule (a refusal or a missed test is not).
_DONE_RESULTS = (TestResult.NEGATIVE, TestResult.POSITIVE, TestResult.INVALID)


def last_done_dates(person: Person, voided: Iterable[int] = ()) -> dict[str, dt.date | None]:
    """When each recurring kind of work was last done for ``person``."""
    voided = set(voided)
    tests = (Event.objects.filter(person=person, kind__in=(EventKind.URINALYSIS, EventKind.HAIR_TEST),
                                  result__in=_DONE_RESULTS)
             .exclude(pk__in=voided).values("kind").annotate(last=Max("occurred_on")))
    by_kind = {row["kind"]: row["last"] for row in tests}
    contacts = Contact.objects.filter(person=person)
    return {
        DueKind.URINALYSIS: by_kind.get(EventKind.URINALYSIS),
        DueKind.HAIR_TEST: by_kind.get(EventKind.HAIR_TEST),
        DueKind.CONTACT: contacts.exclude(kind=ContactKind.POLICE_CONTACT).aggregate(m=Max("occurred_on"))["m"],
        DueKind.HOME_VISIT: contacts.filter(kind=ContactKind.HOME_VISIT).aggregate(m=Max("occurred_on"))["m"],
        DueKind.REASSESSMENT: RiskAssessment.objects.filter(person=person).aggregate(m=Max("assessed_on"))["m"],
    }


def apply_derivation(person: Person, *, as_of: dt.date) -> Person:
    """Recompute and store ``person``'s derived columns and due items as of ``as_of``."""
    events = _timeline(person)
    state = rules.derive_state(events, as_of, rules.RulesConfig.from_settings())
    voided = {e.corrects_id for e in events if e.corrects_id}
    latest = RiskAssessment.objects.filter(person=person).order_by("-assessed_on", "-pk").first()
    tier = latest.tier if latest else ""
    items = schedule.due_items(state=state, tier=tier or None, last_done=last_done_dates(person, voided),
                               as_of=as_of)
    due = {item.kind: item for item in items}
    plan = CasePlan.objects.filter(person=person, is_active=True).order_by("-starts_on", "-pk").first()
    rows = [DueItem(person=person, kind=item.kind, due_on=item.due_on, basis=str(item.basis)[:200])
            for item in due.values() if item.kind in DueKind.values]
    if plan is not None:
        rows.append(DueItem(person=person, kind=DueKind.PLAN_REVIEW, due_on=plan.review_on,
                            basis="一人一策 individual plan review date"))
    handover = (Handover.objects.filter(person=person).exclude(
        status__in=(HandoverStatus.AGREEMENT_SIGNED, HandoverStatus.FAILED)).order_by("expected_release_on").first())
    if handover is not None:
        rows.append(DueItem(person=person, kind=DueKind.HANDOVER, due_on=handover_due_on(handover),
                            basis="JDTL 34, 38"))
    rows = _one_per_kind(rows)

    values = {
        "status": state.status,
        "status_since": state.status_since,
        "measure_end_on": state.measure_end_on,
        "report_due_on": state.report_due_on,
        "last_detected_use_on": state.last_detected_use_on,
        "abstinent_three_years_on": state.abstinent_three_years_on,
        "serious_breach": state.serious_breach,
        "tier": tier,
        "tier_assessed_on": latest.assessed_on if latest else None,
        "next_due_on": min((r.due_on for r in rows), default=None),
        "derived_on": as_of,
    }
    changed = [k for k, v in values.items() if getattr(person, k) != v]
    if changed:
        for k in changed:
            setattr(person, k, values[k])
        # Derived columns are not a user's edit: no version bump; they are excluded from the
        # row history (models.Person), so this update loses no history.
        Person.objects.filter(pk=person.pk).update(**{k: values[k] for k in changed})
    _replace_due_items(person, rows)
    person._state_cache = state  # for the detail page's explanation, same request
    return person


def handover_due_on(handover: Handover) -> dt.date:
    """The next deadline of an open handover: pickup on the release day (出所必接), then
    reporting within 15 days of release (JDTL 38), then the agreement (same day as
    reporting, a reasoned default — JDTL 16 says "promptly")."""
    release = handover.released_on or handover.expected_release_on
    if handover.status == HandoverStatus.NOTIFIED:
        return release
    if handover.status == HandoverStatus.RECEIVED:
        return release + dt.timedelta(days=15)
    return handover.reported_on or release + dt.timedelta(days=15)


def _timeline(person: Person):
    from jindu.persons.services.registry import timeline_of

    return timeline_of(person)


def _one_per_kind(rows: list[DueItem]) -> list[DueItem]:
    out: dict[str, DueItem] = {}
    for row in rows:
        if row.kind not in out or row.due_on < out[row.kind].due_on:
            out[row.kind] = row
    return list(out.values())


def _replace_due_items(person: Person, rows: list[DueItem]) -> None:
    current = {(d.kind, d.due_on, d.basis) for d in DueItem.objects.filter(person=person)}
    wanted = {(r.kind, r.due_on, r.basis) for r in rows}
    if current == wanted:
        return
    DueItem.objects.filter(person=person).delete()
    DueItem.objects.bulk_create(rows)
