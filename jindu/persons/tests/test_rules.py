"""The rules module: statuses and legal clocks derived from the timeline (no database).

Dates are worked by hand from the articles in shared/reference/regulatory/legal_rules.md §1–§3
and casework_rules.md §5, §6.4; each test names the article it checks. Terms end on the day
before the anniversary of their start (rules.py, "Counting terms").
"""

from __future__ import annotations

import dataclasses
from datetime import date as D
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jindu.persons.choices import EventKind as K
from jindu.persons.choices import Status
from jindu.persons.choices import TestResult as Result
from jindu.persons.rules import (
    ABSTINENCE_CLOCKS,
    DEFAULT,
    RulesConfig,
    abstinence_clock_start,
    anniversary,
    community_drug_rehab_end,
    derive_state,
    effective_events,
    isolation_end,
    is_serious_breach,
    licence_application_allowed_from,
    licence_cancellation_ground,
    may_apply_for_licence,
    report_due,
    term_last_day,
)
from jindu.persons.timeline import TimelineEvent


class Timeline:
    """Builds events with ids in the order they are written."""

    def __init__(self):
        self.events: list[TimelineEvent] = []

    def add(self, kind, on, **details) -> TimelineEvent:
        e = TimelineEvent(kind=kind, occurred_on=on, id=len(self.events) + 1, **details)
        self.events.append(e)
        return e

    def state(self, as_of, config=DEFAULT):
        return derive_state(self.events, as_of, config)


def community_drug_rehab(ordered=D(2024, 3, 1), reported=D(2024, 3, 10)) -> Timeline:
    t = Timeline()
    t.add(K.FOUND_USING, ordered)
    t.add(K.COMMUNITY_REHAB_ORDER, ordered)
    if reported:
        t.add(K.REPORTED, reported)
    return t


def isolation(decided=D(2022, 5, 10)) -> Timeline:
    t = Timeline()
    t.add(K.FOUND_USING, decided)
    t.add(K.ISOLATION_DECISION, decided)
    t.add(K.ADMISSION, decided)
    return t


# --- counting terms ---------------------------------------------------------------------------

def test_term_runs_to_the_day_before_the_anniversary():
    """JDTL 27: 2 years from the decision date; printed as 自2019年8月7日至2021年8月6日止."""
    assert term_last_day(D(2019, 8, 7), years=2) == D(2021, 8, 6)
    assert isolation_end(D(2019, 8, 7)) == D(2021, 8, 6)


def test_29_february_and_month_ends():
    """Our reading (rules.py "Counting terms", 民法典 art. 202): no corresponding day → the term
    ends on the month's last day, never short of N calendar years or months."""
    assert anniversary(D(2024, 2, 29), years=3) == D(2027, 3, 1)
    assert term_last_day(D(2024, 2, 29), years=3) == D(2027, 2, 28)
    assert term_last_day(D(2023, 3, 1), years=1) == D(2024, 2, 29)
    assert term_last_day(D(2024, 1, 31), months=1) == D(2024, 2, 29)
    assert term_last_day(D(2024, 8, 31), months=1) == D(2024, 9, 30)
    assert anniversary(D(2028, 2, 29), years=4) == D(2032, 2, 29)


def test_reporting_deadline_is_15_days_after_service():
    """JDTL 14 / 38: within 15 days of receiving the order; the day of service not counted."""
    assert report_due(D(2024, 3, 1)) == D(2024, 3, 16)


# --- community drug rehabilitation -------------------------------------------------------------

def test_awaiting_report_then_overdue_counts_as_refusal():
    """JDTL 14 para 1: report within 15 days; failing that without good reason = refusal (JDF 38(1))."""
    t = community_drug_rehab(reported=None)
    s = t.state(D(2024, 3, 16))
    assert s.status == Status.AWAITING_REPORT
    assert s.report_due_on == D(2024, 3, 16)
    assert s.status_since == D(2024, 3, 1)
    assert s.abstinent_three_years_on is None  # depends on the reporting date
    s = t.state(D(2024, 3, 17))
    assert s.status == Status.CURRENT_NO_MEASURE
    assert s.refused_measure and s.report_overdue
    assert s.measure == Status.COMMUNITY_DRUG_REHAB  # the order still stands
    assert "report_overdue" in s.flags
    assert s.status_since == D(2024, 3, 17)


def test_community_drug_rehab_runs_3_years_from_reporting():
    """JDF 33; JDTL 14 para 2: 3 years counted from the reporting date; JDTL 23 released on expiry."""
    t = community_drug_rehab()
    s = t.state(D(2027, 3, 9))
    assert s.status == Status.COMMUNITY_DRUG_REHAB
    assert s.measure_started_on == s.reported_on == s.status_since == D(2024, 3, 10)
    assert s.measure_end_on == D(2027, 3, 9)
    assert s.report_due_on == D(2024, 3, 16) and not s.report_overdue
    s = t.state(D(2027, 3, 10))
    assert s.status == Status.CURRENT_NO_MEASURE
    assert s.last_measure_end_on == D(2027, 3, 9)
    assert s.status_since == D(2027, 3, 10)
    assert s.rehab_episodes == 1


