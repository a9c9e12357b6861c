"""A request that meets SQLite's "database is locked" gets a Chinese 503 with Retry-After,
not a 500 (tester's finding during a large import's commit)."""

import pytest
from django.db import OperationalError

from jindu.core.tests.test_pages import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def locked(monkeypatch):
    def boom(*args, **kwargs):
        raise OperationalError("database is locked")

    return boom


def test_page_gets_503_in_chinese(client, monkeypatch, locked):
    client.force_login(make_user(("leader", "4601")))
    monkeypatch.setattr("jindu.geo.views.DivisionTreeView.get", locked)
    resp = client.get("/geo/")
    assert resp.status_code == 503 and resp["Retry-After"] == "30"
    assert "请稍后再试" in resp.content.decode()


def test_api_gets_503_json(client, monkeypatch, locked):
    client.force_login(make_user(("leader", "4601")))
    monkeypatch.setattr("jindu.geo.api.views.DivisionViewSet.list", locked)
    resp = client.get("/api/divisions/")
    assert resp.status_code == 503
    assert resp.json()["code"] == "busy"


def test_other_database_errors_still_fail_loudly(client, monkeypatch):
    client.force_login(make_user(("leader", "4601")))

    def other(*args, **kwargs):
        raise OperationalError("no such table: x")

    monkeypatch.setattr("jindu.geo.views.DivisionTreeView.get", other)
    client.raise_request_exception = True
    with pytest.raises(OperationalError):
        client.get("/geo/")
