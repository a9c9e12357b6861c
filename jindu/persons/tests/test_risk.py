"""Risk instrument (persons.risk): scoring, caps, thresholds, C2, overrides, validation,
pre-filling and reassessment triggers.

Sources cited per test: casework_rules.md (CR) §5 and §6.1, 《戒毒条例》 (JDTL) art. 20,
浙公通字〔2022〕65号 (ZJ65) art. 2. Pure tests: no database.
"""

import copy
import datetime as dt
import itertools
import json

import pytest

from jindu.persons.choices import EventKind, Status
from jindu.persons.choices import TestResult as Result
from jindu.persons.risk import (
    VALUE_STATUSES,
    AnswerError,
    ConfigError,
    Instrument,
    add_months,
    c2_eligibility,
    derive_answers,
    months_between,
    reassessment_triggers,
    score,
    state_overrides,
    trigger_rule_for,
)
from jindu.persons.timeline import PersonState, TimelineEvent

D = dt.date
AS_OF = D(2024, 6, 20)


@pytest.fixture(scope="module")
def inst():
    return Instrument.load_default()


def state(**kw):
    kw.setdefault("as_of", AS_OF)
    kw.setdefault("status", Status.CURRENT_NO_MEASURE)
    return PersonState(**kw)


#: Lowest answers: 0 points everywhere except drug type (cannabis 6).
LOW = {
    "drug_type": "cannabis",
    "severity": "not_addicted",
    "missed_tests": "none",
    "unreported_absences": "none",
    "offence_record": "no",
    "rehab_episodes": "none",
    "abstinence": "36m_or_more",
    "family": "supportive",
    "employment": "stable",
    "self_harm_or_psychosis": "no",
    "cannot_be_detained": "no",
}


def answers_for(inst, target):
    """Some complete answers scoring exactly ``target`` (group cap applied), flags "no"."""
    items = inst.items
    for combo in itertools.product(*[[(it.code, a.code, a.points) for a in it.answers] for it in items]):
        behaviour = sum(p for (code, _, p) in combo if inst.item(code).group == "behaviour")
        other = sum(p for (code, _, p) in combo if inst.item(code).group is None)
        if other + min(behaviour, 20) == target:
            out = {code: a for code, a, _ in combo}
            out.update(self_harm_or_psychosis="no", cannot_be_detained="no")
            return out
    raise AssertionError(f"no combination scores {target}")


# --- the shipped default -----------------------------------------------------------------


def test_default_instrument_has_the_seven_zhejiang_factors_confirmed(inst):
    """ZJ65 art. 2 (CR §1.1): seven factors, confirmed; points are reasoned defaults (CR §6.1)."""
    factors = {it.factor.value for it in inst.items}
    assert factors == {"染毒种类", "染毒程度", "行为特征", "戒毒次数", "戒断时限", "家庭环境", "就业情况"}
    assert all(it.factor.status == "confirmed" for it in inst.items)
    assert all(a.status == "reasoned_default" for it in inst.items for a in it.answers)
    assert inst.thresholds["A"].status == "reasoned_default"
    assert inst.tiers.value == ["A", "B", "C1", "C2"] and inst.tiers.status == "confirmed"


def test_every_value_of_the_default_has_basis_and_status(inst):
    """CR §6 "each value traced to a source or labelled": every answer, cap, threshold,
    override and trigger carries a basis and one of the three statuses."""
    sources = inst.provenance()
    paths = {v.path for v in sources}
    assert "thresholds.A" in paths and "c2_rule.requires_three_year_rule" in paths
    assert "items[drug_type].answers[opioid]" in paths
    assert "overrides[recent_positive].when.days" in paths
    assert all(v.basis.strip() and v.status in VALUE_STATUSES for v in sources)
    unverified = {v.path for v in sources if not v.verified}
    assert "thresholds.B" in unverified and "breach_thresholds.refused_tests" not in unverified
    # 5 + 3 + 3 + 3 + 2 + 4 + 5 + 3 + 3 answers, each sourced
    assert sum(1 for v in sources if ".answers[" in v.path) == 31


