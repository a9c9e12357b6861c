"""The statistical rule's pre-screen (``anomaly._screen_pairs``) keeps exactly the pairs
whose monthly series can contain a reported month: at least ``(n + 1) // 2`` of the
pair's ``n`` moved-out months are at most the largest month / 3 (the median is then at
most a third of the top), and ``n`` reaches the minimum. It is written twice (PostgreSQL:
one ``percentile_disc`` aggregate; SQLite: two hash aggregates and a join); both must
agree with this definition, computed here in Python, on series built to sit on and
around the boundary."""

from __future__ import annotations

import random
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection

from jindu.precursors.reconciliation.anomaly import SCREEN_TABLE, _screen_pairs
from jindu.precursors.reconciliation.base import MONTH_TABLE, Context
from jindu.precursors.rules import BALANCE_EPSILON_KG, ROBUST_Z_MIN_MONTHS, ROBUST_Z_MIN_RATIO

pytestmark = pytest.mark.django_db


def _kept(series: list[Decimal]) -> bool:
    months = [kg for kg in series if kg > BALANCE_EPSILON_KG]
    n = len(months)
    if n < ROBUST_Z_MIN_MONTHS:
        return False
    top = max(months)
    small = sum(1 for kg in months if kg * ROBUST_Z_MIN_RATIO <= top)
    return small >= (n + 1) // 2


def _series(rng: random.Random, case: int) -> list[Decimal]:
    n = rng.randint(ROBUST_Z_MIN_MONTHS - 2, 14)
    base = Decimal(rng.choice(["10", "2.5", "100"]))
    kind = case % 4
    if kind == 0:  # steady: nothing is three times the rest
        return [base + Decimal(rng.randint(0, 9)) / 10 for _ in range(n)]
    if kind == 1:  # one spike
        return [base] * (n - 1) + [base * Decimal(rng.choice(["2.9", "3", "3.1", "10"]))]
    # half the months exactly at a third of the top, or one month short of half; zero months mixed in
    top = base * 3
    k = (n + 1) // 2 - (kind == 3)
    small = [base] * k
    large = [top] * (n - k)
    months = small + large + [Decimal("0")] * rng.randint(0, 2)
    rng.shuffle(months)
    return months


def test_the_screen_keeps_exactly_the_pairs_the_definition_keeps():
    rng = random.Random(4601)
    series = {(1000 + i, 1 + i % 7): _series(rng, i) for i in range(240)}
    ctx = Context(as_of=date(2026, 11, 30))
    with connection.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {MONTH_TABLE}")
        cur.execute(f"CREATE TEMP TABLE {MONTH_TABLE} (enterprise_id bigint, chemical_id bigint, month date, "
                    f"move_kg numeric(16, 3))")
        rows = [(e, c, date(2024, 1 + m % 12, 1).replace(year=2024 + m // 12), kg)
                for (e, c), months in series.items() for m, kg in enumerate(months)]
        cur.executemany(f"INSERT INTO {MONTH_TABLE} VALUES (%s, %s, %s, %s)",
                        [(e, c, d if ctx.pg else d.isoformat(), str(kg)) for e, c, d, kg in rows])
    try:
        _screen_pairs(ctx)
        with connection.cursor() as cur:
            cur.execute(f"SELECT enterprise_id, chemical_id FROM {SCREEN_TABLE}")
            kept = set(cur.fetchall())
    finally:
        with connection.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {SCREEN_TABLE}")
            cur.execute(f"DROP TABLE IF EXISTS {MONTH_TABLE}")
    expected = {pair for pair, months in series.items() if _kept(months)}
    assert 30 < len(expected) < len(series) - 30  # both outcomes are well represented
    assert kept == expected
