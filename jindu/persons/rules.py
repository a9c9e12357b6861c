"""The one rules module: a person's control status and legal dates, derived from the timeline.

Pure Python (no database, no models): :func:`derive_state` takes the person's
:class:`~jindu.persons.timeline.TimelineEvent` values and a local date and returns a
:class:`~jindu.persons.timeline.PersonState`. Settings are read only through
:class:`RulesConfig` (``RulesConfig.from_settings()`` reads ``settings.JINDU_PERSONS``).

Sources (articles restated in ``/work/shared/reference/regulatory/legal_rules.md`` §1–§3 and
``casework_rules.md`` §5, §6.4; the texts were read in LawRefBook/Laws, see legal_rules.md §0):

- JDF — 《中华人民共和国禁毒法》 (2007): art. 33 (community drug rehabilitation, 3 years),
  38 (grounds for compulsory isolation), 47 (isolation 2 years; early release after 1 year;
  extension at most 1 year), 48 (community rehabilitation up to 3 years after isolation).
- JDTL — 《戒毒条例》 (2011, rev. 2018): art. 7 (abstinent three years: no more dynamic
  control), 13–14 (order served; report within 15 days, else deemed refusal; the 3 years run
  from reporting), 16 (agreement), 19–20 (leaving the county; serious breach 3 / 3 / 30 days),
  22 (change of place: the time runs on), 23 / 40 (released when the term expires), 27 (isolation
  runs from the decision), 31 (medical leave; conversion to community drug rehabilitation, time
  served counts), 32 (time at large not counted; no early release after recapture), 34 (release),
  37–38 (community rehabilitation; 15-day reporting; no early release after a refusal or serious
  breach of it).
- 公安部令第162号 《机动车驾驶证申领和使用规定》 art. 15(2), 79(6) (driving licences).
- SHREG 29 / SDREG 36 (Shanghai, Shandong drug-control regulations) for the provincial
  three-case start of the abstinence clock (casework_rules.md §5).

What each event kind reads from :class:`TimelineEvent` (other columns are ignored):

====================================  ===========================================================
kind                                  details used
====================================  ===========================================================
``found_using``, ``relapse``          ``occurred_on`` only: a detected use
``urinalysis``, ``hair_test``         ``result`` (``TestResult``): positive = detected use;
                                      refused (and missed, see ``missed_test_counts_as_evasion``)
                                      = one evasion of testing (JDTL 20)
``refused_test``                      one evasion/refusal of testing (JDTL 20)
``left_county``                       ``approved`` (``False`` = unapproved, counted by JDTL 20;
                                      ``None`` = unknown, not counted), ``days`` (if absent, the
                                      matching ``returned`` closes it; still away = up to as_of)
``community_drug_rehab_order``        order served that day (JDTL 13); during isolation = a
                                      conversion under JDTL 31
``isolation_decision``                decision date = start of the 2 years (JDTL 27)
``community_rehab_order``             ``term_months`` (≤ 36, default 36 when absent, JDF 48);
                                      made during isolation it waits for the release
``reported``                          reporting date = start of a community measure (JDTL 14, 38)
``extension``                         ``term_months`` added (total ≤ 12, JDF 47 para 3)
``escape`` / ``recapture``            time at large = recapture − escape, added back (JDTL 32)
``early_release``, ``release``        last day in isolation
``measure_completed``                 release notice of a community measure (JDTL 23 / 40)
``correction``                        ``corrects_id``: the event it voids (retroactively)
others                                notes only (``agreement_signed``, ``admission``,
                                      ``residence_changed``, ``returned``, ``violation``,
                                      ``refused_measure``) or final (``death``, ``emigration``)
====================================  ===========================================================

**Counting terms (our reading).** A term of N years (months) runs from its start date,
that day included, to the day before the same calendar date N years (months) later: a
2-year isolation decided on 2019-08-07 lasts to 2021-08-06, the form decisions are printed in
("自2019年8月7日至2021年8月6日止"). Where the later calendar date does not exist (29 February in a
common year, the 31st of a shorter month) the anniversary is the first day of the next
month, so the term ends on the last day of the month and is never shorter than N calendar
years — the same outcome as 民法典 art. 202 ("no corresponding day → the last day of the
month"). The start day counts because JDTL 14 and 27 say the term is counted "自报到之日起" /
"自作出决定之日起". Deadlines "within 15 days of receiving" (JDTL 14, 38) follow 民法典 art. 201:
the day of receipt is not counted, so an order served on 1 March must be answered by
16 March, and the person is overdue from 17 March. We take the order's ``occurred_on`` as the
day it was served. These are our readings, not texts found in the JDF or JDTL.

**Same-day order.** Events are sorted by ``occurred_on`` and, on one day, in this legal
order: detections and tests; breaches and absences; escape, recapture, extension; the end
of a measure (early release, release, completion); new orders and decisions (community drug
rehabilitation, community rehabilitation, isolation — so a same-day isolation decision
prevails); refusal of a measure; reporting, agreement, admission; change of residence;
emigration, death. A measure that ends on a day ends before one that starts on that day
(release and community-rehabilitation order on the release day). Remaining ties are broken
on every column, so the result never depends on the order events are given in.

**Not modelled:** JDTL 24 (community drug rehabilitation suspended by detention, ended by a
prison sentence) and JDTL 36 (isolation time runs on in prison) — there are no event kinds
for them; voluntary rehabilitation (JDTL 9–12) is not a measure here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from functools import lru_cache

from dateutil.relativedelta import relativedelta
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, ngettext

from jindu.persons.choices import EventKind as K
from jindu.persons.choices import Status, TestResult
from jindu.persons.timeline import PersonState, TimelineEvent

ONE_DAY = dt.timedelta(days=1)

# --- configuration ----------------------------------------------------------------------

#: Where the three-year abstinence clock starts (``RulesConfig.abstinence_clock``).
CLOCK_LATER_OF = "later_of_measure_end_and_last_use"
CLOCK_MEASURE_END = "measure_end"
CLOCK_LAST_USE = "last_use"
CLOCK_PROVINCIAL = "provincial_three_cases"
ABSTINENCE_CLOCKS = (CLOCK_LATER_OF, CLOCK_MEASURE_END, CLOCK_LAST_USE, CLOCK_PROVINCIAL)


@dataclass(frozen=True)
class RulesConfig:
    """The legal constants and the local choices of the rules, with their sources.

    Statutory values (change only if the law changes):

    - ``report_days`` 15 — reporting deadline after a community drug rehabilitation or
      community rehabilitation order (JDTL 14, 38).
    - ``community_drug_rehab_months`` 36 — JDF 33, JDTL 14.
    - ``isolation_months`` 24 — JDF 47 para 1, JDTL 27.
    - ``max_extension_months`` 12 — JDF 47 para 3.
    - ``early_release_after_months`` 12 — JDF 47 para 2.
    - ``community_rehab_max_months`` 36 — JDF 48, JDTL 37 ("不超过3年").
    - ``breach_refusals`` 3, ``breach_departures`` 3, ``breach_days_away`` 30 (more than) —
      JDTL 20.
    - ``abstinence_years`` 3 — JDTL 7 para 2.

    Local choices (each a reasoned default; a city may change them):

    - ``community_rehab_default_months`` 36 — used when an order states no term. JDF 48 only
      caps the term ("up to 3 years"); most orders seen are for 3 years (casework_rules.md §6.2
      schedules 3-year orders first). **Reasoned default.**
    - ``abstinence_clock`` — where the three-year clock starts, one of
      :data:`ABSTINENCE_CLOCKS`; default ``"later_of_measure_end_and_last_use"``. The official
      start is **UNCERTAIN** (legal_rules.md §2: no national text found); see
      :func:`abstinence_clock_start` for each option.
    - ``exclude_refusal_or_breach`` False — the Shanghai rule (SHREG 29): nobody who ever
      refused a community measure or seriously breached its agreement becomes "abstinent three
      years" through the clock. Off by default because no national text says so (Shandong,
      SDREG 36, applies it to community measures only).
    - ``missed_test_counts_as_evasion`` True — a test not taken on time (``missed``) counts as
      evading testing for JDTL 20 ("逃避或者拒绝接受检测"), as casework_rules.md §6.4 counts
      "missed/refused tests". **Reasoned default**; the police decide whether a reason was good.
    """

    report_days: int = 15
    community_drug_rehab_months: int = 36
    isolation_months: int = 24
    max_extension_months: int = 12
    early_release_after_months: int = 12
    community_rehab_max_months: int = 36
    community_rehab_default_months: int = 36
    breach_refusals: int = 3
    breach_departures: int = 3
    breach_days_away: int = 30
    abstinence_years: int = 3
    abstinence_clock: str = CLOCK_LATER_OF
    exclude_refusal_or_breach: bool = False
    missed_test_counts_as_evasion: bool = True

    def __post_init__(self):
        if self.abstinence_clock not in ABSTINENCE_CLOCKS:
            raise ValueError(f"abstinence_clock must be one of {ABSTINENCE_CLOCKS}, not {self.abstinence_clock!r}")

    @classmethod
    def from_settings(cls, source=None) -> RulesConfig:
        """The configuration from ``settings.JINDU_PERSONS`` (absent: the defaults).

        ``JINDU_PERSONS`` is shared with the risk and schedule modules: the rules read its
        ``"rules"`` sub-dict when there is one (unknown keys there raise ``ValueError`` naming
        them), otherwise the top-level keys named like the fields above (other keys ignored).
        ``source`` (a dict shaped like ``JINDU_PERSONS``) replaces the settings, for tests.
        A bad ``abstinence_clock`` raises ``ValueError``.
        """
        if source is None:
            from django.conf import settings

            source = getattr(settings, "JINDU_PERSONS", None) or {}
        known = {f.name for f in fields(cls)}
        if isinstance(source.get("rules"), dict):
            source = source["rules"]
            unknown = sorted(k for k in source if k not in known)
            if unknown:
                raise ValueError(f"unknown JINDU_PERSONS['rules'] setting(s): {', '.join(unknown)}")
        return cls(**{k: v for k, v in source.items() if k in known})


DEFAULT = RulesConfig()

# --- date arithmetic ----------------------------------------------------------------------


@lru_cache(maxsize=1 << 16)  # the nightly recomputation asks for the same few thousand dates again and again
def anniversary(start: dt.date, *, years: int = 0, months: int = 0) -> dt.date:
    """The same calendar date ``years``/``months`` after ``start``; where it does not exist
    (29 Feb in a common year, 31st of a 30-day month) the first day of the next month.

    ``anniversary(date(2024, 2, 29), years=3) == date(2027, 3, 1)``. See the module docstring
    ("Counting terms") for why.
    """
    later = start + relativedelta(months=years * 12 + months)
    if later.day != start.day:  # relativedelta clamped to the month's last day
        later += ONE_DAY
    return later


def term_last_day(start: dt.date, *, years: int = 0, months: int = 0) -> dt.date:
    """The last day of a term of ``years``/``months`` beginning on ``start`` (that day counted):
    the day before :func:`anniversary`. ``term_last_day(date(2019, 8, 7), years=2) ==
    date(2021, 8, 6)``; a 3-year term from 2024-02-29 ends on 2027-02-28 (our reading)."""
    return anniversary(start, years=years, months=months) - ONE_DAY


def report_due(ordered_on: dt.date, config: RulesConfig = DEFAULT) -> dt.date:
    """Last day to report after an order served on ``ordered_on`` (JDTL 14 community drug
    rehabilitation, JDTL 38 community rehabilitation): 15 days, the day of service not counted
    (民法典 art. 201, our reading). Overdue from the next day, when not reporting without good
    reason counts as refusing the measure (JDTL 14 para 1)."""
    return ordered_on + dt.timedelta(days=config.report_days)


def community_drug_rehab_end(reported_on: dt.date, *, credit_days: int = 0,
                             config: RulesConfig = DEFAULT) -> dt.date:
    """Last day of community drug rehabilitation: 3 years counted from the reporting date (JDF 33;
    JDTL 14 para 2), not restarted by a change of place (JDTL 22, "连续计算"), shortened by
    ``credit_days`` of isolation already served when isolation was converted (JDTL 31). Never
    before ``reported_on``."""
    end = term_last_day(reported_on, months=config.community_drug_rehab_months) - dt.timedelta(days=credit_days)
    return max(end, reported_on)


def isolation_end(decided_on: dt.date, *, extension_months: int = 0, days_at_large: int = 0,
                  config: RulesConfig = DEFAULT) -> dt.date:
    """Last day of compulsory isolated rehabilitation: 2 years from the decision date (JDF 47
    para 1; JDTL 27), plus the extensions (JDF 47 para 3; the caller caps them at 12 months),
    plus the days at large, which are not counted (JDTL 32). An early release ends it sooner
    (that date is the end; JDF 47 para 2)."""
    return (term_last_day(decided_on, months=config.isolation_months + extension_months)
            + dt.timedelta(days=days_at_large))


def early_release_possible_from(decided_on: dt.date, *, days_at_large: int = 0,
                                config: RulesConfig = DEFAULT) -> dt.date:
    """First day an early release is lawful: after at least one year executed (JDF 47 para 2),
    days at large not counting as executed (JDTL 32)."""
    return anniversary(decided_on, months=config.early_release_after_months) + dt.timedelta(days=days_at_large)


def community_rehab_end(reported_on: dt.date, *, term_months: int | None = None,
                        config: RulesConfig = DEFAULT) -> dt.date:
    """Last day of community rehabilitation: the ordered term (at most 3 years, JDF 48 / JDTL 37;
    ``config.community_rehab_default_months`` when the order states none) from the reporting
    date (JDTL 38; the 3-year count mirrors JDTL 14 para 2, which JDTL 37 para 2 applies)."""
    months = min(term_months or config.community_rehab_default_months, config.community_rehab_max_months)
    return term_last_day(reported_on, months=months)


def is_serious_breach(refused_tests: int, unapproved_departures: int, days_away: int,
                      config: RulesConfig = DEFAULT) -> bool:
    """JDTL 20: evading or refusing testing 3 times or more, leaving the county without
    permission 3 times or more, or more than 30 days away in total, within the measure."""
    return (refused_tests >= config.breach_refusals or unapproved_departures >= config.breach_departures
            or days_away > config.breach_days_away)


# --- events -------------------------------------------------------------------------------

#: Same-day order of kinds (module docstring, "Same-day order").
KIND_RANK = {
    K.FOUND_USING: 0, K.RELAPSE: 0, K.URINALYSIS: 0, K.HAIR_TEST: 0,
    K.REFUSED_TEST: 10, K.VIOLATION: 10, K.LEFT_COUNTY: 11, K.RETURNED: 12,
    K.ESCAPE: 20, K.RECAPTURE: 21, K.EXTENSION: 22,
    K.EARLY_RELEASE: 30, K.RELEASE: 31, K.MEASURE_COMPLETED: 32,
    K.COMMUNITY_REHAB_ORDER: 40, K.COMMUNITY_RECOVERY_ORDER: 41, K.ISOLATION_DECISION: 42,
    K.REFUSED_MEASURE: 45,
    K.REPORTED: 50, K.AGREEMENT_SIGNED: 51, K.ADMISSION: 52,
    K.RESIDENCE_CHANGED: 60,
    K.EMIGRATION: 90, K.DEATH: 91,
    K.CORRECTION: 99,
}
DETECTION_KINDS = frozenset({K.FOUND_USING, K.RELAPSE})
TEST_KINDS = frozenset({K.URINALYSIS, K.HAIR_TEST})


def _sort_key(e: TimelineEvent):
    approved = -1 if e.approved is None else int(e.approved)
    return (e.occurred_on, KIND_RANK.get(e.kind, 70), e.kind, e.id is None, e.id or 0, e.result or "",
            -1 if e.term_months is None else e.term_months, -1 if e.days is None else e.days, approved,
            -1 if e.corrects_id is None else e.corrects_id)


def voided_ids(events: Iterable[TimelineEvent]) -> set[int]:
    """Ids of events voided by a ``correction`` (``corrects_id``). A correction may itself be
    corrected, which restores what it voided. Corrections apply whatever their own date: a
    wrong record was wrong from the start."""
    events = list(events)
    by_target: dict[int, list[TimelineEvent]] = {}
    for e in events:
        if e.kind == K.CORRECTION and e.corrects_id is not None:
            by_target.setdefault(e.corrects_id, []).append(e)
    if not by_target:
        return set()
    memo: dict[int, bool] = {}

    def is_void(event_id: int, seen: frozenset) -> bool:
        if event_id in memo:
            return memo[event_id]
        if event_id in seen:  # a cycle of corrections: leave the records standing
            return False
        seen = seen | {event_id}
        result = any(c.id is None or not is_void(c.id, seen) for c in by_target.get(event_id, ()))
        memo[event_id] = result
        return result

    return {e.id for e in events if e.id is not None and is_void(e.id, frozenset())}


def effective_events(events: Iterable[TimelineEvent], as_of: dt.date) -> list[TimelineEvent]:
    """The events the rules use at ``as_of``: not voided by a correction, not corrections
    themselves, dated on or before ``as_of``, sorted (module docstring, "Same-day order")."""
    events = list(events)
    voided = voided_ids(events)
    kept = [e for e in events
            if e.kind != K.CORRECTION and e.occurred_on <= as_of and (e.id is None or e.id not in voided)]
    kept.sort(key=_sort_key)
    return kept


# --- derivation -----------------------------------------------------------------------------

#: Machine-readable warnings put in ``PersonState.flags`` (the UI translates them).
FLAGS = {
    "early_release_before_one_year": "early release before one year was executed (JDF 47 para 2)",
    "early_release_barred": "early release although barred (JDTL 32 after an escape; JDTL 38 para 2)",
    "extension_over_maximum": "extensions add up to more than 12 months; capped (JDF 47 para 3)",
    "extension_without_months": "extension without its months; the remaining maximum assumed",
    "extension_outside_isolation": "extension with no isolation running",
    "release_not_recorded": "isolation term expired with no release recorded; release assumed on the last day",
    "release_before_term_end": "release recorded before the computed end with no early-release record",
    "release_after_term_end": "release recorded after the computed end (missing extension or escape?)",
    "release_outside_isolation": "release with no isolation running",
    "at_large": "escaped and not recaptured: the end date moves by each day at large (JDTL 32)",
    "escape_outside_isolation": "escape or recapture with no isolation running",
    "term_over_maximum": "community rehabilitation ordered for more than 3 years; capped (JDF 48)",
    "community_rehab_without_isolation": "community rehabilitation ordered with no release from isolation (JDF 48)",
    "report_overdue": "order not reported within 15 days: counts as refusal (JDTL 14 / 38)",
    "report_late": "reported after the 15-day deadline",
    "report_without_order": "reporting with no order awaiting it",
    "use_during_measure": "drug use detected during a community measure: a ground for isolation (JDF 38)",
    "serious_breach": "serious breach of the agreement (JDTL 20): a ground for isolation (JDF 38)",
    "completed_before_term_end": "completion recorded before the computed end of the term",
    "events_after_final": "events dated after death or emigration were ignored",
    "event_outside_measure": "an event that needs a measure was recorded with none running",
    "correction_target_missing": "a correction names an event that is not on the timeline",
}


class _Measure:
    """One measure as the derivation sees it (mutable, private)."""

    __slots__ = (
        "kind", "isolation", "ordered_on", "term_months", "report_due_on", "reported_on", "agreement_on", "admitted_on",
        "extension_months", "at_large_days", "escaped_on", "ever_escaped", "credit_days", "no_early_release",
        "ended_on", "end_reason", "release_assumed", "refused", "overdue", "refusal_dates", "departures",
        "violations", "positive_dates", "pending_order", "converted_from_isolation", "after_release_on",
    )

    def __init__(self, kind: str, ordered_on: dt.date, *, term_months: int, report_due_on: dt.date | None = None):
        self.kind = kind
        self.isolation = kind == Status.ISOLATION
        self.ordered_on = ordered_on
        self.term_months = term_months
        self.report_due_on = report_due_on
        self.reported_on = self.agreement_on = self.admitted_on = None
        self.extension_months = self.at_large_days = self.credit_days = self.violations = 0
        self.escaped_on = None
        self.ever_escaped = False
        self.no_early_release: list[str] = []
        self.ended_on = None
        self.end_reason = ""
        self.release_assumed = self.refused = self.overdue = self.converted_from_isolation = False
        self.refusal_dates: list[dt.date] = []
        self.departures: list[list] = []  # [left_on, days or None (open), returned_on or None]
        self.positive_dates: list[dt.date] = []
        self.pending_order: tuple[dt.date, int, bool] | None = None  # community rehab ordered in isolation
        self.after_release_on: dt.date | None = None  # community rehab following an isolation release

    @property
    def started_on(self) -> dt.date | None:
        return self.ordered_on if self.isolation else self.reported_on

    @property
    def running(self) -> bool:
        return self.ended_on is None and self.started_on is not None

    @property
    def awaiting(self) -> bool:
        return self.ended_on is None and self.started_on is None

    def end(self, upto: dt.date, config: RulesConfig) -> dt.date | None:
        """The computed last day; for a person at large, as if recaptured on ``upto``."""
        if self.isolation:
            at_large = self.at_large_days + ((upto - self.escaped_on).days if self.escaped_on else 0)
            return isolation_end(self.ordered_on, extension_months=self.extension_months,
                                 days_at_large=at_large, config=config)
        if self.reported_on is None:
            return None
        if self.kind == Status.COMMUNITY_DRUG_REHAB:
            return community_drug_rehab_end(self.reported_on, credit_days=self.credit_days, config=config)
        return community_rehab_end(self.reported_on, term_months=self.term_months, config=config)

    def breach(self, upto: dt.date, config: RulesConfig):
        """JDTL 20 counters up to ``upto``: (refusals, unapproved departures, days away,
        date the breach was reached or None). Refusals are counted once per date (a
        ``refused_test`` and a test result ``refused`` on one day are one refusal)."""
        refusal_days = sorted({d for d in self.refusal_dates if d <= upto})
        breach_on = []
        if len(refusal_days) >= config.breach_refusals:
            breach_on.append(refusal_days[config.breach_refusals - 1])
        count = 0
        days = 0
        for left_on, length, _returned in self.departures:
            if left_on > upto:
                continue
            count += 1
            if count == config.breach_departures:
                breach_on.append(left_on)
            so_far = (upto - left_on).days
            d = so_far if length is None else min(length, so_far)
            if days <= config.breach_days_away < days + d:
                breach_on.append(left_on + dt.timedelta(days=config.breach_days_away - days + 1))
            days += d
        return len(refusal_days), count, days, (min(breach_on) if breach_on else None)


def _later(a: dt.date | None, b: dt.date | None) -> dt.date | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


class _Deriver:
    def __init__(self, config: RulesConfig, explain: bool):
        self.config = config
        self.explain = explain
        self.notes: list[str] = []
        self.flags: list[str] = []
        self.current: _Measure | None = None  # running or awaited
        self.last_ended: _Measure | None = None  # last measure that started and ended
        self.last_use: dt.date | None = None
        self.first_found: dt.date | None = None
        self.first_event: dt.date | None = None
        self.positives: list[dt.date] = []
        self.final: tuple[str, dt.date] | None = None
        self.ever_refused_or_breached = False
        self.current_since: dt.date | None = None
        self.orders: list[tuple[str, dt.date]] = []
        self.last_release_on: dt.date | None = None

    # -- helpers
    def note(self, text: Callable[[], str]) -> None:
        """Add a note. ``text`` makes the (translated, formatted) sentence; it is called only
        when notes are wanted, so bulk recomputation (``explain=False``) never translates."""
        if self.explain:
            self.notes.append(text())

    def flag(self, code: str) -> None:
        if code not in self.flags:
            self.flags.append(code)

    # -- time passing between events
    def advance(self, day: dt.date) -> None:
        """Bring the state to the start of ``day``: terms that ended before it end, reporting
        deadlines that passed before it turn into deemed refusals."""
        cfg = self.config
        while (m := self.current) is not None:
            if m.awaiting:
                if not m.overdue and m.report_due_on < day:
                    m.overdue = m.refused = True
                    self.ever_refused_or_breached = True
                    self.flag("report_overdue")
                    self.current_since = m.report_due_on + ONE_DAY
                    self.note(lambda: _(
                        "%(date)s 前未报到（%(cite)s：自收到决定之日起15日内报到）：视为拒绝接受%(measure)s"
                        "（《戒毒条例》第十四条第一款），属于责令强制隔离戒毒的情形（《禁毒法》第三十八条第一款第（一）项）。"
                    ) % {"date": m.report_due_on, "cite": _report_article(m.kind), "measure": _measure_name(m.kind)})
                return
            if m.isolation and m.escaped_on is not None:
                return
            end = m.end(day, cfg)
            if end >= day:
                return
            if m.isolation:
                m.release_assumed = True
                self.flag("release_not_recorded")
                self.note(lambda: _("强制隔离戒毒期限已于 %(date)s 届满，但没有解除记录；按当日解除处理"
                                    "（《戒毒条例》第三十四条）。") % {"date": end})
            else:
                self.note(lambda: _("%(measure)s期限于 %(date)s 届满结束（%(cite)s：期满解除）。") % {
                    "measure": _measure_name(m.kind), "date": end,
                    "cite": _("《戒毒条例》第二十三条") if m.kind == Status.COMMUNITY_DRUG_REHAB else _("《戒毒条例》第四十条")})
            self.close(m, end, "expired")

    def close(self, m: _Measure, on: dt.date, reason: str) -> None:
        """End measure ``m`` with ``on`` as its last day."""
        if m.running:
            refusals, departures, days, breach_on = m.breach(on, self.config)
            if breach_on is not None:
                self.ever_refused_or_breached = True
        m.ended_on = on
        m.end_reason = reason
        self.current = None
        if m.started_on is None:
            return  # an order never reported: nothing was executed
        self.last_ended = m
        self.current_since = on + ONE_DAY
        if m.isolation and reason not in (K.DEATH, K.EMIGRATION):
            self.last_release_on = on
            if m.pending_order is not None:
                ordered_on, term, stated = m.pending_order
                cr = self.open_community_rehab(ordered_on, term, stated, received_on=max(ordered_on, on))
                cr.after_release_on = on

    def open_community_rehab(self, ordered_on, term, stated, *, received_on) -> _Measure:
        cfg = self.config
        cr = _Measure(Status.COMMUNITY_REHAB, ordered_on, term_months=term,
                      report_due_on=report_due(received_on, cfg))
        self.current = cr
        self.note(lambda: _(
            "%(date)s 责令社区康复，%(term)s（《禁毒法》第四十八条，《戒毒条例》第三十七条）；应于 %(due)s 前报到"
            "（《戒毒条例》第三十八条：自收到决定之日起15日内%(received)s）。") % {
            "date": ordered_on, "due": cr.report_due_on,
            "term": (ngettext("期限 %(n)s 个月", "期限 %(n)s 个月", term) if stated else ngettext(
                "决定未写明期限，按默认 %(n)s 个月（合理默认值）", "决定未写明期限，按默认 %(n)s 个月（合理默认值）",
                term)) % {"n": term},
            "received": "" if received_on == ordered_on else _("，%(date)s 出所时收到") % {"date": received_on}})
        return cr

    # -- events
    def apply(self, e: TimelineEvent) -> None:
        cfg = self.config
        kind = e.kind
        day = e.occurred_on
        m = self.current
        if self.first_event is None:
            self.first_event = day

        if kind in DETECTION_KINDS or (kind in TEST_KINDS and e.result == TestResult.POSITIVE):
            self.detected_use(e)
            return
        if kind == K.REFUSED_TEST or (kind in TEST_KINDS and (
                e.result == TestResult.REFUSED
                or (e.result == TestResult.MISSED and cfg.missed_test_counts_as_evasion))):
            if m is not None and m.running and not m.isolation:
                m.refusal_dates.append(day)
            return
        if kind == K.LEFT_COUNTY:
            if m is not None and m.running and not m.isolation and e.approved is False:
                m.departures.append([day, e.days, None])
            return
        if kind == K.RETURNED:
            if m is not None and m.running and not m.isolation:
                for dep in reversed(m.departures):
                    if dep[1] is None and dep[2] is None:
                        dep[1] = (day - dep[0]).days
                        dep[2] = day
                        break
            return
        if kind == K.VIOLATION:
            if m is not None and m.running:
                m.violations += 1
            return
        if kind == K.REFUSED_MEASURE:
            if m is not None and not m.isolation:
                m.refused = True
                self.ever_refused_or_breached = True
                self.note(lambda: _("%(date)s 拒绝接受%(measure)s：属于责令强制隔离戒毒的情形（《禁毒法》第三十八条"
                                    "第一款第（一）项）；作出决定前状态不变。") % {
                    "date": day, "measure": _measure_name(m.kind)})
            else:
                self.flag("event_outside_measure")
            return
        if kind == K.COMMUNITY_REHAB_ORDER:
            self.order_community_drug_rehab(e)
            return
        if kind == K.COMMUNITY_RECOVERY_ORDER:
            self.order_community_rehab(e)
            return
        if kind == K.ISOLATION_DECISION:
            self.decide_isolation(e)
            return
        if kind == K.REPORTED:
            self.reported(e)
            return
        if kind == K.AGREEMENT_SIGNED:
            if m is not None and m.running and not m.isolation:
                m.agreement_on = m.agreement_on or day
            else:
                self.flag("event_outside_measure")
            return
        if kind == K.ADMISSION:
            if m is not None and m.isolation and m.running:
                m.admitted_on = m.admitted_on or day
            else:
                self.flag("event_outside_measure")
            return
        if kind == K.EXTENSION:
            self.extend(e)
            return
        if kind in (K.ESCAPE, K.RECAPTURE):
            self.escape(e)
            return
        if kind in (K.EARLY_RELEASE, K.RELEASE):
            self.release(e)
            return
        if kind == K.MEASURE_COMPLETED:
            self.completed(e)
            return
        if kind == K.RESIDENCE_CHANGED:
            if m is not None and m.running and not m.isolation:
                self.note(lambda: _("%(date)s 变更居住地：措施继续执行，期限连续计算，不重新起算"
                                    "（《戒毒条例》第二十二条）。") % {"date": day})
            return
        if kind in (K.DEATH, K.EMIGRATION):
            if m is not None:
                self.close(m, day, kind)
            self.final = (Status.DECEASED if kind == K.DEATH else Status.EMIGRATED, day)
            return
        # urinalysis / hair test negative or invalid, unknown kinds: nothing to derive

    def detected_use(self, e: TimelineEvent) -> None:
        day = e.occurred_on
        m = self.current
        if e.kind in TEST_KINDS:
            self.positives.append(day)
        if e.kind == K.FOUND_USING and self.first_found is None:
            self.first_found = day
        if m is not None and m.running and not m.isolation:
            m.positive_dates.append(day)
            self.flag("use_during_measure")
            self.note(lambda: _("%(date)s 在%(measure)s期间检出吸毒：属于责令强制隔离戒毒的情形（《禁毒法》第三十八条"
                                "第一款第（二）项）；作出决定前状态不变。") % {
                "date": day, "measure": _measure_name(m.kind)})
        if self.current_since is None:
            self.current_since = day
        elif m is None or m.overdue:
            # A relapse after being abstinent three years starts a new "current" spell.
            _clock, abstinent_on = self.abstinence(day, quiet=True)
            if abstinent_on is not None and abstinent_on <= day:
                self.current_since = day
                self.note(lambda: _("%(date)s 检出复吸，此前自 %(since)s 起已戒断三年未复吸。") % {
                    "date": day, "since": abstinent_on})
        self.last_use = _later(self.last_use, day)

    def supersede(self, day: dt.date, by: str) -> None:
        """A new order or decision (``by``: its ``EventKind``) replaces the measure running or awaited."""
        m = self.current
        if m is None:
            return
        if m.running:
            self.note(lambda: _("%(measure)s于 %(end)s 结束，由 %(date)s 的%(order)s取代。") % {
                "measure": _measure_name(m.kind), "end": day - ONE_DAY, "order": _(_ORDER_NAMES[by]), "date": day})
            self.close(m, day - ONE_DAY, "superseded")
        else:
            self.close(m, day, "superseded")

    def order_community_drug_rehab(self, e: TimelineEvent) -> None:
        cfg = self.config
        day = e.occurred_on
        m = self.current
        self.orders.append((K.COMMUNITY_REHAB_ORDER, day))
        credit = 0
        converted = False
        if m is not None and m.isolation and m.running:
            # JDTL 31: isolation converted into community drug rehabilitation (medical leave).
            served = (day - m.ordered_on).days - m.at_large_days - (
                (day - m.escaped_on).days if m.escaped_on else 0)
            credit = max(served, 0)
            converted = True
            self.note(lambda: ngettext(
                "%(date)s 强制隔离戒毒变更为社区戒毒（《戒毒条例》第三十一条）：强制隔离戒毒最后一日为 %(last)s，"
                "已执行的 %(n)s 日计入社区戒毒的3年期限。",
                "%(date)s 强制隔离戒毒变更为社区戒毒（《戒毒条例》第三十一条）：强制隔离戒毒最后一日为 %(last)s，"
                "已执行的 %(n)s 日计入社区戒毒的3年期限。", credit) % {"date": day, "last": day - ONE_DAY, "n": credit})
            m.escaped_on = None
            self.close(m, day - ONE_DAY, "converted")
        else:
            self.supersede(day, K.COMMUNITY_REHAB_ORDER)
        new = _Measure(Status.COMMUNITY_DRUG_REHAB, day, term_months=cfg.community_drug_rehab_months,
                       report_due_on=report_due(day, cfg))
        new.credit_days = credit
        new.converted_from_isolation = converted
        self.current = new
        self.note(lambda: _("%(date)s 责令社区戒毒（《禁毒法》第三十三条，《戒毒条例》第十三条）；应于 %(due)s 前报到"
                            "（《戒毒条例》第十四条：自收到决定之日起15日内）。") % {"date": day, "due": new.report_due_on})

    def order_community_rehab(self, e: TimelineEvent) -> None:
        cfg = self.config
        day = e.occurred_on
        m = self.current
        self.orders.append((K.COMMUNITY_RECOVERY_ORDER, day))
        stated = e.term_months is not None and e.term_months > 0
        term = e.term_months if stated else cfg.community_rehab_default_months
        if term > cfg.community_rehab_max_months:
            self.flag("term_over_maximum")
            self.note(lambda: _("责令社区康复期限 %(n)s 个月，超过上限，按 %(max)s 个月计（《禁毒法》第四十八条：不超过三年）。")
                      % {"n": term, "max": cfg.community_rehab_max_months})
            term = cfg.community_rehab_max_months
        if m is not None and m.isolation and m.running:
            m.pending_order = (day, term, stated)
            self.note(lambda: _("%(date)s 在强制隔离戒毒期间责令社区康复：自解除强制隔离戒毒之日起执行"
                                "（《禁毒法》第四十八条）。") % {"date": day})
            return
        after_release = None
        if self.last_ended is not None and self.last_ended.isolation and (m is None or not m.running):
            after_release = self.last_ended.ended_on
        else:
            self.flag("community_rehab_without_isolation")
        self.supersede(day, K.COMMUNITY_RECOVERY_ORDER)
        cr = self.open_community_rehab(day, term, stated, received_on=day)
        cr.after_release_on = after_release

    def decide_isolation(self, e: TimelineEvent) -> None:
        cfg = self.config
        day = e.occurred_on
        m = self.current
        self.orders.append((K.ISOLATION_DECISION, day))
        barred = []
        previous = m if m is not None else self.last_ended
        if previous is not None and previous.kind == Status.COMMUNITY_REHAB:
            upto = day if previous.ended_on is None else previous.ended_on
            if previous.refused or previous.breach(upto, cfg)[3] is not None:
                barred.append("JDTL 38 para 2")
        if m is not None and m.isolation and m.running:
            self.note(lambda: _("%(date)s 新的强制隔离戒毒决定取代 %(previous)s 的决定。") % {
                "date": day, "previous": m.ordered_on})
        self.supersede(day, K.ISOLATION_DECISION)
        new = _Measure(Status.ISOLATION, day, term_months=cfg.isolation_months)
        new.no_early_release = barred
        self.current = new
        if barred:
            self.note(lambda: _("本次强制隔离戒毒不得提前解除：此前曾拒绝接受或严重违反社区康复"
                                "（《戒毒条例》第三十八条第二款）。"))

    def reported(self, e: TimelineEvent) -> None:
        day = e.occurred_on
        m = self.current
        if m is not None and m.awaiting:
            m.reported_on = day
            if m.overdue:
                self.flag("report_late")
                self.note(lambda: _("%(date)s 报到，已超过报到期限 %(due)s；措施自报到之日起执行，逾期报到仍记录为"
                                    "视为拒绝（《戒毒条例》第十四条第一款）。") % {"date": day, "due": m.report_due_on})
                self.flags = [f for f in self.flags if f != "report_overdue"]
            return
        if m is not None and m.running and not m.isolation:
            self.note(lambda: _("%(date)s 再次报到（如变更居住地后向新的镇街报到，《戒毒条例》第二十二条）："
                                "自 %(since)s 起的期限连续计算。") % {"date": day, "since": m.reported_on})
            return
        self.flag("report_without_order")

    def extend(self, e: TimelineEvent) -> None:
        cfg = self.config
        m = self.current
        if m is None or not m.isolation or not m.running:
            self.flag("extension_outside_isolation")
            return
        room = cfg.max_extension_months - m.extension_months
        months = e.term_months
        if not months:
            self.flag("extension_without_months")
            months = max(room, 0)
        if months > room:
            self.flag("extension_over_maximum")
            self.note(lambda: _("%(date)s 延长 %(n)s 个月，超过12个月的上限（《禁毒法》第四十七条第三款）："
                                "按 %(counted)s 个月计。") % {"date": e.occurred_on, "n": months, "counted": max(room, 0)})
            months = max(room, 0)
        m.extension_months += months
        self.note(lambda: ngettext(
            "%(date)s 强制隔离戒毒期限延长 %(n)s 个月（《禁毒法》第四十七条第三款，《戒毒条例》第三十三条）。",
            "%(date)s 强制隔离戒毒期限延长 %(n)s 个月（《禁毒法》第四十七条第三款，《戒毒条例》第三十三条）。",
            months) % {"date": e.occurred_on, "n": months})

    def escape(self, e: TimelineEvent) -> None:
        day = e.occurred_on
        m = self.current
        if m is None or not m.isolation or not m.running:
            self.flag("escape_outside_isolation")
            return
        if e.kind == K.ESCAPE:
            if m.escaped_on is None:
                m.escaped_on = day
                m.ever_escaped = True
            return
        if m.escaped_on is None:
            self.flag("escape_outside_isolation")
            return
        at_large = (day - m.escaped_on).days
        m.at_large_days += at_large
        escaped_on = m.escaped_on
        self.note(lambda: ngettext(
            "%(escaped)s 脱逃，%(date)s 收回：在逃 %(n)s 日不计入执行期限，期满日相应顺延（《戒毒条例》第三十二条）；"
            "此后不得提前解除。",
            "%(escaped)s 脱逃，%(date)s 收回：在逃 %(n)s 日不计入执行期限，期满日相应顺延（《戒毒条例》第三十二条）；"
            "此后不得提前解除。", at_large) % {"escaped": escaped_on, "date": day, "n": at_large})
        m.escaped_on = None
        if "JDTL 32" not in m.no_early_release:
            m.no_early_release.append("JDTL 32")

    def release(self, e: TimelineEvent) -> None:
        cfg = self.config
        day = e.occurred_on
        m = self.current
        if m is None or not m.isolation or not m.running:
            last = self.last_ended
            if (e.kind == K.RELEASE and last is not None and last.isolation and last.release_assumed
                    and day > last.ended_on):
                # The term expired earlier by our count; the recorded release is the fact.
                late = (day - last.ended_on).days
                self.note(lambda: ngettext(
                    "%(date)s 解除，比计算的期满日 %(end)s 晚 %(n)s 日：请核查是否漏录延长期限或在逃时间。",
                    "%(date)s 解除，比计算的期满日 %(end)s 晚 %(n)s 日：请核查是否漏录延长期限或在逃时间。",
                    late) % {"date": day, "end": last.ended_on, "n": late})
                self.flags = [f for f in self.flags if f != "release_not_recorded"]
                self.flag("release_after_term_end")
                last.release_assumed = False
                last.ended_on = day
                self.last_release_on = day
                self.current_since = day + ONE_DAY
                if m is not None and m.awaiting and m.after_release_on is not None:
                    m.after_release_on = day
                    m.report_due_on = report_due(max(m.ordered_on, day), cfg)
                return
            self.flag("release_outside_isolation")
            return
        computed_end = m.end(day, cfg)
        if e.kind == K.EARLY_RELEASE:
            allowed = early_release_possible_from(m.ordered_on, days_at_large=m.at_large_days, config=cfg)
            if day < allowed:
                self.flag("early_release_before_one_year")
                self.note(lambda: _("%(date)s 提前解除，但执行未满一年（最早 %(allowed)s，《禁毒法》第四十七条第二款）。")
                          % {"date": day, "allowed": allowed})
            if m.no_early_release:
                self.flag("early_release_barred")
                self.note(lambda: _("%(date)s 提前解除，但依法不得提前解除（%(grounds)s）。") % {
                    "date": day, "grounds": _("；").join(_(_EARLY_RELEASE_BARS[code]) for code in m.no_early_release)})
            self.note(lambda: _("%(date)s 提前解除强制隔离戒毒（《禁毒法》第四十七条第二款）；计算的期满日为 %(end)s。")
                      % {"date": day, "end": computed_end})
        elif day < computed_end:
            self.flag("release_before_term_end")
            self.note(lambda: _("%(date)s 解除，早于计算的期满日 %(end)s，且没有提前解除记录。") % {
                "date": day, "end": computed_end})
        else:
            self.note(lambda: _("%(date)s 解除强制隔离戒毒（《戒毒条例》第三十四条）。") % {"date": day})
        m.escaped_on = None
        self.close(m, day, e.kind)

    def completed(self, e: TimelineEvent) -> None:
        day = e.occurred_on
        m = self.current
        if m is not None and m.running and not m.isolation:
            end = m.end(day, self.config)
            if day < end:
                self.flag("completed_before_term_end")
                self.note(lambda: _("%(measure)s于 %(date)s 记录为期满解除，早于计算的期满日 %(end)s；以记录为准。") % {
                    "measure": _measure_name(m.kind), "date": day, "end": end})
            self.close(m, day, "completed")
            return
        if m is not None and m.isolation and m.running:
            self.release(TimelineEvent(kind=K.RELEASE, occurred_on=day))
            return
        # a completion notice served after the term expired (JDTL 23 / 40): nothing changes

    # -- abstinence
    def abstinence(self, as_of: dt.date, *, quiet: bool = False):
        """(clock start, date the person becomes abstinent three years) at ``as_of``."""
        cfg = self.config
        m = self.current
        running = m if m is not None and m.running else None
        if m is not None and m.awaiting and not m.overdue:
            return None, None  # depends on when the person reports
        run_end = running.end(as_of, cfg) if running else None
        note = (lambda text: None) if quiet else self.note
        option = cfg.abstinence_clock
        last_use = self.last_use
        measure_end = run_end if running else (self.last_ended.ended_on if self.last_ended else None)
        # ``why`` makes the clause saying where the clock starts (only called for the notes).
        if option == CLOCK_LATER_OF:
            clock = _later(measure_end, last_use)
            why = lambda: _("最后一项措施结束（%(end)s）与最后一次检出吸毒（%(use)s）中较晚者") % {  # noqa: E731
                "end": _or_none(measure_end), "use": _or_none(last_use)}
        elif option == CLOCK_MEASURE_END:
            if measure_end is None:
                clock = last_use
                why = lambda: _("最后一次检出吸毒（%(use)s），因从未执行措施") % {"use": _or_none(last_use)}  # noqa: E731
            elif last_use is not None and last_use > measure_end:
                note(lambda: _("戒断计时（设置：自最后一项措施结束起算）：措施于 %(end)s 结束后，%(date)s 又检出吸毒；"
                               "待新的措施结束后才重新起算。") % {"date": last_use, "end": measure_end})
                return None, None
            else:
                clock = measure_end
                why = lambda: _("最后一项措施结束（%(end)s）") % {"end": measure_end}  # noqa: E731
        elif option == CLOCK_LAST_USE:
            clock = last_use
            why = lambda: _("最后一次检出吸毒（%(use)s）") % {"use": _or_none(last_use)}  # noqa: E731
            if clock is None:
                clock = self.first_event
                why = lambda: _("首个事件（%(date)s），因从未检出吸毒") % {"date": _or_none(clock)}  # noqa: E731
        else:  # provincial three cases (casework_rules.md §5; SHREG 29, SDREG 36)
            ref = running or self.last_ended
            if ref is None:
                start, case = last_use, gettext_noop("情形一：查获吸毒且未执行措施，自查获之日起")
            elif ref.isolation:
                start = ref.ended_on or run_end
                case = gettext_noop("情形三：自解除强制隔离戒毒之日起")
            elif ref.converted_from_isolation:
                start = ref.ordered_on
                case = gettext_noop("情形三（上海）：强制隔离戒毒变更为社区戒毒的，自变更之日起")
            elif ref.after_release_on is not None:
                start = ref.after_release_on
                case = gettext_noop("情形三：强制隔离戒毒后的社区康复，自解除强制隔离戒毒之日起")
            else:
                start = ref.reported_on
                case = gettext_noop("情形二：社区戒毒（康复），自开始执行之日起")
            clock = _later(start, last_use)
            why = lambda: _("%(case)s（%(start)s）；此后检出吸毒（%(use)s）则重新起算") % {  # noqa: E731
                "case": _(case), "start": _or_none(start), "use": _or_none(last_use)}
        if clock is None:
            return None, None
        if cfg.exclude_refusal_or_breach and self.ever_refused_or_breached:
            note(lambda: _("不认定为戒断三年未复吸：曾拒绝接受或严重违反社区戒毒（康复）（设置 exclude_refusal_or_breach，"
                           "即上海规则，《上海市禁毒条例》第二十九条）。"))
            return clock, None
        abstinent_on = anniversary(clock, years=cfg.abstinence_years)
        if measure_end is not None and abstinent_on <= measure_end:
            # Never "abstinent three years" while under a measure: from the day after it ends.
            abstinent_on = measure_end + ONE_DAY
            why = lambda why=why: _("%(why)s；且不早于最后一项措施结束的次日（措施于 %(end)s 结束）") % {  # noqa: E731
                "why": why(), "end": measure_end}
        note(lambda: _("戒断计时自 %(clock)s 起：%(why)s（设置 %(option)s；官方起算点尚不确定，见 legal_rules.md §2）。"
                       "如未再检出吸毒，自 %(date)s 起为戒断三年未复吸（《戒毒条例》第七条）。") % {
            "clock": clock, "why": why(), "option": option, "date": abstinent_on})
        return clock, abstinent_on


def _measure_name(kind: str) -> str:
    """The measure's name in the active language, lower case (it is used inside sentences)."""
    return str(Status(kind).label).lower()


