"""Rolling screening (滚动排查): a round lists everyone registered in a town; each result updates
the timeline (died → death event; moved → transfer request; newly found → registration)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError

from jindu.core.models import AuditEvent
from jindu.core.testing import division
from jindu.persons import services
from jindu.persons.choices import EventKind, EventSource, ScreeningOutcome, Status, TransferStatus
from jindu.persons.models import Event, Person, ScreeningResult, Transfer
from jindu.persons.services.screening import round_counts
from jindu.persons.tests.workflow_support import (
    XIUYING, ZHONGSHAN, fresh, identity_number, register, role_user, village,
)

K = EventKind
O = ScreeningOutcome


@pytest.fixture
def world(db):
    with time_machine.travel(dt.datetime(2024, 6, 3, 10, tzinfo=ZoneInfo("Asia/Shanghai")), tick=False):
        found = [{"kind": K.FOUND_USING, "occurred_on": dt.date(2023, 1, 5)}]
        alive = [register(events=found, residence=village(ZHONGSHAN, i % 3)) for i in range(4)]
        dead = register(events=[*found, {"kind": K.DEATH, "occurred_on": dt.date(2023, 8, 1)}])
        elsewhere = register(events=found, residence=village(XIUYING))
        yield {"alive": alive, "dead": dead, "elsewhere": elsewhere, "town": division(ZHONGSHAN),
               "user": role_user("town_office", ZHONGSHAN)}


def open_round(world):
    return services.open_screening_round(user=world["user"], division=world["town"], title="2024年第二季度滚动排查",
                                         due_on=dt.date(2024, 6, 30))


def result_of(screening_round, person):
    return ScreeningResult.objects.get(round=screening_round, person=person)


def test_round_lists_everyone_registered_in_the_town(world):
    screening_round = open_round(world)
    listed = set(ScreeningResult.objects.filter(round=screening_round).values_list("person_id", flat=True))
    assert listed == {p.pk for p in world["alive"]}  # not the dead, not another town's people
    assert round_counts(screening_round) == {"total": 4, "checked": 0, "unchecked": 4, **{o: 0 for o in O.values}}
    assert AuditEvent.objects.get(action="persons.screening_opened").changes["listed"] == 4
    with pytest.raises(ValidationError) as exc:  # one open round per town
        open_round(world)
    assert "division" in exc.value.message_dict


def test_round_needs_a_town_in_scope(world):
    with pytest.raises(ValidationError):
        services.open_screening_round(user=world["user"], division=village(ZHONGSHAN), title="x",
                                      due_on=dt.date(2024, 6, 30))
    with pytest.raises(PermissionDenied):
        services.open_screening_round(user=world["user"], division=division(XIUYING),
                                      title="x", due_on=dt.date(2024, 6, 30))


def test_results_update_the_timeline_and_counts(world):
    user, (seen, died, moved, lost) = world["user"], world["alive"]
    screening_round = open_round(world)
    services.record_screening_result(user=user, result=result_of(screening_round, seen), outcome=O.SEEN,
                                     checked_on=dt.date(2024, 6, 3))
    assert not Event.objects.filter(person=seen, source=EventSource.SCREENING).exists()

    r = services.record_screening_result(user=user, result=result_of(screening_round, died), outcome=O.DIED,
                                         checked_on=dt.date(2024, 6, 3), died_on=dt.date(2024, 5, 20),
                                         notes="家属提供死亡证明")
    death = Event.objects.get(person=died, kind=K.DEATH)
    assert (death.occurred_on, death.source, r.event_id) == (dt.date(2024, 5, 20), EventSource.SCREENING, death.pk)
    assert fresh(died).status == Status.DECEASED

    to = village(XIUYING, 1)
    services.record_screening_result(user=user, result=result_of(screening_round, moved), outcome=O.MOVED,
                                     checked_on=dt.date(2024, 6, 3), to_division=to, notes="已搬至秀英")
    transfer = Transfer.objects.get(person=moved)
    assert (transfer.status, transfer.to_division) == (TransferStatus.PENDING, to)
    assert fresh(moved).residence_division_id != to.pk  # only when the new town accepts

    with pytest.raises(ValidationError) as exc:  # moved somewhere unknown needs a note
        services.record_screening_result(user=user, result=result_of(screening_round, lost), outcome=O.MOVED,
                                         checked_on=dt.date(2024, 6, 3))
    assert "notes" in exc.value.message_dict
    services.record_screening_result(user=user, result=result_of(screening_round, lost), outcome=O.LOST_CONTACT,
                                     checked_on=dt.date(2024, 6, 3), notes="电话停机，住所无人")
    with pytest.raises(ValidationError):  # not twice
        services.record_screening_result(user=user, result=result_of(screening_round, lost), outcome=O.SEEN,
                                         checked_on=dt.date(2024, 6, 3))

    counts = services.close_screening_round(user=user, screening_round=screening_round)
    assert counts == {"total": 4, "checked": 4, "unchecked": 0, "seen": 1, "moved": 1, "lost_contact": 1,
                      "died": 1, "newly_found": 0}
    assert fresh(screening_round).closed_on == dt.date(2024, 6, 3)
    with pytest.raises(ValidationError):  # closed rounds take no results
        services.record_screening_result(user=user, result=result_of(screening_round, seen), outcome=O.SEEN,
                                         checked_on=dt.date(2024, 6, 3))


def test_newly_found_person_is_registered_with_a_found_using_event(world):
    user = world["user"]
    screening_round = open_round(world)
    data = {"identity_number": identity_number(), "name": "新发现", "residence_division": village(ZHONGSHAN, 1)}
    result = services.record_newly_found(user=user, screening_round=screening_round, data=data,
                                         checked_on=dt.date(2024, 6, 3), notes="村委会反映")
    person = result.person
    assert result.outcome == O.NEWLY_FOUND and result.event.kind == K.FOUND_USING
    assert result.event.source == EventSource.SCREENING and result.event.occurred_on == dt.date(2024, 6, 3)
    assert Person.objects.restrict(user, "view").filter(pk=person.pk).exists()
    assert round_counts(screening_round)["newly_found"] == 1
    # A village outside the round's town is refused and nothing is registered.
    other = {"identity_number": identity_number(), "name": "外镇", "residence_division": village(XIUYING)}
    with pytest.raises(ValidationError) as exc:
        services.record_newly_found(user=user, screening_round=screening_round, data=other,
                                    checked_on=dt.date(2024, 6, 3))
    assert "residence_division" in exc.value.message_dict
    assert not Person.objects.filter(name="外镇").exists()
    # Someone already registered is a duplicate, not a new find.
    with pytest.raises(services.DuplicatePersonError):
        services.record_newly_found(user=user, screening_round=screening_round,
                                    data={**data, "name": "重复"}, checked_on=dt.date(2024, 6, 3))


def test_results_of_another_town_are_out_of_scope(world):
    screening_round = open_round(world)
    stranger = role_user("town_office", XIUYING)
    with pytest.raises(PermissionDenied):
        services.record_screening_result(user=stranger, result=result_of(screening_round, world["alive"][0]),
                                         outcome=O.SEEN, checked_on=dt.date(2024, 6, 3))
    assert not ScreeningResult.objects.restrict(stranger, "view").filter(round=screening_round).exists()
    assert ScreeningResult.objects.restrict(world["user"], "view").filter(round=screening_round).count() == 4


def test_screening_pages(world, client):
    from django.urls import reverse

    user, person = world["user"], world["alive"][0]
    client.force_login(user)
    html = client.get(reverse("persons:screening_list")).content.decode()
    assert 'data-testid="screening-open"' in html and "style=" not in html
    client.post(reverse("persons:screening_create"), {"division": world["town"].pk, "title": "六月排查",
                                                      "due_on": "2024-06-30"})
    screening_round = ScreeningResult.objects.filter(person=person).get().round
    detail = client.get(reverse("persons:screening_detail", args=[screening_round.pk])).content.decode()
    assert all(f">{p.name}</a>" in detail for p in world["alive"])
    assert world["elsewhere"].name not in detail
    result = result_of(screening_round, person)
    page = reverse("persons:screening_result", args=[result.pk])
    assert client.get(page).status_code == 200
    client.post(page, {"outcome": "died", "checked_on": "2024-06-03", "died_on": "2024-06-01",
                       "version": result.version})
    assert Event.objects.filter(person=person, kind=K.DEATH, occurred_on=dt.date(2024, 6, 1)).exists()
    response = client.post(reverse("persons:screening_close", args=[screening_round.pk]), follow=True)
    assert "已核查 1 人" in response.content.decode()
    # Another town cannot open the round.
    client.force_login(role_user("town_office", XIUYING))
    assert client.get(reverse("persons:screening_detail", args=[screening_round.pk])).status_code == 404
