"""Enforcement and inspections in a real browser: the statistics page shows the seed
report's figure from the demo records, and an inspector records a visit on a phone-sized
screen end to end — with the site's Content-Security-Policy on and no console error."""

from __future__ import annotations

import io

import pytest

from .conftest import RESULTS
from .test_smoke import _with_csp

pytestmark = pytest.mark.browser

PASSWORD = "Browser-test-2024"


@pytest.fixture
def reference_data(haikou):
    """What a flushed test database lost besides the divisions: roles, the controlled
    substances and the shipped checklist profiles."""
    from jindu.accounts.roles import ensure_default_roles
    from jindu.inspections.loaders import shipped_profiles
    from jindu.inspections.services import ensure_checklist_profiles
    from jindu.substances.loaders import load_substances

    ensure_default_roles()
    load_substances()
    ensure_checklist_profiles(shipped_profiles())


def _user(username: str, role: str, code: str):
    from jindu.accounts.models import Role, RoleAssignment, User
    from jindu.geo.models import Division

    user = User.objects.create_user(username=username, password=PASSWORD, full_name=username)
    RoleAssignment.objects.create(user=user, role=Role.objects.get(code=role),
                                  division=Division.objects.get(code=code.ljust(12, "0")))
    return user


def _login(page, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def test_statistics_page_shows_the_seed_figure(live_server, reference_data, page, settings):
    settings.JINDU_DEMO_CITY = "460100"
    from jindu.enforcement import demo
    from jindu.org import demo as org_demo

    org_demo.seed(io.StringIO())
    demo.seed(io.StringIO())
    _user("city_police", "police", "460100")
    with _with_csp():
        _login(page, live_server.url, "city_police")
        page.click("[data-nav=enforcement]")
        page.wait_for_selector("[data-testid=case-table]")
        page.click("[data-testid=enforcement-nav] >> text=打击战果统计")
        page.fill("#id_date_from", "2023-01-01")
        page.fill("#id_date_to", "2023-12-31")
        page.select_option("#id_kind", "criminal")
        page.click("[data-testid=statistics-filters] button[type=submit]")
        page.wait_for_selector("#enforcement-chart canvas")  # ECharts drew the monthly chart
        assert page.locator("[data-testid=seized]").inner_text() == "6190.58 克"
        assert page.locator("[data-testid=cases-solved]").inner_text() == "215 起"
        page.screenshot(path=str(RESULTS / "enforcement-statistics.png"), full_page=True)
        # A case page shows the quantity class with its legal basis.
        page.click("[data-testid=enforcement-nav] >> text=毒品案件")
        page.select_option("#id_kind", "criminal")
        page.click("[data-testid=filters] button[type=submit]")
        page.locator("[data-testid=case-table] tbody a").first.click()
        page.wait_for_selector("[data-testid=case-quantity]")
        assert "依据" in page.locator("[data-testid=case-quantity]").inner_text()
        page.screenshot(path=str(RESULTS / "enforcement-case.png"), full_page=True)
    assert page.console_errors == [], page.console_errors


def test_inspector_records_a_visit_on_a_phone(live_server, reference_data, browser):
    from jindu.geo.models import Division
    from jindu.inspections.models import Hazard, Inspection, Target

    town = Division.objects.get(code="460107001000")  # 府城街道
    target = Target.objects.create(kind="ktv", name="府城测试KTV", division=town, address="府城大道1号",
                                   longitude="110.35", latitude="20.00")
    _user("fucheng_inspector", "town_office", "460107001")
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True,
                                  has_touch=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        with _with_csp():
            _login(page, live_server.url, "fucheng_inspector")
            page.goto(f"{live_server.url}/inspections/targets/{target.pk}/inspect/")
            form = page.locator("[data-testid=inspection-form]")
            form.wait_for()
            rows = page.locator("li.item-row")
            n = rows.count()
            assert n >= 5
            # The page fits the phone: no sideways scrolling.
            assert page.evaluate("document.documentElement.scrollWidth") <= 390
            for i in range(n):  # tap 合格 on every item but the first, which fails
                button = "btn-outline-danger" if i == 0 else "btn-outline-success"  # 不合格 / 合格
                rows.nth(i).locator(f"label.outcome-btn.{button}").tap()
            rows.nth(0).locator("input[type=text]").fill("营业执照已过期")
            page.screenshot(path=str(RESULTS / "inspection-phone.png"), full_page=True)
            page.locator("button[type=submit]:has-text('保存检查结果')").tap()
            page.wait_for_url("**/inspections/inspections/*/")
            assert "不合格" in page.locator("[data-testid=result]").inner_text()
            page.screenshot(path=str(RESULTS / "inspection-phone-saved.png"), full_page=True)
    finally:
        context.close()
    inspection = Inspection.objects.get(target=target)
    assert not inspection.passed and inspection.items_failed == 1 and inspection.items_passed == n - 1
    hazard = Hazard.objects.get(inspection=inspection)
    assert "营业执照已过期" in hazard.description or hazard.item.seq == 1
    assert errors == [], errors  # a CSP refusal is a console error too