def test_late_report_starts_the_measure_and_keeps_the_refusal_on_record():
    """JDTL 14: the term runs from the (late) reporting date; lateness stays a deemed refusal."""
    t = community_drug_rehab(reported=D(2024, 3, 20))
    s = t.state(D(2024, 4, 1))
    assert s.status == Status.COMMUNITY_DRUG_REHAB
    assert s.measure_end_on == D(2027, 3, 19)
    assert "report_late" in s.flags and "report_overdue" not in s.flags
    assert s.refused_measure and s.ever_refused_or_breached


def test_change_of_residence_does_not_restart_the_clock():
    """JDTL 22: after a change of place the person reports again; the time runs on (连续计算)."""
    t = community_drug_rehab()
    t.add(K.RESIDENCE_CHANGED, D(2025, 1, 1))
    t.add(K.REPORTED, D(2025, 1, 10))
    t.add(K.AGREEMENT_SIGNED, D(2025, 1, 10))
    s = t.state(D(2025, 6, 1))
    assert s.status == Status.COMMUNITY_DRUG_REHAB
    assert s.reported_on == D(2024, 3, 10)
    assert s.measure_end_on == D(2027, 3, 9)
    assert any("《戒毒条例》第二十二条" in n and "连续计算" in n for n in s.notes)


def test_notes_follow_the_active_language():
    """Notes are gettext strings (Chinese msgids, English in the catalogue): an English reader
    gets English sentences with the same article and dates."""
    from django.utils import translation

    t = community_drug_rehab()
    t.add(K.RESIDENCE_CHANGED, D(2025, 1, 1))
    with translation.override("en"):
        notes = t.state(D(2025, 6, 1)).notes
    assert "Residence changed on 2025-01-01: the measure continues and its term runs on without restarting " \
           "(Drug Rehabilitation Regulations art. 22)." in notes
    assert not [n for n in notes if any("\u4e00" <= c <= "\u9fff" for c in n)]


def test_positive_test_during_the_measure_is_noted_but_status_stays():
    """JDF 38 para 1(2): use during community drug rehabilitation is a ground for isolation —
    the status changes only with the decision."""
    t = community_drug_rehab()
    t.add(K.URINALYSIS, D(2024, 6, 1), result=Result.POSITIVE)
    s = t.state(D(2024, 6, 2))
    assert s.status == Status.COMMUNITY_DRUG_REHAB
    assert s.last_detected_use_on == D(2024, 6, 1)
    assert s.positive_tests == [D(2024, 6, 1)]
    assert "use_during_measure" in s.flags
    t.add(K.ISOLATION_DECISION, D(2024, 6, 5))
    s = t.state(D(2024, 6, 5))
    assert s.status == Status.ISOLATION
    assert s.measure_end_on == D(2026, 6, 4)
    assert s.rehab_episodes == 2


def test_completion_notice_after_expiry_changes_nothing():
    """JDTL 23: released from the expiry date; the notice served later is a formality."""
    t = community_drug_rehab()
    t.add(K.MEASURE_COMPLETED, D(2027, 3, 12))
    s = t.state(D(2027, 4, 1))
    assert s.last_measure_end_on == D(2027, 3, 9)
    assert s.flags == []


# --- compulsory isolation ----------------------------------------------------------------------

def test_isolation_2_years_from_decision_release_assumed_when_not_recorded():
    """JDF 47 para 1; JDTL 27: 2 years from the decision date."""
    t = isolation()
    s = t.state(D(2024, 5, 9))
    assert s.status == Status.ISOLATION
    assert s.status_since == s.measure_started_on == D(2022, 5, 10)
    assert s.measure_end_on == D(2024, 5, 9)
    assert s.admitted_on == D(2022, 5, 10)
    assert s.early_release_possible_from == D(2023, 5, 10)
    s = t.state(D(2024, 5, 10))
    assert s.status == Status.CURRENT_NO_MEASURE
    assert s.last_release_on == D(2024, 5, 9)
    assert "release_not_recorded" in s.flags


def test_recorded_release_on_the_last_day():
    """JDTL 34: release at the end of the term."""
    t = isolation()
    t.add(K.RELEASE, D(2024, 5, 9))
    s = t.state(D(2024, 6, 1))
    assert s.last_release_on == D(2024, 5, 9)
    assert s.flags == []


