"""Commission membership by year and pairing management: services, pages and API share
one write path, so each write leaves exactly one audit event with the actor."""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from jindu.accounts.tests.factories import PairingFactory, UnitFactory
from jindu.core.models import AuditEvent
from jindu.core.testing import api_client, division
from jindu.core.tests.test_pages import make_user
from jindu.org import services
from jindu.org.models import CommissionMembership, Pairing


@pytest.fixture
def admin(db):
    return make_user(("ncc_admin", "4601"))


@pytest.fixture
def city_units(db):
    city = division("4601")
    return {name: UnitFactory(name=name, division=city, kind="member_unit")
            for name in ("市公安局", "市教育局", "市卫健委", "市民政局")}


# -- memberships: services ----------------------------------------------------------------


def test_set_memberships_writes_one_event_with_the_diff(admin, city_units):
    u = city_units
    diff = services.set_memberships(user=admin, year=2025, units_with_roles={
        u["市公安局"]: "director", u["市教育局"]: "member", u["市卫健委"]: "member"}, reason="2025 年名单")
    assert len(diff["added"]) == 3 and not diff["removed"] and not diff["role_changed"]
    diff = services.set_memberships(user=admin, year=2025, units_with_roles=[
        (u["市公安局"], "director"), (u["市教育局"], "deputy"), (u["市民政局"], "member")], reason="调整")
    assert [d["unit_name"] for d in diff["added"]] == ["市民政局"]
    assert [d["unit_name"] for d in diff["removed"]] == ["市卫健委"]
    assert diff["role_changed"] == [{"unit": u["市教育局"].pk, "unit_name": "市教育局", "role": ["member", "deputy"]}]
    events = list(AuditEvent.objects.filter(action="org.memberships_set").order_by("id"))
    assert len(events) == 2 and all(e.actor == admin for e in events)
    assert events[1].reason == "调整" and events[1].changes["year"] == 2025
    assert events[1].changes["removed"] == [{"unit": u["市卫健委"].pk, "unit_name": "市卫健委", "role": "member"}]
    roles = dict(CommissionMembership.objects.filter(year=2025).values_list("unit__name", "role"))
    assert roles == {"市公安局": "director", "市教育局": "deputy", "市民政局": "member"}
    # The same list again writes nothing.
    assert not any(services.set_memberships(user=admin, year=2025, units_with_roles=[
        (u["市公安局"], "director"), (u["市教育局"], "deputy"), (u["市民政局"], "member")]).values())
    assert AuditEvent.objects.filter(action="org.memberships_set").count() == 2


def test_set_memberships_refuses_bad_input_and_changes_nothing(admin, city_units):
    u = city_units
    services.set_memberships(user=admin, year=2025, units_with_roles={u["市公安局"]: "director"})
    for bad, field in (({u["市教育局"]: "boss"}, "role"), ([(u["市教育局"], "member"), (u["市教育局"], "deputy")], "unit")):
        with pytest.raises(ValidationError) as exc:
            services.set_memberships(user=admin, year=2025, units_with_roles=bad)
        assert field in exc.value.message_dict
    with pytest.raises(ValidationError):
        services.set_memberships(user=admin, year=1800, units_with_roles={})
    # A district office sees no city units: they cannot be put on the list.
    district = make_user(("district_office", "460106"))
    with pytest.raises(PermissionDenied):
        services.set_memberships(user=district, year=2025, units_with_roles={u["市教育局"]: "member"})
    assert list(CommissionMembership.objects.values_list("unit__name", "year")) == [("市公安局", 2025)]


def test_copy_memberships(admin, city_units):
    u = city_units
    services.set_memberships(user=admin, year=2024, units_with_roles={u["市公安局"]: "director", u["市教育局"]: "member"})
    u["市教育局"].is_active = False
    u["市教育局"].save()
    rows = services.copy_memberships(user=admin, from_year=2024, to_year=2025)
    assert [(m.unit.name, m.role) for m in rows] == [("市公安局", "director")]  # inactive unit left out
    event = AuditEvent.objects.get(action="org.memberships_copied")
    assert event.actor == admin and event.changes["to_year"] == 2025 and len(event.changes["added"]) == 1
    with pytest.raises(ValidationError) as exc:
        services.copy_memberships(user=admin, from_year=2024, to_year=2025)
    assert "已有成员单位 1 个" in exc.value.message_dict["to_year"][0]
    with pytest.raises(ValidationError):
        services.copy_memberships(user=admin, from_year=2019, to_year=2026)


# -- memberships: page ----------------------------------------------------------------------


