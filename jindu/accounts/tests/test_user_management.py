"""Creating, deactivating, reactivating users and resetting passwords (tester's finding:
"no way to create users"), through the services, pages and API — scoped and audited."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from jindu.accounts import selectors, services
from jindu.accounts.models import Role, User
from jindu.accounts.tests.factories import UnitFactory
from jindu.core.models import AuditEvent
from jindu.core.testing import api_client, division, grant, make_role, make_user

MANAGE = ["accounts.add_user", "accounts.change_user", "accounts.view_user", "accounts.view_roleassignment",
          "accounts.add_roleassignment"]


def user_in(div_code, **fields):
    return make_user(unit=UnitFactory(division=division(div_code)), **fields)


@pytest.fixture
def longhua_office(db):
    """A district office of 龙华区 with the user-management permissions the lead adds to
    ``district_office`` (accounts.add_user / change_user)."""
    user = user_in("460106", username="longhua_office")
    grant(user, "district_office", "460106")
    grant(user, make_role(MANAGE), "460106")
    return user


@pytest.fixture
def city_admin(db):
    user = user_in("4601", username="city_admin_m")
    grant(user, "ncc_admin", "4601")
    return user


# -- services ----------------------------------------------------------------------------
def test_create_user_with_generated_password(longhua_office):
    unit = UnitFactory(division=division("460106001"))
    user, password = services.create_user(actor=longhua_office, username="zhang3", full_name="张三",
                                          phone="+86 139-0000-1111", unit=unit)
    assert password and len(password) >= 12
    user.refresh_from_db()
    assert user.check_password(password) and user.is_active and user.phone == "13900001111"
    assert not user.role_assignments.exists()
    event = AuditEvent.objects.get(action="accounts.user_created")
    assert event.actor == longhua_office and event.target_id == str(user.pk)
    assert password not in str(event.changes) and event.changes["password_generated"] is True


def test_create_user_with_chosen_password_and_bad_input(longhua_office):
    unit = UnitFactory(division=division("460106"))
    user, password = services.create_user(actor=longhua_office, username="li4", full_name="李四",
                                          unit=unit, password="Correct-horse-9")
    assert password is None and user.check_password("Correct-horse-9")

    with pytest.raises(ValidationError) as err:
        services.create_user(actor=longhua_office, username="LI4", full_name="", unit=unit,
                             phone="12345", password="123")
    errors = err.value.message_dict
    assert "已被使用" in errors["username"][0]
    assert errors["full_name"] == ["请填写姓名。"]
    assert "手机号" in errors["phone"][0]
    assert User.objects.filter(username__iexact="li4").count() == 1

    with pytest.raises(ValidationError) as err:
        services.create_user(actor=longhua_office, username="wang5", full_name="王五", unit=unit,
                             password="12345678901")
    assert "password" in err.value.message_dict
    assert not User.objects.filter(username="wang5").exists()


def test_create_user_out_of_scope_or_without_permission(longhua_office):
    with pytest.raises(PermissionDenied):
        services.create_user(actor=longhua_office, username="x1", full_name="某某",
                             unit=UnitFactory(division=division("460105")))
    town = user_in("460106001")
    grant(town, "town_office", "460106001")
    with pytest.raises(PermissionDenied):
        services.create_user(actor=town, username="x2", full_name="某某",
                             unit=UnitFactory(division=division("460106001")))
    assert not User.objects.filter(username__in=["x1", "x2"]).exists()


def test_deactivate_reactivate_and_reset_password(longhua_office, client):
    target = user_in("460106001", username="worker1")
    target.set_password("Old-password-1")
    target.save()
    grant(target, "town_office", "460106001")
    token = services.create_token(actor=target, user=target)

    with pytest.raises(ValidationError):
        services.set_user_active(actor=longhua_office, user=target, active=False, reason="")
    assert services.set_user_active(actor=longhua_office, user=target, active=False, reason="离职")
    target.refresh_from_db()
    assert not target.is_active and not type(token).objects.filter(user=target).exists()
    refused = client.post(reverse("login"), {"username": "worker1", "password": "Old-password-1"})
    assert refused.status_code == 200  # stays on the login page
    event = AuditEvent.objects.get(action="accounts.user_deactivated")
    assert event.actor == longhua_office and event.reason == "离职" and event.changes == {"is_active": [True, False]}
    assert not AuditEvent.objects.filter(action="accounts.user_flags_changed").exists()

    assert services.set_user_active(actor=longhua_office, user=target, active=True, reason="返岗")
    assert not services.set_user_active(actor=longhua_office, user=target, active=True, reason="返岗")
    assert AuditEvent.objects.filter(action="accounts.user_reactivated").count() == 1

    generated = services.reset_password(actor=longhua_office, user=target, reason="忘记密码")
    target.refresh_from_db()
    assert target.check_password(generated)
    event = AuditEvent.objects.get(action="accounts.password_reset")
    assert generated not in str(event.changes) and event.reason == "忘记密码"
    assert User.objects.filter(pk=target.pk).exists()  # never deleted


def test_no_takeover_of_more_privileged_or_own_account(longhua_office, city_admin):
    # A city administrator whose unit sits in 龙华区 is still out of a district office's reach.
    boss = user_in("460106", username="boss")
    grant(boss, "ncc_admin", "4601")
    for call in (
        lambda: services.reset_password(actor=longhua_office, user=boss),
        lambda: services.set_user_active(actor=longhua_office, user=boss, active=False, reason="x"),
        lambda: services.reset_password(actor=longhua_office, user=longhua_office),
    ):
        with pytest.raises(PermissionDenied):
            call()
    root = User.objects.create_superuser("root_m", password="Correct-horse-9",
                                         unit=UnitFactory(division=division("460106")))
    with pytest.raises(PermissionDenied):
        services.reset_password(actor=city_admin, user=root)
    # The city administrator may manage the district's users.
    assert services.reset_password(actor=city_admin, user=boss)


def test_generated_passwords_pass_validators():
    from django.contrib.auth.password_validation import validate_password

    for _i in range(50):
        validate_password(services.generate_password())


# -- pages ---------------------------------------------------------------------------------
def test_create_user_page(longhua_office, client):
    client.force_login(longhua_office)
    listing = client.get(reverse("accounts:user_list")).content.decode()
    assert reverse("accounts:user_create") in listing
    inside = UnitFactory(division=division("460106001"), name="中山街道禁毒办")
    outside = UnitFactory(division=division("460105"), name="秀英区某单位")
    form = client.get(reverse("accounts:user_create")).content.decode()
    assert "中山街道禁毒办" in form and "秀英区某单位" not in form

    bad = client.post(reverse("accounts:user_create"),
                      {"username": "p1", "full_name": "", "unit": outside.pk, "password": ""})
    assert bad.status_code == 200 and not User.objects.filter(username="p1").exists()

    shown = client.post(reverse("accounts:user_create"),
                        {"username": "p1", "full_name": "赵六", "phone": "13900001111", "unit": inside.pk,
                         "password": ""})
    assert shown.status_code == 200
    html = shown.content.decode()
    created = User.objects.get(username="p1")
    password = html.split('data-testid="generated-password">')[1].split("<")[0]
    assert created.check_password(password)
    assert password not in client.get(reverse("accounts:user_detail", kwargs={"pk": created.pk})).content.decode()


def test_manage_pages(longhua_office, client):
    target = user_in("460106001")
    client.force_login(longhua_office)
    detail = client.get(reverse("accounts:user_detail", kwargs={"pk": target.pk})).content.decode()
    assert 'data-testid="manage-user"' in detail
    url = reverse("accounts:user_deactivate", kwargs={"pk": target.pk})
    page = client.get(url).content.decode()
    assert f"（{target.username}）" in page and "将停用" in page
    assert client.post(url, {"reason": ""}).status_code == 200
    assert client.post(url, {"reason": "离职"}).status_code == 302
    target.refresh_from_db()
    assert not target.is_active
    assert client.post(reverse("accounts:user_reactivate", kwargs={"pk": target.pk}),
                       {"reason": "返岗"}).status_code == 302
    reset = client.post(reverse("accounts:password_reset", kwargs={"pk": target.pk}), {"password": "", "reason": ""})
    assert reset.status_code == 200 and 'data-testid="generated-password"' in reset.content.decode()

    stranger = user_in("460105")
    assert client.get(reverse("accounts:user_deactivate", kwargs={"pk": stranger.pk})).status_code == 404
    boss = user_in("460106")
    grant(boss, "ncc_admin", "4601")
    assert 'data-testid="manage-user"' not in client.get(
        reverse("accounts:user_detail", kwargs={"pk": boss.pk})).content.decode()
    # Visible but not manageable: the page itself is refused with the reason, and so is a POST.
    refused = client.get(reverse("accounts:password_reset", kwargs={"pk": boss.pk}))
    assert refused.status_code == 403 and "超出您的范围" in refused.content.decode()
    password = boss.password
    assert client.post(reverse("accounts:password_reset", kwargs={"pk": boss.pk}), {"password": ""}).status_code == 403
    boss.refresh_from_db()
    assert boss.password == password

    leader = user_in("460106")
    grant(leader, "leader", "460106")
    client.force_login(leader)
    assert client.get(reverse("accounts:user_create")).status_code == 403
    assert client.get(reverse("accounts:user_deactivate", kwargs={"pk": target.pk})).status_code == 403


# -- API -----------------------------------------------------------------------------------
def field_errors(response) -> dict:
    """Field errors with or without the project exception handler wired in."""
    body = response.json()
    return body["errors"] if "errors" in body and "code" in body else body


def test_api_create_and_deactivate(longhua_office):
    api = api_client(longhua_office)
    unit = UnitFactory(division=division("460106001"))
    response = api.post("/api/users/", {"username": "api1", "full_name": "钱七", "unit": unit.pk}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    created = User.objects.get(username="api1")
    assert body["id"] == created.pk and created.check_password(body["password"])

    again = api.post("/api/users/", {"username": "api2", "full_name": "孙八", "unit": unit.pk,
                                     "password": "Correct-horse-9"}, format="json")
    assert again.status_code == 201 and "password" not in again.json()

    dup = api.post("/api/users/", {"username": "API1", "full_name": "x", "unit": unit.pk}, format="json")
    assert dup.status_code == 400 and "username" in field_errors(dup)

    outside = UnitFactory(division=division("460105"))
    refused = api.post("/api/users/", {"username": "api3", "full_name": "x", "unit": outside.pk}, format="json")
    assert refused.status_code == 400 and "unit" in field_errors(refused)

    url = f"/api/users/{created.pk}/deactivate/"
    assert api.post(url, {}, format="json").status_code == 400
    response = api.post(url, {"reason": "离职"}, format="json")
    assert response.status_code == 200 and response.json()["is_active"] is False
    assert api.post(f"/api/users/{created.pk}/reactivate/", {"reason": "返岗"}, format="json").json()["is_active"]

    stranger = user_in("460105")
    assert api.post(f"/api/users/{stranger.pk}/deactivate/", {"reason": "x"}, format="json").status_code == 404
    assert api.delete(f"/api/users/{created.pk}/").status_code in (403, 405)
    assert User.objects.filter(pk=created.pk).exists()


def test_api_create_refused_without_permission(db):
    leader = user_in("460106")
    grant(leader, "leader", "460106")
    response = api_client(leader).post("/api/users/", {"username": "n1", "full_name": "x",
                                                       "unit": UnitFactory(division=division("460106")).pk},
                                       format="json")
    assert response.status_code == 403 and not User.objects.filter(username="n1").exists()


# -- grantable roles (tester's finding: the grant form offered every role) -------------------
def test_grantable_roles_follow_the_subset_rule(longhua_office, city_admin):
    offered = set(selectors.grantable_roles(longhua_office).values_list("code", flat=True))
    assert "ncc_admin" not in offered
    assert "police" not in offered  # carries accounts.view_identity_number, which the office lacks
    assert {"district_office", "town_office", "social_worker", "regulator", "assessor", "leader",
            "enterprise"} <= offered
    for code in offered:
        role = Role.objects.get(code=code)
        assert not services.missing_permissions(actor=longhua_office, role=role, division=division("460106"))
    assert "ncc_admin" in set(selectors.grantable_roles(city_admin).values_list("code", flat=True))
    town = user_in("460106001")
    grant(town, "town_office", "460106001")
    assert not selectors.grantable_roles(town).exists()


def test_refusal_names_no_permission_codenames(longhua_office):
    target = user_in("460106001")
    with pytest.raises(PermissionDenied) as err:
        services.grant_role(actor=longhua_office, user=target, role=Role.objects.get(code="ncc_admin"),
                            division=division("460106001"))
    message = str(err.value)
    assert "权限超出" in message and "accounts." not in message and "_" not in message
