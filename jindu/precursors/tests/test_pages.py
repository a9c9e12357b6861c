"""Precursor pages: every relevant default role, the enterprise page, ledger posting,
voiding and stock counts through the pages, licences, enterprise forms, the discrepancy
queue and workflow, supervision lists, the overview, and flat query counts."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from jindu.core.scope import ADD, has_model_permission
from jindu.core.testing import division, grant, make_user
from jindu.core.timeutils import local_now, local_today
from jindu.precursors.choices import DiscrepancySeverity, DiscrepancyStatus, LicenceKind
from jindu.precursors.models import (
    Discrepancy,
    Enterprise,
    LedgerEntry,
    Licence,
    StockBalance,
    StockCount,
)
from jindu.precursors.tests.factories import EnterpriseFactory, LicenceFactory, chemical, entry, licence_line


# -- helpers (imported by test_scope and test_api) ---------------------------------------------
def user_as(role: str, code: str, **fields):
    """A new user holding default role ``role`` in division ``code``."""
    user = make_user(**fields)
    grant(user, role, code)
    return user


def account_of(enterprise: Enterprise):
    """A new enterprise-role user who is ``enterprise``'s own account."""
    user = make_user()
    grant(user, "enterprise", enterprise.division.parent)
    enterprise.account_users.add(user)
    return user


_fp = iter(range(1, 10**6))


def discrepancy(enterprise: Enterprise, *, rule: str = "test_rule", summary: str = "测试问题", **fields) -> Discrepancy:
    return Discrepancy.objects.create(rule=rule, fingerprint=f"fp-{next(_fp)}", enterprise=enterprise,
                                      summary=summary, **fields)


def balance_text(html: str, name: str) -> str:
    m = re.search(rf'data-chemical="{re.escape(name)}">([^<]*)<', html)
    return m.group(1) if m else ""


@pytest.fixture
def world(db):
    """An enterprise in 龙华区 (中山街道) and one in 秀英区, each with a discrepancy, a
    balance and a licence."""
    inside = EnterpriseFactory(division=division("460106001"), name="龙华化工有限公司")
    outside = EnterpriseFactory(division=division("460105001"), name="秀英化工有限公司")
    for e in (inside, outside):
        entry(e, "硫酸", quantity_kg="500")
        lic = LicenceFactory(enterprise=e)
        licence_line(lic, "硫酸", Decimal("1000"))
    d_in = discrepancy(inside, summary="龙华购买未备案", chemical=chemical("硫酸"))
    d_out = discrepancy(outside, summary="秀英购买未备案", chemical=chemical("硫酸"))
    return inside, outside, d_in, d_out


VIEW_PAGES = ("precursors:enterprise_list", "precursors:discrepancy_list", "precursors:supervision")


@pytest.mark.parametrize("role,code", [
    ("ncc_admin", "460100"), ("district_office", "460106"), ("town_office", "460106001"),
    ("regulator", "460106"), ("police", "460106"), ("leader", "460106"), ("assessor", "460106"),
])
def test_pages_for_each_supervising_role(world, client, role, code):
    inside, outside, d_in, d_out = world
    user = user_as(role, code)
    client.force_login(user)
    overview = client.get(reverse("precursors:overview"))
    assert overview.status_code == 200
    for name in VIEW_PAGES:
        assert client.get(reverse(name)).status_code == 200, name
    html = client.get(reverse("precursors:enterprise_list")).content.decode()
    assert "龙华化工有限公司" in html
    assert ("秀英化工有限公司" in html) == (role == "ncc_admin")
    assert client.get(reverse("precursors:enterprise_detail", args=[inside.pk])).status_code == 200
    assert client.get(reverse("precursors:enterprise_ledger", args=[inside.pk])).status_code == 200
    assert client.get(reverse("precursors:discrepancy_detail", args=[d_in.pk])).status_code == 200
    out_status = 200 if role == "ncc_admin" else 404
    assert client.get(reverse("precursors:enterprise_detail", args=[outside.pk])).status_code == out_status
    assert client.get(reverse("precursors:discrepancy_detail", args=[d_out.pk])).status_code == out_status
    queue = client.get(reverse("precursors:discrepancy_list")).content.decode()
    assert "龙华购买未备案" in queue and ("秀英购买未备案" in queue) == (role == "ncc_admin")
    # Write pages follow the role's permissions; read-only roles get 403, never a form.
    may_post = has_model_permission(user, LedgerEntry, ADD)
    assert client.get(reverse("precursors:entry_create")).status_code == (200 if may_post else 403)
    may_add = has_model_permission(user, Enterprise, ADD)
    assert client.get(reverse("precursors:enterprise_create")).status_code == (200 if may_add else 403)
    if role in ("leader", "assessor"):
        assert not may_post and not may_add
        detail = client.get(reverse("precursors:discrepancy_detail", args=[d_in.pk])).content.decode()
        assert 'data-testid="assign-form"' not in detail
        response = client.post(reverse("precursors:discrepancy_work", args=[d_in.pk]),
                               {"work-version": 1, "work-notes": "领导不能办理"})
        assert response.status_code == 403
    if role in ("ncc_admin", "regulator", "police"):
        assert may_post and may_add


