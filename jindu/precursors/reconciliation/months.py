"""The maintained monthly summary of the stock ledgers (:class:`~jindu.precursors.models.LedgerMonth`).

One row per enterprise × chemical × calendar month with non-voided entries: kilograms in,
out and moved out (sale, use, loss), the opening balance, the last inbound and first
outbound day, the earliest expiry date of the lots received, the last day with entries,
and the lowest end-of-day balance within the month relative to its opening (``low_kg``;
``low_before_kg`` is the same over the days before ``last_on``, which lets a later day be
appended without reading the ledger) and absolute (``lowest_kg``, indexed where negative). The reconciliation reads its monthly working table,
opening balances, the negative-balance screen and the stock-count balances from here
instead of re-reading the ledger (:mod:`.engine`).

Kept in step, in the caller's transaction:

- :func:`add_entries` — new entries (:meth:`LedgerEntry.save` for one,
  :func:`jindu.precursors.services.post_entries` for a batch): added to their month from
  the entries alone, the ledger is not read — unless an entry is dated before the
  month's ``last_on`` (back-dated within a month), when that month is summed again from
  the ledger (:func:`refresh_months`, one month of one pair through the (enterprise,
  chemical, occurred_on) index);
- :func:`refresh_months` — a void (:meth:`LedgerEntry.save` of an existing entry) and
  back-dated postings: the pair-months summed again from the ledger;
- both then re-derive the opening balances of the pair's later months from the summary
  itself (a back-dated entry moves every later opening), and the pair's row of
  :class:`~jindu.precursors.models.LedgerPair` — its figures over all months (the
  moved-out months' count, lower median and largest month, the outbound total, the
  earliest expiry, the last day), summed from the summary (:func:`pair_select`), which an
  incremental reconciliation reads instead of the pair's months.

Postings of one pair are serialised by the lock on its ``StockBalance`` row, so the
read-modify-write here cannot race. Writes that bypass the ORM (the demo's and the
bench's ``COPY``, a repair in SQL) must be followed by :func:`rebuild_ledger_months`,
which ``manage.py rebuild_ledger_months`` runs (the repair tool: it sums the whole
ledger again, or given pairs, and then their per-pair rows).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any, Iterable, Sequence

from django.db import connection, transaction

#: Pairs per statement when refreshing or rebuilding given pairs.
CHUNK = 500
_ZERO = Decimal("0.000")
MOVED_OUT = ("out", "used", "loss")
_FIELDS = ("in_kg", "out_kg", "moved_kg", "last_in_on", "first_out_on", "first_expiry_on", "last_on", "low_kg",
           "low_before_kg", "entries")


def month_start(d: date) -> date:
    """The first day of the month of ``d``."""
    return d.replace(day=1)


def _table() -> str:
    from jindu.precursors.models import LedgerMonth

    return LedgerMonth._meta.db_table


def _param(d: date | None) -> Any:
    if d is None:
        return None
    return d if connection.vendor == "postgresql" else d.isoformat()


def _min(a, b):
    return b if a is None else a if b is None else min(a, b)


def _max(a, b):
    return b if a is None else a if b is None else max(a, b)


# ---------------------------------------------------------------------------------------------
# Posting: add new entries to their months
# ---------------------------------------------------------------------------------------------

def add_entries(entries: Sequence[Any]) -> None:
    """Add saved, non-voided :class:`~jindu.precursors.models.LedgerEntry` objects (new ones,
    not yet counted) to their months. Reads only the summary rows of the months touched;
    a month whose ``last_on`` is after an entry's date (a back-dated entry) is summed again
    from the ledger instead. Then the openings of the pairs' later months."""
    from jindu.precursors.models import LedgerMonth

    by_key: dict[tuple[int, int, date], list[Any]] = defaultdict(list)
    for e in entries:
        if e.voided_at is None:
            by_key[(e.enterprise_id, e.chemical_id, month_start(_as_date(e.occurred_on)))].append(e)
    if not by_key:
        return
    existing: dict[tuple[int, int, date], Any] = {}
    keys = sorted(by_key)
    by_enterprise: dict[int, set[int]] = defaultdict(set)
    for ent, chem, _m in keys:
        by_enterprise[ent].add(chem)
    months = sorted({m for _e, _c, m in keys})
    ents = sorted(by_enterprise)
    for i in range(0, len(ents), CHUNK):
        chunk = ents[i:i + CHUNK]
        chems = sorted(set().union(*(by_enterprise[e] for e in chunk)))
        for row in LedgerMonth.objects.filter(enterprise_id__in=chunk, chemical_id__in=chems, month__in=months):
            key = (row.enterprise_id, row.chemical_id, row.month)
            if key in by_key:
                existing[key] = row
    new_rows, changed, stale = [], [], []
    for key in keys:
        batch = sorted(by_key[key], key=lambda e: _as_date(e.occurred_on))
        row = existing.get(key)
        if row is None:
            row = LedgerMonth(enterprise_id=key[0], chemical_id=key[1], month=key[2], in_kg=_ZERO, out_kg=_ZERO,
                              moved_kg=_ZERO, low_kg=None, low_before_kg=None, entries=0)
            new_rows.append(row)
        elif row.last_on is not None and _as_date(batch[0].occurred_on) < row.last_on:
            stale.append(key)
            continue
        else:
            changed.append(row)
        _append(row, batch)
    if new_rows:
        LedgerMonth.objects.bulk_create(new_rows, batch_size=CHUNK)
    if changed:
        LedgerMonth.objects.bulk_update(changed, list(_FIELDS), batch_size=CHUNK)
    if stale:
        _resum(stale)
    pairs = {(k[0], k[1]): k[2] for k in reversed(keys)}
    _refresh_openings(pairs)
    _refresh_pairs(pairs)


