"""Reads of the registry's workflows, always given the user and always scoped: handovers on
release and their escalation, community-measure follow-up (reporting, agreement, serious
breach, completion), transfers, rolling screening, merge proposals, driving licences,
temporary access — and the handover and execution rates the seed quotes.

Deadlines are local dates (``jindu.core.timeutils``): due all of that day, overdue from the
next local midnight. Lists of people leave out merged duplicates (``Person.merged_into``) and
people the user reads only through a temporary access (a work list is about one's own people).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Iterable

from django.contrib.contenttypes.models import ContentType
from django.db.models import CharField, Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from jindu.core.scope import CHANGE, VIEW, grant_roots, subtree_q
from jindu.core.timeutils import Period, local_today
from jindu.persons.choices import (
    AccessStatus, EventKind, HandoverStatus, ProposalStatus, Status, TransferStatus,
)
from jindu.persons.derivation import handover_due_on
from jindu.persons.models import (
    Event, Handover, MergeProposal, Person, ScreeningResult, ScreeningRound, TemporaryAccess, Transfer,
)

OPEN_HANDOVER = (HandoverStatus.NOTIFIED, HandoverStatus.RECEIVED, HandoverStatus.REPORTED)
COMMUNITY_STATUSES = (Status.COMMUNITY_DRUG_REHAB, Status.COMMUNITY_REHAB)
#: Statuses under which 公安部令第162号 art. 79(6) applies ("被责令社区戒毒、社区康复或者决定强制隔离戒毒"):
#: a measure in force or awaited (``rules.licence_cancellation_ground`` without an issue date).
LICENCE_STATUSES = (Status.COMMUNITY_DRUG_REHAB, Status.ISOLATION, Status.COMMUNITY_REHAB, Status.AWAITING_REPORT)
ORDER_KINDS = (EventKind.COMMUNITY_REHAB_ORDER, EventKind.ISOLATION_DECISION, EventKind.COMMUNITY_RECOVERY_ORDER)
#: An overdue handover step this many days past its deadline is escalated to the district
#: NCC office (督办). Reasoned default: one week, the JDTL 23 / 40 notice period.
ESCALATE_AFTER_DAYS = 7
#: Completion notices are listed this many days before the measure's last day (JDTL 23 / 40
#: give the town 7 days after the notice; 30 days ahead leaves time to prepare the release).
COMPLETION_WINDOW_DAYS = 30
REPORT_DAYS = 15

HANDOVER_STEP = {
    HandoverStatus.NOTIFIED: _("出所接回（出所必接）"),
    HandoverStatus.RECEIVED: _("报到（出所后15日内，戒毒条例第三十八条）"),
    HandoverStatus.REPORTED: _("签订社区康复协议（戒毒条例第十六条、第三十八条）"),
}


def _not_corrected() -> Exists:
    return ~Exists(Event.objects.filter(corrects=OuterRef("pk")))


def temporary_only_ids(user: Any) -> QuerySet:
    """Ids of people ``user`` reads only through an approved, unexpired temporary access."""
    return TemporaryAccess.objects.filter(user=user, status=AccessStatus.APPROVED,
                                          expires_at__gt=timezone.now()).values("person_id")


def people(user: Any, action: str = VIEW) -> QuerySet:
    """The people of ``user``'s work lists: in scope, not merged, not temporary access only."""
    return (Person.objects.restrict(user, action).filter(merged_into__isnull=True)
            .exclude(pk__in=temporary_only_ids(user)))


def within(qs: QuerySet, division: Any, path: str) -> QuerySet:
    """``qs`` narrowed to rows whose division at ``path`` (a ``__path`` lookup) lies under ``division``."""
    if division is None:
        return qs
    return qs.filter(**{f"{path}__startswith": division.path})


def percent(part: int, whole: int) -> Decimal | None:
    """``part / whole`` in percent to one decimal (``Decimal``), ``None`` when ``whole`` is 0."""
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


# --- handover on release -------------------------------------------------------------------

def handovers(user: Any) -> QuerySet:
    """Handovers ``user`` may view, with the person and village loaded."""
    return (Handover.objects.restrict(user, VIEW).filter(person__merged_into__isnull=True)
            .exclude(person__in=temporary_only_ids(user))
            .select_related("person", "person__residence_division", "person__residence_division__parent"))