def test_roles_without_precursor_permissions_are_refused(world, client):
    inside, _outside, d_in, _d_out = world
    client.force_login(user_as("social_worker", "460106001"))
    for name in ("precursors:overview", *VIEW_PAGES, "precursors:entry_create"):
        assert client.get(reverse(name)).status_code == 403, name
    assert client.get(reverse("precursors:enterprise_detail", args=[inside.pk])).status_code == 403
    assert client.get(reverse("precursors:discrepancy_detail", args=[d_in.pk])).status_code == 403


def test_navigation_leads_to_the_module(world, client):
    client.force_login(user_as("regulator", "460106"))
    html = client.get("/").content.decode()
    assert 'data-nav="precursors"' in html and f'href="{reverse("precursors:overview")}"' in html


# -- the enterprise user ---------------------------------------------------------------------
def test_enterprise_user_lands_on_and_sees_only_its_enterprise(world, client):
    inside, outside, d_in, _d_out = world
    user = account_of(inside)
    client.force_login(user)
    response = client.get(reverse("precursors:overview"))
    assert response.status_code == 302
    assert response["Location"] == reverse("precursors:enterprise_detail", args=[inside.pk])
    page = client.get(response["Location"]).content.decode()
    assert "龙华化工有限公司" in page and 'data-testid="balances"' in page
    # Never discrepancies: not on its page, not in the navigation, 403 on their pages.
    assert "龙华购买未备案" not in page and reverse("precursors:discrepancy_list") not in page
    assert client.get(reverse("precursors:discrepancy_list")).status_code == 403
    assert client.get(reverse("precursors:discrepancy_detail", args=[d_in.pk])).status_code == 403
    listing = client.get(reverse("precursors:enterprise_list")).content.decode()
    assert "龙华化工有限公司" in listing and "秀英化工有限公司" not in listing
    for name in ("precursors:enterprise_detail", "precursors:enterprise_ledger"):
        assert client.get(reverse(name, args=[outside.pk])).status_code == 404
    other_entry = LedgerEntry.objects.filter(enterprise=outside).first()
    assert client.get(reverse("precursors:entry_detail", args=[other_entry.pk])).status_code == 404
    # It cannot edit its own enterprise record or licences either (the regulators keep those).
    assert client.get(reverse("precursors:enterprise_edit", args=[inside.pk])).status_code == 403


