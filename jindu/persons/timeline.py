"""Plain data shapes shared by the rules (``rules.py``), risk (``risk.py``) and schedule
(``schedule.py``) modules: no Django models here, so the legal logic is testable alone.

``TimelineEvent`` is one row of a person's timeline as the rules see it; ``PersonState`` is
everything the rules derive from the whole timeline at one date.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass(frozen=True)
class TimelineEvent:
    """One event (``persons.choices.EventKind``) on a person's timeline.

    - ``occurred_on``: the local date it happened (not the date it was entered: paper
      records are entered late, and the rules use this date only).
    - ``result``: for ``urinalysis`` / ``hair_test``, a ``TestResult`` value.
    - ``term_months``: the ordered length where the order states one (community
      rehabilitation order "up to 3 years", JDF 48), or the months added by an
      ``extension`` (JDF 47 para 3, at most 12).
    - ``days``: for ``left_county``, the days away; for ``escape`` the rules use the
      matching ``recapture`` instead.
    - ``approved``: for ``left_county``, whether the absence was approved/reported (JDTL 19(3)).
    - ``corrects_id``: for ``correction``, the id of the event it voids (records are
      corrected, never deleted).
    """

    kind: str
    occurred_on: dt.date
    id: int | None = None
    result: str | None = None
    term_months: int | None = None
    days: int | None = None
    approved: bool | None = None
    corrects_id: int | None = None


@dataclass
class PersonState:
    """What the timeline says about a person at ``as_of``.

    Dates are local dates; ``None`` means "not applicable / unknown".
    """

    as_of: dt.date
    status: str  # persons.choices.Status
    status_since: dt.date | None = None
    # The measure in force (or awaited): "community_drug_rehab", "isolation", "community_rehab"
    measure: str | None = None
    measure_ordered_on: dt.date | None = None
    measure_started_on: dt.date | None = None  # reporting date, or isolation decision date
    measure_end_on: dt.date | None = None  # computed legal end (see rules)
    report_due_on: dt.date | None = None  # 15-day reporting deadline (JDTL 14 / 38)
    reported_on: dt.date | None = None
    agreement_signed_on: dt.date | None = None
    last_detected_use_on: dt.date | None = None
    last_measure_end_on: dt.date | None = None
    last_release_on: dt.date | None = None  # release from compulsory isolation
    abstinence_clock_from: dt.date | None = None
    abstinent_three_years_on: dt.date | None = None  # the date the 3 years are complete
    first_found_on: dt.date | None = None
    # Breach counters within the measure in force (JDTL 20)
    refused_tests: int = 0
    unapproved_departures: int = 0
    days_away: int = 0
    serious_breach: bool = False
    refused_measure: bool = False
    rehab_episodes: int = 0  # measures ever ordered (社戒, 社康, 强戒)
    positive_tests: list[dt.date] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # human-readable explanations of the derivation
    # Added by rules.py (additive; see rules.derive_state for the meaning of each):
    flags: list[str] = field(default_factory=list)  # warning codes, rules.FLAGS
    report_overdue: bool = False  # order not reported by report_due_on (deemed refusal, JDTL 14)
    admitted_on: dt.date | None = None  # admission to the isolation facility
    extension_months: int = 0  # isolation extensions counted (≤ 12, JDF 47 para 3)
    days_at_large: int = 0  # isolation days at large, added to the end (JDTL 32)
    early_release_possible_from: dt.date | None = None  # JDF 47 para 2; None if barred (JDTL 32/38)
    serious_breach_on: dt.date | None = None  # day a JDTL 20 threshold was reached
    violations: int = 0  # recorded violations of the agreement within the measure in force
    ever_refused_or_breached: bool = False  # any community measure refused or seriously breached
    measures_ordered: list[tuple[str, dt.date]] = field(default_factory=list)  # (EventKind of order, date)
    abstinence_rule: str = ""  # RulesConfig.abstinence_clock used
