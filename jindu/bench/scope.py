"""Benchmark ``scope``: does a scoped list cost what the user's scope holds, not the table?

``python -m jindu.bench scope`` (sizes 10,000 and 1,000,000) or ``--size N`` (repeatable).

Design
------
Each database gets a throwaway copy: a temporary SQLite file, and — when ``DATABASE_URL``
names a PostgreSQL server — a temporary database created on that server and dropped at
the end (``--database`` picks one). Each runs in a child process configured through
``DATABASE_URL``, exactly as the application is, and gets:

1. the real schema (``migrate``) and Haikou's real divisions (``load_city("460100")``);
2. a bench-only table ``jindu_bench_record`` (an unmanaged-by-migrations model declared
   here, shaped like a domain record: name, division foreign key with its index, a
   timestamp), created with the schema editor — no migration, nothing left behind;
3. N rows loaded with raw ``executemany`` (SQLite) or ``COPY`` (PostgreSQL) in one
   transaction. ``--scope-rows`` of them (1,000 by default) lie in one town's villages;
   the rest are spread over every other Haikou village, and the town's rows are
   interleaved at random positions, as records arriving over time would be. So the town's
   share stays fixed while the table grows a hundredfold: the question is whether the
   query notices the table;
4. a town-office user holding ``view`` on the model in that town's subtree, going through
   the real :func:`jindu.core.scope.scope_q` / ``restrict()``.

The timed operation is what a list page does: ``restrict(user, "view")``, newest first
(``-recorded_at, -id``), Django's ``Paginator`` first page of 50 with its count. Each
size is timed ``--repeat`` times after two warm-up runs; the median is reported. Between
sizes the table is dropped and rebuilt. Statistics are gathered (``ANALYZE``) after
loading, as PostgreSQL's autovacuum would do; pass ``--no-analyze`` to see SQLite without
them (Django never runs ``ANALYZE`` on SQLite by itself).

Output lines (``unit`` in brackets): ``setup_s`` [s]; per size and database ``load_s`` [s],
``scope_rows`` [rows], ``page_count_ms`` [ms] (the timed operation), and ``count_ms`` /
``page_ms`` [ms] (its two queries apart); and ``ratio`` [x] = ``page_count_ms`` at the
largest size / at the smallest, per database (goal ≤ 1.5). ``--explain`` writes the
query plans to stderr; ``--pragma`` tries SQLite settings; ``--variant late-lookup`` adds an
index on (division, recorded_at, id) and fetches the page's ids before its rows.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

DEFAULT_SIZES = (10_000, 1_000_000)


def emit(metric: str, value, unit: str, **context) -> None:
    print(json.dumps({"bench": "scope", "metric": metric, "value": value, "unit": unit, **context},
                     ensure_ascii=False), flush=True)


# -- parent: one child process per database ----------------------------------------


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m jindu.bench scope", description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, action="append", help="rows in the table (repeatable); default 10000 and 1000000")
    parser.add_argument("--scope-rows", type=int, default=1000, help="rows inside the user's town (default 1000)")
    parser.add_argument("--repeat", type=int, default=9, help="timed runs per size (median reported)")
    parser.add_argument("--database", choices=["all", "sqlite", "postgresql"], default="all")
    parser.add_argument("--no-analyze", dest="analyze", action="store_false")
    parser.add_argument("--explain", action="store_true", help="print query plans to stderr")
    parser.add_argument("--variant", choices=["plain", "late-lookup"], default="plain",
                        help="late-lookup: index (division, recorded_at, id) and fetch the page's ids first, "
                             "then its 50 rows (what a list view could do)")
    parser.add_argument("--pragma", action="append", default=[],
                        help="SQLite only: run PRAGMA <value> before timing (e.g. cache_size=-65536); repeatable")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sizes = sorted(set(args.size or DEFAULT_SIZES))
    if any(s <= args.scope_rows for s in sizes):
        parser.error("every --size must exceed --scope-rows")
    if args.child:
        return run_child(args, sizes)

    return run_per_database(parser, args.database, "scope", _child_args(args, sizes))


def run_per_database(parser: argparse.ArgumentParser, database: str, bench: str, child_args: list[str]) -> int:
    """Run ``python -m jindu.bench <bench> --child <child_args>`` once per target database
    (``database``: ``all``, ``sqlite`` or ``postgresql``): a scratch SQLite file in a
    temporary ``JINDU_VAR_DIR``, and a throwaway PostgreSQL database beside the one
    ``DATABASE_URL`` names (created and dropped here), so a bench never touches real data.
    Returns the children's exit statuses OR-ed; ``parser.error`` when PostgreSQL is asked
    for without a PostgreSQL ``DATABASE_URL``.

    With ``JINDU_BENCH_KEEP=1`` in the environment the scratch directory and database are
    kept for inspection (``EXPLAIN``, profiling a step again); their ``DATABASE_URL`` and
    ``JINDU_VAR_DIR`` are printed to stderr, and removing them is the caller's job."""
    targets = []
    if database in {"all", "sqlite"}:
        targets.append("sqlite")
    url = os.environ.get("DATABASE_URL", "")
    if database == "postgresql" and not url.startswith(("postgres://", "postgresql://")):
        parser.error("--database postgresql needs DATABASE_URL pointing at a PostgreSQL server")
    if database in {"all", "postgresql"} and url.startswith(("postgres://", "postgresql://")):
        targets.append("postgresql")
    keep = os.environ.get("JINDU_BENCH_KEEP") == "1"
    status = 0
    for target in targets:
        tmp = tempfile.mkdtemp(prefix="jindu-bench-")
        env = dict(os.environ, JINDU_VAR_DIR=tmp, DJANGO_SETTINGS_MODULE="jindu.settings", JINDU_DEMO="0")
        env.pop("REDIS_URL", None)
        pg_name = None
        try:
            if target == "sqlite":
                env["DATABASE_URL"] = f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
            else:
                pg_name, env["DATABASE_URL"] = _create_pg_database(url)
            status |= subprocess.call([sys.executable, "-m", "jindu.bench", bench, "--child", *child_args], env=env)
        finally:
            if keep:
                print(f"kept: DATABASE_URL={env.get('DATABASE_URL')} JINDU_VAR_DIR={tmp}", file=sys.stderr)
            else:
                if pg_name:
                    _drop_pg_database(url, pg_name)
                shutil.rmtree(tmp, ignore_errors=True)
    return status


