"""The person-related cases of ``shared/reference/acceptance/peer-cases.md`` through the API.

Where the others live: 1–7 (spreadsheet input) in ``test_import.py``; 8 (time-zone boundary
in filters and exports), 21 (export query count) and 22 (formula injection) in
``test_export.py``; 13 (role union) in ``test_scope_matrix.py`` for every pair of roles.
"""

import threading

import pytest
from django.db import connection, connections
from django.urls import reverse

from jindu.core.idnumbers import DocumentType
from jindu.core.testing import all_pages, api_client, division, no_committed_trail
from jindu.persons.models import MergeProposal, Person
from jindu.persons.tests.io_support import (
    OLD_15, OLD_15_AS_18, PERSON_A_ID, PERSON_B_ID, RARE_NAME, make_person, role_user, unique_id_number, village,
)

LIST = "api:person-list"


@pytest.fixture
def town_user(db):
    return role_user("town_office", "460106001")


@pytest.fixture
def home(db):
    return village("460106001")


def register(client, number, name="测试", home=None, **extra):
    payload = {"identity_number": number, "name": name, "residence_division": (home or village("460106001")).pk}
    payload.update(extra)
    return client.post(reverse(LIST), payload, format="json")


# -- 12 scope when no filter is given ---------------------------------------------------------

def test_12_search_stays_in_scope_and_explicit_widening_is_refused(db):
    dongfeng = role_user("town_office", "460106001")  # the worker's street
    mine = make_person(village("460106001"), name="张东风")
    theirs = make_person(village("460105001"), name="张西湖")  # another district's street
    client = api_client(dongfeng)
    ids, count = all_pages(client, reverse(LIST), {"search": "张"})
    assert ids == [mine.pk] and count == 1
    response = client.get(reverse(LIST), {"search": "张", "division": division("460105001").pk})
    assert response.status_code == 200 and response.json()["count"] == 0
    for params in ({"search": "张", "scope": "all"}, {"search": "张", "street": "西湖街道"}):
        response = client.get(reverse(LIST), params)
        assert response.status_code == 400 and theirs.name not in response.content.decode()
    assert client.get(reverse("api:person-detail", kwargs={"pk": theirs.pk})).status_code == 404


# -- 14 concurrent duplicate person ------------------------------------------------------------

@pytest.fixture
def committed_registrar(django_db_setup, django_db_blocker):
    """A town office user committed outside the test transaction (threads use their own
    connections); removes the people registered and the grants afterwards."""
    from jindu.accounts.models import RoleAssignment, User

    with django_db_blocker.unblock(), no_committed_trail():
        user = role_user("town_office", "460106001", username="persons-race")
        yield user
        for person in Person.objects.filter(name__startswith="并发"):
            MergeProposal.objects.filter(keep=person).delete()
            MergeProposal.objects.filter(duplicate=person).delete()
            person.events.all().delete()
            person.drugs.clear()
            person.delete()
        RoleAssignment.objects.filter(user=user).delete()
        User.objects.filter(pk=user.pk).delete()