def _report_article(kind: str) -> str:
    """The article setting the reporting deadline of a community measure (JDTL 14 / 38)."""
    return _("《戒毒条例》第十四条") if kind == Status.COMMUNITY_DRUG_REHAB else _("《戒毒条例》第三十八条")


def _or_none(day: dt.date | None):
    return _("无").lower() if day is None else day


#: The orders and decisions that replace a measure (``_Deriver.supersede``), by event kind.
_ORDER_NAMES = {
    K.COMMUNITY_REHAB_ORDER: gettext_noop("责令社区戒毒决定"),
    K.COMMUNITY_RECOVERY_ORDER: gettext_noop("责令社区康复决定"),
    K.ISOLATION_DECISION: gettext_noop("强制隔离戒毒决定"),
}

#: Why an isolation may not end early (``_Measure.no_early_release`` codes).
_EARLY_RELEASE_BARS = {
    "JDTL 32": gettext_noop("曾脱逃，《戒毒条例》第三十二条"),
    "JDTL 38 para 2": gettext_noop("曾拒绝接受或严重违反社区康复，《戒毒条例》第三十八条第二款"),
}


def derive_state(events: Iterable[TimelineEvent], as_of: dt.date, config: RulesConfig = DEFAULT, *,
                 explain: bool = True) -> PersonState:
    """Everything the timeline says about a person at the local date ``as_of``.

    ``events``: the person's events in any order (corrections included; events after
    ``as_of`` are ignored, so passing the whole timeline gives the state on any past date).
    ``explain=False`` skips the human-readable ``notes`` (for bulk recomputation); everything
    else is identical. Never raises on odd timelines: oddities become ``flags`` (codes in
    :data:`FLAGS`) and notes.

    Status, in order of precedence:

    1. ``deceased`` / ``emigrated`` from the death / emigration date; final (later events are
       ignored unless the death or emigration record is corrected).
    2. ``isolation`` from the decision date to :func:`isolation_end` (JDF 47, JDTL 27, 32) or the
       (early) release.
    3. ``community_drug_rehab`` / ``community_rehab`` from the reporting date to
       :func:`community_drug_rehab_end` / :func:`community_rehab_end` (JDF 33, 48; JDTL 14, 37, 38).
       A detected use, a refusal or a serious breach during the measure is noted and flagged
       (grounds for isolation, JDF 38) but the status stays until a decision is recorded.
    4. ``awaiting_report``: an order served, not reported, up to and including the 15th day
       (JDTL 14, 38). From the 16th day the person is a current user not under a measure with
       ``refused_measure`` set (deemed refusal) and ``measure`` still naming the order.
    5. ``abstinent_3y`` from ``abstinent_three_years_on`` (see :class:`RulesConfig` and
       :func:`abstinence_clock_start`); otherwise ``current_no_measure`` (``status_since``: the
       day after the last measure ended, the day after a missed reporting deadline, the day of a
       relapse after abstinence, or the first detection).

    Dates: ``measure_end_on`` is the last day of the measure in force (None while awaiting a
    report); ``last_measure_end_on`` the last day of the last executed measure;
    ``last_release_on`` the last day in isolation (release, early release, conversion, or the
    expiry when no release is recorded); ``abstinent_three_years_on`` is computed even when not
    yet reached (None while awaiting a report, when the setting cannot know it, or when the
    Shanghai exclusion applies); ``first_found_on`` is the first ``found_using`` (else the
    first positive test); ``measures_ordered`` lists every order and decision.

    Breach counters (JDTL 20) count within the community measure in force, from its reporting
    date: refusals/evasions of testing by distinct date, unapproved departures
    (``approved is False``), and the days of those departures (a departure still open counts up
    to ``as_of``); ``serious_breach_on`` is the day a threshold was reached.
    """
    cfg = config
    d = _Deriver(cfg, explain)
    all_events = list(events)
    targets = [e.corrects_id for e in all_events if e.kind == K.CORRECTION and e.corrects_id is not None]
    if targets and not {e.id for e in all_events}.issuperset(targets):
        d.flag("correction_target_missing")
    timeline = effective_events(all_events, as_of)
    for e in timeline:
        if d.final is not None:
            d.flag("events_after_final")
            break
        d.advance(e.occurred_on)
        d.apply(e)
    if d.final is None:
        d.advance(as_of)
    return _state(d, as_of)


