"""The demo precursor world: idempotent, the seed's counts, ledgers whose balances add up,
transfers booked at both ends, and planted diversion patterns that the reconciliation
rules find while the clean flows raise nothing.

The database tests seed a smaller world (``size=SMALL``: 60 enterprises besides the 5
transport enterprises, every kind of enterprise and every planted pattern present); the
full world's counts are checked on the plan, without writing it.
"""

import io
from collections import defaultdict
from datetime import timedelta
from decimal import Decimal

from django.db.models import Sum

from jindu.core.timeutils import local_today
from jindu.geo.models import Division
from jindu.precursors import demo
from jindu.precursors.choices import Direction, EnterpriseKind
from jindu.precursors.models import (
    Destruction,
    Discrepancy,
    Enterprise,
    LedgerEntry,
    Licence,
    StockBalance,
    StockCount,
)

SMALL = 60


def _world(size: int) -> demo.DemoWorld:
    city = Division.objects.get(code="460100000000")
    towns, villages, district_of = demo._demo_divisions(city)
    return demo.DemoWorld(size=size, today=local_today(), towns=towns, villages=villages, district_of=district_of)


def _seed(size: int = SMALL):
    from jindu.accounts import demo as accounts_demo
    from jindu.org import demo as org_demo

    org_demo.seed(io.StringIO())
    accounts_demo.seed(io.StringIO())
    return demo.seed(io.StringIO(), size=size)


def _counts() -> tuple:
    from jindu.inspections.models import Hazard, Inspection

    return (Enterprise.objects.count(), Licence.objects.count(), LedgerEntry.objects.count(),
            StockCount.objects.count(), Destruction.objects.count(), Discrepancy.objects.count(),
            Inspection.objects.count(), Hazard.objects.count())


def test_the_full_world_has_the_seed_report_enterprises(db):
    world = _world(demo.FULL_SIZE)
    world.make_enterprises()
    kinds = defaultdict(int)
    for e in world.ents:
        kinds[e.arch.kind] += 1
    assert len(world.ents) == 409 + 5
    assert kinds[EnterpriseKind.TRANSPORTER] == 5
    assert kinds[EnterpriseKind.PRODUCER] and kinds[EnterpriseKind.TRADER] and kinds[EnterpriseKind.USER]
    assert len({e.name for e in world.ents}) == len(world.ents)
    # Every enterprise sits in a village or community of one of Haikou's four districts.
    assert {e.division.level for e in world.ents} == {"village"}
    assert {e.district for e in world.ents} == {"秀英区", "龙华区", "琼山区", "美兰区"}


def test_seeding_once_codes_licences_inspections_and_the_enterprise_login(db):
    from stdnum.cn import uscc

    from jindu.accounts.models import User
    from jindu.inspections.models import Hazard, Inspection, Target
    from jindu.precursors.normalize import is_valid_org_code

    manifest = _seed()
    assert manifest, "the first run creates the world and returns the planted cases"
    assert Enterprise.objects.filter(is_demo=True).count() == SMALL + 5
    assert Enterprise.objects.filter(kind=EnterpriseKind.TRANSPORTER).count() == 5
    enterprises = list(Enterprise.objects.filter(is_demo=True))
    for e in enterprises:
        assert (e.credit_code and uscc.is_valid(e.credit_code)) or (not e.credit_code
                                                                     and is_valid_org_code(e.legacy_code))
    assert any(not e.credit_code for e in enterprises), "a few old records carry only an organisation code"
    # Every enterprise is an inspection target and under a police brigade's supervision.
    assert Target.objects.filter(source_model="precursors.Enterprise", is_demo=True).count() == len(enterprises)
    assert not Enterprise.objects.filter(is_demo=True, supervising_units__isnull=True).exists()
    # Licences and filings expire on a spread of dates: some within the next 90 days.
    today = local_today()
    assert Licence.objects.filter(one_trip=False, valid_until__range=(today, today + timedelta(days=90))).exists()
    # Inspections in the seed's proportions (2562 inspections, 101 hazards, scaled), all rectified.
    inspections = Inspection.objects.filter(target__source_model="precursors.Enterprise")
    assert inspections.count() == round(demo.SEED_INSPECTIONS * (SMALL + 5) / (demo.FULL_SIZE + 5))
    assert Hazard.objects.filter(target__source_model="precursors.Enterprise").count() == round(
        demo.SEED_HAZARDS * (SMALL + 5) / (demo.FULL_SIZE + 5))
    assert not Hazard.objects.filter(target__source_model="precursors.Enterprise", rectified_at__isnull=True).exists()
    # The enterprise login sees its own enterprise and nothing else.
    user = User.objects.get(username="enterprise")
    assert list(Enterprise.objects.restrict(user, "view")) == list(user.precursor_enterprises.all())
    assert Enterprise.objects.restrict(user, "view").count() == 1
    # Seeding again creates nothing new.
    first = _counts()
    assert _seed() is None
    assert _counts() == first


