"""Case-work services: contacts and home visits, the individual plan, help given, drug tests,
risk assessments. Each one writes exactly one audit event, refuses people outside the user's
scope (a social worker: people not assigned to them) without writing anything, and refreshes
what is due so the worklist shows the work as done.

Schedule values (casework_rules.md §6.2–§6.4, ``schedule_default.json``): the entry
assessment is due 7 days after reporting, the first urinalysis within 30 days of the measure
start, a reassessment 7 days after a trigger event such as a positive test (§6.1).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from jindu.core.models import AuditEvent, StaleEditError
from jindu.core.timeutils import local_today
from jindu.persons import services
from jindu.persons.choices import AssistanceKind, ContactKind, DueKind, EventKind, Tier
from jindu.persons.choices import TestResult as Result
from jindu.persons.models import Assistance, CasePlan, Contact, DueItem, Event, RiskAssessment
from jindu.persons.tests.casework_support import (
    TOWN, fresh, high_risk_answers, in_community_rehab, low_risk_answers, role_user,
)

pytestmark = pytest.mark.django_db


def due(person, kind) -> dt.date | None:
    row = DueItem.objects.filter(person=person, kind=kind).first()
    return row.due_on if row else None


def audit(action, target=None):
    rows = AuditEvent.objects.filter(action=action)
    if target is not None:
        rows = rows.filter(target_id=str(target.pk))
    return list(rows)


@pytest.fixture
def world():
    """A social worker of 中山街道 with one person in community drug rehabilitation (ordered
    120 days ago: the use that led to the order is older than the 90 days that force tier A),
    another worker of the same town, and the town office."""
    worker = role_user("social_worker", TOWN)
    other_worker = role_user("social_worker", TOWN)
    office = role_user("town_office", TOWN)
    today = local_today()
    person = in_community_rehab(today - dt.timedelta(days=120), worker=worker)
    return {"worker": worker, "other": other_worker, "office": office, "person": person, "today": today}


# --- contacts -------------------------------------------------------------------------------

def test_home_visit_is_recorded_audited_and_moves_what_is_due(world):
    worker, person, today = world["worker"], world["person"], world["today"]
    services.assess_risk(user=worker, person=person, assessed_on=today - dt.timedelta(days=40),
                         answers=low_risk_answers(), trigger="entry")
    before_contact, before_visit = due(person, DueKind.CONTACT), due(person, DueKind.HOME_VISIT)
    assert before_contact is not None and before_contact < today  # overdue before the visit

    contact = services.record_contact(user=worker, person=person, data={
        "kind": ContactKind.HOME_VISIT, "occurred_on": today, "place": "家中", "notes": "情况稳定"})

    assert contact.worker == worker
    events = audit("persons.contact_recorded", contact)
    assert len(events) == 1 and events[0].actor == worker and events[0].changes["kind"] == "home_visit"
    assert due(person, DueKind.CONTACT) > today and due(person, DueKind.HOME_VISIT) > before_visit
    assert fresh(person).next_due_on != before_contact


def test_contact_for_a_person_not_assigned_is_refused_and_writes_nothing(world):
    with pytest.raises(PermissionDenied):
        services.record_contact(user=world["other"], person=world["person"], data={
            "kind": ContactKind.INTERVIEW, "occurred_on": world["today"]})
    assert Contact.objects.count() == 0
    assert audit("persons.contact_recorded") == []


def test_the_town_office_may_record_for_anyone_in_its_town(world):
    contact = services.record_contact(user=world["office"], person=world["person"], data={
        "kind": ContactKind.PHONE, "occurred_on": world["today"]})
    assert contact.worker == world["office"]


def test_contact_in_the_future_is_refused_naming_the_field(world):
    with pytest.raises(ValidationError) as exc:
        services.record_contact(user=world["worker"], person=world["person"], data={
            "kind": ContactKind.INTERVIEW, "occurred_on": world["today"] + dt.timedelta(days=1)})
    assert "联系日期不能晚于今天" in exc.value.message_dict["occurred_on"][0]
    assert Contact.objects.count() == 0


# --- plan -----------------------------------------------------------------------------------

def test_plan_is_saved_replaces_the_active_one_and_its_review_date_is_due(world):
    worker, person, today = world["worker"], world["person"], world["today"]
    review = today + dt.timedelta(days=20)
    first = services.save_plan(user=worker, person=person, data={
        "goals": "保持操守", "measures": "每月尿检", "responsible_worker": worker, "review_on": review})
    assert first.is_active and first.starts_on == today
    assert len(audit("persons.plan_created", first)) == 1
    assert due(person, DueKind.PLAN_REVIEW) <= review

    second = services.save_plan(user=worker, person=person, data={
        "goals": "稳定就业", "measures": "技能培训", "responsible_worker": worker,
        "review_on": today + dt.timedelta(days=90)})
    assert not fresh(first).is_active and fresh(second).is_active
    assert CasePlan.objects.filter(person=person).count() == 2  # the old plan stays in the file


def test_plan_edit_refuses_a_stale_version(world):
    worker, person, today = world["worker"], world["person"], world["today"]
    plan = services.save_plan(user=worker, person=person, data={
        "goals": "目标", "measures": "措施", "responsible_worker": worker, "review_on": today + dt.timedelta(days=30)})
    services.save_plan(user=worker, person=person, plan=plan, expected_version=plan.version,
                       data={"goals": "第一次修改"})
    with pytest.raises(StaleEditError):
        services.save_plan(user=worker, person=person, plan=plan, expected_version=plan.version,
                           data={"goals": "过期的修改"})
    assert fresh(plan).goals == "第一次修改"
    assert len(audit("persons.plan_updated", plan)) == 1


def test_plan_review_before_start_is_refused(world):
    with pytest.raises(ValidationError) as exc:
        services.save_plan(user=world["worker"], person=world["person"], data={
            "goals": "目标", "measures": "措施", "responsible_worker": world["worker"],
            "starts_on": world["today"], "review_on": world["today"] - dt.timedelta(days=1)})
    assert "review_on" in exc.value.message_dict
    assert CasePlan.objects.count() == 0


# --- help given -----------------------------------------------------------------------------

def test_assistance_keeps_the_amount_as_decimal_yuan_and_counts_jobs(world):
    row = services.record_assistance(user=world["worker"], person=world["person"], data={
        "kind": AssistanceKind.JOB_PLACEMENT, "given_on": world["today"], "amount_yuan": "1200.50",
        "job_found": True})
    row = fresh(row)
    assert row.amount_yuan == Decimal("1200.50") and row.job_found
    assert audit("persons.assistance_recorded", row)[0].changes["amount_yuan"] == "1200.50"


@pytest.mark.parametrize("amount, message", [(12.5, "不接受浮点数"), ("-1", "不能为负数"), ("abc", "不是有效的数字")])
def test_assistance_amount_errors_name_the_field(world, amount, message):
    with pytest.raises(ValidationError) as exc:
        services.record_assistance(user=world["worker"], person=world["person"], data={
            "kind": AssistanceKind.CARE, "given_on": world["today"], "amount_yuan": amount})
    assert message in exc.value.message_dict["amount_yuan"][0]
    assert Assistance.objects.count() == 0


def test_assistance_out_of_scope_is_refused(world):
    with pytest.raises(PermissionDenied):
        services.record_assistance(user=world["other"], person=world["person"], data={
            "kind": AssistanceKind.CARE, "given_on": world["today"]})
    assert Assistance.objects.count() == 0 and audit("persons.assistance_recorded") == []


# --- tests ----------------------------------------------------------------------------------

def test_negative_urinalysis_is_a_timeline_event_and_clears_the_overdue_test(world):
    worker, person, today = world["worker"], world["person"], world["today"]
    assert due(person, DueKind.URINALYSIS) < today  # first test within 30 days of the start: overdue
    trail = AuditEvent.objects.count()
    event = services.record_test(user=worker, person=person, data={
        "kind": EventKind.URINALYSIS, "occurred_on": today, "result": Result.NEGATIVE})
    assert event.kind == EventKind.URINALYSIS and event.recorded_by == worker
    assert len(audit("persons.event_recorded", event)) == 1
    assert AuditEvent.objects.count() == trail + 1
    assert due(person, DueKind.URINALYSIS) > today


def test_positive_test_triggers_a_reassessment_within_seven_days(world):
    worker, person, today = world["worker"], world["person"], world["today"]
    services.assess_risk(user=worker, person=person, assessed_on=today - dt.timedelta(days=10),
                         answers=low_risk_answers(), trigger="entry")
    assert due(person, DueKind.REASSESSMENT) > today + dt.timedelta(days=7)
    event = services.record_test(user=worker, person=person, data={
        "kind": EventKind.URINALYSIS, "occurred_on": today, "result": Result.POSITIVE})
    # casework_rules.md §6.1 triggers, §6.4: reassessment 7 days after the trigger event
    assert due(person, DueKind.REASSESSMENT) == today + dt.timedelta(days=7)
    assert services.casework.needs_reassessment(event)
    assert fresh(person).last_detected_use_on == today


@pytest.mark.parametrize("data, field", [
    ({"kind": EventKind.RELAPSE, "result": Result.NEGATIVE}, "kind"),
    ({"kind": EventKind.HAIR_TEST}, "result"),
])
def test_test_needs_a_test_kind_and_a_result(world, data, field):
    with pytest.raises(ValidationError) as exc:
        services.record_test(user=world["worker"], person=world["person"],
                             data={"occurred_on": world["today"], **data})
    assert field in exc.value.message_dict
    assert not Event.objects.filter(kind__in=(EventKind.URINALYSIS, EventKind.HAIR_TEST, EventKind.RELAPSE)).exists()


def test_test_for_someone_else_s_person_is_refused(world):
    with pytest.raises(PermissionDenied):
        services.record_test(user=world["other"], person=world["person"], data={
            "kind": EventKind.URINALYSIS, "occurred_on": world["today"], "result": Result.NEGATIVE})
    assert not Event.objects.filter(kind=EventKind.URINALYSIS).exists()


# --- risk assessment ------------------------------------------------------------------------

def test_assessment_stores_instrument_answers_points_and_tiers(world):
    worker, person, today = world["worker"], world["person"], world["today"]
    answers = low_risk_answers()
    row = services.assess_risk(user=worker, person=person, assessed_on=today, answers=answers, trigger="entry")
    row = fresh(row)
    assert (row.instrument_code, row.instrument_version) == ("jindu_default", "2025.1")
    assert row.answers == answers and set(row.item_points) == {k for k in answers if k in row.item_points}
    assert row.score == sum(row.item_points.values())
    assert row.tier == row.computed_tier == Tier.C1  # low score, not abstinent three years: C1
    assert row.assessor == worker and row.override_reason == ""
    assert fresh(person).tier == Tier.C1 and fresh(person).tier_assessed_on == today
    event = audit("persons.risk_assessed", row)
    assert len(event) == 1 and event[0].changes["tier"] == "C1" and event[0].changes["score"] == row.score


def test_high_scores_and_a_recent_positive_test_give_tier_a_with_the_reason(world):
    worker, person, today = world["worker"], world["person"], world["today"]
    services.record_test(user=worker, person=person, data={
        "kind": EventKind.URINALYSIS, "occurred_on": today - dt.timedelta(days=5), "result": Result.POSITIVE})
    row = services.assess_risk(user=worker, person=person, assessed_on=today, answers=low_risk_answers(),
                               trigger="positive_test")
    assert row.computed_tier == Tier.A  # positive within 90 days forces A (casework_rules.md §6.1)
    assert [o["code"] for o in row.overrides] == ["recent_positive"]
    high = services.assess_risk(user=worker, person=person, assessed_on=today, answers=high_risk_answers(),
                                trigger="periodic")
    assert high.score >= 60 and high.tier == Tier.A


def test_manual_tier_needs_a_reason_and_is_audited_as_an_override(world):
    worker, person, today = world["worker"], world["person"], world["today"]
    with pytest.raises(ValidationError) as exc:
        services.assess_risk(user=worker, person=person, assessed_on=today, answers=low_risk_answers(),
                             trigger="entry", tier=Tier.B)
    assert "须填写人工调整理由" in exc.value.message_dict["override_reason"][0]
    assert RiskAssessment.objects.count() == 0

    row = services.assess_risk(user=worker, person=person, assessed_on=today, answers=low_risk_answers(),
                               trigger="entry", tier=Tier.B, override_reason="家属反映近期情绪不稳")
    assert (row.computed_tier, row.tier, row.override_reason) == (Tier.C1, Tier.B, "家属反映近期情绪不稳")
    event = audit("persons.risk_tier_overridden", row)
    assert len(event) == 1 and event[0].reason == "家属反映近期情绪不稳"
    assert event[0].changes["computed_tier"] == "C1" and event[0].changes["tier"] == "B"
    assert audit("persons.risk_assessed") == []
    assert fresh(person).tier == Tier.B


def test_unanswered_items_are_refused_with_the_item_named(world):
    answers = low_risk_answers()
    answers.pop("drug_type")
    with pytest.raises(ValidationError) as exc:
        services.assess_risk(user=world["worker"], person=world["person"], assessed_on=world["today"],
                             answers=answers, trigger="entry")
    assert "主要滥用的毒品种类" in " ".join(exc.value.message_dict["answers"])
    assert RiskAssessment.objects.count() == 0


def test_assessment_out_of_scope_or_with_unknown_trigger_is_refused(world):
    with pytest.raises(PermissionDenied):
        services.assess_risk(user=world["other"], person=world["person"], assessed_on=world["today"],
                             answers=low_risk_answers(), trigger="entry")
    with pytest.raises(ValidationError) as exc:
        services.assess_risk(user=world["worker"], person=world["person"], assessed_on=world["today"],
                             answers=low_risk_answers(), trigger="whim")
    assert "trigger" in exc.value.message_dict
    assert RiskAssessment.objects.count() == 0 and audit("persons.risk_assessed") == []


def test_assessment_clears_the_entry_assessment_due(world):
    worker, person, today = world["worker"], world["person"], world["today"]
    assert due(person, DueKind.REASSESSMENT) < today  # entry assessment 7 days after reporting: overdue
    services.assess_risk(user=worker, person=person, assessed_on=today, answers=low_risk_answers(), trigger="entry")
    assert due(person, DueKind.REASSESSMENT) > today
