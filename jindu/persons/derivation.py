"""Writes what the rules derive back onto people: the cached status columns of
:class:`~jindu.persons.models.Person` and the :class:`~jindu.persons.models.DueItem` rows
that worklists read.

One computation, two callers
----------------------------
:func:`derive` is the whole computation and is pure: :class:`Inputs` (the timeline, the
latest risk assessment, the dates contacts were last made, the active plan's review date,
the open handover) and a local date in, :class:`Derived` (the derived column values and the
due items) out. The rules (``rules.derive_state``) give the state, the schedule
(``schedule.due_items``) the due dates. :func:`load_inputs` reads the inputs of any set of
people with a constant number of queries (one per source table), whatever their number.

- :func:`apply_derivation` (one person, after each write — ``services.recompute_person``)
  = :func:`load_inputs` for that person → :func:`derive` → write.
- :mod:`jindu.persons.bulk` (the nightly recomputation) = :func:`load_inputs` for a chunk
  of people → :func:`derive` for each → write the changes in bulk.

Both paths read and compute through the same two functions, so they cannot drift apart
(``tests/test_bulk.py`` checks that they agree person by person).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable

from django.db.models import Max, Q

from jindu.persons import risk, rules, schedule
from jindu.persons.choices import ContactKind, DueKind, EventKind, HandoverStatus, TestResult
from jindu.persons.models import CasePlan, Contact, DueItem, Event, Handover, Person, RiskAssessment
from jindu.persons.timeline import PersonState, TimelineEvent

DERIVED_FIELDS = ("status", "status_since", "measure_end_on", "report_due_on", "last_detected_use_on",
                  "abstinent_three_years_on", "serious_breach", "tier", "tier_assessed_on", "next_due_on",
                  "derived_on")

#: Test results that count as "done" for the schedule (a refusal or a missed test is not).
_DONE_RESULTS = frozenset(str(r.value) for r in (TestResult.NEGATIVE, TestResult.POSITIVE, TestResult.INVALID))
# Plain strings in the per-event loops: Enum member access is a descriptor call, and these
# loops run ten million times a night.
_TEST_DUE_KIND = {str(EventKind.URINALYSIS.value): str(DueKind.URINALYSIS.value),
                  str(EventKind.HAIR_TEST.value): str(DueKind.HAIR_TEST.value)}
_DUE_KINDS = frozenset(str(v) for v in DueKind.values)
_CORRECTION = str(EventKind.CORRECTION.value)
#: Handovers still running (the others need nothing more from the town).
_CLOSED_HANDOVER = (HandoverStatus.AGREEMENT_SIGNED, HandoverStatus.FAILED)
#: Stored ``DueItem.basis`` is at most this long (the column's max_length).
BASIS_MAX = 200
PLAN_BASIS = "一人一策：帮扶计划确定的回顾日期"
HANDOVER_BASIS = "《戒毒条例》第三十四条（出所通知）、第三十八条（15日内报到）"


@dataclass
class Inputs:
    """Everything :func:`derive` reads about one person (loaded by :func:`load_inputs`).

    - ``events``: the whole timeline, corrections included, ordered by (date, id).
    - ``assessment``: ``(assessed_on, tier)`` of the latest risk assessment (by date, then
      id), or ``None``.
    - ``last_contact``: latest date of any contact except a police meeting (interview,
      home visit, phone, video); ``last_home_visit``: latest home visit.
    - ``plan_review_on``: review date of the latest active plan, or ``None``;
      ``plan_made_on``: start date of the latest plan, active or not.
    - ``handover``: the open handover (not signed, not failed) expected first, or ``None``.
    """

    events: list[TimelineEvent] = field(default_factory=list)
    assessment: tuple[dt.date, str] | None = None
    last_contact: dt.date | None = None
    last_home_visit: dt.date | None = None
    plan_review_on: dt.date | None = None
    plan_made_on: dt.date | None = None
    handover: Any = None  # Handover (possibly unsaved, only the date/status fields set)


@dataclass(frozen=True)
class Derived:
    """What :func:`derive` computes for one person.

    ``values`` maps every name of :data:`DERIVED_FIELDS` to its value; ``due`` is the set of
    ``(kind, due_on, basis)`` triples, one per kind (``DueKind``), sorted by kind.
    """

    values: dict[str, Any]
    due: tuple[tuple[str, dt.date, str], ...]
    state: PersonState


class Config:
    """The rules', the schedule's and the risk instrument's configuration, read once per run
    (not once per person)."""

    def __init__(self, rules_config: rules.RulesConfig | None = None, schedule_config: Any = None,
                 instrument: Any = None):
        self.rules = rules_config or rules.RulesConfig.from_settings()
        self.schedule = schedule_config or _load(schedule.ScheduleConfig)
        self.instrument = instrument or _load(risk.Instrument)


def _load(cls: Any) -> Any:
    """A configuration class's settings-aware loader when it has one, else its shipped default."""
    loader = getattr(cls, "from_settings", None) or cls.load_default
    return loader()