def test_balances_are_the_sum_of_the_entries_and_transfers_have_two_ends(db):
    manifest = _seed()
    signed = defaultdict(Decimal)
    last = {}
    for e in LedgerEntry.objects.order_by("id").values("enterprise_id", "chemical_id", "direction", "quantity_kg",
                                                       "balance_after_kg"):
        key = (e["enterprise_id"], e["chemical_id"])
        signed[key] += e["quantity_kg"] if e["direction"] == Direction.IN else -e["quantity_kg"]
        assert e["balance_after_kg"] == signed[key], "balance_after_kg is the running balance in posting order"
        assert e["balance_after_kg"] >= 0
        last[key] = e["balance_after_kg"]
    balances = {(b.enterprise_id, b.chemical_id): b.quantity_kg for b in StockBalance.objects.all()}
    assert balances == dict(signed)
    # Every Jindu-to-Jindu outbound has its inbound at the buyer with the same document
    # number and quantity, except the planted ones.
    planted_sellers = {pk for p in manifest if p["plant"] in ("out_without_in", "quantity_mismatch")
                       for pk in p["enterprise_pks"][:1]}
    inbound = {(i.document_number, i.enterprise_id, i.counterparty_id, i.chemical_id): i.quantity_kg
               for i in LedgerEntry.objects.filter(direction=Direction.IN, counterparty__isnull=False)}
    unmatched = [o for o in LedgerEntry.objects.filter(direction=Direction.OUT, counterparty__isnull=False)
                 if inbound.get((o.document_number, o.counterparty_id, o.enterprise_id, o.chemical_id))
                 != o.quantity_kg]
    assert unmatched and {o.enterprise_id for o in unmatched} <= planted_sellers
    # Destructions carry their destroyed entries and witness units.
    for d in Destruction.objects.prefetch_related("entries", "witness_units"):
        assert d.entries.exists() and d.witness_units.exists()
    assert LedgerEntry.objects.filter(direction=Direction.DESTROYED).aggregate(s=Sum("quantity_kg"))["s"] > 0


def test_the_rules_find_the_planted_patterns_and_nothing_else(db):
    from jindu.precursors.reconciliation import RULES

    from jindu.precursors.reconciliation.cover import cover_mismatches

    manifest = _seed()
    assert cover_mismatches() == []  # the demo's bulk-created licences were flattened
    assert {p["plant"] for p in manifest} == {p.code for p in demo.PLANTED}
    for p in demo.PLANTED:
        assert set(p.rules) <= set(RULES), f"{p.code}: unknown rule codes {p.rules}"
    found = list(Discrepancy.objects.select_related("chemical"))
    # Each planted case is found by its rule at its enterprise(s) and chemical.
    for p in manifest:
        hits = [d for d in found if d.rule in p["rules"] and d.enterprise_id in p["enterprise_pks"]
                and d.chemical.name_zh == p["chemical"]]
        assert hits, f"planted {p['plant']} at {p['enterprises']} ({p['chemical']}) was not found"
    # Nothing is found that was not planted: the clean flows raise no discrepancy.
    unplanned = [d for d in found if not any(
        d.rule in p["rules"] and d.enterprise_id in p["enterprise_pks"] and d.chemical.name_zh == p["chemical"]
        for p in manifest)]
    assert unplanned == []
