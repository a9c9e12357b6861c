"""Legal quantity classes of drugs (数量较大 / 数量大) and heroin equivalents.

Reference files (``data/``, copied from the project's reference set with their source
columns; see ``data/SOURCE.md``):

- ``thresholds.csv``: per drug, the lower bound of "relatively large" (数量较大) and of
  "large" (数量大). Three rows are statute (Criminal Law art. 347 para. 2(1) and 3:
  opium, heroin, methamphetamine); the rest come from the Supreme People's Court
  interpretation 法释〔2016〕8号 art. 1 (数量大) and art. 2 (数量较大). Rows of the
  superseded 法释〔2000〕13号 are kept in the file as history and never used here.
- ``thresholds_other.csv``: cultivation (art. 351), seeds/seedlings (art. 352) and
  precursor (art. 350) thresholds, in plants, m², g or kg.
- ``conversion_factors.csv``: heroin equivalents per gram. They are **DERIVED** (heroin's
  50 g 数量大 divided by the drug's 数量大 threshold), not the NNCC dependency-conversion
  tables (not found in public sources): every mixed total says so (``derived=True``).
- ``substance_thresholds.csv``: which controlled-substance rows (``Substance``, by
  ``(control_list, seq_in_list)``) a threshold row applies to. Most match by name; the
  rows marked ``manual`` in its ``match`` column are the mapping table: opium is 阿片 in
  the list, 氯氮卓 is written 氯氮䓬, the amphetamine-type class row covers MDMA, MDA,
  MDEA, amphetamine…, methamphetamine's isomers count as methamphetamine, and cannabis
  (one list entry) takes the oil / resin / leaf threshold by the seizure's form.

Boundaries: "以上" includes the number itself (Criminal Law art. 99: 本法所称以上、以下、
以内，包括本数), so 10 g of heroin is relatively large and 50 g is large. Quantities are
not converted by purity (Criminal Law art. 357 para. 2).

Everything here is pure (no database): files are read once per process.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Iterable

from django.db import models
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _

DATA_DIR = Path(__file__).resolve().parent / "data"
HEROIN = "海洛因"
OTHER_DRUGS = "其他毒品"
ZERO = Decimal("0")


class QuantityClass(models.TextChoices):
    """The legal quantity class of a drug quantity, plus the explicit edge results."""

    BELOW = "below", _("未达数量较大")
    RELATIVELY_LARGE = "relatively_large", _("数量较大")
    LARGE = "large", _("数量大")
    NO_THRESHOLD = "no_threshold", _("无数量标准")
    NOT_A_DRUG = "not_a_drug", _("非列管毒品")
    NOT_APPLICABLE = "not_applicable", _("不适用")


@dataclass(frozen=True)
class Threshold:
    """One current row of ``thresholds.csv``, converted to grams.

    ``relatively_large_min_g`` / ``large_min_g`` are inclusive lower bounds (Decimal grams;
    dihydroetorphine's milligrams are converted). ``basis`` is the file's basis code
    (``"statute"`` or ``"interp 2016 art.1(n)/2(n)"``).
    """

    drug_zh: str
    drug_en: str
    relatively_large_min_g: Decimal
    large_min_g: Decimal
    possession_min_g: Decimal
    source_unit: str
    basis: str
    source_doc: str
    source_ref: str
    notes: str

    @property
    def is_statute(self) -> bool:
        return self.basis == "statute"

    def basis_text(self, quantity_class: str) -> str:
        """Citation of the rule that puts a quantity of this drug in ``quantity_class``, in the
        active language (Chinese: ``"《刑法》第三百四十七条第二款第（一）项（50克以上）"``); ``""``
        for the other classes."""
        item = ""
        if not self.is_statute and "art.1(" in self.basis:
            item = self.basis.split("art.1(", 1)[1].split(")", 1)[0]
            # The interpretation numbers its items in Chinese numerals: 第（十七）项.
            if (get_language() or "zh").startswith("zh"):
                item = _chinese_number(item)
        values = {"relatively_large": format_decimal(self.relatively_large_min_g),
                 "large": format_decimal(self.large_min_g), "item": item}
        if quantity_class == QuantityClass.LARGE:
            if item:
                return gettext("《刑法》第三百四十七条第二款第（一）项；法释〔2016〕8号第一条第（%(item)s）项"
                               "（%(large)s克以上）") % values
            return gettext("《刑法》第三百四十七条第二款第（一）项（%(large)s克以上）") % values
        if quantity_class == QuantityClass.RELATIVELY_LARGE:
            if item:
                return gettext("《刑法》第三百四十七条第三款、第三百四十八条；法释〔2016〕8号第二条第（%(item)s）项"
                               "（%(relatively_large)s克以上不满%(large)s克）") % values
            return gettext("《刑法》第三百四十七条第三款、第三百四十八条（%(relatively_large)s克以上不满%(large)s克）") % values
        if quantity_class == QuantityClass.BELOW:
            return gettext("《刑法》第三百四十七条第四款（少量）；不满%(relatively_large)s克，"
                           "不构成第三百四十八条非法持有毒品罪") % values
        return ""


@dataclass(frozen=True)
class Classification:
    """Result of a classification.

    ``quantity_class`` is a :class:`QuantityClass` value; ``quantity_g`` the quantity
    classified (for mixtures: the heroin-equivalent total); ``threshold`` the row used
    (heroin's for mixtures); ``basis`` a Chinese sentence citing the rule; ``derived`` is
    true when the result rests on the DERIVED heroin-equivalent factors; ``unconverted``
    names mixture parts that have no factor and were left out of the total.
    """

    quantity_class: str
    quantity_g: Decimal | None = None
    threshold: Threshold | None = None
    basis: str = ""
    derived: bool = False
    unconverted: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return str(QuantityClass(self.quantity_class).label)


@dataclass(frozen=True)
class ConversionFactor:
    """Grams of heroin equivalent per gram of ``drug_zh`` (DERIVED, see module docstring)."""

    drug_zh: str
    heroin_g_per_g: Decimal
    method_note: str
    derived: bool = True


@dataclass(frozen=True)
class OtherThreshold:
    """One row of ``thresholds_other.csv``: ``level`` (数量较大, 数量大, 情节较重…) applies
    from ``min_inclusive`` up to ``max_exclusive`` (``None`` = no upper bound) in ``unit``."""

    offence: str
    item_zh: str
    level: str
    min_inclusive: Decimal
    max_exclusive: Decimal | None
    unit: str
    basis: str


@dataclass(frozen=True)
class SubstanceLink:
    threshold_drug_zh: str
    control_list: str
    seq_in_list: int
    substance_name_zh: str
    seizure_forms: tuple[str, ...] = field(default_factory=tuple)  # ("*",) = any form
    match: str = ""


_DIGITS = "零一二三四五六七八九"


def _chinese_number(text: str) -> str:
    """``"5"`` → ``"五"``, ``"17"`` → ``"十七"`` (item numbers of the interpretation)."""
    if not text.isdigit() or not 0 < int(text) < 100:
        return text
    n = int(text)
    tens, ones = divmod(n, 10)
    head = "" if tens == 0 else ("十" if tens == 1 else _DIGITS[tens] + "十")
    return head + (_DIGITS[ones] if ones else "")


def format_decimal(value: Decimal) -> str:
    """``Decimal("6190.580")`` → ``"6190.58"``, ``Decimal("10.00")`` → ``"10"``: plain
    notation, trailing zeros dropped, never scientific notation or float artefacts."""
    value = Decimal(value)
    text = format(value.normalize(), "f") if value == value.to_integral() else format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def format_grams(value: Decimal, *, sep: str = "") -> str:
    """``"6190.58克"`` (``sep=" "`` gives ``"6190.58 克"``, as pages show totals)."""
    return f"{format_decimal(value)}{sep}克"


def _decimal(text: str) -> Decimal | None:
    try:
        return Decimal(text.strip())
    except (InvalidOperation, AttributeError):
        return None


def _read(name: str) -> list[dict[str, str]]:
    with (DATA_DIR / name).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@lru_cache(maxsize=1)
def thresholds() -> dict[str, Threshold]:
    """Current thresholds (statute and 法释〔2016〕8号) by ``drug_zh``.

    Rows without numbers (``其他毒品``: case by case) and rows of the superseded
    法释〔2000〕13号 are left out on purpose.
    """
    out: dict[str, Threshold] = {}
    for row in _read("thresholds.csv"):
        basis = row["basis"].strip()
        if not (basis == "statute" or basis.startswith("interp 2016")):
            continue
        rl = _decimal(row["relatively_large_min (数量较大 lower bound)"])
        lg = _decimal(row["large_min (数量大 lower bound)"])
        pos = _decimal(row["possession_crime_min (art.348)"])
        if rl is None or lg is None:
            continue
        unit = row["unit"].strip()
        scale = Decimal("0.001") if unit == "mg" else Decimal("1")
        out[row["drug_zh"].strip()] = Threshold(
            drug_zh=row["drug_zh"].strip(), drug_en=row["drug_en"].strip(),
            relatively_large_min_g=rl * scale, large_min_g=lg * scale,
            possession_min_g=(pos if pos is not None else rl) * scale, source_unit=unit,
            basis=basis, source_doc=row["source_doc"].strip(), source_ref=row["source_ref"].strip(),
            notes=row["notes"].strip(),
        )
    return out


@lru_cache(maxsize=1)
def conversion_factors() -> dict[str, ConversionFactor]:
    """Heroin-equivalent factors by ``drug_zh``. Only the DERIVED rows are used (the first
    row per drug); rows marked NOT FOUND (the NNCC tables) are skipped."""
    out: dict[str, ConversionFactor] = {}
    for row in _read("conversion_factors.csv"):
        factor = _decimal(row["grams_equivalent_per_gram"])
        note = row["method_note"].strip()
        drug = row["drug_zh"].strip()
        if factor is None or drug in out or not note.startswith("DERIVED"):
            continue
        out[drug] = ConversionFactor(drug_zh=drug, heroin_g_per_g=factor, method_note=note, derived=True)
    return out


@lru_cache(maxsize=1)
def other_thresholds() -> tuple[OtherThreshold, ...]:
    """Rows of ``thresholds_other.csv`` (cultivation, seeds and seedlings, precursors)."""
    out = []
    for row in _read("thresholds_other.csv"):
        low = _decimal(row["min_inclusive"])
        if low is None:
            continue
        out.append(OtherThreshold(
            offence=row["offence"].strip(), item_zh=row["item_zh"].strip(), level=row["level"].strip(),
            min_inclusive=low, max_exclusive=_decimal(row["max_exclusive"]), unit=row["unit"].strip(),
            basis=row["basis"].strip(),
        ))
    return tuple(out)


@lru_cache(maxsize=1)
def substance_links() -> tuple[SubstanceLink, ...]:
    """The mapping table ``substance_thresholds.csv`` (see the module docstring)."""
    out = []
    for row in _read("substance_thresholds.csv"):
        forms = tuple(f for f in row["seizure_forms"].strip().split("|") if f)
        out.append(SubstanceLink(
            threshold_drug_zh=row["threshold_drug_zh"].strip(), control_list=row["control_list"].strip(),
            seq_in_list=int(row["seq_in_list"]), substance_name_zh=row["substance_name_zh"].strip(),
            seizure_forms=forms, match=row["match"].strip(),
        ))
    return tuple(out)


def threshold_key_for(control_list: str, seq_in_list: int, form: str = "") -> str | None:
    """The ``thresholds.csv`` drug a controlled substance is counted as, or ``None`` when
    no numeric threshold applies (法释〔2016〕8号 art. 1(17)/2(17): "other drugs", decided
    case by case).

    ``form`` is the seizure form (``"liquid"``, ``"block"``, …): cannabis, one list entry,
    is counted as oil (liquid), resin (block) or leaf/cigarettes (any other form).
    """
    candidates = [l for l in substance_links() if (l.control_list, l.seq_in_list) == (control_list, seq_in_list)]
    if not candidates:
        return None
    for link in candidates:
        if not link.seizure_forms or form in link.seizure_forms:
            return link.threshold_drug_zh
    for link in candidates:
        if "*" in link.seizure_forms:
            return link.threshold_drug_zh
    return None


def threshold_key_for_substance(substance, form: str = "") -> str | None:
    """:func:`threshold_key_for` for a ``Substance`` row (or ``None``)."""
    if substance is None:
        return None
    return threshold_key_for(substance.control_list, substance.seq_in_list, form)


def classify_quantity(drug_zh: str | None, quantity_g: Decimal) -> Classification:
    """The legal quantity class of ``quantity_g`` grams (Decimal, net, not converted by
    purity — Criminal Law art. 357 para. 2) of one drug.

    ``drug_zh`` is a ``thresholds.csv`` drug name (see :func:`threshold_key_for`).
    Returns a :class:`Classification`:

    - ``large`` (数量大) from the large bound inclusive: Criminal Law art. 347 para. 2(1)
      (opium ≥ 1000 g, heroin or methamphetamine ≥ 50 g) and 法释〔2016〕8号 art. 1;
    - ``relatively_large`` (数量较大) from the relatively-large bound inclusive up to the
      large bound: Criminal Law art. 347 para. 3 and art. 348 (illegal possession is a
      crime only from this bound) and 法释〔2016〕8号 art. 2;
    - ``below``: art. 347 para. 4 (少量; trafficking stays a crime whatever the
      quantity, art. 347 para. 1), possession is then not a crime under art. 348;
    - ``no_threshold`` when ``drug_zh`` is ``None`` or has no numeric threshold
      (法释〔2016〕8号 art. 1(17)/2(17), "other drugs").

    Raises ``ValueError`` for a negative quantity.
    """
    quantity_g = Decimal(quantity_g)
    if quantity_g < 0:
        raise ValueError("quantity_g must not be negative")
    row = thresholds().get(drug_zh or "")
    if row is None:
        return Classification(
            QuantityClass.NO_THRESHOLD, quantity_g,
            basis="法释〔2016〕8号第一条第（十七）项、第二条第（十七）项：无具体数量标准，个案认定",
        )
    if quantity_g >= row.large_min_g:
        qc = QuantityClass.LARGE
    elif quantity_g >= row.relatively_large_min_g:
        qc = QuantityClass.RELATIVELY_LARGE
    else:
        qc = QuantityClass.BELOW
    return Classification(qc, quantity_g, row, row.basis_text(qc))


def heroin_equivalent_g(drug_zh: str, quantity_g: Decimal) -> Decimal | None:
    """Grams of heroin equivalent for ``quantity_g`` grams of ``drug_zh`` with the DERIVED
    factor of ``conversion_factors.csv``; ``None`` when the drug has no factor."""
    factor = conversion_factors().get(drug_zh)
    if factor is None:
        return None
    return Decimal(quantity_g) * factor.heroin_g_per_g


def classify_mixture(parts: Iterable[tuple[str | None, Decimal]]) -> Classification:
    """The quantity class of several drugs counted together (one suspect's or one case's
    total of different drugs), summed as heroin equivalents and classified with heroin's
    thresholds (Criminal Law art. 347 para. 7: quantities are counted cumulatively;
    法释〔2016〕8号; the factors are DERIVED, so ``derived=True``).

    ``parts`` are ``(drug_zh, grams)``; the same drug may appear several times. A single
    drug is classified directly with its own thresholds (:func:`classify_quantity`, not
    derived). Parts without a factor are left out of the total and named in
    ``unconverted``; when nothing can be converted the result is ``no_threshold``.
    """
    totals: dict[str | None, Decimal] = {}
    for drug, grams in parts:
        totals[drug] = totals.get(drug, ZERO) + Decimal(grams)
    if not totals:
        return Classification(QuantityClass.NOT_APPLICABLE, ZERO)
    if len(totals) == 1:
        ((drug, grams),) = totals.items()
        return classify_quantity(drug, grams)
    heroin_g = ZERO
    unconverted: list[str] = []
    converted = 0
    for drug, grams in totals.items():
        eq = heroin_equivalent_g(drug, grams) if drug else None
        if eq is None:
            unconverted.append(drug or OTHER_DRUGS)
            continue
        heroin_g += eq
        converted += 1
    if not converted:
        return Classification(QuantityClass.NO_THRESHOLD, None, basis=classify_quantity(None, ZERO).basis,
                              unconverted=tuple(unconverted))
    single = classify_quantity(HEROIN, heroin_g)
    basis = (f"多种毒品折算海洛因合计{format_grams(heroin_g.quantize(Decimal('0.01')))}（折算系数为推算值，"
             f"非国家禁毒委折算表）；{single.basis}")
    return Classification(single.quantity_class, heroin_g, single.threshold, basis, derived=True,
                          unconverted=tuple(unconverted))


def is_listed_on(substance, day: dt.date | None) -> bool:
    """Whether ``substance`` was a controlled drug on ``day``: false only when the list
    gives a listing date after ``day`` (etomidate: 2023-10-01). Unknown dates count as
    listed (most entries predate 2014 and carry no exact date)."""
    if substance is None:
        return False
    added = getattr(substance, "date_added", None)
    return not (added and day and day < added)


def classify_other(item_zh: str, quantity: Decimal, unit: str) -> str | None:
    """The level (``"数量较大"``, ``"数量大"``, ``"情节较重"``…) of ``quantity`` of
    ``item_zh`` in ``unit`` under ``thresholds_other.csv`` (Criminal Law art. 350–352,
    法释〔2016〕8号 art. 7–10), or ``None`` below every level or for an unknown item."""
    quantity = Decimal(quantity)
    for row in other_thresholds():
        if row.item_zh != item_zh or row.unit != unit:
            continue
        if quantity >= row.min_inclusive and (row.max_exclusive is None or quantity < row.max_exclusive):
            return row.level
    return None


OTHER_LEVEL_CLASS = {"数量较大": QuantityClass.RELATIVELY_LARGE, "数量大": QuantityClass.LARGE}
