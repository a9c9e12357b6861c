"""Benchmark ``precursors``: stock ledgers of up to ten million entries across 20,000 enterprises.

``python -m jindu.bench precursors --size N`` (repeatable; default 100,000 and 1,000,000)
``[--enterprises 20000] [--import-rows 10000] [--database all|sqlite|postgresql]``.

Design
------
Like ``bench persons``, each database gets a throwaway copy (a temporary SQLite file; with
``DATABASE_URL`` naming a PostgreSQL server, a temporary database created on that server and
dropped at the end; ``--database`` picks one), driven by a child process configured through
``DATABASE_URL`` exactly as the application is. The child migrates (the chemical catalogue
is loaded after ``migrate``), loads Haikou's divisions and creates a city police user (role
``police`` at 海口市) who imports.

Every size starts from empty precursor tables and is generated straight into them — no
services, no per-row ORM: ``COPY`` on PostgreSQL, ``executemany`` in large transactions on
SQLite. The world (:class:`_World`):

- ``--enterprises`` enterprises over every Haikou village (users 55 %, traders 30 %,
  producers, storage and transport enterprises 5 % each), each holding one to twelve
  chemicals drawn with realistic weights (sulphuric and hydrochloric acid, acetone and
  toluene most; Category 1 rare), and the licences and filings the Regulation asks for
  those chemicals (purchase licence for Category 1, purchase filing for 2/3, art. 14–17;
  trade or production licence/filing for sellers, arts. 7–13; transport licence for
  Category 1/2, filing for 3, arts. 20–22), valid over the whole ledger;
- ``N`` ledger entries over the two years before today (Regulation art. 18: ledgers are
  kept two years), in date order: cross-enterprise sales (an outbound at the seller and
  the matching inbound at the buyer, same document number, delivered the same day or one
  or two days later, carrying the buyer's purchase permit and the seller's transport
  permit, reported to the police within three days, art. 19), purchases from outside
  Haikou, consumption by users, sales to outside parties and small losses. An outbound
  never exceeds the balance (``balance_after_kg`` is tracked while generating, in posting
  order); ``StockBalance`` rows and the monthly summary (``LedgerMonth``,
  :func:`jindu.precursors.reconciliation.months.rebuild_ledger_months`) are computed
  afterwards in SQL. Clean stock counts agree with the ledger;
- planted anomalies on a reserved set of enterprises that clean flows never touch (so a
  finding there is a find and a finding elsewhere is a false alarm): per kind
  ``--planted`` of them (default ``N / 50,000`` clamped to 2–200) — see :data:`PLANTED`.

Per size (``unit`` in brackets):

- ``generate_s`` [s] (the ledger's secondary indexes are dropped for the load and built
  again, foreign-key triggers skipped where the server allows — the ids are consistent by
  construction; then ``VACUUM (ANALYZE)`` on PostgreSQL, as autovacuum would have run on a
  ledger two years old), ``entries`` [rows] (with pairs, licences, planted anomalies, stock counts);
- ``aggregate_s`` [s]: the plain SQL aggregate over the same entries, fetched fully —
  ``SELECT enterprise_id, chemical_id, direction, SUM(quantity_kg) FROM
  precursors_ledgerentry GROUP BY 1, 2, 3`` — median of three runs after a warm-up;
- ``reconcile_full_s`` [s]: :func:`jindu.precursors.reconciliation.run_reconciliation`
  ``(mode="full")`` on the fresh ledger (every finding written), in a fresh process;
  ``reconcile_full_ratio`` [x] = that / ``aggregate_s`` (goal ≤ 3);
  ``reconcile_full_peak_rss_mb`` [MB]: the peak resident memory of that process (Django
  included; ``baseline_rss_mb`` in context is the process before the run; goal < 2048 at
  10,000,000); ``step_s`` [s] per step of the run (context ``step``: the working tables
  ``aggregate``, each rule function, the ``write`` phase; from the run's own ``stats``),
  to show which rule dominates; ``raised`` [findings] per rule, with how many fall on
  clean enterprises (``on_clean``: suspected violations, ideally 0; ``on_clean_review``:
  statistical flags for review);
- ``planted_found`` [share] per kind: planted anomalies for which the expected rule
  (:data:`EXPECTED_RULES`) raised a finding on the planted enterprise and chemical (1.0
  is every one);
- ``reconcile_incremental_s`` [s]: after ``--incremental-entries`` (1,000) new entries
  dated today (one planted among them, in the first round),
  ``run_reconciliation(mode="incremental")`` in a fresh process — ``--incremental-rounds``
  (5) rounds of both, the median reported (``runs``: every round), with its steps
  (``incremental_step_s``); goal: the same at
  every size — ``incremental_ratio`` [x] = at the largest size / at the smallest;
- the import of an xlsx ledger file of ``--import-rows`` rows (10,000; movements dated
  today at existing enterprises, written as real files are: synonyms, date spellings,
  bracket styles) through the real path — an import batch
  (:mod:`jindu.core.imports.services`) of the ledger importer
  (:class:`jindu.precursors.importers.LedgerImporter`) previewed, then committed (the
  commit posts through :func:`jindu.precursors.services.post_entries`), in a fresh
  process: ``import_preview_rows_per_s``, ``import_rows_per_s`` (the commit) [rows/s],
  against ``read_rows_per_s`` (merely reading the file with the import adapter, in its
  own process): ``import_read_ratio`` [x]; ``import_peak_rss_mb`` [MB].
  ``--import-rows 0`` skips it.

Once: ``incremental_ratio`` (with two sizes or more).

The machine's load distorts wall-clock figures: ``load_avg`` (the 1-minute load average at
the start of the step) is given in context, and ``cpu_s`` (the measuring process's own
CPU; the database server's is not included) where a child process ran the step.
``--generate-only`` stops after the generation (to time it, or to size a run); ``--rerun``
runs the full reconciliation a second time right after the first (``reconcile_full_rerun_s``:
the nightly run that finds the same and has nothing new to write).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

DEFAULT_SIZES = (100_000, 1_000_000)
DAYS = 730  # two years of ledger (Regulation art. 18)
CHUNK = 200_000  # entries per load transaction

# Relative weights of the catalogue's chemicals in ledgers (names as in the catalogue);
# anything not named gets its category's default. The common Category 3 acids and solvents
# dominate real ledgers; Category 1 is rare.
CHEMICAL_WEIGHTS = {
    "硫酸": 30, "盐酸": 30, "丙酮": 20, "甲苯": 15, "甲基乙基酮": 8, "高锰酸钾": 8, "苯乙腈": 2, "γ-丁内酯": 2,
    "三氯甲烷": 8, "乙醚": 6, "醋酸酐": 3, "哌啶": 2, "溴素": 2, "苯乙酸": 2,
    "麻黄素（麻黄碱）": 1, "邻氨基苯甲酸": 1, "胡椒醛": 1, "黄樟油": 0.5,
}
CATEGORY_DEFAULT_WEIGHT = {1: 0.1, 2: 0.3, 3: 1}
# Typical movement size per category, grams (a pair's own scale varies around it).
CATEGORY_SCALE_G = {1: 5_000, 2: 200_000, 3: 800_000}

KINDS = (("user", 55), ("trader", 30), ("producer", 5), ("storage", 5), ("transporter", 5))
CHEMICALS_PER_KIND = {"user": (1, 4), "trader": (3, 12), "producer": (1, 3), "storage": (3, 8), "transporter": (0, 0)}
SELLER_KINDS = {"trader", "producer", "storage"}

# Planted anomalies, each on enterprises reserved for them (the rule expected to find each
# kind is in EXPECTED_RULES).
PLANTED = (
    "unmatched_outbound",      # sale to a Jindu enterprise, no inbound there
    "unmatched_inbound",       # inbound "from" a Jindu enterprise that never sold it
    "quantity_mismatch",       # both sides recorded, quantities 25 % apart
    "purchase_unlicensed",     # purchase of a chemical no purchase licence/filing covers
    "purchase_over_limit",     # purchases beyond the licence's quantity limit
    "purchase_after_expiry",   # purchase under a licence that had expired
    "sale_to_unlicensed",      # sale to a Jindu enterprise without purchase licence/filing for it
    "transport_unlicensed",    # a sale shipped with no transport licence/filing
    "late_report",             # sale reported to the police 45 days later (art. 19)
    "stock_count_mismatch",    # stock count 10 % below the ledger
    "negative_balance",        # imported history going below zero
    "expired_not_destroyed",   # expired stock still held, no destruction
    "unusual_movement",        # one month twenty times the pair's usual
)


def emit(metric: str, value, unit: str, **context) -> None:
    print(json.dumps({"bench": "precursors", "metric": metric, "value": value, "unit": unit, **context},
                     ensure_ascii=False, default=str), flush=True)


def _cpu_s() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime


def _load_avg() -> float:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:  # pragma: no cover
        return -1.0


def peak_rss_mb() -> float:
    """This process's peak resident memory (MB), ``VmHWM`` (see ``bench persons``)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return 0.0