# --- scoring per item ---------------------------------------------------------------------

EXPECTED_POINTS = {
    # CR §6.1 table, item by item
    "drug_type": {"stimulant_ketamine_nps": 15, "opioid": 12, "poly": 15, "cannabis": 6, "unknown": 10},
    "severity": {"not_addicted": 0, "addicted": 10, "severely_addicted": 15},
    "missed_tests": {"none": 0, "one": 5, "two_or_more": 10},
    "unreported_absences": {"none": 0, "one": 5, "two_or_more": 10},
    "offence_record": {"no": 0, "yes": 10},
    "rehab_episodes": {"none": 0, "one": 5, "two": 10, "three_or_more": 15},
    "abstinence": {"under_6m": 20, "6_to_12m": 15, "12_to_24m": 10, "24_to_36m": 5, "36m_or_more": 0},
    "family": {"no_fixed_home": 10, "strained": 5, "supportive": 0},
    "employment": {"none": 5, "unstable": 3, "stable": 0},
}


@pytest.mark.parametrize(
    "item,answer,points",
    [(item, answer, pts) for item, answers in EXPECTED_POINTS.items() for answer, pts in answers.items()],
)
def test_points_per_item_answer(inst, item, answer, points):
    """CR §6.1: each answer scores the points of the table; the total moves by exactly that."""
    base = score(inst, {**LOW, item: LOW[item]})
    result = score(inst, {**LOW, item: answer})
    got = next(s for s in result.items if s.item == item)
    assert got.points == points
    base_points = next(s for s in base.items if s.item == item).points
    assert result.score - base.score == points - base_points


def test_items_of_the_default_match_the_table(inst):
    """CR §6.1: the default has exactly the answers of the table (nothing extra)."""
    assert {it.code: {a.code: a.points for a in it.answers} for it in inst.items} == EXPECTED_POINTS


def test_behaviour_group_is_capped_at_20(inst):
    """CR §6.1 item 3: tests 10 + absences 10 + offence 10 = 30 raw, counted as 20."""
    worst = {"missed_tests": "two_or_more", "unreported_absences": "two_or_more", "offence_record": "yes"}
    r = score(inst, {**LOW, **worst})
    g = r.groups[0]
    assert (g.group, g.raw_points, g.points, g.cap) == ("behaviour", 30, 20, 20)
    assert r.score == 6 + 20


def test_behaviour_under_the_cap_counts_in_full(inst):
    """CR §6.1 item 3: 5 + 10 = 15 stays 15 (cap 20 not reached)."""
    r = score(inst, {**LOW, "missed_tests": "one", "offence_record": "yes"})
    assert r.groups[0].points == 15 and r.score == 21


def test_maximum_score_is_100(inst):
    """CR §6.1: maxima 15 + 15 + 20 + 15 + 20 + 10 + 5 = 100."""
    top = {it.code: max(it.answers, key=lambda a: a.points).code for it in inst.items}
    r = score(inst, {**top, "self_harm_or_psychosis": "no", "cannot_be_detained": "no"})
    assert r.score == 100 and r.tier == "A" and not r.overrides


# --- thresholds -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "total,tier",
    [(6, "C1"), (33, "C1"), (34, "C1"), (35, "B"), (36, "B"), (59, "B"), (60, "A"), (61, "A"), (100, "A")],
)
def test_thresholds_at_and_around_each_boundary(inst, total, tier):
    """CR §6.1: A ≥ 60, B 35–59, C ≤ 34 (C1 without the three-year rule); no override fires.
    6 is the lowest possible score (cannabis is the cheapest drug type)."""
    r = score(inst, answers_for(inst, total), state())
    assert r.score == total
    assert r.score_tier == tier and r.tier == tier and not r.overrides


# --- C2 ---------------------------------------------------------------------------------------


