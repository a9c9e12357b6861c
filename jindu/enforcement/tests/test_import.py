"""Case import: one row per seizure grouped by case number, drug names and weight units,
identity numbers in numeric cells, Chinese row errors, all-or-nothing, preview across
chunks, scope, and the upload → preview → commit pages with the template."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from jindu.accounts.tests.factories import UnitFactory
from jindu.core.imports import CellError, get_importer
from jindu.core.imports.engine import read_and_run
from jindu.core.imports.testing import make_csv, make_xlsx
from jindu.core.models import AuditEvent, ImportBatch
from jindu.core.testing import division, grant, make_user
from jindu.enforcement import selectors
from jindu.enforcement.choices import SeizureForm
from jindu.enforcement.importers import find_substance, parse_grams
from jindu.enforcement.models import Case, Seizure, Suspect
from jindu.enforcement.tests.factories import CaseFactory
from jindu.org.choices import UnitKind
from jindu.substances.names import drug_names

HEADERS = ["案件编号", "案件名称", "案件类别", "案由", "发案区划", "办案单位", "办案层级", "立案日期", "破案日期",
           "案件状态", "嫌疑人姓名", "嫌疑人身份证号", "涉案角色", "毒品名称", "形态", "毛重（克）", "净重（克）",
           "片（件）数", "缴获日期"]
ID_A = "460106198503120019"
ID_B = "460106199001010025"


@pytest.fixture
def police(db):
    user = make_user()
    grant(user, "police", division("460106"))
    UnitFactory(division=division("460106"), kind=UnitKind.POLICE, name="龙华分局禁毒大队")
    return user


def case_row(number="LH-2024-001", name="张某贩卖毒品案", **over):
    row = {"案件编号": number, "案件名称": name, "案件类别": "刑事案件", "案由": "贩卖毒品（刑法第347条）",
           "发案区划": "460106000000", "办案单位": "龙华分局禁毒大队", "办案层级": "分局",
           "立案日期": "2024-03-01", "破案日期": "2024/3/5", "案件状态": "已破案"}
    row.update(over)
    return row


def table(*rows: dict) -> list[list]:
    return [HEADERS] + [[r.get(h) for h in HEADERS] for r in rows]


def run(user, rows, *, commit=True, name="cases.xlsx"):
    data = make_xlsx(rows) if name.endswith(".xlsx") else make_csv(rows, encoding="gbk")
    return read_and_run(get_importer("enforcement.case"), data, name, user=user, commit=commit)


def test_cases_with_seizures_grouped_by_number(police):
    rows = table(
        case_row(**{"嫌疑人姓名": "张某", "嫌疑人身份证号": ID_A, "涉案角色": "主犯", "毒品名称": "冰毒",
                    "形态": "晶体", "毛重（克）": "13克", "净重（克）": 12.5}),
        # Continuation rows: the case cells left empty, or repeated exactly.
        {"案件编号": "LH-2024-001", "嫌疑人姓名": "张某", "嫌疑人身份证号": ID_A, "毒品名称": "麻古",
         "净重（克）": "0.8kg", "片（件）数": 8000},
        {**case_row(), "嫌疑人姓名": "李某", "嫌疑人身份证号": ID_B, "涉案角色": "从犯", "毒品名称": "海洛因",
         "形态": "粉末", "净重（克）": "500mg", "缴获日期": "2024年3月4日"},
        case_row("LH-2024-002", "王某非法持有毒品案", 案由="非法持有毒品（刑法第348条）",
                 **{"毒品名称": "MDMA", "形态": "片剂", "净重（克）": "1,000.5"}),
    )
    result = run(police, rows)
    assert result.ok and result.committed, result.errors
    first = Case.objects.get(number="LH-2024-001")
    assert first.suspects.count() == 2  # 张某 once, although he is on two rows
    zhang = first.suspects.get(name="张某")
    seizures = {s.item_name or s.substance.name_zh: s for s in first.seizures.select_related("substance")}
    ice, magu, heroin = seizures["冰毒"], seizures["麻古"], seizures["海洛因"]
    assert ice.substance.name_zh == "甲基苯丙胺" and ice.net_weight_g == Decimal("12.5")
    assert ice.gross_weight_g == Decimal("13") and ice.suspect == zhang
    assert magu.substance.name_zh == "甲基苯丙胺" and magu.form == "tablets" and magu.net_weight_g == Decimal("800")
    assert magu.tablet_count == 8000 and magu.suspect == zhang
    assert heroin.net_weight_g == Decimal("0.5") and heroin.seized_on == dt.date(2024, 3, 4)
    assert ice.seized_on == dt.date(2024, 3, 5)  # empty → the solving date, as on the form
    second = Case.objects.get(number="LH-2024-002")
    assert second.seizures.get().net_weight_g == Decimal("1000.5") and second.suspects.count() == 0
    # The seized total is the exact decimal sum, and the writes were audited one by one.
    total = selectors.exact_gram_sum(Seizure.objects.filter(case__in=[first, second]))
    assert total == Decimal("1813.5")
    assert AuditEvent.objects.filter(action="enforcement.case_created").count() == 2
    assert AuditEvent.objects.filter(action="enforcement.seizure_created").count() == 4
    assert ID_A not in str(list(AuditEvent.objects.values_list("changes", flat=True)))


def test_csv_in_gbk_is_read(police):
    rows = table(case_row(**{"毒品名称": "甲基苯丙胺", "形态": "晶体", "净重（克）": "3.2克"}))
    result = run(police, rows, name="cases.csv")
    assert result.committed, result.errors
    assert Case.objects.get(number="LH-2024-001").seizures.get().net_weight_g == Decimal("3.2")


def _messages(result) -> list[tuple[int | None, str, str]]:
    return [(e["row"], e["column"], e["message"]) for e in result.errors]


def test_bad_rows_are_named_and_nothing_is_written(police):
    CaseFactory(number="OLD-1", division=division("460106001"))
    before = (Case.objects.count(), Seizure.objects.count(), Suspect.objects.count())
    rows = table(
        case_row(**{"毒品名称": "甲基苯丙胺", "形态": "晶体", "净重（克）": "5"}),           # row 2: good
        case_row("LH-2", **{"嫌疑人姓名": "赵某", "嫌疑人身份证号": 460106198503120019}),    # 3: ID in a numeric cell
        case_row("LH-3", **{"毒品名称": "甲基苯丙胺", "形态": "晶体", "净重（克）": "3两"}),  # 4: ambiguous unit
        case_row("LH-4", **{"毒品名称": "摇头丸", "形态": "片剂", "净重（克）": "2"}),        # 5: not one substance
        case_row("LH-5", **{"毒品名称": "海洛因", "形态": "粉末", "毛重（克）": "4", "净重（克）": "5"}),  # 6
        {**case_row(), "案件名称": "另一个名称"},                                             # 7: differs from row 2
        case_row("OLD-1"),                                                                     # 8: already registered
        case_row("LH-9", **{"破案日期": "2024-02-30"}),                                       # 9: no such date
        case_row("LH-10", **{"毒品名称": "海洛因", "形态": "粉末", "净重（克）": "1.2345"}),  # 10: > 3 places
    )
    result = run(police, rows)
    assert not result.committed and result.error_rows == 8
    msgs = _messages(result)
    by_row = {}
    for row, column, message in msgs:
        by_row.setdefault(row, []).append((column, message))
    assert 2 not in by_row
    assert by_row[3][0][0] == "嫌疑人身份证号" and "数字格式" in by_row[3][0][1]
    assert by_row[4][0][0] == "净重（克）" and "不明确" in by_row[4][0][1]
    assert by_row[5][0][0] == "毒品名称" and "成分不唯一" in by_row[5][0][1]
    assert any("净重不能大于毛重" in m for _c, m in by_row[6])
    assert by_row[7][0][0] == "案件名称" and "首行不一致" in by_row[7][0][1]
    assert by_row[8][0][0] == "案件编号" and "已登记" in by_row[8][0][1]
    assert by_row[9][0][0] == "破案日期" and "不存在" in by_row[9][0][1]
    assert by_row[10][0][0] == "净重（克）"
    assert ID_A not in str(msgs)
    # All or nothing: the good row 2 was not kept either.
    assert (Case.objects.count(), Seizure.objects.count(), Suspect.objects.count()) == before


def test_continuation_of_a_refused_first_row_says_so(police):
    rows = table(case_row(**{"立案日期": "2024-03-09"}),  # solved before filed: the model refuses
                 {"案件编号": "LH-2024-001", "毒品名称": "海洛因", "形态": "粉末", "净重（克）": "1"})
    result = run(police, rows)
    assert not result.committed
    assert any(r == 2 and "破案日期不能早于立案日期" in m for r, _c, m in _messages(result))
    assert any(r == 3 and "首行有错误" in m for r, _c, m in _messages(result))


def test_case_outside_jurisdiction_refused(police):
    UnitFactory(division=division("460105"), kind=UnitKind.POLICE, name="秀英分局禁毒大队")
    result = run(police, table(case_row(发案区划="460105000000", 办案单位="龙华分局禁毒大队")))
    assert not result.committed and Case.objects.filter(number="LH-2024-001").count() == 0
    assert result.errors and result.errors[0]["row"] == 2


def test_preview_across_chunks_writes_nothing(police, monkeypatch):
    from jindu.core.imports import engine

    monkeypatch.setattr(engine, "PREVIEW_CHUNK", 2)
    rows = table(*[{**case_row(), "毒品名称": "海洛因", "形态": "粉末", "净重（克）": str(i + 1)} for i in range(5)])
    result = run(police, rows, commit=False)
    assert result.ok, result.errors
    assert result.counts["created"] == 5 and not Case.objects.filter(number="LH-2024-001").exists()
    result = run(police, rows)
    assert result.committed
    assert selectors.exact_gram_sum(Seizure.objects.filter(case__number="LH-2024-001")) == Decimal("15")


@pytest.mark.parametrize("text, grams", [
    ("12.5", "12.5"), ("12.5克", "12.5"), ("12.5 g", "12.5"), ("０.８ｋｇ", "800"), ("0.8千克", "800"),
    ("1.2公斤", "1200"), ("500mg", "0.5"), ("250毫克", "0.25"), ("1,234.5", "1234.5"), ("", None),
])
def test_weights_are_grams(text, grams):
    value = parse_grams(text)
    assert value == (Decimal(grams) if grams is not None else None)


@pytest.mark.parametrize("text, reason", [
    ("3两", "不明确"), ("1斤", "不明确"), ("2oz", "不明确"), ("3包", "数量"), ("约5克", "数字加单位"),
    ("5吨", "无法识别"), ("-1", "负数"),
])
def test_ambiguous_or_wrong_weights_refused(text, reason):
    with pytest.raises(CellError) as err:
        parse_grams(text)
    assert reason in str(err.value)


@pytest.mark.parametrize("written, name_zh, form", [
    ("冰毒", "甲基苯丙胺", ""), ("麻古", "甲基苯丙胺", "tablets"), ("鸦片", "阿片", ""),
    ("哌替啶（度冷丁）", "哌替啶", ""), ("杜冷丁", "哌替啶", ""), ("MDMA", "3,4-亚甲二氧基甲基苯丙胺", ""),
    ("大麻脂", "大麻和大麻树脂与大麻浸膏和酊", "block"), ("氯胺酮", "氯胺酮", ""),
])
def test_drug_names(db, written, name_zh, form):
    match = find_substance(written)
    assert match.substance.name_zh == name_zh and match.implied_form == form and match.written == written


@pytest.mark.parametrize("written", ["K粉", "摇头丸", "不存在的药"])
def test_unfounded_drug_names_refused(db, written):
    with pytest.raises(CellError):
        find_substance(written)


@pytest.mark.parametrize("written", ["白粉", "ｋ粉", "神仙水"])
def test_common_usage_names_refused_for_seizures(db, written):
    """The registry reads these (common usage); a seizure needs the tested substance."""
    with pytest.raises(CellError, match="成分不唯一"):
        find_substance(written)


def test_forms_of_the_shared_name_table_are_seizure_forms():
    forms = {entry.seizure_form for entry in drug_names().values()} - {""}
    assert forms and forms <= set(SeizureForm.values)


def test_drug_names_cached_per_import(db, django_assert_num_queries):
    cache: dict = {}
    first = find_substance("麻古", cache)
    with django_assert_num_queries(0):
        assert find_substance("麻古", cache) is first


def _upload(client, data: bytes, name: str):
    f = io.BytesIO(data)
    f.name = name
    response = client.post(reverse("enforcement:case_import"), {"file": f})
    assert response.status_code == 302, response.content.decode()[:2000]
    return ImportBatch.objects.latest("pk")


def test_pages_template_upload_preview_commit(police, client):
    client.force_login(police)
    html = client.get(reverse("enforcement:case_list")).content.decode()
    assert reverse("enforcement:case_import") in html
    response = client.get(reverse("enforcement:case_import_template"))
    wb = load_workbook(io.BytesIO(response.content))
    headers = [c.value for c in wb.worksheets[0][1]]
    assert "案件编号*" in headers and "毒品名称" in headers and "净重（克）" in headers
    id_col = headers.index("嫌疑人身份证号") + 1
    from openpyxl.utils import get_column_letter

    assert wb.worksheets[0].column_dimensions[get_column_letter(id_col)].number_format == "@"
    batch = _upload(client, make_xlsx(table(case_row(**{"毒品名称": "冰毒", "形态": "晶体", "净重（克）": "6.5"}))),
                    "cases.xlsx")
    assert batch.status == ImportBatch.Status.PREVIEWED and not Case.objects.filter(number="LH-2024-001").exists()
    response = client.post(reverse("import_commit", args=[batch.pk]))
    assert response.status_code == 302
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.COMMITTED
    case = Case.objects.get(number="LH-2024-001")
    html = client.get(reverse("enforcement:case_detail", args=[case.pk])).content.decode()
    assert "冰毒" in html and "6.5" in html
    # A bad file is rejected at preview with the row named.
    batch = _upload(client, make_xlsx(table(case_row("LH-X", **{"毒品名称": "甲基苯丙胺", "形态": "晶体",
                                                                 "净重（克）": "2斤"}))), "bad.xlsx")
    assert batch.status == ImportBatch.Status.REJECTED
    assert batch.errors[0]["row"] == 2 and batch.errors[0]["column"] == "净重（克）"
