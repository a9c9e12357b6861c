"""Findings of the break-it review (B2, B3, B5, bad filter values, pairing year):
out-of-scope values kept on edit and re-import, exports that follow the list's filters
and are access-logged, one phone validation for page, API and import, filter values that
are refused instead of ignored, and the pairing page opening on the current year."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from jindu.core.imports.testing import make_csv, make_xlsx
from jindu.core.models import AccessLog, AuditEvent, ImportBatch
from jindu.core.testing import api_client
from jindu.core.tests.test_pages import div, make_user
from jindu.org.models import Pairing, Unit
from jindu.org.tests.test_unit_import import HEADERS, commit, upload


@pytest.fixture
def bureau(db):
    """A city police bureau and its district branch in Qiongshan (the B2 case)."""
    city = Unit.objects.create(name="海口市公安局", kind="police", division=div("4601"))
    branch = Unit.objects.create(name="海口市公安局琼山区分局", kind="police", division=div("460107"),
                                 parent=city, head_name="张三", phone="0898-65800000")
    branch.jurisdiction.set([div("460107"), div("460106")])  # 龙华区 is outside Qiongshan's office
    return city, branch


@pytest.fixture
def qiongshan_office(db):
    return make_user(("district_office", "460107"))


def _edit_data(unit, **changes):
    data = {
        "name": unit.name, "short_name": unit.short_name, "kind": unit.kind, "division": unit.division_id,
        "head_name": unit.head_name, "head_title": unit.head_title, "phone": unit.phone,
        "address": unit.address, "is_active": "on", "version": unit.version,
        "jurisdiction": [div("460107").pk],
    }
    data.update(changes)
    return data


# -- B2: a value the editor cannot change keeps its current value ------------------------


def test_edit_keeps_parent_and_served_divisions_outside_the_editors_scope(client, bureau, qiongshan_office):
    city, branch = bureau
    client.force_login(qiongshan_office)
    page = client.get(reverse("org:unit_edit", args=[branch.pk])).content.decode()
    assert "上级单位不在您的管辖范围内" in page and "海口市公安局" in page
    assert "龙华区" in page  # named as kept, not offered as a choice
    # Even a forged parent in the POST is ignored: the field is read-only.
    resp = client.post(reverse("org:unit_edit", args=[branch.pk]), _edit_data(branch, head_name="李四", parent=""))
    assert resp.status_code == 302, resp.content.decode()[:3000]
    branch.refresh_from_db()
    assert branch.head_name == "李四" and branch.parent_id == city.pk
    assert set(branch.jurisdiction.values_list("code", flat=True)) == {"460107000000", "460106000000"}
    event = AuditEvent.objects.get(action="org.unit_updated", target_id=str(branch.pk))
    assert event.changes == {"head_name": ["张三", "李四"]}


def test_in_scope_parent_can_still_be_changed(client, db, qiongshan_office):
    a = Unit.objects.create(name="琼山区禁毒办", kind="district", division=div("460107"))
    b = Unit.objects.create(name="琼山区教育局", kind="department", division=div("460107"))
    unit = Unit.objects.create(name="琼山区某学校", kind="school", division=div("460107"), parent=a)
    client.force_login(qiongshan_office)
    resp = client.post(reverse("org:unit_edit", args=[unit.pk]), _edit_data(unit, parent=b.pk))
    assert resp.status_code == 302
    unit.refresh_from_db()
    assert unit.parent_id == b.pk


def test_reimporting_own_export_touches_nothing_it_does_not_change(client, bureau, qiongshan_office):
    city, branch = bureau
    client.force_login(qiongshan_office)
    exported = client.get(reverse("org:unit_export"), {"format": "csv"})
    rows = list(csv.reader(io.StringIO(b"".join(exported.streaming_content).decode("utf-8-sig"))))
    assert "上级单位" not in rows[0]
    rows[1][rows[0].index("负责人")] = "王五"
    batch = commit(client, upload(client, make_csv(rows), "units.csv"))
    assert batch.status == ImportBatch.Status.COMMITTED, batch.errors
    branch.refresh_from_db()
    assert branch.head_name == "王五" and branch.parent_id == city.pk and branch.phone == "0898-65800000"
    assert branch.jurisdiction.count() == 2
    event = AuditEvent.objects.filter(action="org.unit_updated", target_id=str(branch.pk)).latest("pk")
    assert event.changes == {"head_name": ["张三", "王五"]}


# -- B3: export = the list's rows; personal data → access log -----------------------------


@pytest.fixture
def longhua(db):
    Unit.objects.create(name="龙华区导入测试甲", kind="other", division=div("460106"), head_name="甲")
    Unit.objects.create(name="龙华区导入测试乙", kind="other", division=div("460106"), is_active=False)
    Unit.objects.create(name="龙华区禁毒办", kind="district", division=div("460106"))
    return make_user(("district_office", "460106"))


def _csv_names(response) -> list[str]:
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    return sorted(r[0] for r in rows[1:])


def test_export_applies_the_lists_filters_and_is_access_logged(client, longhua):
    client.force_login(longhua)
    url = reverse("org:unit_export")
    assert _csv_names(client.get(url, {"name": "导入测试", "format": "csv"})) == ["龙华区导入测试乙", "龙华区导入测试甲"]
    assert _csv_names(client.get(url, {"q": "导入测试", "is_active": "true", "format": "csv"})) == ["龙华区导入测试甲"]
    log = AccessLog.objects.filter(kind=AccessLog.Kind.EXPORT).latest("pk")
    assert log.user_id == longhua.pk and len(log.object_ids) == 1 and log.result_count == 1
    # The list shows the same rows and its export link carries the same query string.
    html = client.get(reverse("org:unit_list"), {"name": "导入测试"}).content.decode()
    assert "龙华区导入测试甲" in html and "龙华区禁毒办" not in html
    assert f'{url}?name=%E5%AF%BC%E5%85%A5%E6%B5%8B%E8%AF%95' in html


def test_export_with_an_unreadable_filter_exports_nothing(client, longhua):
    client.force_login(longhua)
    resp = client.get(reverse("org:unit_export"), {"is_active": "maybe", "format": "csv"})
    assert resp.status_code == 302 and resp["Location"].startswith(reverse("org:unit_list"))
    assert not AccessLog.objects.filter(kind=AccessLog.Kind.EXPORT).exists()
    html = client.get(resp["Location"], follow=True).content.decode()
    assert "未导出" in html and "maybe" in html


# -- B5: one phone validation everywhere ---------------------------------------------------


def test_model_refuses_invalid_phone_and_stores_one_form(db):
    with pytest.raises(ValidationError):
        Unit.objects.create(name="坏号码", kind="other", division=div("460106"), phone="abc")
    assert not Unit.objects.filter(name="坏号码").exists()
    unit = Unit.objects.create(name="好号码", kind="other", division=div("460106"), phone="+86 139-0000-1111")
    unit.refresh_from_db()
    assert unit.phone == "13900001111"
    unit.phone = "(0898)66778899"
    unit.full_clean()
    assert unit.phone == "0898-66778899"


@pytest.mark.parametrize("bad", ["abc", "12345", "2024-02-30", "0898-1"])
def test_api_refuses_invalid_phone(db, bad):
    admin = make_user(("ncc_admin", "4601"))
    unit = Unit.objects.create(name="接口单位", kind="other", division=div("460106"))
    resp = api_client(admin).patch(reverse("api:unit-detail", args=[unit.pk]), {"phone": bad, "version": 1},
                                   format="json")
    assert resp.status_code == 400 and "phone" in resp.json()["errors"]
    assert "不是有效的手机号码或固定电话号码" in resp.json()["errors"]["phone"][0]
    unit.refresh_from_db()
    assert unit.phone == "" and unit.version == 1


def test_api_normalises_phone(db):
    admin = make_user(("ncc_admin", "4601"))
    unit = Unit.objects.create(name="接口单位", kind="other", division=div("460106"))
    resp = api_client(admin).patch(reverse("api:unit-detail", args=[unit.pk]),
                                   {"phone": "＋86 139 0000 1111", "version": 1}, format="json")
    assert resp.status_code == 200 and resp.json()["phone"] == "13900001111"
    event = AuditEvent.objects.get(action="org.unit_updated", target_id=str(unit.pk))
    assert event.changes["phone"] == ["", "13900001111"]


def test_form_refuses_invalid_phone(client, db):
    unit = Unit.objects.create(name="中山街道禁毒办", kind="town", division=div("460106001"))
    client.force_login(make_user(("town_office", "460106001")))
    data = _edit_data(unit, phone="abc", jurisdiction=[])
    resp = client.post(reverse("org:unit_edit", args=[unit.pk]), data)
    assert resp.status_code == 200 and "不是有效的手机号码或固定电话号码（收到“abc”）" in resp.content.decode()
    unit.refresh_from_db()
    assert unit.phone == "" and unit.version == 1


def test_import_refuses_invalid_phones_and_normalises_valid_ones(client, db):
    client.force_login(make_user(("district_office", "460106")))
    data = make_xlsx([
        HEADERS,
        ["单位甲", "", "其他", "460106000000", "", "", "12345", ""],
        ["单位乙", "", "其他", "460106000000", "", "", "2024-02-30", ""],
        ["单位丙", "", "其他", "460106000000", "", "", 13900001111, ""],
        ["单位丁", "", "其他", "460106000000", "", "", "（0898）66778899", ""],
    ])
    batch = upload(client, data, "phones.xlsx")
    messages = " ".join(str(e) for e in batch.errors)
    assert "12345" in messages and "2024-02-30" in messages and "不是有效的手机号码或固定电话号码" in messages
    assert {e["row"] for e in batch.errors} == {2, 3}
    batch = commit(client, batch)
    assert batch.status != ImportBatch.Status.COMMITTED
    assert not Unit.objects.filter(name__startswith="单位").exists()
    batch = commit(client, upload(client, make_xlsx([HEADERS, *[r for r in [
        ["单位丙", "", "其他", "460106000000", "", "", 13900001111, ""],
        ["单位丁", "", "其他", "460106000000", "", "", "（0898）66778899", ""],
    ]]]), "ok.xlsx"))
    assert batch.status == ImportBatch.Status.COMMITTED, batch.errors
    assert dict(Unit.objects.filter(name__startswith="单位").values_list("name", "phone")) == {
        "单位丙": "13900001111", "单位丁": "0898-66778899"}


# -- bad filter values are errors, never "no filter" ---------------------------------------


def test_unit_list_refuses_unreadable_filter(client, longhua):
    client.force_login(longhua)
    html = client.get(reverse("org:unit_list"), {"is_active": "maybe"}).content.decode()
    assert 'data-testid="filter-errors"' in html and "maybe" in html
    assert "龙华区禁毒办" not in html
    html = client.get(reverse("org:unit_list"), {"is_active": "false"}).content.decode()
    assert "龙华区导入测试乙" in html and "龙华区禁毒办" not in html


def test_api_refuses_unreadable_filters(db):
    client = api_client(make_user(("district_office", "460106")))
    assert client.get(reverse("api:unit-list"), {"is_active": "maybe"}).status_code == 400
    assert client.get(reverse("api:unit-list"), {"is_active": "false"}).status_code == 200
    assert client.get(reverse("api:pairing-list"), {"year": "99999999999999999999"}).status_code == 400
    assert client.get(reverse("api:pairing-list"), {"year": "1800"}).status_code == 400
    assert client.get(reverse("api:commissionmembership-list"), {"year": "3000"}).status_code == 400


@pytest.mark.parametrize("bad", ["99999999999999999999", "1800", "abc", "2024.5"])
def test_pairing_page_refuses_unreadable_year(client, db, bad):
    Pairing.objects.create(unit=Unit.objects.create(name="挂点单位", kind="other", division=div("460106")),
                           town=div("460106001"), year=2025)
    client.force_login(make_user(("district_office", "460106")))
    html = client.get(reverse("org:pairing_list"), {"year": bad}).content.decode()
    assert 'data-testid="year-error"' in html
    assert f'<option value="{bad}"' not in html and "挂点单位" not in html
    html = client.get(reverse("org:membership_list"), {"year": bad}).content.decode()
    assert 'data-testid="year-error"' in html and f'<option value="{bad}"' not in html


# -- pairing page opens on the current local year ---------------------------------------


def test_pairing_page_defaults_to_current_year_with_copy_offer(client, db, monkeypatch):
    monkeypatch.setattr("jindu.org.views.local_today", lambda: date(2027, 1, 1))
    unit = Unit.objects.create(name="挂点单位", kind="other", division=div("460106"))
    Pairing.objects.create(unit=unit, town=div("460106001"), year=2025)
    client.force_login(make_user(("district_office", "460106")))
    resp = client.get(reverse("org:pairing_list"))
    assert resp.context["year"] == 2027 and resp.context["pairing_count"] == 0
    html = resp.content.decode()
    assert 'data-testid="pairing-empty"' in html and 'data-testid="pairing-copy-form"' in html
    assert resp.context["copy_form"].initial == {"from_year": 2025, "to_year": 2027}
    resp = client.get(reverse("org:pairing_list"), {"year": 2025})
    assert resp.context["year"] == 2025 and resp.context["pairing_count"] == 1