@pytest.mark.parametrize("numbers,normalised", [
    ((PERSON_A_ID, PERSON_A_ID), PERSON_A_ID),
    (("11010119880516105x", "11010119880516105X"), PERSON_B_ID),
])
def test_14_concurrent_registrations_one_wins(committed_registrar, django_db_blocker, numbers, normalised):
    if connection.vendor != "postgresql":
        pytest.skip("real concurrency needs PostgreSQL: SQLite's shared in-memory test database refuses a "
                    "second writer ('table is locked') instead of waiting; the constraint itself is tested below")
    with django_db_blocker.unblock():
        home_pk = village("460106001").pk
    barrier = threading.Barrier(len(numbers))
    statuses: list = [None] * len(numbers)

    def worker(i, number):
        try:
            client = api_client(committed_registrar)
            barrier.wait(timeout=10)
            statuses[i] = client.post(reverse(LIST), {"identity_number": number, "name": f"并发{i}",
                                                      "residence_division": home_pk}, format="json").status_code
        except Exception as exc:  # reported by the assertion below
            statuses[i] = repr(exc)
        finally:
            connections.close_all()

    with django_db_blocker.unblock():
        threads = [threading.Thread(target=worker, args=(i, n)) for i, n in enumerate(numbers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert sorted(statuses) == [201, 409], statuses
        rows = [p for p in Person.objects.filter(name__startswith="并发")]
        assert [p.identity_number for p in rows] == [normalised]


def test_14_second_registration_of_any_form_is_409(town_user):
    client = api_client(town_user)
    assert register(client, "11010119880516105x").status_code == 201
    response = register(client, "11010119880516105X")
    assert response.status_code == 409 and "已登记" in response.json()["detail"]
    assert Person.objects.count() == 1


# -- 15 silent overwrite ------------------------------------------------------------------------

def test_15_stale_save_is_refused_and_history_keeps_both(home):
    a_officer = role_user("town_office", "460106001")
    b_officer = role_user("town_office", "460106001")
    person = make_person(home, identity_number=PERSON_A_ID, name="张测试", phone="13900001111")
    url = reverse("api:person-detail", kwargs={"pk": person.pk})
    a, b = api_client(a_officer), api_client(b_officer)
    opened = a.get(url).json()  # officer A opens Person A
    assert b.patch(url, {"phone": "13900002222", "version": opened["version"]}, format="json").status_code == 200
    # A saves from the stale page: the status is derived (refused outright) and any other
    # field from the stale version is a conflict; B's phone stays.
    response = a.patch(url, {"status": "community_rehab", "version": opened["version"]}, format="json")
    assert response.status_code == 400 and "status" in response.json()["errors"]
    response = a.patch(url, {"residence_address": "A 的修改", "version": opened["version"]}, format="json")
    assert response.status_code == 409
    person.refresh_from_db()
    assert person.phone == "13900002222" and person.residence_address == ""
    # A reloads and saves: both changes are in the history, each with its author.
    fresh = a.get(url).json()
    assert a.patch(url, {"residence_address": "A 的修改", "version": fresh["version"]}, format="json").status_code == 200
    history = list(person.history.order_by("history_date").values_list("phone", "residence_address", "history_user"))
    assert history[-2:] == [("13900002222", "", b_officer.pk), ("13900002222", "A 的修改", a_officer.pk)]


# -- 16 dedup normalisation ------------------------------------------------------------------------

def test_16_same_number_and_phone_normalised(town_user, home):
    client = api_client(town_user)
    assert register(client, PERSON_B_ID, "李样例", phone="13900001111").status_code == 201
    b = Person.objects.get()
    response = register(client, "11010119880516105x", "李样例二", phone="+86 139-0000-1111")
    assert response.status_code == 409  # the same person (number normalised)
    response = register(client, unique_id_number(), "另一人", phone="+86 139-0000-1111")
    assert response.status_code == 201
    other = Person.objects.get(pk=response.json()["id"])
    assert other.phone == "13900001111"
    proposal = MergeProposal.objects.get()
    assert {proposal.keep_id, proposal.duplicate_id} == {b.pk, other.pk} and "same_phone" in proposal.reasons


def test_16_passport_and_permit_with_one_number_are_different_documents(town_user, home):
    client = api_client(town_user)
    r1 = register(client, "E12345678", "Maria Garcia", document_type=DocumentType.PASSPORT, sex="F",
                  birth_date="1985-01-01")
    r2 = register(client, "e12345678", "陈港生", document_type=DocumentType.HK_MACAO_PERMIT, sex="M",
                  birth_date="1970-02-02")
    assert (r1.status_code, r2.status_code) == (201, 201), (r1.content, r2.content)
    assert not MergeProposal.objects.exists()
    assert register(client, "E 1234 5678", "Maria", document_type=DocumentType.PASSPORT).status_code == 409


# -- 17 rare characters --------------------------------------------------------------------------

def test_17_rare_character_name_stored_searched_returned(town_user):
    client = api_client(town_user)
    response = register(client, PERSON_A_ID, RARE_NAME)
    assert response.status_code == 201 and response.json()["name"] == "\u738b\U0002003e"
    assert Person.objects.get().name == RARE_NAME and not Person.objects.get().needs_name_check
    ids, _count = all_pages(client, reverse(LIST), {"search": RARE_NAME})
    assert ids == [response.json()["id"]]
    assert all_pages(client, reverse(LIST), {"search": "𠀾"})[0] == ids
    # Export and re-import: test_export.test_police_export_round_trips_through_import.


def test_17_private_use_character_flags_the_record(town_user):
    response = register(api_client(town_user), PERSON_A_ID, "王\ue000")
    assert response.status_code == 201 and response.json()["needs_name_check"] is True
    assert Person.objects.get().name == "王\ue000"


# -- 18 full-width input ---------------------------------------------------------------------------

def test_18_full_width_number_and_ideographic_space(town_user):
    client = api_client(town_user)
    response = register(client, "１１０１０１１９９００３０７１２３３", "张　测试")
    assert response.status_code == 201
    person = Person.objects.get()
    assert person.identity_number == PERSON_A_ID and person.name == "张测试"
    for term in (PERSON_A_ID, "１１０１０１１９９００３０７１２３３", "张测试", "张　测试"):
        assert all_pages(client, reverse(LIST), {"search": term})[0] == [person.pk], term
    assert register(client, PERSON_A_ID, "张测试").status_code == 409


# -- 19 identity-number rules ------------------------------------------------------------------------

@pytest.mark.parametrize("number,accepted,stored", [
    ("11010119880516105x", True, "11010119880516105X"),
    ("110101199003071232", False, None),       # check digit
    ("111111111111111111", False, None),       # one repeated digit
    (OLD_15, True, OLD_15_AS_18),              # 15 digits, 1975-08-12
    ("110101751332341", False, None),          # month 13
    ("11010120000230001X", False, None),       # 2000-02-30 (check digit correct)
])
def test_19_identity_number_rules(town_user, number, accepted, stored):
    from stdnum.cn import ric

    assert ric.calc_check_digit("110101200002300010") == "X"  # the 2000-02-30 case fails only on its date
    response = register(api_client(town_user), number)
    if accepted:
        assert response.status_code == 201, response.content
        assert Person.objects.get().identity_number == stored
    else:
        assert response.status_code == 400 and "identity_number" in response.json()["errors"]
        assert not Person.objects.exists()


def test_19_old_number_matches_the_18_digit_registration(town_user):
    client = api_client(town_user)
    assert register(client, OLD_15_AS_18).status_code == 201
    assert register(client, OLD_15).status_code == 409
    assert all_pages(client, reverse(LIST), {"search": OLD_15})[1] == 1


# -- 20 paging without join duplicates ------------------------------------------------------------

def test_20_paging_and_multi_value_filters_never_repeat_rows(town_user, home):
    from jindu.substances.models import Substance

    worker_a = role_user("social_worker", "460106001")
    worker_b = role_user("social_worker", "460106001")
    meth, ketamine = Substance.objects.get(name_zh="甲基苯丙胺"), Substance.objects.get(name_zh="氯胺酮")
    people = [make_person(home, name=f"同日{i:03d}") for i in range(120)]  # one registration date
    for p in people[:30]:
        Person.objects.filter(pk=p.pk).update(assigned_worker=worker_a)
    for p in people[30:60]:
        Person.objects.filter(pk=p.pk).update(assigned_worker=worker_b)
    for p in people[:30]:
        p.drugs.add(meth)
    for p in people[20:50]:  # 10 people use both
        p.drugs.add(ketamine)
    client = api_client(town_user)
    ids, count = all_pages(client, reverse(LIST), {"page_size": 50, "ordering": "-registered_on"})
    assert count == 120 and len(ids) == 120 and len(set(ids)) == 120
    ids, count = all_pages(client, reverse(LIST), {"worker": [worker_a.pk, worker_b.pk], "page_size": 50})
    assert count == 60 and len(ids) == len(set(ids)) == 60
    ids, count = all_pages(client, reverse(LIST), {"drug": [meth.pk, ketamine.pk], "page_size": 50})
    assert count == 50 and len(ids) == len(set(ids)) == 50