def test_c2_when_three_years_complete_on_the_day(inst):
    """CR §6.1 C2 = ≤ 34 and the three-year test of §5 (SHREG 29 / SDREG 36): complete on as_of."""
    s = state(status=Status.CURRENT_NO_MEASURE, abstinence_clock_from=D(2021, 6, 20), abstinent_three_years_on=AS_OF)
    r = score(inst, answers_for(inst, 34), s)
    assert r.tier == "C2" and r.c2_eligible
    assert "2024-06-20" in r.c2_reason


def test_c1_the_day_before_three_years(inst):
    """CR §5: one day short of three years stays C1, the reason gives the date."""
    s = state(abstinence_clock_from=D(2021, 6, 21), abstinent_three_years_on=D(2024, 6, 21))
    r = score(inst, answers_for(inst, 10), s)
    assert r.tier == "C1" and not r.c2_eligible
    assert "2024-06-21" in r.c2_reason


def test_c2_for_the_abstinent_status(inst):
    """CR §5 / JDTL 7: status "abstinent three years" meets the test."""
    r = score(inst, LOW, state(status=Status.ABSTINENT_3Y))
    assert r.tier == "C2"


def test_c2_only_for_low_scores(inst):
    """CR §6.1: the three-year rule splits C only; 35 stays B."""
    r = score(inst, answers_for(inst, 35), state(status=Status.ABSTINENT_3Y))
    assert r.tier == "B"


def test_c2_excluded_after_refusal_or_serious_breach(inst):
    """CR §5 exclusions (SHREG 29; SDREG 36): refusal of the measure or a serious breach."""
    ok, reason = c2_eligibility(inst, state(status=Status.ABSTINENT_3Y, refused_measure=True))
    assert not ok and "拒绝" in reason
    ok, reason = c2_eligibility(inst, state(status=Status.ABSTINENT_3Y, refused_tests=3))
    assert not ok and "严重违反" in reason
    ok, reason = c2_eligibility(inst, state(status=Status.ABSTINENT_3Y, ever_refused_or_breached=True))
    assert not ok and "曾拒绝或严重违反" in reason


def test_c2_excluded_when_use_detected_after_the_clock(inst):
    """CR §5 condition: no drug use during the three years."""
    s = state(abstinence_clock_from=D(2021, 1, 1), abstinent_three_years_on=D(2024, 1, 1),
              positive_tests=[D(2022, 5, 1)])
    ok, _ = c2_eligibility(inst, s)
    assert not ok


def test_c2_needs_a_state(inst):
    """CR §6.1: without the timeline the three-year test cannot be checked: C1, noted."""
    r = score(inst, LOW)
    assert r.tier == "C1" and r.notes


def test_c2_switched_off(inst):
    """CR §6.5 ``c2_requires_three_year_rule``: when false, C2 is never computed."""
    data = inst.to_dict()
    data["c2_rule"]["requires_three_year_rule"]["value"] = False
    r = score(Instrument.from_dict(data), LOW, state(status=Status.ABSTINENT_3Y))
    assert r.tier == "C1"


# --- overrides --------------------------------------------------------------------------------


def test_refusal_forces_a(inst):
    """CR §6.1 override 1 (JDF 38; NAT16 item 1): refusing the measure → A whatever the score."""
    r = score(inst, LOW, state(refused_measure=True))
    assert r.score_tier == "C1" and r.tier == "A"
    assert [o.code for o in r.overrides] == ["refused_measure"]


@pytest.mark.parametrize(
    "kw,fires",
    [
        ({"serious_breach": True}, True),
        ({"refused_tests": 2}, False),
        ({"refused_tests": 3}, True),
        ({"unapproved_departures": 2}, False),
        ({"unapproved_departures": 3}, True),
        ({"days_away": 30}, False),
        ({"days_away": 31}, True),
    ],
)
def test_serious_breach_forces_a_at_jdtl_20_thresholds(inst, kw, fires):
    """JDTL 20 (CR §3.1, §6.1 override 2): ≥ 3 refusals, ≥ 3 unapproved departures, > 30 days away."""
    r = score(inst, LOW, state(**kw))
    assert (r.tier == "A") is fires
    assert ([o.code for o in r.overrides] == ["serious_breach"]) is fires