def test_extensions_add_up_to_12_months():
    """JDF 47 para 3: extension at most one year in total (each ``term_months``)."""
    t = isolation()
    t.add(K.EXTENSION, D(2024, 4, 1), term_months=6)
    assert t.state(D(2024, 6, 1)).measure_end_on == D(2024, 11, 9)
    t.add(K.EXTENSION, D(2024, 10, 1), term_months=6)
    s = t.state(D(2025, 5, 9))
    assert s.status == Status.ISOLATION
    assert s.measure_end_on == D(2025, 5, 9)
    assert s.extension_months == 12
    assert s.flags == []
    t.add(K.EXTENSION, D(2025, 4, 1), term_months=3)
    s = t.state(D(2025, 5, 10))
    assert "extension_over_maximum" in s.flags
    assert s.last_release_on == D(2025, 5, 9)  # capped at 12 months


def test_early_release_after_one_year():
    """JDF 47 para 2: early release possible after one year executed; the end is the release date."""
    t = isolation()
    t.add(K.EARLY_RELEASE, D(2023, 5, 10))
    s = t.state(D(2023, 6, 1))
    assert s.status == Status.CURRENT_NO_MEASURE
    assert s.last_release_on == s.last_measure_end_on == D(2023, 5, 10)
    assert s.flags == []


def test_early_release_before_one_year_is_flagged():
    """JDF 47 para 2: not before one year executed."""
    t = isolation()
    t.add(K.EARLY_RELEASE, D(2023, 5, 9))
    s = t.state(D(2023, 6, 1))
    assert "early_release_before_one_year" in s.flags
    assert s.last_release_on == D(2023, 5, 9)  # the record is followed


def test_escape_time_added_back_and_no_early_release():
    """JDTL 32: time at large not counted; a recaptured person cannot be released early."""
    t = isolation(D(2022, 1, 1))
    t.add(K.ESCAPE, D(2022, 6, 1))
    t.add(K.RECAPTURE, D(2022, 6, 11))
    s = t.state(D(2023, 1, 1))
    assert s.days_at_large == 10
    assert s.measure_end_on == D(2024, 1, 10)
    assert s.early_release_possible_from is None
    t.add(K.EARLY_RELEASE, D(2023, 6, 1))
    assert "early_release_barred" in t.state(D(2023, 7, 1)).flags


def test_still_at_large_moves_the_end_each_day():
    """JDTL 32: days at large are not counted, so the end moves while the person is at large."""
    t = isolation(D(2022, 1, 1))
    t.add(K.ESCAPE, D(2022, 6, 1))
    s = t.state(D(2022, 6, 21))
    assert s.status == Status.ISOLATION
    assert s.days_at_large == 20
    assert s.measure_end_on == D(2024, 1, 20)
    assert "at_large" in s.flags
    assert t.state(D(2025, 1, 1)).status == Status.ISOLATION  # never expires while at large


def test_release_recorded_after_the_computed_end_is_followed():
    """JDTL 34: the recorded release date is the fact; the gap is flagged for checking."""
    t = isolation()
    t.add(K.RELEASE, D(2024, 5, 20))
    s = t.state(D(2024, 6, 1))
    assert s.last_release_on == D(2024, 5, 20)
    assert "release_after_term_end" in s.flags and "release_not_recorded" not in s.flags


def test_conversion_to_community_drug_rehab_credits_time_served():
    """JDTL 31: isolation converted into community drug rehabilitation; time served counts."""
    t = isolation(D(2022, 1, 1))
    t.add(K.COMMUNITY_REHAB_ORDER, D(2022, 7, 1))
    t.add(K.REPORTED, D(2022, 7, 5))
    s = t.state(D(2022, 8, 1))
    assert s.status == Status.COMMUNITY_DRUG_REHAB
    served = (D(2022, 7, 1) - D(2022, 1, 1)).days  # 181 days, 2022-01-01 … 2022-06-30
    assert s.measure_end_on == D(2025, 7, 4) - timedelta(days=served)
    assert s.measure_end_on == community_drug_rehab_end(D(2022, 7, 5), credit_days=181)
    assert s.last_release_on == D(2022, 6, 30)


# --- community rehabilitation ------------------------------------------------------------------

def released_then_community_rehab(term_months=None) -> Timeline:
    t = isolation()
    t.add(K.RELEASE, D(2024, 5, 9))
    t.add(K.COMMUNITY_RECOVERY_ORDER, D(2024, 5, 9), term_months=term_months)
    return t


def test_community_rehab_default_3_years_from_reporting():
    """JDF 48; JDTL 37: up to 3 years (36 months when the order states none — our default);
    JDTL 38: report within 15 days."""
    t = released_then_community_rehab()
    s = t.state(D(2024, 5, 24))
    assert s.status == Status.AWAITING_REPORT
    assert s.measure == Status.COMMUNITY_REHAB and s.report_due_on == D(2024, 5, 24)
    assert any("默认 36 个月" in n and "《戒毒条例》第三十八条" in n for n in s.notes)
    assert t.state(D(2024, 5, 25)).status == Status.CURRENT_NO_MEASURE
    t.add(K.REPORTED, D(2024, 5, 20))
    s = t.state(D(2024, 5, 25))
    assert s.status == Status.COMMUNITY_REHAB
    assert s.measure_end_on == D(2027, 5, 19)


