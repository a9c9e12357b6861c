"""Precursor chemicals in a real browser, with the site's Content-Security-Policy on.

1. An enterprise's own user logs in and lands on their enterprise page (not the city
   dashboard), records an inbound of 200 kg 硫酸 and an outbound of 50 L (converted with
   the density given) through the ledger form, sees the balance follow, is refused (in
   Chinese, nothing written) an
   outbound beyond the balance, and cannot open another enterprise's page (404) nor the
   discrepancy queue (403).
2. A regulator reads the overview, the enterprise list with a filter, an enterprise page
   and the discrepancy queue; a Category 1 purchase without a purchase licence, found by
   the reconciliation, is assigned, worked and closed, and the queue shows it closed.

No page may log a console error (a CSP refusal is one) or raise a script error.
Screenshots of every step go to ``$JINDU_BROWSER_SHOTS`` (default
``test-results/precursors/``).
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from .conftest import RESULTS
from .test_smoke import _with_csp

pytestmark = pytest.mark.browser

PASSWORD = "Browser-test-2024"
SHOTS = Path(os.environ.get("JINDU_BROWSER_SHOTS", str(RESULTS / "precursors")))
EPHEDRINE = "麻黄素（麻黄碱）"  # Category 1 (pharmaceutical)


@pytest.fixture
def world(haikou):
    """Two enterprises in 龙华区 (the enterprise user's own and another), reference data a
    flushed database lost (roles, the chemical catalogue), and a supervising department."""
    from jindu.accounts.roles import ensure_default_roles
    from jindu.core.testing import division
    from jindu.org.models import Unit
    from jindu.precursors.choices import EnterpriseKind, LicenceKind, RiskLevel
    from jindu.precursors.loaders import load_catalogue
    from jindu.precursors.tests.factories import EnterpriseFactory, LicenceFactory, licence_line

    ensure_default_roles()
    load_catalogue()
    SHOTS.mkdir(parents=True, exist_ok=True)
    unit = Unit.objects.create(name="龙华区应急管理局", kind="department", division=division("460106"))
    own = EnterpriseFactory(name="龙华精细化工有限公司", kind=EnterpriseKind.USER, division=division("460106001"),
                            address="中山街道滨海大道88号", contact_name="陈经理", risk_level=RiskLevel.MEDIUM)
    other = EnterpriseFactory(name="海口琼药原料贸易有限公司", kind=EnterpriseKind.TRADER,
                              division=division("460106002"), address="滨海街道龙昆北路6号")
    for e in (own, other):
        e.supervising_units.add(unit)
    today = _today()
    filing = LicenceFactory(enterprise=own, kind=LicenceKind.PURCHASE_FILING, issuer="海口市公安局龙华分局",
                            valid_from=today - timedelta(days=200), valid_until=today + timedelta(days=500))
    licence_line(filing, "硫酸", Decimal("5000"))
    return own, other, unit


def _today():
    from jindu.core.timeutils import local_today

    return local_today()


def _user(username: str, role: str, code: str, full_name: str, unit=None):
    from jindu.accounts.models import User
    from jindu.core.testing import grant

    user = User.objects.create_user(username=username, password=PASSWORD, full_name=full_name, unit=unit)
    grant(user, role, code)
    return user


def _login(page, base: str, username: str, lands_on: str = "/") -> None:
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}{lands_on}")


def _shot(page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _watch(page) -> list[str]:
    """Console errors (CSP refusals included, from the ``page`` fixture) and uncaught
    script errors, in one list."""
    page.on("pageerror", lambda e: page.console_errors.append(f"pageerror: {e}"))
    return page.console_errors


def _refused(page, url: str, status: int, errors: list[str]) -> None:
    """Open ``url`` expecting ``status``; the browser's own "failed to load resource" line
    for that answer is the only console error it may add."""
    before = len(errors)
    response = page.goto(url)
    assert response.status == status, (url, response.status)
    added = errors[before:]
    expected = f"status of {status}"
    assert all(expected in e for e in added), added
    del errors[before:]


def _save(page) -> None:
    page.click("[data-testid=edit-form] button[type=submit]:not([name=again])")


def _balance(page) -> str:
    return page.locator("[data-testid=balances] [data-chemical='硫酸']").inner_text().strip()


def test_enterprise_user_keeps_its_ledger(live_server, world, page):
    from jindu.precursors.models import LedgerEntry, StockBalance
    from jindu.precursors.tests.factories import chemical

    own, other, _unit = world
    user = _user("longhua_fine_chem", "enterprise", "460106", "陈经理")
    own.account_users.add(user)
    base = live_server.url
    errors = _watch(page)
    with _with_csp():
        # An enterprise's own account starts at its enterprise, not at the city dashboard.
        _login(page, base, "longhua_fine_chem", lands_on=f"/precursors/enterprises/{own.pk}/")
        _shot(page, "01-enterprise-user-home")
        page.click("[data-nav=precursors]")
        page.wait_for_url(f"{base}/precursors/enterprises/{own.pk}/")
        assert "龙华精细化工有限公司" in page.locator("h1").inner_text()
        nav = page.locator("[data-testid=precursors-nav]").inner_text()
        assert "本企业" in nav and "核对问题" not in nav
        assert page.locator("[data-testid=balances]").count() == 0  # nothing recorded yet
        _shot(page, "02-enterprise-page-empty")

        # Inbound: 200 kg 硫酸 from an outside supplier.
        page.click("[data-testid=post-entry]")
        page.wait_for_selector("[data-testid=edit-form]")
        # Its only enterprise is shown as text, name and credit code in full.
        fixed = page.locator("[data-testid=fixed-enterprise]").inner_text()
        assert "龙华精细化工有限公司" in fixed and own.credit_code in fixed
        assert page.locator("select[name=enterprise]").count() == 0
        assert page.input_value("#id_occurred_on") == _today().isoformat()
        page.select_option("#id_chemical", label="第三类 · 硫酸")
        page.select_option("#id_direction", "in")
        page.fill("#id_quantity_entered", "200")
        page.select_option("#id_unit_entered", "kg")
        page.fill("#id_counterparty_name", "广东某化工贸易有限公司")
        page.fill("#id_document_number", "RK-2026-001")
        page.fill("#id_purpose", "生产清洗用")
        _shot(page, "03-ledger-form-inbound")
        _save(page)
        page.wait_for_url(f"{base}/precursors/enterprises/{own.pk}/")
        assert "当前结存 200 千克" in page.locator(".alert-success").inner_text()
        assert _balance(page) == "200"
        _shot(page, "04-enterprise-page-after-inbound")

        # Outbound: 50 L at 1.84 kg/L = 92 kg.
        page.click("[data-testid=post-entry]")
        page.select_option("#id_chemical", label="第三类 · 硫酸")
        page.select_option("#id_direction", "out")
        page.fill("#id_quantity_entered", "50")
        page.select_option("#id_unit_entered", "L")
        page.fill("#id_density_kg_per_l", "1.84")
        page.fill("#id_counterparty_name", "海南某电镀厂")
        page.fill("#id_document_number", "CK-2026-001")
        _shot(page, "05-ledger-form-outbound-litres")
        _save(page)
        page.wait_for_url(f"{base}/precursors/enterprises/{own.pk}/")
        assert "出库 硫酸 92 千克，当前结存 108 千克" in page.locator(".alert-success").inner_text()
        assert _balance(page) == "108"
        ledger = page.locator("[data-testid=ledger-table]")
        assert "50 升 × 1.84 千克/升" in ledger.inner_text() and "−92" in ledger.inner_text()
        _shot(page, "06-enterprise-page-after-outbound")

        # An outbound beyond the balance is refused with the reason; nothing is written.
        page.click("[data-testid=post-entry]")
        page.select_option("#id_chemical", label="第三类 · 硫酸")
        page.select_option("#id_direction", "out")
        page.fill("#id_quantity_entered", "150")
        page.select_option("#id_unit_entered", "kg")
        _save(page)
        refusal = page.locator("[data-testid=form-errors]")
        refusal.wait_for()
        reason = refusal.inner_text()
        assert "硫酸 当前结存 108 千克，本次出库 150 千克" in reason and "结存将为负数，已拒绝" in reason, reason
        assert page.input_value("#id_quantity_entered") == "150"  # what was typed is kept
        _shot(page, "07-ledger-form-refused")
        assert LedgerEntry.objects.filter(enterprise=own).count() == 2
        assert StockBalance.objects.get(enterprise=own, chemical=chemical("硫酸")).quantity_kg == Decimal("108")
        page.click("[data-testid=precursors-nav] >> text=本企业")  # its one enterprise, not a list of one
        page.wait_for_url(f"{base}/precursors/enterprises/{own.pk}/")
        assert _balance(page) == "108"
        _shot(page, "08-enterprise-user-own-tab")

        # Another enterprise's page is "not found"; the discrepancy queue is refused.
        _refused(page, f"{base}/precursors/enterprises/{other.pk}/", 404, errors)
        _shot(page, "09-other-enterprise-404")
        _refused(page, f"{base}/precursors/discrepancies/", 403, errors)
        assert page.locator("main").inner_text().count("您的角色没有此操作的权限。") == 1
        _shot(page, "09b-discrepancy-queue-403")
    assert errors == [], errors


def test_regulator_works_a_discrepancy_to_closure(live_server, world, page):
    from jindu.precursors.choices import Direction, DiscrepancyStatus
    from jindu.precursors.models import Discrepancy
    from jindu.precursors.tests.factories import entry

    own, other, unit = world
    today = _today()
    entry(own, "硫酸", Direction.IN, "500", today - timedelta(days=10), counterparty_name="广东某化工贸易有限公司")
    # A Category 1 purchase with no purchase licence at all.
    entry(other, EPHEDRINE, Direction.IN, "5", today - timedelta(days=3), counterparty_name="外省某药业公司",
          document_number="RK-0315")
    from jindu.precursors.reconciliation import codes, run_reconciliation

    run_reconciliation(as_of=today)
    finding = Discrepancy.objects.get(rule=codes.PURCHASE_UNLICENSED, enterprise=other)
    assert not Discrepancy.objects.filter(enterprise=own).exists()  # the filed purchase is clean

    regulator = _user("longhua_yjj", "regulator", "460106", "李监管", unit=unit)
    _user("longhua_police", "police", "460106", "王警官")
    base = live_server.url
    errors = _watch(page)
    with _with_csp():
        _login(page, base, regulator.username)
        page.click("[data-nav=precursors]")
        page.wait_for_url(f"{base}/precursors/")
        assert page.locator("[data-testid=enterprise-count]").inner_text().startswith("2")
        assert page.locator("[data-testid=open-discrepancies]").inner_text() == "1"
        page.wait_for_selector("#precursor-kind-chart canvas")  # ECharts drew the chart under the CSP
        _shot(page, "10-regulator-overview")

        # The enterprise list, filtered to traders.
        page.click("[data-testid=precursors-nav] >> text=企业")
        page.wait_for_selector("[data-testid=enterprise-table]")
        assert page.locator("[data-testid=enterprise-table] tbody tr").count() == 2
        page.select_option("#id_kind", "trader")
        page.click("[data-testid=enterprise-filters] button[type=submit]")
        page.wait_for_url(re.compile(r"/precursors/enterprises/\?.*kind=trader"))
        rows = page.locator("[data-testid=enterprise-table] tbody tr")
        assert rows.count() == 1 and "海口琼药原料贸易有限公司" in rows.inner_text()
        _shot(page, "11-regulator-enterprise-list-filtered")

        # The enterprise page shows its balance and the open finding.
        rows.locator("a", has_text="海口琼药原料贸易有限公司").click()
        page.wait_for_url(f"{base}/precursors/enterprises/{other.pk}/")
        assert page.locator(f"[data-testid=balances] [data-chemical='{EPHEDRINE}']").inner_text() == "5"
        assert finding.summary in page.locator("[data-testid=enterprise-discrepancies]").inner_text()
        _shot(page, "12-regulator-enterprise-page")

        # The queue, then the finding: assign, record work, close.
        page.click("[data-testid=precursors-nav] >> text=核对问题")
        page.wait_for_selector("[data-testid=discrepancy-table]")
        queue = page.locator("[data-testid=discrepancy-table] tbody tr")
        assert queue.count() == 1
        assert queue.locator("[data-status]").get_attribute("data-status") == "open"
        _shot(page, "13-regulator-queue-open")
        queue.locator("a", has_text=finding.summary[:20]).click()
        page.wait_for_url(f"{base}/precursors/discrepancies/{finding.pk}/")
        evidence = page.locator("[data-testid=evidence-entries]").inner_text()
        assert EPHEDRINE in evidence and "外省某药业公司" in evidence
        if finding.detected_by_run_id:  # raised by the rules: the page cites the Regulation's article
            assert "第十四条" in page.locator("[data-testid=rule]").inner_text()
        _shot(page, "14-discrepancy-detail-open")

        deadline = today + timedelta(days=15)
        assign = page.locator("[data-testid=assign-form]")
        assign.locator("select[name=assign-assignee]").select_option(label="王警官")
        assign.locator("input[name=assign-deadline]").fill(deadline.isoformat())
        assign.locator("button[type=submit]").click()
        page.wait_for_selector(".alert-success:has-text('已指派承办人')")
        assert page.locator("[data-testid=status]").get_attribute("data-status") == "in_progress"
        _shot(page, "15-discrepancy-assigned")

        work = page.locator("[data-testid=work-form]")
        page.get_by_label("核查情况").fill("已调取购销合同，企业称对方口头承诺代办购买许可证。")  # labelled
        work.locator("button[type=submit]").click()
        page.wait_for_selector(".alert-success:has-text('已记录核查情况')")
        notes = page.locator("[data-testid=work-notes]").inner_text()
        assert "李监管] 已调取购销合同" in notes and "longhua_yjj" not in notes  # signed with the name
        _shot(page, "16-discrepancy-worked")

        close = page.locator("[data-testid=close-form]")
        close.locator("select[name=close-resolution]").select_option("rectified")
        close.locator("textarea[name=close-note]").fill("已责令企业停止购入，补办购买许可证前不得使用。")
        close.locator("button[type=submit]").click()
        page.wait_for_selector(".alert-success:has-text('问题已办结')")
        assert page.locator("[data-testid=status]").get_attribute("data-status") == "closed"
        assert "已责令整改" in page.locator("[data-testid=resolution]").inner_text()
        assert page.locator("[data-testid=reopen-form]").count() == 1
        assert "data-due" not in page.content()  # closed: the deadline shown without a due badge
        _shot(page, "17-discrepancy-closed")

        page.click("[data-testid=precursors-nav] >> text=核对问题")  # the detail page keeps the module's tabs
        page.wait_for_selector("[data-testid=discrepancy-table]")
        row = page.locator("[data-testid=discrepancy-table] tbody tr")
        assert row.count() == 1 and row.locator("[data-status]").get_attribute("data-status") == "closed"
        assert "王警官" in row.inner_text()
        counts = page.locator("[data-testid=discrepancy-counts]").inner_text()
        assert "待处理 0" in counts and "核查中 0" in counts and "已办结 1" in counts
        _shot(page, "18-regulator-queue-closed")
    finding.refresh_from_db()
    assert finding.status == DiscrepancyStatus.CLOSED and finding.assignee.username == "longhua_police"
    assert finding.deadline == deadline and finding.closed_by == regulator
    assert errors == [], errors