@pytest.mark.parametrize(
    "positive,fires",
    [(AS_OF, True), (AS_OF - dt.timedelta(days=90), True), (AS_OF - dt.timedelta(days=91), False),
     (AS_OF + dt.timedelta(days=1), False)],
)
def test_positive_within_90_days_forces_a(inst, positive, fires):
    """CR §6.1 override 3 (reasoned default): a positive test in the last 90 days → A; day 91
    does not; a test dated after the assessment date is not considered."""
    r = score(inst, LOW, state(positive_tests=[positive]))
    assert (r.tier == "A") is fires
    if fires:
        assert positive.isoformat() in r.overrides[0].reason


def test_detected_use_counts_as_positive(inst):
    """CR §6.1 override 3: detected use (found using, with its test) within 90 days."""
    hits = state_overrides(inst, state(last_detected_use_on=D(2024, 5, 1)))
    assert [h.code for h in hits] == ["recent_positive"]


@pytest.mark.parametrize("flag", ["self_harm_or_psychosis", "cannot_be_detained"])
def test_safety_flags_force_a(inst, flag):
    """CR §6.1 overrides 4–5 (NAT16 items 3–4, uncertain source, kept as safety rules)."""
    r = score(inst, {**LOW, flag: "yes"}, state())
    assert r.tier == "A" and [o.code for o in r.overrides] == [flag]
    assert r.overrides[0].status == "uncertain"


def test_several_overrides_are_all_reported(inst):
    """CR §6.1: every override that fired is listed with its reason."""
    r = score(inst, {**LOW, "self_harm_or_psychosis": "yes"}, state(refused_measure=True, positive_tests=[AS_OF]))
    assert {o.code for o in r.overrides} == {"refused_measure", "recent_positive", "self_harm_or_psychosis"}


def test_without_state_timeline_overrides_are_not_checked(inst):
    """CR §6.1: the state overrides need the timeline; the result says they were skipped."""
    r = score(inst, LOW)
    assert not r.overrides and any("未提供时间线" in n for n in r.notes)


# --- answers ------------------------------------------------------------------------------------


def test_answer_errors_name_the_item_and_are_all_listed(inst):
    """DESIGN "Input": unknown item, unknown answer and bad flag reported together."""
    with pytest.raises(AnswerError) as exc:
        score(inst, {**LOW, "drug_type": "tobacco", "height": "tall", "cannot_be_detained": "maybe"})
    text = "\n".join(exc.value.errors)
    assert len(exc.value.errors) == 3
    assert "主要滥用的毒品种类" in text and "tobacco" in text and "height" in text and "maybe" in text


def test_unanswered_items_refused_unless_partial(inst):
    """CR §6.1: a complete assessment needs every item; a partial one scores them 0 and lists them."""
    partial = {k: v for k, v in LOW.items() if k not in ("family", "cannot_be_detained")}
    with pytest.raises(AnswerError) as exc:
        score(inst, partial)
    assert "家庭环境" in str(exc.value)
    r = score(inst, {**partial, "family": ""}, complete=False)
    assert r.missing == ("family", "cannot_be_detained")
    assert r.score == 6 and r.flags["cannot_be_detained"] == "no"


def test_assessment_to_dict_is_json(inst):
    """The result is stored as JSON with the instrument's code and version."""
    r = score(inst, LOW, state(positive_tests=[AS_OF]))
    data = json.loads(json.dumps(r.to_dict()))
    assert data["tier"] == "A" and data["instrument_version"] == inst.version and data["as_of"] == "2024-06-20"


# --- configuration validation ------------------------------------------------------------------


def mutated(inst, fn):
    data = copy.deepcopy(inst.to_dict())
    fn(data)
    return data