def test_enterprise_user_starts_at_its_enterprise_not_the_city_dashboard(world, client):
    inside, *_ = world
    user = account_of(inside)
    client.force_login(user)
    home = client.get("/")
    assert home.status_code == 302
    assert home["Location"] == reverse("precursors:enterprise_detail", args=[inside.pk])
    # The "本企业" tab leads to the enterprise itself, not to a list of one.
    page = client.get(home["Location"]).content.decode()
    nav = page.split('data-testid="precursors-nav"')[1].split("</ul>")[0]
    assert "本企业" in nav and f'href="{reverse("precursors:enterprise_detail", args=[inside.pk])}"' in nav
    # No divisions or units to browse in the main menu.
    assert f'href="{reverse("geo:division_tree")}"' not in page and f'href="{reverse("org:unit_list")}"' not in page
    # Keeping two enterprises: the list.
    second = EnterpriseFactory(division=division("460106002"), name="龙华第二化工有限公司")
    second.account_users.add(user)
    assert client.get("/")["Location"] == reverse("precursors:enterprise_list")
    # A jurisdiction role keeps the dashboard and the menus.
    client.force_login(user_as("regulator", "460106"))
    dashboard = client.get("/")
    assert dashboard.status_code == 200 and f'href="{reverse("geo:division_tree")}"' in dashboard.content.decode()


def test_enterprise_user_form_shows_its_enterprise_in_full(world, client):
    inside, *_ = world
    client.force_login(account_of(inside))
    for name in ("precursors:entry_create", "precursors:count_create"):
        form = client.get(reverse(name)).content.decode()
        fixed = form.split('data-testid="fixed-enterprise">')[1].split("</div>\n")[0]
        assert "龙华化工有限公司" in fixed and inside.credit_code in fixed
        assert '<select name="enterprise"' not in form
        assert f'<input type="hidden" name="enterprise" value="{inside.pk}"' in form


def test_refusal_page_says_it_once(world, client):
    client.force_login(account_of(world[0]))
    page = client.get(reverse("precursors:discrepancy_list"))
    assert page.status_code == 403
    assert page.content.decode().count("您的角色没有此操作的权限。") == 1


def test_enterprise_user_posting_for_another_enterprise_is_refused(world, client):
    inside, outside, _d_in, _d_out = world
    user = account_of(inside)
    client.force_login(user)
    form = client.get(reverse("precursors:entry_create")).content.decode()
    assert "龙华化工有限公司" in form and "秀英化工有限公司" not in form
    before = LedgerEntry.objects.count()
    response = client.post(reverse("precursors:entry_create"), {
        "enterprise": outside.pk, "chemical": chemical("硫酸").pk, "occurred_on": local_today().isoformat(),
        "direction": "out", "quantity_entered": "10", "unit_entered": "kg"})
    assert response.status_code == 200 and 'data-testid="form-errors"' in response.content.decode()
    assert LedgerEntry.objects.count() == before
    assert StockBalance.objects.get(enterprise=outside, chemical=chemical("硫酸")).quantity_kg == Decimal("500")


def test_posting_through_the_page_updates_the_balance_shown(world, client):
    inside, _outside, _d_in, _d_out = world
    client.force_login(account_of(inside))
    url = reverse("precursors:entry_create")
    acid = chemical("硫酸")
    base = {"enterprise": inside.pk, "chemical": acid.pk, "occurred_on": local_today().isoformat(),
            "unit_entered": "kg", "counterparty_name": "某化工贸易公司"}
    response = client.post(url, {**base, "direction": "in", "quantity_entered": "120.5"})
    assert response.status_code == 302
    assert response["Location"] == reverse("precursors:enterprise_detail", args=[inside.pk])
    page = client.get(response["Location"]).content.decode()
    assert balance_text(page, "硫酸") == "620.5"
    assert "当前结存 620.5 千克" in page  # the success message
    client.post(url, {**base, "direction": "used", "quantity_entered": "600"})
    page = client.get(reverse("precursors:enterprise_detail", args=[inside.pk])).content.decode()
    assert balance_text(page, "硫酸") == "20.5"
    # An outbound beyond the balance is refused with the reason, and nothing changes.
    response = client.post(url, {**base, "direction": "out", "quantity_entered": "21"})
    assert response.status_code == 200
    assert "结存将为负数" in response.content.decode()
    assert "当前结存 20.5 千克，本次出库 21 千克" in response.content.decode()  # kilograms as the page shows them
    page = client.get(reverse("precursors:enterprise_detail", args=[inside.pk])).content.decode()
    assert balance_text(page, "硫酸") == "20.5"