def _child_args(args, sizes) -> list[str]:
    out = [f"--size={s}" for s in sizes] + [f"--scope-rows={args.scope_rows}", f"--repeat={args.repeat}"]
    if not args.analyze:
        out.append("--no-analyze")
    if args.explain:
        out.append("--explain")
    out += [f"--pragma={p}" for p in args.pragma] + [f"--variant={args.variant}"]
    return out


def _pg_connect(url: str):
    import dj_database_url
    import psycopg

    cfg = dj_database_url.parse(url)
    # The maintenance database: the one DATABASE_URL names need not exist (tests create theirs).
    return psycopg.connect(
        dbname="postgres", user=cfg["USER"] or None, password=cfg["PASSWORD"] or None,
        host=cfg["HOST"] or None, port=cfg["PORT"] or None, autocommit=True,
    ), cfg


def _create_pg_database(url: str) -> tuple[str, str]:
    conn, cfg = _pg_connect(url)
    name = f"jindu_bench_{uuid.uuid4().hex[:10]}"
    with conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    auth = cfg["USER"] + (f":{cfg['PASSWORD']}" if cfg["PASSWORD"] else "") + "@" if cfg["USER"] else ""
    port = f":{cfg['PORT']}" if cfg["PORT"] else ""
    return name, f"postgres://{auth}{cfg['HOST']}{port}/{name}"


def _drop_pg_database(url: str, name: str) -> None:
    conn, _cfg = _pg_connect(url)
    with conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -- child: one database -------------------------------------------------------------


def run_child(args, sizes: list[int]) -> int:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from jindu.geo.services import load_city

    database = connection.vendor
    started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    load_city("460100")
    emit("setup_s", round(time.perf_counter() - started, 2), "s", database=database)

    model = _bench_model()
    town, inside, outside = _pick_town()
    user = _TownUser(town.path, {"bench.view_benchrecord"})
    medians: dict[int, float] = {}
    for size in sizes:
        with connection.schema_editor() as editor:
            editor.create_model(model)
        try:
            started = time.perf_counter()
            _load(model, size, args.scope_rows, inside, outside)
            if args.variant == "late-lookup":
                with connection.cursor() as cur:
                    cur.execute(f"CREATE INDEX jindu_bench_div_rec ON {model._meta.db_table} (division_id, recorded_at, id)")
            if args.analyze:
                with connection.cursor() as cur:
                    cur.execute("ANALYZE" if database == "sqlite" else f"ANALYZE {model._meta.db_table}")
            emit("load_s", round(time.perf_counter() - started, 2), "s", database=database, size=size)
            if database == "sqlite":
                with connection.cursor() as cur:
                    for pragma in args.pragma:
                        cur.execute(f"PRAGMA {pragma}")
            medians[size] = _time_list(model, user, args.repeat, size, database, args.explain, args.variant)
        finally:
            with connection.schema_editor() as editor:
                editor.delete_model(model)
    if len(sizes) > 1:
        small, large = sizes[0], sizes[-1]
        emit("ratio", round(medians[large] / medians[small], 2), "x", database=database,
             sizes=[small, large], goal=1.5, variant=args.variant)
    return 0


