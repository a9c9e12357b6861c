"""Unit pages: scoped list and filters, detail, versioned edit with scope re-check, pairing view."""

import pytest
from django.urls import reverse

from jindu.core.models import AuditEvent
from jindu.core.tests.test_pages import div, make_user
from jindu.org.models import CommissionMembership, Pairing, Unit


@pytest.fixture
def units(db):
    return {
        "city": Unit.objects.create(name="海口市禁毒办", kind="commission_office", division=div("4601")),
        "longhua": Unit.objects.create(name="龙华区禁毒办", kind="district", division=div("460106")),
        "zhongshan": Unit.objects.create(name="中山街道禁毒办", kind="town", division=div("460106001")),
        "binhai": Unit.objects.create(name="滨海街道禁毒办", kind="town", division=div("460106002")),
        "xiuying": Unit.objects.create(name="秀英区禁毒办", kind="district", division=div("460105")),
    }


def test_list_is_scoped_per_role(client, units):
    cases = {
        ("leader", "4601"): {"海口市禁毒办", "龙华区禁毒办", "中山街道禁毒办", "滨海街道禁毒办", "秀英区禁毒办"},
        ("district_office", "460106"): {"龙华区禁毒办", "中山街道禁毒办", "滨海街道禁毒办"},
        ("town_office", "460106001"): {"中山街道禁毒办"},
    }
    for grant, expected in cases.items():
        client.force_login(make_user(grant))
        html = client.get(reverse("org:unit_list")).content.decode()
        shown = {u.name for u in units.values() if u.name in html}
        assert shown == expected, grant


def test_list_filters_and_sort(client, units):
    client.force_login(make_user(("leader", "4601")))
    html = client.get(reverse("org:unit_list"), {"district": div("460105").pk}).content.decode()
    assert "秀英区禁毒办" in html and "龙华区禁毒办" not in html
    html = client.get(reverse("org:unit_list"), {"kind": "town"}).content.decode()
    assert "中山街道禁毒办" in html and "海口市禁毒办" not in html
    html = client.get(reverse("org:unit_list"), {"q": "滨海"}).content.decode()
    assert "滨海街道禁毒办" in html and "中山街道禁毒办" not in html
    Unit.objects.filter(pk=units["binhai"].pk).update(is_active=False)
    html = client.get(reverse("org:unit_list"), {"is_active": "false"}).content.decode()
    assert "滨海街道禁毒办" in html and "中山街道禁毒办" not in html
    asc = client.get(reverse("org:unit_list"), {"sort": "name"}).content.decode()
    desc = client.get(reverse("org:unit_list"), {"sort": "-name"}).content.decode()
    assert (asc.index("海口市禁毒办") < asc.index("龙华区禁毒办")) != (desc.index("海口市禁毒办") < desc.index("龙华区禁毒办"))
    # sorting on a column that is not offered is ignored, not an error
    assert client.get(reverse("org:unit_list"), {"sort": "phone"}).status_code == 200


def test_list_district_filter_offers_only_scope(client, units):
    client.force_login(make_user(("district_office", "460106")))
    html = client.get(reverse("org:unit_list")).content.decode()
    assert ">龙华区<" in html and ">秀英区<" not in html
    # an out-of-scope division id in the filter is a form error, not a leak
    resp = client.get(reverse("org:unit_list"), {"district": div("460105").pk})
    assert "秀英区禁毒办" not in resp.content.decode()


def test_list_paginates(client, db):
    town = div("460106001")
    Unit.objects.bulk_create([Unit(name=f"单位{i:03d}", kind="other", division=town) for i in range(60)])
    client.force_login(make_user(("leader", "4601")))
    html = client.get(reverse("org:unit_list")).content.decode()
    assert "单位000" in html and "单位030" not in html
    assert "共 60 个单位" in html
    html = client.get(reverse("org:unit_list"), {"page": 3}).content.decode()
    assert "单位059" in html


def test_town_user_gets_404_on_other_towns_unit(client, units):
    client.force_login(make_user(("town_office", "460106001")))
    assert client.get(reverse("org:unit_detail", args=[units["binhai"].pk])).status_code == 404
    assert client.get(reverse("org:unit_edit", args=[units["binhai"].pk])).status_code == 404
    assert client.get(reverse("org:unit_detail", args=[units["zhongshan"].pk])).status_code == 200


def test_detail_shows_memberships_pairings_users(client, units):
    unit = units["longhua"]
    CommissionMembership.objects.create(unit=unit, year=2024, role="member")
    Pairing.objects.create(unit=unit, town=div("460106001"), year=2024)
    make_user(username="zhang", full_name="张三", unit=unit)
    client.force_login(make_user(("district_office", "460106")))
    html = client.get(reverse("org:unit_detail", args=[unit.pk])).content.decode()
    assert 'data-testid="memberships"' in html and "成员单位" in html
    assert "中山街道" in html
    assert "张三" in html
    assert 'data-testid="edit-unit"' in html


