"""Temporary access to a person outside one's scope: requested by exact identity number with a
reason, approved by a supervisor over the person with an expiry (≤ 7 days by default), read
only, gone after expiry; every step logged."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from jindu.core.models import AccessLog, AuditEvent
from jindu.core.testing import user_with
from jindu.persons import services, workflows
from jindu.persons.choices import AccessStatus, EventKind
from jindu.persons.models import Event, Person, TemporaryAccess
from jindu.persons.tests.workflow_support import XIUYING, ZHONGSHAN, fresh, register, role_user, village

SHANGHAI = ZoneInfo("Asia/Shanghai")
START = dt.datetime(2024, 6, 3, 9, 0, tzinfo=SHANGHAI)


@pytest.fixture
def world(db):
    with time_machine.travel(START, tick=False):
        number = "460105199001011238"
        from stdnum.cn import ric

        number = number[:17] + ric.calc_check_digit(number[:17] + "0")
        person = register(identity_number=number, name="外区人员", residence=village(XIUYING),
                          events=[{"kind": EventKind.FOUND_USING, "occurred_on": dt.date(2024, 1, 1)}])
        worker = role_user("social_worker", ZHONGSHAN)
        # The supervisor: 秀英区's NCC office lead, holding the approval permission there.
        supervisor = role_user("district_office", "460105")
        from jindu.core.testing import grant, make_role

        grant(supervisor, make_role(["persons.approve_temporary_access"]), "460105")
        yield {"person": person, "number": number, "worker": worker, "supervisor": supervisor}


def sees(user, person, action="view"):
    return Person.objects.restrict(user, action).filter(pk=person.pk).exists()


def test_worker_reads_only_while_approved_and_loses_it_at_expiry(world, client):
    person, worker, supervisor = world["person"], world["worker"], world["supervisor"]
    with time_machine.travel(START, tick=False):
        assert not sees(worker, person)
        access = services.request_temporary_access(user=worker, identity_number=world["number"],
                                                   reason="该人员在本辖区活动，需了解其管控情况")
        assert access.status == AccessStatus.PENDING and not sees(worker, person)
        # The requester sees the request, not the person.
        assert TemporaryAccess.objects.restrict(worker, "view").filter(pk=access.pk).exists()
        with pytest.raises(ValidationError):
            services.approve_temporary_access(user=supervisor, access=access, days=8)  # > 7 days
        services.approve_temporary_access(user=supervisor, access=access, days=2)
        assert fresh(access).expires_at == START + dt.timedelta(days=2)
        # Read only: the person and the timeline, never a change.
        assert sees(worker, person)
        assert Event.objects.restrict(worker, "view").filter(person=person).exists()
        assert not sees(worker, person, "change")
        with pytest.raises(PermissionDenied):
            services.add_event(user=worker, person=person,
                               data={"kind": EventKind.URINALYSIS, "occurred_on": dt.date(2024, 6, 3),
                                     "result": "negative"})
        client.force_login(worker)
        detail = reverse("persons:person_detail", args=[person.pk])
        assert client.get(detail).status_code == 200
        views = AccessLog.objects.filter(user=worker, kind=AccessLog.Kind.VIEW, model="persons.Person")
        assert any(str(person.pk) in row.object_ids for row in views)
        # Not on the worker's work lists: a temporary read is not a case.
        assert person.pk not in set(workflows.people(worker).values_list("pk", flat=True))
    with time_machine.travel(START + dt.timedelta(days=2, seconds=-1), tick=False):
        assert sees(worker, person)
    with time_machine.travel(START + dt.timedelta(days=2), tick=False):
        client.force_login(worker)  # a fresh session: the morning's one has expired
        assert not sees(worker, person)
        assert not Event.objects.restrict(worker, "view").filter(person=person).exists()
        assert client.get(reverse("persons:person_detail", args=[person.pk])).status_code == 404
    actions = list(AuditEvent.objects.filter(target_id=str(access.pk), action__startswith="persons.temporary_access")
                   .values_list("action", flat=True).order_by("pk"))
    assert actions == ["persons.temporary_access_requested", "persons.temporary_access_approved"]
    assert AccessLog.objects.filter(user=worker, kind=AccessLog.Kind.SEARCH, model="persons.Person").exists()


def test_lookup_is_by_exact_number_and_reveals_nothing_else(world):
    worker = world["worker"]
    with time_machine.travel(START, tick=False):
        with pytest.raises(ValidationError) as exc:
            services.request_temporary_access(user=worker, identity_number="460105199001011239", reason="x")
        assert "identity_number" in exc.value.message_dict
        with pytest.raises(ValidationError) as exc:
            services.request_temporary_access(user=worker, identity_number=world["number"], reason="")
        assert "reason" in exc.value.message_dict
        assert not TemporaryAccess.objects.exists()
        # Refused look-ups are logged too (who searched for which number, masked).
        assert AccessLog.objects.filter(user=worker, kind=AccessLog.Kind.SEARCH).count() == 2
        # The log of the look-up never holds the number in full.
        for row in AccessLog.objects.filter(kind=AccessLog.Kind.SEARCH):
            assert world["number"] not in str(row.query)


def test_only_a_supervisor_over_the_person_decides_and_not_for_oneself(world):
    person, worker, supervisor = world["person"], world["worker"], world["supervisor"]
    with time_machine.travel(START, tick=False):
        access = services.request_temporary_access(user=worker, identity_number=world["number"], reason="协查")
        town_lead = user_with(["persons.approve_temporary_access", "persons.view_person"], ZHONGSHAN)
        with pytest.raises(PermissionDenied):  # approval permission held elsewhere
            services.approve_temporary_access(user=town_lead, access=access, days=1)
        assert list(workflows.access_requests_to_decide(town_lead)) == []
        assert [a.pk for a in workflows.access_requests_to_decide(supervisor)] == [access.pk]
        assert sees(supervisor, person)
        with pytest.raises(ValidationError) as exc:  # no request for someone already in one's scope
            services.request_temporary_access(user=supervisor, identity_number=world["number"], reason="x")
        assert "无需申请" in exc.value.message_dict["identity_number"][0]
        with pytest.raises(ValidationError):  # a second pending request by the same worker
            services.request_temporary_access(user=worker, identity_number=world["number"], reason="再次")
        services.reject_temporary_access(user=supervisor, access=access, reason="理由不充分")
        assert fresh(access).status == AccessStatus.REJECTED and not sees(worker, person)
        assert AuditEvent.objects.get(action="persons.temporary_access_rejected").reason == "理由不充分"


def test_requester_cannot_approve_own_request(world):
    with time_machine.travel(START, tick=False):
        requester = user_with(["persons.add_temporaryaccess", "persons.view_temporaryaccess",
                               "persons.approve_temporary_access"], ZHONGSHAN)
        access = services.request_temporary_access(user=requester, identity_number=world["number"], reason="协查")
        with pytest.raises(PermissionDenied):
            services.approve_temporary_access(user=requester, access=access, days=1)


def test_revoke_ends_access_early(world):
    person, worker, supervisor = world["person"], world["worker"], world["supervisor"]
    with time_machine.travel(START, tick=False):
        access = services.request_temporary_access(user=worker, identity_number=world["number"], reason="协查")
        services.approve_temporary_access(user=supervisor, access=access, days=7)
        assert sees(worker, person)
        services.revoke_temporary_access(user=worker, access=access, reason="已不需要")
        assert not sees(worker, person)
        assert fresh(access).status == AccessStatus.REVOKED


def test_max_days_is_configurable(world, settings):
    settings.JINDU_PERSONS = {"temporary_access_max_days": 3}
    with time_machine.travel(START, tick=False):
        access = services.request_temporary_access(user=world["worker"], identity_number=world["number"], reason="协查")
        with pytest.raises(ValidationError) as exc:
            services.approve_temporary_access(user=world["supervisor"], access=access, days=4)
        assert "3" in exc.value.message_dict["days"][0]
        services.approve_temporary_access(user=world["supervisor"], access=access, days=3)


def test_access_pages_request_approve_and_read(world, client):
    person, worker, supervisor = world["person"], world["worker"], world["supervisor"]
    with time_machine.travel(START, tick=False):
        client.force_login(worker)
        page = reverse("persons:access_list")
        html = client.get(page).content.decode()
        assert 'data-testid="access-request"' in html and "style=" not in html
        response = client.post(reverse("persons:access_request"), {"identity_number": world["number"], "reason": ""})
        assert response.status_code == 200 and "申请理由：" in response.content.decode()
        assert not TemporaryAccess.objects.exists()
        client.post(reverse("persons:access_request"), {"identity_number": world["number"], "reason": "协查盗窃案"})
        access = TemporaryAccess.objects.get(user=worker)
        html = client.get(page).content.decode()
        # Until approved the requester sees the masked number and the status, not the name.
        assert f'data-access="{access.pk}"' in html and person.name not in html
        assert world["number"] not in html

        client.force_login(supervisor)
        html = client.get(page).content.decode()
        assert 'data-testid="to-decide"' in html and person.name in html
        client.post(reverse("persons:access_decide", args=[access.pk]),
                    {"decision": "approve", "days": 3, "version": access.version})
        assert fresh(access).status == AccessStatus.APPROVED

        client.force_login(worker)
        assert client.get(reverse("persons:person_detail", args=[person.pk])).status_code == 200
        # The worker cannot decide requests (no approval permission over the person).
        other = services.request_temporary_access(user=role_user("town_office", ZHONGSHAN),
                                                  identity_number=world["number"], reason="x")
        assert client.post(reverse("persons:access_decide", args=[other.pk]),
                           {"decision": "approve", "days": 1}).status_code == 404
        assert fresh(other).status == AccessStatus.PENDING