# -- parent ------------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m jindu.bench precursors", description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, action="append",
                        help="ledger entries (repeatable); default 100000 and 1000000")
    parser.add_argument("--enterprises", type=int, default=20_000, help="enterprises (default 20000)")
    parser.add_argument("--import-rows", type=int, default=10_000, help="rows of the import file (0: skip)")
    parser.add_argument("--incremental-entries", type=int, default=1_000,
                        help="entries added before the incremental run (default 1000)")
    parser.add_argument("--incremental-rounds", type=int, default=5,
                        help="rounds of new entries and incremental run per size, the median reported (default 5)")
    parser.add_argument("--planted", type=int, default=0,
                        help="planted anomalies per kind (default: N/50000, at least 2, at most 200)")
    parser.add_argument("--database", choices=["all", "sqlite", "postgresql"], default="all")
    parser.add_argument("--rerun", action="store_true",
                        help="run the full reconciliation a second time (the nightly run with nothing new to write)")
    parser.add_argument("--generate-only", action="store_true",
                        help="generate each size and report the generation only (no reconciliation, no import)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--phase", choices=["reconcile", "read", "import"], help=argparse.SUPPRESS)
    parser.add_argument("--mode", choices=["full", "incremental"], default="full", help=argparse.SUPPRESS)
    parser.add_argument("--as-of", help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sizes = sorted(set(args.size or DEFAULT_SIZES))
    if args.enterprises < 20:
        parser.error("--enterprises must be at least 20")
    if any(s < 1_000 for s in sizes):
        parser.error("every --size must be at least 1000")
    if args.phase:
        return run_phase(args)
    if args.child:
        return run_child(args, sizes)

    from jindu.bench.scope import run_per_database

    child_args = [*[f"--size={s}" for s in sizes], f"--enterprises={args.enterprises}",
                  f"--import-rows={args.import_rows}", f"--incremental-entries={args.incremental_entries}",
                  f"--incremental-rounds={args.incremental_rounds}",
                  f"--planted={args.planted}"]
    child_args += (["--generate-only"] if args.generate_only else []) + (["--rerun"] if args.rerun else [])
    return run_per_database(parser, args.database, "precursors", child_args)


# -- child: one database -------------------------------------------------------------------


def run_child(args, sizes: list[int]) -> int:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from jindu.core.timeutils import local_today
    from jindu.geo.services import load_city

    database = connection.vendor
    started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    load_city("460100")
    user = _user()
    emit("setup_s", round(time.perf_counter() - started, 2), "s", database=database)
    today = local_today()
    incremental: dict[int, float] = {}
    for size in sizes:
        ctx = {"database": database, "size": size}
        _reset()
        load = _load_avg()
        started = time.perf_counter()
        planted_per_kind = args.planted or max(2, min(200, size // 50_000))
        world = _World(today, args.enterprises, planted_per_kind, seed=460100 + size)
        world.build()
        world.generate(size)
        with connection.cursor() as cur:
            # What autovacuum would have done to a ledger two years old: statistics, and
            # (PostgreSQL) every page marked all-visible, which index-only scans need.
            cur.execute("VACUUM (ANALYZE)" if connection.vendor == "postgresql" else "ANALYZE")
        emit("generate_s", round(time.perf_counter() - started, 2), "s", load_avg=load, **ctx)
        emit("entries", world.entries, "rows", enterprises=args.enterprises, pairs=world.pair_count,
             licences=world.licence_count, planted=sum(len(v) for v in world.planted.values()),
             stock_counts=world.stock_counts, **ctx)
        if args.generate_only:
            continue

        aggregate_s = _time_aggregate()
        emit("aggregate_s", round(aggregate_s, 3), "s", load_avg=_load_avg(), **ctx)
        load = _load_avg()
        full = _phase("reconcile", mode="full", as_of=today.isoformat())
        emit("reconcile_full_s", full["seconds"], "s", cpu_s=full["cpu_s"], raised=full["raised"],
             pairs_checked=full["pairs_checked"], load_avg=load, **ctx)
        emit("reconcile_full_ratio", round(full["seconds"] / max(aggregate_s, 1e-6), 2), "x", goal=3,
             aggregate_s=round(aggregate_s, 3), **ctx)
        emit("reconcile_full_peak_rss_mb", full["peak_rss_mb"], "MB", baseline_rss_mb=full["baseline_rss_mb"],
             goal=2048, **ctx)
        for step, seconds in sorted(full["steps"].items(), key=lambda kv: -kv[1]):
            emit("step_s", seconds, "s", step=step, share=round(seconds / max(full["seconds"], 1e-6), 3), **ctx)
        _report_findings(world, ctx)
        if args.rerun:
            load = _load_avg()
            again = _phase("reconcile", mode="full", as_of=today.isoformat())
            emit("reconcile_full_rerun_s", again["seconds"], "s", raised=again["raised"], load_avg=load,
                 written=again["written"], **ctx)
            for step, seconds in sorted(again["steps"].items(), key=lambda kv: -kv[1])[:5]:
                emit("rerun_step_s", seconds, "s", step=step, **ctx)

        # 1,000 rows in a large table change no statistics: no ANALYZE here (as in production).
        # Several rounds (new entries, then the run), the median reported: one run of a
        # fraction of a second moves by a third with the machine's speed.
        rounds = []
        for _round in range(max(1, args.incremental_rounds)):
            world.append_incremental(args.incremental_entries)
            load = _load_avg()
            rounds.append(_phase("reconcile", mode="incremental", as_of=today.isoformat()) | {"load_avg": load})
        inc = sorted(rounds, key=lambda r: r["seconds"])[len(rounds) // 2]
        incremental[size] = inc["seconds"]
        emit("reconcile_incremental_s", inc["seconds"], "s", entries=args.incremental_entries, cpu_s=inc["cpu_s"],
             mode=inc["mode"], raised=inc["raised"], pairs_checked=inc["pairs_checked"],
             peak_rss_mb=max(r["peak_rss_mb"] for r in rounds), load_avg=inc["load_avg"],
             runs=[r["seconds"] for r in rounds], **ctx)
        for step, seconds in sorted(inc["steps"].items(), key=lambda kv: -kv[1]):
            emit("incremental_step_s", seconds, "s", step=step, **ctx)
        if args.import_rows:
            _bench_import(world, args.import_rows, user, ctx)
    if len(sizes) > 1 and incremental:
        small, large = sizes[0], sizes[-1]
        emit("incremental_ratio", round(incremental[large] / max(incremental[small], 1e-6), 2), "x",
             database=database, sizes=[small, large], goal=1.5)
    return 0


def _user():
    from jindu.accounts.models import Role, RoleAssignment, User
    from jindu.geo.models import Division

    city = Division.objects.get(code="460100000000")
    user, _created = User.objects.get_or_create(username="bench_police", defaults={"full_name": "基准市公安禁毒"})
    RoleAssignment.objects.get_or_create(user=user, role=Role.objects.get(code="police"), division=city)
    return user


KEEP_TABLES = ("precursors_chemical", "precursors_historicalchemical")  # the catalogue


def _reset() -> None:
    """Empty every precursor table but the catalogue: each size starts from nothing. (Within
    one transaction: foreign keys are checked at commit, when every table is empty.)"""
    from django.db import connection, transaction

    tables = sorted(t for t in connection.introspection.table_names()
                    if t.startswith("precursors_") and not t.startswith(KEEP_TABLES))
    with transaction.atomic(), connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
        else:
            for t in tables:
                cur.execute(f"DELETE FROM {t}")


def _time_aggregate(repeat: int = 3) -> float:
    """Seconds of the plain SQL aggregate over the ledger, fetched fully (median of ``repeat``
    after a warm-up)."""
    from django.db import connection

    sql = ("SELECT enterprise_id, chemical_id, direction, SUM(quantity_kg) FROM precursors_ledgerentry "
           "GROUP BY 1, 2, 3")
    times = []
    with connection.cursor() as cur:
        for i in range(repeat + 1):
            started = time.perf_counter()
            cur.execute(sql)
            cur.fetchall()
            if i:
                times.append(time.perf_counter() - started)
    return statistics.median(times)


# -- phases (fresh processes) ----------------------------------------------------------------


def _phase(name: str, **params) -> dict:
    """Run one measured step in a fresh process (its peak memory is its own); its last JSON line."""
    cmd = [sys.executable, "-m", "jindu.bench", "precursors", f"--phase={name}"]
    for key in ("mode", "as_of", "file"):
        if key in params:
            cmd.append(f"--{key.replace('_', '-')}={params[key]}")
    out = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
    if out.returncode:
        sys.stderr.write(out.stderr)
        raise SystemExit(f"phase {name} failed ({out.returncode})")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_phase(args) -> int:
    import django

    django.setup()
    if args.phase == "reconcile":
        return _phase_reconcile(args)
    from jindu.core.imports.readers import read_table

    data = Path(args.file).read_bytes()
    name = Path(args.file).name
    started, cpu0 = time.perf_counter(), _cpu_s()
    if args.phase == "read":
        table = read_table(data, name)
        rows = sum(1 for _row in table.rows)
        print(json.dumps({"rows": rows, "seconds": round(time.perf_counter() - started, 3),
                          "cpu_s": round(_cpu_s() - cpu0, 2), "peak_rss_mb": peak_rss_mb()}))
        return 0
    from jindu.accounts.models import User

    user = User.objects.get(username="bench_police")
    result = _run_import(data, name, user)
    seconds = time.perf_counter() - started
    print(json.dumps({**result, "seconds": round(seconds, 3), "cpu_s": round(_cpu_s() - cpu0, 2),
                      "peak_rss_mb": peak_rss_mb()}, default=str, ensure_ascii=False))
    return 0


def _phase_reconcile(args) -> int:
    """One reconciliation run, timed. Per-step seconds come from the run's own ``stats``
    (``seconds``: the working tables, each rule function, the write phase)."""
    from django.db import connection

    from jindu.precursors.reconciliation import run_reconciliation

    connection.ensure_connection()
    baseline = rss_mb()
    started, cpu0 = time.perf_counter(), _cpu_s()
    run = run_reconciliation(user=None, mode=args.mode, as_of=dt.date.fromisoformat(args.as_of))
    seconds = time.perf_counter() - started
    stats = getattr(run, "stats", None) or {}
    print(json.dumps({"seconds": round(seconds, 3), "cpu_s": round(_cpu_s() - cpu0, 2), "mode": run.mode,
                      "raised": run.raised, "pairs_checked": run.pairs_checked, "peak_rss_mb": peak_rss_mb(),
                      "baseline_rss_mb": baseline, "steps": stats.get("seconds", {}),
                      "findings": {k: v for k, v in stats.get("findings", {}).items() if not k.startswith("_")},
                      "written": {k: stats[k] for k in ("created", "refreshed", "cleared", "found") if k in stats}},
                     default=str))
    return 0


# -- the generated world ---------------------------------------------------------------------


def credit_code(n: int) -> str:
    """A valid unified social credit code (GB 32100-2015, organisation-code check included),
    distinct per ``n`` (``n`` < 10^8)."""
    from stdnum.cn import uscc

    body = f"91460100{n:08d}"
    weights = (3, 7, 9, 10, 5, 8, 4, 2)
    c9 = 11 - sum(int(ch) * w for ch, w in zip(body[8:16], weights)) % 11
    body += {10: "X", 11: "0"}.get(c9, str(c9))
    return body + uscc.calc_check_digit(body)


def grams_text(g: int) -> str:
    """Integer grams as decimal kilograms text (``1234`` → ``"1.234"``)."""
    if g < 0:
        return "-" + grams_text(-g)
    return f"{g // 1000}.{g % 1000:03d}"


def enterprise_name(e: int, kind: str) -> str:
    return f"海口基准{'危货运输' if kind == 'transporter' else '化工'}{e:05d}有限公司"


OUTSIDE_SELLERS = ("广东粤海化工贸易有限公司", "广西南宁化学试剂有限公司", "湖南长沙精细化工有限公司",
                   "福建厦门化工原料有限公司", "江苏南京化学工业有限公司")
OUTSIDE_BUYERS = ("广东湛江制药有限公司", "云南昆明涂料有限公司", "广西柳州电镀厂", "贵州贵阳化工有限公司")

LEDGER_COLUMNS = (
    "enterprise_id", "chemical_id", "occurred_on", "direction", "quantity_kg", "quantity_entered", "unit_entered",
    "balance_after_kg", "counterparty_id", "counterparty_credit_code", "counterparty_name", "document_number",
    "permit_number", "permit_number_raw", "transport_permit_number", "purpose", "expires_on", "reported_on",
    "source", "recorded_at", "chemical_raw", "void_reason",
)


class _indexes_dropped:
    """Drop ``table``'s secondary indexes for a bulk load and build them again afterwards
    (the same definitions, read from the catalogue): building an index once is several times
    cheaper than maintaining ten of them row by row."""

    def __init__(self, table: str):
        self.table = table
        self.definitions: list[tuple[str, str]] = []

    def __enter__(self):
        from django.db import connection

        with connection.cursor() as cur:
            if connection.vendor == "postgresql":
                cur.execute("SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x "
                            "JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid "
                            "WHERE t.relname = %s AND NOT x.indisprimary AND NOT x.indisunique "
                            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid)", [self.table])
            else:
                cur.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s "
                            "AND sql IS NOT NULL AND sql NOT LIKE 'CREATE UNIQUE%%'", [self.table])
            self.definitions = list(cur.fetchall())
            for name, _sql in self.definitions:
                cur.execute(f'DROP INDEX "{name}"')
        return self

    def __exit__(self, *exc):
        from django.db import connection

        with connection.cursor() as cur:
            if connection.vendor == "postgresql":
                cur.execute("SET maintenance_work_mem = '256MB'")
            for _name, sql in self.definitions:
                cur.execute(sql)
            if connection.vendor == "postgresql":
                cur.execute("RESET maintenance_work_mem")
        return False


def _skip_fk_triggers(cur) -> None:
    """Within the current transaction, skip foreign-key triggers (PostgreSQL superusers only:
    ``session_replication_role = replica``; others keep the checks)."""
    from django.db import DatabaseError, transaction

    try:
        with transaction.atomic():
            cur.execute("SET LOCAL session_replication_role = replica")
    except DatabaseError:
        pass


class _World:
    """Enterprises, licences, ledgers and planted anomalies written straight into the tables.

    Pairs (enterprise × chemical) are indexed ``p``; ``self.bal[p]`` is the balance in grams
    in posting order, which is also date order (entries are generated day by day)."""

    def __init__(self, today: dt.date, enterprises: int, planted_per_kind: int, seed: int):
        from django.db import connection

        self.today = today
        self.start = today - dt.timedelta(days=DAYS)
        self.day_text = [(self.start + dt.timedelta(days=d)).isoformat() for d in range(DAYS + 1)]  # [DAYS] = today
        self.n_enterprises = enterprises
        self.k = planted_per_kind
        self.rng = random.Random(seed)
        self.pg = connection.vendor == "postgresql"
        self.NULL = "\\N" if self.pg else None
        self.recorded = [f"{d} 18:00:00+08" if self.pg else f"{d} 10:00:00" for d in self.day_text]
        self.entries = 0
        self.doc_seq = 0
        self.licence_count = 0
        self.buffer: list[tuple] = []
        self.touched: set[int] | None = None
        self.bulk_mode = True  # foreign-key triggers skipped while generating (ids are consistent)
        # pairs
        self.pair_of: dict[tuple[int, int], int] = {}
        self.pair_e: list[int] = []
        self.pair_c: list[int] = []
        self.bal: list[int] = []
        self.scale: list[int] = []
        # planted: kind -> [(enterprise_id, chemical_id)]; scheduled rows: day index -> [row args]
        self.planted: dict[str, list[tuple[int, int]]] = defaultdict(list)
        self.scheduled: dict[int, list[tuple]] = defaultdict(list)
        self.planted_rows = 0
        self.seller_permit = ""

    # -- enterprises and licences ------------------------------------------------------------

    def build(self) -> None:
        from django.utils import timezone

        from jindu.geo.models import Division
        from jindu.precursors.models import Chemical

        rng = self.rng
        self.now = timezone.now()
        chems = list(Chemical.objects.filter(is_active=True).order_by("pk").values_list("pk", "category", "name_zh"))
        self.chem_ids = [c[0] for c in chems]
        self.chem_cat = {c[0]: c[1] for c in chems}
        self.chem_name = {c[0]: c[2] for c in chems}
        self.chem_weights = [CHEMICAL_WEIGHTS.get(c[2], CATEGORY_DEFAULT_WEIGHT[c[1]]) for c in chems]
        villages = list(Division.objects.filter(code__startswith="4601", level="village").values_list("pk", flat=True))
        n = self.n_enterprises
        self.n_planted_ent = max(8, n // 40)
        first_planted = n - self.n_planted_ent + 1
        self.planted_enterprises = list(range(first_planted, n + 1))
        kinds, kind_w = [k for k, _w in KINDS], [w for _k, w in KINDS]
        self.kind = {}
        self.codes = {}
        self.holdings: dict[int, list[int]] = {}
        enterprises = []
        for e in range(1, n + 1):
            kind = "trader" if e >= first_planted else rng.choices(kinds, kind_w)[0]
            self.kind[e] = kind
            self.codes[e] = credit_code(e)
            enterprises.append({
                "id": e, "name": enterprise_name(e, kind),
                "credit_code": self.codes[e], "legacy_code": "", "kind": kind, "division_id": rng.choice(villages),
                "address": f"基准路{e}号", "contact_name": "", "contact_phone": "", "risk_level": "low",
                "status": "operating", "note": "", "is_demo": False,
            })
            if e < first_planted:
                lo, hi = CHEMICALS_PER_KIND[kind]
                want = rng.randint(lo, hi) if hi else 0
                held: set[int] = set()
                while len(held) < want:
                    held.add(rng.choices(self.chem_ids, self.chem_weights)[0])
                self.holdings[e] = sorted(held)
        self._licences_clean()
        from jindu.bench.persons import _load, _reset_sequence
        from jindu.precursors.models import Enterprise

        _load(Enterprise, enterprises)
        _reset_sequence(Enterprise)
        self._plant()
        self._flush_licences()

    def _licence(self, e: int, kind: str, number: str, chemicals, *, valid_from=None, valid_until=None,
                 limit_g: dict[int, int] | None = None) -> str:
        lid = len(self.licences) + 1
        self.licences.append({
            "id": lid, "enterprise_id": e, "kind": kind, "number": number, "number_raw": number,
            "issuer": "海口市公安局" if kind.startswith(("purchase", "transport")) else "海口市应急管理局",
            "issuer_raw": "", "issued_on": valid_from or self.start - dt.timedelta(days=30),
            "valid_from": valid_from or self.start - dt.timedelta(days=30),
            "valid_until": valid_until or self.today + dt.timedelta(days=365), "one_trip": False,
            "counterparty_credit_code": "", "counterparty_name": "", "status": "valid", "note": "",
        })
        for c in chemicals:
            g = (limit_g or {}).get(c)
            self.lines.append({"licence_id": lid, "chemical_id": c,
                               "quantity_limit_kg": grams_text(g) if g is not None else None})
        return number

    def _licences_for(self, e: int, chemicals) -> None:
        """The licences and filings an enterprise needs for ``chemicals``; the permit numbers
        go to ``self.purchase_permit[(e, category)]`` and ``self.transport_permit[(e, category)]``."""
        kind = self.kind[e]
        seller = kind in SELLER_KINDS
        cat1 = [c for c in chemicals if self.chem_cat[c] == 1]
        cat23 = [c for c in chemicals if self.chem_cat[c] != 1]
        cat12 = [c for c in chemicals if self.chem_cat[c] in (1, 2)]
        cat3 = [c for c in chemicals if self.chem_cat[c] == 3]
        if cat1:
            no = self._licence(e, "purchase_licence", f"（琼）1G460100{e:06d}", cat1)
            self.purchase_permit[(e, 1)] = no
        if cat23:
            no = self._licence(e, "purchase_filing", f"（琼）3J460100{e:06d}", cat23)
            self.purchase_permit[(e, 2)] = self.purchase_permit[(e, 3)] = no
        if seller:
            prefix = "production" if kind == "producer" else "trade"
            if cat1:
                self._licence(e, f"{prefix}_licence", f"（琼）1J460000{e:06d}", cat1)
            if cat23:
                self._licence(e, f"{prefix}_filing", f"（琼）3J460000{e:06d}", cat23)
        if seller:
            if cat12:
                no = self._licence(e, "transport_licence", f"（琼）1Y460100{e:06d}", cat12)
                self.transport_permit[(e, 1)] = self.transport_permit[(e, 2)] = no
            if cat3:
                no = self._licence(e, "transport_filing", f"（琼）3Y460100{e:06d}", cat3)
                self.transport_permit[(e, 3)] = no

    def _licences_clean(self) -> None:
        self.licences: list[dict] = []
        self.lines: list[dict] = []
        self.purchase_permit: dict[tuple[int, int], str] = {}
        self.transport_permit: dict[tuple[int, int], str] = {}
        for e, held in self.holdings.items():
            if held:
                self._licences_for(e, held)
            elif self.kind[e] == "transporter":
                # carriers hold period transport licences of their own (art. 21)
                self._licence(e, "transport_licence", f"（琼）1Y460100{e:06d}", [self.chem_ids[-1]])

    def _flush_licences(self) -> None:
        from jindu.bench.persons import _load, _reset_sequence
        from jindu.precursors.models import Licence, LicenceChemical

        _load(Licence, self.licences)
        _reset_sequence(Licence)
        _load(LicenceChemical, self.lines)
        self.licence_count = len(self.licences)
        self.licences, self.lines = [], []

    # -- pairs -----------------------------------------------------------------------------------

    def pair(self, e: int, c: int) -> int:
        p = self.pair_of.get((e, c))
        if p is None:
            p = self.pair_of[(e, c)] = len(self.pair_e)
            self.pair_e.append(e)
            self.pair_c.append(c)
            self.bal.append(0)
            cat = self.chem_cat[c]
            self.scale.append(max(1_000, int(CATEGORY_SCALE_G[cat] * self.rng.lognormvariate(0, 0.6))))
        return p

    @property
    def pair_count(self) -> int:
        return len(self.pair_e)

    def next_doc(self, prefix: str) -> str:
        self.doc_seq += 1
        return f"{prefix}{self.doc_seq:09d}"

    # -- rows ------------------------------------------------------------------------------------

    def row(self, p: int, d: int, direction: str, g: int, *, cp: int | None = None, cp_name: str = "",
            doc: str = "", permit: str = "", transport: str = "", purpose: str = "", expires: int | None = None,
            reported: int | None = None) -> None:
        """Append one ledger entry of pair ``p`` on day index ``d`` (``DAYS`` is today),
        ``g`` grams; the balance moves in posting order."""
        self.bal[p] += g if direction == "in" else -g
        if self.touched is not None:
            self.touched.add(p)
        null = self.NULL
        q = grams_text(g)
        self.buffer.append((
            str(self.pair_e[p]), str(self.pair_c[p]), self.day_text[d], direction, q, q, "kg",
            grams_text(self.bal[p]), str(cp) if cp else null, self.codes[cp] if cp else "",
            cp_name or (enterprise_name(cp, self.kind[cp]) if cp else ""), doc,
            permit, permit, transport, purpose,
            self.day_text[expires] if expires is not None else null,
            self.day_text[min(reported, DAYS)] if reported is not None else null,
            "import", self.recorded[d], "", "",
        ))
        if len(self.buffer) >= CHUNK:
            self.flush()

    def flush(self) -> None:
        from django.db import connection, transaction

        rows, self.buffer = self.buffer, []
        if not rows:
            return
        cols = ", ".join(LEDGER_COLUMNS)
        with transaction.atomic(), connection.cursor() as cur:
            if self.pg and self.bulk_mode:
                _skip_fk_triggers(cur)
            if self.pg:
                with cur.cursor.copy(f"COPY precursors_ledgerentry ({cols}) FROM STDIN") as copy:
                    copy.write("\n".join("\t".join(r) for r in rows) + "\n")
            else:
                marks = ", ".join(["%s"] * len(LEDGER_COLUMNS))
                cur.executemany(f"INSERT INTO precursors_ledgerentry ({cols}) VALUES ({marks})", rows)
        self.entries += len(rows)

    # -- clean flows -------------------------------------------------------------------------

    def _pools(self) -> None:
        self.all_pairs: list[int] = []
        self.seller_pairs: list[int] = []
        self.consumer_pairs: list[int] = []
        self.buyers: dict[int, list[int]] = defaultdict(list)  # chemical -> pairs that may buy it
        for e, held in self.holdings.items():
            kind = self.kind[e]
            for c in held:
                p = self.pair(e, c)
                self.all_pairs.append(p)
                self.buyers[c].append(p)
                if kind in SELLER_KINDS:
                    self.seller_pairs.append(p)
                if kind in ("user", "producer"):
                    self.consumer_pairs.append(p)

    def generate(self, size: int) -> None:
        """``size`` ledger entries (planted ones included) over the two years before today."""
        self._pools()
        from jindu.precursors.reconciliation.cover import rebuild_cover
        from jindu.precursors.reconciliation.months import rebuild_ledger_months

        with _indexes_dropped("precursors_ledgerentry"):
            self._generate(size)
        self._balances()
        # The ledger and the licences were written by COPY, past the posting path and the
        # ORM: the monthly summary and the licence cover are made afterwards, as
        # ``manage.py rebuild_ledger_months`` and ``rebuild_licence_cover`` would.
        rebuild_ledger_months()
        rebuild_cover()
        self._counts()

    def _generate(self, size: int) -> None:
        clean = max(0, size - self.planted_rows)
        pending: dict[int, list[tuple]] = defaultdict(list)
        done = 0
        for d in range(DAYS):
            for args, kw in self.scheduled.pop(d, ()):
                self.row(*args, **kw)
            for args, kw in pending.pop(d, ()):
                self.row(*args, **kw)
                done += 1
            target = clean * (d + 1) // DAYS
            while done < target:
                done += self._event(d, pending)
                for args, kw in pending.pop(d, ()):  # delivered the same day
                    self.row(*args, **kw)
                    done += 1
        for args, kw in pending.pop(DAYS - 1, ()):  # deliveries of the last day's sales
            self.row(*args, **kw)
        self.flush()

    def _event(self, d: int, pending: dict[int, list[tuple]], *, today_only: bool = False) -> int:
        """One clean movement on day ``d``; returns the entries written now."""
        rng = self.rng
        r = rng.random()
        if r < 0.30:  # sale to a Jindu enterprise: the buyer's inbound follows
            p = rng.choice(self.seller_pairs)
            c = self.pair_c[p]
            g = int(self.scale[p] * (0.5 + rng.random()))
            if self.bal[p] >= g:
                buyers = self.buyers[c]
                b = rng.choice(buyers)
                seller, buyer = self.pair_e[p], self.pair_e[b]
                if buyer != seller:
                    cat = self.chem_cat[c]
                    doc = self.next_doc("XS")
                    permit = self.purchase_permit[(buyer, cat)]
                    transport = self.transport_permit[(seller, cat)]
                    self.row(p, d, "out", g, cp=buyer, doc=doc, permit=permit, transport=transport,
                             purpose="销售", reported=d + rng.randrange(4))
                    delivered = d if today_only else min(DAYS - 1, d + rng.choice((0, 0, 0, 0, 0, 0, 1, 1, 1, 2)))
                    pending[delivered].append(((b, delivered, "in", g),
                                   {"cp": seller, "doc": doc, "permit": permit, "transport": transport,
                                    "purpose": "采购"}))
                    return 1
            return self._purchase(p, d)
        if r < 0.52:
            return self._purchase(rng.choice(self.all_pairs), d)
        if r < 0.85:
            p = rng.choice(self.consumer_pairs)
            g = int(self.scale[p] * (0.3 + 0.6 * rng.random()))
            if self.bal[p] >= g:
                self.row(p, d, "used", g, purpose="生产使用")
                return 1
            return self._purchase(p, d)
        if r < 0.98:
            p = rng.choice(self.seller_pairs)
            g = int(self.scale[p] * (0.5 + rng.random()))
            if self.bal[p] >= g:
                self.row(p, d, "out", g, cp_name=rng.choice(OUTSIDE_BUYERS), doc=self.next_doc("XS"),
                         permit=f"（粤）3J440800{rng.randrange(10**6):06d}",
                         transport=self.transport_permit[(self.pair_e[p], self.chem_cat[self.pair_c[p]])],
                         purpose="销售", reported=d + rng.randrange(4))
                return 1
            return self._purchase(p, d)
        p = rng.choice(self.all_pairs)
        g = max(1, int(self.scale[p] * 0.01 * rng.random()))
        if self.bal[p] >= g:
            self.row(p, d, "loss", g, purpose="自然损耗")
            return 1
        return self._purchase(p, d)

    def _purchase(self, p: int, d: int) -> int:
        """A purchase from outside Haikou (or a producer's own output), one and a half to three
        times the pair's usual movement."""
        rng = self.rng
        e, c = self.pair_e[p], self.pair_c[p]
        g = int(self.scale[p] * (1.5 + 1.5 * rng.random()))
        if self.kind[e] == "producer":
            self.row(p, d, "in", g, doc=self.next_doc("SC"), purpose="生产入库")
        else:
            # The carrier's permit was issued where the goods left (art. 20), outside Jindu:
            # ledgers often leave it blank, and the transport rule cannot check it anyway.
            self.row(p, d, "in", g, cp_name=rng.choice(OUTSIDE_SELLERS), doc=self.next_doc("CG"),
                     permit=self.purchase_permit[(e, self.chem_cat[c])], purpose="采购")
        return 1

    def _balances(self) -> None:
        """``StockBalance`` from the ledger, in SQL (every pair with an entry)."""
        from django.db import connection, transaction

        now = self.now.isoformat() if not self.pg else self.now
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute("DELETE FROM precursors_stockbalance")
            cur.execute(
                "INSERT INTO precursors_stockbalance (enterprise_id, chemical_id, quantity_kg, updated_at) "
                "SELECT enterprise_id, chemical_id, SUM(CASE WHEN direction = 'in' THEN quantity_kg "
                "ELSE -quantity_kg END), %s FROM precursors_ledgerentry WHERE voided_at IS NULL "
                "GROUP BY enterprise_id, chemical_id", [now])

    def _counts(self) -> None:
        """Stock counts on the last day: clean ones (1 % of clean pairs with stock) agree with
        the ledger; planted ones were queued by :meth:`_plant`."""
        from jindu.bench.persons import _load
        from jindu.precursors.models import StockCount

        rows = []
        last = self.start + dt.timedelta(days=DAYS - 1)
        for p in self.rng.sample(self.all_pairs, max(1, len(self.all_pairs) // 100)):
            if self.bal[p] > 0:
                q = grams_text(self.bal[p])
                rows.append({"enterprise_id": self.pair_e[p], "chemical_id": self.pair_c[p], "counted_on": last,
                             "quantity_kg": q, "ledger_balance_kg": q, "counted_by": "仓管员", "note": ""})
        for p, d, counted_g in self.planted_counts_rows:
            rows.append({"enterprise_id": self.pair_e[p], "chemical_id": self.pair_c[p],
                         "counted_on": self.start + dt.timedelta(days=d), "quantity_kg": grams_text(counted_g),
                         "ledger_balance_kg": grams_text(self.bal_at_count[(p, d)]), "counted_by": "仓管员",
                         "note": ""})
        _load(StockCount, rows)
        self.stock_counts = len(rows)

    # -- incremental batch -------------------------------------------------------------------

    def append_incremental(self, n: int) -> None:
        """``n`` new entries dated today (clean, plus what :meth:`_plant` scheduled for today),
        written like the rest; their pairs' balances brought up to date."""
        from django.db import connection, transaction

        self.touched = touched = set()
        self.bulk_mode = False
        pending: dict[int, list[tuple]] = defaultdict(list)
        done = 0
        for args, kw in self.scheduled.pop(DAYS, ()):
            self.row(*args, **kw)
            done += 1
        while done < n:
            done += self._event(DAYS, pending, today_only=True)
            for args, kw in pending.pop(DAYS, ()):
                self.row(*args, **kw)
                done += 1
        self.touched = None
        self.flush()
        now = self.now.isoformat() if not self.pg else self.now
        with transaction.atomic(), connection.cursor() as cur:
            for p in touched:
                cur.execute("UPDATE precursors_stockbalance SET quantity_kg = %s, updated_at = %s "
                            "WHERE enterprise_id = %s AND chemical_id = %s",
                            [grams_text(self.bal[p]), now, self.pair_e[p], self.pair_c[p]])
                if cur.rowcount == 0:
                    cur.execute("INSERT INTO precursors_stockbalance (enterprise_id, chemical_id, quantity_kg, "
                                "updated_at) VALUES (%s, %s, %s, %s)",
                                [self.pair_e[p], self.pair_c[p], grams_text(self.bal[p]), now])
        # The posting path keeps each entry's month in the summary; these rows came by COPY,
        # so their (today's) months are summed again from the ledger.
        from jindu.precursors.reconciliation.months import refresh_months

        today = self.start + dt.timedelta(days=DAYS)
        with transaction.atomic():
            refresh_months([(self.pair_e[p], self.pair_c[p], today) for p in touched])

    # -- import file ---------------------------------------------------------------------------

    def write_import_file(self, path: Path, rows: int) -> int:
        """An xlsx ledger file as a district regulator would collect it: ``rows`` movements
        dated today at up to 500 clean enterprises (about 20 rows each) — purchases from
        outside Haikou (70 %) and consumption within the balance — with what real files
        hold: synonyms for a sixth of the chemical names, three date spellings, mixed
        bracket styles in permit numbers, quantities with and without a unit. All cells are
        text. Returns the rows written; the balances tracked here follow the file."""
        from openpyxl import Workbook

        from jindu.core.imports import get_importer
        from jindu.precursors.loaders import synonym_rows

        rng = random.Random(self.n_enterprises + rows)
        synonyms: dict[str, list[str]] = defaultdict(list)
        for r in synonym_rows():
            synonyms[r["name_zh"]].append(r["synonym"])
        labels = {c.field: c.canonical_header for c in get_importer("precursors.ledger").columns}
        fields = ["enterprise", "occurred_on", "chemical", "direction", "quantity_entered", "unit_entered",
                  "counterparty_name", "document_number", "permit_number", "purpose"]
        ents = rng.sample(sorted(self.holdings), min(len(self.holdings), max(1, min(500, rows // 20))))
        pairs = [self.pair_of[(e, c)] for e in ents for c in self.holdings[e]]
        if not pairs:
            return 0
        today = self.today
        dates = (today.isoformat(), f"{today.year}/{today.month}/{today.day}",
                 f"{today.year}年{today.month:02d}月{today.day:02d}日")
        wb = Workbook(write_only=True)
        ws = wb.create_sheet("出入库台账")
        ws.append([labels[f] for f in fields])
        for i in range(rows):
            p = rng.choice(pairs)
            e, c = self.pair_e[p], self.pair_c[p]
            name = self.chem_name[c].rstrip("*")
            if synonyms.get(name) and rng.random() < 0.17:
                name = rng.choice(synonyms[name])
            g = int(self.scale[p] * (0.3 + 0.6 * rng.random()))
            use = self.kind[e] in ("user", "producer") and rng.random() < 0.3 and self.bal[p] >= g
            qty = grams_text(g)
            if rng.random() < 0.2:
                qty, unit = qty + "kg", ""
            else:
                unit = "千克"
            if use:
                self.bal[p] -= g
                ws.append([self.codes[e], rng.choice(dates), name, rng.choice(("使用消耗", "领用", "生产使用")), qty,
                           unit, "", f"LY{i:07d}", "", "生产使用"])
            else:
                self.bal[p] += g
                permit = self.purchase_permit[(e, self.chem_cat[c])]
                if rng.random() < 0.3:
                    permit = permit.replace("（", "(").replace("）", ")")
                ws.append([self.codes[e], rng.choice(dates), name, rng.choice(("入库", "购入", "采购入库")), qty, unit,
                           rng.choice(OUTSIDE_SELLERS), f"DR{i:07d}", permit, "采购"])
        wb.save(path)
        return rows

    # -- planted anomalies ---------------------------------------------------------------------

    def _plant(self) -> None:
        """Allocate ``self.k`` anomalies of every kind of :data:`PLANTED` on the reserved
        enterprises, with the licences each needs, and schedule their entries."""
        rng = self.rng
        self.plant_seq = 0
        self.planted_counts_rows: list[tuple[int, int, int]] = []
        self.bal_at_count: dict[tuple[int, int], int] = {}
        self.avail: dict[int, list[int]] = {}
        for c in self.chem_ids:
            ents = list(self.planted_enterprises)
            rng.shuffle(ents)
            self.avail[c] = ents
        for kind in PLANTED:
            for _i in range(self.k):
                getattr(self, f"_plant_{kind}")()
        # one for the incremental run, dated today
        self.incremental_planted: list[tuple[tuple[int, ...], int]] = []
        c, (a,) = self._take(1, (2, 3))
        self._sched(a, c, DAYS, "in", self.scale[self.pair(a, c)], cp_name=OUTSIDE_SELLERS[0],
                    doc=self.next_doc("CG"), purpose="采购")
        self.incremental_planted.append(((a,), c))
        self.planted_rows = sum(len(v) for d, v in self.scheduled.items() if d < DAYS)

    def _take(self, n: int, categories=(1, 2, 3)) -> tuple[int, list[int]]:
        """A chemical of ``categories`` (drawn with the ledger weights) and ``n`` reserved
        enterprises that hold nothing of it yet, so no two planted anomalies share a pair.
        When the reserve of the drawn chemical runs short, another of the same categories
        with enough left is used."""
        ids = [c for c in self.chem_ids if self.chem_cat[c] in categories]
        weights = [w for c, w in zip(self.chem_ids, self.chem_weights) if self.chem_cat[c] in categories]
        c = self.rng.choices(ids, weights)[0]
        if len(self.avail[c]) < n:
            left = [x for x in ids if len(self.avail[x]) >= n] or [x for x in self.chem_ids if len(self.avail[x]) >= n]
            if not left:
                raise SystemExit("too few reserved enterprises for the planted anomalies: lower --planted")
            c = max(left, key=lambda x: len(self.avail[x]))
        return c, [self.avail[c].pop() for _ in range(n)]

    def _sched(self, e: int, c: int, d: int, direction: str, g: int, **kw) -> None:
        self.scheduled[d].append(((self.pair(e, c), d, direction, g), kw))

    def _plant_licence(self, e: int, c: int, what: str, **kw) -> str:
        """A licence of kind ``what`` (purchase / trade / transport, by the chemical's category)
        for ``c`` alone, numbered in the reserve's own series."""
        self.plant_seq += 1
        cat = self.chem_cat[c]
        kind = {"purchase": "purchase_licence" if cat == 1 else "purchase_filing",
                "trade": "trade_licence" if cat == 1 else "trade_filing",
                "transport": "transport_licence" if cat in (1, 2) else "transport_filing"}[what]
        return self._licence(e, kind, f"（琼）{cat}P4601{self.plant_seq:07d}", [c], **kw)

    def _seller_and_buyer(self, *, seller_transport=True, buyer_purchase=True, categories=(2, 3)):
        c, (a, b) = self._take(2, categories)
        self.seller_permit = self._plant_licence(a, c, "purchase")
        self._plant_licence(a, c, "trade")
        transport = self._plant_licence(a, c, "transport") if seller_transport else ""
        permit = self._plant_licence(b, c, "purchase") if buyer_purchase else ""
        return a, b, c, permit, transport

    def _buy(self, a: int, c: int, d: int, g: int, permit: str, **kw) -> None:
        self._sched(a, c, d, "in", g, cp_name=OUTSIDE_SELLERS[1], doc=self.next_doc("CG"), permit=permit,
                    purpose="采购", **kw)

    def _sale(self, a, b, c, d, g, permit, transport, *, inbound_g: int | None = None, outbound=True):
        doc = self.next_doc("XS")
        if outbound:
            self._sched(a, c, d, "out", g, cp=b, doc=doc, permit=permit, transport=transport, purpose="销售",
                        reported=d + 1)
        if inbound_g is not None:
            self._sched(b, c, d, "in", inbound_g, cp=a, doc=doc, permit=permit, transport=transport,
                        purpose="采购")

    def _day(self, lo: int, hi: int) -> int:
        return self.rng.randrange(lo, hi)

    def _plant_unmatched_outbound(self):
        a, b, c, permit, transport = self._seller_and_buyer()
        d, g = self._day(60, DAYS - 90), self.scale[self.pair(a, c)]
        self._buy(a, c, d - 10, 2 * g, self.seller_permit)
        self._sale(a, b, c, d, g, permit, transport)
        self.planted["unmatched_outbound"].append(((a, b), c))

    def _plant_unmatched_inbound(self):
        a, b, c, permit, transport = self._seller_and_buyer()
        d, g = self._day(60, DAYS - 90), self.scale[self.pair(b, c)]
        self._sale(a, b, c, d, g, permit, transport, inbound_g=g, outbound=False)
        self.planted["unmatched_inbound"].append(((a, b), c))

    def _plant_quantity_mismatch(self):
        a, b, c, permit, transport = self._seller_and_buyer()
        d, g = self._day(60, DAYS - 90), self.scale[self.pair(a, c)]
        self._buy(a, c, d - 10, 2 * g, self.seller_permit)
        self._sale(a, b, c, d, g, permit, transport, inbound_g=g * 3 // 4)
        self.planted["quantity_mismatch"].append(((a, b), c))

    def _plant_purchase_unlicensed(self):
        c, (a,) = self._take(1)
        self._buy(a, c, self._day(30, DAYS - 30), self.scale[self.pair(a, c)], "")
        self.planted["purchase_unlicensed"].append(((a,), c))

    def _plant_purchase_over_limit(self):
        c, (a,) = self._take(1)
        g = self.scale[self.pair(a, c)]
        permit = self._plant_licence(a, c, "purchase", limit_g={c: g})
        d = self._day(30, DAYS - 60)
        self._buy(a, c, d, g * 8 // 10, permit)
        self._buy(a, c, d + 20, g * 7 // 10, permit)
        self.planted["purchase_over_limit"].append(((a,), c))

    def _plant_purchase_after_expiry(self):
        c, (a,) = self._take(1)
        permit = self._plant_licence(a, c, "purchase", valid_from=self.start - dt.timedelta(days=30),
                                     valid_until=self.start + dt.timedelta(days=200))
        self._buy(a, c, self._day(300, DAYS - 30), self.scale[self.pair(a, c)], permit)
        self.planted["purchase_after_expiry"].append(((a,), c))

    def _plant_sale_to_unlicensed(self):
        a, b, c, permit, transport = self._seller_and_buyer(buyer_purchase=False)
        d, g = self._day(60, DAYS - 90), self.scale[self.pair(a, c)]
        self._buy(a, c, d - 10, 2 * g, self.seller_permit)
        self._sale(a, b, c, d, g, permit, transport, inbound_g=g)
        self.planted["sale_to_unlicensed"].append(((a, b), c))

    def _plant_transport_unlicensed(self):
        a, b, c, permit, transport = self._seller_and_buyer(seller_transport=False)
        d, g = self._day(60, DAYS - 90), self.scale[self.pair(a, c)]
        self._buy(a, c, d - 10, 2 * g, self.seller_permit)
        self._sale(a, b, c, d, g, permit, transport, inbound_g=g)
        self.planted["transport_unlicensed"].append(((a, b), c))

    def _plant_late_report(self):
        c, (a,) = self._take(1, (3,))
        permit = self._plant_licence(a, c, "purchase")
        self._plant_licence(a, c, "trade")
        transport = self._plant_licence(a, c, "transport")
        d, g = self._day(60, DAYS - 60), self.scale[self.pair(a, c)]
        self._buy(a, c, d - 10, 2 * g, permit)
        self._sched(a, c, d, "out", g, cp_name=OUTSIDE_BUYERS[0], doc=self.next_doc("XS"),
                    permit="（粤）3J440800000001", transport=transport, purpose="销售", reported=d + 45)
        self.planted["late_report"].append(((a,), c))

    def _plant_stock_count_mismatch(self):
        c, (a,) = self._take(1, (2, 3))
        permit = self._plant_licence(a, c, "purchase")
        d, g = self._day(DAYS - 90, DAYS - 20), self.scale[self.pair(a, c)]
        self._buy(a, c, d, g, permit)
        p = self.pair(a, c)
        self.planted_counts_rows.append((p, d + 5, g * 9 // 10))
        self.bal_at_count[(p, d + 5)] = g
        self.planted["stock_count_mismatch"].append(((a,), c))

    def _plant_negative_balance(self):
        c, (a,) = self._take(1, (2, 3))
        permit = self._plant_licence(a, c, "purchase")
        d, g = self._day(30, DAYS - 30), self.scale[self.pair(a, c)]
        self._buy(a, c, d, g, permit)
        self._sched(a, c, d + 3, "used", g * 16 // 10, purpose="生产使用")
        self.planted["negative_balance"].append(((a,), c))

    def _plant_expired_not_destroyed(self):
        c, (a,) = self._take(1, (2, 3))
        permit = self._plant_licence(a, c, "purchase")
        d = self._day(100, DAYS - 300)
        self._buy(a, c, d, self.scale[self.pair(a, c)], permit, expires=d + 100)
        self.planted["expired_not_destroyed"].append(((a,), c))

    def _plant_unusual_movement(self):
        c, (a,) = self._take(1, (3,))
        permit = self._plant_licence(a, c, "purchase")
        g = self.scale[self.pair(a, c)]
        spike = self.rng.randrange(12, 23)
        months = DAYS // 30
        self._buy(a, c, 2, g * (months + 25), permit)
        for m in range(months):
            q = g * 20 if m == spike else int(g * (0.95 + 0.1 * self.rng.random()))
            self._sched(a, c, 30 * m + 10, "used", q, purpose="生产使用")
        self.planted["unusual_movement"].append(((a,), c))


# -- findings ------------------------------------------------------------------------------------

#: Planted kind -> the rule codes any of which finding it counts (codes of
#: ``jindu.precursors.reconciliation.RULES``).
EXPECTED_RULES: dict[str, tuple[str, ...]] = {
    "unmatched_outbound": ("transfer_no_inbound",),
    "unmatched_inbound": ("transfer_no_outbound",),
    "quantity_mismatch": ("transfer_quantity_mismatch",),
    "purchase_unlicensed": ("purchase_unlicensed",),
    "purchase_over_limit": ("purchase_over_limit",),
    "purchase_after_expiry": ("purchase_after_expiry",),
    "sale_to_unlicensed": ("sale_to_unlicensed",),
    "transport_unlicensed": ("transport_unpermitted",),
    "late_report": ("late_sale_report",),
    "stock_count_mismatch": ("stock_count_mismatch",),
    "negative_balance": ("negative_balance",),
    "expired_not_destroyed": ("expired_not_destroyed",),
    "unusual_movement": ("unusual_outbound",),
}


def _report_findings(world: _World, ctx: dict) -> None:
    """``raised`` per rule (how many on clean enterprises) and ``planted_found`` per kind."""
    from django.db.models import Count, Q

    from jindu.precursors.models import Discrepancy

    first_planted = world.planted_enterprises[0]
    by_rule = (Discrepancy.objects.values("rule")
               .annotate(n=Count("id"),
                         clean=Count("id", filter=Q(enterprise_id__lt=first_planted, severity="violation")),
                         clean_review=Count("id", filter=Q(enterprise_id__lt=first_planted, severity="review")))
               .order_by("rule"))
    for row in by_rule:
        emit("raised", row["n"], "findings", rule=row["rule"], on_clean=row["clean"],
             on_clean_review=row["clean_review"], **ctx)
    found = set(Discrepancy.objects.filter(enterprise_id__gte=first_planted)
                .values_list("rule", "enterprise_id", "chemical_id"))
    for kind in PLANTED:
        instances = world.planted[kind]
        expected = EXPECTED_RULES.get(kind)
        hits = 0
        for enterprises, chemical in instances:
            if any((rule, e, c) in found for e in enterprises for c in (chemical, None)
                   for rule in (expected or {r for r, _e, _c in found})):
                hits += 1
        emit("planted_found", round(hits / max(1, len(instances)), 3), "share", kind=kind, planted=len(instances),
             found=hits, rules=list(expected or ()), **ctx)


# -- import --------------------------------------------------------------------------------------


def _bench_import(world: _World, rows: int, user, ctx: dict) -> None:
    """Write a ledger file of ``rows`` rows, read it, then preview and commit it as an
    import batch (each in a fresh process); emit the rates."""
    with tempfile.TemporaryDirectory(prefix="jindu-bench-xlsx-") as tmp:
        path = Path(tmp) / "ledger.xlsx"
        started = time.perf_counter()
        written = world.write_import_file(path, rows)
        emit("import_file_s", round(time.perf_counter() - started, 2), "s", rows=written,
             bytes=path.stat().st_size, **ctx)
        read = _phase("read", file=str(path))
        read_rate = read["rows"] / max(read["seconds"], 1e-6)
        emit("read_rows_per_s", round(read_rate, 1), "rows/s", rows=read["rows"], cpu_s=read["cpu_s"], **ctx)
        load = _load_avg()
        done = _phase("import", file=str(path))
        if not done["ok"]:
            emit("import_failed", 1, "flag", errors=str(done.get("errors"))[:1000], **ctx)
            return
        emit("import_preview_rows_per_s", round(done["rows"] / max(done["preview_s"], 1e-6), 1), "rows/s",
             rows=done["rows"], seconds=done["preview_s"], **ctx)
        rate = done["rows"] / max(done["commit_s"], 1e-6)
        emit("import_rows_per_s", round(rate, 1), "rows/s", rows=done["rows"], seconds=done["commit_s"],
             posted=done["posted"], load_avg=load, **ctx)
        emit("import_read_ratio", round(rate / read_rate, 3), "x", **ctx)
        emit("import_peak_rss_mb", done["peak_rss_mb"], "MB", rows=written, **ctx)


def _run_import(data: bytes, name: str, user) -> dict:
    """Upload ``data`` as an import batch of the ledger importer, preview it, commit it —
    what the upload page and its commit button do (:mod:`jindu.core.imports.services`)."""
    from jindu.core.imports import get_importer
    from jindu.core.imports.services import commit_batch, create_batch, preview_batch
    from jindu.precursors.models import LedgerEntry

    before = LedgerEntry.objects.count()
    batch = create_batch(importer=get_importer("precursors.ledger"), user=user, name=name, content=data)
    started = time.perf_counter()
    result = preview_batch(batch, user=user)
    preview_s = time.perf_counter() - started
    if not result.ok:
        return {"ok": False, "errors": result.errors[:20], "rows": result.valid_rows}
    started = time.perf_counter()
    result = commit_batch(batch, user=user)
    commit_s = time.perf_counter() - started
    return {"ok": bool(result.committed), "errors": result.errors[:20], "rows": result.total_rows,
            "posted": LedgerEntry.objects.count() - before, "preview_s": round(preview_s, 3),
            "commit_s": round(commit_s, 3)}