def test_community_rehab_stated_term_and_cap():
    """JDF 48: the deciding organ sets the term, at most 3 years."""
    t = released_then_community_rehab(term_months=24)
    t.add(K.REPORTED, D(2024, 5, 20))
    assert t.state(D(2025, 1, 1)).measure_end_on == D(2026, 5, 19)
    t = released_then_community_rehab(term_months=48)
    t.add(K.REPORTED, D(2024, 5, 20))
    s = t.state(D(2025, 1, 1))
    assert s.measure_end_on == D(2027, 5, 19)
    assert "term_over_maximum" in s.flags


def test_community_rehab_ordered_before_release_takes_effect_at_release():
    """JDF 48 (after release); JDTL 38: 15 days from receiving the order, here at release."""
    t = isolation()
    t.add(K.COMMUNITY_RECOVERY_ORDER, D(2024, 5, 1), term_months=36)
    t.add(K.RELEASE, D(2024, 5, 9))
    assert t.state(D(2024, 5, 5)).status == Status.ISOLATION
    s = t.state(D(2024, 5, 10))
    assert s.status == Status.AWAITING_REPORT
    assert s.report_due_on == D(2024, 5, 24)


def test_release_and_order_on_the_same_day_in_any_input_order():
    """Same-day legal order: a measure ending on a day ends before one starting that day."""
    t = released_then_community_rehab()
    events = list(reversed(t.events))
    assert derive_state(events, D(2024, 5, 10)).status == Status.AWAITING_REPORT


def test_same_day_order_and_isolation_decision_isolation_prevails():
    """Same-day legal order (rules.py): an isolation decision on the day of a community drug
    rehabilitation order replaces it (JDF 38), whichever was entered first."""
    day = D(2024, 3, 1)
    for kinds in ([K.COMMUNITY_REHAB_ORDER, K.ISOLATION_DECISION], [K.ISOLATION_DECISION, K.COMMUNITY_REHAB_ORDER]):
        t = Timeline()
        for kind in kinds:
            t.add(kind, day)
        s = t.state(D(2024, 4, 1))
        assert s.status == Status.ISOLATION and s.measure_end_on == D(2026, 2, 28)


def test_no_early_release_after_community_rehab_refused():
    """JDTL 38 para 2: community rehabilitation refused, relapse, isolation → no early release."""
    t = released_then_community_rehab()
    t.add(K.REFUSED_MEASURE, D(2024, 5, 15))
    t.add(K.FOUND_USING, D(2024, 8, 1))
    t.add(K.ISOLATION_DECISION, D(2024, 8, 1))
    s = t.state(D(2025, 1, 1))
    assert s.status == Status.ISOLATION
    assert s.early_release_possible_from is None
    t.add(K.EARLY_RELEASE, D(2025, 9, 1))
    assert "early_release_barred" in t.state(D(2025, 9, 2)).flags


# --- serious breach ----------------------------------------------------------------------------

@pytest.mark.parametrize(("refusals", "breach"), [(2, False), (3, True)])
def test_breach_refused_tests(refusals, breach):
    """JDTL 20: evading or refusing testing 3 times or more is a serious breach."""
    t = community_drug_rehab()
    for month in range(refusals):
        t.add(K.REFUSED_TEST, D(2024, 4 + month, 1))
    s = t.state(D(2024, 8, 1))
    assert s.refused_tests == refusals
    assert s.serious_breach is breach
    assert s.status == Status.COMMUNITY_DRUG_REHAB  # stays until a decision
    assert s.serious_breach_on == (D(2024, 6, 1) if breach else None)


def test_refusal_counted_once_per_day_and_missed_tests_count():
    """JDTL 20 evasion: a refused_test event and a refused result on one day are one refusal;
    a missed test counts as evasion by default (casework_rules.md §6.4), configurable."""
    t = community_drug_rehab()
    t.add(K.REFUSED_TEST, D(2024, 4, 1))
    t.add(K.URINALYSIS, D(2024, 4, 1), result=Result.REFUSED)
    t.add(K.URINALYSIS, D(2024, 5, 1), result=Result.MISSED)
    t.add(K.URINALYSIS, D(2024, 6, 1), result=Result.MISSED)
    t.add(K.URINALYSIS, D(2024, 7, 1), result=Result.NEGATIVE)
    s = t.state(D(2024, 8, 1))
    assert s.refused_tests == 3 and s.serious_breach
    s = t.state(D(2024, 8, 1), RulesConfig(missed_test_counts_as_evasion=False))
    assert s.refused_tests == 1 and not s.serious_breach


