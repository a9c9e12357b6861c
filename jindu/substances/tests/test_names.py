"""The shared table of drug names (``data/drug_names.csv``) and its one look-up: every row
sourced and pointing at a real list entry; the seizure policy refuses names that do not
identify one substance, the reported-use policy reads them; list names, abbreviations,
English names, bracketed names, ambiguity and the per-import cache."""

from __future__ import annotations

import csv

import pytest

from jindu.core.imports import CellError
from jindu.substances.loaders import substance_rows
from jindu.substances.models import Substance
from jindu.substances.names import DRUG_NAMES_CSV, NamePolicy, drug_names, find_substance

SEIZURE, REPORTED_USE = NamePolicy.SEIZURE, NamePolicy.REPORTED_USE
MDMA = "3,4-亚甲二氧基甲基苯丙胺"
CANNABIS = "大麻和大麻树脂与大麻浸膏和酊"


# -- the table ---------------------------------------------------------------------------------

def test_every_row_has_a_source_and_names_a_listed_entry():
    listed = {row["name_zh"] for row in substance_rows()}
    with DRUG_NAMES_CSV.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(drug_names()) == len(rows) > 0
    for row in rows:
        assert row["source_doc"].strip(), row["name"]
        assert row["one_substance"] in {"yes", "no"}, row["name"]
        assert not row["substance_name_zh"] or row["substance_name_zh"] in listed, row["name"]
        if row["one_substance"] == "no" and row["substance_name_zh"]:
            # a common-usage mapping must say so, never pass for a legal source
            assert row["source_doc"].startswith("common usage only"), row["name"]


def test_the_table_is_read_once():
    assert drug_names() is drug_names()


@pytest.mark.parametrize("name, one_substance, target, form", [
    ("冰毒", True, "甲基苯丙胺", ""), ("麻古", True, "甲基苯丙胺", "tablets"), ("鸦片", True, "阿片", ""),
    ("大麻油", True, CANNABIS, "liquid"), ("K粉", False, "氯胺酮", ""), ("摇头丸", False, MDMA, ""),
    ("白粉", False, "海洛因", ""), ("神仙水", False, "", ""),
])
def test_rows_of_both_former_tables(name, one_substance, target, form):
    entry = drug_names()[name.casefold()]
    assert (entry.one_substance, entry.substance_name_zh, entry.seizure_form) == (one_substance, target, form)


# -- the two policies --------------------------------------------------------------------------

@pytest.mark.parametrize("written, name_zh, form", [
    ("冰毒", "甲基苯丙胺", ""), ("麻古", "甲基苯丙胺", "tablets"), ("杜冷丁", "哌替啶", ""),
    ("哌替啶（度冷丁）", "哌替啶", ""), ("哌替啶 (度冷丁)", "哌替啶", ""), ("大麻脂", CANNABIS, "block"),
    ("MDMA", MDMA, ""), ("ｍｄｍａ", MDMA, ""), ("methamphetamine", "甲基苯丙胺", ""), ("氯胺酮", "氯胺酮", ""),
    ("摇头丸（MDMA）", MDMA, ""),  # the street name is refused, the bracketed abbreviation read
])
def test_seizure_reads_list_names_and_sourced_names(db, written, name_zh, form):
    match = find_substance(written, policy=SEIZURE)
    assert (match.substance.name_zh, match.implied_form, match.written) == (name_zh, form, written)


@pytest.mark.parametrize("written", ["K粉", "ｋ粉", "k 粉", "摇头丸", "白粉", "神仙水", "奶茶"])
def test_seizure_refuses_names_of_no_one_substance(db, written):
    with pytest.raises(CellError) as err:
        find_substance(written, policy=SEIZURE)
    assert "成分不唯一" in str(err.value) and written in str(err.value)


@pytest.mark.parametrize("written, name_zh", [
    ("K粉", "氯胺酮"), ("k粉", "氯胺酮"), ("摇头丸", MDMA), ("白粉", "海洛因"), ("冰毒", "甲基苯丙胺"),
    ("麻古", "甲基苯丙胺"), ("度冷丁", "哌替啶"), ("海洛因", "海洛因"),
])
def test_reported_use_reads_common_usage(db, written, name_zh):
    match = find_substance(written, policy=REPORTED_USE)
    assert match.substance.name_zh == name_zh
    assert match.entry is None or match.entry.substance_name_zh == name_zh


def test_names_of_no_entry_are_refused_under_both_policies(db):
    for policy in NamePolicy:
        with pytest.raises(CellError, match="成分不唯一"):
            find_substance("神仙水", policy=policy)


@pytest.mark.parametrize("policy, hint", [(SEIZURE, "未列管物品请在案件页面登记"), (REPORTED_USE, "未在管制物质目录中找到")])
def test_unknown_names_are_refused_with_the_uses_hint(db, policy, hint):
    with pytest.raises(CellError) as err:
        find_substance("不存在的药", policy=policy)
    assert hint in str(err.value) and "不存在的药" in str(err.value)


@pytest.mark.parametrize("policy", list(NamePolicy))
def test_an_abbreviation_of_several_entries_is_refused(db, policy):
    Substance.objects.create(control_list="non_medicinal", seq_in_list=901, name_zh="测试物质甲", abbreviation="TST-9")
    Substance.objects.create(control_list="non_medicinal", seq_in_list=902, name_zh="测试物质乙", name_en="tst-9")
    with pytest.raises(CellError) as err:
        find_substance("tst-9", policy=policy)
    assert "测试物质甲" in str(err.value) and "测试物质乙" in str(err.value)


# -- cache -------------------------------------------------------------------------------------

def test_answers_and_errors_are_cached_per_policy(db, django_assert_num_queries):
    cache: dict = {}
    first = find_substance("K粉", policy=REPORTED_USE, cache=cache)
    with pytest.raises(CellError):
        find_substance("K粉", policy=SEIZURE, cache=cache)  # not the other policy's answer
    with django_assert_num_queries(0):
        assert find_substance("K粉", policy=REPORTED_USE, cache=cache) is first
        with pytest.raises(CellError):
            find_substance("K粉", policy=SEIZURE, cache=cache)


def test_without_a_cache_every_call_looks_up(db, django_assert_num_queries):
    with django_assert_num_queries(1):
        find_substance("冰毒", policy=SEIZURE)
    with django_assert_num_queries(1):
        find_substance("冰毒", policy=SEIZURE)
