"""Pages: generic page scope tests, every default role, the phone recording form,
checklist revision through the page, export, map and statistics."""

import io

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from jindu.accounts.roles import DEFAULT_ROLES
from jindu.core.testing import PageScopeTests, division, grant, make_user
from jindu.core.timeutils import local_now
from jindu.inspections import services
from jindu.inspections.models import ChecklistTemplate, Hazard, Inspection, Target
from jindu.inspections.tests.factories import TargetFactory, all_pass, template


def _record(target, **fails):
    admin = make_user()
    grant(admin, "ncc_admin", "460100")
    tpl = template() if target.category == "venue" else template("delivery-five-a-core")
    return services.record_inspection(user=admin, target=target, template=tpl,
                                      inspected_at=local_now().replace(second=0, microsecond=0),
                                      results=all_pass(tpl, **fails))


class TestTargetPageScope(PageScopeTests):
    model = Target
    page_list_url = "inspections:target_list"
    page_detail_url = "inspections:target_detail"

    def scope_division_for(self, code):
        return division(code).children.order_by("code").first()

    def make_row(self, div):
        return TargetFactory(division=div)


class TestHazardPageScope(PageScopeTests):
    model = Hazard
    page_list_url = "inspections:hazard_list"
    page_detail_url = "inspections:hazard_detail"

    def scope_division_for(self, code):
        return division(code).children.order_by("code").first()

    def make_row(self, div):
        return _record(TargetFactory(division=div), V02="fail").hazards.get()


ROLES = [spec.code for spec in DEFAULT_ROLES]
VIEWERS = {"ncc_admin", "district_office", "town_office", "police", "regulator", "assessor", "leader"}
RECORDERS = {"ncc_admin", "district_office", "town_office", "police", "regulator"}


@pytest.fixture
def role_world(db):
    """A target with a hazard in 龙华区's first town and one in 秀英区."""
    inside = TargetFactory(division=division("460106001"), name="龙华场所")
    outside = TargetFactory(division=division("460105001"), name="秀英场所")
    return inside, outside, _record(inside, V01="fail").hazards.get(), _record(outside, V01="fail").hazards.get()


@pytest.mark.parametrize("role", ROLES)
def test_every_default_role_at_district_level(role_world, client, role):
    inside, outside, hazard_in, hazard_out = role_world
    user = make_user()
    grant(user, role, "460106")
    client.force_login(user)
    pages = [reverse("inspections:target_list"), reverse("inspections:hazard_list"),
             reverse("inspections:target_map"), reverse("inspections:stats"), reverse("inspections:template_list")]
    if role not in VIEWERS:
        for url in pages:
            assert client.get(url).status_code == 403, url
        assert client.get(reverse("inspections:target_detail", args=[inside.pk])).status_code == 403
        return
    for url in pages:
        assert client.get(url).status_code == 200, url
    html = client.get(reverse("inspections:target_list")).content.decode()
    assert "龙华场所" in html and "秀英场所" not in html
    assert client.get(reverse("inspections:target_detail", args=[inside.pk])).status_code == 200
    assert client.get(reverse("inspections:target_detail", args=[outside.pk])).status_code == 404
    assert client.get(reverse("inspections:hazard_detail", args=[hazard_in.pk])).status_code == 200
    assert client.get(reverse("inspections:hazard_detail", args=[hazard_out.pk])).status_code == 404
    inspect = client.get(reverse("inspections:inspection_create", args=[inside.pk]))
    assert inspect.status_code == (200 if role in RECORDERS else 403)
    assert client.get(reverse("inspections:inspection_create", args=[outside.pk])).status_code == (
        404 if role in RECORDERS else 403)


def test_phone_recording_form_round_trip(db, client):
    user = make_user()
    grant(user, "town_office", "460106001")
    target = TargetFactory(division=division("460106001"), kind="express_outlet")
    client.force_login(user)
    url = reverse("inspections:inspection_create", args=[target.pk])
    page = client.get(url, {"template": "postal-three-hainan"}).content.decode()
    assert 'name="viewport"' in page and "btn-check" in page and "outcome-btn" in page
    tpl = template("postal-three-hainan")
    assert page.count('class="btn-check"') == 3 * tpl.items.count()
    data = {"template": tpl.code, "inspected_at": local_now().strftime("%Y-%m-%dT%H:%M")}
    items = list(tpl.items.order_by("seq"))
    for item in items:
        data[f"item_{item.pk}"] = "pass"
        data[f"note_{item.pk}"] = ""
    del data[f"item_{items[0].pk}"]
    response = client.post(url, data)
    assert response.status_code == 200 and "请选择结果" in response.content.decode()
    assert not Inspection.objects.exists()
    data[f"item_{items[0].pk}"] = "fail"
    data[f"note_{items[0].pk}"] = "未验视"
    response = client.post(url, data)
    inspection = Inspection.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/inspections/{inspection.pk}/")
    assert inspection.template.code == "postal-three-hainan" and not inspection.passed
    assert inspection.hazards.get().description.endswith("未验视")