def _as_date(value: Any) -> date:
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _append(row: Any, batch: Sequence[Any]) -> None:
    """Fold ``batch`` (entries of ``row``'s pair and month, in date order, none dated before
    ``row.last_on``) into ``row``: totals, day bounds, and the lowest end-of-day balance."""
    net = (row.in_kg or _ZERO) - (row.out_kg or _ZERO)
    for e in batch:
        day, qty = _as_date(e.occurred_on), Decimal(e.quantity_kg)
        if row.last_on is not None and day > row.last_on:
            # The previous last day is now an earlier day: its end-of-day balance is ``net``.
            row.low_before_kg = _min(row.low_before_kg, net)
        row.last_on = day
        if e.direction == "in":
            row.in_kg += qty
            net += qty
            row.last_in_on = _max(row.last_in_on, day)
            if e.expires_on:
                row.first_expiry_on = _min(row.first_expiry_on, _as_date(e.expires_on))
        else:
            row.out_kg += qty
            net -= qty
            if e.direction in MOVED_OUT:
                row.moved_kg += qty
            row.first_out_on = _min(row.first_out_on, day)
        row.entries += 1
    row.low_kg = _min(row.low_before_kg, net)


# ---------------------------------------------------------------------------------------------
# Summing again from the ledger
# ---------------------------------------------------------------------------------------------

def _month_sql(expr: str) -> str:
    if connection.vendor == "postgresql":
        return f"CAST(date_trunc('month', CAST({expr} AS timestamp)) AS date)"
    return f"(substr({expr}, 1, 8) || '01')"


