"""Divisions browser: tree, lazy children, search and detail, all inside the user's scope."""

import pytest
from django.urls import reverse

from jindu.core.tests.test_pages import div, make_user
from jindu.org.models import Pairing, Unit


@pytest.mark.django_db
def test_city_user_tree_opens_to_districts(client):
    client.force_login(make_user(("leader", "4601")))
    html = client.get(reverse("geo:division_tree")).content.decode()
    for name in ["海口市", "秀英区", "龙华区", "琼山区", "美兰区"]:
        assert name in html
    # districts are collapsed: their towns come later through htmx
    assert "中山街道" not in html
    assert reverse("geo:division_children", args=[div("460106").pk]) in html


@pytest.mark.django_db
def test_children_fragment_lists_towns_with_counts(client):
    client.force_login(make_user(("leader", "4601")))
    resp = client.get(reverse("geo:division_children", args=[div("460106").pk]), HTTP_HX_REQUEST="true")
    html = resp.content.decode()
    assert resp.status_code == 200
    assert "<html" not in html  # a fragment, not a page
    assert html.count('class="tree-node"') == 11
    assert "中山街道" in html and "460106001000" in html


@pytest.mark.django_db
def test_town_user_tree_starts_at_own_town(client):
    client.force_login(make_user(("town_office", "460106001")))
    html = client.get(reverse("geo:division_tree")).content.decode()
    assert "中山街道" in html
    assert "秀英区" not in html and "滨海街道" not in html


@pytest.mark.django_db
def test_out_of_scope_division_is_404(client):
    client.force_login(make_user(("town_office", "460106001")))
    other = div("460106002")
    assert client.get(reverse("geo:division_detail", args=[other.pk])).status_code == 404
    assert client.get(reverse("geo:division_children", args=[other.pk])).status_code == 404
    assert client.get(reverse("geo:division_detail", args=[div("460106").pk])).status_code == 404
    assert client.get(reverse("geo:division_detail", args=[div("460106001").pk])).status_code == 200


@pytest.mark.django_db
def test_search_stays_in_scope(client):
    client.force_login(make_user(("district_office", "460106")))
    html = client.get(reverse("geo:division_tree"), {"q": "街道"}).content.decode()
    assert "中山街道" in html
    assert "长流镇" not in html  # 秀英区
    html = client.get(reverse("geo:division_tree"), {"q": "460105"}).content.decode()
    assert "没有找到" in html


@pytest.mark.django_db
def test_detail_shows_path_children_units_and_pairings(client):
    town = div("460106001")
    unit = Unit.objects.create(name="龙华区禁毒办", kind="district", division=div("460106"))
    Unit.objects.create(name="中山街道禁毒办", kind="town", division=town)
    Pairing.objects.create(unit=unit, town=town, year=2024)
    client.force_login(make_user(("district_office", "460106")))
    html = client.get(reverse("geo:division_detail", args=[town.pk])).content.decode()
    assert "海南省" in html and "海口市" in html  # breadcrumb names above the scope
    assert reverse("geo:division_detail", args=[div("4601").pk]) not in html  # …not linked
    assert "中山街道禁毒办" in html
    assert "龙华区禁毒办" in html and "2024" in html
    villages = town.children.count()
    assert f"<dd class=\"col-sm-10\">{villages}</dd>" in html
