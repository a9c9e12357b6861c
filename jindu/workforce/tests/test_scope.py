"""Scope: pages and API of teams, workers and meetings (core's generic scope tests), and a
squadron leader who sees only the squadron; plus the employment services behind the pages."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from jindu.accounts.tests.factories import UnitFactory
from jindu.core.models import AuditEvent, StaleEditError
from jindu.core.testing import ApiScopeTests, PageScopeTests, api_client, division, make_user, user_with
from jindu.workforce import selectors, services
from jindu.workforce.choices import MeetingKind, Position, TeamKind, WorkerStatus
from jindu.workforce.models import Meeting, Team, Worker
from jindu.workforce.tests.support import (
    DISTRICT, OTHER_TOWN, TOWN, brigade, manager, people, squadron, worker, workforce_perms,
)

WRITER_EXTRA = ("geo.view_division", "org.view_unit", "accounts.view_user", "workforce.view_team",
                "workforce.view_worker")


class _District:
    in_division_code = "460106"  # 龙华区
    out_division_code = "460105"  # 秀英区
    writer_extra_perms = WRITER_EXTRA


class TestTeamApiScope(_District, ApiScopeTests):
    model = Team
    api_list_url = "api:team-list"
    api_detail_url = "api:team-detail"

    def make_row(self, div):
        return Team.objects.create(name=f"{div.name}大队", kind=TeamKind.BRIGADE, division=div)

    def create_payload(self, div):
        return {"name": "新大队", "kind": "brigade", "division": div.pk}

    def move_payload(self, row, div):
        return {"division": div.pk}


class TestWorkerApiScope(_District, ApiScopeTests):
    model = Worker
    api_list_url = "api:worker-list"
    api_detail_url = "api:worker-detail"

    def make_row(self, div):
        return worker(brigade(div.code[:6]))

    def create_payload(self, div):
        account = make_user(unit=UnitFactory(division=div))
        return {"user": account.pk, "name": "新社工", "team": brigade(div.code[:6]).pk, "position": "worker",
                "recruited_on": "2025-03-01", "probation_ends_on": "2025-09-01"}

    def move_payload(self, row, div):
        return {"team": brigade(div.code[:6]).pk}


class TestMeetingApiScope(_District, ApiScopeTests):
    model = Meeting
    api_list_url = "api:meeting-list"
    api_detail_url = "api:meeting-detail"
    api_writable = False  # create is tested below; meetings are not edited through the API

    def make_row(self, div):
        return Meeting.objects.create(team=brigade(div.code[:6]), kind=MeetingKind.MONTHLY_BRIGADE,
                                      held_on=dt.date(2025, 3, 3))


class TestWorkerPageScope(_District, PageScopeTests):
    model = Worker
    page_list_url = "workforce:worker_list"
    page_detail_url = "workforce:worker_detail"

    def make_row(self, div):
        return worker(brigade(div.code[:6]))


class TestTeamPageScope(_District, PageScopeTests):
    model = Team
    page_list_url = "workforce:team_list"
    page_detail_url = "workforce:team_detail"

    def make_row(self, div):
        return Team.objects.create(name=f"{div.name}大队", kind=TeamKind.BRIGADE, division=div)


class TestMeetingPageScope(_District, PageScopeTests):
    model = Meeting
    page_list_url = "workforce:meeting_list"
    page_detail_url = "workforce:meeting_detail"

    def make_row(self, div):
        return Meeting.objects.create(team=brigade(div.code[:6]), kind=MeetingKind.MONTHLY_BRIGADE,
                                      held_on=dt.date(2025, 3, 3))


# -- a squadron leader sees only the squadron ---------------------------------------------

@pytest.fixture
def two_squadrons(db):
    mine, theirs = squadron(TOWN), squadron(OTHER_TOWN)
    me = worker(mine, name="本队社工")
    other = worker(theirs, name="他队社工")
    hq = worker(brigade(DISTRICT), name="大队长", position=Position.BRIGADE_LEADER)
    leader = user_with([*workforce_perms(), "persons.view_person", "persons.change_person"], division(TOWN))
    people(5, TOWN)
    people(40, OTHER_TOWN)
    return {"mine": mine, "theirs": theirs, "me": me, "other": other, "hq": hq, "leader": leader}


def test_squadron_leader_sees_only_the_squadron(two_squadrons, client):
    w = two_squadrons
    leader = w["leader"]
    assert set(selectors.workers_for(leader)) == {w["me"]}
    assert set(selectors.teams_for(leader)) == {w["mine"]}
    client.force_login(leader)
    assert client.get(reverse("workforce:worker_detail", args=[w["other"].pk])).status_code == 404
    assert client.get(reverse("workforce:team_detail", args=[w["theirs"].pk])).status_code == 404
    assert client.get(reverse("workforce:worker_detail", args=[w["hq"].pk])).status_code == 404
    html = client.get(reverse("workforce:worker_list")).content.decode()
    assert "本队社工" in html and "他队社工" not in html and "大队长" not in html
    rows = selectors.staffing_table(leader)
    assert [t.division.code for d in rows for t in d.towns] == [division(TOWN).code]
    assert rows[0].partial and rows[0].need == 1 and rows[0].in_post == 1
    ids = [r["id"] for r in api_client(leader).get(reverse("api:worker-list")).json()["results"]]
    assert ids == [w["me"].pk]


def test_social_worker_sees_only_own_worker_record(two_squadrons):
    w = two_squadrons
    narrowed = user_with(workforce_perms(["view"]), division(TOWN), assigned_only=True)
    Worker.objects.filter(pk=w["me"].pk).update(user=narrowed)
    assert list(selectors.workers_for(narrowed)) == [w["me"]]
    assert list(selectors.teams_for(narrowed)) == [w["mine"]]  # teams are reference for workers


# -- employment services ------------------------------------------------------------------

def test_team_tree_rules(db):
    user = manager()
    with pytest.raises(ValidationError) as err:
        services.create_team(user=user, data={"name": "错", "kind": TeamKind.SQUADRON, "division": division(DISTRICT)})
    assert "division" in err.value.message_dict
    with pytest.raises(ValidationError):  # a squadron under another district's brigade
        services.create_team(user=user, data={"name": "错2", "kind": TeamKind.SQUADRON, "division": division(TOWN),
                                              "parent": brigade("460106")})
    team = services.create_team(user=user, data={"name": "府城中队", "kind": TeamKind.SQUADRON,
                                                 "division": division(TOWN), "parent": brigade(DISTRICT)})
    assert AuditEvent.objects.filter(action="workforce.team_created", target_id=str(team.pk)).count() == 1
    with pytest.raises(PermissionDenied):  # outside the user's scope: nothing written
        services.create_team(user=manager(OTHER_TOWN), data={"name": "越权", "kind": TeamKind.SQUADRON,
                                                              "division": division(TOWN), "parent": brigade(DISTRICT)})
    assert not Team.objects.filter(name="越权").exists()


def test_recruitment_probation_contract_training_and_stale_edit(db):
    user = manager()
    account = make_user(username="newcomer")
    w = services.recruit_worker(user=user, data={"user": account, "name": "新人", "team": squadron(TOWN),
                                                  "recruited_on": dt.date(2025, 3, 1),
                                                  "probation_ends_on": dt.date(2025, 9, 1)},
                                contract_ends_on=dt.date(2026, 2, 28))
    assert w.status == WorkerStatus.PROBATION
    contract = w.contracts.get()
    assert contract.renewal_due_on == dt.date(2026, 1, 29)  # 30 days' notice
    with pytest.raises(ValidationError):  # one account, one worker
        services.recruit_worker(user=user, data={"user": account, "name": "重复", "team": squadron(TOWN),
                                                 "recruited_on": dt.date(2025, 3, 1)})
    with pytest.raises(ValidationError):  # overlapping contract
        services.add_contract(user=user, worker=w, starts_on=dt.date(2026, 1, 1), ends_on=dt.date(2026, 12, 31))
    w = services.confirm_worker(user=user, worker=w, on=dt.date(2025, 9, 1))
    assert w.status == WorkerStatus.IN_POST and w.confirmed_on == dt.date(2025, 9, 1)
    t = services.record_training(user=user, worker=w, data={"course": "个案管理", "started_on": dt.date(2025, 4, 1),
                                                            "duration_h": Decimal("16.5")})
    assert t.duration_h == Decimal("16.5")
    services.update_worker(user=user, worker=w, data={"position": Position.SQUADRON_LEADER},
                           expected_version=w.version)
    with pytest.raises(StaleEditError):
        services.update_worker(user=user, worker=w, data={"name": "旧页面"}, expected_version=w.version)
    with pytest.raises(ValidationError):  # moving the worker to a team the user cannot see
        services.update_worker(user=user, worker=Worker.objects.get(pk=w.pk),
                               data={"team": brigade("460106")}, expected_version=Worker.objects.get(pk=w.pk).version)


def test_meeting_attendance_must_be_of_the_team(db):
    user = manager()
    mine, other = worker(squadron(TOWN)), worker(squadron(OTHER_TOWN))
    with pytest.raises(ValidationError) as err:
        services.record_meeting(user=user, data={"team": squadron(TOWN), "kind": MeetingKind.WEEKLY_SQUADRON,
                                                  "held_on": dt.date(2025, 3, 3)}, attendees=[mine, other])
    assert other.name in str(err.value)
    with pytest.raises(ValidationError):  # a weekly squadron meeting held by the brigade
        services.record_meeting(user=user, data={"team": brigade(DISTRICT), "kind": MeetingKind.WEEKLY_SQUADRON,
                                                 "held_on": dt.date(2025, 3, 3)})
    m = services.record_meeting(user=user, data={"team": brigade(DISTRICT), "kind": MeetingKind.MONTHLY_BRIGADE,
                                                  "held_on": dt.date(2025, 3, 3), "minutes": "部署工作"},
                                attendees=[mine, other])
    assert set(m.attendees.all()) == {mine, other}
    response = api_client(user).post(reverse("api:meeting-list"), {
        "team": squadron(TOWN).pk, "kind": "weekly_squadron", "held_on": "2025-03-10", "attendees": [mine.pk]},
        format="json")
    assert response.status_code == 201, response.content


def test_pages_render_for_a_manager(two_squadrons, client):
    client.force_login(manager())
    w = two_squadrons
    for url in (reverse("workforce:staffing"), reverse("workforce:team_list"), reverse("workforce:worker_list"),
                reverse("workforce:meeting_list"), reverse("workforce:renewals"),
                reverse("workforce:worker_detail", args=[w["me"].pk]), reverse("workforce:team_detail",
                                                                                args=[w["mine"].pk]),
                reverse("workforce:worker_create"), reverse("workforce:team_create"),
                reverse("workforce:meeting_create"), reverse("workforce:worker_edit", args=[w["me"].pk])):
        response = client.get(url)
        assert response.status_code == 200, url