def summary_select(where: str) -> str:
    """SELECT of summary rows (without the opening) over the ledger entries matching ``where``
    (on alias ``e``; non-voided is added here), grouped per enterprise × chemical × month.
    Per day first (a day's entries are netted), then the running balance within the month."""
    signed = "(CASE WHEN e.direction = 'in' THEN e.quantity_kg ELSE -e.quantity_kg END)"
    moved = ", ".join(f"'{d}'" for d in MOVED_OUT)
    return f"""
        SELECT enterprise_id, chemical_id, month,
               SUM(in_kg) AS in_kg, SUM(out_kg) AS out_kg, SUM(moved_kg) AS moved_kg,
               MAX(CASE WHEN n_in > 0 THEN day END) AS last_in_on,
               MIN(CASE WHEN n_out > 0 THEN day END) AS first_out_on,
               MIN(first_expiry_on) AS first_expiry_on, MAX(day) AS last_on,
               MIN(cum) AS low_kg, MIN(CASE WHEN day < last_day THEN cum END) AS low_before_kg, SUM(n) AS entries
        FROM (
            SELECT d.*,
                   SUM(net) OVER w AS cum,
                   MAX(day) OVER (PARTITION BY enterprise_id, chemical_id, month) AS last_day
            FROM (
                SELECT e.enterprise_id, e.chemical_id, {_month_sql('e.occurred_on')} AS month, e.occurred_on AS day,
                       COALESCE(SUM(CASE WHEN e.direction = 'in' THEN e.quantity_kg END), 0) AS in_kg,
                       COALESCE(SUM(CASE WHEN e.direction <> 'in' THEN e.quantity_kg END), 0) AS out_kg,
                       COALESCE(SUM(CASE WHEN e.direction IN ({moved}) THEN e.quantity_kg END), 0) AS moved_kg,
                       SUM({signed}) AS net,
                       COUNT(CASE WHEN e.direction = 'in' THEN 1 END) AS n_in,
                       COUNT(CASE WHEN e.direction <> 'in' THEN 1 END) AS n_out,
                       MIN(CASE WHEN e.direction = 'in' THEN e.expires_on END) AS first_expiry_on,
                       COUNT(*) AS n
                FROM precursors_ledgerentry e
                WHERE e.voided_at IS NULL AND {where}
                GROUP BY e.enterprise_id, e.chemical_id, e.occurred_on
            ) d
            WINDOW w AS (PARTITION BY enterprise_id, chemical_id, month ORDER BY day
                         ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
        ) c
        GROUP BY enterprise_id, chemical_id, month
    """


_COLUMNS = "enterprise_id, chemical_id, month, " + ", ".join(_FIELDS)


def _resum(keys: Iterable[tuple[int, int, date]]) -> None:
    """Sum the pair-months ``keys`` (enterprise_id, chemical_id, month start) again from the
    ledger (their openings are left to :func:`_refresh_openings`)."""
    keys = sorted(set(keys))
    table = _table()
    select = summary_select("e.enterprise_id = %s AND e.chemical_id = %s AND e.occurred_on >= %s "
                             "AND e.occurred_on < %s")
    with connection.cursor() as cur:
        cur.executemany(f"DELETE FROM {table} WHERE enterprise_id = %s AND chemical_id = %s AND month = %s",
                        [(e, c, _param(m)) for e, c, m in keys])
        cur.executemany(f"INSERT INTO {table} ({_COLUMNS}) {select}",
                        [(e, c, _param(m), _param(_next_month(m))) for e, c, m in keys])


def _next_month(m: date) -> date:
    return date(m.year + (m.month == 12), m.month % 12 + 1, 1)


def _refresh_openings(pairs: dict[tuple[int, int], date]) -> None:
    """Re-derive ``opening_kg`` of each pair's months from ``pairs[pair]`` (a month start) on:
    the sum of the earlier months' in − out (``NULL`` on the pair's first month); and
    ``lowest_kg`` = opening + ``low_kg``. Reads the summary only."""
    if not pairs:
        return
    table = _table()
    before = (f"(SELECT SUM(p.in_kg - p.out_kg) FROM {table} p "
              f"WHERE p.enterprise_id = {table}.enterprise_id AND p.chemical_id = {table}.chemical_id "
              f"AND p.month < {table}.month)")
    sql = (f"UPDATE {table} SET opening_kg = {before}, lowest_kg = COALESCE({before}, 0) + low_kg "
           f"WHERE enterprise_id = %s AND chemical_id = %s AND month >= %s")
    with connection.cursor() as cur:
        cur.executemany(sql, [(e, c, _param(m)) for (e, c), m in sorted(pairs.items())])


def _pair_table() -> str:
    from jindu.precursors.models import LedgerPair

    return LedgerPair._meta.db_table


_PAIR_COLUMNS = ("enterprise_id, chemical_id, moved_months, moved_median_kg, moved_top_kg, out_kg, first_expiry_on, "
                 "last_on")