@pytest.mark.parametrize(
    "change,needle",
    [
        (lambda d: d["items"][0]["answers"][0].pop("basis"), "items[0].answers[0].basis"),
        (lambda d: d["items"][1]["answers"][0].update(status="guess"), "items[1].answers[0].status"),
        (lambda d: d["items"][0]["answers"][1].update(points=16), "items[0].answers[1].points"),
        (lambda d: d["items"][0]["answers"][1].update(points=-1), "items[0].answers[1].points"),
        (lambda d: d["items"][1].update(code="drug_type"), "drug_type 重复"),
        (lambda d: d["items"][0]["answers"][1].update(code="stimulant_ketamine_nps"), "items[0].answers"),
        (lambda d: d["items"][2].update(group="conduct"), "items[2].group"),
        (lambda d: d["thresholds"]["B"].update(value=60), "thresholds"),
        (lambda d: d["thresholds"]["A"].update(value=101), "thresholds.A"),
        (lambda d: d["thresholds"].update(C1={"value": 10, "basis": "x", "status": "confirmed"}), "thresholds.C1"),
        (lambda d: d["items"][0]["max_points"].update(value=30), "score_max"),
        (lambda d: d["overrides"][0]["when"].update(state="drunk"), "overrides[0].when.state"),
        (lambda d: d["overrides"][3]["when"].update(flag="unknown_flag"), "overrides[3].when.flag"),
        (lambda d: d["reassessment_triggers"][0]["event_kinds"].append("party"),
         "reassessment_triggers[0].event_kinds"),
        (lambda d: d["reassessment_triggers"][1].update(results=["positive"]), "reassessment_triggers[1].results"),
        (lambda d: d["breach_thresholds"]["refused_tests"].update(value=0), "breach_thresholds.refused_tests.value"),
        (lambda d: d["c2_rule"]["requires_three_year_rule"].update(value="yes"),
         "c2_rule.requires_three_year_rule.value"),
        (lambda d: d.pop("version"), "version"),
    ],
)
def test_config_validation_errors_name_the_path(inst, change, needle):
    """DESIGN "Input": a bad configuration is refused with the path and reason of each problem."""
    with pytest.raises(ConfigError) as exc:
        Instrument.from_dict(mutated(inst, change))
    assert any(needle in e for e in exc.value.errors), exc.value.errors


def test_config_validation_lists_every_problem_at_once(inst):
    """DESIGN "Input": all errors in one pass, nothing partial accepted."""
    def change(d):
        d["items"][0]["answers"][0].pop("basis")
        d["thresholds"]["B"]["value"] = 70
        d["flags"][0]["status"] = "maybe"
    with pytest.raises(ConfigError) as exc:
        Instrument.from_dict(mutated(inst, change))
    assert len(exc.value.errors) == 3


def test_config_json_syntax_error(inst):
    """DESIGN "Input": broken JSON is a ConfigError naming line and column."""
    with pytest.raises(ConfigError) as exc:
        Instrument.from_json('{"code": "x",}')
    assert "第 1 行" in str(exc.value)


def test_custom_instrument_round_trips(inst):
    """SOURCE.md "Local rules may differ": a city's own file of the same shape loads and scores."""
    data = inst.to_dict()
    data["thresholds"]["A"]["value"] = 50
    data["version"] = "haikou-2026"
    custom = Instrument.from_dict(data)
    assert score(custom, answers_for(inst, 50), state()).tier == "A"
    assert score(inst, answers_for(inst, 50), state()).tier == "B"


# --- pre-filling from the timeline ----------------------------------------------------------


@pytest.mark.parametrize("n,answer", [(0, "none"), (1, "one"), (2, "two"), (3, "three_or_more"), (5, "three_or_more")])
def test_derive_rehab_episodes(n, answer):
    """CR §6.1 item 4: measures ordered (社戒, 社康, 强戒) counted."""
    assert derive_answers(state(rehab_episodes=n))["rehab_episodes"] == answer