def test_litres_are_converted_with_the_density_given(world, client):
    inside, *_ = world
    client.force_login(user_as("regulator", "460106"))
    response = client.post(reverse("precursors:entry_create"), {
        "enterprise": inside.pk, "chemical": chemical("硫酸").pk, "occurred_on": local_today().isoformat(),
        "direction": "in", "quantity_entered": "10", "unit_entered": "L", "density_kg_per_l": "1.84"})
    assert response.status_code == 302
    posted = LedgerEntry.objects.filter(enterprise=inside).latest("id")
    assert posted.quantity_kg == Decimal("18.400") and posted.unit_entered == "L"
    assert posted.balance_after_kg == Decimal("518.400")
    # The ledger row says what was written and the density used.
    page = client.get(reverse("precursors:enterprise_detail", args=[inside.pk])).content.decode()
    assert "10 升 × 1.84 千克/升" in page
    entry_page = client.get(reverse("precursors:entry_detail", args=[posted.pk])).content.decode()
    assert "录入 10 升 × 1.84 千克/升" in entry_page


def test_void_through_the_page_reverses_the_balance(world, client):
    inside, *_ = world
    client.force_login(user_as("regulator", "460106"))
    e = entry(inside, "硫酸", direction="out", quantity_kg="100")
    detail = client.get(reverse("precursors:entry_detail", args=[e.pk])).content.decode()
    assert 'data-testid="void-form"' in detail
    response = client.post(reverse("precursors:entry_void", args=[e.pk]), {"reason": ""})
    assert response.status_code == 302 and LedgerEntry.objects.get(pk=e.pk).voided_at is None
    client.post(reverse("precursors:entry_void", args=[e.pk]), {"reason": "重复登记"})
    assert LedgerEntry.objects.get(pk=e.pk).voided_at is not None
    page = client.get(reverse("precursors:enterprise_detail", args=[inside.pk])).content.decode()
    assert balance_text(page, "硫酸") == "500"
    assert 'data-testid="voided"' in client.get(reverse("precursors:entry_detail", args=[e.pk])).content.decode()


def test_enterprise_user_cannot_void_an_entry_past_the_reporting_window(world, client):
    # Enterprises void their own recent entries (test_enterprise_void.py); this one is old.
    inside, *_ = world
    client.force_login(account_of(inside))
    e = LedgerEntry.objects.filter(enterprise=inside).first()
    assert e.occurred_on < local_today() - timedelta(days=30)
    assert 'data-testid="void-form"' not in client.get(reverse("precursors:entry_detail", args=[e.pk])).content.decode()
    assert client.post(reverse("precursors:entry_void", args=[e.pk]), {"reason": "x"}).status_code == 302
    assert LedgerEntry.objects.get(pk=e.pk).voided_at is None


def test_stock_count_through_the_page(world, client):
    inside, *_ = world
    client.force_login(account_of(inside))
    response = client.post(reverse("precursors:count_create"), {
        "enterprise": inside.pk, "chemical": chemical("硫酸").pk, "counted_on": local_today().isoformat(),
        "quantity_kg": "480", "counted_by": "张三"})
    assert response.status_code == 302
    count = StockCount.objects.get(enterprise=inside)
    assert count.ledger_balance_kg == Decimal("500.000") and count.difference_kg == Decimal("-20.000")
    page = client.get(response["Location"]).content.decode()
    assert 'data-testid="counts"' in page and "-20" in page