def overdue_handover_q(today: dt.date) -> Q:
    """Open handovers whose current step's deadline (``derivation.handover_due_on``) is before
    ``today``: pickup due on the release day, reporting on release + 15 days (JDTL 38), the
    agreement on the reporting day. Plain date comparisons, so the database filters."""
    report_cutoff = today - dt.timedelta(days=REPORT_DAYS)

    def release_before(day: dt.date) -> Q:
        return Q(released_on__lt=day) | Q(released_on__isnull=True, expected_release_on__lt=day)

    return ((Q(status=HandoverStatus.NOTIFIED) & release_before(today))
            | (Q(status=HandoverStatus.RECEIVED) & release_before(report_cutoff))
            | Q(status=HandoverStatus.REPORTED, reported_on__lt=today))


def annotate_handover(h: Handover, today: dt.date) -> Handover:
    """Set ``due_on``, ``due_state`` (``upcoming``/``due_today``/``overdue``), ``days_overdue``,
    ``step`` (the step awaited) and ``escalate`` on an open handover, for display."""
    from jindu.persons.services.handover import notice_warning

    if h.status in OPEN_HANDOVER:
        h.due_on = handover_due_on(h)
        h.due_state = "overdue" if h.due_on < today else ("due_today" if h.due_on == today else "upcoming")
        h.days_overdue = max((today - h.due_on).days, 0)
        h.step = HANDOVER_STEP[h.status]
        h.escalate = h.days_overdue >= ESCALATE_AFTER_DAYS
    else:
        h.due_on, h.due_state, h.days_overdue, h.step, h.escalate = None, "", 0, "", False
    h.notice_warning = notice_warning(h)
    return h


def open_handovers(user: Any, today: dt.date | None = None) -> list[Handover]:
    """Open handovers ordered by their next deadline, annotated (:func:`annotate_handover`)."""
    today = today or local_today()
    rows = [annotate_handover(h, today) for h in handovers(user).filter(status__in=OPEN_HANDOVER)]
    return sorted(rows, key=lambda h: (h.due_on, h.pk))


def handover_escalations(user: Any, today: dt.date | None = None) -> list[Handover]:
    """The escalation list: open handovers with an overdue step, most overdue first;
    ``escalate`` marks those ≥ :data:`ESCALATE_AFTER_DAYS` days overdue (for the district)."""
    today = today or local_today()
    rows = [annotate_handover(h, today) for h in handovers(user).filter(overdue_handover_q(today))]
    return sorted(rows, key=lambda h: (-h.days_overdue, h.pk))


@dataclass
class RateRow:
    """Rates of one division (or the whole scope when ``division`` is ``None``)."""

    division: Any
    decisions: int = 0
    executed: int = 0
    releases: int = 0
    received: int = 0
    received_on_day: int = 0
    reported_on_time: int = 0
    pending: int = 0

    @property
    def execution_rate(self) -> Decimal | None:
        """Share of isolation decisions followed by an admission (决定执行率), percent."""
        return percent(self.executed, self.decisions)

    @property
    def handover_rate(self) -> Decimal | None:
        """Share of releases handed over on time (按时衔接率), percent: reported within 15 days
        of the release (JDTL 38), of the releases whose 15 days have run out or who reported."""
        return percent(self.reported_on_time, self.releases - self.pending)

    @property
    def pickup_rate(self) -> Decimal | None:
        """Share of releases collected on the release day (出所必接率), percent."""
        return percent(self.received_on_day, self.releases)


def _decision_rows(user: Any, period: Period, division: Any) -> list[tuple[str, bool]]:
    """(village path, executed) of each isolation decision dated in ``period``: executed when
    an admission (not corrected) of the same person is dated on or after the decision."""
    admitted = Event.objects.filter(person=OuterRef("person"), kind=EventKind.ADMISSION,
                                    occurred_on__gte=OuterRef("occurred_on")).filter(_not_corrected())
    qs = (Event.objects.restrict(user, VIEW)
          .filter(kind=EventKind.ISOLATION_DECISION, occurred_on__gte=period.first, occurred_on__lte=period.last,
                  person__merged_into__isnull=True)
          .exclude(person__in=temporary_only_ids(user))
          .filter(_not_corrected()).annotate(executed=Exists(admitted)))
    qs = within(qs, division, "person__residence_division__path")
    return list(qs.values_list("person__residence_division__path", "executed"))


def _release_rows(user: Any, period: Period, division: Any, today: dt.date) -> list[tuple[str, dict]]:
    """(village path, facts) of each handover whose release (actual, else expected) is in ``period``
    and not in the future."""
    last = min(period.last, today)
    qs = (handovers(user).filter(Q(released_on__gte=period.first, released_on__lte=last)
                                 | Q(released_on__isnull=True, expected_release_on__gte=period.first,
                                     expected_release_on__lte=last)))
    qs = within(qs, division, "person__residence_division__path")
    out = []
    for path, released, expected, received, reported in qs.values_list(
            "person__residence_division__path", "released_on", "expected_release_on", "received_on", "reported_on"):
        release = released or expected
        deadline = release + dt.timedelta(days=REPORT_DAYS)
        out.append((path, {
            "received": received is not None,
            "received_on_day": received is not None and received <= release,
            "on_time": reported is not None and reported <= deadline,
            "pending": reported is None and deadline >= today,
        }))
    return out


