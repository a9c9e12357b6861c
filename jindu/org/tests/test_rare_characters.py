"""Peer case 17 for units: a name with a character outside GBK (王𠀾, U+2003E) survives
API create, search, export and re-import unchanged, and the re-import creates nothing."""

from __future__ import annotations

import io

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from jindu.core.models import ImportBatch
from jindu.core.tests.test_pages import div, make_user
from jindu.org.models import Unit

RARE = "王\U0002003e禁毒工作站"


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_rare_character_name_round_trip(client, db, fmt):
    user = make_user(("district_office", "460106"))
    api = APIClient()
    api.force_authenticate(user)
    resp = api.post("/api/units/", {"name": RARE, "kind": "other", "division": div("460106001").pk}, format="json")
    assert resp.status_code == 201, resp.content
    assert Unit.objects.get(pk=resp.json()["id"]).name == RARE
    assert [ch for ch in Unit.objects.get(pk=resp.json()["id"]).name[:2]] == ["王", "\U0002003e"]

    found = api.get("/api/units/", {"search": "王\U0002003e"}).json()
    assert [u["name"] for u in found["results"]] == [RARE]

    client.force_login(user)
    content = b"".join(client.get(reverse("org:unit_export"), {"format": fmt}).streaming_content)
    f = io.BytesIO(content)
    f.name = f"units.{fmt}"
    assert client.post(reverse("org:unit_import"), {"file": f}).status_code == 302
    batch = ImportBatch.objects.latest("pk")
    assert client.post(reverse("import_commit", args=[batch.pk])).status_code == 302
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.COMMITTED, batch.errors
    assert batch.summary["counts"]["created"] == 0
    assert Unit.objects.filter(name=RARE).count() == 1