# -- licences and enterprise forms -------------------------------------------------------------
def test_licence_created_through_the_page_and_expiring_soon_highlighted(world, client):
    inside, *_ = world
    client.force_login(user_as("regulator", "460106"))
    soon = local_today() + timedelta(days=10)
    url = reverse("precursors:licence_create", args=[inside.pk])
    data = {"kind": LicenceKind.PURCHASE_LICENCE, "number": "（琼）1J46010000999", "issuer": "海口市公安局",
            "valid_from": (local_today() - timedelta(days=300)).isoformat(), "valid_until": soon.isoformat(),
            "lines-TOTAL_FORMS": "4", "lines-INITIAL_FORMS": "0", "lines-MIN_NUM_FORMS": "0",
            "lines-MAX_NUM_FORMS": "1000"}
    response = client.post(url, data)  # no chemical: refused
    assert response.status_code == 200 and "请至少选择一个品种" in response.content.decode()
    data.update({"lines-0-chemical": chemical("麻黄素（麻黄碱）").pk, "lines-0-quantity_limit_kg": "5"})
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    lic = Licence.objects.get(kind=LicenceKind.PURCHASE_LICENCE, enterprise=inside)
    assert lic.lines.get().quantity_limit_kg == Decimal("5.000")
    page = client.get(reverse("precursors:enterprise_detail", args=[inside.pk])).content.decode()
    assert 'data-expiring="1"' in page and 'data-testid="expiring-badge"' in page
    assert page.count('data-expiring="1"') == 1  # the other licence runs to 2027


def test_enterprise_create_and_stale_edit(db, client):
    from jindu.inspections.models import Target
    from jindu.org.models import Unit
    from jindu.precursors.tests.factories import credit_code

    unit = Unit.objects.create(name="龙华区应急管理局", kind="department", division=division("460106"))
    client.force_login(user_as("regulator", "460106"))
    response = client.post(reverse("precursors:enterprise_create"), {
        "name": "新登记化工公司", "credit_code": "123", "kind": "user", "division": division("460106001").pk,
        "risk_level": "low", "status": "operating"})
    assert response.status_code == 200 and "统一社会信用代码" in response.content.decode()
    response = client.post(reverse("precursors:enterprise_create"), {
        "name": "新登记化工公司", "credit_code": credit_code(9001), "kind": "user",
        "division": division("460106001").pk, "supervising_units": [unit.pk], "risk_level": "low",
        "status": "operating"})
    assert response.status_code == 302
    e = Enterprise.objects.get(name="新登记化工公司")
    assert list(e.supervising_units.all()) == [unit]
    assert Target.objects.filter(source_model="precursors.Enterprise", source_key=str(e.pk)).exists()
    edit = reverse("precursors:enterprise_edit", args=[e.pk])
    assert client.get(edit).status_code == 200
    payload = {"name": "改名化工公司", "credit_code": e.credit_code, "kind": "user", "division": e.division_id,
               "supervising_units": [unit.pk], "risk_level": "high", "status": "operating", "version": e.version}
    assert client.post(edit, payload).status_code == 302
    stale = client.post(edit, {**payload, "name": "再改名"})
    assert stale.status_code == 200 and "已被他人修改" in stale.content.decode()
    e.refresh_from_db()
    assert e.name == "改名化工公司" and e.risk_level == "high"


