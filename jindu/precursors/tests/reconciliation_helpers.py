"""Shared by the reconciliation tests (``test_reconciliation``: the rules;
``test_reconciliation_engine``: the engine and incremental runs): catalogue names, dates,
shortcuts to run a reconciliation and read its open findings, and ledgers built for the
rules. Rows are made directly with the factories (the services' balance check would
refuse some of the states the rules must find)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from jindu.precursors.choices import Direction, DiscrepancyStatus
from jindu.precursors.models import Discrepancy, ReconciliationRun, StockCount
from jindu.precursors.reconciliation import run_reconciliation
from jindu.precursors.tests.factories import LicenceFactory, chemical, entry, licence_line

EPHEDRINE = "麻黄素（麻黄碱）"  # Category 1 (pharmaceutical)
ANHYDRIDE = "醋酸酐"  # Category 2
SULPHURIC = "硫酸"  # Category 3
ACETONE = "丙酮"  # Category 3

D = date(2026, 3, 10)
AS_OF = date(2026, 6, 30)


def reconcile(as_of: date = AS_OF, mode: str = "full") -> ReconciliationRun:
    return run_reconciliation(mode=mode, as_of=as_of)


def found(rule: str, **filters) -> list[Discrepancy]:
    """Open discrepancies of ``rule`` still detected."""
    return list(Discrepancy.objects.filter(rule=rule, still_detected=True, **filters)
                .exclude(status=DiscrepancyStatus.CLOSED).order_by("id"))


def licence(enterprise, kind, *names, valid_from=date(2025, 1, 1), valid_until=date(2027, 12, 31), limit=None,
            **fields):
    lic = LicenceFactory(enterprise=enterprise, kind=kind, valid_from=valid_from, valid_until=valid_until, **fields)
    for name in names:
        licence_line(lic, name, Decimal(limit) if limit is not None else None)
    return lic


def entry_ids(d: Discrepancy) -> set[int]:
    return set(d.entries.values_list("id", flat=True))


def count(enterprise, name, day, qty, ledger="0"):
    return StockCount.objects.create(enterprise=enterprise, chemical=chemical(name), counted_on=day,
                                     quantity_kg=Decimal(qty), ledger_balance_kg=Decimal(ledger))

def monthly_outbound(enterprise, name, quantities, start=date(2025, 6, 1)):
    entry(enterprise, name, Direction.IN, "100000", start)
    y, m = start.year, start.month
    for q in quantities:
        entry(enterprise, name, Direction.USED, str(q), date(y, m, 15))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)

def keys() -> set[tuple[str, str]]:
    return set(Discrepancy.objects.filter(still_detected=True).exclude(status=DiscrepancyStatus.CLOSED)
               .values_list("rule", "fingerprint"))
