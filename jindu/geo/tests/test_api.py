"""Divisions API: scope tests from core.testing, filters, and the subtree each level sees."""

from django.urls import reverse

from jindu.core.testing import ApiScopeTests, all_pages, api_client, division, user_with
from jindu.geo.models import Division


class TestDivisionApiScope(ApiScopeTests):
    model = Division
    api_list_url = "api:division-list"
    api_detail_url = "api:division-detail"
    api_writable = False

    def scope_division_for(self, code):
        return division(code).children.order_by("code").first()

    def make_row(self, div):
        return div  # the tree is reference data: rows are the loaded divisions


def test_filters_level_parent_code(db):
    user = user_with(["geo.view_division"], division("460106"))
    client = api_client(user)
    url = reverse("api:division-list")
    longhua = division("460106")
    ids, count = all_pages(client, url, {"level": "town"})
    assert count == 11 and set(ids) == set(longhua.children.values_list("pk", flat=True))
    ids, _ = all_pages(client, url, {"parent": longhua.pk, "page_size": 500})
    assert len(ids) == 11
    response = client.get(url, {"code": "460106000000"})
    assert [r["name"] for r in response.json()["results"]] == ["龙华区"]
    # Another district's code or children: empty, never widened.
    assert client.get(url, {"code": "460105000000"}).json()["count"] == 0
    assert client.get(url, {"parent": division("460105").pk}).json()["count"] == 0
    assert client.get(url, {"level": "nonsense"}).status_code == 400
    assert client.get(url, {"depth": 1}).status_code == 400


def test_search_stays_in_scope(db):
    user = user_with(["geo.view_division"], division("460106"))
    response = api_client(user).get(reverse("api:division-list"), {"search": "街道", "page_size": 500})
    paths = Division.objects.filter(pk__in=[r["id"] for r in response.json()["results"]]).values_list("path", flat=True)
    assert paths and all(p.startswith(division("460106").path) for p in paths)


def test_division_list_query_count_is_flat(db, django_assert_max_num_queries):
    town_user = user_with(["geo.view_division"], division("460106001"))
    city_user = user_with(["geo.view_division"], division("460100"))
    town_client, city_client = api_client(town_user), api_client(city_user)
    with django_assert_max_num_queries(10) as small:
        town_client.get(reverse("api:division-list"), {"page_size": 500})
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = city_client.get(reverse("api:division-list"), {"page_size": 500})
    assert response.json()["count"] == Division.objects.filter(path__startswith="46/4601/").count()