def test_membership_page_counts_and_edits(client, admin, city_units):
    u = city_units
    services.set_memberships(user=admin, year=2025, units_with_roles={
        u["市公安局"]: "director", u["市教育局"]: "member", u["市卫健委"]: "member"})
    client.force_login(admin)
    html = client.get(reverse("org:membership_list"), {"year": 2025}).content.decode()
    assert "2025 年成员单位 3 个" in html and "主任单位 1 个" in html and "成员单位 2 个" in html
    assert 'data-testid="membership-add-form"' in html and 'data-testid="membership-save"' in html
    assert html.index("市公安局") < html.index("市卫健委")  # director first
    # Add one, then change a role and remove one in one list save.
    response = client.post(reverse("org:membership_add"), {"year": 2025, "unit": u["市民政局"].pk, "role": "deputy"})
    assert response.status_code == 302 and response.url.endswith("?year=2025")
    response = client.post(reverse("org:membership_save"), {
        "year": 2025, f"role_{u['市公安局'].pk}": "director", f"role_{u['市教育局'].pk}": "deputy",
        f"role_{u['市卫健委'].pk}": "member", f"role_{u['市民政局'].pk}": "deputy",
        "remove": [u["市卫健委"].pk], "reason": "换届"})
    assert response.status_code == 302
    roles = dict(CommissionMembership.objects.filter(year=2025).values_list("unit__name", "role"))
    assert roles == {"市公安局": "director", "市教育局": "deputy", "市民政局": "deputy"}
    html = client.get(response.url).content.decode()
    assert "新增 0 个，移除 1 个，职责调整 1 个" in html and "2025 年成员单位 3 个" in html
    # Copy to an empty year from the page.
    html = client.get(reverse("org:membership_list"), {"year": 2026}).content.decode()
    assert 'data-testid="membership-copy-form"' in html and "2026 年尚无成员单位" in html
    client.post(reverse("org:membership_copy"), {"year": 2026, "from_year": 2025, "to_year": 2026})
    assert CommissionMembership.objects.filter(year=2026).count() == 3
    # A refused copy says why and writes nothing.
    response = client.post(reverse("org:membership_copy"), {"year": 2026, "from_year": 2025, "to_year": 2026},
                           follow=True)
    assert "已有成员单位 3 个" in response.content.decode()
    assert CommissionMembership.objects.filter(year=2026).count() == 3


def test_membership_list_save_refuses_a_stale_page(client, admin, city_units):
    """A list saved from a page opened before someone else's change is refused, not merged
    (DESIGN.md, concurrency): the other admin's role change survives."""
    u = city_units
    services.set_memberships(user=admin, year=2025, units_with_roles={u["市公安局"]: "director",
                                                                      u["市教育局"]: "member"})
    client.force_login(admin)
    html = client.get(reverse("org:membership_list"), {"year": 2025}).content.decode()
    versions = dict(re.findall(r'name="(version_\d+)" value="(\d+)"', html))
    assert len(versions) == 2
    # Someone else changes 市教育局's role meanwhile.
    services.set_memberships(user=admin, year=2025, units_with_roles={u["市公安局"]: "director",
                                                                      u["市教育局"]: "deputy"})
    events = AuditEvent.objects.count()
    response = client.post(reverse("org:membership_save"), {
        "year": 2025, f"role_{u['市公安局'].pk}": "director", f"role_{u['市教育局'].pk}": "member", **versions},
        follow=True)
    assert "已被他人修改" in response.content.decode()
    assert CommissionMembership.objects.get(year=2025, unit=u["市教育局"]).role == "deputy"
    assert AuditEvent.objects.count() == events


def test_membership_page_per_role(client, admin, city_units):
    services.set_memberships(user=admin, year=2025, units_with_roles={city_units["市公安局"]: "director"})
    leader = make_user(("leader", "4601"))
    client.force_login(leader)
    html = client.get(reverse("org:membership_list"), {"year": 2025}).content.decode()
    assert "市公安局" in html and "2025 年成员单位 1 个" in html
    assert 'data-testid="membership-add-form"' not in html and 'data-testid="membership-save"' not in html
    for name in ("org:membership_add", "org:membership_save", "org:membership_copy"):
        assert client.post(reverse(name), {"year": 2025}).status_code == 403
    # A district office sees only members located in its district.
    client.force_login(make_user(("district_office", "460106")))
    html = client.get(reverse("org:membership_list"), {"year": 2025}).content.decode()
    assert "市公安局" not in html and "2025 年成员单位 0 个" in html
    client.logout()
    assert client.get(reverse("org:membership_list")).status_code == 302


