"""Loads the shipped reference files of this app into the database (idempotent).

Run after every ``migrate`` (post_migrate) and by ``manage.py load_substances``. Rows are
matched on their natural key; changed rows are updated (with history), rows that left the
file are marked inactive, never deleted (records refer to them).
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

from django.db import transaction

DATA_DIR = Path(__file__).resolve().parent / "data"
SUBSTANCES_CSV = DATA_DIR / "controlled_substances.csv"


def _date(value: str) -> dt.date | None:
    value = (value or "").strip()
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None  # the file carries prose in a few rows ("2025 (not verified)"): no date


def substance_rows() -> list[dict]:
    """Rows of ``controlled_substances.csv`` as model field dicts."""
    out = []
    class_seq = 0
    with SUBSTANCES_CSV.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            seq = row["seq_in_list"].strip()
            if not seq:  # the three class-wide entries are unnumbered: number them in file order
                class_seq += 1
                seq = str(class_seq)
            name = row["name_zh"].strip()
            note = row["abbrev_or_note"].strip()
            if name.endswith("*"):  # the list's mark for medicinal preparations
                name = name.rstrip("*")
            out.append({
                "control_list": row["list_2025"].strip(),
                "seq_in_list": int(seq),
                "name_zh": name,
                "name_en": row["name_en"].strip(),
                "cas_number": row["cas_number"].strip(),
                "abbreviation": note,
                "street_relevant": row["street_relevance"].strip().upper() == "Y",
                "date_added": _date(row["date_added"]),
                "date_added_basis": row["date_added_basis"].strip(),
                "date_confidence": row["date_confidence"].strip(),
                "source_doc": row["source_doc"].strip(),
                "source_ref": row["source_ref"].strip(),
                "is_active": True,
            })
    return out


@transaction.atomic
def load_substances() -> dict[str, int]:
    """Create or update every substance from the shipped file; returns counts
    ``{"created": n, "updated": n, "deactivated": n}``."""
    from jindu.substances.models import Substance

    existing = {(s.control_list, s.seq_in_list): s for s in Substance.objects.all()}
    created = updated = 0
    seen = set()
    for fields in substance_rows():
        key = (fields["control_list"], fields["seq_in_list"])
        seen.add(key)
        row = existing.get(key)
        if row is None:
            Substance.objects.create(**fields)
            created += 1
            continue
        changed = [f for f, v in fields.items() if getattr(row, f) != v]
        if changed:
            for f in changed:
                setattr(row, f, fields[f])
            row.save()
            updated += 1
    deactivated = 0
    for key, row in existing.items():
        if key not in seen and row.is_active:
            row.is_active = False
            row.save()
            deactivated += 1
    return {"created": created, "updated": updated, "deactivated": deactivated}


def sync_after_migrate(**kwargs) -> None:
    load_substances()