def last_done_dates(inputs: Inputs, voided: Iterable[int] = ()) -> dict[str, dt.date | None]:
    """When each recurring kind of work was last done, as ``schedule.due_items`` wants it:
    ``{kind: date or None}`` for ``urinalysis`` and ``hair_test`` (a result counted as done,
    not voided by a correction), ``contact`` (any contact but a police meeting), ``home_visit``,
    ``reassessment`` (latest assessment) and ``plan_review`` (latest plan made)."""
    voided = set(voided)
    tests: dict[str, dt.date | None] = {DueKind.URINALYSIS: None, DueKind.HAIR_TEST: None}
    for e in inputs.events:
        kind = _TEST_DUE_KIND.get(e.kind)
        if kind and e.result in _DONE_RESULTS and e.id not in voided:
            last = tests[kind]
            if last is None or e.occurred_on > last:
                tests[kind] = e.occurred_on
    return {
        **tests,
        DueKind.CONTACT: inputs.last_contact,
        DueKind.HOME_VISIT: inputs.last_home_visit,
        DueKind.REASSESSMENT: inputs.assessment[0] if inputs.assessment else None,
        DueKind.PLAN_REVIEW: inputs.plan_made_on,
    }


def derive(inputs: Inputs, *, as_of: dt.date, config: Config | None = None) -> Derived:
    """The derived columns and due items of one person as of the local date ``as_of``.

    Pure: reads nothing but ``inputs``. Status and legal dates come from
    ``rules.derive_state`` (without explanations: the detail page re-derives with them);
    the tier is the latest assessment's; due dates come from ``schedule.due_items`` (with
    the timeline for reassessment triggers and the active plan's review date), plus the
    active plan's review date where the schedule plans no review for the status (a date the
    worker wrote in the plan is due), and the open handover's next deadline
    (:func:`handover_due_on`, JDTL 34 / 38). ``next_due_on`` is the earliest due date.
    """
    config = config or Config()
    events = inputs.events
    state = rules.derive_state(events, as_of, config.rules, explain=False)
    voided = rules.voided_ids(events) if any(e.kind == _CORRECTION for e in events) else ()
    tier = inputs.assessment[1] if inputs.assessment else ""
    due: dict[str, tuple[str, dt.date, str]] = {}

    def add(kind: str, due_on: dt.date | None, basis: str) -> None:
        if due_on is None or kind not in _DUE_KINDS:
            return
        if kind not in due or due_on < due[kind][1]:
            due[kind] = (kind, due_on, basis[:BASIS_MAX])

    for item in schedule.due_items(state=state, tier=tier or None, last_done=last_done_dates(inputs, voided),
                                   as_of=as_of, config=config.schedule, events=events,
                                   instrument=config.instrument, plan_review_on=inputs.plan_review_on):
        add(str(item.kind), item.due_on, str(item.basis or ""))
    if inputs.plan_review_on is not None and DueKind.PLAN_REVIEW not in due:
        add(DueKind.PLAN_REVIEW, inputs.plan_review_on, PLAN_BASIS)
    if inputs.handover is not None:
        add(DueKind.HANDOVER, handover_due_on(inputs.handover), HANDOVER_BASIS)
    rows = tuple(sorted(due.values()))
    values = {
        "status": state.status,
        "status_since": state.status_since,
        "measure_end_on": state.measure_end_on,
        "report_due_on": state.report_due_on,
        "last_detected_use_on": state.last_detected_use_on,
        "abstinent_three_years_on": state.abstinent_three_years_on,
        "serious_breach": bool(state.serious_breach),
        "tier": tier,
        "tier_assessed_on": inputs.assessment[0] if inputs.assessment else None,
        "next_due_on": min((r[1] for r in rows), default=None),
        "derived_on": as_of,
    }
    return Derived(values=values, due=rows, state=state)


# --- reading the inputs ---------------------------------------------------------------------


