"""Loads the shipped chemical catalogue (``data/precursors.csv``) and reference densities
into :class:`~jindu.precursors.models.Chemical` (idempotent).

Run after every ``migrate`` (post_migrate) and by ``manage.py load_precursors``. Rows are
matched on the catalogue name; changed rows are updated with history, rows that left the
file are marked inactive, never deleted (ledgers refer to them).
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

from django.db import transaction

DATA_DIR = Path(__file__).resolve().parent / "data"
CATALOGUE_CSV = DATA_DIR / "precursors.csv"
DENSITIES_CSV = DATA_DIR / "chemical_densities.csv"
SYNONYMS_CSV = DATA_DIR / "chemical_synonyms.csv"

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return [{k: (v or "").strip() for k, v in row.items()} for row in csv.DictReader(fh)]


def catalogue_rows() -> list[dict]:
    """Rows of ``precursors.csv`` as :class:`Chemical` field dicts. ``added_on`` is set only
    when the file gives an exact ISO date; the file's wording is kept in ``added_on_text``."""
    densities = {r["name_zh"]: r for r in _read(DENSITIES_CSV)}
    out = []
    for row in _read(CATALOGUE_CSV):
        raw_name = row["name_zh"]
        name = raw_name.rstrip("*").strip()
        added = row["added_on"]
        density = densities.get(name)
        out.append({
            "category": int(row["category"]),
            "name_zh": name,
            "name_en": row["name_en"],
            "cas_number": row["cas_number"],
            "un_1988_table": row["un_1988_table"],
            "added_on": dt.date.fromisoformat(added) if _ISO_DATE.match(added) else None,
            "added_on_text": added[:200],
            "is_pharmaceutical": raw_name.endswith("*"),
            "typical_density_kg_per_l": Decimal(density["density_kg_per_l"]) if density else None,
            "density_source": (f"{density['grade']}; {density['source']}"[:200]) if density else "",
            "notes": row["notes"],
            "source_doc": row["source_doc"],
            "source_ref": f"{row['source_date']} · {row['source_ref']}".strip(" ·"),
            "confidence": row["confidence"][:200],
            "is_active": True,
        })
    return out


def synonym_rows() -> list[dict[str, str]]:
    """Rows of ``chemical_synonyms.csv``: ``synonym`` → catalogue ``name_zh`` with source."""
    return _read(SYNONYMS_CSV)


def load_catalogue(using: str = "default") -> dict[str, int]:
    """Create or update every chemical from the shipped file on database ``using``; returns
    ``{"created": n, "updated": n, "deactivated": n}``."""
    with transaction.atomic(using=using):
        return _load_catalogue(using)


def _load_catalogue(using: str) -> dict[str, int]:
    from jindu.precursors.models import Chemical

    manager = Chemical.objects.db_manager(using)
    existing = {c.name_zh: c for c in manager.all()}
    created = updated = 0
    seen = set()
    for fields in catalogue_rows():
        seen.add(fields["name_zh"])
        row = existing.get(fields["name_zh"])
        if row is None:
            manager.create(**fields)
            created += 1
            continue
        changed = [f for f, v in fields.items() if getattr(row, f) != v]
        if changed:
            for f in changed:
                setattr(row, f, fields[f])
            row.save(using=using)
            updated += 1
    deactivated = 0
    for name, row in existing.items():
        if name not in seen and row.is_active:
            row.is_active = False
            row.save(using=using)
            deactivated += 1
    return {"created": created, "updated": updated, "deactivated": deactivated}


def sync_after_migrate(*, using: str = "default", **kwargs) -> None:
    """post_migrate receiver: load the catalogue, unless the precursors tables are not there
    (``migrate precursors zero``, or a plan that stops before the app's first migration)."""
    from django.db import connections

    from jindu.precursors.models import Chemical

    needed = {Chemical._meta.db_table, Chemical.history.model._meta.db_table}
    if not needed <= set(connections[using].introspection.table_names()):
        return
    load_catalogue(using=using)
