"""Registration, edits, events and corrections through the registry services."""

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError

from jindu.core.audit import AuditEvent
from jindu.core.models import StaleEditError
from jindu.persons import services
from jindu.persons.choices import EventKind, Status
from jindu.persons.choices import TestResult as Result
from jindu.persons.models import MergeProposal, Person
from jindu.persons.selectors import find_person_by_identity
from jindu.persons.tests.workflow_support import BINHAI, ZHONGSHAN, identity_number, role_user, root, village

pytestmark = pytest.mark.django_db

TODAY = dt.datetime(2025, 6, 16, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def _register(user, number=None, **data):
    return services.register_person(user=user, data={
        "identity_number": number or identity_number(), "name": "张测试",
        "residence_division": village(), **data})


@time_machine.travel(TODAY, tick=False)
def test_birth_date_and_sex_come_from_the_identity_number():
    person = _register(root(), "110101199003071233")
    assert person.birth_date == dt.date(1990, 3, 7)
    assert person.sex == "M"  # 17th digit 3 is odd (GB 11643-1999 §5.3)
    assert person.status == Status.CURRENT_NO_MEASURE


def test_birth_date_contradicting_the_number_is_refused_and_nothing_written():
    with pytest.raises(ValidationError) as err:
        _register(root(), "110101199003071233", birth_date=dt.date(1991, 1, 1))
    assert "birth_date" in err.value.message_dict
    assert not Person.objects.exists()


def test_one_person_per_normalised_number_including_15_digit_form():
    first = _register(root(), "110101197508123415")
    with pytest.raises(services.DuplicatePersonError):
        _register(root(), "110101750812341")  # the 15-digit form of the same number
    assert find_person_by_identity("110101750812341") == first
    assert Person.objects.count() == 1


def test_residence_must_be_a_village():
    from jindu.core.testing import division

    with pytest.raises(ValidationError) as err:
        _register(root(), residence_division=division(ZHONGSHAN))
    assert "residence_division" in err.value.message_dict


def test_out_of_scope_registration_is_refused():
    office = role_user("town_office", BINHAI)
    with pytest.raises(PermissionDenied):
        _register(office)  # the village is in 中山街道, not 滨海街道
    assert not Person.objects.exists()


def test_social_worker_who_registers_becomes_the_worker_and_sees_the_person():
    worker = role_user("social_worker", ZHONGSHAN)
    person = _register(worker)
    assert person.assigned_worker == worker
    assert Person.objects.restrict(worker).filter(pk=person.pk).exists()


def test_near_duplicate_raises_a_merge_proposal_not_a_refusal():
    admin = root()
    first = _register(admin, "110101199003071233", phone="13900001111")
    second = _register(admin, identity_number(), name="李样例", phone="+86 139-0000-1111")
    proposal = MergeProposal.objects.get()
    assert {proposal.keep, proposal.duplicate} == {first, second}
    assert proposal.reasons == ["same_phone"]


def test_stale_edit_refused():
    admin = root()
    person = _register(admin)
    services.update_person(user=admin, person=person, data={"phone": "13900002222"},
                           expected_version=person.version)
    with pytest.raises(StaleEditError):
        services.update_person(user=admin, person=person, data={"alias": "阿三"}, expected_version=person.version)
    person.refresh_from_db()
    assert person.phone == "13900002222" and person.alias == ""


@time_machine.travel(dt.datetime(2024, 6, 16, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))), tick=False)
def test_backdated_events_recompute_status_without_false_overdue():
    """Paper records entered late: an order of 2022-03-01 reported on 2022-03-10 means
    community drug rehabilitation until 2025-03-09 (JDF 33: 3 years from reporting); the
    15-day reporting deadline of the past (JDTL 14) is not overdue today."""
    admin = root()
    person = _register(admin, registered_on=dt.date(2022, 3, 1))
    services.add_event(user=admin, person=person, data={"kind": EventKind.REPORTED,
                                                        "occurred_on": dt.date(2022, 3, 10)})
    services.add_event(user=admin, person=person, data={"kind": EventKind.COMMUNITY_REHAB_ORDER,
                                                        "occurred_on": dt.date(2022, 3, 1)})
    person.refresh_from_db()
    assert person.status == Status.COMMUNITY_DRUG_REHAB
    assert person.measure_end_on == dt.date(2025, 3, 9)
    assert not person.due_items.filter(kind="report").exists()


@time_machine.travel(TODAY, tick=False)
def test_correction_voids_an_event_and_is_audited():
    admin = root()
    person = _register(admin)
    wrong = services.add_event(user=admin, person=person, data={
        "kind": EventKind.URINALYSIS, "occurred_on": dt.date(2025, 6, 1), "result": Result.POSITIVE})
    person.refresh_from_db()
    assert person.last_detected_use_on == dt.date(2025, 6, 1)
    services.correct_event(user=admin, event=wrong, reason="录入错误，应为阴性")
    person.refresh_from_db()
    assert person.last_detected_use_on is None
    assert wrong.pk in person.events.values_list("pk", flat=True)  # never deleted
    assert AuditEvent.objects.filter(action="persons.event_corrected").count() == 1
    with pytest.raises(ValidationError):
        services.correct_event(user=admin, event=wrong, reason="再次更正")


def test_future_event_and_test_without_result_refused():
    admin = root()
    person = _register(admin)
    with pytest.raises(ValidationError) as err:
        services.add_event(user=admin, person=person, data={"kind": EventKind.URINALYSIS,
                                                            "occurred_on": dt.date(2099, 1, 1)})
    assert {"result", "occurred_on"} <= set(err.value.message_dict)
    assert not person.events.exists()


def test_external_registration_links_instead_of_duplicating():
    police = role_user("police", "460100")
    existing = _register(root(), "110101199003071233")
    from jindu.core.testing import division

    linked = services.register_person_from_external(user=police, name="张测试", id_number="110101199003071233",
                                                    division=division(ZHONGSHAN), source="毒驾检测阳性")
    assert linked == existing
    new = services.register_person_from_external(user=police, name="李样例", id_number="11010119880516105x",
                                                 division=division(ZHONGSHAN), source="毒驾检测阳性",
                                                 holds_driving_licence=True)
    assert new.identity_number == "11010119880516105X" and new.holds_driving_licence
    assert new.events.get().kind == EventKind.FOUND_USING
    assert Person.objects.count() == 2
    regulator = role_user("regulator", "460100")
    assert services.register_person_from_external(user=regulator, name="王五", id_number=identity_number(),
                                                  division=division(ZHONGSHAN), source="x") is None