def load_inputs(person_q: Q) -> dict[int, Inputs]:
    """The :class:`Inputs` of every person matched by ``person_q`` — a ``Q`` on the
    ``person_id`` of the related tables (``Q(person_id=5)``, ``Q(person_id__in=[…])``,
    ``Q(person_id__gte=a, person_id__lte=b)``) — as ``{person pk: Inputs}``.

    Five queries, whatever the number of people (events, contacts grouped by kind, risk
    assessments, plans, open handovers). People with nothing recorded get empty
    :class:`Inputs`; callers ask ``.get(pk) or Inputs()``.
    """
    out: dict[int, Inputs] = defaultdict(Inputs)
    rows = (Event.objects.filter(person_q).order_by("person_id", "occurred_on", "pk")
            .values_list("person_id", "kind", "occurred_on", "pk", "result", "term_months", "days", "approved",
                         "corrects_id"))
    current_pk, current = None, None
    for pid, kind, occurred_on, pk, result, term, days, approved, corrects in rows.iterator(chunk_size=20_000):
        if pid != current_pk:
            current_pk, current = pid, out[pid].events
        current.append(TimelineEvent(kind, occurred_on, pk, result or None, term, days, approved, corrects))

    contacts = (Contact.objects.filter(person_q).order_by().values_list("person_id", "kind")
                .annotate(last=Max("occurred_on")))
    for pid, kind, last in contacts:
        inputs = out[pid]
        if kind != ContactKind.POLICE_CONTACT and (inputs.last_contact is None or last > inputs.last_contact):
            inputs.last_contact = last
        if kind == ContactKind.HOME_VISIT:
            inputs.last_home_visit = last

    seen: set[int] = set()
    for pid, assessed_on, tier in (RiskAssessment.objects.filter(person_q).order_by("person_id", "-assessed_on", "-pk")
                                   .values_list("person_id", "assessed_on", "tier")):
        if pid not in seen:
            seen.add(pid)
            out[pid].assessment = (assessed_on, tier)

    seen.clear()
    for pid, starts_on, review_on, active in (
            CasePlan.objects.filter(person_q).order_by("person_id", "-starts_on", "-pk")
            .values_list("person_id", "starts_on", "review_on", "is_active")):
        inputs = out[pid]
        if inputs.plan_made_on is None:
            inputs.plan_made_on = starts_on
        if active and pid not in seen:
            seen.add(pid)
            inputs.plan_review_on = review_on

    seen.clear()
    handovers = (Handover.objects.filter(person_q).exclude(status__in=_CLOSED_HANDOVER)
                 .order_by("person_id", "expected_release_on", "pk")
                 .only("person_id", "status", "expected_release_on", "released_on", "reported_on"))
    for handover in handovers:
        if handover.person_id not in seen:
            seen.add(handover.person_id)
            out[handover.person_id].handover = handover
    return dict(out)


# --- the per-person path ----------------------------------------------------------------------


def apply_derivation(person: Person, *, as_of: dt.date, config: Config | None = None) -> Person:
    """Recompute and store ``person``'s derived columns and due items as of ``as_of``.

    Called inside the writing transaction (``services.recompute_person``) after every change
    to the person's timeline or case work. Writes only what changed; the derived columns are
    excluded from the row history (``Person.history``), so the direct update loses none.
    Returns ``person`` with the new values set (and ``_state_cache`` = the ``PersonState``).
    """
    inputs = load_inputs(Q(person_id=person.pk)).get(person.pk) or Inputs()
    derived = derive(inputs, as_of=as_of, config=config)
    values = derived.values
    changed = [k for k, v in values.items() if getattr(person, k) != v]
    if changed:
        for k in changed:
            setattr(person, k, values[k])
        # Derived columns are not a user's edit: no version bump.
        Person.objects.filter(pk=person.pk).update(**{k: values[k] for k in changed})
    current = set(DueItem.objects.filter(person=person).values_list("kind", "due_on", "basis"))
    if current != set(derived.due):
        DueItem.objects.filter(person=person).delete()
        DueItem.objects.bulk_create(
            [DueItem(person=person, kind=k, due_on=d, basis=b) for k, d, b in derived.due])
    person._state_cache = derived.state  # for the detail page's explanation, same request
    return person


def handover_due_on(handover: Handover) -> dt.date:
    """The next deadline of an open handover: pickup on the release day (出所必接), then
    reporting within 15 days of release (JDTL 38), then the agreement (same day as
    reporting, a reasoned default — JDTL 16 says "promptly").

    ``handover`` needs ``status``, ``expected_release_on``, ``released_on`` and
    ``reported_on`` (a :class:`Handover` or anything with those attributes)."""
    release = handover.released_on or handover.expected_release_on
    if handover.status == HandoverStatus.NOTIFIED:
        return release
    if handover.status == HandoverStatus.RECEIVED:
        return release + dt.timedelta(days=15)
    return handover.reported_on or release + dt.timedelta(days=15)
