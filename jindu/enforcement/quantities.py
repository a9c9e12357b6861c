"""Legal quantity class of seizures, of a suspect's total and of a case's total.

The rules and the reference data are in :mod:`jindu.substances.quantities` (Criminal Law
art. 347/348, 法释〔2016〕8号; heroin equivalents DERIVED). This module applies them to
enforcement records, in this order:

1. Plant offences (art. 351 cultivation, art. 352 seeds/seedlings) are counted in plants
   (``plant_count``) against ``thresholds_other.csv`` (poppy 500 / 3000 plants…).
2. An item that was not a controlled drug on the day it was seized (no list entry, or
   seized before its listing date — etomidate before 2023-10-01) is ``not_a_drug``.
3. Offences without a quantity element (forcing or harbouring use, fake medicine…) are
   ``not_applicable``.
4. One drug: its own thresholds on the summed net weight (quantities are added up,
   art. 347 para. 7). Several drugs: heroin equivalents, marked derived.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Iterable, Sequence

from jindu.enforcement.choices import PLANT_OFFENCES, QUANTITY_OFFENCES, Offence
from jindu.substances.quantities import (
    OTHER_LEVEL_CLASS,
    Classification,
    QuantityClass,
    classify_mixture,
    classify_other,
    is_listed_on,
    threshold_key_for_substance,
)

ZERO = Decimal("0")

_PLANTS = (("罂粟", "罂粟"), ("大麻", "大麻"))


@dataclass(frozen=True)
class DrugTotal:
    """One drug's summed net grams within a set of seizures, and its class."""

    drug_zh: str | None
    label: str
    net_weight_g: Decimal
    classification: Classification


def _plant_item(seizure) -> str | None:
    text = f"{seizure.item_name} {seizure.substance.name_zh if seizure.substance_id else ''}"
    for needle, item in _PLANTS:
        if needle in text:
            return item
    return None


def _plant_classification(seizures: Sequence) -> Classification:
    counts: dict[str, int] = {}
    for s in seizures:
        item = _plant_item(s)
        if item and s.plant_count:
            counts[item] = counts.get(item, 0) + s.plant_count
    best = Classification(QuantityClass.BELOW if counts else QuantityClass.NOT_APPLICABLE)
    for item, count in counts.items():
        level = classify_other(item, Decimal(count), "plants")
        qc = OTHER_LEVEL_CLASS.get(level or "", QuantityClass.BELOW)
        basis = f"《刑法》第三百五十一条；法释〔2016〕8号第九条：{item}{count}株"
        candidate = Classification(qc, Decimal(count), basis=basis + (f"，{level}" if level else "，未达数量较大"))
        order = [QuantityClass.BELOW, QuantityClass.RELATIVELY_LARGE, QuantityClass.LARGE]
        if best.quantity_class not in order or order.index(qc) >= order.index(best.quantity_class):
            best = candidate
    return best


def is_drug_on_seizure_day(seizure) -> bool:
    """Whether the seized item was a controlled drug on its seizure date."""
    return seizure.substance_id is not None and is_listed_on(seizure.substance, seizure.seized_on)


def drug_key(seizure) -> str | None:
    """The thresholds row the seizure is counted under (``None``: no numeric threshold)."""
    return threshold_key_for_substance(seizure.substance, seizure.form)


def classify_seizures(seizures: Iterable, offence: str | None = None) -> Classification:
    """The quantity class of ``seizures`` counted together (one seizure, one suspect's
    seizures or a whole case) for ``offence`` (an :class:`Offence` value; ``None`` =
    a quantity offence). See the module docstring for the order of the rules."""
    seizures = list(seizures)
    if offence in PLANT_OFFENCES:
        return _plant_classification(seizures)
    drugs = [s for s in seizures if is_drug_on_seizure_day(s)]
    if seizures and not drugs:
        return Classification(QuantityClass.NOT_A_DRUG,
                              basis="缴获物品在缴获之日不属于国家列管的麻醉药品、精神药品（《刑法》第三百五十七条）")
    if offence is not None and offence not in QUANTITY_OFFENCES:
        return Classification(QuantityClass.NOT_APPLICABLE, basis="该罪名无毒品数量要件")
    weighed = [s for s in drugs if s.net_weight_g is not None]
    if not weighed:
        return Classification(QuantityClass.NOT_APPLICABLE, basis="未称量净重")
    return classify_mixture((drug_key(s), s.net_weight_g) for s in weighed)


def totals_by_drug(seizures: Iterable, offence: str | None = None) -> list[DrugTotal]:
    """Per drug (thresholds row) the summed net grams and its own class, largest first."""
    groups: dict[str | None, list] = {}
    labels: dict[str | None, str] = {}
    for s in seizures:
        if s.net_weight_g is None:
            continue
        key = drug_key(s) if s.substance_id else None
        groups.setdefault(key, []).append(s)
        labels.setdefault(key, key or (s.substance.name_zh if s.substance_id else s.item_name))
    out = [
        DrugTotal(key, labels[key], sum((s.net_weight_g for s in rows), ZERO), classify_seizures(rows, offence))
        for key, rows in groups.items()
    ]
    return sorted(out, key=lambda t: t.net_weight_g, reverse=True)


def classify_case(case) -> Classification:
    """The class of everything seized in ``case`` for its offence."""
    return classify_seizures(case.seizures.select_related("substance").all(), case.offence)


def classify_suspect(suspect) -> Classification:
    """The class of the suspect's own seizures (their total, per Criminal Law art. 347
    para. 7) for the case's offence."""
    return classify_seizures(suspect.seizures.select_related("substance").all(), suspect.case.offence)


__all__ = [
    "DrugTotal", "Offence", "classify_case", "classify_seizures", "classify_suspect", "drug_key",
    "is_drug_on_seizure_day", "totals_by_drug",
]