def _state(d: _Deriver, as_of: dt.date) -> PersonState:
    cfg = d.config
    m = d.current
    st = PersonState(as_of=as_of, status=Status.CURRENT_NO_MEASURE)
    st.first_found_on = d.first_found or (d.positives[0] if d.positives else None)
    st.last_detected_use_on = d.last_use
    st.positive_tests = list(d.positives)
    st.rehab_episodes = len(d.orders)
    st.measures_ordered = list(d.orders)
    st.last_release_on = d.last_release_on
    st.last_measure_end_on = d.last_ended.ended_on if d.last_ended else None
    st.abstinence_rule = cfg.abstinence_clock

    if d.final is not None:
        st.status, st.status_since = d.final
        if st.status == Status.DECEASED:
            d.note(lambda: _("%(date)s 死亡：除非更正该记录，此为最终状态。") % {"date": st.status_since})
        else:
            d.note(lambda: _("%(date)s 出境定居：除非更正该记录，此为最终状态。") % {"date": st.status_since})
        st.ever_refused_or_breached = d.ever_refused_or_breached
        st.notes, st.flags = d.notes, d.flags
        return st

    if m is not None:
        st.measure = m.kind
        st.measure_ordered_on = m.ordered_on
        st.measure_started_on = m.started_on
        st.reported_on = m.reported_on
        st.agreement_signed_on = m.agreement_on
        st.refused_measure = m.refused
        if not m.isolation:
            st.report_due_on = m.report_due_on
            st.report_overdue = m.overdue and m.reported_on is None
        if m.running:
            st.measure_end_on = m.end(as_of, cfg)
            st.status = m.kind
            st.status_since = m.started_on
            if m.isolation:
                st.admitted_on = m.admitted_on
                st.extension_months = m.extension_months
                st.days_at_large = m.at_large_days + ((as_of - m.escaped_on).days if m.escaped_on else 0)
                if m.escaped_on is not None:
                    d.flag("at_large")
                    d.note(lambda: _("自 %(date)s 起在逃：在逃期间每过一日，期满日顺延一日（《戒毒条例》第三十二条）。")
                           % {"date": m.escaped_on})
                if not m.no_early_release and not m.ever_escaped:
                    st.early_release_possible_from = early_release_possible_from(
                        m.ordered_on, days_at_large=m.at_large_days, config=cfg)
                d.note(lambda: _("自 %(date)s 决定起强制隔离戒毒（《禁毒法》第四十七条，《戒毒条例》第二十七条）："
                                 "2年%(extended)s%(at_large)s，最后一日为 %(end)s。") % {
                    "date": m.ordered_on, "end": st.measure_end_on,
                    "extended": ngettext("，延长 %(n)s 个月", "，延长 %(n)s 个月", m.extension_months) % {
                        "n": m.extension_months} if m.extension_months else "",
                    "at_large": ngettext("，加在逃 %(n)s 日", "，加在逃 %(n)s 日", st.days_at_large) % {
                        "n": st.days_at_large} if st.days_at_large else ""})
            else:
                refusals, departures, days, breach_on = m.breach(as_of, cfg)
                st.refused_tests, st.unapproved_departures, st.days_away = refusals, departures, days
                st.violations = m.violations
                if breach_on is not None:
                    st.serious_breach = True
                    st.serious_breach_on = breach_on
                    d.ever_refused_or_breached = True
                    d.flag("serious_breach")
                    d.note(lambda: _("%(date)s 构成严重违反协议（《戒毒条例》第二十条：拒绝或逃避检测 %(refusals)s 次，"
                                     "未经批准离开 %(departures)s 次，累计离开 %(days)s 日）：属于责令强制隔离戒毒的情形"
                                     "（《禁毒法》第三十八条第一款第（三）项）；作出决定前状态不变。") % {
                        "date": breach_on, "refusals": refusals, "departures": departures, "days": days})
                if m.kind == Status.COMMUNITY_DRUG_REHAB:
                    d.note(lambda: _("自 %(date)s 报到起社区戒毒（《禁毒法》第三十三条，《戒毒条例》第十四条："
                                     "自报到之日起3年%(credit)s），最后一日为 %(end)s。") % {
                        "date": m.reported_on, "end": st.measure_end_on,
                        "credit": ngettext("，扣除已执行的强制隔离戒毒 %(n)s 日（《戒毒条例》第三十一条）",
                                           "，扣除已执行的强制隔离戒毒 %(n)s 日（《戒毒条例》第三十一条）",
                                           m.credit_days) % {"n": m.credit_days} if m.credit_days else ""})
                else:
                    d.note(lambda: ngettext(
                        "自 %(date)s 报到起社区康复（《禁毒法》第四十八条，《戒毒条例》第三十七条、第三十八条：%(n)s 个月），"
                        "最后一日为 %(end)s。",
                        "自 %(date)s 报到起社区康复（《禁毒法》第四十八条，《戒毒条例》第三十七条、第三十八条：%(n)s 个月），"
                        "最后一日为 %(end)s。", m.term_months) % {
                        "date": m.reported_on, "n": m.term_months, "end": st.measure_end_on})
        elif not m.overdue:
            st.status = Status.AWAITING_REPORT
            st.status_since = _later(m.ordered_on, m.after_release_on)  # an order made in isolation waits for release
            d.note(lambda: _("等待报到：%(date)s 责令%(measure)s，应于 %(due)s 前报到（%(cite)s）；期限自报到之日起计算。")
                   % {"date": m.ordered_on, "measure": _measure_name(m.kind), "due": m.report_due_on,
                      "cite": _report_article(m.kind)})

    clock, abstinent_on = d.abstinence(as_of)
    st.abstinence_clock_from = clock
    st.abstinent_three_years_on = abstinent_on
    if st.status == Status.CURRENT_NO_MEASURE:
        if abstinent_on is not None and as_of >= abstinent_on:
            st.status = Status.ABSTINENT_3Y
            st.status_since = abstinent_on
            d.note(lambda: _("自 %(date)s 起戒断三年未复吸（未检出复吸）：不再列入动态管控（《戒毒条例》第七条第二款）。")
                   % {"date": abstinent_on})
        else:
            st.status_since = d.current_since or d.first_event
            if d.last_ended is not None and (m is None or m.overdue):
                d.note(lambda: _("现有吸毒人员，未在管控措施中：最后一项措施于 %(date)s 结束。") % {
                    "date": d.last_ended.ended_on})
            elif m is None:
                d.note(lambda: _("现有吸毒人员，未在管控措施中。") if d.first_event else
                       _("时间线上没有事件：按现有吸毒人员（未在管控措施中）处理。"))
            if d.last_ended is not None and d.last_use is not None and d.last_use > d.last_ended.ended_on:
                d.note(lambda: _("措施结束后于 %(date)s 检出吸毒：属于责令强制隔离戒毒的情形"
                                 "（《禁毒法》第三十八条第一款第（四）项）。") % {"date": d.last_use})
    st.ever_refused_or_breached = d.ever_refused_or_breached
    st.notes, st.flags = d.notes, d.flags
    return st


