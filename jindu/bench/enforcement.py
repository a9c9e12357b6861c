"""Benchmark ``enforcement``: does the statistics page cost what the period holds, not the table?

``python -m jindu.bench enforcement`` (sizes 10,000 and 1,000,000 cases) or ``--size N``
(repeatable).

Design
------
Like ``bench scope``, each database gets a throwaway copy (a temporary SQLite file; with
``DATABASE_URL`` naming a PostgreSQL server, a temporary database dropped at the end;
``--database`` picks one), driven by a child process configured through ``DATABASE_URL``
exactly as the application is. The child migrates, loads Haikou's divisions, creates
police units (the city bureau, one branch per district) and a city police user through the
real role (``police`` granted at 海口市), and campaigns.

Cases are written straight into the tables (``COPY`` on PostgreSQL, ``executemany`` on
SQLite; no per-row ORM), each with one to three suspects and, for criminal cases, one
seizure of a street drug with a Decimal net weight; ``--period-cases`` of them (2,000 by
default, about what a province's city solves in a few years) are filed and solved in 2023
and tagged with a 2023 campaign; every other case lies in 1990–2022. Sizes grow in place,
so the 2023 cases stay the same while the table grows a hundredfold: the question is
whether the statistics notice the table.

Per size (``unit`` in brackets):

- ``load_s`` [s]; ``rows`` [rows] (cases, suspects, seizures);
- ``selector_ms`` [ms]: :func:`jindu.enforcement.selectors.statistics` for the city user,
  2023, criminal cases (what the page computes), median of ``--repeat`` runs after two
  warm-ups; ``selector_queries`` [queries];
- ``page_ms`` [ms]: the statistics page itself (``GET /enforcement/statistics/`` through
  Django's test client: middleware, form, selector, template), median likewise; the
  page's seized total is checked against the selector's (the exact decimal sum);
- ``export_rows_per_s`` [rows/s] for xlsx and csv: the case export
  (:class:`jindu.enforcement.exporters.CaseExporter` through
  :func:`jindu.core.exports.export_to_file`, the list's filters = filed in 2023).

Once: ``ratio`` [x] = ``selector_ms`` (and ``page_ratio`` for ``page_ms``) at the largest
size / at the smallest, per database (goal ≤ 1.5).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import statistics
import time
from decimal import Decimal

DEFAULT_SIZES = (10_000, 1_000_000)
PERIOD = (dt.date(2023, 1, 1), dt.date(2023, 12, 31))


def emit(metric: str, value, unit: str, **context) -> None:
    print(json.dumps({"bench": "enforcement", "metric": metric, "value": value, "unit": unit, **context},
                     ensure_ascii=False, default=str), flush=True)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m jindu.bench enforcement", description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, action="append", help="cases (repeatable); default 10000 and 1000000")
    parser.add_argument("--period-cases", type=int, default=2000, help="cases filed and solved in 2023 (default 2000)")
    parser.add_argument("--repeat", type=int, default=7, help="timed runs per size (median reported)")
    parser.add_argument("--database", choices=["all", "sqlite", "postgresql"], default="all")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sizes = sorted(set(args.size or DEFAULT_SIZES))
    if any(s <= args.period_cases for s in sizes):
        parser.error("every --size must exceed --period-cases")
    if args.child:
        return run_child(args, sizes)

    from jindu.bench.scope import run_per_database

    child_args = [*[f"--size={s}" for s in sizes], f"--period-cases={args.period_cases}",
                  f"--repeat={args.repeat}"]
    return run_per_database(parser, args.database, "enforcement", child_args)


# -- child: one database -------------------------------------------------------------------


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
    world = _World(args.period_cases)
    emit("setup_s", round(time.perf_counter() - started, 2), "s", database=database)
    medians: dict[int, tuple[float, float]] = {}
    for size in sizes:
        started = time.perf_counter()
        counts = world.grow_to(size)
        with connection.cursor() as cur:
            cur.execute("ANALYZE")
        emit("load_s", round(time.perf_counter() - started, 2), "s", database=database, size=size)
        emit("rows", counts, "rows", database=database, size=size)
        medians[size] = _time_statistics(world.user, args.repeat, size, database)
        _time_export(world.user, size, database)
    if len(sizes) > 1:
        small, large = sizes[0], sizes[-1]
        emit("ratio", round(medians[large][0] / medians[small][0], 2), "x", database=database,
             sizes=[small, large], goal=1.5, of="selector_ms")
        emit("page_ratio", round(medians[large][1] / medians[small][1], 2), "x", database=database,
             sizes=[small, large], goal=1.5, of="page_ms")
    return 0


class _World:
    """Units, a city police user, campaigns, and cases written in pk order."""

    SUBSTANCES = ("甲基苯丙胺", "海洛因", "氯胺酮", "3,4-亚甲二氧基甲基苯丙胺", "可卡因")

    def __init__(self, period_cases: int):
        from jindu.accounts.models import Role, RoleAssignment, User
        from jindu.enforcement.models import Campaign
        from jindu.geo.models import Division
        from jindu.org.choices import UnitKind
        from jindu.org.models import Unit
        from jindu.substances.models import Substance

        self.rng = random.Random(460100)
        self.period_cases = period_cases
        city = Division.objects.get(code="460100000000")
        districts = list(Division.objects.filter(parent=city, level="district").order_by("code"))
        bureau = Unit.objects.create(name="海口市公安局禁毒支队", kind=UnitKind.POLICE, division=city)
        self.units = [bureau.pk] + [
            Unit.objects.create(name=f"{d.name}分局禁毒大队", kind=UnitKind.POLICE, division=d, parent=bureau).pk
            for d in districts
        ]
        self.towns = list(Division.objects.filter(path__startswith=city.path, level="town")
                          .values_list("pk", flat=True))
        self.substances = [Substance.objects.filter(name_zh=n).order_by("control_list", "seq_in_list").first().pk
                           for n in self.SUBSTANCES]
        self.campaign = Campaign.objects.create(name="2023年秋冬攻势", kind="autumn_winter", division=city,
                                                start_date=dt.date(2023, 9, 1), end_date=dt.date(2023, 12, 31))
        self.user = User.objects.create(username="bench_city_police", full_name="基准市公安禁毒")
        RoleAssignment.objects.create(user=self.user, role=Role.objects.get(code="police"), division=city)
        self.count = 0

    def _case(self, i: int, in_period: bool) -> tuple[dict, list[dict], list[dict]]:
        rng = self.rng
        if in_period:
            filed = PERIOD[0] + dt.timedelta(days=rng.randrange(300))
        else:
            span = (dt.date(2022, 10, 1) - dt.date(1990, 1, 1)).days
            filed = dt.date(1990, 1, 1) + dt.timedelta(days=rng.randrange(span))
        criminal = rng.random() < 0.85
        solved = filed + dt.timedelta(days=rng.randrange(60)) if rng.random() < 0.9 else None
        case = {
            "number": f"B{i:09d}", "name": f"基准案件{i}", "kind": "criminal" if criminal else "administrative",
            "offence": "trafficking" if criminal else "drug_use", "division_id": rng.choice(self.towns),
            "handling_unit_id": rng.choice(self.units), "handling_level": "branch", "filed_on": filed,
            "solved_on": solved, "status": "solved" if solved else "filed",
            "target_level": "province" if rng.random() < 0.01 else "",
        }
        suspects = [{"name": f"嫌疑人{i}-{k}", "role": "principal" if k == 0 else "accomplice",
                     "caught_on": solved} for k in range(1 + rng.randrange(3))]
        seizures = []
        if criminal:
            seizures.append({"substance_id": rng.choice(self.substances), "form": "crystal", "item_name": "",
                             "net_weight_g": Decimal(rng.randrange(100, 500_000)) / 1000,
                             "seized_on": solved or filed, "place": ""})
        return case, suspects, seizures

    def grow_to(self, size: int) -> dict[str, int]:
        from django.db import transaction

        from jindu.bench.persons import _load, _reset_sequence
        from jindu.enforcement.models import Case, Seizure, Suspect

        first = self.count == 0
        period = set(self.rng.sample(range(size), self.period_cases)) if first else set()
        chunk = 20_000
        for start in range(self.count, size, chunk):
            stop = min(size, start + chunk)
            rows = [self._case(i, i in period) for i in range(start, stop)]
            with transaction.atomic():
                _load(Case, [r[0] for r in rows])
                _reset_sequence(Case)
                ids = dict(Case.objects.filter(number__in=[r[0]["number"] for r in rows]).values_list("number", "pk"))
                suspects, seizures = [], []
                for case, sus, sei in rows:
                    pk = ids[case["number"]]
                    suspects += [{**s, "case_id": pk} for s in sus]
                    seizures += [{**s, "case_id": pk} for s in sei]
                _load(Suspect, suspects)
                _load(Seizure, seizures)
                if first:
                    through = Case.campaigns.through
                    tagged = [{"case_id": ids[c["number"]], "campaign_id": self.campaign.pk} for c, _s, _z in rows
                              if c["filed_on"] >= dt.date(2023, 9, 1)]
                    _load(through, tagged)
            self.count = stop
        return {"cases": Case.objects.count(), "suspects": Suspect.objects.count(), "seizures": Seizure.objects.count(),
                "period_cases": self.period_cases}


def _median_ms(fn, repeat: int) -> float:
    for _ in range(2):
        fn()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 2)


def _time_statistics(user, repeat: int, size: int, database: str) -> tuple[float, float]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from jindu.enforcement import selectors
    from jindu.substances.quantities import format_grams

    f = selectors.StatisticsFilter(date_from=PERIOD[0], date_to=PERIOD[1], kind="criminal")
    result = selectors.statistics(user, f)
    with CaptureQueriesContext(connection) as ctx:
        selectors.statistics(user, f)
    selector_ms = _median_ms(lambda: selectors.statistics(user, f), repeat)
    emit("selector_ms", selector_ms, "ms", database=database, size=size, cases_solved=result.cases_solved,
         seized_g=str(result.seized_g))
    emit("selector_queries", len(ctx.captured_queries), "queries", database=database, size=size)

    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    url = reverse("enforcement:statistics")
    params = {"date_from": PERIOD[0].isoformat(), "date_to": PERIOD[1].isoformat(), "kind": "criminal"}
    response = client.get(url, params)
    expected = format_grams(result.seized_g, sep=" ")
    if response.status_code != 200 or expected not in response.content.decode():
        raise SystemExit(f"statistics page did not show {expected} (HTTP {response.status_code})")
    page_ms = _median_ms(lambda: client.get(url, params), repeat)
    emit("page_ms", page_ms, "ms", database=database, size=size)
    return selector_ms, page_ms


def _time_export(user, size: int, database: str) -> None:
    from jindu.core.exports import export_to_file
    from jindu.enforcement.exporters import CaseExporter

    params = {"filed_from": PERIOD[0].isoformat(), "filed_to": PERIOD[1].isoformat()}
    for fmt in ("xlsx", "csv"):
        started = time.perf_counter()
        fh, rows = export_to_file(CaseExporter(), user=user, fmt=fmt, params=params)
        seconds = time.perf_counter() - started
        fh.close()
        emit("export_rows_per_s", round(rows / seconds, 1), "rows/s", database=database, size=size, format=fmt,
             rows=rows, seconds=round(seconds, 3))
