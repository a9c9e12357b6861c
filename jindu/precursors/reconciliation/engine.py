"""The reconciliation engine: prepares the shared working tables, runs every rule, and
turns the findings into discrepancies.

Design (the ledger may hold ten million entries; nothing here loads it into Python):

1. *Maintained tables, and one working table*: the licence cover
   (:class:`~jindu.precursors.models.LicenceCover`, :mod:`.cover`: licence lines
   flattened per activity they cover, validity cut at revocation), kept in step with
   every saved licence, so no run flattens the licences again; and ``recon_month``
   (enterprise × chemical × month: kilograms in, out, moved out, opening and lowest
   balances, earliest expiry), shared by the stock, balance, expiry and statistical rules —
   read from the maintained monthly summary :class:`~jindu.precursors.models.LedgerMonth`
   (:mod:`.months`), which every posting and void keeps in step, so no run re-reads the
   ledger for it (an incremental run copies only the touched pairs' months from their
   ``since_day``; the rules over whole histories take the earlier months from the summary,
   and per-pair figures from :class:`~jindu.precursors.models.LedgerPair`). An
   incremental run first fills ``recon_scope`` with the pairs to check, and every pass
   is driven from it through the (enterprise, chemical, occurred_on) index.
2. *The ledger pass* (``recon_pass``, :func:`_build_pass`): the ledger is read once for
   every rule that judges entries one by one — purchases and transport without cover,
   sales to unlicensed buyers, late sale reports, transfers without their other side.
   Each of those rules registers its entry test (a
   :class:`~jindu.precursors.reconciliation.base.LedgerCheck`, next to the rule); one
   statement evaluates them all on each entry (hash left joins to the cover and to what a
   check prepared before — transfer matching anti-joins the transfer entries with the
   counterparties' ledgers on its own — in parallel on PostgreSQL) and keeps the entries
   some test flags, a 0/1 column per test.
3. *Rules* (:data:`RULES`): each rule group is one set-based query returning only
   offending rows (from the ledger pass, or from the month table and the ledger's
   indexes); each becomes a :class:`Finding`, buffered in the temporary ``recon_found``
   table — the read phase takes no write lock. Work shared: the month table feeds four
   rules, the ledger pass five rule functions (eight rules).
4. *Write phase*, one transaction: findings upserted by ``(rule, fingerprint)`` in
   batches (new ones created with their evidence; open ones refreshed and marked
   ``still_detected``; closed ones never touched, so never reopened); open discrepancies
   of the checked pairs that no rule found any more get ``still_detected = False``; one
   audit event; the run's counts.

Incremental scope: the (enterprise, chemical) pairs — and their counterparties' pairs —
of entries posted after the previous run's watermark or voided since it started (found
through the partial index of voided entries), of stock counts and licences changed since
(with the pairs of enterprises that sold to a licence holder); each rule re-judges a pair
only from the day its findings can have changed (:func:`_build_scope`), so the work follows
the changes, not the length or density of the pairs' histories. A full run (nightly) is
still needed for what time alone changes: deadlines passing, windows closing, lots
expiring.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import date
from typing import Any, Callable, Iterable

from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from jindu.core.audit import record_event
from jindu.core.timeutils import local_today
from jindu.precursors.choices import DiscrepancyStatus
from jindu.precursors.models import Discrepancy, LedgerEntry, ReconciliationRun
from jindu.precursors.reconciliation import codes, months
from jindu.precursors.reconciliation.base import (
    CUSTODY_TABLE,
    FIGURES_TABLE,
    LEDGER_CHECKS,
    MONTH_TABLE,
    NEVER_AGAIN,
    PASS_COLUMNS,
    PASS_TABLE,
    RULES,
    SCOPE_TABLE,
    STALE_TABLE,
    WHOLE_HISTORY,
    Context,
    Finding,
    id_list,
    month_start,
    to_date,
)
from jindu.precursors.rules import TRANSFER_WINDOW_DAYS

logger = logging.getLogger(__name__)

FOUND_TABLE = "recon_found"
BATCH = 1000
#: PostgreSQL session memory for sorts and hashes during a run (the default 4 MB makes the
#: monthly aggregate and the anti-joins spill to disk at millions of rows).
PG_WORK_MEM = "256MB"
#: Key of the PostgreSQL advisory lock that keeps two runs from running at once.
ADVISORY_LOCK_KEY = 4_601_100_445

MODES = ("full", "incremental")
#: What an incremental run re-judges of a scope pair, per rule (see :func:`_build_scope`
#: for the days; only the discrepancies it re-judged can be found no longer detected) —
#: transfer matching, from the pair's ``match_since`` (a day; one finding per entry):
MATCHING_RULES = frozenset({codes.TRANSFER_NO_INBOUND, codes.TRANSFER_NO_OUTBOUND, codes.TRANSFER_QUANTITY_MISMATCH})
#: the entry tests grouped per month, from ``rejudge_since``:
MONTHLY_RULES = frozenset({codes.PURCHASE_UNLICENSED, codes.PURCHASE_AFTER_EXPIRY, codes.TRANSPORT_UNPERMITTED,
                           codes.SALE_TO_UNLICENSED, codes.LATE_SALE_REPORT})
#: the stock counts, from ``since_day`` (a count's balance is the entries up to it):
COUNT_RULES = frozenset({codes.STOCK_COUNT_MISMATCH})
#: the negative balances, from the first month ``recon_month`` holds of a pair whose entries
#: changed (``Context.recent_month_sql``; a day's balance is the entries up to it):
BALANCE_RULES = frozenset({codes.NEGATIVE_BALANCE})
#: the purchase limits, over the licences' validity, for a pair whose entries, counts or
#: licences changed (``since_day`` before never):
LICENCE_HISTORY_RULES = frozenset({codes.PURCHASE_OVER_LIMIT})
#: the rules over the pair's whole ledger history, for a pair whose entries changed
#: (``history_since`` before never):
LEDGER_HISTORY_RULES = frozenset({codes.UNUSUAL_OUTBOUND, codes.EXPIRED_NOT_DESTROYED})


def run_reconciliation(*, user: Any = None, mode: str = "full", as_of: date | None = None,
                       progress: Callable[[int, int | None, str], None] | None = None) -> ReconciliationRun:
    """Run every rule of :data:`RULES` and record the findings as discrepancies.

    ``mode``: ``"full"`` checks every enterprise × chemical pair; ``"incremental"`` only the
    pairs touched since the previous finished run (falls back to full, and is recorded
    so, when there is none). ``as_of``: the reconciliation date (local date, default
    today): entries dated after it are ignored, deadlines and windows are judged on it.
    ``progress(done, total, message)`` is called after each rule (for a job page).

    Returns the finished :class:`ReconciliationRun`; its ``raised`` counts the
    discrepancies created, ``pairs_checked`` the pairs examined. The run also carries
    (not stored) ``run.stats``: findings per rule, how many were new, refreshed, no
    longer detected, and seconds per phase. Raises ``ValueError`` for an unknown mode.
    """
    if mode not in MODES:
        raise ValueError(f"unknown reconciliation mode {mode!r}")
    as_of = as_of or local_today()
    previous = ReconciliationRun.objects.filter(finished_at__isnull=False).order_by("-id").first()
    if mode == "incremental" and previous is None:
        mode = "full"
    watermark = LedgerEntry.objects.aggregate(m=Max("id"))["m"] or 0
    run = ReconciliationRun.objects.create(mode=mode, as_of=as_of, watermark_entry_id=watermark,
                                           started_by=user if getattr(user, "pk", None) else None)
    ctx = Context(as_of=as_of, scoped=(mode == "incremental"))
    ctx.load_reference()
    stats: dict[str, Any] = {"findings": {}, "seconds": {}}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        stats["seconds"][name] = round(now - clock, 3)
        clock = now

    try:
        if ctx.pg:
            # One run at a time (the work tables of the checks are ordinary tables; two
            # runs writing the same findings would collide anyway); JIT compilation costs more
            # than it saves on these queries.
            ctx.execute("SELECT pg_advisory_lock(%s)", [ADVISORY_LOCK_KEY])
            ctx.execute(f"SET work_mem = '{PG_WORK_MEM}'")
            ctx.execute("SET jit = off")
        _drop_tables(ctx)
        ctx.create_custody_table()
        if ctx.scoped:
            pairs = _build_scope(ctx, previous)
            lap("scope")
        _build_month(ctx)
        if not ctx.scoped:
            pairs = next(ctx.rows(f"SELECT COUNT(*) FROM {MONTH_TABLE} WHERE opening IS NULL"))[0]
        lap("aggregate")
        _build_pass(ctx)
        lap("ledger_pass")
        _create_found(ctx)
        funcs = list(dict.fromkeys(r.func for r in RULES.values()))
        for i, func in enumerate(funcs, 1):
            _store_findings(ctx, func(ctx), stats["findings"])
            lap(func.__name__)
            if progress:
                progress(i, len(funcs) + 1, func.__name__)
        with transaction.atomic():
            written = _write_findings(ctx, run, user)
            stats.update(written)
            run.finished_at = timezone.now()
            run.pairs_checked = pairs
            run.raised = written["created"]
            run.save(update_fields=["finished_at", "pairs_checked", "raised"])
            record_event(action="precursors.reconciliation_run", target=run, actor=user,
                         changes={"mode": mode, "as_of": as_of.isoformat(), "pairs_checked": pairs,
                                  "created": written["created"], "refreshed": written["refreshed"],
                                  "no_longer_detected": written["cleared"], "findings": stats["findings"]})
        lap("write")
        if progress:
            progress(len(funcs) + 1, len(funcs) + 1, "write")
    finally:
        _clean_up(ctx)
    run.stats = stats
    return run


def _clean_up(ctx: Context) -> None:
    """Drop the work tables and restore the session settings. Failures are logged, not
    raised: after an error inside a caller's transaction these statements fail too, and
    must not hide the original error."""
    statements = [(f"DROP TABLE IF EXISTS {t}", []) for t in _work_tables(ctx)]
    if ctx.pg:
        statements += [("RESET work_mem", []), ("RESET jit", []), ("RESET enable_mergejoin", []),
                       ("RESET enable_hashjoin", []),
                       ("SELECT pg_advisory_unlock(%s)", [ADVISORY_LOCK_KEY])]
    try:
        _drop_month(ctx)
    except Exception:  # noqa: BLE001 - see docstring
        logger.warning("reconciliation clean-up failed: %s", MONTH_TABLE, exc_info=True)
    for sql, params in statements:
        try:
            ctx.execute(sql, params)
        except Exception:  # noqa: BLE001 - see docstring
            logger.warning("reconciliation clean-up failed: %s", sql, exc_info=True)


def ctx_count(ctx: Context, table: str) -> int:
    return next(ctx.rows(f"SELECT COUNT(*) FROM {table}"))[0]


# ---------------------------------------------------------------------------------------------
# Working tables
# ---------------------------------------------------------------------------------------------

def _work_tables(ctx: Context) -> tuple[str, ...]:
    checks = tuple(t for make in LEDGER_CHECKS.values() for t in make(ctx).work_tables)
    return (FOUND_TABLE, PASS_TABLE, SCOPE_TABLE, CUSTODY_TABLE, FIGURES_TABLE, STALE_TABLE, "recon_month_fix",
            *checks)


def _drop_month(ctx: Context) -> None:
    """Drop ``recon_month``, a temporary view or table (``DROP TABLE`` refuses a view)."""
    if ctx.pg:
        kind = next(ctx.rows("SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", [MONTH_TABLE]), (None,))[0]
        kind = {"v": "VIEW", "r": "TABLE"}.get(kind)
    else:
        kind = next(ctx.rows("SELECT type FROM sqlite_temp_master WHERE name = %s", [MONTH_TABLE]), (None,))[0]
        kind = {"view": "VIEW", "table": "TABLE"}.get(kind)
    if kind:
        ctx.execute(f"DROP {kind} {MONTH_TABLE}")


def _drop_tables(ctx: Context) -> None:
    _drop_month(ctx)
    for table in _work_tables(ctx):
        ctx.execute(f"DROP TABLE IF EXISTS {table}")


def _build_scope(ctx: Context, previous: ReconciliationRun) -> int:
    """Fill ``recon_scope`` with the pairs an incremental run checks (see the module
    docstring) and, per pair, the day from which each kind of rule re-judges it:

    - ``since_day`` (stock counts, and purchase limits over a licence's validity): the first
      day of the month of the pair's earliest new or voided entry;
      :data:`~jindu.precursors.reconciliation.base.WHOLE_HISTORY` for pairs touched by a
      stock count or a licence; :data:`~jindu.precursors.reconciliation.base.NEVER_AGAIN`
      for a pair touched only as the other side of a transfer — its own entries, counts and
      licences did not change, so neither is judged again for it;
    - ``rejudge_since`` (the entry tests grouped per month — purchases, transport, sales,
      reports): the month of the earliest voided entry, or of the earliest new entry some
      such test flags (:func:`_flag_new_entries`); the whole history after a licence
      change; else :data:`~jindu.precursors.reconciliation.base.NEVER_AGAIN` — those tests
      judge an entry by itself and the licences, so clean postings change no finding;
    - ``match_since`` (transfer matching, one finding per entry): the earliest new or
      voided entry's own day, less the window on the other side; never for counts and
      licences — a day, not a month, so a busy pair's other transfers are not matched again;
    - ``history_since`` (the rules over the pair's ledger history — negative balances,
      expired lots, the statistical screen — and the months ``recon_month`` holds): the
      first day of the month of the pair's own earliest new or voided entry; never for the
      other side of a transfer, for stock counts and for licences, none of which those
      rules read.

    Rules read only from there (:meth:`Context.scoped_from` with ``recent=True``, the
    ledger pass per :attr:`LedgerCheck.since`), and only their findings dated from there
    can be found no longer detected. Returns how many pairs."""
    days = ("since_day", "rejudge_since", "match_since", "history_since")
    ctx.execute(f"CREATE TEMP TABLE {SCOPE_TABLE} (enterprise_id bigint NOT NULL, chemical_id bigint NOT NULL, "
                f"{', '.join(f'{d} date NOT NULL' for d in days)}, PRIMARY KEY (enterprise_id, chemical_id))")
    since_p = connection.ops.adapt_datetimefield_value(previous.started_at)
    mark = previous.watermark_entry_id
    whole, never = ctx.date_param(WHOLE_HISTORY), ctx.date_param(NEVER_AGAIN)
    # Upsert keeping the earliest days of every source that touched the pair.
    upsert = "ON CONFLICT (enterprise_id, chemical_id) DO UPDATE SET " + ", ".join(
        f"{d} = {ctx.least(f'{SCOPE_TABLE}.{d}', f'excluded.{d}')}" for d in days)
    insert = f"INSERT INTO {SCOPE_TABLE} (enterprise_id, chemical_id, {', '.join(days)}) "
    where = "WHERE true " if not ctx.pg else ""

    def month_start(expr: str) -> str:
        return ctx.month_date(ctx.month_of(expr))

    def since(column: str) -> str:
        # SQLite keeps datetimes as text; rows written by other tools may use ISO "T" and an
        # offset, which a text comparison would misorder: compare as Julian days there.
        if ctx.pg:
            return f"{column} >= %s"
        return f"({column} IS NOT NULL AND julianday({column}) >= julianday(%s))"

    # The days (since_day, rejudge_since, match_since, history_since) per source — own pair:
    # the month of its earliest new or voided entry, and that entry's day; the
    # counterparty's pair: for matching only, from that day less the matching window (its
    # entries' own tests, its months and counts do not depend on ours).
    first = "MIN(e.occurred_on)"
    other = ctx.add_days(first, -TRANSFER_WINDOW_DAYS)
    new_own = f"{month_start(first)}, %s, {first}, {month_start(first)}"  # rejudged only if flagged (below)
    void_own = f"{month_start(first)}, {month_start(first)}, {first}, {month_start(first)}"
    party = f"%s, %s, {other}, %s"
    # New entries (primary-key range): their pairs and their counterparties' pairs.
    ctx.execute(insert + f"SELECT e.enterprise_id, e.chemical_id, {new_own} FROM precursors_ledgerentry e "
                         f"WHERE e.id > %s GROUP BY e.enterprise_id, e.chemical_id {upsert}", [never, mark])
    ctx.execute(insert + f"SELECT e.counterparty_id, e.chemical_id, {party} FROM precursors_ledgerentry e "
                         f"WHERE e.id > %s AND e.counterparty_id IS NOT NULL "
                         f"GROUP BY e.counterparty_id, e.chemical_id {upsert}", [never, never, never, mark])
    _flag_new_entries(ctx, mark, insert, upsert)
    # Voids since: their pairs and their counterparties' pairs. Voided entries are few, and
    # found through the partial index on voided_at — not through the pairs posted to since,
    # whose whole histories would be read (and grow with the ledger).
    voided = f"FROM precursors_ledgerentry e WHERE e.voided_at IS NOT NULL AND {since('e.voided_at')}"
    ctx.execute(insert + f"SELECT e.enterprise_id, e.chemical_id, {void_own} {voided} "
                         f"GROUP BY e.enterprise_id, e.chemical_id {upsert}", [since_p])
    ctx.execute(insert + f"SELECT e.counterparty_id, e.chemical_id, {party} {voided} "
                         f"AND e.counterparty_id IS NOT NULL GROUP BY e.counterparty_id, e.chemical_id {upsert}",
                [never, never, never, since_p])
    # Stock counts recorded or changed since. (Counts change no entry's test and no match;
    # licences no match.)
    ctx.execute(insert + f"SELECT DISTINCT enterprise_id, chemical_id, %s, %s, %s, %s FROM precursors_stockcount "
                         f"WHERE {since('updated_at')} {upsert}", [whole, never, never, never, since_p])
    # Licences changed since: the holder's pairs, and the pairs of whoever sold it those chemicals.
    # (The changed lines first, then the ledger through its (counterparty, chemical) index.)
    changed = (f"WITH ch AS MATERIALIZED (SELECT DISTINCT l.enterprise_id, lc.chemical_id FROM precursors_licence l "
               f"JOIN precursors_licencechemical lc ON lc.licence_id = l.id WHERE {since('l.updated_at')}) ")
    ctx.execute(changed + insert + f"SELECT enterprise_id, chemical_id, %s, %s, %s, %s FROM ch {where}{upsert}",
                [since_p, whole, whole, never, never])
    ctx.execute(changed + insert + f"SELECT DISTINCT e.enterprise_id, e.chemical_id, %s, %s, %s, %s "
                                   f"FROM ch {ctx.driven_join} precursors_ledgerentry e "
                                   f"ON e.counterparty_id = ch.enterprise_id AND e.chemical_id = ch.chemical_id "
                                   f"{where}{upsert}", [since_p, whole, whole, never, never])
    ctx.analyze(SCOPE_TABLE)
    return ctx_count(ctx, SCOPE_TABLE)


def _flag_new_entries(ctx: Context, mark: int, insert: str, upsert: str) -> None:
    """Set ``rejudge_since`` of the pairs whose new entries (ids above ``mark``) some
    entry test grouped per month flags: the month of the earliest such entry. Those tests
    judge an entry by itself and the licences (a licence change re-judges its pairs'
    whole history), so a month none of whose new entries is flagged keeps its findings
    as they are and is not read again — a busy pair's month of clean postings costs
    nothing."""
    checks = [make(ctx) for make in LEDGER_CHECKS.values()]
    checks = [c for c in checks if c.since == "rejudge_since"]
    joins = " ".join(dict.fromkeys(j for c in checks for j in c.joins))
    flagged = " OR ".join(f"({c.condition})" for c in checks)
    first = "MIN(e.occurred_on)"
    month = ctx.month_date(ctx.month_of(first))
    # The new entries drive: each probes the cover's indexes (see Context.planner_off).
    with ctx.planner_off("hashjoin", "mergejoin"):
        ctx.execute(insert + f"SELECT e.enterprise_id, e.chemical_id, {month}, {month}, {first}, "
                             f"{ctx.date_sql(NEVER_AGAIN)} "
                             f"FROM precursors_ledgerentry e {joins} "
                             f"WHERE e.id > %s AND e.voided_at IS NULL AND e.occurred_on <= {ctx.as_of_sql} "
                             f"AND ({flagged}) GROUP BY e.enterprise_id, e.chemical_id {upsert}", [mark])


def _build_month(ctx: Context) -> None:
    """``recon_month``: the monthly working table shared by the stock, balance, expiry and
    statistical rules, read from the maintained summary
    :class:`~jindu.precursors.models.LedgerMonth` (:mod:`.months`), not from the ledger.

    One row per enterprise × chemical × month with entries (non-voided, dated up to
    ``as_of``): kilograms in (``in_kg``), out (every other direction, ``out_kg``), moved
    out (``out``, ``used``, ``loss``: ``move_kg``), the earliest expiry of the lots received
    (``first_expiry``), the last inbound and first outbound day, the balance before the
    month (``opening``, NULL on the pair's first month) and the lowest end-of-day balance
    within the month, relative to it (``low``) and absolute (``lowest``). An incremental
    run takes the months of the scope pairs whose own entries changed
    (``scoped_from(history=True)``), from the month of the pair's ``history_since``
    (:attr:`Context.recent_month_sql`): the rules that need the earlier months read them
    through :meth:`Context.month_history`, and per-pair figures from ``recon_figures``
    (below). Months after the month of ``as_of`` are
    left out; in that month, the pairs with entries dated after ``as_of`` (found through
    the ledger's date index; none when the run is for today) are summed again from their
    entries up to ``as_of`` through the pair index. Kilograms stay decimal (PostgreSQL
    casts ``numeric`` to ``float8`` through text: a rule casts only the rows it needs).
    """
    as_month = month_start(ctx.as_of)
    after = _next_month(as_month)
    # Pairs with entries dated after ``as_of`` in its own month: that month again, up to ``as_of``.
    scope = (f"AND EXISTS (SELECT 1 FROM {SCOPE_TABLE} sc WHERE sc.enterprise_id = e.enterprise_id "
             f"AND sc.chemical_id = e.chemical_id AND sc.history_since < {ctx.date_sql(NEVER_AGAIN)})"
             if ctx.scoped else "")
    later = [ctx.as_of_param, ctx.date_param(after)]
    fix_needed = next(ctx.rows(f"SELECT COUNT(*) FROM (SELECT 1 FROM precursors_ledgerentry e "
                               f"WHERE e.occurred_on > %s AND e.occurred_on < %s AND e.voided_at IS NULL {scope} "
                               f"LIMIT 1) x", later))[0]
    # A full run that needs no correction reads the summary in place, through a temporary
    # view (the month is a literal: a view takes no parameters); otherwise a copy.
    as_month_sql = f"DATE '{as_month.isoformat()}'" if ctx.pg else f"'{as_month.isoformat()}'"
    kind = "VIEW" if not ctx.scoped and not fix_needed else "TABLE"
    ctx.execute(f"""
        CREATE TEMP {kind} {MONTH_TABLE} AS
        SELECT m.enterprise_id, m.chemical_id, m.month, m.in_kg, m.out_kg, m.moved_kg AS move_kg,
               m.first_expiry_on AS first_expiry, m.last_in_on AS last_in, m.first_out_on AS first_out,
               m.opening_kg AS opening, m.low_kg AS low, m.lowest_kg AS lowest
        FROM {ctx.scoped_from("precursors_ledgermonth", "m", history=True)}
        WHERE m.month <= {as_month_sql} {f"AND m.month >= {ctx.recent_month_sql}" if ctx.scoped else ""}
    """)
    if fix_needed:
        ctx.execute("DROP TABLE IF EXISTS recon_month_fix")
        ctx.execute(f"CREATE TEMP TABLE recon_month_fix AS SELECT DISTINCT e.enterprise_id, e.chemical_id "
                    f"FROM precursors_ledgerentry e WHERE e.occurred_on > %s AND e.occurred_on < %s "
                    f"AND e.voided_at IS NULL {scope}", later)
        fix = ("EXISTS (SELECT 1 FROM recon_month_fix x WHERE x.enterprise_id = {a}.enterprise_id "
               "AND x.chemical_id = {a}.chemical_id)")
        ctx.execute(f"DELETE FROM {MONTH_TABLE} WHERE month = %s AND {fix.format(a=MONTH_TABLE)}",
                    [ctx.date_param(as_month)])
        select = months.summary_select(f"e.occurred_on >= %s AND e.occurred_on <= %s AND {fix.format(a='e')}")
        ctx.execute(f"""
            INSERT INTO {MONTH_TABLE} (enterprise_id, chemical_id, month, in_kg, out_kg, move_kg, first_expiry,
                                       last_in, first_out, opening, low, lowest)
            SELECT s.*, COALESCE(s.opening, 0) + s.low_kg FROM (
                SELECT s.enterprise_id, s.chemical_id, s.month, s.in_kg, s.out_kg, s.moved_kg, s.first_expiry_on,
                       s.last_in_on, s.first_out_on,
                       (SELECT SUM(p.in_kg - p.out_kg) FROM precursors_ledgermonth p
                         WHERE p.enterprise_id = s.enterprise_id AND p.chemical_id = s.chemical_id
                           AND p.month < %s) AS opening,
                       s.low_kg
                FROM ({select}) s
            ) s
        """, [ctx.date_param(as_month), ctx.date_param(as_month), ctx.as_of_param])
        ctx.execute("DROP TABLE IF EXISTS recon_month_fix")
    # (Not for an incremental run on PostgreSQL: its few thousand months are read whole by
    # each rule, and the analysis cost more than any plan it changed — measured 30 ms.)
    if kind == "TABLE" and not (ctx.scoped and ctx.pg):
        ctx.analyze(MONTH_TABLE, columns=("enterprise_id", "chemical_id", "month"))
    if ctx.scoped:
        _build_figures(ctx)


def _build_figures(ctx: Context) -> None:
    """``recon_figures`` and ``recon_stale`` (incremental runs): the per-pair figures
    (:class:`~jindu.precursors.models.LedgerPair`) of the scope pairs whose ledger history is
    judged, read once — those whose figures include entries dated after ``as_of`` (none when
    the run is for today), or that have none, moved to ``recon_stale``, judged from their
    months. One read, so a posting during the run cannot leave a pair in neither or both."""
    never = ctx.date_sql(NEVER_AGAIN)
    with ctx.planner_off("hashjoin", "mergejoin"):
        ctx.execute(f"CREATE TEMP TABLE {FIGURES_TABLE} AS SELECT sc.enterprise_id, sc.chemical_id, "
                    f"p.moved_months, p.moved_median_kg, p.moved_top_kg, p.out_kg, p.first_expiry_on, "
                    f"CASE WHEN p.last_on IS NULL OR p.last_on > {ctx.as_of_sql} THEN 1 ELSE 0 END AS stale "
                    f"FROM {SCOPE_TABLE} sc LEFT JOIN precursors_ledgerpair p "
                    f"ON p.enterprise_id = sc.enterprise_id AND p.chemical_id = sc.chemical_id "
                    f"WHERE sc.history_since < {never}")
    ctx.execute(f"CREATE TEMP TABLE {STALE_TABLE} AS SELECT enterprise_id, chemical_id FROM {FIGURES_TABLE} "
                f"WHERE stale = 1")
    ctx.execute(f"DELETE FROM {FIGURES_TABLE} WHERE stale = 1")


def _build_pass(ctx: Context) -> None:
    """``recon_pass``: one pass over the ledger for every entry-level check
    (:data:`~jindu.precursors.reconciliation.base.LEDGER_CHECKS`: purchases and transport
    without cover, sales to unlicensed buyers and late reports, transfers without their
    other side), instead of one scan per rule.

    The live entries (not voided, dated up to ``as_of``; in an incremental run the scope
    pairs' entries from their ``since_day``, through the pair index) are left-joined to
    what the checks need — the licence cover (hash joins on PostgreSQL) and the work tables
    the checks prepared first (transfer matching: the entries without their other side) —
    and only the entries some check flags are kept:
    one row per entry (``DISTINCT``: a join finding several rows fans an entry out into
    identical rows, see :class:`~jindu.precursors.reconciliation.base.LedgerCheck`), the
    columns of :data:`~jindu.precursors.reconciliation.base.PASS_COLUMNS` and a 0/1
    column per check. Each rule then reads its flagged entries from the pass, where its
    findings are made.
    """
    checks = [make(ctx) for make in LEDGER_CHECKS.values()]
    for check in checks:
        for sql in check.prepare:
            ctx.execute(sql)
        if ctx.scoped and check.listed:  # (its earliest entry per pair is looked up below)
            ctx.execute(f"CREATE INDEX {check.listed}_pair ON {check.listed} (enterprise_id, chemical_id, occurred_on)")
        for table in check.work_tables:
            ctx.analyze(table)
    joins = list(dict.fromkeys(j for c in checks for j in c.joins))
    # Incremental: each test only from its own day of the pair (LedgerCheck.since).
    conditions = {c.flag: (f"(e.occurred_on >= sc.{c.since} AND {c.condition})" if ctx.scoped else c.condition)
                  for c in checks}
    flags = ", ".join(f"CASE WHEN {conditions[c.flag]} THEN 1 ELSE 0 END AS {c.flag}" for c in checks)
    cols = ", ".join(f"e.{c}" for c in PASS_COLUMNS)
    any_flag = " OR ".join(f"({conditions[c.flag]})" for c in checks)
    # Incremental: each pair is read from the earliest day some test re-judges it from — a
    # test whose candidates ``prepare`` listed, from the earliest listed entry of the pair.
    never = ctx.date_sql(NEVER_AGAIN)
    days = sorted({f"COALESCE((SELECT MIN(u.occurred_on) FROM {c.listed} u WHERE u.enterprise_id = sc.enterprise_id "
                   f"AND u.chemical_id = sc.chemical_id), {never})" if c.listed else f"sc.{c.since}" for c in checks})
    first_day = days[0]
    for day in days[1:]:
        first_day = ctx.least(first_day, day)
    # Full run: sorting the ledger for merge joins, and re-reading the other sides through
    # an index in every worker, is what the planner picks for this many joins if let; hash
    # joins (shared, built in parallel) read each side once. Incremental run: a few entries
    # per pair (the scope drives: ``scoped_from(driven=True)``), from days the planner cannot
    # estimate — it would hash the whole licence cover (60 ms at 10M) or sort it for a merge
    # join (100 ms) to join a thousand entries; index look-ups.
    with ctx.planner_off(*(("hashjoin", "mergejoin") if ctx.scoped else ("mergejoin",))):
        ctx.execute(f"""
            CREATE TEMP TABLE {PASS_TABLE} AS
            SELECT DISTINCT {cols}, {flags}
            FROM {ctx.scoped_from('precursors_ledgerentry', 'e', recent=True, since=first_day, driven=True)}
            {' '.join(joins)}
            WHERE e.voided_at IS NULL AND e.occurred_on <= {ctx.as_of_sql} AND ({any_flag})
        """)
    ctx.analyze(PASS_TABLE)


def _next_month(m: date) -> date:
    return date(m.year + (m.month == 12), m.month % 12 + 1, 1)


# ---------------------------------------------------------------------------------------------
# Findings
# ---------------------------------------------------------------------------------------------

_FOUND_COLUMNS = ("rule", "fingerprint", "severity", "enterprise_id", "chemical_id", "occurred_on", "summary",
                  "details", "entry_ids", "licence_ids", "stock_count_id")


def _create_found(ctx: Context) -> None:
    ctx.execute(f"CREATE TEMP TABLE {FOUND_TABLE} (seq integer NOT NULL, rule varchar(40) NOT NULL, "
                f"fingerprint varchar(200) NOT NULL, severity varchar(12) NOT NULL, enterprise_id bigint NOT NULL, "
                f"chemical_id bigint, occurred_on date, summary varchar(300) NOT NULL, details text NOT NULL, "
                f"entry_ids text NOT NULL, licence_ids text NOT NULL, stock_count_id bigint)")


def _store_findings(ctx: Context, findings: Iterable[Finding], counts: dict[str, int]) -> None:
    """Buffer ``findings`` into ``recon_found`` (chunks of :data:`BATCH`)."""
    seq = ctx.stats.get("found_seq", 0)
    buf: list[tuple] = []
    sql = (f"INSERT INTO {FOUND_TABLE} (seq, {', '.join(_FOUND_COLUMNS)}) "
           f"VALUES ({', '.join(['%s'] * (len(_FOUND_COLUMNS) + 1))})")

    def flush() -> None:
        if buf:
            with connection.cursor() as cur:
                cur.executemany(sql, buf)
            buf.clear()

    for f in findings:
        seq += 1
        counts[f.rule] = counts.get(f.rule, 0) + 1
        buf.append((seq, f.rule, f.fingerprint[:200], RULES[f.rule].severity, f.enterprise_id, f.chemical_id,
                    ctx.date_param(f.occurred_on) if f.occurred_on else None, f.summary[:300],
                    json.dumps(f.details, ensure_ascii=False, default=str),
                    ",".join(map(str, f.entry_ids)), ",".join(map(str, f.licence_ids)), f.stock_count_id))
        if len(buf) >= BATCH:
            flush()
    flush()
    ctx.stats["found_seq"] = seq


def _write_findings(ctx: Context, run: ReconciliationRun, user: Any) -> dict[str, int]:
    """Upsert ``recon_found`` into :class:`Discrepancy` (inside the caller's transaction)."""
    created = refreshed = 0
    history_user = user if getattr(user, "pk", None) else None
    rows = list(ctx.rows(f"SELECT {', '.join(_FOUND_COLUMNS)} FROM {FOUND_TABLE} ORDER BY seq"))
    # A fingerprint met twice in one run (should not happen) is merged: last summary, all evidence.
    merged: dict[tuple[str, str], dict] = {}
    for r in rows:
        row = dict(zip(_FOUND_COLUMNS, r))
        key = (row["rule"], row["fingerprint"])
        if key in merged:
            old = merged[key]
            for col in ("entry_ids", "licence_ids"):
                row[col] = ",".join(map(str, sorted(set(id_list(old[col])) | set(id_list(row[col])))))
        merged[key] = row
    del rows
    keys = list(merged)
    Entries = Discrepancy.entries.through
    Licences = Discrepancy.licences.through
    for start in range(0, len(keys), BATCH):
        chunk = keys[start:start + BATCH]
        existing: dict[tuple[str, str], Discrepancy] = {}
        by_rule: dict[str, list[str]] = {}
        for rule_code, fp in chunk:
            by_rule.setdefault(rule_code, []).append(fp)
        for rule_code, fps in by_rule.items():
            for d in Discrepancy.objects.filter(rule=rule_code, fingerprint__in=fps):
                existing[(d.rule, d.fingerprint)] = d
        new: list[Discrepancy] = []
        changed: list[Discrepancy] = []
        links: list[tuple[Discrepancy, tuple[int, ...], tuple[int, ...]]] = []
        for key in chunk:
            row = merged[key]
            details = json.loads(row["details"])
            occurred_on = to_date(row["occurred_on"])
            d = existing.get(key)
            if d is None:
                d = Discrepancy(rule=row["rule"], fingerprint=row["fingerprint"], severity=row["severity"],
                                enterprise_id=row["enterprise_id"], chemical_id=row["chemical_id"],
                                occurred_on=occurred_on, summary=row["summary"], details=details,
                                stock_count_id=row["stock_count_id"], detected_by_run=run)
                new.append(d)
            elif d.status == DiscrepancyStatus.CLOSED:
                continue  # closed findings are never reopened by a run
            else:
                values = {"summary": row["summary"], "details": details, "occurred_on": occurred_on,
                          "still_detected": True, "severity": row["severity"]}
                if any(getattr(d, k) != v for k, v in values.items()):
                    for k, v in values.items():
                        setattr(d, k, v)
                    changed.append(d)
            links.append((d, id_list(row["entry_ids"]), id_list(row["licence_ids"])))
        if new:
            bulk_create_with_history(new, Discrepancy, batch_size=BATCH, default_user=history_user)
            created += len(new)
        if changed:
            bulk_update_with_history(changed, Discrepancy, ["summary", "details", "occurred_on", "still_detected",
                                                            "severity"], batch_size=BATCH, default_user=history_user)
            refreshed += len(changed)
        entry_links = [Entries(discrepancy_id=d.pk, ledgerentry_id=e) for d, es, _ls in links for e in es]
        licence_links = [Licences(discrepancy_id=d.pk, licence_id=lc) for d, _es, ls in links for lc in ls]
        Entries.objects.bulk_create(entry_links, batch_size=BATCH, ignore_conflicts=True)
        Licences.objects.bulk_create(licence_links, batch_size=BATCH, ignore_conflicts=True)
    cleared = _clear_not_found(ctx, history_user)
    return {"created": created, "refreshed": refreshed, "cleared": cleared, "found": len(keys)}


def _clear_not_found(ctx: Context, history_user: Any) -> int:
    """Open discrepancies (of the checked pairs) that this run did not find: ``still_detected = False``."""
    scope = ""
    if ctx.scoped:
        def quoted(rules: frozenset) -> str:
            return ", ".join(f"'{c}'" for c in sorted(rules))

        never = ctx.date_sql(NEVER_AGAIN)
        rejudged = " OR ".join(f"(d.rule IN ({quoted(rules)}) AND {condition})" for rules, condition in (
            (MATCHING_RULES, "d.occurred_on >= sc.match_since"),
            (MONTHLY_RULES, "d.occurred_on >= sc.rejudge_since"),
            (COUNT_RULES, "d.occurred_on >= sc.since_day"),
            (BALANCE_RULES, f"sc.history_since < {never} AND d.occurred_on >= {ctx.recent_month_sql}"),
            (LICENCE_HISTORY_RULES, f"sc.since_day < {never}"),
            (LEDGER_HISTORY_RULES, f"sc.history_since < {never}"),
        ))
        scope = (f"AND EXISTS (SELECT 1 FROM {SCOPE_TABLE} sc WHERE sc.enterprise_id = d.enterprise_id "
                 f"AND sc.chemical_id = d.chemical_id AND ({rejudged}))")
    codes = ", ".join(f"'{c}'" for c in RULES)
    ids = [r[0] for r in ctx.rows(f"""
        SELECT d.id FROM precursors_discrepancy d
        WHERE d.status <> %s AND d.still_detected = %s AND d.rule IN ({codes}) {scope}
          AND NOT EXISTS (SELECT 1 FROM {FOUND_TABLE} f WHERE f.rule = d.rule AND f.fingerprint = d.fingerprint)
    """, [DiscrepancyStatus.CLOSED.value, True])]
    cleared = 0
    for start in range(0, len(ids), BATCH):
        batch = list(Discrepancy.objects.filter(pk__in=ids[start:start + BATCH]))
        for d in batch:
            d.still_detected = False
        bulk_update_with_history(batch, Discrepancy, ["still_detected"], batch_size=BATCH, default_user=history_user)
        cleared += len(batch)
    return cleared


__all__ = ["run_reconciliation", "MODES"]
