"""Shapes shared by the reconciliation rules and the engine: :class:`Rule`, :class:`Finding`,
:class:`Context` (the reconciliation date, the pair scope, SQL helpers for both databases)
and the :data:`RULES` registry that the rule modules fill with :func:`rule`.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Callable, Iterable, Iterator

from django.db import connection

from jindu.precursors.choices import DiscrepancySeverity

# Table names the engine's temporary tables are created under (per connection).
#: (enterprise_id, chemical_id, since_day, rejudge_since, match_since): the pairs an incremental run checks
SCOPE_TABLE = "recon_scope"
#: ``since_day`` of a scope pair whose entry-level findings must all be re-checked (touched
#: by a stock count or a licence change, not by entries).
WHOLE_HISTORY = date(1, 1, 1)
#: A scope pair's day (``rejudge_since``, ``match_since``) when nothing that touched it can
#: change what those rules found: nothing is re-judged.
NEVER_AGAIN = date(9999, 12, 31)
CUSTODY_TABLE = "recon_custody"  # the ids of the storage and transport enterprises (custody transfers)
MONTH_TABLE = "recon_month"  # per pair and month: inbound, outbound and moved-out kilograms
#: Incremental runs only, both read from one look-up of the per-pair figures
#: (:class:`~jindu.precursors.models.LedgerPair`) of the scope pairs whose ledger history
#: is judged (``history_since`` before :data:`NEVER_AGAIN`): their figures where these
#: stand for the pair's months up to ``as_of`` (``FIGURES_TABLE``: enterprise_id,
#: chemical_id, moved_months, moved_median_kg, moved_top_kg, out_kg, first_expiry_on), and
#: the pairs where they do not — entries dated after ``as_of``, or no row (``STALE_TABLE``:
#: enterprise_id, chemical_id), which the rules judge from their months.
FIGURES_TABLE = "recon_figures"
STALE_TABLE = "recon_stale"
PASS_TABLE = "recon_pass"  # the ledger entries some entry-level check flagged, with a 0/1 column per check
#: The entry columns the pass keeps (alias ``e`` in a check, the pass table's own names after).
PASS_COLUMNS = ("id", "enterprise_id", "chemical_id", "counterparty_id", "counterparty_name",
                "counterparty_credit_code", "occurred_on", "direction", "quantity_kg", "transport_permit_number",
                "reported_on")


@dataclass(frozen=True)
class Finding:
    """One problem a rule found, before it becomes a :class:`~jindu.precursors.models.Discrepancy`.

    ``fingerprint`` identifies the problem across runs (same condition → same fingerprint,
    ≤ 200 characters); ``summary`` is the Chinese one-liner shown in the queue;
    ``details`` a JSON object of the numbers involved (kilograms as strings, dates ISO);
    ``entry_ids``, ``licence_ids`` and ``stock_count_id`` are the evidence.
    """

    rule: str
    fingerprint: str
    enterprise_id: int
    chemical_id: int | None
    occurred_on: date | None
    summary: str
    details: dict = field(default_factory=dict)
    entry_ids: tuple[int, ...] = ()
    licence_ids: tuple[int, ...] = ()
    stock_count_id: int | None = None


@dataclass(frozen=True)
class Rule:
    """A reconciliation rule: ``code`` (stable, stored on discrepancies), ``title`` (Chinese),
    ``basis`` (law and article, or the statistical source), ``severity``
    (:class:`DiscrepancySeverity`), ``func(ctx) -> Iterable[Finding]``, and ``group``, the
    module that computes it."""

    code: str
    title: Any
    basis: Any
    severity: str
    func: Callable[["Context"], Iterable[Finding]]
    group: str = ""

    def __call__(self, ctx: "Context") -> Iterator[Finding]:
        """This rule's findings (a function may compute several rules in one pass; the
        engine calls each function once, this call keeps only ``code``'s findings)."""
        return (f for f in self.func(ctx) if f.rule == self.code)