@pytest.mark.parametrize(("departures", "breach"), [(2, False), (3, True)])
def test_breach_unapproved_departures(departures, breach):
    """JDTL 20: leaving the county without permission 3 times or more; approved absences (JDTL 19(3))
    do not count."""
    t = community_drug_rehab()
    for month in range(departures):
        t.add(K.LEFT_COUNTY, D(2024, 4 + month, 1), approved=False, days=2)
    for month in range(3):
        t.add(K.LEFT_COUNTY, D(2024, 9 + month, 1), approved=True, days=10)
    s = t.state(D(2024, 12, 31))
    assert s.unapproved_departures == departures
    assert s.days_away == 2 * departures
    assert s.serious_breach is breach


@pytest.mark.parametrize(("days", "breach"), [(30, False), (31, True)])
def test_breach_more_than_30_days_away(days, breach):
    """JDTL 20: unapproved absence of more than 30 days in total."""
    t = community_drug_rehab()
    t.add(K.LEFT_COUNTY, D(2024, 4, 1), approved=False, days=10)
    t.add(K.LEFT_COUNTY, D(2024, 5, 1), approved=False, days=days - 10)
    s = t.state(D(2024, 8, 1))
    assert s.days_away == days
    assert s.serious_breach is breach
    assert s.serious_breach_on == (D(2024, 5, 22) if breach else None)


def test_open_absence_counts_up_to_as_of_and_return_closes_it():
    """JDTL 20: days away; a person still away counts to as_of."""
    t = community_drug_rehab()
    t.add(K.LEFT_COUNTY, D(2024, 4, 1), approved=False)
    assert t.state(D(2024, 5, 1)).days_away == 30
    assert not t.state(D(2024, 5, 1)).serious_breach
    s = t.state(D(2024, 5, 2))
    assert s.days_away == 31 and s.serious_breach and s.serious_breach_on == D(2024, 5, 2)
    t.add(K.RETURNED, D(2024, 4, 11))
    s = t.state(D(2024, 8, 1))
    assert s.days_away == 10 and not s.serious_breach


def test_is_serious_breach_thresholds():
    """JDTL 20: 3 / 3 / more than 30 days."""
    assert not is_serious_breach(2, 2, 30)
    assert is_serious_breach(3, 0, 0)
    assert is_serious_breach(0, 3, 0)
    assert is_serious_breach(0, 0, 31)


def test_counters_are_per_measure():
    """JDTL 20 speaks of the breaches "在社区戒毒期间": a new measure starts from zero."""
    t = community_drug_rehab()
    for month in range(3):
        t.add(K.REFUSED_TEST, D(2024, 4 + month, 1))
    t.add(K.ISOLATION_DECISION, D(2024, 7, 1))
    s = t.state(D(2024, 8, 1))
    assert s.status == Status.ISOLATION
    assert s.refused_tests == 0 and not s.serious_breach
    assert s.ever_refused_or_breached


# --- abstinence clock ------------------------------------------------------------------------

def completed_community_drug_rehab_without_use() -> Timeline:
    t = Timeline()
    t.add(K.FOUND_USING, D(2015, 1, 1))
    t.add(K.COMMUNITY_REHAB_ORDER, D(2015, 1, 1))
    t.add(K.REPORTED, D(2015, 1, 5))  # last day 2018-01-04
    return t


@pytest.mark.parametrize(("clock", "starts", "abstinent_on"), [
    ("later_of_measure_end_and_last_use", D(2018, 1, 4), D(2021, 1, 4)),
    ("measure_end", D(2018, 1, 4), D(2021, 1, 4)),
    ("last_use", D(2015, 1, 1), D(2018, 1, 5)),  # 2018-01-01 is inside the measure
    ("provincial_three_cases", D(2015, 1, 5), D(2018, 1, 5)),  # case 2: from reporting
])
def test_abstinence_clock_options_after_community_drug_rehab(clock, starts, abstinent_on):
    """JDTL 7 para 2; start UNCERTAIN (legal_rules.md §2): each setting; casework_rules.md §5 case 2
    reaches the mark the day after a use-free 3-year measure ends."""
    t = completed_community_drug_rehab_without_use()
    config = RulesConfig(abstinence_clock=clock)
    s = t.state(D(2016, 1, 1), config)
    assert s.status == Status.COMMUNITY_DRUG_REHAB  # never abstinent under a running measure
    assert s.abstinent_three_years_on == abstinent_on  # computed before it is reached
    s = t.state(abstinent_on - timedelta(days=1), config)
    assert s.status != Status.ABSTINENT_3Y
    s = t.state(abstinent_on, config)
    assert s.status == Status.ABSTINENT_3Y and s.status_since == abstinent_on
    assert s.abstinence_clock_from == starts
    assert abstinence_clock_start(t.events, abstinent_on, config) == starts