def pair_select(join: str = "") -> str:
    """SELECT of :class:`~jindu.precursors.models.LedgerPair` rows (columns as
    ``_PAIR_COLUMNS``) summed from the monthly summary ``m`` (``join``: SQL restricting
    ``m`` to some pairs). The lower median of the moved-out months: PostgreSQL's
    ``percentile_disc(0.5)`` (the ``⌈n/2⌉``-th smallest value); SQLite, which has no
    ordered-set aggregate, the same value by ``ROW_NUMBER`` over the pair's months."""
    table = _table()
    if connection.vendor == "postgresql":
        return (f"SELECT m.enterprise_id, m.chemical_id, COUNT(*) FILTER (WHERE m.moved_kg > 0), "
                f"percentile_disc(0.5) WITHIN GROUP (ORDER BY m.moved_kg) FILTER (WHERE m.moved_kg > 0), "
                f"MAX(m.moved_kg) FILTER (WHERE m.moved_kg > 0), SUM(m.out_kg), MIN(m.first_expiry_on), "
                f"MAX(m.last_on) FROM {table} m {join} GROUP BY m.enterprise_id, m.chemical_id")
    part = "PARTITION BY m.enterprise_id, m.chemical_id, m.moved_kg > 0"
    return (f"SELECT s.enterprise_id, s.chemical_id, COALESCE(MAX(CASE WHEN s.moved_kg > 0 THEN s.n END), 0), "
            f"MAX(CASE WHEN s.moved_kg > 0 AND s.rn = (s.n + 1) / 2 THEN s.moved_kg END), "
            f"MAX(CASE WHEN s.moved_kg > 0 THEN s.moved_kg END), SUM(s.out_kg), MIN(s.first_expiry_on), "
            f"MAX(s.last_on) FROM (SELECT m.*, ROW_NUMBER() OVER ({part} ORDER BY m.moved_kg) AS rn, "
            f"COUNT(*) OVER ({part}) AS n FROM {table} m {join}) s "
            f"GROUP BY s.enterprise_id, s.chemical_id")


def _refresh_pairs(pairs: Iterable[tuple[int, int]], *, drop_empty: bool = False) -> None:
    """Sum the :class:`~jindu.precursors.models.LedgerPair` rows of ``pairs`` (enterprise_id,
    chemical_id) again from their months (an upsert, :data:`CHUNK` pairs per statement,
    through the summary's (enterprise, chemical, month) index); ``drop_empty``: also delete
    the rows of pairs left without months (after voids)."""
    pairs = sorted(set(pairs))
    if not pairs:
        return
    table = _pair_table()
    update = ", ".join(f"{c} = excluded.{c}" for c in _PAIR_COLUMNS.split(", ")[2:])
    with connection.cursor() as cur:
        for i in range(0, len(pairs), CHUNK):
            chunk = pairs[i:i + CHUNK]
            values = ", ".join(["(%s, %s)"] * len(chunk))
            join = f"JOIN (VALUES {values}) v ON m.enterprise_id = v.column1 AND m.chemical_id = v.column2"
            cur.execute(f"INSERT INTO {table} ({_PAIR_COLUMNS}) {pair_select(join)} "
                        f"ON CONFLICT (enterprise_id, chemical_id) DO UPDATE SET {update}",
                        [x for p in chunk for x in p])
        if drop_empty:
            cur.executemany(f"DELETE FROM {table} WHERE enterprise_id = %s AND chemical_id = %s AND NOT EXISTS "
                            f"(SELECT 1 FROM {_table()} m WHERE m.enterprise_id = %s AND m.chemical_id = %s)",
                            [(e, c, e, c) for e, c in pairs])


def rebuild_ledger_pairs(pairs: Iterable[tuple[int, int]] | None = None) -> int:
    """Sum the :class:`~jindu.precursors.models.LedgerPair` rows again from the monthly
    summary: every pair (``pairs=None``, one pass over the summary) or the given ones. One
    transaction. Returns the number of rows written."""
    with transaction.atomic():
        written = _sum_pairs(pairs)
    _vacuum(_pair_table())
    return written