# -- pairings ---------------------------------------------------------------------------------


@pytest.fixture
def district(db):
    return make_user(("district_office", "460106"))


def test_pairing_create_delete_copy_with_scope(district):
    unit = UnitFactory(division=division("460106"), name="龙华区卫健委")
    town = division("460106001")
    p = services.create_pairing(user=district, unit=unit, town=town, year=2025, note="重点")
    assert AuditEvent.objects.get(action="org.pairing_created").changes["town_name"] == "中山街道"
    with pytest.raises(ValidationError):
        services.create_pairing(user=district, unit=unit, town=town, year=2025)
    with pytest.raises(PermissionDenied):  # another district's town
        services.create_pairing(user=district, unit=unit, town=division("460105001"), year=2025)
    with pytest.raises(PermissionDenied):  # a unit the user cannot see
        services.create_pairing(user=district, unit=UnitFactory(division=division("460105")), town=town, year=2025)
    with pytest.raises(ValidationError):  # not a town
        services.create_pairing(user=district, unit=unit, town=division("460106"), year=2025)
    with pytest.raises(ValidationError):
        services.delete_pairing(user=district, pairing=p, reason="  ")
    other = PairingFactory(town=division("460105001"), unit=UnitFactory(division=division("460105")), year=2025)
    with pytest.raises(PermissionDenied):
        services.delete_pairing(user=district, pairing=other, reason="越界")
    rows = services.copy_pairings(user=district, from_year=2025, to_year=2026)
    assert [(r.unit, r.town, r.note) for r in rows] == [(unit, town, "重点")]  # only this district's towns
    with pytest.raises(ValidationError):
        services.copy_pairings(user=district, from_year=2025, to_year=2026)
    services.delete_pairing(user=district, pairing=p, reason="调整挂点")
    assert not Pairing.objects.filter(pk=p.pk).exists()
    event = AuditEvent.objects.get(action="org.pairing_deleted")
    assert event.reason == "调整挂点" and event.actor == district
    assert AuditEvent.objects.filter(action="org.pairings_copied", actor=district).count() == 1


def test_pairing_page_actions(client, district):
    unit = UnitFactory(division=division("460106"), name="龙华区卫健委")
    client.force_login(district)
    html = client.get(reverse("org:pairing_list"), {"year": 2025}).content.decode()
    assert 'data-testid="pairing-add-form"' in html and "秀英" not in html.split('id="pairing-add"')[1].split("</form>")[0]
    response = client.post(reverse("org:pairing_create"), {"year": 2025, "town": division("460106001").pk,
                                                           "unit": unit.pk, "note": ""})
    assert response.status_code == 302 and response.url.endswith("?year=2025")
    p = Pairing.objects.get()
    html = client.get(response.url).content.decode()
    assert "已新增挂点：龙华区卫健委 → 中山街道" in html and f'data-pairing="{p.pk}"' in html
    assert "11 个镇街，其中 10 个尚无挂点单位" in html
    # Another district's town is not offered and is refused if posted.
    response = client.post(reverse("org:pairing_create"), {"year": 2025, "town": division("460105001").pk,
                                                           "unit": unit.pk}, follow=True)
    assert "未保存" in response.content.decode() and Pairing.objects.count() == 1
    # Delete needs a reason.
    response = client.post(reverse("org:pairing_delete", args=[p.pk]), {"reason": ""}, follow=True)
    assert "请填写删除原因" in response.content.decode() and Pairing.objects.count() == 1
    client.post(reverse("org:pairing_copy"), {"year": 2026, "from_year": 2025, "to_year": 2026})
    assert Pairing.objects.filter(year=2026).count() == 1
    client.post(reverse("org:pairing_delete", args=[p.pk]), {"reason": "年度调整"})
    assert not Pairing.objects.filter(pk=p.pk).exists()
    # Out of scope: 404; without permission: 403.
    other = PairingFactory(town=division("460105001"), unit=UnitFactory(division=division("460105")), year=2025)
    assert client.post(reverse("org:pairing_delete", args=[other.pk]), {"reason": "x"}).status_code == 404
    client.force_login(make_user(("town_office", "460106001")))
    html = client.get(reverse("org:pairing_list"), {"year": 2026}).content.decode()
    assert 'data-testid="pairing-add-form"' not in html and "data-pairing=" not in html
    assert client.post(reverse("org:pairing_create"), {}).status_code == 403


# -- API and pages share the services -----------------------------------------------------------


def _event_shape(e: AuditEvent):
    return e.action, e.actor_id, sorted(e.changes), e.target_type_id


