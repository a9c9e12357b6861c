"""Free text is normalised on every way in (tester's finding: zero-width, BOM, control and
bidi characters were stored as typed): page form, API, grid service and plain saves."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from jindu.accounts.models import User
from jindu.core.testing import api_client
from jindu.core.tests.test_pages import div, make_user
from jindu.geo import services as geo_services
from jindu.org.models import Unit

pytestmark = pytest.mark.django_db


def test_api_and_plain_save_store_normalised_text():
    admin = make_user(("ncc_admin", "4601"))
    resp = api_client(admin).post(
        "/api/units/", {"name": "零宽\u200b单位\u3000测试", "kind": "other", "division": div("460106001").pk,
                        "head_name": "张\u3000测试\u202e", "address": " 龙华路\x07 1号 "}, format="json")
    assert resp.status_code == 201, resp.content
    unit = Unit.objects.get(pk=resp.json()["id"])
    assert (unit.name, unit.head_name, unit.address) == ("零宽单位 测试", "张测试", "龙华路 1号")
    user = User.objects.create_user(username="u\u200bser", full_name="李\u3000样例\u202e")
    user.refresh_from_db()
    assert (user.username, user.full_name) == ("user", "李样例")


def test_page_form_normalises_before_checking_uniqueness(client):
    admin = make_user(("ncc_admin", "4601"))
    Unit.objects.create(name="表单单位", kind="other", division=div("460106001"))
    client.force_login(admin)
    resp = client.post(reverse("org:unit_create"), {
        "name": "表单\u200b单位\ufeff", "kind": "other", "division": div("460106001").pk, "is_active": "on"})
    assert resp.status_code == 200  # refused as a duplicate, not stored as a look-alike
    assert Unit.objects.filter(name__startswith="表单").count() == 1


def test_grid_names_that_only_differ_by_invisible_characters_are_duplicates():
    admin = make_user(("ncc_admin", "4601"))
    village = div("460106001").children.order_by("code").first()
    geo_services.create_grid(user=admin, village=village, name="第一网格")
    with pytest.raises(ValidationError) as exc:
        geo_services.create_grid(user=admin, village=village, name="第一网格\u200b")
    assert "第一网格" in str(exc.value)
