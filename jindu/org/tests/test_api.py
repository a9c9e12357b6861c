"""Organisation API: scope tests from core.testing, versioned updates, filters and paging."""

import pytest
from django.urls import reverse

from jindu.accounts.tests.factories import CommissionMembershipFactory, PairingFactory, UnitFactory
from jindu.core.testing import ApiScopeTests, all_pages, api_client, division, permissions_for, user_with
from jindu.org.models import CommissionMembership, Pairing, Unit


class TestUnitApiScope(ApiScopeTests):
    model = Unit
    api_list_url = "api:unit-list"
    api_detail_url = "api:unit-detail"

    def make_row(self, div):
        return UnitFactory(division=div)

    def create_payload(self, div):
        return {"name": "新建单位", "kind": "other", "division": div.pk}

    def move_payload(self, row, div):
        return {"division": div.pk}


class TestCommissionMembershipApiScope(ApiScopeTests):
    model = CommissionMembership
    api_list_url = "api:commissionmembership-list"
    api_detail_url = "api:commissionmembership-detail"

    def make_row(self, div):
        return CommissionMembershipFactory(unit=UnitFactory(division=div))

    def create_payload(self, div):
        return {"unit": UnitFactory(division=div).pk, "year": 2031, "role": "member"}

    def move_payload(self, row, div):
        return {"unit": UnitFactory(division=div).pk}


class TestPairingApiScope(ApiScopeTests):
    model = Pairing
    api_list_url = "api:pairing-list"
    api_detail_url = "api:pairing-detail"

    def scope_division_for(self, code):
        return division(code).children.order_by("code").first()  # the district's first town

    def make_row(self, town):
        return PairingFactory(town=town, unit=UnitFactory(division=town))

    def create_payload(self, town):
        return {"unit": UnitFactory(division=division("460106")).pk, "town": town.pk, "year": 2031}

    def move_payload(self, row, town):
        return {"town": town.pk}


def _unit_editor(div="460106"):
    return user_with([*permissions_for(Unit, ["view", "add", "change", "delete"]), "geo.view_division"], division(div))