#: Every rule by code, in the order they run. Filled when :mod:`jindu.precursors.reconciliation` is imported.
RULES: dict[str, Rule] = {}


def rule(code: str, *, title: Any, basis: Any, severity: str = DiscrepancySeverity.VIOLATION):
    """Decorator registering ``func`` as the rule ``code`` in :data:`RULES`. Stack it to
    register one function (one SQL pass) that finds several rules; each finding names its rule."""

    def register(func: Callable[["Context"], Iterable[Finding]]) -> Callable:
        if code in RULES:
            raise ValueError(f"reconciliation rule {code!r} registered twice")
        RULES[code] = Rule(code=code, title=title, basis=basis, severity=str(severity), func=func,
                           group=func.__module__.rsplit(".", 1)[-1])
        return func

    return register


@dataclass(frozen=True)
class LedgerCheck:
    """One rule's test of a single ledger entry, evaluated for every entry in the engine's one
    shared pass over the ledger (:func:`jindu.precursors.reconciliation.engine._build_pass`),
    which keeps the entries some check flags in :data:`PASS_TABLE` with a 0/1 column
    ``flag`` per check; the rule then reads its flagged entries from there.

    ``condition``: SQL true when entry ``e`` (live: not voided, dated up to ``as_of``)
    offends, over ``e`` and the aliases of ``joins``; the reconciliation date as
    :attr:`Context.as_of_sql` (no parameters). ``joins``: the ``LEFT JOIN`` clauses it
    needs, each only ever tested for *whether* it found a row (``alias.col IS NULL``), so
    the rows one entry fans out to all carry the same flags (the pass keeps one row per
    entry); identical clauses of two checks are joined once. A join to something large
    (another ledger) belongs in ``prepare`` instead: statements the engine runs before the
    pass (no parameters) that build the ``work_tables`` the joins then read — an
    anti-join run on its own stops at the first match, where a ``LEFT JOIN`` inside the
    pass would meet every match (or probe an index per entry). The engine drops the
    ``work_tables`` at the end of the run.
    """

    flag: str
    condition: str
    joins: tuple[str, ...] = ()
    prepare: tuple[str, ...] = ()
    work_tables: tuple[str, ...] = ()
    #: The scope column from which an incremental run re-judges a pair's entries with this
    #: test: ``rejudge_since`` for tests of the entry itself (grouped per month),
    #: ``match_since`` for transfer matching (see ``engine._build_scope``).
    since: str = "rejudge_since"
    #: A work table (``id, enterprise_id, chemical_id, occurred_on``) holding the only entries
    #: this test can flag, when ``prepare`` found them already: an incremental run then reads
    #: a pair for this test from the earliest of them only (none: not at all), not from ``since``.
    listed: str = ""


#: Entry-level checks by flag, in registration order. Filled by :func:`ledger_check`.
LEDGER_CHECKS: dict[str, Callable[["Context"], LedgerCheck]] = {}


def ledger_check(flag: str):
    """Decorator registering ``func(ctx) -> LedgerCheck`` as the check ``flag`` of the shared
    ledger pass (see :class:`LedgerCheck`)."""

    def register(func: Callable[["Context"], LedgerCheck]) -> Callable:
        if flag in LEDGER_CHECKS or flag in PASS_COLUMNS:
            raise ValueError(f"ledger check {flag!r} registered twice")
        LEDGER_CHECKS[flag] = func
        return func

    return register


