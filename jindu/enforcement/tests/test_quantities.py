"""Legal quantity classes at and around every threshold (Criminal Law art. 347/348,
法释〔2016〕8号), heroin-equivalent mixtures, edge rows and the substance mapping."""

from decimal import Decimal

import pytest

from jindu.substances.models import Substance
from jindu.substances.quantities import (
    QuantityClass,
    classify_mixture,
    classify_other,
    classify_quantity,
    conversion_factors,
    format_grams,
    substance_links,
    threshold_key_for,
    thresholds,
)

BELOW, RL, LARGE = QuantityClass.BELOW, QuantityClass.RELATIVELY_LARGE, QuantityClass.LARGE
MG = Decimal("0.001")

# Known values written out by hand (not read from the file), so a wrong file fails.
KNOWN = [
    ("海洛因", "10", "50"), ("甲基苯丙胺", "10", "50"), ("鸦片", "200", "1000"), ("可卡因", "10", "50"),
    ("氯胺酮", "100", "500"), ("3,4-亚甲二氧基甲基苯丙胺（MDMA）等苯丙胺类毒品（甲基苯丙胺除外）", "20", "100"),
    ("芬太尼", "25", "125"), ("甲卡西酮", "40", "200"), ("二氢埃托啡", "0.002", "0.01"),
    ("大麻叶及大麻烟", "30000", "150000"), ("大麻脂", "2000", "10000"), ("曲马多", "400", "2000"),
]


@pytest.mark.parametrize("drug,rl,large", KNOWN)
def test_known_thresholds_at_and_around_each_bound(drug, rl, large):
    rl, large = Decimal(rl), Decimal(large)
    step = Decimal("0.0001") if rl < 1 else MG
    assert classify_quantity(drug, rl - step).quantity_class == BELOW
    assert classify_quantity(drug, rl).quantity_class == RL  # "以上" includes the number (art. 99)
    assert classify_quantity(drug, rl + step).quantity_class == RL
    assert classify_quantity(drug, large - step).quantity_class == RL
    assert classify_quantity(drug, large).quantity_class == LARGE
    assert classify_quantity(drug, large * 10).quantity_class == LARGE
    assert classify_quantity(drug, Decimal(0)).quantity_class == BELOW


def test_every_current_threshold_row_classifies_its_own_bounds():
    rows = thresholds()
    assert len(rows) >= 30
    for row in rows.values():
        assert row.relatively_large_min_g < row.large_min_g
        assert classify_quantity(row.drug_zh, row.relatively_large_min_g).quantity_class == RL
        assert classify_quantity(row.drug_zh, row.large_min_g).quantity_class == LARGE
        assert classify_quantity(row.drug_zh, row.relatively_large_min_g / 2).quantity_class == BELOW


def test_superseded_and_open_rows_are_not_used():
    assert "大麻油（2000年标准）" not in thresholds()
    assert "其他毒品" not in thresholds()
    result = classify_quantity(None, Decimal("85.07"))
    assert result.quantity_class == QuantityClass.NO_THRESHOLD and "第（十七）项" in result.basis


def test_basis_cites_the_law():
    assert "第三百四十七条第二款" in classify_quantity("海洛因", Decimal(50)).basis
    basis = classify_quantity("氯胺酮", Decimal(100)).basis
    assert "法释〔2016〕8号第二条第（七）项" in basis and "100克以上不满500克" in basis
    assert "第三百四十八条" in classify_quantity("海洛因", Decimal("9.99")).basis


def test_negative_quantity_refused():
    with pytest.raises(ValueError):
        classify_quantity("海洛因", Decimal("-1"))


def test_mixture_sums_heroin_equivalents_and_is_marked_derived():
    # 9 g heroin + 20 g ketamine (×0.1 = 2 g) = 11 g heroin equivalent: relatively large,
    # although each drug alone is below its own threshold.
    result = classify_mixture([("海洛因", Decimal(9)), ("氯胺酮", Decimal(20))])
    assert result.quantity_class == RL and result.derived
    assert result.quantity_g == Decimal("11.0")
    assert "推算" in result.basis
    # 49 g meth + 2 g MDMA (×0.5 = 1 g) = 50 g: large at the bound.
    assert classify_mixture([("甲基苯丙胺", Decimal(49)), ("3,4-亚甲二氧基甲基苯丙胺（MDMA）等苯丙胺类毒品（甲基苯丙胺除外）",
                                                         Decimal(2))]).quantity_class == LARGE
    # The same drug twice is one drug: its own thresholds, not derived.
    same = classify_mixture([("氯胺酮", Decimal(60)), ("氯胺酮", Decimal(40))])
    assert same.quantity_class == RL and not same.derived
    # A part without a factor is named, not silently counted.
    partial = classify_mixture([("海洛因", Decimal(5)), (None, Decimal(100))])
    assert partial.quantity_class == BELOW and partial.unconverted == ("其他毒品",)


def test_factors_are_the_derived_rows_only():
    factors = conversion_factors()
    assert factors["氯胺酮"].heroin_g_per_g == Decimal("0.1") and factors["氯胺酮"].derived
    assert all(f.method_note.startswith("DERIVED") for f in factors.values())
    assert "(104 NPS)" not in factors


def test_plants_and_precursors_from_the_other_table():
    assert classify_other("罂粟", Decimal(499), "plants") is None
    assert classify_other("罂粟", Decimal(500), "plants") == "数量较大"
    assert classify_other("罂粟", Decimal(3000), "plants") == "数量大"
    assert classify_other("麻黄碱、伪麻黄碱、消旋麻黄碱", Decimal(5), "kg") == "情节严重"


@pytest.mark.django_db
def test_mapping_table_points_at_existing_substances():
    for link in substance_links():
        sub = Substance.objects.get(control_list=link.control_list, seq_in_list=link.seq_in_list)
        assert sub.name_zh == link.substance_name_zh
        assert link.threshold_drug_zh in thresholds()
    mapped = {link.threshold_drug_zh for link in substance_links()}
    assert mapped == set(thresholds())  # every current row reaches at least one list entry
    cannabis = Substance.objects.get(name_zh="大麻和大麻树脂与大麻浸膏和酊")
    assert threshold_key_for(cannabis.control_list, cannabis.seq_in_list, "liquid") == "大麻油"
    assert threshold_key_for(cannabis.control_list, cannabis.seq_in_list, "block") == "大麻脂"
    assert threshold_key_for(cannabis.control_list, cannabis.seq_in_list, "plant") == "大麻叶及大麻烟"
    opium = Substance.objects.get(name_zh="阿片")
    assert threshold_key_for(opium.control_list, opium.seq_in_list) == "鸦片"
    etomidate = Substance.objects.get(name_zh="依托咪酯")
    assert threshold_key_for(etomidate.control_list, etomidate.seq_in_list) is None


def test_gram_formatting_has_no_float_artefacts():
    assert format_grams(Decimal("6190.580"), sep=" ") == "6190.58 克"
    assert format_grams(Decimal("0.1") + Decimal("0.2")) == "0.3克"
    assert format_grams(Decimal("1900.000")) == "1900克"
    assert format_grams(Decimal("0.002")) == "0.002克"