@pytest.mark.parametrize(
    "since,as_of,answer",
    [
        (D(2023, 8, 31), D(2024, 2, 28), "under_6m"),  # 5 whole months (Feb 29 not reached)
        (D(2023, 8, 31), D(2024, 2, 29), "6_to_12m"),  # month-end: Aug 31 + 6 months = Feb 29
        (D(2023, 6, 20), D(2024, 6, 19), "6_to_12m"),
        (D(2023, 6, 20), D(2024, 6, 20), "12_to_24m"),
        (D(2022, 6, 20), D(2024, 6, 20), "24_to_36m"),
        (D(2021, 6, 21), D(2024, 6, 20), "24_to_36m"),
        (D(2021, 6, 20), D(2024, 6, 20), "36m_or_more"),
    ],
)
def test_derive_abstinence_bands(since, as_of, answer):
    """CR §6.1 item 5: whole calendar months since the last detected use; bands 6/12/24/36."""
    d = derive_answers(state(as_of=as_of, last_detected_use_on=since), as_of)
    assert d["abstinence"] == answer
    assert since.isoformat() in d.reasons["abstinence"]


def test_derive_abstinence_uses_the_latest_of_use_positive_and_release():
    """CR §6.1 item 5: "since last detected use or release"; a later positive test counts."""
    s = state(last_detected_use_on=D(2020, 1, 1), last_release_on=D(2023, 1, 10), positive_tests=[D(2024, 3, 1)])
    assert derive_answers(s)["abstinence"] == "under_6m"
    s = state(last_detected_use_on=D(2020, 1, 1), last_release_on=D(2023, 1, 10))
    assert derive_answers(s)["abstinence"] == "12_to_24m"
    assert "abstinence" not in derive_answers(state())


def test_derive_behaviour_from_events_of_the_last_12_months():
    """CR §6.1 item 3 (last 12 months): missed/refused tests and unapproved absences ≥ 3 days
    (JDTL 19); older events, approved absences and voided records are not counted."""
    events = [
        TimelineEvent(EventKind.URINALYSIS, D(2023, 6, 20), id=1, result=Result.MISSED),  # 12 months ago: out
        TimelineEvent(EventKind.URINALYSIS, D(2023, 6, 21), id=2, result=Result.REFUSED),
        TimelineEvent(EventKind.REFUSED_TEST, D(2023, 6, 21), id=3),  # same day as id 2: one refusal
        TimelineEvent(EventKind.URINALYSIS, D(2024, 1, 5), id=4, result=Result.NEGATIVE),
        TimelineEvent(EventKind.REFUSED_TEST, D(2024, 2, 1), id=5),
        TimelineEvent(EventKind.CORRECTION, D(2024, 2, 3), id=6, corrects_id=5),  # voids id 5
        TimelineEvent(EventKind.LEFT_COUNTY, D(2024, 3, 1), id=7, approved=False, days=4),
        TimelineEvent(EventKind.LEFT_COUNTY, D(2024, 4, 1), id=8, approved=True, days=10),
        TimelineEvent(EventKind.LEFT_COUNTY, D(2024, 5, 1), id=9, approved=False, days=2),
    ]
    d = derive_answers(state(refused_tests=9), events=events)
    assert d["missed_tests"] == "one"
    assert d["unreported_absences"] == "one"


def test_derive_behaviour_without_events_uses_measure_counters():
    """CR §6.1 item 3 fallback: the measure's counters (JDTL 20), and the reason says so."""
    d = derive_answers(state(refused_tests=2, unapproved_departures=1))
    assert d["missed_tests"] == "two_or_more" and d["unreported_absences"] == "one"
    assert "未按近12个月核对" in d.reasons["missed_tests"]


def test_derive_reports_the_recent_positive_override():
    """CR §6.1 override 3: the pre-fill tells the form a positive within 90 days forces A."""
    d = derive_answers(state(positive_tests=[D(2024, 5, 1)]))
    assert [o.code for o in d.overrides] == ["recent_positive"]
    assert derive_answers(state(positive_tests=[D(2024, 1, 1)])).overrides == []


def test_derived_answers_score_with_the_rest_filled_in(inst):
    """The pre-filled answers are valid answers of the instrument."""
    d = derive_answers(state(rehab_episodes=2, last_detected_use_on=D(2024, 1, 1)))
    r = score(inst, {**LOW, **d}, state())
    assert r.score == 6 + 10 + 20


# --- reassessment triggers --------------------------------------------------------------------


