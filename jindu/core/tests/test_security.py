"""CSRF failure page and logout (tester's findings): Chinese, with a way back, no debug
hints; ``GET /logout/`` shows a button and never signs anyone out."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from jindu.core.testing import division, grant, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _csrf_view(settings):
    # Until the lead sets CSRF_FAILURE_VIEW in jindu/settings.py.
    settings.CSRF_FAILURE_VIEW = "jindu.core.views.pages.csrf_failure"


@pytest.fixture
def leader():
    user = make_user()
    grant(user, "leader", division("4601"))
    return user


def test_csrf_failure_page_is_chinese_with_a_way_back(leader):
    client = Client(enforce_csrf_checks=True)
    client.force_login(leader)
    response = client.post(reverse("accounts:token"), {"op": "create"}, HTTP_REFERER="http://testserver/accounts/token/")
    assert response.status_code == 403
    html = response.content.decode()
    assert '<html lang="zh-CN">' in html
    assert "页面已过期" in html and 'href="http://testserver/accounts/token/"' in html
    assert "CSRF_FAILURE_VIEW" not in html and "DEBUG" not in html and "Forbidden" not in html
    assert "style=" not in html  # CSP: no inline styles
    assert not hasattr(leader, "auth_token") or leader.auth_token is None


def test_csrf_failure_ignores_foreign_referer(leader):
    client = Client(enforce_csrf_checks=True)
    client.force_login(leader)
    html = client.post(reverse("accounts:token"), HTTP_REFERER="https://evil.example/x").content.decode()
    assert "evil.example" not in html and reverse("home") in html


def test_logout_get_shows_button_and_keeps_session(leader, client):
    client.force_login(leader)
    page = client.get(reverse("logout"))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'method="post" action="/logout/"' in html and "确定要退出吗" in html
    assert client.get("/").status_code == 200  # still signed in
    assert client.post(reverse("logout")).status_code == 302
    assert client.get("/").status_code == 302


def test_logout_get_when_signed_out(client):
    response = client.get(reverse("logout"))
    assert response.status_code == 200 and reverse("login") in response.content.decode()
