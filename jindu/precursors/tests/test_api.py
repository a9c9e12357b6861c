"""Precursors API: the catalogue, enterprises through the services, licences with lines,
ledger postings (kg conversion, negative balance refused, append-only, void), balances,
stock counts, the discrepancy workflow, and flat query counts of the lists."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from jindu.core.testing import api_client, division, result_ids
from jindu.core.timeutils import local_today
from jindu.precursors.choices import DiscrepancyStatus
from jindu.precursors.models import Chemical, Discrepancy, Enterprise, LedgerEntry, Licence, StockBalance
from jindu.precursors.tests.factories import EnterpriseFactory, LicenceFactory, chemical, credit_code, entry, licence_line
from jindu.precursors.tests.test_pages import discrepancy, user_as


@pytest.fixture
def regulator(db):
    return user_as("regulator", "460106")


@pytest.fixture
def firm(db):
    return EnterpriseFactory(division=division("460106001"), name="接口测试化工")


def test_chemicals_are_read_only_and_filterable(regulator):
    client = api_client(regulator)
    data = client.get(reverse("api:precursorchemical-list"), {"category": 1, "page_size": 500}).json()
    assert data["count"] == Chemical.objects.filter(category=1).count() > 0
    assert {row["category"] for row in data["results"]} == {1}
    first = data["results"][0]["id"]
    assert client.patch(reverse("api:precursorchemical-detail", args=[first]), {"name_zh": "x"},
                        format="json").status_code == 405
    assert client.get(reverse("api:precursorchemical-list"), {"colour": "red"}).status_code == 400


def test_enterprise_create_checks_the_credit_code_and_registers_the_target(regulator):
    from jindu.inspections.models import Target

    client = api_client(regulator)
    url = reverse("api:precursorenterprise-list")
    body = {"name": "接口企业", "kind": "user", "division": division("460106001").pk, "credit_code": "91460100XXXX"}
    bad = client.post(url, body, format="json")
    assert bad.status_code == 400 and "credit_code" in bad.json()["errors"]
    body["credit_code"] = credit_code(7001)
    created = client.post(url, body, format="json")
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    assert Target.objects.filter(source_model="precursors.Enterprise", source_key=str(pk)).exists()
    dup = client.post(url, {**body, "name": "重复代码"}, format="json")
    assert dup.status_code == 400 and "已登记" in str(dup.json()["errors"])
    detail = reverse("api:precursorenterprise-detail", args=[pk])
    from jindu.core.models import AccessLog

    before = AccessLog.objects.count()
    assert client.get(detail).status_code == 200  # contact name and phone: the read is logged
    assert AccessLog.objects.count() == before + 1
    assert client.patch(detail, {"risk_level": "high"}, format="json").status_code == 400  # version required
    assert client.patch(detail, {"risk_level": "high", "version": 1}, format="json").status_code == 200
    assert client.patch(detail, {"risk_level": "low", "version": 1}, format="json").status_code == 409
    assert client.delete(detail).status_code == 409
    assert Enterprise.objects.get(pk=pk).risk_level == "high"


def test_licence_create_with_lines_and_revoke(regulator, firm):
    client = api_client(regulator)
    body = {"enterprise": firm.pk, "kind": "purchase_licence", "number": "(琼)1J460100002026",
            "valid_from": "2026-01-01", "valid_until": "2026-12-31",
            "lines": [{"chemical": chemical("麻黄素（麻黄碱）").pk, "quantity_limit_kg": "2.5"}]}
    response = client.post(reverse("api:precursorlicence-list"), body, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["lines"] == [{"chemical": chemical("麻黄素（麻黄碱）").pk, "chemical_name": "麻黄素（麻黄碱）",
                              "quantity_limit_kg": "2.500"}]
    assert data["number_raw"] == "(琼)1J460100002026"
    reversed_ = client.post(reverse("api:precursorlicence-list"),
                            {**body, "number": "X2", "valid_from": "2026-12-31", "valid_until": "2026-01-01"},
                            format="json")
    assert reversed_.status_code == 400 and "valid_until" in reversed_.json()["errors"]
    revoke = reverse("api:precursorlicence-revoke", args=[data["id"]])
    assert client.post(revoke, {}, format="json").status_code == 400
    assert client.post(revoke, {"reason": "企业注销", "revoked_on": "2026-01-05"},
                       format="json").json()["status"] == "revoked"
    expiring = client.get(reverse("api:precursorlicence-list"), {"expiring_within": 30}).json()
    assert data["id"] not in [r["id"] for r in expiring["results"]]


def test_ledger_post_converts_refuses_negative_and_is_append_only(regulator, firm):
    client = api_client(regulator)
    url = reverse("api:ledgerentry-list")
    base = {"enterprise": firm.pk, "chemical": chemical("硫酸").pk, "occurred_on": local_today().isoformat()}
    first = client.post(url, {**base, "direction": "in", "quantity_entered": "2", "unit_entered": "t"}, format="json")
    assert first.status_code == 201, first.content
    assert first.json()["quantity_kg"] == "2000.000" and first.json()["balance_after_kg"] == "2000.000"
    litres = client.post(url, {**base, "direction": "used", "quantity_entered": "100", "unit_entered": "L",
                               "density_kg_per_l": "1.84"}, format="json")
    assert litres.json()["quantity_kg"] == "184.000" and litres.json()["balance_after_kg"] == "1816.000"
    too_much = client.post(url, {**base, "direction": "out", "quantity_entered": "1816.001"}, format="json")
    assert too_much.status_code == 400 and "负数" in too_much.json()["detail"]
    assert StockBalance.objects.get(enterprise=firm).quantity_kg == Decimal("1816.000")
    detail = reverse("api:ledgerentry-detail", args=[litres.json()["id"]])
    assert client.patch(detail, {"quantity_entered": "1"}, format="json").status_code == 405
    assert client.delete(detail).status_code == 405
    void = client.post(reverse("api:ledgerentry-void", args=[litres.json()["id"]]), {"reason": "登记错误"},
                       format="json")
    assert void.status_code == 200 and void.json()["voided_at"]
    assert StockBalance.objects.get(enterprise=firm).quantity_kg == Decimal("2000.000")
    listed = client.get(url, {"enterprise": firm.pk, "voided": "false"}).json()
    assert [r["id"] for r in listed["results"]] == [first.json()["id"]]
    assert client.get(url, {"voided": "perhaps"}).status_code == 400


def test_stock_count_and_balances(regulator, firm):
    entry(firm, "丙酮", quantity_kg="80")
    client = api_client(regulator)
    response = client.post(reverse("api:stockcount-list"), {
        "enterprise": firm.pk, "chemical": chemical("丙酮").pk, "counted_on": local_today().isoformat(),
        "quantity_kg": "75.5"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["ledger_balance_kg"] == "80.000" and response.json()["difference_kg"] == "-4.500"
    balances = client.get(reverse("api:stockbalance-list"), {"enterprise": firm.pk}).json()["results"]
    assert [(b["chemical_name"], b["quantity_kg"]) for b in balances] == [("丙酮", "80.000")]


def test_discrepancy_workflow_through_the_api(regulator, firm):
    d = discrepancy(firm, summary="接口问题")
    client = api_client(regulator)
    assert result_ids(client.get(reverse("api:discrepancy-list"), {"status": "open"})) == [d.pk]
    row = client.get(reverse("api:discrepancy-detail", args=[d.pk])).json()
    assert row["rule_title"] == "test_rule"
    deadline = (local_today() + timedelta(days=10)).isoformat()
    assign = reverse("api:discrepancy-assign", args=[d.pk])
    assert client.post(assign, {"version": 1, "assignee": 999999, "deadline": deadline},
                       format="json").status_code == 400
    ok = client.post(assign, {"version": 1, "assignee": regulator.pk, "deadline": deadline}, format="json")
    assert ok.status_code == 200 and ok.json()["status"] == "in_progress" and ok.json()["version"] == 2
    stale = client.post(reverse("api:discrepancy-work", args=[d.pk]), {"version": 1, "notes": "x"}, format="json")
    assert stale.status_code == 409
    client.post(reverse("api:discrepancy-work", args=[d.pk]), {"version": 2, "notes": "已核查"}, format="json")
    closed = client.post(reverse("api:discrepancy-close", args=[d.pk]),
                         {"version": 3, "resolution": "explained", "note": "合同齐全"}, format="json")
    assert closed.json()["status"] == "closed"
    reopened = client.post(reverse("api:discrepancy-reopen", args=[d.pk]), {"version": 4, "reason": "复核"},
                           format="json")
    assert reopened.json()["status"] == DiscrepancyStatus.IN_PROGRESS
    overdue = client.get(reverse("api:discrepancy-list"), {"overdue": "true"}).json()
    assert overdue["count"] == 0
    # Read-only roles may read, never act.
    leader = api_client(user_as("leader", "460106"))
    assert leader.get(reverse("api:discrepancy-detail", args=[d.pk])).status_code == 200
    assert leader.post(reverse("api:discrepancy-work", args=[d.pk]), {"version": 5, "notes": "x"},
                       format="json").status_code == 403
    assert Discrepancy.objects.get(pk=d.pk).version == 5


def test_schema_lists_the_endpoints(regulator):
    schema = api_client(regulator).get(reverse("api:schema"), {"format": "json"})
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for p in ("/api/ledger-entries/", "/api/ledger-entries/{id}/void/", "/api/precursor-discrepancies/{id}/close/",
              "/api/precursor-enterprises/", "/api/stock-balances/", "/api/precursor-chemicals/"):
        assert p in paths


@pytest.mark.parametrize("url_name", ["api:precursorenterprise-list", "api:ledgerentry-list",
                                      "api:precursorlicence-list", "api:stockbalance-list",
                                      "api:discrepancy-list", "api:stockcount-list"])
def test_api_list_query_counts_do_not_grow(db, url_name):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from jindu.org.models import Unit
    from jindu.precursors.models import StockCount

    unit = Unit.objects.create(name="龙华区应急管理局", kind="department", division=division("460106"))
    client = api_client(user_as("police", "460106"))

    def grow(n):
        for _i in range(n):
            e = EnterpriseFactory(division=division("460106001"))
            e.supervising_units.add(unit)
            e1 = entry(e, "硫酸", quantity_kg="5")
            licence_line(LicenceFactory(enterprise=e), "丙酮")
            d = discrepancy(e)
            d.entries.add(e1)
            d.licences.add(Licence.objects.filter(enterprise=e).first())
            StockCount.objects.create(enterprise=e, chemical=chemical("硫酸"), counted_on=local_today(),
                                      quantity_kg=Decimal("5"), ledger_balance_kg=Decimal("5"))

    def count():
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(reverse(url_name), {"page_size": 100})
        assert response.status_code == 200
        return len(ctx.captured_queries), response.json()["count"]

    grow(5)
    small, n_small = count()
    grow(25)
    large, n_large = count()
    assert n_large > n_small and large == small
    assert LedgerEntry.objects.count() == 30
