"""Other names of controlled substances (俗称, old and statutory names) and the one look-up
that turns a drug name written in a spreadsheet into an entry of the list.

The table is ``data/drug_names.csv`` (see ``data/SOURCE.md``), read once per process.
Each row:

- ``name``: the name as written (冰毒, 麻古, K粉…); matched after NFKC normalisation,
  without spaces and case-insensitively (K粉 = k粉 = ｋ粉);
- ``substance_name_zh``: the list entry it denotes (``Substance.name_zh``); blank when it
  denotes none (神仙水, 奶茶, 跳跳糖);
- ``seizure_form``: the form the name implies (a ``SeizureForm`` value of enforcement:
  麻古 → ``tablets``, 大麻油 → ``liquid``), blank when the name implies none;
- ``one_substance``: ``yes`` when the name reliably identifies that one substance (a
  statute, judicial interpretation or judgment says so), ``no`` when it is common usage only;
- ``source_doc`` / ``source_ref``: where the row comes from ("common usage only" where
  nothing better was found), ``note``.

Who may use which rows is an explicit :class:`NamePolicy`:

- ``SEIZURE`` (enforcement: a seized drug): a seizure's legal quantity class depends on
  the tested substance (法释〔2016〕8号 art. 1–2 set thresholds per substance; 刑法 art. 357
  para. 2), so only ``one_substance`` rows are used; 摇头丸, K粉, 白粉… are refused asking for
  the list name of the forensic report.
- ``REPORTED_USE`` (persons: the drugs a person is reported to use): common usage is enough,
  so 摇头丸 → MDMA, K粉 → ketamine, 白粉 → heroin are read too.

Everything else (the list's Chinese name, abbreviation, English name; bracketed names like
``"哌替啶（度冷丁）"``; the errors; the per-import cache) is the same for both.
"""

from __future__ import annotations

import csv
import enum
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from django.db.models import Q
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _

from jindu.core.imports import CellError
from jindu.substances.models import Substance

DRUG_NAMES_CSV = Path(__file__).resolve().parent / "data" / "drug_names.csv"
_FLAGS = {"yes": True, "no": False}
_BRACKETS = re.compile(r"^(?P<outer>[^（(]+)[（(](?P<inner>[^）)]+)[）)]$")
_LIST_ORDER = ("-is_active", "control_list", "seq_in_list")


class NamePolicy(enum.Enum):
    """Which rows of the name table a use accepts (see the module docstring)."""

    SEIZURE = "seizure"
    REPORTED_USE = "reported_use"

    @property
    def allows_common_usage(self) -> bool:
        """Whether names that do not reliably identify one substance are mapped anyway."""
        return self is NamePolicy.REPORTED_USE


# A name the list does not know: the hint differs by use (a seizure of an unlisted item is
# registered on the case page; a person's drugs are always list entries).
_NOT_FOUND = {
    NamePolicy.SEIZURE: _("列管目录中没有“%(value)s”：请填写目录中的中文名称、英文缩写，或冰毒、麻古等"
                          "已收录的名称；未列管物品请在案件页面登记"),
    NamePolicy.REPORTED_USE: _("未在管制物质目录中找到“%(value)s”，请填写目录中的中文名称"),
}


@dataclass(frozen=True)
class DrugName:
    """One row of ``drug_names.csv`` (see the module docstring)."""

    name: str
    substance_name_zh: str
    seizure_form: str
    one_substance: bool
    source_doc: str
    source_ref: str
    note: str

    def usable(self, policy: NamePolicy) -> bool:
        """Whether ``policy`` maps this name to its list entry."""
        return bool(self.substance_name_zh) and (self.one_substance or policy.allows_common_usage)


@dataclass(frozen=True)
class NameMatch:
    """A drug name resolved: the list entry, the form the name implies (``""`` if none),
    the name as written (a seizure keeps it as its item name when it differs) and the
    table row used (``None`` when the list's own name, abbreviation or English name matched)."""

    substance: Substance
    implied_form: str
    written: str
    entry: DrugName | None = None


def normalize_name(text: str) -> str:
    """``" 哌替啶(度冷丁) "`` → ``"哌替啶（度冷丁）"``: NFKC (full-width letters and digits),
    no whitespace at all, full-width brackets."""
    return "".join(unicodedata.normalize("NFKC", text).split()).replace("(", "（").replace(")", "）")


