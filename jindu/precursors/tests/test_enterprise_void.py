"""Enterprise users voiding their own wrong ledger entries: within the reporting window
(Regulation art. 19: Category 1 five days, Categories 2/3 thirty) and while no open
discrepancy rests on the entry; never another enterprise's entry; supervisors as before."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from jindu.core.models import AuditEvent
from jindu.core.testing import api_client, division
from jindu.core.timeutils import local_today
from jindu.precursors import services
from jindu.precursors.choices import Direction, DiscrepancyStatus
from jindu.precursors.models import LedgerEntry, StockBalance
from jindu.precursors.tests.factories import EnterpriseFactory, chemical
from jindu.precursors.tests.test_pages import account_of, discrepancy, user_as

D = Decimal
EPHEDRINE, SULPHURIC = "麻黄素（麻黄碱）", "硫酸"  # Category 1 and Category 3


@pytest.fixture
def firm(db):
    return EnterpriseFactory(division=division("460106001"), name="龙华化工有限公司")


@pytest.fixture
def other(db):
    return EnterpriseFactory(division=division("460106001"), name="龙华另一化工有限公司")


@pytest.fixture
def account(firm):
    return account_of(firm)


def post(user, enterprise, name, direction, qty, days_ago=0):
    return services.post_entry(user=user, enterprise=enterprise, data={
        "chemical": chemical(name), "occurred_on": local_today() - timedelta(days=days_ago), "direction": direction,
        "quantity_entered": D(qty), "unit_entered": "kg"})


def balance(enterprise, name) -> Decimal:
    return StockBalance.objects.get(enterprise=enterprise, chemical=chemical(name)).quantity_kg


def voids():
    return AuditEvent.objects.filter(action="precursors.entry_voided")


def assert_untouched(entry, kg_before):
    assert LedgerEntry.objects.get(pk=entry.pk).voided_at is None
    assert balance(entry.enterprise, entry.chemical.name_zh) == kg_before
    assert not voids().exists()


# -- roles -----------------------------------------------------------------------------------
def test_enterprise_role_may_void_its_own_entries_only(firm, account):
    from jindu.core.scope import CHANGE, has_model_permission

    assert has_model_permission(account, LedgerEntry, services.VOID_OWN)
    assert not has_model_permission(account, LedgerEntry, CHANGE)


# -- service ---------------------------------------------------------------------------------
def test_enterprise_voids_its_own_wrong_entry(firm, account):
    post(account, firm, SULPHURIC, Direction.IN, "500", days_ago=20)
    wrong = post(account, firm, SULPHURIC, Direction.OUT, "120", days_ago=2)
    assert balance(firm, SULPHURIC) == D("380")
    row = services.void_entry(user=account, entry=wrong, reason="数量录错，应为12千克")
    stored = LedgerEntry.objects.get(pk=wrong.pk)
    assert stored.voided_at is not None and stored.void_reason == "数量录错，应为12千克" == row.void_reason
    assert balance(firm, SULPHURIC) == D("500")  # the outbound is put back
    [event] = voids()
    assert event.actor == account and event.reason == "数量录错，应为12千克"
    assert event.changes["by_enterprise"] is True and event.changes["balance_kg"] == ["380.000", "500.000"]
    assert LedgerEntry.objects.filter(enterprise=firm).count() == 2  # kept, marked void


def test_enterprise_void_of_an_inbound_is_refused_when_stock_has_left(firm, account):
    inbound = post(account, firm, SULPHURIC, Direction.IN, "100", days_ago=3)
    post(account, firm, SULPHURIC, Direction.OUT, "60", days_ago=1)
    with pytest.raises(ValidationError, match="结存将为负数"):
        services.void_entry(user=account, entry=inbound, reason="录错")
    assert_untouched(inbound, D("40"))


def test_enterprise_cannot_void_another_enterprises_entry(firm, other, account):
    theirs = post(account_of(other), other, SULPHURIC, Direction.IN, "100", days_ago=1)
    with pytest.raises(PermissionDenied):
        services.void_entry(user=account, entry=theirs, reason="不是我们的")
    assert_untouched(theirs, D("100"))


@pytest.mark.parametrize("status", [DiscrepancyStatus.OPEN, DiscrepancyStatus.IN_PROGRESS])
def test_enterprise_cannot_void_an_entry_a_regulator_is_checking(firm, account, status):
    e = post(account, firm, SULPHURIC, Direction.IN, "100", days_ago=1)
    d = discrepancy(firm, chemical=chemical(SULPHURIC), status=status)
    d.entries.add(e)
    with pytest.raises(ValidationError) as info:
        services.void_entry(user=account, entry=e, reason="录错")
    assert info.value.messages == ["该台账已被监管部门引用，企业不能自行作废，请联系监管部门更正。"]
    assert_untouched(e, D("100"))


def test_a_closed_discrepancy_no_longer_holds_the_entry(firm, account):
    e = post(account, firm, SULPHURIC, Direction.IN, "100", days_ago=1)
    discrepancy(firm, status=DiscrepancyStatus.CLOSED).entries.add(e)
    services.void_entry(user=account, entry=e, reason="录错")
    assert balance(firm, SULPHURIC) == D("0")


@pytest.mark.parametrize("name,days", [(EPHEDRINE, 5), (SULPHURIC, 30)])
def test_reporting_window_last_day_still_allows_the_enterprise(firm, account, name, days):
    e = post(account, firm, name, Direction.IN, "2", days_ago=days)
    services.void_entry(user=account, entry=e, reason="录错")
    assert LedgerEntry.objects.get(pk=e.pk).voided_at is not None


@pytest.mark.parametrize("name,days,category", [(EPHEDRINE, 6, 1), (SULPHURIC, 31, 3)])
def test_past_the_reporting_window_the_enterprise_is_refused(firm, account, name, days, category):
    e = post(account, firm, name, Direction.IN, "2", days_ago=days)
    with pytest.raises(ValidationError) as info:
        services.void_entry(user=account, entry=e, reason="录错")
    occurred = local_today() - timedelta(days=days)
    limit = 5 if category == 1 else 30
    assert info.value.messages == [
        f"该台账发生于 {occurred.isoformat()}，已超过第{category}类易制毒化学品的报告时限（{limit}日，截至 "
        f"{(occurred + timedelta(days=limit)).isoformat()}；《易制毒化学品管理条例》第十九条），企业不能自行作废，"
        "请联系监管部门更正。"]
    assert_untouched(e, D("2"))


def test_supervisor_still_voids_old_entries_and_entries_under_check(firm, account):
    regulator = user_as("regulator", "460106")
    old = post(account, firm, SULPHURIC, Direction.IN, "100", days_ago=90)
    checked = post(account, firm, SULPHURIC, Direction.IN, "50", days_ago=1)
    discrepancy(firm).entries.add(checked)
    services.void_entry(user=regulator, entry=checked, reason="核实为重复登记")
    services.void_entry(user=regulator, entry=old, reason="核实为录入错误")
    assert balance(firm, SULPHURIC) == D("0")
    assert [e.actor for e in voids()] == [regulator, regulator]
    assert not any("by_enterprise" in e.changes for e in voids())


# -- pages -----------------------------------------------------------------------------------
def test_enterprise_voids_through_its_ledger_page(firm, account, client):
    client.force_login(account)
    recent = post(account, firm, SULPHURIC, Direction.IN, "100", days_ago=1)
    old = post(account, firm, SULPHURIC, Direction.IN, "10", days_ago=45)
    ledger = client.get(reverse("precursors:enterprise_ledger", args=[firm.pk])).content.decode()
    detail_url = reverse("precursors:entry_detail", args=[recent.pk])
    assert f'href="{detail_url}#void" data-testid="void-link"' in ledger
    assert f'href="{reverse("precursors:entry_detail", args=[old.pk])}#void"' not in ledger
    assert "不可自行作废" in ledger

    detail = client.get(detail_url).content.decode()
    assert 'data-testid="void-form"' in detail and 'data-testid="own-void-note"' in detail
    response = client.post(reverse("precursors:entry_void", args=[recent.pk]), {"reason": "重复登记"}, follow=True)
    assert "台账记录已作废，结存已冲回。" in response.content.decode()
    assert LedgerEntry.objects.get(pk=recent.pk).voided_at is not None
    assert balance(firm, SULPHURIC) == D("10")

    old_page = client.get(reverse("precursors:entry_detail", args=[old.pk])).content.decode()
    assert 'data-testid="void-form"' not in old_page and "已超过第3类易制毒化学品的报告时限" in old_page


def test_enterprise_page_refuses_an_entry_under_check(firm, account, client):
    client.force_login(account)
    e = post(account, firm, SULPHURIC, Direction.IN, "100", days_ago=1)
    discrepancy(firm).entries.add(e)
    page = client.get(reverse("precursors:entry_detail", args=[e.pk])).content.decode()
    assert 'data-testid="void-form"' not in page and 'data-testid="void-refusal"' in page
    response = client.post(reverse("precursors:entry_void", args=[e.pk]), {"reason": "录错"}, follow=True)
    assert "该台账已被监管部门引用" in response.content.decode()
    assert_untouched(e, D("100"))


def test_another_enterprises_entry_is_not_found_on_the_pages(firm, other, account, client):
    theirs = post(account_of(other), other, SULPHURIC, Direction.IN, "100", days_ago=1)
    client.force_login(account)
    assert client.get(reverse("precursors:entry_detail", args=[theirs.pk])).status_code == 404
    assert client.post(reverse("precursors:entry_void", args=[theirs.pk]), {"reason": "x"}).status_code == 404
    assert_untouched(theirs, D("100"))


def test_supervisor_page_unchanged(firm, account, client):
    regulator = user_as("regulator", "460106")
    old = post(account, firm, SULPHURIC, Direction.IN, "100", days_ago=90)
    client.force_login(regulator)
    ledger = client.get(reverse("precursors:enterprise_ledger", args=[firm.pk])).content.decode()
    assert 'data-testid="void-link"' in ledger and "不可自行作废" not in ledger
    page = client.get(reverse("precursors:entry_detail", args=[old.pk])).content.decode()
    assert 'data-testid="void-form"' in page and 'data-testid="own-void-note"' not in page
    client.post(reverse("precursors:entry_void", args=[old.pk]), {"reason": "核实为录入错误"})
    assert LedgerEntry.objects.get(pk=old.pk).voided_at is not None


def test_readers_get_no_void_column(firm, account, client):
    post(account, firm, SULPHURIC, Direction.IN, "100", days_ago=1)
    client.force_login(user_as("leader", "460106"))
    ledger = client.get(reverse("precursors:enterprise_ledger", args=[firm.pk])).content.decode()
    assert 'data-testid="ledger-table"' in ledger and 'data-testid="void-link"' not in ledger


# -- API -------------------------------------------------------------------------------------
def test_enterprise_voids_through_the_api(firm, other, account):
    client = api_client(account)
    mine = post(account, firm, SULPHURIC, Direction.IN, "100", days_ago=1)
    old = post(account, firm, SULPHURIC, Direction.IN, "10", days_ago=40)
    theirs = post(account_of(other), other, SULPHURIC, Direction.IN, "100", days_ago=1)

    not_found = client.post(reverse("api:ledgerentry-void", args=[theirs.pk]), {"reason": "x"}, format="json")
    assert not_found.status_code == 404
    assert_untouched(theirs, D("100"))

    too_old = client.post(reverse("api:ledgerentry-void", args=[old.pk]), {"reason": "录错"}, format="json")
    assert too_old.status_code == 400 and "报告时限" in str(too_old.json())
    assert LedgerEntry.objects.get(pk=old.pk).voided_at is None

    ok = client.post(reverse("api:ledgerentry-void", args=[mine.pk]), {"reason": "重复登记"}, format="json")
    assert ok.status_code == 200, ok.content
    assert ok.json()["voided_at"] and ok.json()["void_reason"] == "重复登记"
    assert balance(firm, SULPHURIC) == D("10")
    assert client.post(reverse("api:ledgerentry-void", args=[mine.pk]), {"reason": "again"},
                       format="json").status_code == 400  # already void


def test_supervisor_api_void_unchanged(firm, account):
    old = post(account, firm, SULPHURIC, Direction.IN, "100", days_ago=90)
    client = api_client(user_as("regulator", "460106"))
    response = client.post(reverse("api:ledgerentry-void", args=[old.pk]), {"reason": "核实为录入错误"}, format="json")
    assert response.status_code == 200 and response.json()["voided_at"]
    reader = api_client(user_as("leader", "460106"))
    assert reader.post(reverse("api:ledgerentry-void", args=[old.pk]), {"reason": "x"},
                       format="json").status_code == 403
