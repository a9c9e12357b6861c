"""Registry API: scope (core's ApiScopeTests for people and events), versioned edits, derived
fields read-only, masking per role, search through the blind index, filters, the access log,
append-only timeline with corrections, tests, contacts, assessments and due items."""

import datetime as dt

import pytest
from django.urls import reverse

from jindu.core.idnumbers import mask_identity_number
from jindu.core.models import AccessLog, AuditEvent
from jindu.core.testing import ApiScopeTests, all_pages, api_client, division, grant, make_role
from jindu.persons import choices
from jindu.persons.models import Contact, DueItem, Event, Person, RiskAssessment
from jindu.persons.tests.io_support import (
    PERSON_A_ID, make_person, role_user, superuser, unique_id_number, village,
)
from jindu.substances.models import Substance


def first_village(code):
    """The first village of the first town of district ``code`` (people live in villages)."""
    town = division(code).children.order_by("code").first()
    return town.children.order_by("code").first()


class TestPersonApiScope(ApiScopeTests):
    model = Person
    api_list_url = "api:person-list"
    api_detail_url = "api:person-detail"
    writer_extra_perms = ("geo.view_division", "org.view_unit", "substances.view_substance")

    def scope_division_for(self, code):
        return first_village(code)

    def make_row(self, div):
        return make_person(div)

    def create_payload(self, div):
        return {"identity_number": unique_id_number(), "name": "新登记", "residence_division": div.pk}

    def move_payload(self, row, div):
        return {"residence_division": div.pk}


class TestEventApiScope(ApiScopeTests):
    model = Event
    api_list_url = "api:event-list"
    api_detail_url = "api:event-detail"
    extra_view_perms = ("persons.view_person",)
    writer_extra_perms = ("geo.view_division", "persons.view_person", "substances.view_substance")

    def _writer(self):
        # Recording an event changes the person: the writer may change people only where it
        # may write events (the in-jurisdiction subtree), and see them city-wide.
        user = super()._writer()
        grant(user, make_role(["persons.view_person", "persons.change_person"]), division(self.in_division_code))
        return user

    def scope_division_for(self, code):
        return first_village(code)

    def make_row(self, div):
        person = make_person(div)
        return Event.objects.create(person=person, kind=choices.EventKind.URINALYSIS,
                                    occurred_on=dt.date(2024, 3, 5), result=choices.TestResult.NEGATIVE)

    def create_payload(self, div):
        return {"person": make_person(div).pk, "kind": "urinalysis", "occurred_on": "2024-03-05",
                "result": "negative"}

    def move_payload(self, row, div):
        return {"person": make_person(div).pk}

    def test_api_update_into_other_division_refused(self, scope_world):
        # Timeline records are never edited: the in-scope row answers 405, nothing written.
        _viewer, row_in, _row_out, _nobody = scope_world
        writer = self._writer()
        before = self._snapshot()
        payload = {**self.move_payload(row_in, self.scope_division_for(self.out_division_code)), "version": 1}
        response = api_client(writer).patch(self._detail(row_in), payload, format="json")
        assert response.status_code == 405 and "更正" in response.json()["detail"]
        assert self._snapshot() == before


# -- fixtures -------------------------------------------------------------------------------

@pytest.fixture
def town_user(db):
    return role_user("town_office", "460106001")


@pytest.fixture
def home(db):
    return village("460106001")


def _detail(person):
    return reverse("api:person-detail", kwargs={"pk": person.pk})


# -- people ----------------------------------------------------------------------------------

