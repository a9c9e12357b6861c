"""API errors: one shape, Chinese sentences, no model or internal names (tester's findings).

Every error is ``{"detail": str, "code": str, "errors": {...}}`` through
``jindu.core.api.exception_handler`` (``REST_FRAMEWORK["EXCEPTION_HANDLER"]``).
"""

from __future__ import annotations

import re

import pytest
from rest_framework.test import APIClient

from jindu.accounts.tests.factories import UnitFactory
from jindu.core.testing import api_client, division, grant, make_user

CJK = re.compile(r"[\u4e00-\u9fff]")
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _handler(settings):
    # Until the lead sets REST_FRAMEWORK["EXCEPTION_HANDLER"] in jindu/settings.py.
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "EXCEPTION_HANDLER": "jindu.core.api.exception_handler"}


@pytest.fixture
def office():
    user = make_user(unit=UnitFactory(division=division("460106")))
    grant(user, "district_office", "460106")
    return user


def check_shape(response, status, code=None):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"detail", "code", "errors"}, body
    assert CJK.search(body["detail"]), body
    for internal in ("Unit", "matches", "query", "CSRF Failed", "JSON parse", "Division", "accounts."):
        assert internal not in body["detail"], body
    if code:
        assert body["code"] == code, body
    return body


def test_404_same_sentence_for_missing_and_out_of_scope(office):
    api = api_client(office)
    outside = UnitFactory(division=division("460105"))
    missing = check_shape(api.get("/api/units/99999999/"), 404, "not_found")
    hidden = check_shape(api.get(f"/api/units/{outside.pk}/"), 404, "not_found")
    assert missing == hidden


def test_anonymous_and_bad_token():
    # Anonymous: DRF answers 401 when an authenticator offers a challenge (token), else 403.
    anonymous = APIClient().get("/api/units/")
    assert anonymous.status_code in (401, 403)
    check_shape(anonymous, anonymous.status_code)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION="Token nonsense")
    bad = api.get("/api/units/")
    # 403, not 401: SessionAuthentication comes first and offers no WWW-Authenticate challenge.
    body = check_shape(bad, bad.status_code, "authentication_failed")
    assert bad.status_code in (401, 403) and body["errors"] == {}


def test_csrf_failure_in_chinese(office):
    api = APIClient(enforce_csrf_checks=True)
    api.force_login(office)
    body = check_shape(api.post("/api/pairings/", {}, format="json"), 403, "csrf_failed")
    assert "刷新" in body["detail"]


def test_bad_json_and_media_type(office):
    api = api_client(office)
    check_shape(api.post("/api/pairings/", data='{"year": ', content_type="application/json"), 400, "parse_error")
    check_shape(api.post("/api/pairings/", data="<x/>", content_type="application/xml"), 415,
                "unsupported_media_type")


def test_field_errors_and_null_character(office):
    api = api_client(office)
    body = check_shape(api.post("/api/units/", {"name": ""}, format="json"), 400, "invalid")
    assert "name" in body["errors"] and isinstance(body["errors"]["name"], list)
    body = check_shape(api.get("/api/units/?search=%00"), 400)
    assert "空字符" in body["detail"]
    body = check_shape(api.get("/api/units/?bogus=1"), 400)
    assert "bogus" in body["detail"]
    body = check_shape(api.get("/api/units/?ordering=secret"), 400)
    assert "ordering" in body["errors"]


def test_405_and_403(office):
    api = api_client(office)
    check_shape(api.put("/api/token/", {}, format="json"), 405, "method_not_allowed")
    leader = make_user(unit=UnitFactory(division=division("460106")))
    grant(leader, "leader", "460106")
    check_shape(api_client(leader).post("/api/units/", {}, format="json"), 403, "permission_denied")


def test_service_refusal_keeps_its_chinese_reason(office):
    from jindu.core.testing import make_role

    grant(office, make_role(["accounts.add_roleassignment", "accounts.view_roleassignment"]), "460106")
    target = make_user(unit=UnitFactory(division=division("460106001")))
    body = check_shape(api_client(office).post(
        "/api/role-assignments/", {"user": target.pk, "role": "ncc_admin", "division": division("460106").pk},
        format="json"), 403)
    assert "权限超出" in body["detail"] and "_" not in body["detail"]


def test_page_past_the_end_says_so(db):
    from jindu.core.testing import api_client
    from jindu.core.tests.test_pages import make_user

    client = api_client(make_user(("leader", "4601")))
    body = client.get("/api/divisions/", {"page": 999}).json()
    assert body["code"] == "invalid_page" and "页码" in body["detail"]
    body = client.get("/api/divisions/", {"page": "abc"}).json()
    assert body["code"] == "invalid_page"


def test_unknown_api_address_answers_json(client, db):
    resp = client.get("/api/nope/")
    assert resp.status_code == 404
    assert resp.json()["code"] == "not_found" and "/api/docs/" in resp.json()["detail"]