def _sum_pairs(pairs: Iterable[tuple[int, int]] | None) -> int:
    if pairs is not None:
        pairs = sorted(set(pairs))
        _refresh_pairs(pairs, drop_empty=True)
        return len(pairs)
    with connection.cursor() as cur:
        cur.execute(f"DELETE FROM {_pair_table()}")
        cur.execute(f"INSERT INTO {_pair_table()} ({_PAIR_COLUMNS}) {pair_select()}")
        return cur.rowcount


def _vacuum(*tables: str) -> None:
    """PostgreSQL, after a rebuild: statistics, and outside a transaction ``VACUUM`` too — it
    sets the rows' hint bits and the visibility map once, instead of the first
    reconciliation doing it while reading."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cur:
        for table in tables:
            cur.execute(f"{'ANALYZE' if connection.in_atomic_block else 'VACUUM (ANALYZE)'} {table}")


def pair_mismatches(pairs: Iterable[tuple[int, int]] | None = None) -> list[tuple]:
    """The :class:`~jindu.precursors.models.LedgerPair` rows that differ from the monthly
    summary (a consistency check, used by the tests and ``manage.py rebuild_ledger_months
    --check``; the figures are computed again here in Python, not by :func:`pair_select`):
    ``(enterprise_id, chemical_id, stored, expected)``, each side a dict (``None`` where
    the row is missing)."""
    from jindu.precursors.models import LedgerMonth, LedgerPair

    wanted = None if pairs is None else set(pairs)
    months: dict[tuple[int, int], list] = defaultdict(list)
    for row in LedgerMonth.objects.values_list("enterprise_id", "chemical_id", "moved_kg", "out_kg",
                                               "first_expiry_on", "last_on").iterator(chunk_size=5000):
        if wanted is None or row[:2] in wanted:
            months[row[:2]].append(row[2:])
    expected: dict[tuple[int, int], dict] = {}
    for key, rows in months.items():
        moved = sorted(r[0] for r in rows if r[0] > 0)
        median = moved[(len(moved) + 1) // 2 - 1] if moved else None
        expected[key] = {"moved_months": len(moved), "moved_median_kg": median,
                         "moved_top_kg": moved[-1] if moved else None, "out_kg": sum((r[1] for r in rows), _ZERO),
                         "first_expiry_on": min((r[2] for r in rows if r[2]), default=None),
                         "last_on": max((r[3] for r in rows if r[3]), default=None)}
    fields = ("moved_months", "moved_median_kg", "moved_top_kg", "out_kg", "first_expiry_on", "last_on")
    stored = {(r[0], r[1]): dict(zip(fields, r[2:]))
              for r in LedgerPair.objects.values_list("enterprise_id", "chemical_id", *fields)
              if wanted is None or (r[0], r[1]) in wanted}
    return [(k[0], k[1], stored.get(k), expected.get(k))
            for k in sorted(set(stored) | set(expected)) if stored.get(k) != expected.get(k)]


def refresh_months(keys: Iterable[tuple[int, int, date]]) -> None:
    """Sum again from the ledger the months of ``keys`` (enterprise_id, chemical_id, any day
    of the month) — after a void, or any change to those entries — and re-derive the
    openings of the pairs' later months."""
    months = {(e, c, month_start(_as_date(d))) for e, c, d in keys}
    if not months:
        return
    _resum(months)
    first: dict[tuple[int, int], date] = {}
    for e, c, m in months:
        first[(e, c)] = min(m, first.get((e, c), m))
    _refresh_openings(first)
    _refresh_pairs(first, drop_empty=True)


def rebuild_ledger_months(pairs: Iterable[tuple[int, int]] | None = None) -> int:
    """Sum the summary again from the ledger: every pair (``pairs=None``: one pass over the
    ledger, for loads written by raw SQL and as the repair tool) or the given
    (enterprise_id, chemical_id) pairs (through the ledger's pair index) — the months, then
    the per-pair rows (:class:`~jindu.precursors.models.LedgerPair`), in one transaction.
    Returns the number of summary months written."""
    pairs = None if pairs is None else sorted(set(pairs))
    with transaction.atomic():
        written = _sum_months(pairs)
        _sum_pairs(pairs)
    _vacuum(_table(), _pair_table())
    return written


