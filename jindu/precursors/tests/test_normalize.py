"""Normalisation of real-world precursor records (reference/regulatory/precursor_import_notes.md):
chemical names and CAS numbers, document numbers, issuers across the 2018 reform, dates,
credit codes, licence kinds and quantities."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from jindu.precursors.normalize import (
    ChemicalIndex,
    check_credit_code,
    fold_traditional,
    is_valid_org_code,
    match_chemical,
    normalize_issuer,
    normalize_number,
    parse_date,
    parse_licence_kind,
    parse_quantity,
    parse_unit,
)
from jindu.precursors.tests.factories import credit_code


@pytest.fixture
def index(db):
    return ChemicalIndex.load()


# -- chemicals ----------------------------------------------------------------------------------

@pytest.mark.parametrize("written, name_zh", [
    # Import notes §1, every variant listed there.
    ("醋酸酐", "醋酸酐"), ("乙酸酐", "醋酸酐"),
    ("哌啶", "哌啶"), ("哌啶(六氢吡啶)", "哌啶"), ("哌啶（六氢吡啶）", "哌啶"),
    ("甲基乙基酮", "甲基乙基酮"), ("甲基乙基酮(丁酮)", "甲基乙基酮"), ("丁酮", "甲基乙基酮"), ("2-丁酮", "甲基乙基酮"),
    ("麻黄素", "麻黄素（麻黄碱）"), ("麻黄碱", "麻黄素（麻黄碱）"), ("麻黄素(麻黄碱)", "麻黄素（麻黄碱）"),
    ("N-乙醯鄰氨基苯酸", "N-乙酰邻氨基苯酸"), ("N-乙酰鄰氨基苯酸", "N-乙酰邻氨基苯酸"),
    ("麦角酸*", "麦角酸"), ("麦角酸＊", "麦角酸"),
    ("鹽酸", "盐酸"), ("高錳酸鉀", "高锰酸钾"), ("三氯甲烷", "三氯甲烷"),
    # Full-width, spaces, case, brackets of other styles, nested brackets.
    ("３,４-亚甲基二氧苯基-２-丙酮", "3,4-亚甲基二氧苯基-2-丙酮"), (" 甲 苯 ", "甲苯"),
    ("n-乙酰邻氨基苯酸", "N-乙酰邻氨基苯酸"), ("伪麻黄素【伪麻黄碱】", "伪麻黄素（伪麻黄碱）"),
    ("去丙酰芬太尼", "去丙酰芬太尼（N-苯基-N-(哌啶-4-基)丙酰胺）"),
    ("麻黄浸膏粉", "麻黄浸膏、麻黄浸膏粉"), ("2-甲基-3-苯基缩水甘油酸", "2-甲基-3-苯基缩水甘油酸及其酯类"),
    # A name that is also the stem of a family entry stays the entry of its own name.
    ("3,4-亚甲基二氧苯基-2-丙酮缩水甘油酸", "3,4-亚甲基二氧苯基-2-丙酮缩水甘油酸"),
    # Synonym table, English names and abbreviations.
    ("氯仿", "三氯甲烷"), ("PMK", "3,4-亚甲基二氧苯基-2-丙酮"), ("bmk", "1-苯基-2-丙酮"), ("GBL", "γ-丁内酯"),
    ("Acetone", "丙酮"), ("toluene", "甲苯"),
    # CAS numbers, alone or beside the name (import notes A4: 硫酸 7664-93-9, 丙酮 67-64-1).
    ("7664-93-9", "硫酸"), ("丙酮（67-64-1）", "丙酮"), ("丙酮 CAS:67-64-1", "丙酮"), ("二甲基酮 67-64-1", "丙酮"),
    # Grades and concentrations.
    ("浓硫酸", "硫酸"), ("工业硫酸", "硫酸"), ("硫酸98%", "硫酸"), ("盐酸(31%)", "盐酸"), ("丙酮(AR)", "丙酮"),
])
def test_chemical_variants_match_the_catalogue(index, written, name_zh):
    chemical, raw = match_chemical(written, index=index)
    assert chemical is not None and chemical.name_zh == name_zh
    assert raw == written.strip()


@pytest.mark.parametrize("written, reason", [
    ("乙醇", "目录中没有"),                       # a solvent that is not a precursor (A4 names it)
    ("7664-93-8", "校验位不符"),                  # wrong CAS check digit
    ("64-17-5", "不在易制毒化学品目录中"),        # ethanol's CAS
    ("硫酸 67-64-1", "不同品种"),                 # name and CAS disagree
    ("", "为空"),
])
def test_unknown_or_conflicting_chemicals_match_nothing(index, written, reason):
    found = index.resolve(written)
    assert found.chemical is None and reason in found.problem


def test_match_chemical_loads_the_catalogue_itself(db):
    chemical, raw = match_chemical("高錳酸鉀")
    assert chemical.name_zh == "高锰酸钾" and raw == "高錳酸鉀"


def test_catalogue_remarks_are_not_cas_numbers(index):
    # 羟亚胺's row names a conflicting CAS number inside a remark; only the first one counts.
    assert index.resolve("90717-16-1").chemical.name_zh == "羟亚胺"
    assert index.resolve("6740-87-0").chemical is None


def test_an_active_chemical_wins_over_one_that_left_the_list(db):
    from jindu.precursors.models import Chemical

    old = Chemical.objects.create(category=3, name_zh="旧丙酮", cas_number="67-64-1", is_active=False)
    index = ChemicalIndex.load()
    assert index.resolve("67-64-1").chemical.name_zh == "丙酮"
    assert index.resolve("旧丙酮").chemical == old


def test_fold_traditional_keeps_what_it_does_not_know():
    assert fold_traditional("郟縣安全生產監督管理局") == "郏县安全生产监督管理局"
    assert fold_traditional("高錳酸鉀 ABC 丙酮") == "高锰酸钾 ABC 丙酮"


# -- numbers --------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, expected", [
    ("琼环科字〔2024〕7号", "琼环科字〔2024〕7号"),
    ("琼环科字(2024)7号", "琼环科字〔2024〕7号"),
    ("琼环科字（2024）7号", "琼环科字〔2024〕7号"),
    ("琼环科字[2024]7号", "琼环科字〔2024〕7号"),
    ("琼环科字［２０２４］７号", "琼环科字〔2024〕7号"),
    ("琼环科字﹝2024﹞7号", "琼环科字〔2024〕7号"),
    ("应急厅〔2020〕31号", "应急厅〔2020〕31号"),
    ("(琼) 3j 4601 0000 01", "（琼）3J4601000001"),
    ("（琼）PF〔2020〕001", "（琼）PF〔2020〕001"),
    ("瓊公（易）字第2024001號", "琼公（易）字第2024001号"),
    ("", ""), (None, ""),
])
def test_document_numbers_are_normalised(raw, expected):
    assert normalize_number(raw) == expected


# -- issuers --------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, current", [
    ("郏县安全生产监督管理局", "郏县应急管理局"),            # notes A1
    ("郟縣安全生產監督管理局", "郏县应急管理局"),            # the same, traditional mirror
    ("中山市横栏镇安监分局", "中山市横栏镇应急管理分局"),   # notes A2
    ("海南省安全生产监督管理局", "海南省应急管理厅"),
    ("国家安全生产监督管理总局", "应急管理部"),
    ("海南省食品药品监督管理局", "海南省药品监督管理局"),
    ("海口市食品药品监督管理局", "海口市市场监督管理局"),
    ("海口市工商行政管理局", "海口市市场监督管理局"),
    ("海口市 公安局", "海口市公安局"),
    ("海口市应急管理局", "海口市应急管理局"),
])
def test_issuers_map_to_the_current_authority(raw, current):
    issuer = normalize_issuer(raw)
    assert issuer == current and issuer.raw == raw
    assert issuer.renamed == (raw.replace(" ", "") != current and "公安" not in raw)


def test_old_issuer_name_after_the_reform_is_noted():
    late = normalize_issuer("郏县安全生产监督管理局", on=date(2022, 1, 18))
    assert "机构改革前" in late.note and "郏县应急管理局" in late.note
    assert normalize_issuer("郏县安全生产监督管理局", on=date(2015, 9, 24)).note == ""
    assert normalize_issuer("海口市公安局", on=date(2022, 1, 18)).note == ""


# -- dates ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw", [
    "2022-01-18", "2022/1/18", "2022.01.18", "2022年01月18日", "2022年1月18号", "２０２２年０１月１８日", "20220118",
    " 2022-01-18 ", date(2022, 1, 18), datetime(2022, 1, 18),
])
def test_dates_as_records_write_them(raw):
    assert parse_date(raw) == date(2022, 1, 18)


@pytest.mark.parametrize("raw, reason", [
    ("18/01/2022", "无法识别"), ("2024-02-30", "不存在"), ("明年", "无法识别"), (datetime(2022, 1, 18, 9, 30), "时间"),
])
def test_unreadable_dates_are_refused(raw, reason):
    with pytest.raises(ValidationError) as err:
        parse_date(raw)
    assert reason in err.value.messages[0]


def test_blank_date_is_none():
    assert parse_date("") is None and parse_date(None) is None


# -- credit codes -------------------------------------------------------------------------------

def test_standard_sample_credit_code():
    # The GB 32100-2015 sample (notes, "Credit-code check"): passes both checks.
    code, legacy = check_credit_code("91350100M000100Y43")
    assert (code, legacy) == ("91350100M000100Y43", "")
    assert is_valid_org_code("M000100Y4")
    with pytest.raises(ValidationError) as err:
        check_credit_code("91350100M000100Y44")
    assert "校验位不符" in err.value.messages[0] and "应为 3" in err.value.messages[0]


def test_credit_code_is_read_leniently():
    assert check_credit_code(" 9135 0100-M000100Y43 ").credit_code == "91350100M000100Y43"
    assert check_credit_code("９１３５０１００ｍ０００１００ｙ４３").credit_code == "91350100M000100Y43"
    assert check_credit_code("") == ("", "") and check_credit_code(None) == ("", "")


def test_embedded_organisation_code_is_checked():
    from stdnum.cn import uscc

    body = "91350100M000100Y5"  # organisation-code check character 5 instead of 4
    code = body + uscc.calc_check_digit(body)
    with pytest.raises(ValidationError) as err:
        check_credit_code(code)
    assert "第9–17位" in err.value.messages[0]


def test_individual_business_code_is_accepted_with_a_warning():
    from stdnum.cn import uscc

    body = "92460100M000100Y4"
    code = body + uscc.calc_check_digit(body)
    checked = check_credit_code(code)
    assert checked.credit_code == code and "个体工商户" in checked.warning
    assert check_credit_code(credit_code(7)).warning == ""


def test_old_organisation_code_and_registration_number():
    assert check_credit_code("M000100Y-4") == ("", "M000100Y4")
    assert check_credit_code("123456788") == ("", "123456788")
    with pytest.raises(ValidationError) as err:
        check_credit_code("123456789")
    assert "组织机构代码" in err.value.messages[0]
    from stdnum.iso7064 import mod_11_10

    number = "46010000000123"
    good = number + mod_11_10.calc_check_digit(number)
    assert check_credit_code(good) == ("", good) and check_credit_code(good).warning == ""
    bad = number + str((int(mod_11_10.calc_check_digit(number)) + 1) % 10)
    # Numbers issued before GS 15-2006 may lack a valid check digit: accepted, flagged.
    assert check_credit_code(bad) == ("", bad) and "校验位" in check_credit_code(bad).warning


@pytest.mark.parametrize("raw", ["1234", "91350100M000100Y4", "ABCDEFGHIJKLMNOPQRS", "9135O100M000100Y43"])
def test_malformed_codes_are_refused(raw):
    with pytest.raises(ValidationError):
        check_credit_code(raw)


# -- licence kinds and quantities ----------------------------------------------------------------

@pytest.mark.parametrize("text, kind", [
    ("经营许可证", "trade_licence"), ("非药品类易制毒化学品经营许可证审核", "trade_licence"),
    ("非药品类易制毒化学品生产许可证审核", "production_licence"),
    ("第二、第三类非药品类易制毒化学品生产备案", "production_filing"),
    ("第二、三类非药品类易制毒化学品经营备案", "trade_filing"), ("二类非药品类易制毒化学品经营备案", "trade_filing"),
    ("生产备案通知书", "production_filing"), ("购买许可证", "purchase_licence"), ("购买备案证明", "purchase_filing"),
    ("易制毒化学品运输许可证", "transport_licence"), ("運輸備案證明", "transport_filing"),
    ("许可证", None), ("生产经营许可", None), ("运输许可备案", None), ("", None),
])
def test_licence_kind_from_its_many_spellings(text, kind):
    assert parse_licence_kind(text) == kind


@pytest.mark.parametrize("text, number, unit", [
    ("25", "25", None), ("25kg", "25", "kg"), ("25 KG", "25", "kg"), ("25㎏", "25", "kg"), ("1.5吨", "1.5", "t"),
    ("2t", "2", "t"), ("500克", "500", "g"), ("200L", "200", "L"), ("200升", "200", "L"), ("750毫升", "750", "mL"),
    ("４桶", "4", "piece"), ("10瓶", "10", "piece"), ("1,250.5公斤", "1250.5", "kg"),
])
def test_quantities_with_units(text, number, unit):
    assert parse_quantity(text) == (Decimal(number), unit)


@pytest.mark.parametrize("text, reason", [("3斤", "不明确"), ("2磅", "不明确"), ("-5kg", "负数"), ("约5kg", "应为数字"),
                                          ("5 立方", "无法识别")])
def test_bad_quantities_refused(text, reason):
    with pytest.raises(ValidationError) as err:
        parse_quantity(text)
    assert reason in err.value.messages[0]


def test_units():
    assert parse_unit("公斤") == "kg" and parse_unit("ML") == "mL" and parse_unit("") is None