def test_unit_update_needs_current_version_and_stale_is_409(db):
    user = _unit_editor()
    unit = UnitFactory(division=division("460106"))
    client = api_client(user)
    url = reverse("api:unit-detail", kwargs={"pk": unit.pk})
    # Without a version the edit is refused.
    response = client.patch(url, {"phone": "0898-66000001"}, format="json")
    assert response.status_code == 400 and "version" in response.json()["errors"]
    # With the current version it goes through and the version moves on.
    response = client.patch(url, {"phone": "0898-66000001", "version": 1}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["version"] == 2
    # A second edit from the same stale read is refused and changes nothing.
    response = client.patch(url, {"phone": "0898-66000002", "version": 1}, format="json")
    assert response.status_code == 409
    assert "已被他人修改" in response.json()["detail"]
    unit.refresh_from_db()
    assert unit.phone == "0898-66000001" and unit.version == 2
    assert unit.history.count() == 2


def test_unit_jurisdiction_set_through_api_only_within_scope(db):
    user = _unit_editor()
    unit = UnitFactory(division=division("460106"))
    client = api_client(user)
    url = reverse("api:unit-detail", kwargs={"pk": unit.pk})
    towns = list(division("460106").children.values_list("pk", flat=True)[:2])
    response = client.patch(url, {"jurisdiction": towns, "version": 1}, format="json")
    assert response.status_code == 200, response.content
    assert sorted(response.json()["jurisdiction"]) == sorted(towns)
    outside = division("460105001").pk
    response = client.patch(url, {"jurisdiction": [outside], "version": response.json()["version"]}, format="json")
    assert response.status_code == 400
    assert set(unit.jurisdiction.values_list("pk", flat=True)) == set(towns)


def test_unknown_filter_and_ordering_are_refused(db):
    user = _unit_editor()
    client = api_client(user)
    url = reverse("api:unit-list")
    response = client.get(url, {"scope": "all"})
    assert response.status_code == 400 and "scope" in response.json()["detail"]
    response = client.get(url, {"ordering": "phone"})
    assert response.status_code == 400 and "phone" in str(response.json())
    assert client.get(url, {"ordering": "-name", "kind": "other"}).status_code == 200


def test_filter_naming_out_of_scope_division_never_widens(db):
    """Peer case 12: an explicit out-of-scope filter gives an empty list, never other rows."""
    user = _unit_editor()
    mine = UnitFactory(division=division("460106001"))
    other = UnitFactory(division=division("460105001"))
    client = api_client(user)
    url = reverse("api:unit-list")
    assert [mine.pk] == [i for i in all_pages(client, url, {"search": "测试单位"})[0]]
    for params in ({"division": other.division_id}, {"within": division("460105").pk},
                   {"within": division("460100").pk, "search": other.name}):
        response = client.get(url, params)
        assert response.status_code in (200, 403)
        if response.status_code == 200:
            assert other.pk not in [r["id"] for r in response.json()["results"]]
    response = client.get(url, {"within": division("460106").pk})
    assert [r["id"] for r in response.json()["results"]] == [mine.pk]


def test_paging_with_equal_sort_keys_is_stable(db):
    """Peer case 20: 120 rows sharing the sort key page through as 120 unique ids."""
    user = _unit_editor()
    div = division("460106001")
    Unit.objects.bulk_create([Unit(name=f"同名{i:03d}", kind="other", division=div) for i in range(120)])
    ids, count = all_pages(api_client(user), reverse("api:unit-list"), {"page_size": 50, "ordering": "-kind"})
    assert count == 120
    assert len(ids) == 120 and len(set(ids)) == 120


def test_pairing_town_must_be_a_town(db):
    user = user_with([*permissions_for(Pairing, ["view", "add"]), "geo.view_division", "org.view_unit"],
                     division("460106"))
    unit = UnitFactory(division=division("460106"))
    response = api_client(user).post(
        reverse("api:pairing-list"), {"unit": unit.pk, "town": division("460106").pk, "year": 2024}, format="json"
    )
    assert response.status_code == 400 and "镇街" in str(response.json())
    assert not Pairing.objects.exists()


def test_duplicate_pairing_refused(db):
    user = user_with([*permissions_for(Pairing, ["view", "add"]), "geo.view_division", "org.view_unit"],
                     division("460106"))
    pairing = PairingFactory(unit=UnitFactory(division=division("460106")), town=division("460106001"), year=2024)
    response = api_client(user).post(
        reverse("api:pairing-list"), {"unit": pairing.unit_id, "town": pairing.town_id, "year": 2024}, format="json"
    )
    assert response.status_code in (400, 409)
    assert Pairing.objects.count() == 1


def test_delete_unit_in_use_is_409(db):
    user = _unit_editor()
    unit = UnitFactory(division=division("460106"))
    PairingFactory(unit=unit, town=division("460106001"))
    response = api_client(user).delete(reverse("api:unit-detail", kwargs={"pk": unit.pk}))
    assert response.status_code == 409
    assert Unit.objects.filter(pk=unit.pk).exists()


@pytest.mark.parametrize("url_name,make", [
    ("api:unit-list", lambda n: UnitFactory.create_batch(n, division=division("460106001"))),
    ("api:pairing-list", lambda n: [PairingFactory(town=division("460106001"), year=1900 + i) for i in range(n)]),
    ("api:commissionmembership-list",
     lambda n: [CommissionMembershipFactory(year=1900 + i) for i in range(n)]),
])
def test_list_query_count_does_not_grow(db, django_assert_max_num_queries, url_name, make):
    user = user_with(["org.view_unit", "org.view_pairing", "org.view_commissionmembership"], division("460106"))
    client = api_client(user)
    make(10)
    with django_assert_max_num_queries(12) as ctx:
        assert client.get(reverse(url_name), {"page_size": 200}).status_code == 200
    small = len(ctx.captured_queries)
    make(90)
    with django_assert_max_num_queries(small) as ctx:
        response = client.get(reverse(url_name), {"page_size": 200})
        assert response.json()["count"] == 100
