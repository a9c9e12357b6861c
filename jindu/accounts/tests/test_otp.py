"""Second factor for privileged roles (tester's finding B6): enrolment, verification,
enforcement on pages and API, tokens, lockout, reset — all audited.

Enforcement is off in the test settings and switched on per test here.
"""

from __future__ import annotations

import re

import pytest
from django.test import override_settings
from django.urls import reverse

from jindu.accounts import services
from jindu.accounts.models import Role, RoleAssignment, User
from jindu.accounts.tests.factories import UnitFactory
from jindu.core.models import AuditEvent
from jindu.core.testing import division

pytestmark = pytest.mark.django_db

PASSWORD = "Correct-horse-9"
enforced = override_settings(JINDU_ENFORCE_OTP=True, OTP_TOTP_THROTTLE_FACTOR=0)


def code_for(device) -> str:
    from django_otp.oath import TOTP

    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return str(totp.token()).zfill(device.digits)


def wrong_code(device) -> str:
    return str((int(code_for(device)) + 1) % 1_000_000).zfill(6)


def make(username, *grants, **extra):
    user = User.objects.create_user(username=username, password=PASSWORD,
                                    unit=UnitFactory(division=division("460106")), **extra)
    for role, code in grants:
        RoleAssignment.objects.create(user=user, role=Role.objects.get(code=role), division=division(code))
    return user


def login(client, username):
    return client.post(reverse("login"), {"username": username, "password": PASSWORD})


@pytest.fixture
def admin(db):
    return make("city_admin_t", ("ncc_admin", "4601"))


@enforced
def test_privileged_user_enrols_then_reaches_pages(admin, client):
    response = login(client, admin.username)
    assert response.status_code == 302
    # Every page sends an unverified privileged user to the second-factor step.
    home = client.get("/")
    assert home.status_code == 302 and home["Location"].startswith(reverse("accounts:otp"))
    assert client.get(reverse("accounts:user_list")).status_code == 302

    page = client.get(reverse("accounts:otp"))
    html = page.content.decode()
    assert page.status_code == 200 and "绑定身份验证器" in html
    assert 'src="data:image/svg+xml' in html  # QR code inline, allowed by CSP img-src data:
    secret = re.search(r'data-testid="otp-secret">([A-Z2-7 ]+)<', html).group(1)
    assert len(secret.replace(" ", "")) >= 32
    assert "演示环境" not in html

    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.get(user=admin)
    assert not device.confirmed
    # The secret stays the same across reloads until it is confirmed.
    assert secret in client.get(reverse("accounts:otp")).content.decode()

    bad = client.post(reverse("accounts:otp"), {"code": wrong_code(device), "next": "/accounts/users/"})
    assert bad.status_code == 200 and "验证码不正确" in bad.content.decode()
    ok = client.post(reverse("accounts:otp"), {"code": code_for(device), "next": "/accounts/users/"})
    assert ok.status_code == 302 and ok["Location"] == "/accounts/users/"
    device.refresh_from_db()
    assert device.confirmed
    assert client.get("/").status_code == 200
    assert AuditEvent.objects.filter(action="accounts.otp_enrolled", target_id=str(admin.pk)).count() == 1


@enforced
def test_enrolled_user_enters_code_at_next_login(admin, client):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.create(user=admin, name="phone", confirmed=True)
    login(client, admin.username)
    page = client.get(reverse("accounts:otp")).content.decode()
    assert "请输入手机身份验证器中显示的 6 位动态验证码" in page and "otp-qr" not in page
    assert client.post(reverse("accounts:otp"), {"code": "12ab56"}).status_code == 200  # not 6 digits
    response = client.post(reverse("accounts:otp"), {"code": code_for(device), "next": "https://evil.example/"})
    assert response.status_code == 302 and response["Location"] == reverse("home")  # no open redirect
    assert client.get("/").status_code == 200


@enforced
def test_unprivileged_user_is_not_asked(client):
    make("town_t", ("town_office", "460106001"))
    login(client, "town_t")
    assert client.get("/").status_code == 200


@enforced
def test_superuser_is_asked_too(client):
    User.objects.create_superuser("root_t", password=PASSWORD)
    login(client, "root_t")
    assert client.get("/admin/").status_code == 302


