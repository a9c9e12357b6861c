"""The licence cover (:class:`~jindu.precursors.models.LicenceCover`): what each licence
line covers, flattened once for the reconciliation instead of on every run.

One row per licence × chemical × activity the licence's kind covers for the chemical's
category (:data:`jindu.precursors.rules.LICENCE_KIND_RULES`: e.g. a purchase licence
covers purchases of every category, a purchase filing those of Categories 2 and 3 —
Regulation arts. 7–22), with the validity ``valid_from … valid_until`` (inclusive) cut at
the revocation: a licence revoked on day *d* covers through *d* − 1.

Kept in step in the saving transaction by signals (:func:`connect`): a saved licence
refreshes its rows, a saved line its chemical's rows, a deleted line removes them, a saved
catalogue chemical (its category may have changed) the rows of every line listing it.
Writes past the ORM's ``save`` (``bulk_create``, ``QuerySet.update``, ``COPY``, SQL) must
be followed by :func:`rebuild_cover` — ``manage.py rebuild_licence_cover``, whose
``--check`` compares the table with a fresh flattening (:func:`cover_mismatches`).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Iterable

from django.db import connection, transaction

#: Licences per statement when refreshing given licences.
CHUNK = 500
_COLUMNS = ("activity", "licence_id", "enterprise_id", "chemical_id", "number", "valid_from", "valid_until",
            "limit_kg")


def _table() -> str:
    from jindu.precursors.models import LicenceCover

    return LicenceCover._meta.db_table


def cover_select(where: str = "1 = 1") -> str:
    """SELECT of the cover rows (columns in :data:`_COLUMNS` order) of the licence lines
    matching ``where`` (aliases ``l`` licence, ``lc`` line, ``ch`` chemical)."""
    from jindu.precursors.rules import LICENCE_KIND_RULES

    whens = " ".join(
        f"WHEN l.kind = '{kind}' AND ch.category IN ({','.join(map(str, sorted(r.accepted_for)))}) THEN '{r.activity}'"
        for kind, r in LICENCE_KIND_RULES.items())
    last_day = "(l.revoked_on - 1)" if connection.vendor == "postgresql" else "date(l.revoked_on, '-1 day')"
    until = (f"CASE WHEN l.revoked_on IS NOT NULL AND {last_day} < l.valid_until THEN {last_day} "
             "ELSE l.valid_until END")
    return f"""
        SELECT activity, licence_id, enterprise_id, chemical_id, number, valid_from, valid_until, limit_kg FROM (
            SELECT CASE {whens} END AS activity, l.id AS licence_id, l.enterprise_id, lc.chemical_id, l.number,
                   l.valid_from, {until} AS valid_until, lc.quantity_limit_kg AS limit_kg
            FROM precursors_licence l
            JOIN precursors_licencechemical lc ON lc.licence_id = l.id
            JOIN precursors_chemical ch ON ch.id = lc.chemical_id
            WHERE {where}
        ) x WHERE activity IS NOT NULL
    """


def _refresh(column: str, ids: Iterable[int]) -> None:
    """Replace the cover rows whose ``column`` (licence or chemical of the line) is in ``ids``."""
    ids = sorted({int(i) for i in ids if i is not None})
    if not ids:
        return
    table = _table()
    source = {"licence_id": "l.id", "chemical_id": "lc.chemical_id"}[column]
    with transaction.atomic(), connection.cursor() as cur:
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start:start + CHUNK]
            marks = ", ".join(["%s"] * len(chunk))
            cur.execute(f"DELETE FROM {table} WHERE {column} IN ({marks})", chunk)
            cur.execute(f"INSERT INTO {table} ({', '.join(_COLUMNS)}) "
                        f"{cover_select(f'{source} IN ({marks})')}", chunk)


def refresh_licences(licence_ids: Iterable[int]) -> None:
    """Flatten the given licences again (after a change to the licence or its lines)."""
    _refresh("licence_id", licence_ids)


def refresh_chemicals(chemical_ids: Iterable[int]) -> None:
    """Flatten again every line listing the given chemicals (after a category change)."""
    _refresh("chemical_id", chemical_ids)


def remove_line(licence_id: int, chemical_id: int) -> None:
    """Drop the rows of one licence line (the line was deleted)."""
    with connection.cursor() as cur:
        cur.execute(f"DELETE FROM {_table()} WHERE licence_id = %s AND chemical_id = %s", [licence_id, chemical_id])


def rebuild_cover() -> int:
    """Flatten every licence again (one transaction); returns the rows written. On
    PostgreSQL the table is analysed (vacuumed too, outside a transaction)."""
    table = _table()
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(f"DELETE FROM {table}")
        cur.execute(f"INSERT INTO {table} ({', '.join(_COLUMNS)}) {cover_select()}")
        written = cur.rowcount
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute(f"{'ANALYZE' if connection.in_atomic_block else 'VACUUM (ANALYZE)'} {table}")
    return written


def _rows(sql: str) -> set[tuple]:
    with connection.cursor() as cur:
        cur.execute(sql)
        return {_normalise(r) for r in cur.fetchall()}


def _normalise(row: tuple) -> tuple:
    activity, licence, enterprise, chemical, number, start, until, limit = row
    limit = None if limit is None else Decimal(str(limit)).quantize(Decimal("0.001"))
    return (activity, int(licence), int(enterprise), int(chemical), number, str(start)[:10], str(until)[:10], limit)


def cover_mismatches() -> list[tuple[str, tuple]]:
    """The rows that differ between the stored cover and a fresh flattening of every
    licence: ``("missing", row)`` for a row the table lacks, ``("stale", row)`` for one it
    should not hold (a consistency check: tests and ``rebuild_licence_cover --check``)."""
    stored = _rows(f"SELECT {', '.join(_COLUMNS)} FROM {_table()}")
    expected = _rows(cover_select())
    return ([("missing", r) for r in sorted(expected - stored, key=str)]
            + [("stale", r) for r in sorted(stored - expected, key=str)])


# ---------------------------------------------------------------------------------------------
# Keeping it in step
# ---------------------------------------------------------------------------------------------

def _licence_saved(sender: Any, instance: Any, **kwargs: Any) -> None:
    refresh_licences([instance.pk])


def _line_saved(sender: Any, instance: Any, **kwargs: Any) -> None:
    # The line's chemical may have changed: its old rows go with the licence's refresh.
    refresh_licences([instance.licence_id])


def _line_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    remove_line(instance.licence_id, instance.chemical_id)


def _chemical_saved(sender: Any, instance: Any, created: bool = False, **kwargs: Any) -> None:
    if not created:
        refresh_chemicals([instance.pk])


def connect() -> None:
    """Connect the signals that keep the cover in step (called once, from the app's ``ready``)."""
    from django.db.models.signals import post_delete, post_save

    from jindu.precursors.models import Chemical, Licence, LicenceChemical

    post_save.connect(_licence_saved, sender=Licence, dispatch_uid="jindu.precursors.cover.licence")
    post_save.connect(_line_saved, sender=LicenceChemical, dispatch_uid="jindu.precursors.cover.line")
    post_delete.connect(_line_deleted, sender=LicenceChemical, dispatch_uid="jindu.precursors.cover.line_deleted")
    post_save.connect(_chemical_saved, sender=Chemical, dispatch_uid="jindu.precursors.cover.chemical")


__all__ = ["cover_select", "refresh_licences", "refresh_chemicals", "remove_line", "rebuild_cover",
           "cover_mismatches", "connect"]