# -- discrepancies ---------------------------------------------------------------------------
def test_discrepancy_queue_filters_and_workflow(world, client):
    inside, _outside, d_in, _d_out = world
    worker = user_as("regulator", "460106", full_name="张核查")
    overdue = discrepancy(inside, summary="逾期问题", deadline=local_today() - timedelta(days=2),
                          status=DiscrepancyStatus.IN_PROGRESS, severity=DiscrepancySeverity.REVIEW)
    client.force_login(worker)
    html = client.get(reverse("precursors:discrepancy_list"), {"overdue": "true"}).content.decode()
    assert "逾期问题" in html and "龙华购买未备案" not in html
    html = client.get(reverse("precursors:discrepancy_list"), {"severity": "violation"}).content.decode()
    assert "逾期问题" not in html and "龙华购买未备案" in html
    bad = client.get(reverse("precursors:discrepancy_list"), {"overdue": "maybe"}).content.decode()
    assert 'data-testid="filter-errors"' in bad and "龙华购买未备案" not in bad
    # Open items come first, the overdue one is flagged.
    assert 'data-due="overdue"' in client.get(reverse("precursors:discrepancy_list")).content.decode()

    detail_url = reverse("precursors:discrepancy_detail", args=[d_in.pk])
    detail = client.get(detail_url).content.decode()
    assert 'data-testid="assign-form"' in detail and 'data-testid="close-form"' in detail
    deadline = (local_today() + timedelta(days=15)).isoformat()
    client.post(reverse("precursors:discrepancy_assign", args=[d_in.pk]),
                {"assign-version": 1, "assign-assignee": worker.pk, "assign-deadline": deadline})
    d_in.refresh_from_db()
    assert d_in.assignee == worker and d_in.status == DiscrepancyStatus.IN_PROGRESS and d_in.version == 2
    # A form loaded before that save is stale: refused, nothing written.
    response = client.post(reverse("precursors:discrepancy_work", args=[d_in.pk]),
                           {"work-version": 1, "work-notes": "旧页面"}, follow=True)
    assert "已被他人修改" in response.content.decode()
    client.post(reverse("precursors:discrepancy_work", args=[d_in.pk]),
                {"work-version": 2, "work-notes": "已调取购销合同"})
    d_in.refresh_from_db()
    # The note is signed with the person's name, as the closing is.
    assert " 张核查] 已调取购销合同" in d_in.work_notes and worker.username not in d_in.work_notes
    client.post(reverse("precursors:discrepancy_close", args=[d_in.pk]),
                {"close-version": 3, "close-resolution": "referred", "close-note": "移交公安", "close-case_number": ""})
    d_in.refresh_from_db()
    assert d_in.status == DiscrepancyStatus.IN_PROGRESS  # referred needs a case number
    client.post(reverse("precursors:discrepancy_close", args=[d_in.pk]),
                {"close-version": 3, "close-resolution": "referred", "close-note": "移交公安",
                 "close-case_number": "琼公(禁)立字2026-1"})
    d_in.refresh_from_db()
    assert d_in.status == DiscrepancyStatus.CLOSED and d_in.case_number
    page = client.get(detail_url).content.decode()
    assert 'data-testid="reopen-form"' in page and "已调取购销合同" in page
    # Closed: the deadline stays, its "due" badge goes.
    assert deadline in page and "data-due=" not in page
    counts = client.get(reverse("precursors:discrepancy_list")).content.decode().split(
        'data-testid="discrepancy-counts"')[1].split("</div>")[0]
    assert re.search(r'已办结 <span class="badge[^"]*">1<', counts)
    client.post(reverse("precursors:discrepancy_reopen", args=[d_in.pk]),
                {"reopen-version": 4, "reopen-reason": "发现新证据"})
    d_in.refresh_from_db()
    assert d_in.status == DiscrepancyStatus.IN_PROGRESS and not d_in.resolution
    assert " 张核查] 重新打开：发现新证据" in d_in.work_notes
    assert overdue.pk  # kept for the filter checks above


def test_discrepancy_detail_reads_plainly_and_its_forms_are_distinct(world, client):
    inside, *_ = world
    d = discrepancy(inside, summary="购入未持证", rule="purchase_unlicensed", details={
        "entries": 1, "quantity_kg": "5.000", "category": 1, "required_document": "购买许可证",
        "limit_kg": "1250.500", "buyer_in_jindu": True})
    client.force_login(user_as("regulator", "460106"))
    page = client.get(reverse("precursors:discrepancy_detail", args=[d.pk])).content.decode()
    details = page.split("核对明细")[1].split("</dd>")[0]
    assert "第一类" in details and "类别</span>：1<" not in details
    assert "数量（千克）</span>：5<" in details and "5.000" not in details
    assert "许可限量（千克）</span>：1250.5<" in details and "</span>：是<" in details
    # The module's tabs, with the queue's tab active.
    nav = page.split('data-testid="precursors-nav"')[1].split("</ul>")[0]
    assert re.search(r'nav-link active" href="' + re.escape(reverse("precursors:discrepancy_list")), nav)
    # Assign, work and close forms on one page: no id twice, the notes have a label.
    ids = re.findall(r' id="([^"]+)"', page)
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    assert '<label class="form-label" for="id_work-notes">核查情况</label>' in page


