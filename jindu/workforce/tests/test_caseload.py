"""Caseload assignment: the balance rule (keeps people with their worker, never breaks the
ratio, deterministic), assignment one by one and in bulk (audited per person through the
persons service), the town's unassigned list, and a leaving worker's caseload."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from jindu.core.models import AuditEvent
from jindu.core.testing import division, user_with
from jindu.persons.choices import Status
from jindu.persons.models import Person
from jindu.workforce import selectors, services
from jindu.workforce.balance import ABSTINENT, CURRENT, CasePerson, Move, suggest, weights
from jindu.workforce.choices import LeavingKind, WorkerStatus
from jindu.workforce.tests.support import (
    OTHER_TOWN, TOWN, manager, people, person, squadron, worker, workforce_perms,
)


# -- the balance rule (pure) --------------------------------------------------------------

def _load(result, w):
    return result.loads[w]


def test_weights_are_exact_on_the_common_denominator():
    assert weights(30, 40) == ({CURRENT: 4, ABSTINENT: 3}, 120)


def test_balance_keeps_existing_assignments_within_the_ratio():
    # Worker 1 holds 10 people, worker 2 holds none: nobody is moved just to even out loads.
    people_ = [CasePerson(i, CURRENT, 1) for i in range(1, 11)] + [CasePerson(11, CURRENT, None)]
    result = suggest(people_, [1, 2])
    assert result.kept == 10
    assert result.moves == [Move(11, None, 2)]  # the newcomer goes to the least-loaded worker


def test_balance_releases_only_what_exceeds_the_ratio():
    # 35 current users on worker 1 (ratio 30): the 5 latest registrations (highest ids) move.
    people_ = [CasePerson(i, CURRENT, 1) for i in range(1, 36)]
    result = suggest(people_, [1, 2])
    assert result.kept == 30
    assert sorted(m.person_id for m in result.moves) == [31, 32, 33, 34, 35]
    assert all(m.from_worker_id == 1 and m.to_worker_id == 2 for m in result.moves)
    assert all(load <= result.capacity for load in result.loads.values())


def test_balance_respects_mixed_ratios_and_lists_who_does_not_fit():
    # One worker: 20 current (80/120) + 13 abstinent (39/120) = 119/120 fits; one more does not.
    people_ = [CasePerson(i, CURRENT, None) for i in range(1, 21)] + \
              [CasePerson(100 + i, ABSTINENT, None) for i in range(1, 15)]
    result = suggest(people_, [7])
    assert result.loads[7] == 119 and result.counts[7] == 33
    assert result.unplaced == [114]


def test_balance_moves_people_of_workers_no_longer_in_post():
    people_ = [CasePerson(1, CURRENT, 99), CasePerson(2, ABSTINENT, 99), CasePerson(3, CURRENT, 5)]
    result = suggest(people_, [5, 6])
    assert result.kept == 1
    assert {(m.person_id, m.to_worker_id) for m in result.moves} == {(1, 6), (2, 5)}


def test_balance_is_deterministic_whatever_the_input_order():
    people_ = [CasePerson(i, CURRENT if i % 3 else ABSTINENT, (i % 4) or None) for i in range(1, 80)]
    first = suggest(people_, [3, 1, 2])
    again = suggest(list(reversed(people_)), [2, 3, 1])
    assert first.moves == again.moves and first.unplaced == again.unplaced and first.loads == again.loads


def test_balance_without_workers_places_nobody():
    result = suggest([CasePerson(1, CURRENT, None)], [])
    assert result.moves == [] and result.unplaced == [1]


# -- services, pages ----------------------------------------------------------------------

@pytest.fixture
def town(db):
    """府城街道's squadron with two workers (one already holding 3 people), 4 unassigned people
    and 1 dead person (not on any list); a person of 龙塘镇."""
    team = squadron(TOWN)
    a, b = worker(team, name="甲社工"), worker(team, name="乙社工")
    held = people(3, TOWN, worker_user=a.user)
    free = people(4, TOWN, status=Status.CURRENT_NO_MEASURE)
    dead = person(TOWN, status=Status.DECEASED)
    elsewhere = person(OTHER_TOWN)
    return {"team": team, "a": a, "b": b, "held": held, "free": free, "dead": dead, "elsewhere": elsewhere,
            "user": manager()}


def test_unassigned_list_is_the_towns_people_without_a_worker(town):
    listed = list(selectors.unassigned(town["user"], division(TOWN)))
    assert listed == sorted(town["free"], key=lambda p: (p.registered_on, p.pk))
    assert town["dead"] not in listed and town["elsewhere"] not in listed


def test_bulk_assignment_is_audited_per_person(town):
    changed = services.assign_caseload(user=town["user"], worker=town["b"], persons=town["free"][:3], reason="分片包干")
    assert changed == 3
    assert set(Person.objects.filter(assigned_worker=town["b"].user)) == set(town["free"][:3])
    events = AuditEvent.objects.filter(action="persons.worker_assigned")
    assert sorted(int(e.target_id) for e in events) == sorted(p.pk for p in town["free"][:3])
    assert all(e.changes["assigned_worker"] == [None, town["b"].user_id] and e.reason == "分片包干" for e in events)
    assert AuditEvent.objects.filter(action="workforce.caseload_assigned", target_id=str(town["b"].pk)).count() == 1
    assert list(selectors.unassigned(town["user"], division(TOWN))) == [town["free"][3]]


def test_assignment_refuses_people_of_another_town_and_workers_not_in_post(town):
    with pytest.raises(ValidationError) as err:
        services.assign_caseload(user=town["user"], worker=town["a"], persons=[town["free"][0], town["elsewhere"]])
    assert town["elsewhere"].name in str(err.value)
    assert not Person.objects.filter(pk=town["free"][0].pk, assigned_worker__isnull=False).exists()
    gone = worker(town["team"], status=WorkerStatus.LEFT)
    with pytest.raises(ValidationError):
        services.assign_caseload(user=town["user"], worker=gone, persons=[town["free"][0]])
    assert not AuditEvent.objects.filter(action="persons.worker_assigned").exists()


def test_assignment_outside_the_users_scope_is_refused(town):
    other = manager(OTHER_TOWN)
    with pytest.raises(PermissionDenied):
        services.assign_caseload(user=other, worker=town["a"], persons=town["free"][:1])


def test_balance_suggestion_and_apply_keep_existing_and_fill_the_lightest(town):
    suggestion, _workers = selectors.balance_suggestion(town["user"], division(TOWN))
    assert suggestion.kept == 3
    # four newcomers: to 乙 (load 0) until it is as loaded as 甲 (3 people), then the tie goes
    # to the lower user id (甲)
    a, b = town["a"].user_id, town["b"].user_id
    assert [m.to_worker_id for m in suggestion.moves] == [b, b, b, a]
    changed = services.apply_balance(user=town["user"], town=division(TOWN), moves=suggestion.moves)
    assert changed == 4
    assert set(Person.objects.filter(assigned_worker=town["a"].user)) >= set(town["held"])
    assert not selectors.unassigned(town["user"], division(TOWN)).exists()
    assert AuditEvent.objects.filter(action="persons.worker_assigned").count() == 4


def test_a_stale_balance_suggestion_is_refused(town):
    suggestion, _workers = selectors.balance_suggestion(town["user"], division(TOWN))
    services.assign_caseload(user=town["user"], worker=town["a"], persons=town["free"][:1])
    with pytest.raises(ValidationError):
        services.apply_balance(user=town["user"], town=division(TOWN), moves=suggestion.moves)
    assert Person.objects.filter(assigned_worker=town["b"].user).count() == 0


def test_leaving_worker_caseload_returns_to_the_unassigned_list(town):
    services.end_employment(user=town["user"], worker=town["a"], kind=LeavingKind.RESIGNED,
                            on=dt.date(2025, 6, 30), reason="个人原因")
    town["a"].refresh_from_db()
    assert town["a"].status == WorkerStatus.LEFT and town["a"].left_on == dt.date(2025, 6, 30)
    listed = set(selectors.unassigned(town["user"], division(TOWN)))
    assert set(town["held"]) <= listed
    with pytest.raises(ValidationError):  # a reason is required
        services.end_employment(user=town["user"], worker=town["b"], kind=LeavingKind.DISMISSED,
                                on=dt.date(2025, 6, 30), reason=" ")


def test_caseload_page_assigns_ticked_people_and_logs_access(town, client):
    from jindu.core.models import AccessLog

    client.force_login(town["user"])
    url = reverse("workforce:caseload", args=[division(TOWN).pk])
    response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    for p in town["free"]:
        assert f'data-person="{p.pk}"' in html
    assert AccessLog.objects.filter(model="persons.Person", user=town["user"]).exists()
    picked = [town["free"][0].pk, town["free"][2].pk]
    response = client.post(reverse("workforce:caseload_assign", args=[division(TOWN).pk]),
                           {"worker": town["a"].pk, "persons": picked, "reason": ""})
    assert response.status_code == 302
    assert set(Person.objects.filter(assigned_worker=town["a"].user).values_list("pk", flat=True)) >= set(picked)
    # one by one: a single ticked person
    client.post(reverse("workforce:caseload_assign", args=[division(TOWN).pk]),
                {"worker": town["b"].pk, "persons": [town["free"][1].pk]})
    assert Person.objects.get(pk=town["free"][1].pk).assigned_worker_id == town["b"].user_id


def test_caseload_page_of_another_town_is_404_for_a_squadron_leader(town, client):
    leader = user_with([*workforce_perms(), "persons.view_person", "persons.change_person"], division(OTHER_TOWN))
    client.force_login(leader)
    assert client.get(reverse("workforce:caseload", args=[division(TOWN).pk])).status_code == 404
    response = client.post(reverse("workforce:caseload_assign", args=[division(TOWN).pk]),
                           {"worker": town["a"].pk, "persons": [town["free"][0].pk]})
    assert response.status_code == 404
    assert not Person.objects.filter(pk=town["free"][0].pk, assigned_worker__isnull=False).exists()


def test_api_assign(town):
    from jindu.core.testing import api_client

    client = api_client(town["user"])
    url = reverse("api:worker-assign", args=[town["b"].pk])
    response = client.post(url, {"persons": [p.pk for p in town["free"]], "reason": "接收"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {"changed": 4}
    response = client.post(url, {"persons": [town["elsewhere"].pk]}, format="json")
    assert response.status_code == 400