@pytest.mark.parametrize(
    "event,code",
    [
        (TimelineEvent(EventKind.URINALYSIS, AS_OF, result=Result.POSITIVE), "positive_test"),
        (TimelineEvent(EventKind.HAIR_TEST, AS_OF, result=Result.POSITIVE), "positive_test"),
        (TimelineEvent(EventKind.URINALYSIS, AS_OF, result=Result.MISSED), "missed_test"),
        (TimelineEvent(EventKind.REFUSED_TEST, AS_OF), "refused_test"),
        (TimelineEvent(EventKind.RELAPSE, AS_OF), "relapse"),
        (TimelineEvent(EventKind.VIOLATION, AS_OF), "breach"),
        (TimelineEvent(EventKind.COMMUNITY_REHAB_ORDER, AS_OF), "new_order"),
        (TimelineEvent(EventKind.RELEASE, AS_OF), "release"),
        (TimelineEvent(EventKind.EARLY_RELEASE, AS_OF), "release"),
        (TimelineEvent(EventKind.RESIDENCE_CHANGED, AS_OF), "residence_changed"),
        (TimelineEvent(EventKind.LEFT_COUNTY, AS_OF, approved=False), "unapproved_absence"),
        (TimelineEvent(EventKind.URINALYSIS, AS_OF, result=Result.NEGATIVE), None),
        (TimelineEvent(EventKind.LEFT_COUNTY, AS_OF, approved=True), None),
        (TimelineEvent(EventKind.AGREEMENT_SIGNED, AS_OF), None),
    ],
)
def test_trigger_events(event, code):
    """CR §6.1 "Reassessment: on every trigger event (positive or missed test, breach, new case,
    release from 强戒, change of residence, leave overrun)"."""
    rule = trigger_rule_for(event)
    assert (rule.code if rule else None) == code


def test_triggers_since_the_last_assessment():
    """CR §6.1: only events after the last assessment call for a new one; same-day events are
    taken as known; corrected events and events after ``until`` are ignored."""
    events = [
        TimelineEvent(EventKind.URINALYSIS, D(2024, 3, 1), id=1, result=Result.POSITIVE),
        TimelineEvent(EventKind.RESIDENCE_CHANGED, D(2024, 4, 1), id=2),
        TimelineEvent(EventKind.URINALYSIS, D(2024, 5, 2), id=3, result=Result.POSITIVE),
        TimelineEvent(EventKind.CORRECTION, D(2024, 5, 9), id=4, corrects_id=3),
        TimelineEvent(EventKind.RELEASE, D(2024, 5, 10), id=5),
        TimelineEvent(EventKind.VIOLATION, D(2024, 7, 1), id=6),
    ]
    got = reassessment_triggers(events, since=D(2024, 4, 1), until=AS_OF)
    assert [(t.code, t.occurred_on) for t in got] == [("release", D(2024, 5, 10))]
    all_codes = [t.code for t in reassessment_triggers(events)]
    assert all_codes == ["positive_test", "residence_changed", "release", "breach"]


# --- month arithmetic ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "d,n,expected",
    [
        (D(2024, 1, 31), 1, D(2024, 2, 29)),
        (D(2023, 1, 31), 1, D(2023, 2, 28)),
        (D(2024, 2, 29), 12, D(2025, 2, 28)),
        (D(2024, 3, 31), -1, D(2024, 2, 29)),
        (D(2024, 11, 30), 3, D(2025, 2, 28)),
        (D(2024, 12, 15), 1, D(2025, 1, 15)),
    ],
)
def test_add_months_clamps_to_month_end(d, n, expected):
    """DESIGN "Time": calendar months; a day missing in the target month is its last day."""
    assert add_months(d, n) == expected


def test_months_between_whole_months():
    """Whole months completed, consistent with add_months at month ends."""
    assert months_between(D(2024, 1, 31), D(2024, 2, 29)) == 1
    assert months_between(D(2024, 1, 15), D(2024, 2, 14)) == 0
    assert months_between(D(2024, 1, 15), D(2027, 1, 15)) == 36
    assert months_between(D(2024, 1, 15), D(2024, 1, 14)) == -1
