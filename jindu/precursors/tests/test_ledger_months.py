"""The maintained monthly summary of the ledgers (``LedgerMonth``): after postings, bulk
postings, back-dated postings and voids it equals a fresh summing of the ledger; the
reconciliation reads it and finds the same as after a rebuild; the rebuild command
repairs a summary left stale by a write past the posting path."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from jindu.core.testing import grant, make_user
from jindu.precursors import services
from jindu.precursors.choices import Direction, DiscrepancyStatus, EntrySource
from jindu.precursors.models import Discrepancy, LedgerEntry, LedgerMonth
from jindu.precursors.reconciliation import codes, run_reconciliation
from jindu.precursors.reconciliation.months import pair_mismatches, rebuild_ledger_months, summary_mismatches
from jindu.precursors.tests.factories import EnterpriseFactory, chemical, entry

pytestmark = pytest.mark.django_db

D = Decimal
SULPHURIC, TOLUENE, ACETONE = "硫酸", "甲苯", "丙酮"


@pytest.fixture
def regulator(db):
    user = make_user()
    grant(user, "regulator", "460106")  # 龙华区, where the factory puts enterprises
    return user


@pytest.fixture
def ent(db):
    return EnterpriseFactory()


def post(user, enterprise, name, direction, qty, on, **extra):
    return services.post_entry(user=user, enterprise=enterprise, data={
        "chemical": chemical(name), "occurred_on": on, "direction": direction, "quantity_entered": D(qty),
        "unit_entered": "kg", **extra})


def month_row(enterprise, name, month: date) -> LedgerMonth:
    return LedgerMonth.objects.get(enterprise=enterprise, chemical=chemical(name), month=month)


def assert_in_step():
    assert summary_mismatches() == []
    assert pair_mismatches() == []


def test_postings_are_summed_per_month(regulator, ent):
    post(regulator, ent, SULPHURIC, Direction.IN, "100", date(2026, 1, 5), expires_on=date(2027, 1, 1))
    post(regulator, ent, SULPHURIC, Direction.OUT, "30", date(2026, 1, 9))
    post(regulator, ent, SULPHURIC, Direction.OUT, "60", date(2026, 1, 9))
    post(regulator, ent, SULPHURIC, Direction.IN, "50", date(2026, 1, 20), expires_on=date(2026, 12, 1))
    post(regulator, ent, SULPHURIC, Direction.DESTROYED, "5", date(2026, 2, 3))
    post(regulator, ent, SULPHURIC, Direction.USED, "20", date(2026, 2, 3))
    post(regulator, ent, SULPHURIC, Direction.LOSS, "1", date(2026, 2, 4))
    jan, feb = month_row(ent, SULPHURIC, date(2026, 1, 1)), month_row(ent, SULPHURIC, date(2026, 2, 1))
    assert (jan.in_kg, jan.out_kg, jan.moved_kg, jan.opening_kg) == (D("150"), D("90"), D("90"), None)
    assert (jan.last_in_on, jan.first_out_on, jan.first_expiry_on) == (date(2026, 1, 20), date(2026, 1, 9),
                                                                       date(2026, 12, 1))
    # End-of-day balances within January: +100, +10 (two outbounds netted), +60.
    assert (jan.low_kg, jan.low_before_kg, jan.last_on, jan.entries) == (D("10"), D("10"), date(2026, 1, 20), 4)
    assert (feb.opening_kg, feb.out_kg, feb.moved_kg, feb.low_kg) == (D("60"), D("26"), D("21"), D("-26"))
    assert_in_step()


def test_bulk_postings_are_summed_without_reading_the_ledger(regulator, ent):
    other = EnterpriseFactory()
    rows = [{"enterprise": e, "chemical": chemical(name), "occurred_on": on, "direction": d,
             "quantity_entered": D(q), "unit_entered": "kg"}
            for e, name, d, q, on in ((ent, TOLUENE, Direction.IN, "10", date(2026, 1, 3)),
                                      (ent, TOLUENE, Direction.OUT, "4", date(2026, 1, 3)),
                                      (ent, TOLUENE, Direction.IN, "7", date(2026, 2, 1)),
                                      (ent, ACETONE, Direction.IN, "2.5", date(2026, 2, 2)),
                                      (other, TOLUENE, Direction.IN, "9", date(2026, 3, 3)))]
    assert services.post_entries(user=regulator, rows=rows, source=EntrySource.IMPORT) == 5
    assert_in_step()
    assert month_row(ent, TOLUENE, date(2026, 2, 1)).opening_kg == D("6")
    # A second batch on later days of the same months folds in from the summary alone.
    more = [{**rows[2], "occurred_on": date(2026, 2, 20), "direction": Direction.USED, "quantity_entered": D("3")},
            {**rows[4], "occurred_on": date(2026, 3, 3), "quantity_entered": D("1")}]
    services.post_entries(user=regulator, rows=more, source=EntrySource.IMPORT)
    assert_in_step()
    assert month_row(ent, TOLUENE, date(2026, 2, 1)).low_kg == D("4")


def test_back_dated_postings_sum_the_month_again_and_move_later_openings(regulator, ent):
    post(regulator, ent, SULPHURIC, Direction.IN, "100", date(2026, 3, 20))
    post(regulator, ent, SULPHURIC, Direction.OUT, "10", date(2026, 4, 2))
    post(regulator, ent, SULPHURIC, Direction.IN, "10", date(2026, 5, 2))
    # Before the month's last day (the balance check passes: the balance is 100 now)...
    post(regulator, ent, SULPHURIC, Direction.OUT, "60", date(2026, 3, 5))
    assert month_row(ent, SULPHURIC, date(2026, 3, 1)).low_kg == D("-60")
    # ...and in a month before the pair's first: every later opening moves.
    post(regulator, ent, SULPHURIC, Direction.IN, "25", date(2026, 2, 14))
    assert [m.opening_kg for m in LedgerMonth.objects.filter(enterprise=ent).order_by("month")] == [
        None, D("25"), D("65"), D("55")]
    # A bulk batch back-dated into a month that has later days.
    services.post_entries(user=regulator, rows=[{
        "enterprise": ent, "chemical": chemical(SULPHURIC), "occurred_on": date(2026, 4, 1), "direction": Direction.IN,
        "quantity_entered": D("5"), "unit_entered": "kg"}], source=EntrySource.IMPORT)
    assert_in_step()


def test_voids_sum_the_month_again(regulator, ent):
    first = post(regulator, ent, TOLUENE, Direction.IN, "100", date(2026, 1, 10), expires_on=date(2026, 6, 1))
    post(regulator, ent, TOLUENE, Direction.IN, "50", date(2026, 1, 12), expires_on=date(2026, 9, 1))
    out = post(regulator, ent, TOLUENE, Direction.OUT, "40", date(2026, 2, 10))
    services.void_entry(user=regulator, entry=first, reason="录入错误")
    jan = month_row(ent, TOLUENE, date(2026, 1, 1))
    assert (jan.in_kg, jan.first_expiry_on, jan.entries) == (D("50"), date(2026, 9, 1), 1)
    assert month_row(ent, TOLUENE, date(2026, 2, 1)).opening_kg == D("50")
    services.void_entry(user=regulator, entry=out, reason="重复录入")
    assert not LedgerMonth.objects.filter(enterprise=ent, month=date(2026, 2, 1)).exists()
    assert_in_step()


def test_rebuild_repairs_a_summary_left_stale_by_a_raw_write(regulator, ent):
    e = post(regulator, ent, TOLUENE, Direction.IN, "100", date(2026, 1, 10))
    LedgerEntry.objects.filter(pk=e.pk).update(quantity_kg=D("90"))  # past the posting path
    assert len(summary_mismatches()) == 1
    with pytest.raises(CommandError):
        call_command("rebuild_ledger_months", "--check")
    call_command("rebuild_ledger_months")
    call_command("rebuild_ledger_months", "--check")
    assert month_row(ent, TOLUENE, date(2026, 1, 1)).in_kg == D("90")


def findings() -> set[tuple]:
    return set(Discrepancy.objects.filter(still_detected=True).exclude(status=DiscrepancyStatus.CLOSED)
               .values_list("rule", "fingerprint"))


def test_reconciliation_finds_the_same_from_the_maintained_and_the_rebuilt_summary(regulator, ent):
    as_of = date(2026, 6, 30)
    # Back-dated around the posting check: the balance goes negative on 3 March.
    post(regulator, ent, SULPHURIC, Direction.IN, "100", date(2026, 3, 20), counterparty_name="外省某化工厂",
         permit_number="X1")
    post(regulator, ent, SULPHURIC, Direction.USED, "60", date(2026, 3, 3))
    # An expired lot still on hand, and one voided.
    post(regulator, ent, TOLUENE, Direction.IN, "80", date(2026, 1, 5), counterparty_name="外省某化工厂",
         permit_number="X2", expires_on=date(2026, 2, 1))
    gone = post(regulator, ent, ACETONE, Direction.IN, "80", date(2026, 1, 5), counterparty_name="外省某化工厂",
                permit_number="X3", expires_on=date(2026, 2, 1))
    services.void_entry(user=regulator, entry=gone, reason="录入错误")
    # A stock count in the month after a back-dated outbound.
    post(regulator, ent, TOLUENE, Direction.USED, "10", date(2026, 4, 20))
    services.record_stock_count(user=regulator, enterprise=ent, chemical=chemical(TOLUENE),
                                counted_on=date(2026, 4, 25), quantity_kg=D("70"))
    post(regulator, ent, TOLUENE, Direction.USED, "5", date(2026, 4, 10))
    run_reconciliation(as_of=as_of)
    maintained = findings()
    rules = {r for r, _fp in maintained}
    assert {codes.NEGATIVE_BALANCE, codes.EXPIRED_NOT_DESTROYED, codes.STOCK_COUNT_MISMATCH} <= rules
    [neg] = Discrepancy.objects.filter(rule=codes.NEGATIVE_BALANCE)
    assert neg.occurred_on == date(2026, 3, 3)
    assert not Discrepancy.objects.filter(rule=codes.EXPIRED_NOT_DESTROYED, chemical=chemical(ACETONE)).exists()
    Discrepancy.objects.all().delete()
    LedgerMonth.objects.all().delete()
    rebuild_ledger_months()
    assert_in_step()
    run_reconciliation(as_of=as_of)
    assert findings() == maintained


def test_entries_after_as_of_in_its_own_month_are_left_out(ent):
    entry(ent, SULPHURIC, Direction.IN, "100", date(2026, 6, 1), counterparty_name="甲")
    entry(ent, SULPHURIC, Direction.USED, "150", date(2026, 6, 20))
    entry(ent, SULPHURIC, Direction.IN, "80", date(2026, 6, 21), counterparty_name="甲",
          expires_on=date(2026, 6, 1))
    run = run_reconciliation(as_of=date(2026, 6, 10))
    assert not Discrepancy.objects.filter(rule__in=[codes.NEGATIVE_BALANCE, codes.EXPIRED_NOT_DESTROYED]).exists()
    assert run.pairs_checked == 1
    run_reconciliation(as_of=date(2026, 6, 30))
    assert Discrepancy.objects.filter(rule=codes.NEGATIVE_BALANCE, occurred_on=date(2026, 6, 20)).exists()


def test_incremental_run_reads_the_summary_and_agrees_with_full(regulator, ent):
    today = date(2026, 6, 30)
    post(regulator, ent, SULPHURIC, Direction.IN, "100", today - timedelta(days=40), counterparty_name="外省",
         permit_number="X1")
    run_reconciliation(as_of=today)
    # A back-dated outbound (allowed: the balance is 100 now) makes the earlier month negative.
    post(regulator, ent, SULPHURIC, Direction.USED, "70", today - timedelta(days=45))
    inc = run_reconciliation(as_of=today, mode="incremental")
    assert inc.mode == "incremental"
    after_incremental = findings()
    assert codes.NEGATIVE_BALANCE in {r for r, _fp in after_incremental}
    run_reconciliation(as_of=today)
    assert findings() == after_incremental


def test_a_random_mix_of_postings_bulk_postings_and_voids_keeps_the_summary_in_step(regulator, ent):
    import random

    from django.core.exceptions import ValidationError

    rng = random.Random(460100)
    other = EnterpriseFactory()
    posted: list[LedgerEntry] = []
    directions = [Direction.IN] * 4 + [Direction.OUT, Direction.USED, Direction.LOSS, Direction.DESTROYED]

    def spec():
        day = date(2025, 11, 1) + timedelta(days=rng.randrange(200))  # back-dated at random
        expires = day + timedelta(days=rng.randrange(-30, 300)) if rng.random() < 0.3 else None
        return (rng.choice([ent, other]), rng.choice([SULPHURIC, TOLUENE]), rng.choice(directions),
                str(rng.randrange(1, 90)), day, expires)

    for step in range(60):
        r = rng.random()
        try:
            if r < 0.5:
                e, name, d, q, day, expires = spec()
                posted.append(post(regulator, e, name, d, q, day, expires_on=expires))
            elif r < 0.75:
                rows = []
                for _ in range(rng.randrange(1, 6)):
                    e, name, d, q, day, expires = spec()
                    rows.append({"enterprise": e, "chemical": chemical(name), "occurred_on": day, "direction": d,
                                 "quantity_entered": D(q), "unit_entered": "kg", "expires_on": expires})
                services.post_entries(user=regulator, rows=rows, source=EntrySource.IMPORT)
            elif posted:
                victim = posted.pop(rng.randrange(len(posted)))
                services.void_entry(user=regulator, entry=victim, reason="随机作废")
        except ValidationError:
            pass  # refused (negative balance): nothing was written
        if step % 10 == 9:
            assert_in_step()
    assert LedgerEntry.objects.count() > 20 and LedgerEntry.objects.filter(voided_at__isnull=False).exists()
    assert_in_step()