def test_register_normalises_and_derives(town_user, home):
    meth = Substance.objects.get(name_zh="甲基苯丙胺")
    response = api_client(town_user).post(reverse("api:person-list"), {
        "identity_number": "１１０１０１１９９００３０７１２３３", "name": " 张　测试 ", "residence_division": home.pk,
        "phone": "+86 139-0000-1111", "drugs": [meth.pk],
        "events": "ignored"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    person = Person.objects.get(pk=body["id"])
    assert person.identity_number == PERSON_A_ID and person.name == "张测试" and person.phone == "13900001111"
    assert (person.birth_date, person.sex) == (dt.date(1990, 3, 7), "M")
    assert body["identity_number"] == mask_identity_number(PERSON_A_ID)  # town office: masked
    assert body["drugs"] == [meth.pk] and body["version"] == 1
    assert AuditEvent.objects.filter(action="persons.person_registered", target_id=str(person.pk)).exists()
    assert PERSON_A_ID not in str(AuditEvent.objects.get(action="persons.person_registered").changes)


def test_register_errors_name_the_field(town_user, home):
    client = api_client(town_user)
    response = client.post(reverse("api:person-list"), {"identity_number": "110101199003071232", "name": "错",
                                                        "residence_division": home.pk}, format="json")
    assert response.status_code == 400 and "校验位" in str(response.json()["errors"]["identity_number"])
    response = client.post(reverse("api:person-list"), {"identity_number": PERSON_A_ID, "name": "镇",
                                                        "residence_division": home.parent_id}, format="json")
    assert response.status_code == 400 and "residence_division" in response.json()["errors"]
    response = client.post(reverse("api:person-list"), {"identity_number": PERSON_A_ID, "name": "张测试",
                                                        "residence_division": home.pk, "birth_date": "1991-01-01"},
                           format="json")
    assert response.status_code == 400 and "birth_date" in response.json()["errors"]
    assert not Person.objects.exists()


def test_derived_fields_cannot_be_written(town_user, home):
    client = api_client(town_user)
    response = client.post(reverse("api:person-list"), {
        "identity_number": PERSON_A_ID, "name": "张测试", "residence_division": home.pk,
        "status": "abstinent_3y", "tier": "C2"}, format="json")
    assert response.status_code == 400 and {"status", "tier"} <= set(response.json()["errors"])
    person = make_person(home)
    response = client.patch(_detail(person), {"status": "community_rehab", "version": 1}, format="json")
    assert response.status_code == 400 and "status" in response.json()["errors"]
    # The whole body read back and sent unchanged by PUT is fine (nothing derived changes).
    body = client.get(_detail(person)).json()
    body["residence_address"] = "新地址"
    response = client.put(_detail(person), body, format="json")
    assert response.status_code == 200, response.content
    person.refresh_from_db()
    assert person.residence_address == "新地址" and person.identity_number and person.version == 2


def test_update_needs_version_and_stale_is_409(town_user, home):
    person = make_person(home, phone="13900001111")
    client = api_client(town_user)
    assert client.patch(_detail(person), {"phone": "13900002222"}, format="json").status_code == 400
    assert client.patch(_detail(person), {"phone": "13900002222", "version": 1}, format="json").status_code == 200
    response = client.patch(_detail(person), {"residence_address": "旧页面", "version": 1}, format="json")
    assert response.status_code == 409 and "已被他人修改" in response.json()["detail"]
    person.refresh_from_db()
    assert person.phone == "13900002222" and person.residence_address == "" and person.version == 2


def test_residence_moves_only_by_transfer(town_user, home):
    person = make_person(home)
    other = village("460106001", 1)
    response = api_client(town_user).patch(_detail(person), {"residence_division": other.pk, "version": 1},
                                           format="json")
    assert response.status_code == 400 and "转移" in str(response.json()["errors"])


def test_people_are_never_deleted(town_user, home):
    admin = superuser()
    person = make_person(home)
    response = api_client(admin).delete(_detail(person))
    assert response.status_code == 405 and "不能删除" in response.json()["detail"]
    assert Person.objects.filter(pk=person.pk).exists()


def test_masking_per_role_in_list_and_detail(home):
    person = make_person(home, identity_number=PERSON_A_ID)
    masked = mask_identity_number(PERSON_A_ID)
    for role, expected in (("town_office", masked), ("police", PERSON_A_ID), ("ncc_admin", PERSON_A_ID),
                           ("leader", masked), ("assessor", masked)):
        client = api_client(role_user(role, "460106"))
        listed = client.get(reverse("api:person-list")).json()["results"]
        assert [r["identity_number"] for r in listed] == [expected], role
        assert client.get(_detail(person)).json()["identity_number"] == expected, role
    # Police of another district may not unmask people outside it (and do not see them).
    other = api_client(role_user("police", "460105"))
    assert other.get(_detail(person)).status_code == 404


def test_reads_are_access_logged(town_user, home):
    person = make_person(home, name="张测试")
    client = api_client(town_user)
    client.get(reverse("api:person-list"))
    log = AccessLog.objects.latest("pk")
    assert (log.kind, log.model, log.object_ids, log.result_count) == ("list", "persons.Person", [str(person.pk)], 1)
    client.get(reverse("api:person-list"), {"search": PERSON_A_ID})
    log = AccessLog.objects.latest("pk")
    assert log.kind == "search" and PERSON_A_ID not in str(log.query)
    client.get(_detail(person))
    log = AccessLog.objects.latest("pk")
    assert (log.kind, log.object_ids) == ("view", [str(person.pk)])
    for name in ("api:event-list", "api:test-list", "api:contact-list", "api:riskassessment-list",
                 "api:dueitem-list"):
        before = AccessLog.objects.count()
        assert client.get(reverse(name)).status_code == 200
        assert AccessLog.objects.count() == before + 1, name


def test_search_by_name_or_any_form_of_the_number(town_user, home):
    a = make_person(home, identity_number=PERSON_A_ID, name="张测试")
    make_person(home, name="李样例")
    client = api_client(town_user)
    url = reverse("api:person-list")
    for term in ("张", "张　测试", PERSON_A_ID, "１１０１０１１９９００３０７１２３３", " 110101 19900307 1233 "):
        ids, _count = all_pages(client, url, {"search": term})
        assert ids == [a.pk], term
    response = client.get(url, {"search": "110101199003071232"})
    assert response.status_code == 400 and "校验位" in str(response.json())


def test_filters(town_user, home):
    meth = Substance.objects.get(name_zh="甲基苯丙胺")
    worker = role_user("social_worker", "460106001")
    a = make_person(home, tier="A", status=choices.Status.COMMUNITY_DRUG_REHAB, assigned_worker=worker)
    a.drugs.add(meth)
    b = make_person(village("460106001", 1), tier="C1")
    client = api_client(town_user)
    url = reverse("api:person-list")

    def ids(params):
        return all_pages(client, url, params)[0]

    assert ids({"tier": "A"}) == [a.pk]
    assert ids({"status": "community_drug_rehab"}) == [a.pk]
    assert ids({"drug": meth.pk}) == [a.pk]
    assert ids({"worker": worker.pk}) == [a.pk]
    assert ids({"division": b.residence_division_id}) == [b.pk]
    assert sorted(ids({"division": division("460106001").pk})) == sorted([a.pk, b.pk])
    assert ids({"division": division("460105").pk}) == []  # outside the user's scope: nothing
    assert client.get(url, {"scope": "all"}).status_code == 400
    assert client.get(url, {"ordering": "identity_number"}).status_code == 400


def test_assign_worker(town_user, home):
    person = make_person(home)
    worker = role_user("social_worker", "460106001")
    client = api_client(town_user)
    url = reverse("api:person-assign", kwargs={"pk": person.pk})
    response = client.post(url, {"worker": worker.pk, "reason": "分配"}, format="json")
    assert response.status_code == 200 and response.json()["assigned_worker"] == worker.pk
    stranger = role_user("social_worker", "460105001")
    assert client.post(url, {"worker": stranger.pk}, format="json").status_code == 400
    # The worker now sees the person; before, they did not.
    assert api_client(worker).get(_detail(person)).status_code == 200


# -- timeline ----------------------------------------------------------------------------------

def test_events_append_and_correct_never_delete(town_user, home):
    person = make_person(home)
    client = api_client(town_user)
    response = client.post(reverse("api:event-list"), {
        "person": person.pk, "kind": "death", "occurred_on": "2024-03-01"}, format="json")
    assert response.status_code == 201, response.content
    event_id = response.json()["id"]
    person.refresh_from_db()
    assert person.status == choices.Status.DECEASED  # recomputed from the timeline at once
    detail = reverse("api:event-detail", kwargs={"pk": event_id})
    assert client.patch(detail, {"occurred_on": "2024-03-02", "version": 1}, format="json").status_code == 405
    assert client.delete(detail).status_code in (403, 405)  # no role may delete timeline records
    response = client.post(reverse("api:event-list"), {"person": person.pk, "kind": "correction",
                                                       "occurred_on": "2024-03-02"}, format="json")
    assert response.status_code == 400
    url = reverse("api:event-correct", kwargs={"pk": event_id})
    assert client.post(url, {"reason": ""}, format="json").status_code == 400
    response = client.post(url, {"reason": "录入错误"}, format="json")
    assert response.status_code == 201 and response.json()["corrects"] == event_id
    assert client.get(detail).json()["is_corrected"] is True
    assert client.post(url, {"reason": "再次"}, format="json").status_code == 400
    person.refresh_from_db()
    assert person.status == choices.Status.CURRENT_NO_MEASURE
    assert Event.objects.filter(person=person).count() == 2
    assert client.post(reverse("api:event-list"), {"person": person.pk, "kind": "urinalysis",
                                                   "occurred_on": "2999-01-01", "result": "negative"},
                       format="json").status_code == 400


def test_tests_endpoint(town_user, home):
    person = make_person(home)
    client = api_client(town_user)
    url = reverse("api:test-list")
    response = client.post(url, {"person": person.pk, "kind": "hair_test", "occurred_on": "2024-03-05",
                                 "result": "positive", "substance": Substance.objects.get(name_zh="氯胺酮").pk},
                           format="json")
    assert response.status_code == 201, response.content
    assert client.post(url, {"person": person.pk, "kind": "relapse", "occurred_on": "2024-03-05",
                             "result": "positive"}, format="json").status_code == 400
    assert client.post(url, {"person": person.pk, "kind": "urinalysis", "occurred_on": "2024-03-06"},
                       format="json").status_code == 400
    Event.objects.create(person=person, kind="relapse", occurred_on=dt.date(2024, 3, 7))
    ids, count = all_pages(client, url)
    assert count == 1 and ids == [response.json()["id"]]
    assert all_pages(client, url, {"result": "negative"})[1] == 0


def test_contacts_assessments_and_due_items(town_user, home):
    person = make_person(home)
    client = api_client(town_user)
    response = client.post(reverse("api:contact-list"), {"person": person.pk, "kind": "home_visit",
                                                         "occurred_on": "2024-03-05", "place": "家中"},
                           format="json")
    assert response.status_code == 201, response.content
    contact = Contact.objects.get()
    assert contact.worker == town_user and response.json()["worker"] == town_user.pk
    RiskAssessment.objects.create(person=person, assessed_on=dt.date(2024, 3, 5), instrument_code="x",
                                  instrument_version="1", score=10, computed_tier="B", tier="B")
    assert all_pages(client, reverse("api:riskassessment-list"), {"person": person.pk})[1] == 1
    assert client.post(reverse("api:riskassessment-list"), {}, format="json").status_code == 405
    DueItem.objects.filter(person=person).delete()
    DueItem.objects.create(person=person, kind="urinalysis", due_on=dt.date(2024, 1, 1))
    body = client.get(reverse("api:dueitem-list"), {"due_status": "overdue"}).json()
    assert [r["person"] for r in body["results"]] == [person.pk] and body["results"][0]["due_status"] == "overdue"
    assert client.get(reverse("api:dueitem-list"), {"due_status": "upcoming"}).json()["count"] == 0


def test_social_worker_sees_only_assigned_records(home):
    worker = role_user("social_worker", "460106001")
    mine = make_person(home, assigned_worker=worker)
    other = make_person(home)
    for p in (mine, other):
        Event.objects.create(person=p, kind="urinalysis", occurred_on=dt.date(2024, 3, 5), result="negative")
    client = api_client(worker)
    assert all_pages(client, reverse("api:person-list"))[0] == [mine.pk]
    assert {Event.objects.get(pk=i).person_id for i in all_pages(client, reverse("api:event-list"))[0]} == {mine.pk}
    assert client.get(_detail(other)).status_code == 404
    response = client.post(reverse("api:test-list"), {"person": other.pk, "kind": "urinalysis",
                                                      "occurred_on": "2024-03-06", "result": "negative"},
                           format="json")
    assert response.status_code == 400 and other.events.count() == 1