@enforced
def test_exempt_paths_stay_reachable(admin, client):
    login(client, admin.username)
    assert client.get(reverse("logout")).status_code == 200
    assert client.post(reverse("set_language"), {"language": "en", "next": "/"}).status_code == 302
    assert client.post(reverse("logout")).status_code == 302
    assert client.get("/").status_code == 302  # now to the login page
    assert client.get("/")["Location"].startswith(reverse("login"))


@enforced
def test_api_with_session_refused_until_verified(admin, client):
    login(client, admin.username)
    response = client.get("/api/units/")
    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "otp_required" and "二次验证" in body["detail"]
    # Nor can a token be made from the unverified session.
    assert client.post("/api/token/").status_code == 403


@enforced
def test_token_only_from_verified_session(admin, client):
    from django_otp.plugins.otp_totp.models import TOTPDevice
    from rest_framework.test import APIClient

    device = TOTPDevice.objects.create(user=admin, name="phone", confirmed=True)
    login(client, admin.username)
    client.post(reverse("accounts:otp"), {"code": code_for(device)})
    created = client.post(reverse("accounts:token"), {"op": "create"})
    key = admin.auth_token.key
    assert key in created.content.decode()
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/units/").status_code == 200

    # A token made without the second factor (before the role, or in Django admin) is refused.
    town = make("town_then_admin", ("town_office", "460106001"))
    old = services.create_token(actor=town, user=town)
    RoleAssignment.objects.create(user=town, role=Role.objects.get(code="ncc_admin"), division=division("4601"))
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {old.key}")
    refused = api.get("/api/units/")
    assert refused.status_code in (401, 403)
    assert "二次验证" in refused.json()["detail"]


@enforced
def test_wrong_codes_lock_out_like_wrong_passwords(admin, client, settings):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.create(user=admin, name="phone", confirmed=True)
    login(client, admin.username)
    last = None
    for _i in range(settings.AXES_FAILURE_LIMIT):
        last = client.post(reverse("accounts:otp"), {"code": wrong_code(device)})
    assert last.status_code == 429 and "账号已暂时锁定" in last.content.decode()
    # Signed out, and the password step is locked for this username on this machine too.
    assert client.get("/")["Location"].startswith(reverse("login"))
    again = login(client, admin.username)
    assert again.status_code == 429 or "账号已暂时锁定" in again.content.decode()


@enforced
def test_device_throttle_survives_new_login(admin, client):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.create(user=admin, name="phone", confirmed=True)
    login(client, admin.username)
    with override_settings(OTP_TOTP_THROTTLE_FACTOR=3600):
        client.post(reverse("accounts:otp"), {"code": wrong_code(device)})
        client.post(reverse("logout"))
        login(client, admin.username)
        response = client.post(reverse("accounts:otp"), {"code": code_for(device)})
    assert response.status_code == 200 and "错误次数过多" in response.content.decode()


@enforced
def test_reset_by_admin_is_audited_and_forces_reenrolment(admin, client):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    victim = make("lost_phone", ("ncc_admin", "4601"))
    TOTPDevice.objects.create(user=victim, name="phone", confirmed=True)
    with pytest.raises(Exception, match="原因"):
        services.reset_otp(actor=admin, user=victim, reason=" ")
    assert services.reset_otp(actor=admin, user=victim, reason="手机丢失") == 1
    assert not TOTPDevice.objects.filter(user=victim).exists()
    event = AuditEvent.objects.get(action="accounts.otp_reset")
    assert event.actor == admin and event.reason == "手机丢失" and event.target_id == str(victim.pk)

    # A district office may not reset the second factor of a city administrator.
    district = make("district_t", ("district_office", "460106"))
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.reset_otp(actor=district, user=victim, reason="x")


@override_settings(JINDU_ENFORCE_OTP=True, JINDU_DEMO=True)
def test_demo_enrolment_page_says_demo(admin, client):
    login(client, admin.username)
    html = client.get(reverse("accounts:otp")).content.decode()
    assert 'data-testid="otp-demo-note"' in html and "演示系统" in html


@override_settings(JINDU_ENFORCE_OTP=False)
def test_enforcement_switch(admin, client):
    login(client, admin.username)
    assert client.get("/").status_code == 200