def _add(row: RateRow, decisions: Iterable[bool], releases: Iterable[dict]) -> None:
    for executed in decisions:
        row.decisions += 1
        row.executed += int(bool(executed))
    for facts in releases:
        row.releases += 1
        row.received += int(facts["received"])
        row.received_on_day += int(facts["received_on_day"])
        row.reported_on_time += int(facts["on_time"])
        row.pending += int(facts["pending"])


def handover_rates(user: Any, period: Period, division: Any = None, today: dt.date | None = None) -> RateRow:
    """The execution and handover rates of ``period`` in ``user``'s scope (narrowed to
    ``division``'s subtree when given).

    - Execution (决定执行率): isolation decisions dated in the period; executed = followed by
      an admission on or after the decision date.
    - Handover (按时衔接率): handovers released in the period (actual date, else expected;
      not after today); on time = reported within 15 days of the release (JDTL 38). Releases
      still inside their 15 days without a report are ``pending`` and left out of the rate.
    - Pickup (出所必接率): collected on the release day (received_on ≤ release).
    """
    today = today or local_today()
    row = RateRow(division=division)
    _add(row, (e for _p, e in _decision_rows(user, period, division)),
         (f for _p, f in _release_rows(user, period, division, today)))
    return row


def rates_by_division(user: Any, period: Period, parent: Any = None, today: dt.date | None = None) -> list[RateRow]:
    """:func:`handover_rates` for each child division of ``parent`` visible to ``user`` (the
    districts of the user's scope when ``parent`` is ``None``), in code order; two queries
    whatever the number of divisions."""
    from jindu.geo.choices import Level
    from jindu.geo.models import Division

    today = today or local_today()
    divisions = Division.objects.restrict(user, VIEW)
    if parent is None:
        children = list(divisions.filter(level=Level.DISTRICT).order_by("code"))
        if not children:
            children = list(divisions.filter(level=Level.TOWN).order_by("code"))
    else:
        children = list(divisions.filter(parent=parent).order_by("code"))
    rows = {c.path: RateRow(division=c) for c in children}

    def bucket(path: str) -> RateRow | None:
        for prefix, row in rows.items():
            if path.startswith(prefix):
                return row
        return None

    for path, executed in _decision_rows(user, period, parent):
        if (row := bucket(path)) is not None:
            _add(row, [executed], [])
    for path, facts in _release_rows(user, period, parent, today):
        if (row := bucket(path)) is not None:
            _add(row, [], [facts])
    return list(rows.values())


# --- community measures (orders) -----------------------------------------------------------

def reporting_deadlines(user: Any, today: dt.date | None = None) -> list[Person]:
    """People ordered into a community measure who have not reported: within the 15 days
    (``awaiting_report``, JDTL 14 / 38) and past them (deemed refusal, a ground for isolation,
    JDF 38(1)(1)); each with ``due_state``. Ordered by deadline."""
    today = today or local_today()
    qs = (people(user).filter(report_due_on__isnull=False)
          .filter(Q(status=Status.AWAITING_REPORT) | Q(status=Status.CURRENT_NO_MEASURE))
          .select_related("residence_division", "assigned_worker").order_by("report_due_on", "pk"))
    rows = list(qs)
    for p in rows:
        p.due_state = due_status_on(p.report_due_on, today)
    return rows


def due_status_on(deadline: dt.date, today: dt.date) -> str:
    """:func:`jindu.core.timeutils.due_status` for a given local ``today``."""
    if today < deadline:
        return "upcoming"
    return "due_today" if today == deadline else "overdue"


def agreements_pending(user: Any) -> QuerySet:
    """People in a community measure with no (uncorrected) ``agreement_signed`` event since
    the measure started (the agreement follows the reporting, JDF 34, JDTL 16, 38)."""
    signed = Event.objects.filter(person=OuterRef("pk"), kind=EventKind.AGREEMENT_SIGNED,
                                  occurred_on__gte=OuterRef("status_since")).filter(_not_corrected())
    return (people(user).filter(status__in=COMMUNITY_STATUSES).filter(~Exists(signed))
            .select_related("residence_division", "assigned_worker").order_by("status_since", "pk"))


