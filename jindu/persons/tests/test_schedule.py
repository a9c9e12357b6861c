"""Case-work schedules (persons.schedule): baseline by legal status and measure month, tier
overlay (stricter of), process clocks, due / overdue by local date, late entries.

Sources cited per test: casework_rules.md (CR) §3.3, §3.7, §6.1–§6.4; 《戒毒条例》 (JDTL)
arts 14, 38; DESIGN.md "Time". Pure tests: no database.
"""

import copy
import datetime as dt

import pytest

from jindu.persons.choices import EventKind, Status
from jindu.persons.choices import TestResult as Result
from jindu.persons.risk import ConfigError, add_months
from jindu.persons.schedule import (
    KINDS,
    ScheduleConfig,
    deadline_status,
    due_items,
    expected_urinalyses,
    measure_month,
)
from jindu.persons.timeline import PersonState, TimelineEvent

D = dt.date
START = D(2024, 1, 15)  # reporting day = measure start


@pytest.fixture(scope="module")
def cfg():
    return ScheduleConfig.load_default()


def cdr(as_of, **kw):
    """A person in community drug rehabilitation (社区戒毒) reported on START, 3 years."""
    kw.setdefault("measure_end_on", add_months(START, 36))
    return PersonState(
        as_of=as_of, status=Status.COMMUNITY_DRUG_REHAB, measure="community_drug_rehab",
        measure_ordered_on=START - dt.timedelta(days=10), measure_started_on=START, reported_on=START,
        status_since=START, **kw,
    )


def rehab(as_of, term_months, **kw):
    """A person in community rehabilitation (社区康复) reported on START for ``term_months``."""
    return PersonState(
        as_of=as_of, status=Status.COMMUNITY_REHAB, measure="community_rehab",
        measure_ordered_on=START - dt.timedelta(days=5), measure_started_on=START, reported_on=START,
        measure_end_on=add_months(START, term_months), status_since=START, **kw,
    )


def social(as_of, **kw):
    """A current user not under a measure (社会面), known since 2023-01-10."""
    kw.setdefault("status_since", D(2023, 1, 10))
    return PersonState(as_of=as_of, status=Status.CURRENT_NO_MEASURE, **kw)


def item(items, kind):
    found = [i for i in items if i.kind == kind]
    assert len(found) <= 1
    return found[0] if found else None


#: Everything done recently so that only the kind under test matters.
def done_all(on, **overrides):
    base = {k: on for k in ("urinalysis", "hair_test", "contact", "home_visit", "reassessment", "plan_review")}
    base.update(overrides)
    return base


# --- the shipped default -----------------------------------------------------------------


def test_default_schedule_covers_every_status_and_tier(cfg):
    """CR §6.2–§6.3: a rule for each derived status and each tier; all values sourced."""
    assert set(cfg.statuses) == set(Status.values)
    assert set(cfg.overlay) == {"A", "B", "C1", "C2"}
    sources = cfg.provenance()
    assert all(v.basis.strip() and v.status in ("confirmed", "reasoned_default", "uncertain") for v in sources)
    paths = {v.path: v for v in sources}
    assert paths["urine_baseline.community_drug_rehab.phases[0]"].status == "confirmed"
    assert paths["tier_overlay.B.home_visit"].status == "reasoned_default"
    assert paths["process_clocks.report_days"].value == 15 and paths["process_clocks.report_days"].verified


def test_process_clocks_of_6_4_as_data(cfg):
    """CR §6.4: report 15 days (JDTL 14/38), first assessment 7, plan 15, post-release contact 7."""
    assert cfg.clock("report_days") == 15
    assert cfg.clock("first_assessment_days") == 7
    assert cfg.clock("plan_days") == 15
    assert cfg.clock("post_release_contact_days") == 7
    assert cfg.clock("absence_report_threshold_days") == 3