def abstinence_clock_start(events: Iterable[TimelineEvent], as_of: dt.date,
                           config: RulesConfig = DEFAULT) -> dt.date | None:
    """Where the three-year clock starts at ``as_of`` under ``config.abstinence_clock``
    (shortcut for ``derive_state(...).abstinence_clock_from``).

    Options (the official start is **UNCERTAIN**, legal_rules.md §2; the criterion is "no
    *detected* use", so a detected use always stops a running clock):

    - ``later_of_measure_end_and_last_use`` (default): from the later of the last day of the last
      measure and the last detected use — the issue's default, and the reading that never counts
      time under a measure or before a detected use.
    - ``measure_end``: from the last day of the last measure; a use detected after it leaves the
      date unknown (``None``) until a new measure ends; with no measure ever, from the last use.
    - ``last_use``: from the last detected use only (the first event if none was recorded).
    - ``provincial_three_cases`` (SHREG 29, SDREG 36; casework_rules.md §5): caught using with no
      measure → the date caught; community measure → the start of its execution (reporting);
      isolation → the release date, also for the community rehabilitation that follows it and,
      as in Shanghai, for isolation converted into community drug rehabilitation → the conversion.
      A use detected later restarts it from that date.

    Whatever the option, a person under a running measure is never "abstinent three years":
    ``abstinent_three_years_on`` is at least the day after the last day of the last (or running)
    measure.
    """
    return derive_state(events, as_of, config, explain=False).abstinence_clock_from