def serious_breaches(user: Any) -> QuerySet:
    """People in a community measure whom the rules flag for a serious breach of the
    agreement (JDTL 20: ≥ 3 refusals or evasions of testing, ≥ 3 unapproved departures, or
    more than 30 days away), each annotated with ``proposed_at`` — when the town last
    proposed isolation to the police (audit event ``persons.breach_proposal_made``), or
    ``None`` if it has not yet."""
    from jindu.core.models import AuditEvent
    from jindu.persons.services.handover import BREACH_PROPOSAL_ACTION

    proposals = (AuditEvent.objects.filter(action=BREACH_PROPOSAL_ACTION,
                                           target_type=ContentType.objects.get_for_model(Person),
                                           target_id=Cast(OuterRef("pk"), output_field=CharField()))
                 .order_by("-occurred_at").values("occurred_at")[:1])
    return (people(user).filter(serious_breach=True, status__in=COMMUNITY_STATUSES)
            .annotate(proposed_at=Subquery(proposals))
            .select_related("residence_division", "assigned_worker").order_by("status_since", "pk"))


def breach_details(persons: Iterable[Person], today: dt.date | None = None) -> dict[int, Any]:
    """``{person id: PersonState}`` from the rules for a page of people (one query for all
    their events), so a list can show the JDTL 20 counters behind each flag."""
    from jindu.persons import rules
    from jindu.persons.timeline import TimelineEvent

    today = today or local_today()
    ids = [p.pk for p in persons]
    by_person: dict[int, list] = {pk: [] for pk in ids}
    for e in Event.objects.filter(person_id__in=ids).order_by("occurred_on", "pk"):
        by_person[e.person_id].append(TimelineEvent(
            kind=e.kind, occurred_on=e.occurred_on, id=e.pk, result=e.result or None, term_months=e.term_months,
            days=e.days, approved=e.approved, corrects_id=e.corrects_id))
    config = rules.RulesConfig.from_settings()
    return {pk: rules.derive_state(events, today, config, explain=False) for pk, events in by_person.items()}


def completions_due(user: Any, today: dt.date | None = None, days: int = COMPLETION_WINDOW_DAYS) -> QuerySet:
    """People whose community measure ends within ``days`` days (or has ended without a
    completion record): the release notice is due (JDTL 23 社区戒毒, 40 社区康复)."""
    today = today or local_today()
    return (people(user).filter(status__in=COMMUNITY_STATUSES, measure_end_on__isnull=False,
                                measure_end_on__lte=today + dt.timedelta(days=days))
            .select_related("residence_division", "assigned_worker").order_by("measure_end_on", "pk"))


# --- transfers --------------------------------------------------------------------------------

def transfers(user: Any) -> QuerySet:
    return (Transfer.objects.restrict(user, VIEW)
            .select_related("person", "from_division", "to_division", "from_division__parent",
                            "to_division__parent", "requested_by", "decided_by"))


def incoming_transfers(user: Any) -> QuerySet:
    """Pending transfers into a village where ``user`` may receive (``persons.change_transfer``)."""
    from jindu.persons.services.transfers import RECEIVE_PERMISSION

    cond = subtree_q(grant_roots(user, RECEIVE_PERMISSION), "to_division__path")
    if cond is None:
        return Transfer.objects.none()
    return transfers(user).filter(status=TransferStatus.PENDING).filter(cond)


def outgoing_transfers(user: Any) -> QuerySet:
    """Pending transfers of people ``user`` may change (the sending side)."""
    return transfers(user).filter(status=TransferStatus.PENDING,
                                  person__in=Person.objects.restrict(user, CHANGE).values("pk"))


def decided_transfers(user: Any) -> QuerySet:
    return transfers(user).exclude(status=TransferStatus.PENDING).order_by("-decided_on", "-pk")


# --- rolling screening -------------------------------------------------------------------------

def screening_rounds(user: Any) -> QuerySet:
    return ScreeningRound.objects.restrict(user, VIEW).select_related("division", "division__parent")


def screening_results(user: Any, screening_round: ScreeningRound) -> QuerySet:
    return (ScreeningResult.objects.restrict(user, VIEW).filter(round=screening_round)
            .select_related("person", "person__residence_division", "event")
            .order_by("outcome", "person__residence_division__code", "pk"))


# --- merge proposals ---------------------------------------------------------------------------

def merge_proposals(user: Any, status: str | None = ProposalStatus.PENDING) -> QuerySet:
    """Merge proposals ``user`` may view (``status`` ``None`` = all), both people loaded."""
    qs = MergeProposal.objects.restrict(user, VIEW).select_related(
        "keep", "duplicate", "keep__residence_division", "duplicate__residence_division", "decided_by")
    return qs.filter(status=status) if status else qs