@pytest.mark.parametrize(
    "code,minimum", [("community_drug_rehab", 22), ("community_rehab_3y", 12), ("community_rehab_2y", 12)]
)
def test_baseline_phases_add_up_to_the_minimum(cfg, code, minimum):
    """CR §3.3: 12 + 6 + 4 = 22 (社区戒毒); 6 + 4 + 2 = 12 (社康 3 years); 12 (社康 2 years)."""
    b = cfg.baselines[code]
    assert b.min_total.value == minimum
    assert sum((ph.to_month - ph.from_month + 1) // ph.every_months for ph in b.phases) == minimum


# --- baseline per status and measure month --------------------------------------------------


@pytest.mark.parametrize(
    "last,expected_due,rule",
    [
        (D(2024, 1, 20), D(2024, 2, 20), "baseline.community_drug_rehab.m1-12"),  # month 1: monthly
        (D(2025, 1, 14), D(2025, 2, 14), "baseline.community_drug_rehab.m1-12"),  # last day of month 12
        (D(2025, 1, 15), D(2025, 3, 15), "baseline.community_drug_rehab.m13-24"),  # month 13: every 2 months
        (D(2026, 1, 14), D(2026, 3, 14), "baseline.community_drug_rehab.m13-24"),  # month 24
        (D(2026, 1, 15), D(2026, 4, 15), "baseline.community_drug_rehab.m25-36"),  # month 25: every 3 months
    ],
)
def test_community_drug_rehab_baseline_by_measure_month(cfg, last, expected_due, rule):
    """CR §6.2 / §3.3 (JDS, PT12): 社区戒毒 urinalysis monthly in months 1–12, every 2 months in
    13–24, every 3 months in 25–36; the interval of the month the last test fell in."""
    done = {"urinalysis": last, "reassessment": last, "plan_review": last}
    items = due_items(state=cdr(last), tier=None, last_done=done, as_of=last, config=cfg)
    u = item(items, "urinalysis")
    assert (u.due_on, u.rule, u.anchor) == (expected_due, rule, last)


@pytest.mark.parametrize(
    "term,last,expected_due,rule",
    [
        (36, D(2024, 3, 1), D(2024, 5, 1), "baseline.community_rehab_3y.m1-12"),
        (36, D(2025, 2, 1), D(2025, 5, 1), "baseline.community_rehab_3y.m13-24"),
        (36, D(2026, 2, 1), D(2026, 8, 1), "baseline.community_rehab_3y.m25-36"),
        (24, D(2025, 6, 1), D(2025, 8, 1), "baseline.community_rehab_2y.m1-24"),
        (18, D(2024, 3, 1), D(2024, 5, 1), "baseline.community_rehab_other.m1-36"),
    ],
)
def test_community_rehab_baseline_by_term(cfg, term, last, expected_due, rule):
    """CR §6.2: 社区康复 3-year order every 2 / 3 / 6 months by year; 2-year order every 2
    months; other terms every 2 months (reasoned default)."""
    done = {"urinalysis": last, "reassessment": last, "plan_review": last}
    items = due_items(state=rehab(last, term), tier=None, last_done=done, as_of=last, config=cfg)
    u = item(items, "urinalysis")
    assert (u.due_on, u.rule) == (expected_due, rule)


def test_rehab_term_read_from_end_date_either_convention(cfg):
    """CR §6.2: a 3-year order ends on START + 36 months or the day before; both read 3 years."""
    s = rehab(START, 36)
    s.measure_end_on = add_months(START, 36) - dt.timedelta(days=1)
    assert cfg.baseline_for(s).code == "community_rehab_3y"
    assert cfg.baseline_for(rehab(START, 24)).code == "community_rehab_2y"


def test_first_urinalysis_within_30_days_of_reporting(cfg):
    """CR §6.2 "first test after reporting: within 30 days" (reasoned default; JDS: 1st of next
    month); a test before the measure started does not count."""
    for last in (None, D(2023, 12, 1)):
        items = due_items(state=cdr(START), tier=None, last_done={"urinalysis": last}, as_of=START, config=cfg)
        u = item(items, "urinalysis")
        assert (u.due_on, u.rule, u.anchor) == (START + dt.timedelta(days=30), "clock.first_urinalysis", START)


def test_no_baseline_test_after_the_measure_ends(cfg):
    """CR §6.2: the baseline runs for the measure (JDTL 14: 3 years from reporting)."""
    last = D(2026, 12, 1)  # month 35: next due 2027-03-01, after the end 2027-01-15
    items = due_items(state=cdr(last), tier=None, last_done={"urinalysis": last}, as_of=last, config=cfg)
    assert item(items, "urinalysis") is None


def test_social_side_without_tier_has_no_tests(cfg):
    """CR §6.2 "social-side, no current measure: by risk tier only"."""
    items = due_items(state=social(D(2024, 6, 1)), tier=None, last_done={}, as_of=D(2024, 6, 1), config=cfg)
    assert item(items, "urinalysis") is None and item(items, "home_visit") is None


def test_expected_urinalyses_count(cfg):
    """CR §3.3: 22 tests over a 3-year 社区戒毒, 12 after year one; 12 over 社康 3 or 2 years."""
    assert expected_urinalyses(cdr(START), add_months(START, 12), cfg) == 12
    assert expected_urinalyses(cdr(START), add_months(START, 12) - dt.timedelta(days=1), cfg) == 11
    assert expected_urinalyses(cdr(START), add_months(START, 36), cfg) == 22
    assert expected_urinalyses(rehab(START, 36), add_months(START, 36), cfg) == 12
    assert expected_urinalyses(rehab(START, 24), add_months(START, 24), cfg) == 12
    assert expected_urinalyses(social(START), START, cfg) is None


# --- tier overlay: whichever is stricter ------------------------------------------------------


def test_tier_a_monthly_beats_year_two_baseline(cfg):
    """CR §6.3: A urinalysis monthly vs 社区戒毒 year 2 every 2 months → monthly (stricter)."""
    last = D(2025, 3, 1)
    u = item(due_items(state=cdr(last), tier="A", last_done=done_all(last), as_of=last, config=cfg), "urinalysis")
    assert (u.due_on, u.rule) == (D(2025, 4, 1), "tier.A.urinalysis")


def test_year_one_baseline_beats_tier_b(cfg):
    """CR §6.3: B every 2 months vs 社区戒毒 year 1 monthly → the baseline (stricter)."""
    last = D(2024, 3, 1)
    u = item(due_items(state=cdr(last), tier="B", last_done=done_all(last), as_of=last, config=cfg), "urinalysis")
    assert (u.due_on, u.rule) == (D(2024, 4, 1), "baseline.community_drug_rehab.m1-12")


def test_equal_dates_keep_the_baseline(cfg):
    """CR §6.3: C1 every 3 months during a measure equals year-3 baseline; the baseline is shown."""
    last = D(2026, 3, 1)
    u = item(due_items(state=cdr(last), tier="C1", last_done=done_all(last), as_of=last, config=cfg), "urinalysis")
    assert (u.due_on, u.rule) == (D(2026, 6, 1), "baseline.community_drug_rehab.m25-36")


def test_c1_urinalysis_only_while_a_measure_runs(cfg):
    """CR §6.3: C1 "baseline only (at least every 3 months while a measure runs)"."""
    last = D(2024, 3, 1)
    items = due_items(state=social(last), tier="C1", last_done=done_all(last), as_of=last, config=cfg)
    assert item(items, "urinalysis") is None
    assert item(items, "contact").due_on == D(2024, 5, 1)  # every 2 months


@pytest.mark.parametrize(
    "tier,kind,expected",
    [
        ("A", "urinalysis", D(2024, 4, 1)),
        ("A", "hair_test", D(2024, 9, 1)),
        ("A", "contact", D(2024, 3, 16)),  # ≥ 2 contacts a month: at most 15 days apart
        ("A", "home_visit", D(2024, 4, 1)),
        ("A", "reassessment", D(2024, 4, 1)),
        ("B", "urinalysis", D(2024, 5, 1)),
        ("B", "hair_test", D(2025, 3, 1)),
        ("B", "contact", D(2024, 4, 1)),
        ("B", "home_visit", D(2024, 6, 1)),
        ("B", "reassessment", D(2024, 6, 1)),
        ("C1", "hair_test", None),
        ("C1", "contact", D(2024, 5, 1)),
        ("C1", "home_visit", D(2024, 9, 1)),
        ("C1", "reassessment", D(2024, 9, 1)),
        ("C2", "urinalysis", None),
        ("C2", "hair_test", None),
        ("C2", "contact", None),
        ("C2", "home_visit", None),
        ("C2", "reassessment", D(2025, 3, 1)),
    ],
)
def test_tier_overlay_for_a_social_side_person(cfg, tier, kind, expected):
    """CR §6.3 table (A monthly / B quarterly / C1 half-yearly home visits; hair 6 / 12 months
    for A / B; contacts 2 a month (JDS) / monthly / every 2 months / none; reassessment
    monthly / quarterly / 6 months / yearly, §6.1)."""
    last = D(2024, 3, 1)
    items = due_items(state=social(last), tier=tier, last_done=done_all(last), as_of=last, config=cfg)
    got = item(items, kind)
    assert (got.due_on if got else None) == expected
    if got:
        assert got.rule == f"tier.{tier}.{kind}"


def test_never_done_counts_from_the_tier_assessment(cfg):
    """CR §6.3: a tier's visits run from when the tier was set (last assessment), not from an
    older start of management."""
    as_of = D(2024, 6, 20)
    items = due_items(state=social(as_of), tier="B", last_done={"reassessment": D(2024, 6, 1)}, as_of=as_of, config=cfg)
    assert item(items, "home_visit").due_on == D(2024, 9, 1)
    assert item(items, "home_visit").anchor == D(2024, 6, 1)


# --- status-specific work -----------------------------------------------------------------------


@pytest.mark.parametrize("status", [Status.ISOLATION, Status.DECEASED, Status.EMIGRATED])
def test_nothing_due_in_isolation_or_after_death_or_emigration(cfg, status):
    """CR §6.2: no community work while in the facility, nor for the dead or emigrated."""
    s = PersonState(as_of=D(2024, 6, 1), status=status, status_since=D(2023, 1, 1), last_release_on=D(2022, 1, 1))
    assert due_items(state=s, tier="A", last_done={}, as_of=D(2024, 6, 1), config=cfg) == []


def test_abstinent_three_years_only_yearly_check(cfg):
    """JDTL 7 (out of dynamic control) and CR §6.3 C2 "yearly data check + triggers"."""
    s = PersonState(as_of=D(2024, 6, 1), status=Status.ABSTINENT_3Y, status_since=D(2024, 1, 1))
    items = due_items(state=s, tier="C2", last_done={"reassessment": D(2024, 1, 5)}, as_of=D(2024, 6, 1), config=cfg)
    assert [(i.kind, i.due_on) for i in items] == [("reassessment", D(2025, 1, 5))]


def test_report_due_15_days_after_the_order(cfg):
    """JDTL 14 / 38 (CR §6.4): report within 15 days of the order; due all of day 15, overdue on day 16."""
    ordered = D(2024, 5, 1)
    s = PersonState(as_of=ordered, status=Status.AWAITING_REPORT, measure="community_drug_rehab",
                    measure_ordered_on=ordered)
    for as_of, status in [(D(2024, 5, 15), "upcoming"), (D(2024, 5, 16), "due_today"), (D(2024, 5, 17), "overdue")]:
        items = due_items(state=s, tier=None, last_done={}, as_of=as_of, config=cfg)
        assert [(i.kind, i.due_on, i.status) for i in items] == [("report", D(2024, 5, 16), status)]
    s.report_due_on = D(2024, 5, 20)  # the rules module's date wins when given
    assert due_items(state=s, tier=None, last_done={}, as_of=ordered, config=cfg)[0].due_on == D(2024, 5, 20)


def test_entry_assessment_and_plan_after_reporting(cfg):
    """CR §6.4: first risk assessment 7 days and individual plan 15 days after reporting
    (reasoned defaults); an assessment from before the measure does not count."""
    items = due_items(state=cdr(START), tier="B", last_done={"reassessment": D(2023, 12, 1)}, as_of=START, config=cfg)
    a = item(items, "reassessment")
    assert (a.due_on, a.rule) == (D(2024, 1, 22), "clock.first_assessment")
    p = item(items, "plan_review")
    assert (p.due_on, p.rule) == (D(2024, 1, 30), "clock.plan")


def test_plan_review_every_six_months_or_the_plans_own_date(cfg):
    """CR §6.4 "half-year summary" (PT12): plan made → review 6 months later; an earlier review
    date written in the plan wins."""
    made = D(2024, 1, 25)
    as_of = D(2024, 2, 1)
    last = {"plan_review": made, "reassessment": made, "urinalysis": made}
    p = item(due_items(state=cdr(as_of), tier=None, last_done=last, as_of=as_of, config=cfg), "plan_review")
    assert (p.due_on, p.rule) == (D(2024, 7, 25), "clock.plan_review")
    items = due_items(state=cdr(as_of), tier=None, last_done=last, as_of=as_of, config=cfg,
                      plan_review_on=D(2024, 5, 1))
    p = item(items, "plan_review")
    assert (p.due_on, p.rule) == (D(2024, 5, 1), "plan.review_on")


def test_contact_within_7_days_of_release(cfg):
    """CR §3.7 / §6.4 (BAOJI): contact re-confirmed within 7 days of release from compulsory
    isolation; a contact since the release satisfies it, one before it does not."""
    release = D(2024, 4, 10)
    s = PersonState(as_of=D(2024, 4, 12), status=Status.COMMUNITY_REHAB, measure="community_rehab",
                    measure_ordered_on=release, measure_started_on=D(2024, 4, 11), reported_on=D(2024, 4, 11),
                    measure_end_on=D(2027, 4, 11), status_since=D(2024, 4, 11), last_release_on=release)
    for last_contact in (None, D(2024, 1, 1)):
        c = item(due_items(state=s, tier=None, last_done={"contact": last_contact}, as_of=D(2024, 4, 12), config=cfg),
                 "contact")
        assert (c.due_on, c.rule, c.anchor) == (D(2024, 4, 17), "clock.post_release_contact", release)
    items = due_items(state=s, tier=None, last_done={"contact": D(2024, 4, 11)}, as_of=D(2024, 4, 12), config=cfg)
    assert item(items, "contact") is None
    # with a tier, the routine contact follows the contact made after release
    c = item(due_items(state=s, tier="B", last_done={"contact": D(2024, 4, 11)}, as_of=D(2024, 4, 12), config=cfg),
             "contact")
    assert (c.due_on, c.rule) == (D(2024, 5, 11), "tier.B.contact")


def test_trigger_event_calls_for_reassessment_in_7_days(cfg):
    """CR §6.1 "reassessment on every trigger event": a positive test after the last assessment
    → reassessment due 7 days later (reasoned default), earlier than the routine date."""
    as_of = D(2024, 6, 20)
    events = [TimelineEvent(EventKind.URINALYSIS, D(2024, 6, 10), id=1, result=Result.POSITIVE)]
    r = item(due_items(state=social(as_of), tier="C1", last_done={"reassessment": D(2024, 5, 1)}, as_of=as_of,
                       config=cfg, events=events), "reassessment")
    assert (r.due_on, r.rule, r.status) == (D(2024, 6, 17), "trigger.positive_test", "overdue")
    # reassessed after the test: the routine 6-month interval again
    r = item(due_items(state=social(as_of), tier="C1", last_done={"reassessment": D(2024, 6, 12)}, as_of=as_of,
                       config=cfg, events=events), "reassessment")
    assert (r.due_on, r.rule) == (D(2024, 12, 12), "tier.C1.reassessment")


def test_final_assessment_in_the_last_30_days(cfg):
    """CR §6.4 "end of measure: final assessment within the last 30 days" (reasoned default)."""
    end = add_months(START, 36)  # 2027-01-15
    as_of = D(2027, 1, 1)
    last = {"reassessment": D(2026, 12, 1), "plan_review": D(2026, 12, 1), "urinalysis": D(2026, 12, 1)}
    r = item(due_items(state=cdr(as_of), tier="C1", last_done=last, as_of=as_of, config=cfg), "reassessment")
    assert (r.due_on, r.rule, r.window_start) == (end, "clock.final_assessment", D(2026, 12, 16))
    last["reassessment"] = D(2026, 12, 20)  # done inside the window
    r = item(due_items(state=cdr(as_of), tier="C1", last_done=last, as_of=as_of, config=cfg), "reassessment")
    assert r.rule == "tier.C1.reassessment"


# --- due / overdue by local date and late entries -------------------------------------------------


@pytest.mark.parametrize(
    "as_of,status",
    [(D(2024, 4, 14), "upcoming"), (D(2024, 4, 15), "due_today"), (D(2024, 4, 16), "overdue")],
)
def test_due_all_day_overdue_from_next_midnight(cfg, as_of, status):
    """DESIGN "Time": a deadline is due all of its local day and overdue from the next local midnight."""
    last = D(2024, 3, 15)
    u = item(due_items(state=cdr(as_of), tier=None, last_done=done_all(last), as_of=as_of, config=cfg), "urinalysis")
    assert (u.due_on, u.status) == (D(2024, 4, 15), status)


def test_late_entry_clears_the_overdue_item(cfg):
    """Issue 3 "backdated events raise no false overdue": a paper record of a test done on
    2024-04-20 (after the 2024-04-15 due date) entered on 2024-06-10 moves the next due date
    to 2024-05-20 — one overdue item, never a trail of missed past slots."""
    as_of = D(2024, 6, 10)
    before = item(due_items(state=cdr(as_of), tier=None, last_done=done_all(D(2024, 3, 15)), as_of=as_of, config=cfg),
                  "urinalysis")
    assert (before.due_on, before.status) == (D(2024, 4, 15), "overdue")
    after = item(due_items(state=cdr(as_of), tier=None, last_done=done_all(D(2024, 3, 15), urinalysis=D(2024, 6, 1)),
                           as_of=as_of, config=cfg), "urinalysis")
    assert (after.due_on, after.status) == (D(2024, 7, 1), "upcoming")


def test_done_after_the_due_date_is_done_not_overdue():
    """Issue 3 / DESIGN "Time": a one-off deadline done late is "done", never "overdue"; done
    before the task arose does not count."""
    from jindu.core.timeutils import day_start

    now = day_start(D(2024, 6, 20))
    assert deadline_status(D(2024, 5, 16), done_on=D(2024, 5, 30), now=now) == "done"
    assert deadline_status(D(2024, 5, 16), done_on=D(2024, 4, 1), not_before=D(2024, 5, 1), now=now) == "overdue"
    assert deadline_status(D(2024, 6, 20), now=now) == "due_today"
    assert deadline_status(D(2024, 6, 21), now=now) == "upcoming"


def test_report_done_late_is_not_overdue(cfg):
    """JDTL 14: a reporting date entered late (after the deadline) clears the report item."""
    s = cdr(D(2024, 6, 1))
    items = due_items(state=s, tier=None, last_done=done_all(D(2024, 5, 30)), as_of=D(2024, 6, 1), config=cfg)
    assert item(items, "report") is None


@pytest.mark.parametrize(
    "last,expected",
    [(D(2024, 1, 31), D(2024, 2, 29)), (D(2023, 1, 31), D(2023, 2, 28)), (D(2024, 3, 31), D(2024, 4, 30))],
)
def test_month_end_arithmetic_of_due_dates(cfg, last, expected):
    """DESIGN "Time": monthly = calendar month, clamped to the month's end."""
    s = cdr(last, measure_end_on=D(2027, 1, 15))
    s.measure_started_on = s.reported_on = D(2023, 1, 15) if last.year == 2023 else START
    u = item(due_items(state=s, tier=None, last_done=done_all(last), as_of=last, config=cfg), "urinalysis")
    assert u.due_on == expected


def test_measure_month_boundaries():
    """CR §6.2: month 1 is [start, start + 1 month); month 13 starts a year after reporting."""
    assert measure_month(D(2024, 1, 31), D(2024, 1, 31)) == 1
    assert measure_month(D(2024, 1, 31), D(2024, 2, 28)) == 1
    assert measure_month(D(2024, 1, 31), D(2024, 2, 29)) == 2
    assert measure_month(START, D(2025, 1, 14)) == 12
    assert measure_month(START, D(2025, 1, 15)) == 13
    assert measure_month(START, D(2023, 1, 1)) == 1


def test_items_sorted_and_one_per_kind(cfg):
    """The worklist gets one item per kind, the earliest first."""
    as_of = D(2024, 1, 15)
    items = due_items(state=cdr(as_of), tier="A", last_done={}, as_of=as_of, config=cfg)
    kinds = [i.kind for i in items]
    assert len(kinds) == len(set(kinds)) and set(kinds) <= set(KINDS)
    assert [i.due_on for i in items] == sorted(i.due_on for i in items)
    assert {"reassessment", "plan_review", "urinalysis", "hair_test", "contact", "home_visit"} == set(kinds)


def test_bad_arguments_are_refused(cfg):
    """DESIGN "Input": unknown tier or kind is an error, not silently ignored."""
    with pytest.raises(ValueError, match="D"):
        due_items(state=cdr(START), tier="D", last_done={}, as_of=START, config=cfg)
    with pytest.raises(ValueError, match="visit"):
        due_items(state=cdr(START), tier=None, last_done={"visit": START}, as_of=START, config=cfg)


# --- configuration validation ------------------------------------------------------------------


@pytest.mark.parametrize(
    "change,needle",
    [
        (lambda d: d["statuses"].pop("isolation"), "isolation"),
        (lambda d: d["statuses"]["community_rehab"].update(baseline="voluntary"), "statuses.community_rehab.baseline"),
        (lambda d: d["statuses"]["community_rehab"]["overlay_kinds"].append("party"),
         "statuses.community_rehab.overlay_kinds"),
        (lambda d: d["urine_baseline"]["community_drug_rehab"]["phases"][1].update(from_month=14),
         "phases[1].from_month"),
        (lambda d: d["urine_baseline"]["community_drug_rehab"]["phases"][0].update(every_months=0),
         "phases[0].every_months"),
        (lambda d: d["urine_baseline"]["community_rehab_2y"].update(term_months=36), "community_rehab_2y.term_months"),
        (lambda d: d["tier_overlay"]["A"]["contact"].update(every_months=1), "tier_overlay.A.contact"),
        (lambda d: d["tier_overlay"]["B"].pop("home_visit"), "tier_overlay.B"),
        (lambda d: d["tier_overlay"].pop("C2"), "C2"),
        (lambda d: d["tier_overlay"]["A"]["hair_test"].pop("basis"), "tier_overlay.A.hair_test.basis"),
        (lambda d: d["process_clocks"].pop("report_days"), "report_days"),
        (lambda d: d["process_clocks"]["plan_days"].update(unit="weeks"), "process_clocks.plan_days.unit"),
        (lambda d: d["process_clocks"]["plan_days"].update(status="sure"), "process_clocks.plan_days.status"),
    ],
)
def test_schedule_config_validation_errors(cfg, change, needle):
    """DESIGN "Input": a bad schedule configuration is refused, each problem with its path."""
    data = copy.deepcopy(cfg.to_dict())
    change(data)
    with pytest.raises(ConfigError) as exc:
        ScheduleConfig.from_dict(data)
    assert any(needle in e for e in exc.value.errors), exc.value.errors


def test_custom_schedule_applies(cfg):
    """SOURCE.md "Local rules may differ": a city's own intervals are used."""
    data = cfg.to_dict()
    data["tier_overlay"]["B"]["home_visit"]["every_months"] = 1
    custom = ScheduleConfig.from_dict(data)
    last = D(2024, 3, 1)
    items = due_items(state=social(last), tier="B", last_done=done_all(last), as_of=last, config=custom)
    assert item(items, "home_visit").due_on == D(2024, 4, 1)