@lru_cache(maxsize=1)
def drug_names() -> dict[str, DrugName]:
    """The rows of ``drug_names.csv`` by normalised, case-folded ``name``. Raises
    ``ValueError`` for a row the file must not hold (no source, a ``one_substance`` other
    than yes/no, a ``yes`` without a list entry, the same name twice)."""
    out: dict[str, DrugName] = {}
    with DRUG_NAMES_CSV.open(encoding="utf-8", newline="") as fh:
        for line, row in enumerate(csv.DictReader(fh), start=2):
            flag = row["one_substance"].strip()
            entry = DrugName(
                name=row["name"].strip(), substance_name_zh=row["substance_name_zh"].strip(),
                seizure_form=row["seizure_form"].strip(), one_substance=_FLAGS.get(flag, False),
                source_doc=row["source_doc"].strip(), source_ref=row["source_ref"].strip(), note=row["note"].strip(),
            )
            key = normalize_name(entry.name).casefold()
            if (flag not in _FLAGS or not entry.source_doc or key in out
                    or (entry.one_substance and not entry.substance_name_zh)):
                raise ValueError(f"{DRUG_NAMES_CSV.name} line {line}: bad row {row!r}")
            out[key] = entry
    return out


def _lookup_one(name: str, policy: NamePolicy) -> tuple[Substance | None, DrugName | None]:
    """The list entry ``name`` denotes and the table row used, or ``(None, None)``. Raises
    ``CellError`` when an abbreviation or English name matches different entries."""
    entry = drug_names().get(name.casefold())
    entry = entry if entry is not None and entry.usable(policy) else None
    target = entry.substance_name_zh if entry else name
    rows = list(Substance.objects.filter(name_zh=target).order_by(*_LIST_ORDER)[:1])
    if rows:
        return rows[0], entry
    rows = list(Substance.objects.filter(Q(abbreviation__iexact=name) | Q(name_en__iexact=name))
                .order_by(*_LIST_ORDER)[:3])
    if len({r.name_zh for r in rows}) > 1:
        raise CellError(_g("“%(value)s”对应多个列管品种（%(names)s），请填写中文名称")
                        % {"value": name, "names": "、".join(r.name_zh for r in rows)})
    return (rows[0], None) if rows else (None, None)


def _resolve(text: str, policy: NamePolicy) -> NameMatch | CellError:
    name = normalize_name(text)
    candidates = [name]
    m = _BRACKETS.match(name)
    if m:
        candidates += [m.group("outer"), m.group("inner")]
    try:
        for candidate in candidates:
            substance, entry = _lookup_one(candidate, policy)
            if substance is not None:
                return NameMatch(substance, entry.seizure_form if entry else "", text, entry)
    except CellError as exc:
        return exc
    table = drug_names()
    if any(c.casefold() in table and not table[c.casefold()].usable(policy) for c in candidates):
        return CellError(_g("“%(value)s”是俗称，成分不唯一：请按鉴定意见填写列管目录中的毒品名称"
                            "（如“3,4-亚甲二氧基甲基苯丙胺”“氯胺酮”）") % {"value": text})
    return CellError(str(_NOT_FOUND[policy]) % {"value": text})


def find_substance(text: str, *, policy: NamePolicy, cache: dict | None = None) -> NameMatch:
    """The controlled substance ``text`` names, under ``policy``: the list's Chinese name,
    a name of :func:`drug_names` that ``policy`` accepts, the abbreviation (MDMA) or the
    English name, case-insensitive; ``"哌替啶（度冷丁）"``-style names are tried whole, then
    the outer and the bracketed part.

    Raises :class:`~jindu.core.imports.CellError` (Chinese) when nothing matches, when the
    name is in the table but ``policy`` refuses it (the content is not one substance), or
    when an abbreviation or English name matches different entries. Answers, errors
    included, are kept in ``cache`` (one import's dict) under ``(policy, text)``, so a
    name is looked up once per import.
    """
    cache = cache if cache is not None else {}
    key = ("drug_name", policy.value, text)
    if key not in cache:
        cache[key] = _resolve(text, policy)
    found = cache[key]
    if isinstance(found, CellError):
        raise found
    return found