# --- driving licences (公安部令第162号) -------------------------------------------------------

ORDER_KINDS = (K.COMMUNITY_REHAB_ORDER, K.ISOLATION_DECISION, K.COMMUNITY_RECOVERY_ORDER)
_UNDER_MEASURE = (Status.COMMUNITY_DRUG_REHAB, Status.ISOLATION, Status.COMMUNITY_REHAB, Status.AWAITING_REPORT)
_MEASURE_ORDER_KIND = {Status.COMMUNITY_DRUG_REHAB: K.COMMUNITY_REHAB_ORDER, Status.ISOLATION: K.ISOLATION_DECISION,
                       Status.COMMUNITY_REHAB: K.COMMUNITY_RECOVERY_ORDER}


def licence_cancellation_ground(state: PersonState, *, licence_issued_on: dt.date | None = None) -> str | None:
    """The drug-related ground for cancelling a driving licence under 公安部令第162号 art. 79(6)
    ("被责令社区戒毒、社区康复或者决定强制隔离戒毒"), as the ``EventKind`` value of the order
    that gives it (``community_drug_rehab_order``, ``isolation_decision`` or
    ``community_rehab_order``), or ``None``.

    Without ``licence_issued_on``: the order of the measure in force or awaited (the person is
    ordered/decided now). With it: the latest order made on or after that date (a licence
    issued after an order was not affected by it). Other grounds of art. 79 (drug driving,
    dependence on psychotropics, death) are not on the timeline and are not judged here; a dead
    or emigrated person returns ``None``.
    """
    if state.status in (Status.DECEASED, Status.EMIGRATED):
        return None
    if licence_issued_on is None:
        if state.measure is not None and (state.status in _UNDER_MEASURE or state.refused_measure):
            return _MEASURE_ORDER_KIND[state.measure]
        return None
    later = [kind for kind, day in state.measures_ordered if day >= licence_issued_on]
    return later[-1] if later else None