@dataclass
class Context:
    """What a rule needs to run: the reconciliation date ``as_of`` (entries dated after it
    are ignored), whether the run is restricted to the pairs in :data:`SCOPE_TABLE`
    (``scoped``), the database vendor, and helpers that write the few SQL fragments
    SQLite and PostgreSQL spell differently."""

    as_of: date
    scoped: bool = False
    vendor: str = field(default_factory=lambda: connection.vendor)
    stats: dict = field(default_factory=dict)
    #: chemical id → (category, Chinese name); enterprise ids of custody kinds (storage, transport)
    chemicals: dict[int, tuple[int, str]] = field(default_factory=dict)
    has_custody: bool = False  # any storage or transport enterprise (create_custody_table)

    def load_reference(self) -> None:
        """Fill :attr:`chemicals` (a small table, read once per run)."""
        from jindu.precursors.models import Chemical

        rows = Chemical.objects.values_list("pk", "category", "name_zh")
        self.chemicals = {pk: (cat, name) for pk, cat, name in rows}

    def category(self, chemical_id: int) -> int:
        return self.chemicals[chemical_id][0]

    def chemical_name(self, chemical_id: int) -> str:
        return self.chemicals[chemical_id][1]

    def category_sql(self, alias: str = "e") -> str:
        """SQL for the category (1–3) of ``alias.chemical_id``, without joining the catalogue."""
        by_cat: dict[int, list[int]] = {1: [], 2: [], 3: []}
        for pk, (cat, _name) in self.chemicals.items():
            by_cat[cat].append(pk)
        ones = ",".join(map(str, by_cat[1])) or "NULL"
        twos = ",".join(map(str, by_cat[2])) or "NULL"
        return (f"(CASE WHEN {alias}.chemical_id IN ({ones}) THEN 1 "
                f"WHEN {alias}.chemical_id IN ({twos}) THEN 2 ELSE 3 END)")

    def custody_sql(self, alias: str = "e") -> str:
        """SQL true when ``alias`` is a custody transfer: between two Jindu enterprises one of
        which is a storage or transport enterprise (:data:`jindu.precursors.rules.CUSTODY_KINDS`).
        The ids are looked up in :data:`CUSTODY_TABLE` (see :meth:`create_custody_table`), not
        written out: PostgreSQL's planner estimates a literal list element by element, and
        a few hundred ids in the ledger pass cost 50 ms of planning on every run."""
        if not self.has_custody:
            return "(1 = 0)"
        ids = f"(SELECT id FROM {CUSTODY_TABLE})"
        return (f"({alias}.counterparty_id IS NOT NULL AND ({alias}.enterprise_id IN {ids} "
                f"OR {alias}.counterparty_id IN {ids}))")

    def create_custody_table(self) -> None:
        """Fill :data:`CUSTODY_TABLE` with the ids of the storage and transport enterprises
        (PostgreSQL: an unlogged ordinary table, which the ledger pass's parallel workers can
        read), copied in the database: sent as values, the 1,928 ids of the bench's 20,000
        enterprises took 45–66 ms of an incremental run (2026-11-30)."""
        from jindu.precursors.rules import CUSTODY_KINDS

        self.execute(f"CREATE {'UNLOGGED' if self.pg else 'TEMP'} TABLE {CUSTODY_TABLE} (id bigint PRIMARY KEY)")
        kinds = ", ".join(["%s"] * len(CUSTODY_KINDS))
        self.has_custody = self.execute(f"INSERT INTO {CUSTODY_TABLE} (id) SELECT id FROM precursors_enterprise "
                                        f"WHERE kind IN ({kinds})", list(CUSTODY_KINDS)) > 0
        self.analyze(CUSTODY_TABLE)

    def tolerance_sql(self, qty: str, alias: str = "e") -> str:
        """SQL for :func:`jindu.precursors.rules.quantity_tolerance_kg` of ``qty`` for ``alias``'s chemical."""
        from jindu.precursors.rules import QUANTITY_TOLERANCE_MIN_KG as floor, QUANTITY_TOLERANCE_RATIO as ratio

        cat = self.category_sql(alias)
        floor_sql = f"(CASE {cat} WHEN 1 THEN {floor[1]} WHEN 2 THEN {floor[2]} ELSE {floor[3]} END)"
        return self.greatest(f"ABS({qty}) * {ratio}", floor_sql)

    def greatest(self, a: str, b: str) -> str:
        return f"GREATEST({a}, {b})" if self.pg else f"MAX({a}, {b})"

    def least(self, a: str, b: str) -> str:
        return f"LEAST({a}, {b})" if self.pg else f"MIN({a}, {b})"

    def group_ids(self, expr: str) -> str:
        """Aggregate SQL joining the integer ``expr`` of a group with commas."""
        if self.pg:
            return f"string_agg(CAST({expr} AS text), ',')"
        return f"group_concat({expr})"

    def live(self, alias: str = "e") -> str:
        """SQL: ``alias`` is not voided and dated on or before the reconciliation date."""
        return f"{alias}.voided_at IS NULL AND {alias}.occurred_on <= %s"

    # --- SQL fragments ---------------------------------------------------------------------
    @property
    def pg(self) -> bool:
        return self.vendor == "postgresql"

    def scoped_from(self, table: str, alias: str, *, recent: bool = False, since: str = "sc.since_day",
                    driven: bool = False, own: bool = False, history: bool = False, where: str = "") -> str:
        """The ``FROM`` item for ``table AS alias``: the table itself in a full run; in an
        incremental run the scope table joined to it on (enterprise_id, chemical_id), the
        scope driving the loop (SQLite's ``CROSS JOIN`` fixes the join order; PostgreSQL
        plans from the analysed scope table), so the work follows the scope's size, not the
        table's. ``recent``: only ``alias``'s rows dated from the pair's ``since_day``
        (ledger entries, for the rules whose findings for a month or an entry depend only
        on entries from that month on, or within the
        matching window); ``since``: the SQL of that day (default the scope's ``since_day``;
        ``sc.match_since`` for transfer matching). ``driven``: on PostgreSQL too, the scope
        drives, each pair's rows read through the table's (enterprise, chemical, …) index
        (a lateral subquery, kept from being flattened by ``OFFSET 0``) — for a statement
        whose other joins keep the planner from estimating the rows (at 100,000 entries it
        read the whole ledger and probed the scope per entry). ``own``: only the pairs whose
        own entries, counts or licences changed (``since_day`` before
        :data:`NEVER_AGAIN`; not those touched only as the other side of a transfer) — for
        the purchase limits. ``history``: only the pairs whose own entries changed
        (``history_since`` before :data:`NEVER_AGAIN`) — for the rules over a pair's ledger
        history. ``where``: a further condition on ``alias``'s
        rows, inside the look-up (so that the index it needs is used: the licence cover's
        leads with the activity); incremental runs only — a full run's caller filters."""
        if not self.scoped:
            return f"{table} {alias}"
        recent = f" AND {alias}.occurred_on >= {since}" if recent else ""
        if where:
            recent += f" AND {where}"
        if own:
            recent += f" AND sc.since_day < {self.date_sql(NEVER_AGAIN)}"
        if history:
            recent += f" AND sc.history_since < {self.date_sql(NEVER_AGAIN)}"
        if self.pg and driven:
            return (f"{SCOPE_TABLE} sc CROSS JOIN LATERAL (SELECT * FROM {table} {alias} "
                    f"WHERE {alias}.enterprise_id = sc.enterprise_id AND {alias}.chemical_id = sc.chemical_id"
                    f"{recent} OFFSET 0) {alias}")
        join = "CROSS JOIN" if not self.pg else "JOIN"
        return (f"{SCOPE_TABLE} sc {join} {table} {alias} ON {alias}.enterprise_id = sc.enterprise_id "
                f"AND {alias}.chemical_id = sc.chemical_id{recent}")

    @property
    def recent_month_sql(self) -> str:
        """SQL (incremental run, alias ``sc`` of the scope): the first month of a scope pair
        that ``recon_month`` holds — the month of its ``history_since``, or the month of
        ``as_of`` if that is earlier (every month from there to ``as_month`` is summed again
        for the run; the months before it are unchanged by what touched the pair)."""
        as_month = self.date_sql(month_start(self.as_of))
        return self.least("sc.history_since", as_month)

    def month_history(self, pairs: str | None = None) -> str:
        """The ``FROM`` item of every month of the judged pairs up to the month of ``as_of``,
        for the rules over a pair's whole history (unusual movements, expired lots), with
        (at least) ``recon_month``'s columns ``enterprise_id, chemical_id, month, out_kg,
        move_kg, first_expiry``; the alias is the caller's.

        Full run: ``recon_month`` itself. Incremental run: ``recon_month`` holds only the
        scope pairs' months from :attr:`recent_month_sql` on (one or two per pair, whatever
        the length of its history); the earlier months — which nothing that touched the
        pair changed — come straight from the maintained summary
        (:class:`~jindu.precursors.models.LedgerMonth`) through its (enterprise, chemical,
        month) index, for the pairs whose ledger history is judged (``history_since`` before
        :data:`NEVER_AGAIN`), and are not copied. ``pairs`` (incremental runs; a full run's
        callers join ``recon_month`` themselves): only the pairs in that table
        (``enterprise_id, chemical_id``; it drives the look-ups)."""
        if not self.scoped:
            return MONTH_TABLE
        restrict = (f" WHERE EXISTS (SELECT 1 FROM {pairs} z WHERE z.enterprise_id = r.enterprise_id "
                    f"AND z.chemical_id = r.chemical_id)") if pairs else ""
        cols = "enterprise_id, chemical_id, month, out_kg, move_kg, first_expiry"
        driver = (f"{pairs} z {self.driven_join} {SCOPE_TABLE} sc ON sc.enterprise_id = z.enterprise_id "
                  f"AND sc.chemical_id = z.chemical_id" if pairs else f"{SCOPE_TABLE} sc")
        return (f"(SELECT {cols} FROM {MONTH_TABLE} r{restrict} UNION ALL "
                f"SELECT m.enterprise_id, m.chemical_id, m.month, m.out_kg, m.moved_kg, m.first_expiry_on "
                f"FROM {driver} {self.driven_join} precursors_ledgermonth m "
                f"ON m.enterprise_id = sc.enterprise_id AND m.chemical_id = sc.chemical_id "
                f"AND m.month < {self.recent_month_sql} "
                f"WHERE sc.history_since < {self.date_sql(NEVER_AGAIN)})")

    @property
    def driven_join(self) -> str:
        """``JOIN`` whose left side (a small work table) drives the loop: SQLite has no
        statistics on temporary tables and might otherwise scan the ledger and probe the
        small side; ``CROSS JOIN`` fixes SQLite's join order. PostgreSQL plans it itself."""
        return "JOIN" if self.pg else "CROSS JOIN"

    def add_days(self, expr: str, days: int | str) -> str:
        """SQL for the date ``expr`` plus ``days`` (an integer or an SQL integer expression)."""
        if self.pg:
            return f"({expr} + ({days}))"
        return f"date({expr}, printf('%+d days', {days}))"

    def days_between(self, later: str, earlier: str) -> str:
        """SQL for the whole days from ``earlier`` to ``later`` (integer)."""
        if self.pg:
            return f"({later} - {earlier})"
        return f"CAST(julianday({later}) - julianday({earlier}) AS INTEGER)"

    def float_sql(self, expr: str) -> str:
        """SQL casting ``expr`` to binary floating point (a no-op on SQLite)."""
        return f"CAST({expr} AS float8)" if self.pg else expr

    def month_of(self, expr: str) -> str:
        """SQL for the month of the date ``expr``, as the engine's month tables store it
        (PostgreSQL: the timestamp of the month's first midnight, the cheapest month key it
        computes; SQLite: the first day as ISO text). Order and compare these only with
        each other or through :meth:`month_date`."""
        if self.pg:
            return f"date_trunc('month', CAST({expr} AS timestamp))"
        return f"(substr({expr}, 1, 8) || '01')"

    def month_date(self, month: str, plus: int = 0) -> str:
        """SQL for the first day (a date) of ``month`` (a value of :meth:`month_of`) plus
        ``plus`` months — comparable with date columns (their indexes stay usable)."""
        if self.pg:
            shifted = f"({month} + interval '{plus} month')" if plus else month
            return f"CAST({shifted} AS date)"
        return f"date({month}, '{plus:+d} month')" if plus else month

    def signed_qty(self, alias: str = "e") -> str:
        """SQL for an entry's effect on the balance: ``+quantity_kg`` in, ``-quantity_kg`` otherwise."""
        return f"(CASE WHEN {alias}.direction = 'in' THEN {alias}.quantity_kg ELSE -{alias}.quantity_kg END)"

    @property
    def cover(self) -> str:
        """The licence cover: the maintained table
        :class:`~jindu.precursors.models.LicenceCover` (see :mod:`.cover`)."""
        from jindu.precursors.models import LicenceCover

        return LicenceCover._meta.db_table

    def expiry_cutoff_param(self) -> Any:
        """Lots with ``expires_on`` before this date count as expired
        (``as_of`` − :data:`~jindu.precursors.rules.EXPIRY_GRACE_DAYS`)."""
        from jindu.precursors.rules import EXPIRY_GRACE_DAYS

        return self.date_param(self.as_of - timedelta(days=EXPIRY_GRACE_DAYS))

    @property
    def as_of_sql(self) -> str:
        """The reconciliation date as an SQL literal (a date on PostgreSQL, ISO text on SQLite)."""
        return self.date_sql(self.as_of)

    def date_sql(self, d: date) -> str:
        """``d`` as an SQL literal (a date on PostgreSQL, ISO text on SQLite)."""
        return f"DATE '{d.isoformat()}'" if self.pg else f"'{d.isoformat()}'"

    @property
    def as_of_param(self) -> Any:
        return self.as_of if self.pg else self.as_of.isoformat()

    def date_param(self, d: date) -> Any:
        return d if self.pg else d.isoformat()

    # --- running queries -------------------------------------------------------------------
    def rows(self, sql: str, params: Iterable[Any] = ()) -> Iterator[tuple]:
        """Stream the rows of ``sql`` (a ``%s``-parameterised query) in chunks."""
        with connection.cursor() as cur:
            cur.execute(sql, list(params))
            while True:
                chunk = cur.fetchmany(2000)
                if not chunk:
                    return
                yield from chunk

    def analyze(self, table: str, *, temporary: bool = True, columns: Iterable[str] = ()) -> None:
        """Give the planner statistics on a work table just filled. PostgreSQL never
        auto-analyses temporary tables; SQLite, without statistics, takes every table for
        a million rows — and then builds a Bloom filter over the whole ledger index to
        probe it from a scope of a thousand pairs (measured: 0.36 s against 0.05 s).
        ``columns``: on PostgreSQL, only those (the join keys: a wide table's every column
        costs more than the statistics are worth); SQLite analyses its indexes anyway."""
        if self.pg:
            self.execute(f"ANALYZE {table}" + (f" ({', '.join(columns)})" if columns else ""))
        else:
            self.execute(f"ANALYZE {'temp.' if temporary else ''}{table}")

    @contextmanager
    def planner_off(self, *methods: str) -> Iterator[None]:
        """Turn the PostgreSQL planner's ``methods`` (``"hashjoin"``, ``"mergejoin"``) off for
        the statements inside, then back on (no-op on SQLite; after an error the engine's
        clean-up resets them). For the incremental run's statements that look up a thousand
        entries' licences or pairs' figures: the planner cannot estimate how few rows the
        scope or the new entries give, and hashes the whole licence cover (45 ms at
        10,000,000 entries, 2026-11-30) or the per-pair table (81,000 rows, 26 ms) instead
        of probing their indexes."""
        settings = [f"enable_{m}" for m in methods] if self.pg else []
        for setting in settings:
            self.execute(f"SET {setting} = off")
        # (Not in a ``finally``: after an error inside a transaction a RESET would fail too and
        # hide the error; the engine's clean-up resets them.)
        yield
        for setting in settings:
            self.execute(f"RESET {setting}")

    def execute(self, sql: str, params: Iterable[Any] = ()) -> int:
        with connection.cursor() as cur:
            cur.execute(sql, list(params))
            return cur.rowcount