def _bench_model():
    from django.db import models

    from jindu.core.scope import ScopedManager

    class BenchRecord(models.Model):
        """A stand-in domain record: lives in a division, recorded at a time."""

        name = models.CharField(max_length=100)
        division = models.ForeignKey("geo.Division", on_delete=models.DO_NOTHING, related_name="+")
        recorded_at = models.DateTimeField()

        objects = ScopedManager()
        scope_division_path = "division"

        class Meta:
            app_label = "bench"
            db_table = "jindu_bench_record"

    return BenchRecord


def _pick_town():
    """The town with the most villages (ties by code), its village ids, and every other village id."""
    from django.db.models import Count

    from jindu.geo.models import Division

    town = (
        Division.objects.filter(level="town", code__startswith="4601")
        .annotate(n=Count("children"))
        .order_by("-n", "code")
        .first()
    )
    villages = Division.objects.filter(level="village", code__startswith="4601")
    inside = list(villages.filter(path__startswith=town.path).values_list("pk", flat=True))
    outside = list(villages.exclude(path__startswith=town.path).values_list("pk", flat=True))
    return town, inside, outside


class _TownUser:
    """A town-office user: one grant in one town's subtree (as ``accounts`` would load it)."""

    is_authenticated = True
    is_active = True
    is_superuser = False

    def __init__(self, path: str, permissions: set[str]):
        from jindu.core.scope import ScopeGrant

        self._grants = [ScopeGrant(role="town_office", permissions=frozenset(permissions), division_path=path)]

    def get_scope_grants(self):
        return self._grants


def _rows(size: int, scope_rows: int, inside: list[int], outside: list[int]):
    rng = random.Random(size)  # the same table every run
    in_scope = set(rng.sample(range(size), scope_rows))
    base = datetime(2024, 1, 1, tzinfo=timezone.utc)
    for i in range(size):
        division = rng.choice(inside) if i in in_scope else rng.choice(outside)
        yield (f"记录{i}", division, base + timedelta(seconds=30 * i))


def _load(model, size: int, scope_rows: int, inside: list[int], outside: list[int]) -> None:
    from django.db import connection, transaction

    table = model._meta.db_table
    rows = _rows(size, scope_rows, inside, outside)
    with transaction.atomic():
        with connection.cursor() as cur:
            if connection.vendor == "postgresql":
                with cur.cursor.copy(f"COPY {table} (name, division_id, recorded_at) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                batch = []
                sql = f"INSERT INTO {table} (name, division_id, recorded_at) VALUES (%s, %s, %s)"
                for name, division, at in rows:
                    batch.append((name, division, at.strftime("%Y-%m-%d %H:%M:%S")))
                    if len(batch) == 50_000:
                        cur.executemany(sql, batch)
                        batch.clear()
                if batch:
                    cur.executemany(sql, batch)


def _time_list(model, user, repeat: int, size: int, database: str, explain: bool, variant: str = "plain") -> float:
    from django.core.paginator import Paginator
    from django.db import connection

    def run():
        queryset = model.objects.restrict(user, "view").order_by("-recorded_at", "-id")
        page = Paginator(queryset, 50).page(1)
        if variant == "late-lookup":
            # The page's ids from the covering index, then only those rows.
            ids = list(page.object_list.values_list("id", flat=True))
            return page.paginator.count, list(model.objects.filter(id__in=ids).order_by("-recorded_at", "-id"))
        return page.paginator.count, list(page.object_list)

    def timed(fn) -> list[float]:
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            fn()
            times.append((time.perf_counter() - started) * 1000)
        return times

    for _ in range(2):
        count, rows = run()
    times = timed(run)
    median = statistics.median(times)
    emit("scope_rows", count, "rows", database=database, size=size)
    emit("page_count_ms", round(median, 3), "ms", database=database, size=size,
         min=round(min(times), 3), max=round(max(times), 3), runs=repeat)
    # The two queries apart, to tell which one grows with the table.
    queryset = model.objects.restrict(user, "view").order_by("-recorded_at", "-id")
    emit("count_ms", round(statistics.median(timed(lambda: queryset.count())), 3), "ms", database=database, size=size)
    emit("page_ms", round(statistics.median(timed(lambda: list(queryset[:50]))), 3), "ms", database=database, size=size)
    if explain:
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            run()
        prefix = "EXPLAIN QUERY PLAN " if connection.vendor == "sqlite" else "EXPLAIN ANALYZE "
        for query in ctx.captured_queries:
            with connection.cursor() as cur:
                cur.execute(prefix + query["sql"])
                plan = "\n".join(" ".join(str(c) for c in row) for row in cur.fetchall())
            print(f"-- {database} size={size}: {query['sql']}\n{plan}\n", file=sys.stderr)
    return median
