"""A person logs in, reads the dashboard, opens the divisions tree and expands a district."""

from pathlib import Path

import pytest
from django.test import override_settings

from jindu.csp_settings import CONTENT_SECURITY_POLICY, CSP_MIDDLEWARE

from .conftest import RESULTS

pytestmark = pytest.mark.browser

PASSWORD = "Browser-test-2024"


def _with_csp():
    from django.conf import settings

    mw = list(settings.MIDDLEWARE)
    if CSP_MIDDLEWARE not in mw:
        mw.insert(mw.index("django.middleware.security.SecurityMiddleware") + 1, CSP_MIDDLEWARE)
    # The vendored assets live in jindu/static/ (project-level, not an app's static/).
    static_dirs = list(getattr(settings, "STATICFILES_DIRS", []))
    project_static = settings.BASE_DIR / "jindu" / "static"
    if project_static not in [Path(d) for d in static_dirs]:
        static_dirs.append(project_static)
    return override_settings(MIDDLEWARE=mw, CONTENT_SECURITY_POLICY=CONTENT_SECURITY_POLICY, JINDU_DEMO=True,
                             STATICFILES_DIRS=static_dirs)


def test_login_dashboard_and_division_tree(live_server, haikou, page):
    from jindu.accounts.models import Role, RoleAssignment, User
    from jindu.geo.models import Division

    user = User.objects.create_user(username="ncc", password=PASSWORD, full_name="市禁毒办管理员")
    RoleAssignment.objects.create(user=user, role=Role.objects.get(code="ncc_admin"),
                                  division=Division.objects.get(code="460100000000"))
    from jindu.org.models import Unit

    Unit.objects.create(name="龙华区禁毒办", kind="district", division=Division.objects.get(code="460106000000"))

    with _with_csp():
        page.goto(f"{live_server.url}/")
        assert "/login/" in page.url
        page.fill("#id_username", "ncc")
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}/")

        table = page.locator("[data-testid=district-table]")
        for name, towns in {"秀英区": 8, "龙华区": 11, "琼山区": 11, "美兰区": 13}.items():
            row = table.locator(f"tr[data-district='{name}']")
            assert row.locator("[data-col=town_total]").inner_text() == str(towns)
            assert int(row.locator("[data-col=villages]").inner_text()) > 0
        # the chart rendered (canvas drawn by ECharts from the json_script data)
        page.wait_for_selector("#district-chart canvas")
        page.screenshot(path=str(RESULTS / "dashboard.png"), full_page=True)

        page.click("[data-nav=geo]")
        page.wait_for_selector("[data-testid=division-tree]")
        longhua = page.locator("li.tree-node[data-code='460106000000']")
        assert longhua.locator(":scope > [id^=children-] .tree-node").count() == 0
        longhua.locator(":scope > button.tree-toggle").click()
        page.wait_for_selector("li.tree-node[data-code='460106001000']")  # 中山街道, loaded by htmx
        assert longhua.locator(":scope > [id^=children-] > ul > li.tree-node").count() == 11
        page.wait_for_timeout(400)  # let the collapse animation settle for the screenshot
        page.screenshot(path=str(RESULTS / "division-tree.png"), full_page=True)

        # unit list and the not-built module page render too
        page.click("[data-nav=org]")
        page.wait_for_selector("[data-testid=unit-table]")
        page.screenshot(path=str(RESULTS / "unit-list.png"), full_page=True)
        page.click("text=龙华区禁毒办")
        page.click("[data-testid=edit-unit]")
        page.fill("#id_head_name", "王五")
        page.screenshot(path=str(RESULTS / "unit-form.png"), full_page=True)
        page.click("button[type=submit]:has-text('保存')")
        page.wait_for_selector(".alert-success")
        assert "王五" in page.content()
        page.click("[data-nav=prevention]")
        assert "尚未建设" in page.locator("[data-testid=module-pending]").inner_text()

        # the user menu shows the role and switches the language (POST to set_language)
        page.click("#user-menu")
        assert "市禁毒办管理员 · 海口市" in page.locator("[data-testid=user-role]").inner_text()
        page.screenshot(path=str(RESULTS / "user-menu.png"))
        page.click("button[name=language][value=en]")
        page.wait_for_selector("text=Under construction")
        page.click("[data-nav=home]")
        assert page.locator("[data-nav=geo]").inner_text().strip() == "Divisions"
        page.wait_for_selector("#district-chart canvas")
        page.screenshot(path=str(RESULTS / "dashboard-en.png"), full_page=True)

    csp_errors = [e for e in page.console_errors if "Content Security Policy" in e]
    assert not csp_errors, csp_errors