def to_date(value: Any) -> date | None:
    """A date from what a cursor returns (``date``/``datetime`` on PostgreSQL, ISO text on SQLite)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def to_kg(value: Any) -> Decimal:
    """Kilograms to the gram from what a cursor returns (SQLite sums decimals as floats)."""
    if value is None:
        return Decimal("0.000")
    return Decimal(str(value)).quantize(Decimal("0.001"))


def month_start(d: date) -> date:
    """The first day of the month of ``d``."""
    return d.replace(day=1)


def id_list(text: Any) -> tuple[int, ...]:
    """Entry ids from a comma-separated aggregate (``GROUP_CONCAT`` / ``string_agg``), sorted."""
    if not text:
        return ()
    return tuple(sorted({int(x) for x in str(text).split(",") if x}))


def kg_str(value: Decimal) -> str:
    return f"{value.normalize():f}" if value == value.to_integral() else f"{value:f}"


__all__ = ["Finding", "Rule", "RULES", "Context", "rule", "to_date", "to_kg", "month_start", "id_list",
           "kg_str", "SCOPE_TABLE", "WHOLE_HISTORY", "NEVER_AGAIN", "CUSTODY_TABLE", "MONTH_TABLE", "STALE_TABLE",
           "FIGURES_TABLE", "PASS_TABLE", "PASS_COLUMNS", "LedgerCheck", "LEDGER_CHECKS", "ledger_check"]


#: At most this many entries are linked as a finding's evidence (the details keep the count).
EVIDENCE_LIMIT = 200


def month_label(d: date) -> str:
    """``2026年3月`` for any date in March 2026."""
    return f"{d.year}年{d.month}月"


def month_fp(d: date) -> str:
    return f"{d.year:04d}-{d.month:02d}"


class MonthlyGrouper:
    """Groups a stream of rows ordered by ``key`` then calendar month into
    ``(key, first day, rows)``; :meth:`add` returns the group a row closed, if any, and
    :meth:`close` the last. Several groupers can share one stream (different keys), as
    long as the stream's order makes each one's groups contiguous."""

    def __init__(self, key: Callable[[tuple], tuple], day: Callable[[tuple], Any],
                 accept: Callable[[tuple], bool] = lambda row: True):
        self.key, self.day, self.accept = key, day, accept
        self.current: tuple | None = None
        self.bucket: list[tuple] = []

    def add(self, row: tuple) -> tuple | None:
        if not self.accept(row):
            return None
        d = to_date(self.day(row))
        k = (self.key(row), d.year, d.month)
        done = None
        if k != self.current:
            done = self.close()
            self.current = k
        self.bucket.append(row)
        return done

    def close(self) -> tuple | None:
        if not self.bucket:
            return None
        done = (self.current[0], to_date(self.day(self.bucket[0])), self.bucket)
        self.bucket = []
        return done


def group_monthly(rows: Iterable[tuple], key: Callable[[tuple], tuple], day: Callable[[tuple], Any]):
    """Group ``rows`` (already ordered by ``key`` then date) into ``(key, first day, rows)``
    per key and calendar month, streaming: only one group is held at a time."""
    g = MonthlyGrouper(key, day)
    for row in rows:
        done = g.add(row)
        if done:
            yield done
    done = g.close()
    if done:
        yield done


def evidence(ids: Iterable[int]) -> tuple[int, ...]:
    return tuple(sorted(set(ids)))[:EVIDENCE_LIMIT]
