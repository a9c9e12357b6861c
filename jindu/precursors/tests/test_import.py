"""Imports of enterprises, licences and stock ledgers (xlsx/csv) as real records look
(reference/regulatory/precursor_import_notes.md): errors per row in Chinese with nothing
written, raw values kept beside matched ones, balances checked by the bulk posting
service, enterprise users confined to their own ledger."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.urls import reverse
from stdnum.cn import uscc

from jindu.accounts.tests.factories import UnitFactory
from jindu.core.imports import get_importer
from jindu.core.imports.engine import read_and_run
from jindu.core.imports.template import import_template_xlsx
from jindu.core.imports.testing import make_csv, make_xlsx
from jindu.core.models import AuditEvent, ImportBatch
from jindu.core.testing import division, grant, make_user
from jindu.org.choices import UnitKind
from jindu.precursors.choices import Direction, EnterpriseKind, LicenceKind
from jindu.precursors.models import Enterprise, LedgerEntry, Licence, StockBalance
from jindu.precursors.tests.factories import EnterpriseFactory, LicenceFactory, chemical, entry

DATA = Path(__file__).parent / "data"
E1_CODE, E2_CODE, E3_CODE = "914601060000000190", "91460106000000027T", "91460106000000035M"
LEDGER_HEADERS = ["企业", "发生日期", "品种", "方向", "数量", "单位", "密度（千克/升）", "每件净重（千克）", "对方信用代码",
                  "对方单位", "单据编号", "许可/备案编号", "运输许可/备案编号", "用途", "报告公安日期"]


@pytest.fixture
def world(db):
    return SimpleNamespace(
        e1=EnterpriseFactory(name="海口龙华化工贸易有限公司", credit_code=E1_CODE, division=division("460106001")),
        e2=EnterpriseFactory(name="海口美安制药有限公司", credit_code=E2_CODE, kind=EnterpriseKind.USER,
                             division=division("460106001")),
        e3=EnterpriseFactory(name="秀英港务化工有限公司", credit_code=E3_CODE, division=division("460105001")),
    )


@pytest.fixture
def regulator(db):
    """A 龙华区 regulator: may add ledger entries and licences of 龙华区 enterprises."""
    user = make_user()
    grant(user, "regulator", division("460106"))
    return user


def run(name: str, user, data: bytes, filename: str, *, commit: bool = True):
    return read_and_run(get_importer(name), data, filename, user=user, commit=commit)


def by_row(result) -> dict[int | None, list[tuple[str, str]]]:
    out: dict = {}
    for e in result.errors:
        out.setdefault(e["row"], []).append((e["column"], e["message"]))
    return out


def ledger_rows(*rows: dict) -> list[list]:
    return [LEDGER_HEADERS] + [[r.get(h, "") for h in LEDGER_HEADERS] for r in rows]


def row(**cells) -> dict:
    base = {"企业": E1_CODE, "发生日期": "2025-03-01", "单位": "kg", "对方单位": "海南某化工原料有限公司"}
    base.update(cells)
    return base


# -- ledger: the sample files ---------------------------------------------------------------------


def test_clean_ledger_file_imports_with_raw_values_kept(world, regulator):
    result = run("precursors.ledger", regulator, (DATA / "ledger_clean.csv").read_bytes(), "ledger_clean.csv")
    assert result.ok and result.committed, result.errors
    assert result.counts["created"] == 9
    entries = list(LedgerEntry.objects.filter(enterprise=world.e1).select_related("chemical", "counterparty")
                   .order_by("occurred_on", "id"))
    assert len(entries) == 9
    hcl, anhydride, sulphuric = entries[0], entries[1], entries[2]
    # 鹽酸 in litres: matched to 盐酸, converted with the catalogue density, written name kept.
    assert (hcl.chemical.name_zh, hcl.chemical_raw) == ("盐酸", "鹽酸")
    assert (hcl.quantity_entered, hcl.unit_entered, hcl.density_kg_per_l) == (Decimal("200"), "L", Decimal("1.18"))
    assert hcl.quantity_kg == Decimal("236.000") and hcl.balance_after_kg == Decimal("236.000")
    assert hcl.permit_number == "琼公（易）购备字〔2025〕001号" and hcl.permit_number_raw == "琼公(易)购备字(2025)001号"
    assert hcl.source == "import" and hcl.recorded_by == regulator
    assert (anhydride.chemical.name_zh, anhydride.chemical_raw, anhydride.quantity_kg) == (
        "醋酸酐", "乙酸酐", Decimal("1500.000"))
    assert anhydride.unit_entered == "t" and anhydride.occurred_on == date(2025, 1, 8)
    assert anhydride.permit_number == "琼公（易）购许字〔2025〕002号"
    assert anhydride.transport_permit_number == "琼公（易）运字〔2025〕0008号"
    assert (sulphuric.chemical.name_zh, sulphuric.chemical_raw) == ("硫酸", "硫酸 7664-93-9")
    assert (sulphuric.unit_entered, sulphuric.piece_mass_kg, sulphuric.quantity_kg) == (
        "piece", Decimal("25"), Decimal("250.000"))
    sale = next(e for e in entries if e.document_number == "CK-2025-001")
    assert sale.direction == Direction.OUT and sale.counterparty == world.e2
    assert sale.counterparty_credit_code == E2_CODE and sale.reported_on == date(2025, 2, 10)
    used = entries[-1]
    assert used.occurred_on == date(2025, 3, 1) and used.chemical_raw == "丁酮" and used.direction == Direction.USED
    balances = {b.chemical.name_zh: b.quantity_kg for b in StockBalance.objects.filter(enterprise=world.e1)
                .select_related("chemical")}
    assert balances == {"盐酸": Decimal("136"), "醋酸酐": Decimal("1200"), "硫酸": Decimal("250"),
                        "甲基乙基酮": Decimal("300"), "高锰酸钾": Decimal("45")}
    # One bulk posting: one domain event for the nine entries.
    assert AuditEvent.objects.filter(action="precursors.entries_posted").count() == 1
    assert any("乙酸酐" in w and "醋酸酐" in w for w in result.warnings)
    assert any("1.18" in w and "密度" in w for w in result.warnings)


def test_clean_ledger_as_xlsx_with_date_and_number_cells(world, regulator):
    with (DATA / "ledger_clean.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    for r in rows[1:]:
        if r[1] == "2025-01-06":
            r[1] = date(2025, 1, 6)          # a real date cell
        if r[4] == "500":
            r[4] = 500                        # a numeric cell
    result = run("precursors.ledger", regulator, make_xlsx(rows), "ledger.xlsx")
    assert result.committed, result.errors
    assert StockBalance.objects.get(enterprise=world.e1, chemical=chemical("甲基乙基酮")).quantity_kg == Decimal("300")


def test_ledger_with_errors_reports_each_row_in_chinese_and_writes_nothing(world, regulator):
    data = (DATA / "ledger_errors.csv").read_bytes()
    for commit in (False, True):
        result = run("precursors.ledger", regulator, data, "ledger_errors.csv", commit=commit)
        assert not result.committed and not result.ok
        errors = by_row(result)
        assert set(errors) == {3, 4, 5, 6, 8, 9, 10, 11}, result.errors
        assert errors[3][0][0] == "品种" and "目录中没有“乙醇”" in errors[3][0][1]
        assert errors[4][0][0] == "发生日期" and "18/01/2025" in errors[4][0][1]
        assert errors[5][0][0] == "数量" and "结存不足" in errors[5][0][1] and "1000" in errors[5][0][1]
        assert errors[6][0][0] == "对方信用代码" and "校验位不符" in errors[6][0][1]
        assert errors[8][0][0] == "数量" and "不明确" in errors[8][0][1]
        assert errors[9][0][0] == "企业" and "管辖范围" in errors[9][0][1]
        assert errors[10][0][0] == "每件净重（千克）" and "每件净重" in errors[10][0][1]
        assert errors[11][0][0] == "发生日期" and "晚于今天" in errors[11][0][1]
        assert result.error_rows == 8 and result.counts["created"] == 2  # rows 2 and 7 (鹽酸) are fine
    assert LedgerEntry.objects.count() == 0 and StockBalance.objects.count() == 0
    assert not AuditEvent.objects.filter(action="precursors.entries_posted").exists()


# -- ledger: balances -----------------------------------------------------------------------------


def test_outbound_beyond_the_balance_refuses_the_whole_file_with_its_row(world, regulator):
    entry(world.e1, "硫酸", Direction.IN, "100")
    rows = ledger_rows(row(品种="丙酮", 方向="入库", 数量="50"),
                       row(品种="硫酸", 方向="出库", 数量="80"),
                       row(品种="硫酸", 方向="出库", 数量="30", 发生日期="2025-03-02"))
    result = run("precursors.ledger", regulator, make_csv(rows), "l.csv")
    assert not result.committed
    assert [(e["row"], e["column"]) for e in result.errors] == [(4, "数量")]
    assert "系统结存 100" in result.errors[0]["message"] and "-10" in result.errors[0]["message"]
    assert LedgerEntry.objects.count() == 1
    assert StockBalance.objects.get(enterprise=world.e1, chemical=chemical("硫酸")).quantity_kg == Decimal("100")


def test_the_bulk_service_refuses_under_lock_and_names_the_row(world, regulator, monkeypatch):
    """If the balance changes between the row checks and the posting (another user posts an
    outbound meanwhile), the balance-locking service refuses the file, naming the row."""
    from jindu.precursors.importers import LedgerImporter

    entry(world.e1, "硫酸", Direction.IN, "100")
    monkeypatch.setattr(LedgerImporter, "_refuse_overdrafts", lambda self, postings, result, refusals: None)
    rows = ledger_rows(row(品种="丙酮", 方向="入库", 数量="50"), row(品种="硫酸", 方向="出库", 数量="150"))
    result = run("precursors.ledger", regulator, make_csv(rows), "l.csv")
    assert not result.committed
    assert [e["row"] for e in result.errors] == [3] and "负数" in result.errors[0]["message"]
    assert LedgerEntry.objects.count() == 1
    assert StockBalance.objects.get(enterprise=world.e1, chemical=chemical("硫酸")).quantity_kg == Decimal("100")
    assert not StockBalance.objects.filter(chemical=chemical("丙酮")).exclude(quantity_kg=0).exists()


def test_rows_are_posted_in_date_order(world, regulator):
    # Listed newest first, as a ledger export is: the outbound comes after the inbound by date.
    rows = ledger_rows(row(品种="丙酮", 方向="出库", 数量="40", 发生日期="2025-03-05", 单据编号="CK-1"),
                       row(品种="丙酮", 方向="入库", 数量="100", 发生日期="2025-03-01", 单据编号="RK-1"))
    result = run("precursors.ledger", regulator, make_csv(rows), "l.csv")
    assert result.committed, result.errors
    posted = list(LedgerEntry.objects.filter(enterprise=world.e1).order_by("id"))
    assert [(e.direction, e.balance_after_kg) for e in posted] == [("in", Decimal("100.000")),
                                                                    ("out", Decimal("60.000"))]


def test_importing_the_same_movements_twice_adds_nothing(world, regulator):
    data = (DATA / "ledger_clean.csv").read_bytes()
    assert run("precursors.ledger", regulator, data, "a.csv").committed
    again = run("precursors.ledger", regulator, data, "a.csv")
    assert not again.committed and again.error_rows == 9
    assert all("已在台账中" in e["message"] and e["column"] == "单据编号" for e in again.errors)
    assert LedgerEntry.objects.count() == 9
    twice = ledger_rows(row(品种="丙酮", 方向="入库", 数量="10", 单据编号="RK-9"),
                        row(品种="丙酮", 方向="入库", 数量="10", 单据编号="RK-9"))
    result = run("precursors.ledger", regulator, make_csv(twice), "b.csv")
    assert [e["row"] for e in result.errors] == [3] and "与第 2 行完全相同" in result.errors[0]["message"]


def test_units_densities_and_pieces(world, regulator):
    rows = ledger_rows(
        row(品种="丙酮", 方向="入库", 数量="100", 单位="升", **{"密度（千克/升）": "0.79 g/mL"}),
        row(品种="甲苯", 方向="入库", 数量="4", 单位="桶", **{"每件净重（千克）": "180kg"}),
        row(品种="硫酸", 方向="入库", 数量="0.5", 单位="吨"),
        row(品种="盐酸", 方向="入库", 数量="2500", 单位="克"),
        row(品种="乙醚", 方向="入库", 数量="500毫升", 单位=""),
    )
    result = run("precursors.ledger", regulator, make_csv(rows), "u.csv")
    assert result.committed, result.errors
    kg = {e.chemical.name_zh: e.quantity_kg for e in LedgerEntry.objects.select_related("chemical")}
    assert kg == {"丙酮": Decimal("79.000"), "甲苯": Decimal("720.000"), "硫酸": Decimal("500.000"),
                  "盐酸": Decimal("2.500"), "乙醚": Decimal("0.357")}  # 0.5 L × 0.713 kg/L, to the gram


def test_unit_errors_name_their_column(world, regulator):
    rows = ledger_rows(
        row(品种="丙酮", 方向="入库", 数量="25kg", 单位="吨"),                    # 2: two different units
        row(品种="甲苯", 方向="入库", 数量="4", 单位="瓶"),                      # 3: no mass per bottle
        row(品种="高锰酸钾", 方向="入库", 数量="10", 单位="升"),                 # 4: a solid has no density on file
        row(品种="丙酮", 方向="入库", 数量="1.23456"),                           # 5: more places than the form allows
        row(品种="丙酮", 方向="退货", 数量="1"),                                 # 6: unclear direction
    )
    result = run("precursors.ledger", regulator, make_csv(rows), "u.csv")
    errors = by_row(result)
    assert errors[2][0][0] == "单位" and "不一致" in errors[2][0][1]
    assert errors[3][0][0] == "每件净重（千克）"
    assert errors[4][0][0] == "密度（千克/升）"
    assert errors[5][0][0] == "数量"
    assert errors[6][0][0] == "方向" and "入库" in errors[6][0][1]
    assert LedgerEntry.objects.count() == 0


def test_preview_across_chunks_writes_nothing(world, regulator, monkeypatch):
    from jindu.core.imports import engine

    monkeypatch.setattr(engine, "PREVIEW_CHUNK", 2)
    data = (DATA / "ledger_clean.csv").read_bytes()
    result = run("precursors.ledger", regulator, data, "c.csv", commit=False)
    assert result.ok, result.errors
    assert result.counts["created"] == 9 and len(result.preview) == 9
    assert LedgerEntry.objects.count() == 0 and StockBalance.objects.count() == 0
    assert run("precursors.ledger", regulator, data, "c.csv").committed


def test_batch_commit_links_the_entries_to_the_upload(world, regulator):
    from jindu.core.imports.services import commit_batch, create_batch, preview_batch

    batch = create_batch(importer=get_importer("precursors.ledger"), user=regulator, name="ledger_clean.csv",
                         content=(DATA / "ledger_clean.csv").read_bytes())
    preview_batch(batch, user=regulator)
    assert batch.status == ImportBatch.Status.PREVIEWED, batch.errors
    commit_batch(batch, user=regulator)
    assert batch.status == ImportBatch.Status.COMMITTED
    assert LedgerEntry.objects.filter(import_batch=batch).count() == 9
    assert AuditEvent.objects.filter(action="core.import_committed", target_id=str(batch.pk)).exists()


def test_enterprise_user_imports_only_its_own_ledger(world):
    user = make_user()
    grant(user, "enterprise", division("460106"))
    world.e1.account_users.add(user)
    headers = [h for h in LEDGER_HEADERS if h != "企业"]
    own = [headers, ["2025-03-01", "丙酮", "入库", "20", "kg"] + [""] * (len(headers) - 5)]
    result = run("precursors.ledger", user, make_csv(own), "own.csv")
    assert result.committed, result.errors
    assert LedgerEntry.objects.get().enterprise == world.e1
    blank_cell = ledger_rows(row(企业="", 品种="甲苯", 方向="入库", 数量="5"))
    assert run("precursors.ledger", user, make_csv(blank_cell), "own2.csv").committed
    assert LedgerEntry.objects.filter(enterprise=world.e1).count() == 2
    other = ledger_rows(row(企业=E2_CODE, 品种="丙酮", 方向="入库", 数量="20"),
                        row(企业="海口美安制药有限公司", 品种="丙酮", 方向="入库", 数量="20"))
    result = run("precursors.ledger", user, make_csv(other), "other.csv")
    assert not result.committed and set(by_row(result)) == {2, 3}
    assert LedgerEntry.objects.count() == 2


def test_ledger_template_lists_the_columns(db):
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(import_template_xlsx(get_importer("precursors.ledger"))))
    headers = [str(c.value).rstrip("*") for c in wb.worksheets[0][1]]
    assert headers[:5] == ["企业", "发生日期", "品种", "方向", "数量"]


# -- enterprises ----------------------------------------------------------------------------------


@pytest.fixture
def city_regulator(db):
    user = make_user()
    grant(user, "regulator", division("4601"))
    for name, kind in (("海口市公安局", UnitKind.POLICE), ("海口市应急管理局", UnitKind.OTHER),
                       ("海口市市场监督管理局", UnitKind.OTHER)):
        UnitFactory(name=name, kind=kind, division=division("4601"))
    return user


def test_enterprises_with_codes_as_records_give_them(city_regulator):
    result = run("precursors.enterprise", city_regulator, (DATA / "enterprises.csv").read_bytes(), "e.csv")
    assert result.committed, result.errors
    assert result.counts["created"] == 5
    trader = Enterprise.objects.get(credit_code=E1_CODE)
    assert trader.kind == EnterpriseKind.TRADER and trader.division.code == "460106001000"
    assert sorted(trader.supervising_units.values_list("name", flat=True)) == ["海口市公安局", "海口市应急管理局"]
    huanglong = Enterprise.objects.get(legacy_code="460100774")
    assert huanglong.credit_code == "" and huanglong.kind == EnterpriseKind.USER
    old = Enterprise.objects.get(name="海口老字号化工商行")
    assert (old.credit_code, old.legacy_code, old.status) == ("", "460100000123450", "operating")
    individual = Enterprise.objects.get(credit_code="924601060000000780")
    assert individual.risk_level == "high"
    assert any("第 5 行" in w and "个体工商户" in w for w in result.warnings)
    assert AuditEvent.objects.filter(action="precursors.enterprise_created").count() == 5


def test_enterprise_on_file_by_its_old_code_is_updated_by_its_credit_code(city_regulator):
    old = EnterpriseFactory(name="海南皇隆制药股份有限公司", credit_code="", legacy_code="460100774",
                            division=division("460106001"), kind=EnterpriseKind.USER)
    body = "91460100" + "460100774"
    code = body + uscc.calc_check_digit(body)
    headers = ["企业名称", "统一社会信用代码", "企业类型", "所属区划", "地址"]
    rows = [headers, ["海南皇隆制药股份有限公司", code, "使用单位", "460106001000", "药谷三横路8号"]]
    result = run("precursors.enterprise", city_regulator, make_csv(rows), "e.csv")
    assert result.committed and result.counts["updated"] == 1, result.errors
    old.refresh_from_db()
    assert (old.credit_code, old.legacy_code, old.address) == (code, "460100774", "药谷三横路8号")
    assert Enterprise.objects.count() == 1
    again = run("precursors.enterprise", city_regulator, make_csv(rows), "e.csv")
    assert again.committed and again.counts == {"created": 0, "updated": 0, "unchanged": 1}


def test_enterprise_rows_with_bad_codes_are_refused(city_regulator):
    EnterpriseFactory(name="已登记企业", credit_code=E2_CODE, division=division("460105001"))
    headers = ["企业名称", "统一社会信用代码", "组织机构代码/注册号", "企业类型", "所属区划"]
    body = "91460100" + "460100774"
    code = body + uscc.calc_check_digit(body)
    rows = [headers,
            ["甲公司", "914601060000000191", "", "经营企业", "460106001000"],        # 2: check character
            ["乙公司", code, "460100889", "经营企业", "460106001000"],               # 3: org code differs
            ["丙公司", "12345", "", "经营企业", "460106001000"],                     # 4: no such code
            ["丁公司", E1_CODE, "", "经营企业", "460106001000"],                     # 5 and 6: same code twice
            ["戊公司", E1_CODE, "", "经营企业", "460106001000"],
            ["己公司", "", "", "批发", "460106001000"],                              # 7: unknown kind
            ["庚公司", "", "", "经营企业", "460100000000"]]                          # 8: a city is no place
    result = run("precursors.enterprise", city_regulator, make_csv(rows), "e.csv")
    errors = by_row(result)
    assert set(errors) == {2, 3, 4, 5, 6, 7, 8}
    assert errors[2][0] == ("统一社会信用代码", errors[2][0][1]) and "校验位不符" in errors[2][0][1]
    assert errors[3][0][0] == "组织机构代码/注册号" and "不一致" in errors[3][0][1]
    assert "不是有效的代码" in errors[4][0][1]
    assert "重复" in errors[5][0][1] and "重复" in errors[6][0][1]
    assert errors[7][0][0] == "企业类型"
    assert errors[8][0][0] == "所属区划"
    assert Enterprise.objects.count() == 1


# -- licences -------------------------------------------------------------------------------------


def test_licences_grouped_by_number_with_raw_values_kept(world, regulator):
    result = run("precursors.licence", regulator, (DATA / "licences.csv").read_bytes(), "l.csv")
    assert result.committed, result.errors
    assert Licence.objects.count() == 3
    filing = Licence.objects.get(kind=LicenceKind.TRADE_FILING)
    assert filing.enterprise == world.e1
    assert filing.number == "（琼）3J46010000〔2023〕0015" and filing.number_raw == "(琼)3J46010000(2023)0015"
    assert filing.issuer == "海口市应急管理局" and filing.issuer_raw == "海口市安全生产监督管理局"
    assert (filing.issued_on, filing.valid_from, filing.valid_until) == (
        date(2023, 5, 10), date(2023, 5, 10), date(2026, 5, 9))
    assert sorted(filing.lines.values_list("chemical__name_zh", flat=True)) == sorted(
        ["醋酸酐", "盐酸", "硫酸", "甲基乙基酮", "高锰酸钾"])
    # the names as the document wrote them stay beside the catalogue entries
    assert dict(filing.lines.values_list("chemical__name_zh", "chemical_raw")) == {
        "醋酸酐": "醋酸酐", "盐酸": "鹽酸", "硫酸": "硫酸", "甲基乙基酮": "甲基乙基酮(丁酮)", "高锰酸钾": "高錳酸鉀"}
    purchase = Licence.objects.get(kind=LicenceKind.PURCHASE_FILING)
    assert purchase.one_trip and purchase.number == "琼公（易）购备字〔2025〕001号"
    assert purchase.counterparty_name == "海南某化工原料有限公司"
    assert purchase.lines.get().quantity_limit_kg == Decimal("300")
    transport = Licence.objects.get(kind=LicenceKind.TRANSPORT_FILING)
    line = transport.lines.select_related("chemical").get()
    assert (line.chemical.name_zh, line.quantity_limit_kg) == ("醋酸酐", Decimal("1500"))
    assert any("机构改革前" in w and "海口市应急管理局" in w for w in result.warnings)
    assert any("第 8 行" in w and "乙酸酐" in w and "醋酸酐" in w for w in result.warnings)
    assert AuditEvent.objects.filter(action="precursors.licence_created").count() == 3


LICENCE_HEADERS = ["企业", "证照类型", "证照编号", "发证机关", "发证日期", "有效期起", "有效期至", "品种", "限量"]


def test_licence_continuation_rows_may_leave_everything_but_number_and_chemical(world, regulator):
    rows = [LICENCE_HEADERS,
            [E1_CODE, "生产备案通知书", "琼应急（2024）001", "海口市应急管理局", "2024.03.01", "2024.03.01", "2027.02.28",
             "硫酸", ""],
            ["", "", "琼应急〔2024〕001", "", "", "", "", "盐酸", ""]]
    result = run("precursors.licence", regulator, make_csv(rows), "l.csv")
    assert result.committed, result.errors
    licence = Licence.objects.get()
    assert (licence.kind, licence.number) == (LicenceKind.PRODUCTION_FILING, "琼应急〔2024〕001")
    assert licence.lines.count() == 2 and licence.valid_until == date(2027, 2, 28)


def test_licence_rows_with_errors_are_refused(world, regulator):
    LicenceFactory(enterprise=world.e1, kind=LicenceKind.PURCHASE_FILING, number="琼公（易）购备字〔2024〕009号")
    rows = [LICENCE_HEADERS,
            # 2: the same number, brackets written otherwise: already on file
            [E1_CODE, "购买备案证明", "琼公(易)购备字(2024)009号", "海口市公安局", "2024-01-01", "2024-01-01",
             "2024-12-31", "丙酮", ""],
            # 3: validity reversed; 4: its continuation says the first row is wrong
            [E1_CODE, "经营备案证明", "A-1", "海口市应急管理局", "2024-01-01", "2024-06-01", "2024-01-01", "丙酮", ""],
            ["", "经营备案证明", "A-1", "", "", "", "", "甲苯", ""],
            # 5: fine; 6: its continuation disagrees on the end of validity; 7: chemical twice
            [E1_CODE, "经营备案证明", "B-1", "海口市应急管理局", "2024-01-01", "2024-01-01", "2026-12-31", "丙酮", ""],
            ["", "经营备案证明", "B-1", "", "", "", "2027-12-31", "甲苯", ""],
            ["", "经营备案证明", "B-1", "", "", "", "", "丙酮", ""],
            # 8: a limit in litres; 9: a kind that names no document; 10: another district's enterprise
            [E1_CODE, "购买备案证明", "C-1", "海口市公安局", "2024-01-01", "2024-01-01", "2024-03-31", "丙酮", "100L"],
            [E1_CODE, "许可证", "D-1", "海口市公安局", "2024-01-01", "2024-01-01", "2024-03-31", "丙酮", ""],
            [E3_CODE, "购买备案证明", "E-1", "海口市公安局", "2024-01-01", "2024-01-01", "2024-03-31", "丙酮", ""]]
    result = run("precursors.licence", regulator, make_csv(rows), "l.csv")
    errors = by_row(result)
    assert set(errors) == {2, 3, 4, 6, 7, 8, 9, 10}, result.errors
    assert errors[2][0][0] == "证照编号" and "已登记" in errors[2][0][1]
    assert errors[3][0][0] == "有效期至" and "不能早于" in errors[3][0][1]
    assert "首行有错误" in errors[4][0][1]
    assert errors[6][0][0] == "有效期至" and "第 5 行" in errors[6][0][1]
    assert errors[7][0][0] == "品种" and "重复" in errors[7][0][1]
    assert errors[8][0][0] == "限量" and "质量" in errors[8][0][1]
    assert errors[9][0][0] == "证照类型"
    assert errors[10][0][0] == "企业"
    assert Licence.objects.count() == 1


def test_view_only_roles_cannot_reach_the_importers(world):
    user = make_user()
    grant(user, "town_office", division("460106"))
    assert not get_importer("precursors.ledger").may_import(user)
    assert not get_importer("precursors.licence").may_import(user)
    assert not get_importer("precursors.enterprise").may_import(user)


# -- the upload pages -------------------------------------------------------------------------------


def _post(client, data: bytes, name: str, importer: str):
    f = io.BytesIO(data)
    f.name = name
    return client.post(reverse("import_upload", args=[importer]), {"file": f})


def test_upload_page_shows_row_errors_then_a_clean_file_commits(client, world, regulator):
    client.force_login(regulator)
    page = client.get(reverse("import_upload", args=["precursors.ledger"]))
    assert page.status_code == 200 and "品种" in page.content.decode()
    resp = _post(client, (DATA / "ledger_errors.csv").read_bytes(), "台账（有错误）.csv", "precursors.ledger")
    html = client.get(resp["Location"]).content.decode()
    assert "目录中没有“乙醇”" in html and "结存不足" in html and 'data-testid="commit"' not in html
    resp = _post(client, (DATA / "ledger_clean.csv").read_bytes(), "台账.csv", "precursors.ledger")
    batch = ImportBatch.objects.order_by("-pk").first()
    html = client.get(resp["Location"]).content.decode()
    assert batch.status == ImportBatch.Status.PREVIEWED and "按目录登记为“醋酸酐”" in html
    resp = client.post(reverse("import_commit", args=[batch.pk]), follow=True)
    assert "导入完成：新增 9 条" in resp.content.decode()
    assert LedgerEntry.objects.filter(import_batch=batch).count() == 9