# --- driving licences --------------------------------------------------------------------------

def licences_to_cancel(user: Any) -> QuerySet:
    """People holding a driving licence not recorded as cancelled who fall under 公安部令第162号
    art. 79(6): ordered into community drug rehabilitation or community rehabilitation, or
    decided into compulsory isolation, with that measure in force or awaited (a deemed refusal
    to report included) — the derived-column form of ``rules.licence_cancellation_ground``.

    Annotated with ``ground_kind`` (the ``EventKind`` of the latest uncorrected order) and
    ``ground_on`` (its date)."""
    latest = (Event.objects.filter(person=OuterRef("pk"), kind__in=ORDER_KINDS).filter(_not_corrected())
              .order_by("-occurred_on", "-pk"))
    return (people(user).filter(holds_driving_licence=True, licence_cancelled_on__isnull=True)
            .filter(Q(status__in=LICENCE_STATUSES) | Q(status=Status.CURRENT_NO_MEASURE, report_due_on__isnull=False))
            .annotate(ground_kind=Subquery(latest.values("kind")[:1]),
                      ground_on=Subquery(latest.values("occurred_on")[:1]))
            .select_related("residence_division", "residence_division__parent").order_by("ground_on", "pk"))


def ground_label(kind: str | None) -> str:
    """The art. 79(6) ground in words for an order kind."""
    labels = {
        EventKind.COMMUNITY_REHAB_ORDER: _("被责令社区戒毒"),
        EventKind.ISOLATION_DECISION: _("被决定强制隔离戒毒"),
        EventKind.COMMUNITY_RECOVERY_ORDER: _("被责令社区康复"),
    }
    return str(labels.get(kind, ""))


def licences_cancelled(user: Any) -> QuerySet:
    return (people(user).filter(holds_driving_licence=True, licence_cancelled_on__isnull=False)
            .select_related("residence_division").order_by("-licence_cancelled_on", "pk"))


# --- temporary access ---------------------------------------------------------------------------

def my_access_requests(user: Any) -> QuerySet:
    """``user``'s own requests (the requester sees status and expiry, not the person's data
    unless approved and unexpired)."""
    return TemporaryAccess.objects.filter(user=user).select_related("person", "decided_by").order_by("-created_at",
                                                                                                     "-pk")


def access_requests_to_decide(user: Any) -> QuerySet:
    """Pending requests about people in the subtrees where ``user`` may approve
    (``persons.approve_temporary_access``), other than the user's own."""
    from jindu.persons.services.access import APPROVE_PERMISSION

    cond = subtree_q(grant_roots(user, APPROVE_PERMISSION), "person__residence_division__path")
    if cond is None:
        return TemporaryAccess.objects.none()
    return (TemporaryAccess.objects.filter(cond).filter(status=AccessStatus.PENDING).exclude(user=user)
            .select_related("person", "person__residence_division", "user").order_by("created_at", "pk"))


def access_decided_by_scope(user: Any) -> QuerySet:
    """Decided requests about people in the subtrees where ``user`` may approve (the log)."""
    from jindu.persons.services.access import APPROVE_PERMISSION

    cond = subtree_q(grant_roots(user, APPROVE_PERMISSION), "person__residence_division__path")
    if cond is None:
        return TemporaryAccess.objects.none()
    return (TemporaryAccess.objects.filter(cond).exclude(status=AccessStatus.PENDING)
            .select_related("person", "person__residence_division", "user", "decided_by")
            .order_by("-updated_at", "-pk"))


# --- the 流程 hub --------------------------------------------------------------------------------

def workflow_counts(user: Any, today: dt.date | None = None) -> dict[str, int]:
    """Counts for the workflow hub page (one query each)."""
    today = today or local_today()
    return {
        "handovers_open": handovers(user).filter(status__in=OPEN_HANDOVER).count(),
        "handovers_overdue": handovers(user).filter(overdue_handover_q(today)).count(),
        "reporting": people(user).filter(report_due_on__isnull=False).filter(
            Q(status=Status.AWAITING_REPORT) | Q(status=Status.CURRENT_NO_MEASURE)).count(),
        "breaches": people(user).filter(serious_breach=True, status__in=COMMUNITY_STATUSES).count(),
        "completions": completions_due(user, today).count(),
        "transfers_in": incoming_transfers(user).count(),
        "transfers_out": outgoing_transfers(user).count(),
        "screening_open": screening_rounds(user).filter(closed_on__isnull=True).count(),
        "merges": merge_proposals(user).count(),
        "licences": licences_to_cancel(user).count(),
        "access_to_decide": access_requests_to_decide(user).count(),
    }

