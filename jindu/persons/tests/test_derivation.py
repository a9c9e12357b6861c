"""The per-person derivation: one pure computation (``derivation.derive``) fed by one loader
(``derivation.load_inputs``), written back by ``apply_derivation`` after each change."""

import datetime as dt

import pytest
from django.db.models import Q

from jindu.core.testing import division
from jindu.persons import derivation
from jindu.persons.choices import (
    ContactKind, DueKind, EventKind as K, HandoverStatus, Status,
)
from jindu.persons.choices import TestResult as Result
from jindu.persons.models import CasePlan, Contact, DueItem, Event, Handover, Person, RiskAssessment

pytestmark = pytest.mark.django_db

VILLAGE = "460107102001"
DAY = dt.date(2025, 6, 2)


def make_person(name="张三", **fields):
    return Person.objects.create(name=name, residence_division=division(VILLAGE), registered_on=dt.date(2024, 1, 5),
                                 **fields)


def event(person, kind, on, **extra):
    return Event.objects.create(person=person, kind=kind, occurred_on=on, **extra)


def assess(person, on, tier):
    return RiskAssessment.objects.create(person=person, assessed_on=on, instrument_code="t", instrument_version="1",
                                         score=10, computed_tier=tier, tier=tier)


def in_community_rehab(person, reported=dt.date(2025, 3, 5)):
    event(person, K.FOUND_USING, dt.date(2025, 3, 1))
    event(person, K.COMMUNITY_REHAB_ORDER, dt.date(2025, 3, 1))
    event(person, K.REPORTED, reported)


def due(person):
    return {d.kind: d.due_on for d in DueItem.objects.filter(person=person)}


def test_status_and_dates_are_written_from_the_timeline():
    person = make_person()
    in_community_rehab(person)
    derivation.apply_derivation(person, as_of=DAY)
    person.refresh_from_db()
    # JDF 33 / JDTL 14: three years from reporting (2025-03-05), the last day included.
    assert person.status == Status.COMMUNITY_DRUG_REHAB
    assert person.measure_end_on == dt.date(2028, 3, 4)
    assert person.derived_on == DAY
    assert person.next_due_on == min(due(person).values())
    assert DueKind.URINALYSIS in due(person)


def test_tier_is_the_latest_assessment():
    person = make_person()
    in_community_rehab(person)
    assess(person, dt.date(2025, 3, 10), "B")
    assess(person, dt.date(2025, 5, 10), "A")
    derivation.apply_derivation(person, as_of=DAY)
    person.refresh_from_db()
    assert (person.tier, person.tier_assessed_on) == ("A", dt.date(2025, 5, 10))


def test_a_corrected_test_does_not_count_as_done():
    person = make_person()
    in_community_rehab(person)
    assess(person, dt.date(2025, 3, 10), "B")
    derivation.apply_derivation(person, as_of=DAY)
    before = due(person)[DueKind.URINALYSIS]
    test = event(person, K.URINALYSIS, dt.date(2025, 5, 30), result=Result.NEGATIVE)
    derivation.apply_derivation(person, as_of=DAY)
    after_test = due(person)[DueKind.URINALYSIS]
    assert after_test > before
    event(person, K.CORRECTION, DAY, corrects=test)
    derivation.apply_derivation(person, as_of=DAY)
    assert due(person)[DueKind.URINALYSIS] == before


def test_contacts_count_for_the_schedule_except_police_meetings():
    person = make_person()
    in_community_rehab(person)
    Contact.objects.create(person=person, kind=ContactKind.POLICE_CONTACT, occurred_on=dt.date(2025, 5, 1))
    inputs = derivation.load_inputs(Q(person_id=person.pk))[person.pk]
    assert inputs.last_contact is None
    Contact.objects.create(person=person, kind=ContactKind.HOME_VISIT, occurred_on=dt.date(2025, 4, 1))
    inputs = derivation.load_inputs(Q(person_id=person.pk))[person.pk]
    assert (inputs.last_contact, inputs.last_home_visit) == (dt.date(2025, 4, 1), dt.date(2025, 4, 1))


def test_plan_review_and_open_handover_are_due():
    person = make_person()
    event(person, K.FOUND_USING, dt.date(2024, 1, 2))
    event(person, K.ISOLATION_DECISION, dt.date(2024, 1, 3))
    CasePlan.objects.create(person=person, goals="g", measures="m", starts_on=dt.date(2025, 1, 1),
                            review_on=dt.date(2025, 7, 1))
    Handover.objects.create(person=person, notice_received_on=dt.date(2025, 5, 28),
                            expected_release_on=dt.date(2025, 6, 5))
    derivation.apply_derivation(person, as_of=DAY)
    # Pickup on the release day (出所必接); the plan's review date as written.
    assert due(person)[DueKind.HANDOVER] == dt.date(2025, 6, 5)
    assert due(person)[DueKind.PLAN_REVIEW] == dt.date(2025, 7, 1)


def test_handover_deadlines_follow_its_progress():
    handover = Handover(expected_release_on=dt.date(2025, 6, 5), status=HandoverStatus.NOTIFIED)
    assert derivation.handover_due_on(handover) == dt.date(2025, 6, 5)
    handover.status, handover.released_on = HandoverStatus.RECEIVED, dt.date(2025, 6, 4)
    # JDTL 38: report within 15 days of release.
    assert derivation.handover_due_on(handover) == dt.date(2025, 6, 19)


def test_unchanged_person_is_not_rewritten():
    person = make_person()
    in_community_rehab(person)
    derivation.apply_derivation(person, as_of=DAY)
    items = list(DueItem.objects.filter(person=person).values_list("pk", flat=True))
    derivation.apply_derivation(person, as_of=DAY)
    assert list(DueItem.objects.filter(person=person).values_list("pk", flat=True)) == items


def test_loading_inputs_costs_the_same_queries_for_one_or_many(django_assert_num_queries):
    people = [make_person(name=f"人{i}") for i in range(12)]
    for p in people:
        in_community_rehab(p)
        assess(p, dt.date(2025, 3, 10), "C1")
        Contact.objects.create(person=p, kind=ContactKind.INTERVIEW, occurred_on=dt.date(2025, 4, 1))
    with django_assert_num_queries(5):
        one = derivation.load_inputs(Q(person_id=people[0].pk))
    with django_assert_num_queries(5):
        many = derivation.load_inputs(Q(person_id__in=[p.pk for p in people]))
    assert len(many) == 12
    assert many[people[0].pk] == one[people[0].pk]


def test_derive_is_pure_and_deterministic():
    person = make_person()
    in_community_rehab(person)
    inputs = derivation.load_inputs(Q(person_id=person.pk))[person.pk]
    first = derivation.derive(inputs, as_of=DAY)
    second = derivation.derive(inputs, as_of=DAY)
    assert (first.values, first.due) == (second.values, second.due)
    assert set(first.values) == set(derivation.DERIVED_FIELDS)
    assert Person.objects.get(pk=person.pk).derived_on is None  # nothing written
