"""Incremental against full reconciliation on random ledgers: after rounds of random
changes — postings back-dated, in the month of ``as_of`` after it, after it; spikes; voids;
stock counts — an incremental run leaves every open discrepancy (still detected or not,
summary, details) exactly as a full run with the same ``as_of`` then does, and the monthly
summary and the per-pair figures stay in step with the ledger. (Written by a reviewer of
the per-pair figures, 2026-11-30; it found the runs for a past date that the engine tests
now name.)"""

from __future__ import annotations

import json
import os
import random
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from jindu.precursors.choices import Direction, DiscrepancyStatus, EnterpriseKind, LicenceKind
from jindu.precursors.models import Discrepancy, LedgerEntry, StockCount
from jindu.precursors.reconciliation import run_reconciliation
from jindu.precursors.reconciliation.months import pair_mismatches, summary_mismatches
from jindu.precursors.tests.factories import EnterpriseFactory, LicenceFactory, chemical, entry, licence_line

pytestmark = pytest.mark.django_db

ANHYDRIDE = "醋酸酐"  # Category 2
ACETONE = "丙酮"  # Category 3
CHEMS = (ANHYDRIDE, ACETONE)


def snap():
    out = {}
    for d in Discrepancy.objects.exclude(status=DiscrepancyStatus.CLOSED):
        out[(d.rule, d.fingerprint)] = (d.still_detected, d.summary, json.dumps(d.details, sort_keys=True),
                                        d.occurred_on)
    return out


def rand_day(rng, start, end):
    return start + timedelta(days=rng.randrange((end - start).days + 1))


def make_entry(rng, ents, when):
    ent = rng.choice(ents)
    chem = rng.choice(CHEMS)
    kind = rng.random()
    fields = {}
    if kind < 0.35:
        direction = Direction.IN
        qty = rng.choice(["100", "50", "500", "20"])
        if rng.random() < 0.5:
            fields["expires_on"] = when + timedelta(days=rng.choice([20, 60, 200, 400]))
        if rng.random() < 0.4:
            other = rng.choice([e for e in ents if e != ent])
            fields["counterparty"] = other
        else:
            fields["counterparty_name"] = "外省某化工厂"
    elif kind < 0.7:
        direction = Direction.USED
        qty = rng.choice(["10", "12", "9", "11", "150", "300"])
    elif kind < 0.85:
        direction = Direction.OUT
        qty = rng.choice(["30", "40", "45"])
        other = rng.choice([e for e in ents if e != ent])
        fields["counterparty"] = other
    elif kind < 0.93:
        direction = Direction.LOSS
        qty = rng.choice(["1", "2", "80"])
    else:
        direction = Direction.DESTROYED
        qty = rng.choice(["5", "50"])
    return entry(ent, chem, direction, qty, when, **fields)


def steady(ent, chem, months, start=date(2025, 1, 1), qty="10"):
    entry(ent, chem, Direction.IN, "5000", start, counterparty_name="外省某化工厂")
    y, m = start.year, start.month
    for _ in range(months):
        entry(ent, chem, Direction.USED, qty, date(y, m, 15))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)


#: More with ``JINDU_DIFF_SEEDS=0,1,2,…`` (25 seeds passed on SQLite and 11 on PostgreSQL).
SEEDS = [int(s) for s in os.environ.get("JINDU_DIFF_SEEDS", "0,1,2,3").split(",")]


@pytest.mark.parametrize("seed", SEEDS)
def test_incremental_equals_full(seed):
    rng = random.Random(seed)
    ents = [EnterpriseFactory(kind=EnterpriseKind.TRADER), EnterpriseFactory(kind=EnterpriseKind.USER),
            EnterpriseFactory(kind=EnterpriseKind.USER)]
    for e in ents[:2]:
        lic = LicenceFactory(enterprise=e, kind=LicenceKind.PURCHASE_LICENCE, valid_from=date(2025, 1, 1),
                             valid_until=date(2027, 12, 31))
        for c in CHEMS:
            licence_line(lic, c, Decimal(rng.choice(["2000", "100000"])))
    # Steady histories, so that the statistical screen has something to score.
    for e in ents:
        for c in CHEMS:
            if rng.random() < 0.7:
                steady(e, c, rng.randrange(6, 18), qty=rng.choice(["10", "100"]))
    as_of = rng.choice([date(2026, 6, 30), date(2026, 4, 15), date(2026, 3, 31), date(2026, 5, 20)])
    for _ in range(25):
        make_entry(rng, ents, rand_day(rng, date(2025, 1, 1), date(2026, 6, 30)))
    run_reconciliation(mode="full", as_of=as_of)
    for rnd in range(4):
        # Changes.
        for _ in range(rng.randrange(1, 6)):
            r = rng.random()
            if r < 0.45:
                # a posting: back-dated, in the as_of month after as_of, after as_of, or around as_of
                where = rng.random()
                if where < 0.3:
                    day = rand_day(rng, date(2025, 1, 1), as_of)
                elif where < 0.5:
                    day = rand_day(rng, as_of, max(as_of, as_of.replace(day=28)))
                elif where < 0.7:
                    day = rand_day(rng, as_of + timedelta(days=1), date(2026, 11, 30))
                else:
                    day = rand_day(rng, as_of - timedelta(days=40), as_of)
                make_entry(rng, ents, day)
            elif r < 0.6:
                # a spike
                e = rng.choice(ents)
                c = rng.choice(CHEMS)
                entry(e, c, Direction.USED, rng.choice(["1000", "300"]),
                      rand_day(rng, date(2025, 3, 1), date(2026, 9, 30)))
            elif r < 0.85:
                live = list(LedgerEntry.objects.filter(voided_at__isnull=True))
                if live:
                    e = rng.choice(live)
                    e.voided_at = timezone.now()
                    e.void_reason = "录入错误"
                    e.save()
            else:
                e = rng.choice(ents)
                c = rng.choice(CHEMS)
                day = rand_day(rng, date(2025, 6, 1), as_of)
                StockCount.objects.update_or_create(
                    enterprise=e, chemical=chemical(c), counted_on=day,
                    defaults={"quantity_kg": Decimal(rng.choice(["0", "100", "4000"])),
                              "ledger_balance_kg": Decimal("0")})
        assert summary_mismatches() == []
        assert pair_mismatches() == []
        run_reconciliation(mode="incremental", as_of=as_of)
        inc = snap()
        run_reconciliation(mode="full", as_of=as_of)
        full = snap()
        diff = {k: (inc.get(k), full.get(k)) for k in set(inc) | set(full) if inc.get(k) != full.get(k)}
        assert diff == {}, f"seed {seed} round {rnd} as_of {as_of}"