def test_relapse_after_the_measure_under_each_option():
    """JDTL 7 "戒断3年未复吸": a detected use after the measure restarts the clock (or, under the
    measure_end setting, leaves it waiting for a new measure)."""
    t = completed_community_drug_rehab_without_use()
    t.add(K.RELAPSE, D(2019, 6, 1))
    expected = {
        "later_of_measure_end_and_last_use": D(2022, 6, 1),
        "measure_end": None,
        "last_use": D(2022, 6, 1),
        "provincial_three_cases": D(2022, 6, 1),
    }
    assert set(expected) == set(ABSTINENCE_CLOCKS)
    for clock, abstinent_on in expected.items():
        s = t.state(D(2020, 1, 1), RulesConfig(abstinence_clock=clock))
        assert s.status == Status.CURRENT_NO_MEASURE, clock
        assert s.last_detected_use_on == D(2019, 6, 1)
        assert s.abstinent_three_years_on == abstinent_on, clock


def test_relapse_after_reaching_abstinence_starts_a_new_current_spell():
    """A person abstinent three years who is found using again is a current user from that day."""
    t = completed_community_drug_rehab_without_use()
    assert t.state(D(2022, 1, 1)).status == Status.ABSTINENT_3Y
    t.add(K.FOUND_USING, D(2022, 3, 1))
    s = t.state(D(2022, 4, 1))
    assert s.status == Status.CURRENT_NO_MEASURE
    assert s.status_since == D(2022, 3, 1)
    assert s.abstinent_three_years_on == D(2025, 3, 1)
    assert s.first_found_on == D(2015, 1, 1)


def test_provincial_case_1_caught_not_addicted():
    """casework_rules.md §5 case 1 (SHREG 29, SDREG 36): caught, no measure → from the date caught."""
    t = Timeline()
    t.add(K.FOUND_USING, D(2020, 3, 1))
    config = RulesConfig(abstinence_clock="provincial_three_cases")
    assert t.state(D(2023, 2, 28), config).status == Status.CURRENT_NO_MEASURE
    s = t.state(D(2023, 3, 1), config)
    assert s.status == Status.ABSTINENT_3Y
    assert s.abstinence_clock_from == D(2020, 3, 1)


def test_provincial_case_3_release_then_community_rehab():
    """casework_rules.md §5 case 3: from the release from isolation, also when community
    rehabilitation follows; still never while that measure runs. The default counts from the
    end of the community rehabilitation instead."""
    t = released_then_community_rehab()
    t.add(K.REPORTED, D(2024, 5, 20))  # community rehab to 2027-05-19
    provincial = RulesConfig(abstinence_clock="provincial_three_cases")
    s = t.state(D(2025, 1, 1), provincial)
    assert s.abstinence_clock_from == D(2024, 5, 9)
    assert s.abstinent_three_years_on == D(2027, 5, 20)  # 2027-05-09, but the measure runs to 05-19
    assert t.state(D(2027, 5, 20), provincial).status == Status.ABSTINENT_3Y
    s = t.state(D(2025, 1, 1))
    assert s.abstinence_clock_from == D(2027, 5, 19)
    assert s.abstinent_three_years_on == D(2030, 5, 19)


def test_provincial_case_3_after_isolation_alone():
    """casework_rules.md §5 case 3: from the release date."""
    t = isolation()
    t.add(K.RELEASE, D(2024, 5, 9))
    s = t.state(D(2027, 5, 9), RulesConfig(abstinence_clock="provincial_three_cases"))
    assert s.status == Status.ABSTINENT_3Y and s.abstinence_clock_from == D(2024, 5, 9)


def test_shanghai_exclusion_is_off_by_default():
    """SHREG 29: no abstinence status after a refusal or serious breach — only when configured."""
    t = community_drug_rehab(ordered=D(2015, 1, 1), reported=D(2015, 1, 20))  # reported late
    assert t.state(D(2022, 1, 1)).status == Status.ABSTINENT_3Y
    s = t.state(D(2022, 1, 1), RulesConfig(exclude_refusal_or_breach=True))
    assert s.status == Status.CURRENT_NO_MEASURE
    assert s.abstinent_three_years_on is None
    assert any("《上海市禁毒条例》第二十九条" in n for n in s.notes)


# --- death, emigration, corrections, backdating -------------------------------------------------

@pytest.mark.parametrize(("kind", "status"), [(K.DEATH, Status.DECEASED), (K.EMIGRATION, Status.EMIGRATED)])
def test_death_and_emigration_are_final(kind, status):
    """legal_rules.md §2: the dead and the emigrated leave the current users; final unless corrected."""
    t = community_drug_rehab()
    final = t.add(kind, D(2025, 1, 1))
    t.add(K.FOUND_USING, D(2025, 6, 1))
    s = t.state(D(2025, 7, 1))
    assert s.status == status and s.status_since == D(2025, 1, 1)
    assert s.measure is None and s.abstinent_three_years_on is None
    assert "events_after_final" in s.flags
    t.add(K.CORRECTION, D(2025, 7, 1), corrects_id=final.id)
    s = t.state(D(2025, 7, 2))
    assert s.status == Status.COMMUNITY_DRUG_REHAB
    assert s.last_detected_use_on == D(2025, 6, 1)