def rebuild_months_only(pairs: Iterable[tuple[int, int]] | None = None) -> int:
    """The months of :func:`rebuild_ledger_months` alone (what migration 0003 runs, before
    the per-pair rows existed). One transaction."""
    with transaction.atomic():
        written = _sum_months(None if pairs is None else sorted(set(pairs)))
    _vacuum(_table())
    return written


def _sum_months(pairs: list[tuple[int, int]] | None) -> int:
    table = _table()
    opening = ("SUM(in_kg - out_kg) OVER (PARTITION BY enterprise_id, chemical_id ORDER BY month "
               "ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)")
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("SET LOCAL work_mem = '256MB'")
        if pairs is None:
            cur.execute(f"DELETE FROM {table}")
            cur.execute(f"INSERT INTO {table} ({_COLUMNS}, opening_kg, lowest_kg) "
                        f"SELECT s.*, {opening}, COALESCE({opening}, 0) + s.low_kg FROM ({summary_select('1 = 1')}) s")
            return cur.rowcount
        select = summary_select("e.enterprise_id = %s AND e.chemical_id = %s")
        cur.executemany(f"DELETE FROM {table} WHERE enterprise_id = %s AND chemical_id = %s", pairs)
        cur.executemany(f"INSERT INTO {table} ({_COLUMNS}, opening_kg, lowest_kg) "
                        f"SELECT s.*, {opening}, COALESCE({opening}, 0) + s.low_kg FROM ({select}) s", pairs)
        return len(pairs)


def summary_mismatches(pairs: Iterable[tuple[int, int]] | None = None) -> list[tuple]:
    """The summary rows that differ from a fresh summing of the ledger (a consistency check,
    used by the tests and ``manage.py rebuild_ledger_months --check``): a list of
    ``(enterprise_id, chemical_id, month, stored, expected)`` with each side a dict of the
    fields (``None`` where the row is missing). Reads the whole ledger when ``pairs`` is None."""
    from jindu.precursors.models import LedgerMonth

    qs = LedgerMonth.objects.all()
    where, params = "1 = 1", []
    if pairs is not None:
        pairs = sorted(set(pairs))
        if not pairs:
            return []
        where = " OR ".join(["(e.enterprise_id = %s AND e.chemical_id = %s)"] * len(pairs))
        where = f"({where})"
        params = [x for p in pairs for x in p]
        ents = {p[0] for p in pairs}
        qs = qs.filter(enterprise_id__in=ents)
    opening = ("SUM(in_kg - out_kg) OVER (PARTITION BY enterprise_id, chemical_id ORDER BY month "
               "ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)")
    fields = (*_FIELDS, "opening_kg", "lowest_kg")
    expected: dict[tuple, dict] = {}
    with connection.cursor() as cur:
        cur.execute(f"SELECT s.*, {opening}, COALESCE({opening}, 0) + s.low_kg FROM ({summary_select(where)}) s",
                    params)
        for r in cur.fetchall():
            key = (r[0], r[1], _as_date(r[2]))
            expected[key] = _normalise(dict(zip(fields, r[3:])))
    stored: dict[tuple, dict] = {}
    for row in qs:
        key = (row.enterprise_id, row.chemical_id, row.month)
        if pairs is not None and (key[0], key[1]) not in set(pairs):
            continue
        stored[key] = _normalise({f: getattr(row, f) for f in fields})
    return [(k[0], k[1], k[2], stored.get(k), expected.get(k))
            for k in sorted(set(stored) | set(expected)) if stored.get(k) != expected.get(k)]


def _normalise(values: dict) -> dict:
    out = {}
    for k, v in values.items():
        if k.endswith("_kg"):
            out[k] = None if v is None else Decimal(str(v)).quantize(Decimal("0.001"))
        elif k.endswith("_on"):
            out[k] = None if v is None else _as_date(v)
        else:
            out[k] = int(v)
    return out


__all__ = ["summary_select", "add_entries", "refresh_months", "rebuild_ledger_months", "rebuild_months_only",
           "rebuild_ledger_pairs", "summary_mismatches", "pair_mismatches", "pair_select", "month_start"]
