"""Scope of the precursors pages and API: the generic scope tests of ``jindu.core.testing``
for enterprises, discrepancies and ledger entries, and the enterprise role confined to its
own enterprise (other enterprise: 404 on pages and API; discrepancies: 403)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from jindu.core.testing import ApiScopeTests, PageScopeTests, api_client, division, result_ids
from jindu.core.timeutils import local_today
from jindu.precursors.models import Discrepancy, Enterprise, LedgerEntry, StockBalance
from jindu.precursors.tests.factories import EnterpriseFactory, chemical, credit_code, entry
from jindu.precursors.tests.test_pages import account_of, discrepancy


def _town(code):
    return division(code).children.order_by("code").first()


class TestEnterprisePageScope(PageScopeTests):
    model = Enterprise
    page_list_url = "precursors:enterprise_list"
    page_detail_url = "precursors:enterprise_detail"

    def scope_division_for(self, code):
        return _town(code)

    def make_row(self, div):
        return EnterpriseFactory(division=div)


class TestDiscrepancyPageScope(PageScopeTests):
    model = Discrepancy
    page_list_url = "precursors:discrepancy_list"
    page_detail_url = "precursors:discrepancy_detail"

    def scope_division_for(self, code):
        return _town(code)

    def make_row(self, div):
        return discrepancy(EnterpriseFactory(division=div))


_codes = iter(range(5000, 10**6))


class TestEnterpriseApiScope(ApiScopeTests):
    model = Enterprise
    api_list_url = "api:precursorenterprise-list"
    api_detail_url = "api:precursorenterprise-detail"
    # Creating an enterprise registers its inspection target: the writer needs the
    # inspection permission where it adds enterprises (as regulators and police have).
    writer_extra_perms = ("geo.view_division", "org.view_unit", "inspections.add_target",
                          "inspections.view_target", "inspections.change_target")

    def scope_division_for(self, code):
        return _town(code)

    def make_row(self, div):
        return EnterpriseFactory(division=div)

    def create_payload(self, div):
        return {"name": "接口登记化工公司", "credit_code": credit_code(next(_codes)), "kind": "trader",
                "division": div.pk}

    def move_payload(self, row, div):
        return {"division": div.pk}


class TestLedgerEntryApiScope(ApiScopeTests):
    """Ledger entries are append-only: an update or delete of a visible entry answers 405
    (out of scope: 404 like a missing one), so the inherited update test is restated."""

    model = LedgerEntry
    api_list_url = "api:ledgerentry-list"
    api_detail_url = "api:ledgerentry-detail"
    writer_extra_perms = ("geo.view_division", "org.view_unit", "precursors.view_enterprise",
                          "precursors.view_chemical")

    def scope_division_for(self, code):
        return _town(code)

    def make_row(self, div):
        return entry(EnterpriseFactory(division=div), "硫酸", quantity_kg="100")

    def create_payload(self, div):
        enterprise = Enterprise.objects.filter(division=div).first() or EnterpriseFactory(division=div)
        return {"enterprise": enterprise.pk, "chemical": chemical("硫酸").pk,
                "occurred_on": local_today().isoformat(), "direction": "in", "quantity_entered": "25.5",
                "unit_entered": "kg"}

    def move_payload(self, row, div):
        return {"enterprise": EnterpriseFactory(division=div).pk}

    def test_api_update_into_other_division_refused(self, scope_world):
        _viewer, row_in, _row_out, _nobody = scope_world
        writer = self._writer()
        payload = self.move_payload(row_in, self.scope_division_for(self.out_division_code))
        before = self._snapshot()
        client = api_client(writer)
        assert client.patch(self._detail(row_in), payload, format="json").status_code == 405
        assert client.put(self._detail(row_in), payload, format="json").status_code == 405
        assert client.delete(self._detail(row_in)).status_code == 405
        assert self._snapshot() == before


# -- the enterprise role -----------------------------------------------------------------------
@pytest.fixture
def two(db):
    mine = EnterpriseFactory(division=division("460106001"), name="本企业")
    other = EnterpriseFactory(division=division("460106001"), name="同镇别家企业")
    for e in (mine, other):
        entry(e, "丙酮", quantity_kg="40")
    return mine, other, account_of(mine)


def test_enterprise_user_api_sees_only_its_enterprise(two):
    mine, other, user = two
    client = api_client(user)
    assert result_ids(client.get(reverse("api:precursorenterprise-list"))) == [mine.pk]
    assert client.get(reverse("api:precursorenterprise-detail", args=[other.pk])).status_code == 404
    entries = result_ids(client.get(reverse("api:ledgerentry-list")))
    assert entries and set(LedgerEntry.objects.filter(pk__in=entries).values_list("enterprise", flat=True)) == {
        mine.pk}
    other_entry = LedgerEntry.objects.get(enterprise=other)
    assert client.get(reverse("api:ledgerentry-detail", args=[other_entry.pk])).status_code == 404
    balances = client.get(reverse("api:stockbalance-list")).json()["results"]
    assert [b["enterprise"] for b in balances] == [mine.pk]
    # Discrepancies are closed to enterprise users, even their own.
    discrepancy(mine)
    assert client.get(reverse("api:discrepancy-list")).status_code == 403


def test_enterprise_user_api_writes_only_for_its_enterprise(two):
    mine, other, user = two
    client = api_client(user)
    body = {"chemical": chemical("丙酮").pk, "occurred_on": local_today().isoformat(), "direction": "out",
            "quantity_entered": "5", "unit_entered": "kg"}
    refused = client.post(reverse("api:ledgerentry-list"), {**body, "enterprise": other.pk}, format="json")
    assert refused.status_code == 400 and "enterprise" in refused.json()["errors"]
    assert LedgerEntry.objects.filter(enterprise=other).count() == 1
    assert StockBalance.objects.get(enterprise=other).quantity_kg == Decimal("40")
    ok = client.post(reverse("api:ledgerentry-list"), {**body, "enterprise": mine.pk}, format="json")
    assert ok.status_code == 201, ok.content
    assert ok.json()["balance_after_kg"] == "35.000" and ok.json()["source"] == "api"
    # It may not change its enterprise record; it voids its own recent entry, never another's.
    detail = reverse("api:precursorenterprise-detail", args=[mine.pk])
    assert client.patch(detail, {"name": "改名", "version": 1}, format="json").status_code == 403
    theirs = LedgerEntry.objects.get(enterprise=other)
    assert client.post(reverse("api:ledgerentry-void", args=[theirs.pk]), {"reason": "x"},
                       format="json").status_code == 404
    assert LedgerEntry.objects.get(pk=theirs.pk).voided_at is None
    assert client.post(reverse("api:ledgerentry-void", args=[ok.json()["id"]]), {"reason": "x"},
                       format="json").status_code == 200


def test_enterprise_user_count_for_another_enterprise_refused_on_page(two, client):
    mine, other, user = two
    client.force_login(user)
    response = client.post(reverse("precursors:count_create"), {
        "enterprise": other.pk, "chemical": chemical("丙酮").pk, "counted_on": local_today().isoformat(),
        "quantity_kg": "1"})
    assert response.status_code == 200 and 'data-testid="form-errors"' in response.content.decode()
    assert not other.stock_counts.exists()
    assert mine.pk