def test_correction_voids_retroactively_and_can_be_corrected():
    """Records are corrected, never deleted; a corrected correction restores the record."""
    t = completed_community_drug_rehab_without_use()
    relapse = t.add(K.RELAPSE, D(2019, 6, 1))
    fix = t.add(K.CORRECTION, D(2020, 2, 1), corrects_id=relapse.id)
    s = t.state(D(2019, 12, 1))  # the correction is dated later but the record was wrong all along
    assert s.last_detected_use_on == D(2015, 1, 1)
    assert s.abstinent_three_years_on == D(2021, 1, 4)
    t.add(K.CORRECTION, D(2020, 3, 1), corrects_id=fix.id)
    assert t.state(D(2020, 4, 1)).last_detected_use_on == D(2019, 6, 1)


def test_correction_of_a_missing_event_is_flagged():
    t = Timeline()
    t.add(K.FOUND_USING, D(2020, 1, 1))
    t.add(K.CORRECTION, D(2020, 2, 1), corrects_id=999)
    assert "correction_target_missing" in t.state(D(2020, 3, 1)).flags


def test_backdated_report_entered_late_gives_no_false_overdue():
    """Paper records entered late: the status is recomputed from occurred_on, not entry order."""
    t = community_drug_rehab(reported=None)
    t.add(K.URINALYSIS, D(2024, 5, 1), result=Result.NEGATIVE)
    assert t.state(D(2024, 6, 1)).report_overdue
    t.add(K.REPORTED, D(2024, 3, 12))  # the paper record, entered in June, dated March
    s = t.state(D(2024, 6, 1))
    assert s.status == Status.COMMUNITY_DRUG_REHAB
    assert not s.report_overdue and not s.refused_measure and s.flags == []
    assert s.measure_end_on == D(2027, 3, 11)


def test_backdated_release_before_a_recorded_order():
    """Events inserted out of order: an old isolation entered after later events."""
    t = Timeline()
    t.add(K.COMMUNITY_RECOVERY_ORDER, D(2021, 1, 1), term_months=24)
    t.add(K.REPORTED, D(2021, 1, 5))
    t.add(K.RELEASE, D(2021, 1, 1))
    t.add(K.ISOLATION_DECISION, D(2019, 1, 2))
    s = t.state(D(2021, 6, 1))
    assert s.status == Status.COMMUNITY_REHAB
    assert s.measure_end_on == D(2023, 1, 4)
    assert s.last_release_on == D(2021, 1, 1)
    assert "community_rehab_without_isolation" not in s.flags


def test_events_after_as_of_are_ignored():
    t = community_drug_rehab()
    t.add(K.ISOLATION_DECISION, D(2025, 1, 1))
    assert t.state(D(2024, 12, 31)).status == Status.COMMUNITY_DRUG_REHAB


def test_empty_timeline():
    s = derive_state([], D(2024, 1, 1))
    assert s.status == Status.CURRENT_NO_MEASURE and s.abstinent_three_years_on is None


def test_explain_false_changes_only_the_notes():
    t = released_then_community_rehab()
    full = t.state(D(2024, 6, 1))
    quiet = derive_state(t.events, D(2024, 6, 1), explain=False)
    assert full.notes and not quiet.notes
    assert dataclasses.replace(full, notes=[]) == quiet


def test_effective_events_sorted_in_legal_order():
    """Same-day order: detection, then decision, then admission (rules.py)."""
    day = D(2022, 5, 10)
    events = [TimelineEvent(K.ADMISSION, day, 1), TimelineEvent(K.ISOLATION_DECISION, day, 2),
              TimelineEvent(K.FOUND_USING, day, 3)]
    assert [e.kind for e in effective_events(events, day)] == [K.FOUND_USING, K.ISOLATION_DECISION, K.ADMISSION]


# --- driving licences --------------------------------------------------------------------------

def test_licence_cancellation_ground():
    """公安部令第162号 art. 79(6): ordered into community drug rehab / community rehab, or decided
    into isolation ⇒ cancellation."""
    t = community_drug_rehab()
    assert licence_cancellation_ground(t.state(D(2024, 3, 5))) == K.COMMUNITY_REHAB_ORDER  # awaiting report
    assert licence_cancellation_ground(t.state(D(2024, 6, 1))) == K.COMMUNITY_REHAB_ORDER
    after = t.state(D(2027, 6, 1))
    assert licence_cancellation_ground(after) is None
    assert licence_cancellation_ground(after, licence_issued_on=D(2020, 1, 1)) == K.COMMUNITY_REHAB_ORDER
    assert licence_cancellation_ground(after, licence_issued_on=D(2024, 3, 2)) is None
    assert licence_cancellation_ground(isolation().state(D(2023, 1, 1))) == K.ISOLATION_DECISION