def test_template_edit_page_creates_a_new_revision(db, client):
    user = make_user()
    grant(user, "ncc_admin", "460100")
    client.force_login(user)
    tpl = template("delivery-five-b")
    url = reverse("inspections:template_revise", args=[tpl.pk])
    assert client.get(url).status_code == 200
    items = list(tpl.items.order_by("seq"))
    data = {"name": tpl.name, "category": tpl.category, "source": tpl.source, "description": tpl.description,
            "pass_score_pct": "100", "rectification_days": "5", "version": tpl.version,
            "revision_note": "期限改为5天", "items-TOTAL_FORMS": str(len(items)), "items-INITIAL_FORMS": "0",
            "items-MIN_NUM_FORMS": "0", "items-MAX_NUM_FORMS": "1000"}
    for n, item in enumerate(items):
        data.update({f"items-{n}-code": item.code, f"items-{n}-text": item.text, f"items-{n}-points": "1",
                     f"items-{n}-basis": item.basis, f"items-{n}-required": "on"})
    response = client.post(url, data)
    new = ChecklistTemplate.objects.get(code="delivery-five-b", is_current=True)
    assert response.status_code == 302 and new.revision == 2 and new.rectification_days == 5
    assert client.get(reverse("inspections:template_detail", args=[tpl.pk])).content.decode().count(
        "已被新版本取代") == 1


def test_town_office_cannot_open_checklist_editing(db, client):
    user = make_user()
    grant(user, "town_office", "460106001")
    client.force_login(user)
    assert client.get(reverse("inspections:template_revise", args=[template().pk])).status_code == 403


def test_export_lists_what_the_page_lists_with_colour(db, client):
    inside = TargetFactory(division=division("460106001"), name="=HYPERLINK(\"x\")")
    TargetFactory(division=division("460105001"), name="秀英场所")
    _record(inside, V03="fail")
    user = make_user()
    grant(user, "district_office", "460106")
    client.force_login(user)
    response = client.get(reverse("inspections:target_export"), {"colour": "red"})
    assert response.status_code == 200
    ws = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    rows = list(ws.iter_rows(values_only=True))
    assert len(rows) == 2 and rows[1][0] == '=HYPERLINK("x")'
    assert ws.cell(row=2, column=1).data_type == "s"
    assert "红色" in rows[1][11]
    bad = client.get(reverse("inspections:target_export"), {"colour": "purple"})
    assert bad.status_code == 302


def test_map_and_stats_pages(db, client):
    target = TargetFactory(division=division("460106001"), longitude="110.330000", latitude="20.030000")
    TargetFactory(division=division("460106002"))  # no coordinates
    _record(target, V03="fail")
    user = make_user()
    grant(user, "leader", "460106")
    client.force_login(user)
    html = client.get(reverse("inspections:target_map")).content.decode()
    assert 'id="target-map-data"' in html and "110.330000" in html and "没有离线底图" in html
    assert "未登记经纬度 1 个" in html
    html = client.get(reverse("inspections:stats")).content.decode()
    assert 'data-division="中山街道"' in html
    assert 'data-col="hazards_found">1<' in html
    assert client.get(reverse("inspections:target_list"), {"period": "2024-13"}).status_code == 200
    assert "无法识别的统计周期" in client.get(reverse("inspections:target_list"), {"period": "x"}).content.decode()


def test_list_query_counts_do_not_grow_with_rows(db, client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    user = make_user()
    grant(user, "district_office", "460106")
    client.force_login(user)

    def queries():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse("inspections:target_list")).status_code == 200
            assert client.get(reverse("inspections:hazard_list")).status_code == 200
        return len(ctx.captured_queries)

    for _ in range(2):
        _record(TargetFactory(division=division("460106001")), V01="fail")
    few = queries()
    for _ in range(8):
        _record(TargetFactory(division=division("460106002")), V02="fail")
    assert queries() == few
