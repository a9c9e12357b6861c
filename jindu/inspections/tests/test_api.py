"""Inspection API: generic scope tests, the end-day filter (peer case 9), recording an
inspection and working a hazard through the API."""

from django.urls import reverse

from jindu.core.testing import ApiScopeTests, api_client, division, make_user, grant, user_with
from jindu.inspections import services
from jindu.inspections.models import Hazard, Inspection, Target
from jindu.inspections.tests.factories import TargetFactory, all_pass, shanghai, template


def _inspection(div, when=None, **fails):
    tpl = template()
    target = TargetFactory(division=div)
    admin = make_user()
    grant(admin, "ncc_admin", "460100")
    when = when or shanghai(2024, 5, 10, 16, 20)
    return services.record_inspection(user=admin, target=target, template=tpl, inspected_at=when,
                                      results=all_pass(tpl, **fails), now=shanghai(2024, 6, 1, 0, 0))


class TestTargetApiScope(ApiScopeTests):
    model = Target
    api_list_url = "api:inspectiontarget-list"
    api_detail_url = "api:inspectiontarget-detail"

    def scope_division_for(self, code):
        return division(code).children.order_by("code").first()

    def make_row(self, div):
        return TargetFactory(division=div)

    def create_payload(self, div):
        return {"kind": "chess_room", "name": "新棋牌室", "division": div.pk, "address": "某路1号"}

    def move_payload(self, row, div):
        return {"division": div.pk}


class TestInspectionApiScope(ApiScopeTests):
    model = Inspection
    api_list_url = "api:inspection-list"
    api_detail_url = "api:inspection-detail"
    api_writable = False

    def scope_division_for(self, code):
        return division(code).children.order_by("code").first()

    def make_row(self, div):
        return _inspection(div)


class TestHazardApiScope(ApiScopeTests):
    model = Hazard
    api_list_url = "api:hazard-list"
    api_detail_url = "api:hazard-detail"
    api_writable = False

    def scope_division_for(self, code):
        return division(code).children.order_by("code").first()

    def make_row(self, div):
        return _inspection(div, V05="fail").hazards.get()


def test_end_day_filter_includes_the_whole_local_day(db):
    """Peer case 9: ?date_from=2024-05-10&date_to=2024-05-10 with an inspection at 16:20 Shanghai."""
    _inspection(division("460106001"), shanghai(2024, 5, 10, 16, 20))
    _inspection(division("460106001"), shanghai(2024, 5, 11, 0, 0))  # next local day
    _inspection(division("460106001"), shanghai(2024, 5, 10, 0, 0))  # first minute of the day
    user = user_with(["inspections.view_inspection"], division("460106"))
    response = api_client(user).get(reverse("api:inspection-list"),
                                     {"date_from": "2024-05-10", "date_to": "2024-05-10"})
    assert response.status_code == 200
    assert response.json()["count"] == 2
    bad = api_client(user).get(reverse("api:inspection-list"), {"date_from": "2024-05-11", "date_to": "2024-05-10"})
    assert bad.status_code == 400


def test_record_inspection_and_rectify_through_the_api(db):
    user = make_user()
    grant(user, "town_office", "460106001")
    target = TargetFactory(division=division("460106001"), kind="express_outlet")
    tpl = template("delivery-five-a")
    client = api_client(user)
    results = [{"item": i.pk, "outcome": "fail" if i.code == "A1" else "pass", "note": "未登记"}
               for i in tpl.items.all()]
    response = client.post(reverse("api:inspection-list"), {
        "target": target.pk, "template": tpl.pk, "inspected_at": "2024-05-10T16:20:00+08:00", "results": results,
    }, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["passed"] is False and body["score_pct"] == "80.0" and len(body["results"]) == 5
    hazard = Hazard.objects.get(inspection_id=body["id"])
    url = reverse("api:hazard-rectify", args=[hazard.pk])
    assert client.post(url, {"note": "已整改", "version": hazard.version + 5}, format="json").status_code == 409
    response = client.post(url, {"note": "已整改", "version": hazard.version}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "rectified"


def test_record_inspection_out_of_scope_target_is_refused(db):
    user = make_user()
    grant(user, "town_office", "460106001")
    target = TargetFactory(division=division("460105001"))
    tpl = template()
    results = [{"item": i.pk, "outcome": "pass"} for i in tpl.items.all()]
    response = api_client(user).post(reverse("api:inspection-list"), {
        "target": target.pk, "template": tpl.pk, "inspected_at": "2024-05-10T16:20:00+08:00", "results": results,
    }, format="json")
    assert response.status_code == 400  # the target is not among the ids the user may reference
    assert not Inspection.objects.exists()


def test_checklists_readable_by_every_inspection_role(db):
    user = make_user()
    grant(user, "leader", "460107")
    response = api_client(user).get(reverse("api:checklisttemplate-list"), {"is_current": "true",
                                                                           "category": "delivery"})
    assert response.status_code == 200
    codes = {r["code"] for r in response.json()["results"]}
    assert {"delivery-five-a", "delivery-five-b", "postal-three-hainan"} <= codes