def test_may_apply_for_licence():
    """公安部令第162号 art. 15(2): no use in 3 years, 3 years since release from isolation, no measure."""
    t = isolation()
    t.add(K.RELEASE, D(2024, 5, 9))
    s = t.state(D(2024, 6, 1))
    assert licence_application_allowed_from(s) == D(2027, 5, 9)
    assert not may_apply_for_licence(s, D(2027, 5, 8))
    assert may_apply_for_licence(s, D(2027, 5, 9))
    t = Timeline()
    t.add(K.FOUND_USING, D(2020, 1, 1))
    s = t.state(D(2022, 12, 31))
    assert not may_apply_for_licence(s, D(2022, 12, 31))
    assert may_apply_for_licence(t.state(D(2023, 1, 1)), D(2023, 1, 1))
    running = community_drug_rehab().state(D(2025, 1, 1))
    assert not may_apply_for_licence(running, D(2025, 1, 1))
    assert licence_application_allowed_from(running) == D(2027, 3, 10)


# --- configuration -----------------------------------------------------------------------------

def test_config_from_settings(settings):
    settings.JINDU_PERSONS = {"rules": {"abstinence_clock": "provincial_three_cases",
                                        "exclude_refusal_or_breach": True}}
    config = RulesConfig.from_settings()
    assert config.abstinence_clock == "provincial_three_cases" and config.exclude_refusal_or_breach
    del settings.JINDU_PERSONS
    assert RulesConfig.from_settings() == DEFAULT
    assert RulesConfig.from_settings({"abstinence_clock": "last_use", "risk": {}}).abstinence_clock == "last_use"
    with pytest.raises(ValueError, match="abstinence_clok"):
        RulesConfig.from_settings({"rules": {"abstinence_clok": "last_use"}})
    with pytest.raises(ValueError, match="abstinence_clock"):
        RulesConfig(abstinence_clock="from_birth")


# --- properties ----------------------------------------------------------------------------------

KINDS = [k for k in K.values if k != K.CORRECTION]
DAY0 = D(2018, 1, 1)


@st.composite
def timelines(draw, max_size=14):
    raw = draw(st.lists(st.tuples(
        st.sampled_from(KINDS),
        st.integers(0, 365 * 7),
        st.none() | st.sampled_from(Result.values),
        st.none() | st.integers(0, 40),
        st.none() | st.integers(0, 45),
        st.none() | st.booleans(),
    ), max_size=max_size))
    return [TimelineEvent(kind=k, occurred_on=DAY0 + timedelta(days=d), id=i + 1, result=r, term_months=m,
                          days=n, approved=a)
            for i, (k, d, r, m, n, a) in enumerate(raw)]


as_of_dates = st.integers(0, 365 * 9).map(lambda d: DAY0 + timedelta(days=d))
configs = st.sampled_from([RulesConfig(abstinence_clock=c) for c in ABSTINENCE_CLOCKS]
                          + [RulesConfig(exclude_refusal_or_breach=True)])


@settings(max_examples=200, deadline=None)
@given(timelines(), st.randoms(use_true_random=False), as_of_dates, configs)
def test_order_of_input_does_not_matter(events, rnd, as_of, config):
    shuffled = list(events)
    rnd.shuffle(shuffled)
    assert derive_state(shuffled, as_of, config) == derive_state(events, as_of, config)


@settings(max_examples=200, deadline=None)
@given(timelines(), st.data(), as_of_dates, configs)
def test_correcting_an_event_equals_removing_it(events, data, as_of, config):
    if not events:
        return
    victim = data.draw(st.sampled_from(events))
    on = data.draw(as_of_dates)
    corrected = events + [TimelineEvent(K.CORRECTION, on, id=len(events) + 1, corrects_id=victim.id)]
    removed = [e for e in events if e is not victim]
    assert derive_state(corrected, as_of, config) == derive_state(removed, as_of, config)


@settings(max_examples=200, deadline=None)
@given(timelines(), as_of_dates, configs)
def test_invariants(events, as_of, config):
    """Later events never change the past; a running measure is never "abstinent three years"; the
    measure end is never before its start; counters are consistent with the breach flag."""
    s = derive_state(events, as_of, config)
    earlier = [e for e in events if e.occurred_on <= as_of]
    assert derive_state(earlier, as_of, config) == s
    assert s.status in Status.values
    if s.status in (Status.COMMUNITY_DRUG_REHAB, Status.ISOLATION, Status.COMMUNITY_REHAB):
        assert s.measure_end_on >= s.measure_started_on
        assert s.measure_end_on >= as_of
        assert s.abstinent_three_years_on is None or s.abstinent_three_years_on > s.measure_end_on
    if s.status == Status.ABSTINENT_3Y:
        assert s.abstinent_three_years_on <= as_of
        assert s.last_detected_use_on is None or s.last_detected_use_on < s.abstinent_three_years_on
    assert s.serious_breach == is_serious_breach(s.refused_tests, s.unapproved_departures, s.days_away)


def test_every_event_kind_has_a_same_day_rank():
    from jindu.persons.rules import KIND_RANK

    assert set(KIND_RANK) == set(K.values)