def test_pairing_api_and_page_write_the_same_events(client, district):
    unit = UnitFactory(division=division("460106"))
    client.force_login(district)
    client.post(reverse("org:pairing_create"), {"year": 2025, "town": division("460106001").pk, "unit": unit.pk})
    response = api_client(district).post(reverse("api:pairing-list"),
                                         {"unit": unit.pk, "town": division("460106002").pk, "year": 2025},
                                         format="json")
    assert response.status_code == 201, response.content
    page_event, api_event = AuditEvent.objects.filter(action="org.pairing_created").order_by("id")
    assert _event_shape(page_event) == _event_shape(api_event)
    api_pairing = response.json()["id"]
    url = reverse("api:pairing-detail", args=[api_pairing])
    assert api_client(district).delete(url).status_code == 400  # a reason is required
    assert api_client(district).delete(f"{url}?reason=撤销").status_code == 204
    page_pairing = Pairing.objects.get()
    client.post(reverse("org:pairing_delete", args=[page_pairing.pk]), {"reason": "撤销"})
    page_del, api_del = AuditEvent.objects.filter(action="org.pairing_deleted").order_by("id")
    assert _event_shape(page_del) == _event_shape(api_del) and api_del.reason == "撤销"
    assert AuditEvent.objects.filter(action__startswith="org.pairing").count() == 4


def test_membership_api_and_page_each_leave_one_event(client, admin, city_units):
    u = city_units
    before = AuditEvent.objects.count()
    response = api_client(admin).post(reverse("api:commissionmembership-list"),
                                      {"unit": u["市公安局"].pk, "year": 2025, "role": "director"}, format="json")
    assert response.status_code == 201, response.content
    assert AuditEvent.objects.count() == before + 1
    client.force_login(admin)
    client.post(reverse("org:membership_add"), {"year": 2025, "unit": u["市教育局"].pk, "role": "member"})
    api_event, page_event = AuditEvent.objects.filter(action="org.membership_added").order_by("id")
    assert _event_shape(api_event) == _event_shape(page_event)
    assert api_event.actor == admin
    m = CommissionMembership.objects.get(unit=u["市教育局"])
    url = reverse("api:commissionmembership-detail", args=[m.pk])
    response = api_client(admin).patch(url, {"role": "deputy", "version": m.version}, format="json")
    assert response.status_code == 200 and response.json()["version"] == m.version + 1
    assert AuditEvent.objects.get(action="org.membership_updated").changes == {"role": ["member", "deputy"]}
    assert api_client(admin).patch(url, {"role": "member", "version": m.version}, format="json").status_code == 409
    assert api_client(admin).delete(f"{url}?reason=换届").status_code == 204
    assert AuditEvent.objects.get(action="org.membership_removed").reason == "换届"
    # The whole-list replacement and the year copy are on the API too.
    response = api_client(admin).post(reverse("api:commissionmembership-set-list"), {
        "year": 2025, "members": [{"unit": u["市公安局"].pk, "role": "director"}, {"unit": u["市卫健委"].pk}],
        "reason": "接口调整"}, format="json")
    assert response.status_code == 200, response.content
    assert [d["unit_name"] for d in response.json()["added"]] == ["市卫健委"]
    response = api_client(admin).post(reverse("api:commissionmembership-copy"),
                                      {"from_year": 2025, "to_year": 2026}, format="json")
    assert response.status_code == 201 and len(response.json()) == 2
    response = api_client(admin).post(reverse("api:commissionmembership-copy"),
                                      {"from_year": 2025, "to_year": 2026}, format="json")
    assert response.status_code == 400 and "to_year" in response.json()["errors"]


def test_unit_api_writes_are_audited(admin):
    client = api_client(admin)
    response = client.post(reverse("api:unit-list"), {"name": "接口单位", "kind": "other",
                                                      "division": division("460106").pk}, format="json")
    assert response.status_code == 201, response.content
    unit_id = response.json()["id"]
    response = client.patch(reverse("api:unit-detail", args=[unit_id]), {"phone": "0898-66000001", "version": 1},
                            format="json")
    assert response.status_code == 200 and response.json()["version"] == 2
    assert client.delete(reverse("api:unit-detail", args=[unit_id])).status_code == 204
    actions = list(AuditEvent.objects.filter(target_id=str(unit_id), action__startswith="org.unit").order_by("id").values_list("action", "actor"))
    assert actions == [("org.unit_created", admin.pk), ("org.unit_updated", admin.pk), ("org.unit_deleted", admin.pk)]
