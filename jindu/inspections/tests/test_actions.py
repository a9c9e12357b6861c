"""The inspections action pages (close an inspection, rectify / set a deadline for / close a
hazard, set a default checklist): refusals (403, 404, 405), form and service refusals with
their messages, success messages and redirects."""
import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from jindu.core.testing import division, grant, make_user
from jindu.inspections.models import ChecklistTemplate, Hazard, Inspection
from jindu.inspections.choices import HazardStatus
from jindu.inspections.tests.factories import TargetFactory
from jindu.inspections.tests.test_pages import _record


@pytest.fixture(autouse=True)
def _checklists(db):
    from jindu.inspections.loaders import shipped_profiles
    from jindu.inspections.services import ensure_checklist_profiles
    ensure_checklist_profiles(shipped_profiles())


def said(r):
    return [m.message for m in get_messages(r.wsgi_request)][-1:]


@pytest.fixture
def world(db):
    inside = _record(TargetFactory(division=division("460106001")), V01="fail")
    outside = _record(TargetFactory(division=division("460105001")), V01="fail")
    admin = make_user(); grant(admin, "ncc_admin", "460100")
    district = make_user(); grant(district, "district_office", "460106")
    return inside, outside, admin, district


def test_hazard_actions(world, client):
    inside, outside, admin, district = world
    h = inside.hazards.get(); ho = outside.hazards.get()
    client.force_login(make_user())
    assert client.post(reverse("inspections:hazard_rectify", args=[999999]), {}).status_code == 403
    client.force_login(district)
    assert client.post(reverse("inspections:hazard_rectify", args=[ho.pk]), {}).status_code == 404
    assert client.get(reverse("inspections:hazard_rectify", args=[h.pk])).status_code == 405
    back = reverse("inspections:hazard_detail", args=[h.pk])
    r = client.post(reverse("inspections:hazard_rectify", args=[h.pk]), {"rectification_note": "", "version": h.version})
    assert r["Location"] == back and said(r) == ["未保存：整改情况：请填写整改情况。"]
    r = client.post(reverse("inspections:hazard_deadline", args=[h.pk]), {"deadline": "", "reason": ""})
    assert r["Location"] == back and said(r)[0].startswith("未保存：新的整改期限：") and "调整原因：请填写调整原因。" in said(r)[0]
    r = client.post(reverse("inspections:hazard_close", args=[h.pk]), {"note": "x"})
    print(said(r))
    assert r["Location"] == back and said(r)[0].startswith("未保存：")
    assert Hazard.objects.get(pk=h.pk).status == HazardStatus.OPEN
    r = client.post(reverse("inspections:hazard_rectify", args=[h.pk]), {"rectification_note": "已整改", "version": h.version - 1 or 99})
    print(said(r))
    assert said(r)[0].startswith("保存失败：该记录已被他人修改")
    r = client.post(reverse("inspections:hazard_rectify", args=[h.pk]), {"rectification_note": "已整改", "version": h.version})
    assert r["Location"] == back and said(r) == ["已登记整改，待复查确认。"]
    assert Hazard.objects.get(pk=h.pk).status == HazardStatus.RECTIFIED


def test_inspection_close_and_template_default(world, client):
    inside, outside, admin, district = world
    client.force_login(admin)
    r = client.post(reverse("inspections:inspection_close", args=[inside.pk]), {"note": "x" * 600})
    assert said(r) == ["未保存：还有 1 处隐患未销号，不能关闭检查记录。"]
    inside = _record(TargetFactory(division=division("460106001")))
    r = client.post(reverse("inspections:inspection_close", args=[inside.pk]), {"note": "x" * 600})
    print(said(r))
    assert r["Location"] == reverse("inspections:inspection_detail", args=[inside.pk])
    assert said(r) == ["检查记录已销号。"] and Inspection.objects.get(pk=inside.pk).closed_at is not None
    tpl = ChecklistTemplate.objects.filter(is_current=True, is_default=False).first()
    r = client.post(reverse("inspections:template_default", args=[tpl.pk]))
    assert r["Location"] == reverse("inspections:template_list") and said(r) == [f"已将“{tpl.name}”设为默认清单。"]
    client.force_login(district)
    r = client.post(reverse("inspections:template_default", args=[tpl.pk]))
    print(r.status_code, said(r) if r.status_code == 302 else "")
