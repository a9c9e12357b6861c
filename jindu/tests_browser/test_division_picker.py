"""The type-to-search division picker in a real browser, under the site's CSP: on the
population form a user types a village's name or its code, sees the matching villages with
their towns (two 新村村委会 told apart), picks one and saves; a picker swapped in by htmx is
enhanced too; no console error."""

from __future__ import annotations

import pytest
from django.urls import reverse

from .conftest import RESULTS
from .test_smoke import _with_csp

pytestmark = pytest.mark.browser

PASSWORD = "Browser-test-2024"
XINPO_XINCUN = "460106102202"  # 新坡镇 · 新村村委会; 海秀镇 has a 新村村委会 too (460105102200)


def test_type_to_find_a_village_and_save(live_server, haikou, page):
    from playwright.sync_api import expect

    from jindu.accounts.models import Role, RoleAssignment, User
    from jindu.accounts.roles import ensure_default_roles
    from jindu.geo.models import Division, Population

    ensure_default_roles()
    user = User.objects.create_user(username="ncc_pop", password=PASSWORD, full_name="人口数据管理员")
    RoleAssignment.objects.create(user=user, role=Role.objects.get(code="ncc_admin"),
                                  division=Division.objects.get(code="460100000000"))
    village = Division.objects.get(code=XINPO_XINCUN)
    errors = page.console_errors
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    base = live_server.url
    with _with_csp():
        page.goto(f"{base}/login/")
        page.fill("#id_username", "ncc_pop")
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/")
        page.goto(f"{base}{reverse('geo:population_create')}")

        # The plain <select> became a search box; the page's label points at its input.
        search = page.locator("#id_division-ts-control")
        search.wait_for()
        assert page.locator("label[for=id_division-ts-control]").inner_text().startswith("区划")
        options = page.locator(".ts-dropdown .option")

        # By code (typed digit by digit): exactly the one village.
        search.click()
        search.press_sequentially("460107001001")
        expect(options).to_have_count(1)
        assert options.all_inner_texts() == ["国兴街道 · 巴伦社区居委会（460107001001）"]

        # By name (Chinese, as an input method commits it): both 新村村委会, told apart by town.
        search.fill("新村村委会")
        expect(options).to_have_count(2)
        assert sorted(options.all_inner_texts()) == ["新坡镇 · 新村村委会（460106102202）",
                                                     "海秀镇 · 新村村委会（460105102200）"]
        page.screenshot(path=str(RESULTS / "division-picker-search.png"), full_page=True)
        options.filter(has_text="新坡镇").click()
        assert page.input_value("#id_division") == str(village.pk)  # the form's own select holds it
        assert "新坡镇 · 新村村委会" in page.locator("#id_division + .ts-wrapper .item").inner_text()

        # Nothing matches: a Chinese message, not the library's English one.
        search.click()
        search.fill("不存在的村")
        page.locator(".ts-dropdown .no-results").wait_for()
        assert page.locator(".ts-dropdown .no-results").inner_text() == "没有匹配的区划"
        page.keyboard.press("Escape")
        assert page.input_value("#id_division") == str(village.pk)

        page.select_option("#id_kind", "census resident")
        page.fill("#id_year", "2020")
        page.fill("#id_population", "3120")
        page.fill("#id_source_doc", "浏览器测试来源（非真实数据）")
        page.screenshot(path=str(RESULTS / "division-picker-filled.png"), full_page=True)
        page.click("main form button[type=submit]")
        page.wait_for_url(f"{base}{reverse('geo:population_list')}**")

        # A picker arriving in an htmx swap is enhanced as well.
        page.goto(f"{base}{reverse('geo:population_create')}")
        page.locator("#id_division-ts-control").wait_for()
        page.evaluate("""async () => {
            const html = await (await fetch(location.href)).text();
            const select = new DOMParser().parseFromString(html, 'text/html').getElementById('id_division');
            select.id = 'id_swapped';
            const host = document.createElement('div'); host.id = 'swap-host';
            document.querySelector('main').appendChild(host);
            htmx.swap('#swap-host', select.outerHTML, {swapStyle: 'innerHTML'});
        }""")
        swapped = page.locator("#id_swapped-ts-control")
        swapped.wait_for()
        swapped.click()
        swapped.fill("巴伦")
        swapped_options = page.locator("#id_swapped + .ts-wrapper .option")
        expect(swapped_options).to_have_count(1)
        assert all("巴伦" in text for text in swapped_options.all_inner_texts())
    assert errors == [], errors
    figure = Population.objects.get(source_doc="浏览器测试来源（非真实数据）")
    assert figure.division == village and figure.population == 3120