def licence_application_allowed_from(state: PersonState) -> dt.date | None:
    """First date a licence application is not barred by 公安部令第162号 art. 15(2): three years
    after the last detected use and three years after the last release from isolation, and not
    before the measure in force ends. ``None`` when the date cannot be known (dead, emigrated,
    awaiting report or a refused order outstanding, at large). Art. 18(4) (heavy classes: any
    record of a measure, no time limit) is separate: see ``state.measures_ordered``."""
    if state.status in (Status.DECEASED, Status.EMIGRATED, Status.AWAITING_REPORT):
        return None
    if state.measure is not None and state.refused_measure and state.status == Status.CURRENT_NO_MEASURE:
        return None
    candidates = []
    if state.last_detected_use_on is not None:
        candidates.append(anniversary(state.last_detected_use_on, years=3))
    if state.last_release_on is not None:
        candidates.append(anniversary(state.last_release_on, years=3))
    if state.status in (Status.COMMUNITY_DRUG_REHAB, Status.COMMUNITY_REHAB, Status.ISOLATION):
        if state.measure_end_on is None:
            return None
        if state.status == Status.ISOLATION:  # released on the last day (rules.isolation_end)
            candidates.append(anniversary(state.measure_end_on, years=3))
        candidates.append(state.measure_end_on + ONE_DAY)
    return max(candidates) if candidates else state.as_of


def may_apply_for_licence(state: PersonState, as_of: dt.date) -> bool:
    """Whether 公安部令第162号 art. 15(2) lets the person apply for a licence on ``as_of``: no
    drug use detected in the last 3 years, at least 3 years since release from isolation, and no
    measure in force (the platform rule of legal_rules.md §3). ``state`` should be derived at
    ``as_of``; for a later ``as_of`` the answer assumes nothing new happens in between."""
    allowed_from = licence_application_allowed_from(state)
    return allowed_from is not None and as_of >= allowed_from