def test_edit_needs_change_permission(client, units):
    client.force_login(make_user(("leader", "4601")))
    html = client.get(reverse("org:unit_detail", args=[units["zhongshan"].pk])).content.decode()
    assert 'data-testid="edit-unit"' not in html
    assert client.get(reverse("org:unit_edit", args=[units["zhongshan"].pk])).status_code == 403
    assert client.post(reverse("org:unit_edit", args=[units["zhongshan"].pk]), {}).status_code == 403
    assert client.get(reverse("org:unit_create")).status_code == 403


def _form_data(unit, **changes):
    data = {
        "name": unit.name, "short_name": unit.short_name, "kind": unit.kind, "division": unit.division_id,
        "parent": unit.parent_id or "", "head_name": unit.head_name, "head_title": unit.head_title,
        "phone": unit.phone, "address": unit.address, "is_active": "on" if unit.is_active else "",
        "version": unit.version,
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v != ""}


def test_edit_saves_with_audit_and_version(client, units):
    unit = units["zhongshan"]
    client.force_login(make_user(("town_office", "460106001")))
    resp = client.post(reverse("org:unit_edit", args=[unit.pk]), _form_data(unit, head_name="李四"))
    assert resp.status_code == 302, resp.content.decode()
    unit.refresh_from_db()
    assert unit.head_name == "李四" and unit.version == 2
    event = AuditEvent.objects.get(action="org.unit_updated", target_id=str(unit.pk))
    assert event.changes["head_name"] == ["", "李四"]


def test_stale_edit_is_refused(client, units):
    unit = units["zhongshan"]
    client.force_login(make_user(("town_office", "460106001")))
    stale = _form_data(unit, head_name="王五")
    assert client.post(reverse("org:unit_edit", args=[unit.pk]), _form_data(unit, head_name="李四")).status_code == 302
    resp = client.post(reverse("org:unit_edit", args=[unit.pk]), stale)
    assert resp.status_code == 200
    assert "已被他人修改" in resp.content.decode()
    unit.refresh_from_db()
    assert unit.head_name == "李四" and unit.version == 2


def test_edit_cannot_move_unit_out_of_scope(client, units):
    unit = units["zhongshan"]
    client.force_login(make_user(("town_office", "460106001")))
    resp = client.post(reverse("org:unit_edit", args=[unit.pk]), _form_data(unit, division=div("460106002").pk))
    assert resp.status_code == 200  # the other town is not even a valid choice
    unit.refresh_from_db()
    assert unit.division == div("460106001") and unit.version == 1


def test_district_creates_unit_in_scope_only(client, units):
    client.force_login(make_user(("district_office", "460106")))
    data = {"name": "龙华区教育局", "kind": "department", "division": div("460106").pk, "is_active": "on",
            "jurisdiction": [div("460106001").pk, div("460106002").pk]}
    resp = client.post(reverse("org:unit_create"), data)
    assert resp.status_code == 302
    unit = Unit.objects.get(name="龙华区教育局")
    assert set(unit.jurisdiction.values_list("name", flat=True)) == {"中山街道", "滨海街道"}
    assert AuditEvent.objects.filter(action="org.unit_created", target_id=str(unit.pk)).exists()
    resp = client.post(reverse("org:unit_create"), {**data, "name": "越界单位", "division": div("460105").pk})
    assert resp.status_code == 200 and not Unit.objects.filter(name="越界单位").exists()


def test_duplicate_name_in_division_is_a_form_error(client, units):
    client.force_login(make_user(("district_office", "460106")))
    resp = client.post(reverse("org:unit_create"),
                       {"name": "中山街道禁毒办", "kind": "town", "division": div("460106001").pk, "is_active": "on"})
    assert resp.status_code == 200
    assert Unit.objects.filter(name="中山街道禁毒办").count() == 1


def test_pairing_view_lists_towns_and_gaps(client, units):
    Pairing.objects.create(unit=units["city"], town=div("460106001"), year=2024)
    Pairing.objects.create(unit=units["xiuying"], town=div("460105001"), year=2024)
    client.force_login(make_user(("district_office", "460106")))
    html = client.get(reverse("org:pairing_list"), {"year": 2024}).content.decode()
    assert 'data-town="中山街道"' in html and "海口市禁毒办" in html
    assert "秀英区禁毒办" not in html  # pairing of another district's town
    assert 'class="no-pairing" data-town="滨海街道"' in html
    assert "11 个镇街，其中 10 个尚无挂点单位" in html