def test_discrepancy_evidence_lists_entries_licences_and_count(world, client):
    inside, *_ = world
    e = LedgerEntry.objects.filter(enterprise=inside).first()
    lic = Licence.objects.get(enterprise=inside)
    count = StockCount.objects.create(enterprise=inside, chemical=chemical("硫酸"), counted_on=local_today(),
                                      quantity_kg=Decimal("450"), ledger_balance_kg=Decimal("500"))
    d = discrepancy(inside, summary="盘点不符", stock_count=count, rule="stock_count_mismatch")
    d.entries.add(e)
    d.licences.add(lic)
    client.force_login(user_as("police", "460106"))
    page = client.get(reverse("precursors:discrepancy_detail", args=[d.pk])).content.decode()
    assert reverse("precursors:entry_detail", args=[e.pk]) in page
    assert 'data-testid="evidence-licences"' in page and lic.number in page
    assert 'data-testid="evidence-count"' in page and "-50" in page


# -- supervision and overview ----------------------------------------------------------------
def test_supervision_list_is_the_units_responsibility_field(world, client):
    from jindu.org.models import Unit

    inside, _outside, _d_in, _d_out = world
    unit = Unit.objects.create(name="龙华区市场监督管理局", kind="department", division=division("460106"))
    other = EnterpriseFactory(division=division("460106001"), name="别的部门管的企业")
    inside.supervising_units.add(unit)
    LicenceFactory(enterprise=inside, kind=LicenceKind.TRANSPORT_FILING,
                   valid_from=local_today() - timedelta(days=100), valid_until=local_today() + timedelta(days=20))
    client.force_login(user_as("regulator", "460106", unit=unit))
    page = client.get(reverse("precursors:supervision")).content.decode()
    assert "龙华区市场监督管理局的监管责任田" in page
    assert "龙华化工有限公司" in page and "别的部门管的企业" not in page
    assert 'data-testid="supervision-expiring"' in page and "龙华购买未备案" in page
    assert other.pk
    # Without a unit: said plainly, nothing listed.
    client.force_login(user_as("regulator", "460106"))
    page = client.get(reverse("precursors:supervision")).content.decode()
    assert 'data-testid="no-unit"' in page and "龙华化工有限公司" not in page.split('data-testid="no-unit"')[1]


def test_overview_counts_for_the_scope(world, client):
    from jindu.inspections import services as inspections
    from jindu.inspections.choices import TargetKind

    inside, outside, _d_in, _d_out = world
    LicenceFactory(enterprise=inside, valid_from=local_today() - timedelta(days=100),
                   valid_until=local_today() + timedelta(days=5))
    target, _created = inspections.register_external_target(
        user=None, source_model="precursors.Enterprise", source_key=str(inside.pk),
        kind=TargetKind.PRECURSOR_ENTERPRISE, data={"name": inside.name, "division": inside.division})
    admin = user_as("ncc_admin", "460100")
    tpl = inspections.create_template(user=admin, code="precursor-test", data={
        "name": "易制毒企业测试清单", "category": "enterprise", "source": "《易制毒化学品管理条例》第三十二条",
        "pass_score_pct": 100, "rectification_days": 15},
        items=[{"code": "P01", "text": "台账齐全", "points": 1, "required": True}])
    inspections.record_inspection(user=admin, target=target, template=tpl,
                                  inspected_at=local_now().replace(second=0, microsecond=0),
                                  results={tpl.items.get().pk: ("fail", "台账缺失")})
    client.force_login(user_as("district_office", "460106"))
    page = client.get(reverse("precursors:overview")).content.decode()
    assert re.search(r'data-testid="enterprise-count">1 ', page)
    assert re.search(r'data-testid="expiring-30">1<', page)
    assert 'data-testid="by-rule"' in page and "test_rule" in page  # unknown rule: the raw code
    assert re.search(r'data-testid="inspected">1<', page)
    assert re.search(r'data-testid="hazards-found">1<', page)
    assert re.search(r'data-testid="hazards-rectified">0<', page)
    assert 'id="precursor-inspection-chart-data"' in page and "echarts.min.js" in page
    # Zero bars carry no "0" label; the others keep theirs.
    import json

    kind = json.loads(page.split('id="precursor-kind-chart-data" type="application/json">')[1].split("</script>")[0])
    values = [v for series in kind["series"] for v in series["data"]]
    assert {"value": 0, "label": {"show": False}} in values and 1 in values
    assert all(v == {"value": 0, "label": {"show": False}} or (isinstance(v, int) and v > 0) for v in values)
    assert "<script>" not in page.replace('<script src=', "")  # data only through json_script tags
    # The enterprise page shows the inspection and its hazard.
    detail = client.get(reverse("precursors:enterprise_detail", args=[inside.pk])).content.decode()
    assert 'data-testid="inspections"' in detail and "台账缺失" in detail
    assert outside.pk


