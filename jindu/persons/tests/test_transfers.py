"""Transfers between towns and districts: both sides see the transfer; the person leaves the
old scope only when the receiving side accepts; the community measure's term keeps running
(戒毒条例 JDTL 22: after a change of place the term runs on from the original reporting date)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from jindu.core.models import AuditEvent
from jindu.persons import services, workflows
from jindu.persons.choices import EventKind, Status, TransferStatus
from jindu.persons.models import Event, Person, Transfer
from jindu.persons.tests.workflow_support import (
    LONGHUA, XIUYING, ZHONGSHAN, fresh, register, role_user, village,
)

K = EventKind


@pytest.fixture
def frozen():
    with time_machine.travel(dt.datetime(2024, 6, 3, 10, tzinfo=ZoneInfo("Asia/Shanghai")), tick=False):
        yield


@pytest.fixture
def world(db, frozen):
    """A person in community drug rehabilitation in 中山街道 (reported 2023-05-10), the
    sending town's office, the receiving town's office (秀英街道, another district) and a
    social worker assigned to the person in 中山."""
    worker = role_user("social_worker", ZHONGSHAN)
    person = register(events=[
        {"kind": K.COMMUNITY_REHAB_ORDER, "occurred_on": dt.date(2023, 5, 1)},
        {"kind": K.REPORTED, "occurred_on": dt.date(2023, 5, 10)}], residence=village(ZHONGSHAN))
    Person.objects.filter(pk=person.pk).update(assigned_worker=worker)
    return {
        "person": fresh(person),
        "sender": role_user("town_office", ZHONGSHAN),
        "receiver": role_user("town_office", XIUYING),
        "worker": worker,
        "to": village(XIUYING, 2),
    }


def visible(user, model=Person):
    return set(model.objects.restrict(user, "view").values_list("pk", flat=True))


def test_transfer_visibility_before_and_after_acceptance(world):
    person, sender, receiver, to = world["person"], world["sender"], world["receiver"], world["to"]
    end_before = person.measure_end_on
    assert end_before == dt.date(2026, 5, 9)
    transfer = services.request_transfer(user=sender, person=person, to_division=to, reason="在秀英租房居住",
                                         new_address="秀英区某路1号")
    # Pending: both sides see the transfer; only the sending side sees the person.
    assert transfer.pk in visible(sender, Transfer) and transfer.pk in visible(receiver, Transfer)
    assert person.pk in visible(sender) and person.pk not in visible(receiver)
    assert [t.pk for t in workflows.incoming_transfers(receiver)] == [transfer.pk]
    assert [t.pk for t in workflows.outgoing_transfers(sender)] == [transfer.pk]
    assert list(workflows.incoming_transfers(sender)) == []
    # The sending side cannot accept for the receiver.
    with pytest.raises(PermissionDenied):
        services.accept_transfer(user=sender, transfer=transfer)

    services.accept_transfer(user=receiver, transfer=transfer, note="已核实")
    person = fresh(person)
    assert person.residence_division == to and person.residence_address == "秀英区某路1号"
    assert person.assigned_worker is None
    # Accepted: the person and the transfer left the old scope; the new town has both.
    assert person.pk in visible(receiver) and person.pk not in visible(sender)
    assert person.pk not in visible(world["worker"])
    assert transfer.pk in visible(receiver, Transfer) and transfer.pk not in visible(sender, Transfer)
    event = Event.objects.get(person=person, kind=K.RESIDENCE_CHANGED)
    assert event.occurred_on == dt.date(2024, 6, 3)
    # JDTL 22: the term keeps running from the original reporting date.
    assert person.status == Status.COMMUNITY_DRUG_REHAB and person.measure_end_on == end_before
    assert AuditEvent.objects.filter(action="persons.transfer_accepted", target_id=str(transfer.pk)).count() == 1


def test_district_office_sees_both_sides_of_a_transfer_within_its_district(world):
    person, sender = world["person"], world["sender"]
    to = village("460106002")  # 滨海街道, same district
    transfer = services.request_transfer(user=sender, person=person, to_division=to, reason="搬家")
    district = role_user("district_office", LONGHUA)
    assert transfer.pk in visible(district, Transfer)
    services.accept_transfer(user=district, transfer=transfer)
    assert person.pk in visible(district) and person.pk not in visible(sender)
    assert person.pk in visible(role_user("town_office", "460106002"))


def test_reject_and_cancel_leave_the_person_where_it_was(world):
    person, sender, receiver, to = world["person"], world["sender"], world["receiver"], world["to"]
    transfer = services.request_transfer(user=sender, person=person, to_division=to, reason="搬家")
    with pytest.raises(ValidationError):
        services.reject_transfer(user=receiver, transfer=transfer, reason="")
    with pytest.raises(PermissionDenied):
        services.cancel_transfer(user=receiver, transfer=transfer, reason="不是我们发起的")
    services.reject_transfer(user=receiver, transfer=transfer, reason="经核实未在本辖区居住")
    assert fresh(transfer).status == TransferStatus.REJECTED
    assert fresh(person).residence_division_id == person.residence_division_id
    assert not Event.objects.filter(person=person, kind=K.RESIDENCE_CHANGED).exists()
    with pytest.raises(ValidationError):  # already decided
        services.accept_transfer(user=receiver, transfer=transfer)

    again = services.request_transfer(user=sender, person=person, to_division=to, reason="再次申请")
    services.cancel_transfer(user=sender, transfer=again, reason="填错地址")
    assert fresh(again).status == TransferStatus.CANCELLED
    assert person.pk in visible(sender)


def test_one_pending_transfer_per_person(world):
    person, sender, to = world["person"], world["sender"], world["to"]
    services.request_transfer(user=sender, person=person, to_division=to, reason="搬家")
    with pytest.raises(ValidationError) as exc:
        services.request_transfer(user=sender, person=person, to_division=village(XIUYING, 3), reason="又搬家")
    assert "person" in exc.value.message_dict
    # The database refuses it too (a concurrent request that passed the check).
    with pytest.raises(IntegrityError), transaction.atomic():
        Transfer.objects.create(person=person, from_division=person.residence_division, to_division=to,
                                reason="并发", requested_on=dt.date(2024, 6, 3))
    assert Transfer.objects.filter(person=person, status=TransferStatus.PENDING).count() == 1


def test_request_is_validated_and_scoped(world):
    person, sender, receiver, to = world["person"], world["sender"], world["receiver"], world["to"]
    with pytest.raises(ValidationError) as exc:
        services.request_transfer(user=sender, person=person, to_division=person.residence_division, reason="x")
    assert "to_division" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.request_transfer(user=sender, person=person, to_division=to.parent, reason="x")
    assert "to_division" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.request_transfer(user=sender, person=person, to_division=to, reason=" ")
    assert "reason" in exc.value.message_dict
    with pytest.raises(PermissionDenied):  # the receiving side cannot pull a person it cannot change
        services.request_transfer(user=receiver, person=person, to_division=to, reason="x")
    assert not Transfer.objects.exists()


def test_transfer_pages_both_sides(world, client):
    from django.urls import reverse

    person, sender, receiver, to = world["person"], world["sender"], world["receiver"], world["to"]
    client.force_login(sender)
    url = reverse("persons:transfer_create") + f"?person={person.pk}"
    assert client.get(url).status_code == 200
    response = client.post(url, {"to_division": to.pk, "reason": "", "new_address": ""})
    assert response.status_code == 200 and "转移原因：" in response.content.decode()
    assert not Transfer.objects.exists()
    client.post(url, {"to_division": to.pk, "reason": "在秀英居住"})
    transfer = Transfer.objects.get(person=person)
    html = client.get(reverse("persons:transfer_list")).content.decode()
    assert 'data-testid="outgoing"' in html and f'data-transfer="{transfer.pk}"' in html and "style=" not in html
    # The receiving town cannot open the sending form for a person it cannot change.
    client.force_login(receiver)
    assert client.get(url).status_code == 404
    html = client.get(reverse("persons:transfer_list")).content.decode()
    incoming = html.split('data-testid="incoming"')[1].split("</table>")[0]
    assert f'data-transfer="{transfer.pk}"' in incoming and person.name in incoming
    assert person.identity_number not in html  # masked for the receiver
    client.post(reverse("persons:transfer_decide", args=[transfer.pk]),
                {"decision": "accept", "version": transfer.version})
    assert fresh(transfer).status == TransferStatus.ACCEPTED
    assert client.get(reverse("persons:person_detail", args=[person.pk])).status_code == 200
    client.force_login(sender)
    assert client.get(reverse("persons:person_detail", args=[person.pk])).status_code == 404
    assert f'data-transfer="{transfer.pk}"' not in client.get(reverse("persons:transfer_list")).content.decode()