# -- query counts ----------------------------------------------------------------------------
def _queries(client, url, params=None):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params or {})
    assert response.status_code == 200
    return len(ctx.captured_queries)


def _grow(n, unit, start):
    for i in range(n):
        e = EnterpriseFactory(division=division("460106001"), name=f"批量企业{start + i:03d}")
        e.supervising_units.add(unit)
        entry(e, "硫酸", quantity_kg="10")
        licence_line(LicenceFactory(enterprise=e), "丙酮")
        discrepancy(e, summary=f"批量问题{start + i}")


def test_list_page_query_counts_do_not_grow_with_rows(db, client):
    from jindu.org.models import Unit

    unit = Unit.objects.create(name="龙华区应急管理局", kind="department", division=division("460106"))
    user = user_as("regulator", "460106", unit=unit)
    client.force_login(user)
    pages = [(reverse("precursors:enterprise_list"), None), (reverse("precursors:discrepancy_list"), None),
             (reverse("precursors:supervision"), None), (reverse("precursors:overview"), None)]
    _grow(5, unit, 0)
    target = Enterprise.objects.first()
    for _i in range(4):
        entry(target, "硫酸", quantity_kg="1")
    pages.append((reverse("precursors:enterprise_ledger", args=[target.pk]), None))
    pages.append((reverse("precursors:enterprise_detail", args=[target.pk]), None))
    small = [_queries(client, url, params) for url, params in pages]
    _grow(25, unit, 5)
    for _i in range(25):
        entry(target, "硫酸", quantity_kg="1")
    large = [_queries(client, url, params) for url, params in pages]
    assert large == small, list(zip([u for u, _p in pages], small, large))


# -- exports -----------------------------------------------------------------------------------
def test_export_links_follow_the_page_filters(world, client):
    import io

    from openpyxl import load_workbook

    inside, *_ = world
    export = reverse("precursors:enterprise_export")
    client.force_login(user_as("ncc_admin", "460100"))
    listing = client.get(reverse("precursors:enterprise_list"), {"q": "龙华"}).content.decode()
    assert f'href="{export}?q=%E9%BE%99%E5%8D%8E"' in listing
    response = client.get(export, {"q": "龙华"})
    assert response.status_code == 200
    rows = list(load_workbook(io.BytesIO(b"".join(response.streaming_content))).active.iter_rows(values_only=True))
    names = [str(c) for r in rows[1:] for c in r if c]
    assert "龙华化工有限公司" in names and "秀英化工有限公司" not in names
    bad = client.get(export, {"kind": "spaceship"})
    assert bad.status_code == 302 and bad["Location"].startswith(reverse("precursors:enterprise_list"))
    ledger = client.get(reverse("precursors:enterprise_ledger", args=[inside.pk])).content.decode()
    assert f'{reverse("precursors:ledger_export")}?enterprise={inside.pk}' in ledger
    bad = client.get(reverse("precursors:ledger_export"), {"enterprise": inside.pk, "direction": "sideways"})
    assert bad.status_code == 302
    assert bad["Location"].startswith(reverse("precursors:enterprise_ledger", args=[inside.pk]))
