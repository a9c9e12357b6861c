"""The reconciliation rules: for each, a case that fires and a near miss that does not;
and the engine: re-runs do not duplicate, closed findings stay closed, incremental runs
check only touched pairs and agree with full runs, voided entries are ignored.

Rows are made directly with the factories (the services' balance check would refuse some
of the states the rules must find)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from jindu.precursors.choices import (
    Direction,
    DiscrepancySeverity,
    DiscrepancyStatus,
    EnterpriseKind,
    LicenceKind,
    LicenceStatus,
)
from jindu.precursors.models import Discrepancy, LedgerEntry, ReconciliationRun, StockCount
from jindu.precursors.reconciliation import RULES, codes, run_reconciliation
from jindu.precursors.reconciliation.months import rebuild_ledger_months
from jindu.precursors.tests.factories import EnterpriseFactory, LicenceFactory, chemical, entry, licence_line

pytestmark = pytest.mark.django_db

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


@pytest.fixture
def seller():
    return EnterpriseFactory(kind=EnterpriseKind.TRADER)


@pytest.fixture
def buyer():
    return EnterpriseFactory(kind=EnterpriseKind.USER)


def test_every_rule_has_a_title_basis_and_severity():
    assert set(RULES) == set(codes.ALL_CODES)
    for code, rule in RULES.items():
        assert rule.code == code and str(rule.title) and str(rule.basis)
        assert rule.severity in DiscrepancySeverity.values
    assert RULES[codes.UNUSUAL_OUTBOUND].severity == DiscrepancySeverity.REVIEW


# ---------------------------------------------------------------------------------------------
# 1. Purchases
# ---------------------------------------------------------------------------------------------

class TestPurchase:
    def test_category_1_purchase_without_licence_fires(self, buyer):
        e = entry(buyer, EPHEDRINE, Direction.IN, "5", D, counterparty_name="外省某药业公司")
        reconcile()
        [d] = found(codes.PURCHASE_UNLICENSED)
        assert d.enterprise == buyer and d.chemical == chemical(EPHEDRINE)
        assert entry_ids(d) == {e.pk} and d.severity == DiscrepancySeverity.VIOLATION
        assert d.occurred_on == D and "购买许可证" in d.summary

    def test_category_1_filing_is_not_enough(self, buyer):
        licence(buyer, LicenceKind.PURCHASE_FILING, EPHEDRINE)
        entry(buyer, EPHEDRINE, Direction.IN, "5", D, counterparty_name="外省某药业公司")
        reconcile()
        assert len(found(codes.PURCHASE_UNLICENSED)) == 1

    def test_category_3_purchase_with_filing_is_clean_other_chemical_is_not(self, buyer):
        licence(buyer, LicenceKind.PURCHASE_FILING, SULPHURIC)
        entry(buyer, SULPHURIC, Direction.IN, "500", D, counterparty_name="外省某化工厂")
        other = entry(buyer, ACETONE, Direction.IN, "500", D, counterparty_name="外省某化工厂")
        reconcile()
        [d] = found(codes.PURCHASE_UNLICENSED)
        assert entry_ids(d) == {other.pk}

    def test_purchase_licence_is_accepted_for_category_2(self, buyer):
        licence(buyer, LicenceKind.PURCHASE_LICENCE, ANHYDRIDE)
        entry(buyer, ANHYDRIDE, Direction.IN, "50", D, counterparty_name="外省某化工厂")
        reconcile()
        assert not found(codes.PURCHASE_UNLICENSED)

    def test_licence_valid_until_the_purchase_day_covers_it(self, buyer):
        licence(buyer, LicenceKind.PURCHASE_LICENCE, EPHEDRINE, valid_until=D)
        entry(buyer, EPHEDRINE, Direction.IN, "5", D, counterparty_name="外省某药业公司")
        reconcile()
        assert not found(codes.PURCHASE_UNLICENSED) and not found(codes.PURCHASE_AFTER_EXPIRY)

    def test_purchase_a_day_after_expiry_fires(self, buyer):
        lic = licence(buyer, LicenceKind.PURCHASE_LICENCE, EPHEDRINE, valid_until=D)
        e = entry(buyer, EPHEDRINE, Direction.IN, "5", D + timedelta(days=1), counterparty_name="外省某药业公司")
        reconcile()
        assert not found(codes.PURCHASE_UNLICENSED)
        [d] = found(codes.PURCHASE_AFTER_EXPIRY)
        assert entry_ids(d) == {e.pk} and list(d.licences.all()) == [lic]

    def test_purchase_before_the_licence_starts_is_unlicensed(self, buyer):
        licence(buyer, LicenceKind.PURCHASE_LICENCE, EPHEDRINE, valid_from=D + timedelta(days=1))
        entry(buyer, EPHEDRINE, Direction.IN, "5", D, counterparty_name="外省某药业公司")
        reconcile()
        assert len(found(codes.PURCHASE_UNLICENSED)) == 1

    def test_revoked_licence_stops_covering_on_the_revocation_date(self, buyer):
        lic = licence(buyer, LicenceKind.PURCHASE_FILING, SULPHURIC)
        lic.status = LicenceStatus.REVOKED
        lic.revoked_on = date(2026, 4, 1)
        lic.save()
        # The decision of 1 April was entered on 10 May: the decision's date counts.
        entered = timezone.make_aware(timezone.datetime(2026, 5, 10, 10, 0))
        lic.history.filter(status=LicenceStatus.REVOKED).update(history_date=entered)
        before = entry(buyer, SULPHURIC, Direction.IN, "100", date(2026, 3, 31), counterparty_name="外省某化工厂")
        after = entry(buyer, SULPHURIC, Direction.IN, "100", date(2026, 4, 1), counterparty_name="外省某化工厂")
        reconcile()
        [d] = found(codes.PURCHASE_AFTER_EXPIRY)
        assert entry_ids(d) == {after.pk} and before.pk not in entry_ids(d)

    def test_own_production_needs_a_production_document_not_a_purchase_one(self):
        producer = EnterpriseFactory(kind=EnterpriseKind.PRODUCER)
        licence(producer, LicenceKind.PRODUCTION_FILING, SULPHURIC)
        entry(producer, SULPHURIC, Direction.IN, "1000", D)  # no counterparty: own production
        bare = EnterpriseFactory(kind=EnterpriseKind.PRODUCER)
        unexplained = entry(bare, SULPHURIC, Direction.IN, "1000", D)
        reconcile()
        [d] = found(codes.PURCHASE_UNLICENSED)
        assert d.enterprise == bare and entry_ids(d) == {unexplained.pk}

    def test_goods_back_from_a_warehouse_are_not_a_purchase(self, buyer):
        warehouse = EnterpriseFactory(kind=EnterpriseKind.STORAGE)
        entry(buyer, SULPHURIC, Direction.IN, "100", D, counterparty=warehouse)
        reconcile()
        assert not found(codes.PURCHASE_UNLICENSED)

    def test_entries_of_one_month_make_one_finding(self, buyer):
        a = entry(buyer, SULPHURIC, Direction.IN, "100", date(2026, 3, 1), counterparty_name="甲")
        b = entry(buyer, SULPHURIC, Direction.IN, "100", date(2026, 3, 31), counterparty_name="乙")
        c = entry(buyer, SULPHURIC, Direction.IN, "100", date(2026, 4, 1), counterparty_name="甲")
        reconcile()
        march, april = found(codes.PURCHASE_UNLICENSED)
        assert entry_ids(march) == {a.pk, b.pk} and entry_ids(april) == {c.pk}
        assert march.details["entries"] == 2 and march.details["quantity_kg"] == "200.000"

    def test_cumulative_purchases_up_to_the_limit_are_clean(self, buyer):
        lic = licence(buyer, LicenceKind.PURCHASE_LICENCE, EPHEDRINE, limit="10")
        entry(buyer, EPHEDRINE, Direction.IN, "6", D, counterparty_name="甲", permit_number=lic.number)
        entry(buyer, EPHEDRINE, Direction.IN, "4", D + timedelta(days=3), counterparty_name="甲")
        reconcile()
        assert not found(codes.PURCHASE_OVER_LIMIT)

    def test_cumulative_purchases_beyond_the_limit_fire(self, buyer):
        lic = licence(buyer, LicenceKind.PURCHASE_LICENCE, EPHEDRINE, limit="10")
        entry(buyer, EPHEDRINE, Direction.IN, "6", D, counterparty_name="甲", permit_number=lic.number)
        entry(buyer, EPHEDRINE, Direction.IN, "4", D + timedelta(days=3), counterparty_name="甲")
        third = entry(buyer, EPHEDRINE, Direction.IN, "0.5", D + timedelta(days=5), counterparty_name="甲")
        # Bought under another licence's number: not counted against this one.
        entry(buyer, EPHEDRINE, Direction.IN, "3", D + timedelta(days=6), counterparty_name="甲",
              permit_number=licence(buyer, LicenceKind.PURCHASE_LICENCE, EPHEDRINE).number)
        reconcile()
        [d] = found(codes.PURCHASE_OVER_LIMIT)
        assert entry_ids(d) == {third.pk} and list(d.licences.all()) == [lic]
        assert d.details["cumulative_kg"] == "10.500" and d.details["excess_kg"] == "0.500"


# ---------------------------------------------------------------------------------------------
# 2. Transport
# ---------------------------------------------------------------------------------------------

class TestTransport:
    @pytest.fixture(autouse=True)
    def _buyer_may_buy(self, buyer):
        licence(buyer, LicenceKind.PURCHASE_FILING, SULPHURIC, ANHYDRIDE)
        licence(buyer, LicenceKind.PURCHASE_LICENCE, EPHEDRINE)

    def test_category_3_outbound_without_filing_number_fires(self, seller, buyer):
        e = entry(seller, SULPHURIC, Direction.OUT, "100", D, counterparty=buyer)
        reconcile()
        [d] = found(codes.TRANSPORT_UNPERMITTED)
        assert d.enterprise == seller and entry_ids(d) == {e.pk} and d.details["missing_number"] == 1

    def test_category_3_outbound_with_the_senders_valid_filing_is_clean(self, seller, buyer):
        filing = licence(seller, LicenceKind.TRANSPORT_FILING, SULPHURIC, valid_until=D)
        entry(seller, SULPHURIC, Direction.OUT, "100", D, counterparty=buyer, transport_permit_number=filing.number)
        entry(buyer, SULPHURIC, Direction.IN, "100", D, counterparty=seller, transport_permit_number=filing.number)
        reconcile()
        assert not found(codes.TRANSPORT_UNPERMITTED)

    def test_number_of_an_expired_permit_fires(self, seller, buyer):
        filing = licence(seller, LicenceKind.TRANSPORT_FILING, SULPHURIC, valid_until=D - timedelta(days=1))
        entry(seller, SULPHURIC, Direction.OUT, "100", D, counterparty=buyer, transport_permit_number=filing.number)
        reconcile()
        [d] = found(codes.TRANSPORT_UNPERMITTED)
        assert d.details["invalid_numbers"] == [filing.number]

    def test_category_2_needs_a_licence_not_a_filing(self, seller, buyer):
        filing = licence(seller, LicenceKind.TRANSPORT_FILING, ANHYDRIDE)
        permit = licence(buyer, LicenceKind.TRANSPORT_LICENCE, ANHYDRIDE)  # held by the receiver: accepted
        bad = entry(seller, ANHYDRIDE, Direction.OUT, "50", D, counterparty=buyer,
                    transport_permit_number=filing.number)
        entry(seller, ANHYDRIDE, Direction.OUT, "50", D, counterparty=buyer, transport_permit_number=permit.number)
        reconcile()
        [d] = found(codes.TRANSPORT_UNPERMITTED)
        assert entry_ids(d) == {bad.pk}

    def test_category_1_inside_jindu_needs_no_permit_outside_does(self, seller, buyer):
        entry(seller, EPHEDRINE, Direction.OUT, "2", D, counterparty=buyer, reported_on=D)
        outside = entry(seller, EPHEDRINE, Direction.OUT, "2", D, counterparty_name="外省某药业公司",
                        permit_number="（粤）购字0001", reported_on=D)
        reconcile()
        [d] = found(codes.TRANSPORT_UNPERMITTED)
        assert entry_ids(d) == {outside.pk}


# ---------------------------------------------------------------------------------------------
# 3. Sales
# ---------------------------------------------------------------------------------------------

class TestSale:
    def test_sale_to_a_jindu_buyer_without_filing_fires(self, seller, buyer):
        e = entry(seller, ANHYDRIDE, Direction.OUT, "50", D, counterparty=buyer)
        reconcile()
        [d] = found(codes.SALE_TO_UNLICENSED)
        assert d.enterprise == seller and entry_ids(d) == {e.pk}
        assert d.details["buyer_enterprise_id"] == buyer.pk and buyer.name in d.summary

    def test_sale_to_a_buyer_whose_filing_is_valid_that_day_is_clean(self, seller, buyer):
        licence(buyer, LicenceKind.PURCHASE_FILING, ANHYDRIDE, valid_until=D)
        entry(seller, ANHYDRIDE, Direction.OUT, "50", D, counterparty=buyer)
        reconcile()
        assert not found(codes.SALE_TO_UNLICENSED)

    def test_sale_the_day_after_the_buyers_filing_ended_fires(self, seller, buyer):
        licence(buyer, LicenceKind.PURCHASE_FILING, ANHYDRIDE, valid_until=D - timedelta(days=1))
        entry(seller, ANHYDRIDE, Direction.OUT, "50", D, counterparty=buyer)
        reconcile()
        assert len(found(codes.SALE_TO_UNLICENSED)) == 1

    def test_outside_buyer_needs_a_recorded_document_number(self, seller):
        entry(seller, SULPHURIC, Direction.OUT, "50", D, counterparty_name="外省甲公司", permit_number="（粤）备0001")
        bare = entry(seller, SULPHURIC, Direction.OUT, "50", D, counterparty_name="外省乙公司")
        reconcile()
        [d] = found(codes.SALE_TO_UNLICENSED)
        assert entry_ids(d) == {bare.pk} and "外省乙公司" in d.summary

    def test_delivery_to_a_warehouse_is_not_a_sale(self, seller):
        warehouse = EnterpriseFactory(kind=EnterpriseKind.STORAGE)
        entry(seller, SULPHURIC, Direction.OUT, "50", D, counterparty=warehouse)
        reconcile()
        assert not found(codes.SALE_TO_UNLICENSED) and not found(codes.LATE_SALE_REPORT)

    def test_one_finding_per_buyer_and_month(self, seller, buyer):
        other = EnterpriseFactory()
        entry(seller, ANHYDRIDE, Direction.OUT, "5", date(2026, 3, 1), counterparty=buyer)
        entry(seller, ANHYDRIDE, Direction.OUT, "5", date(2026, 3, 2), counterparty=other)
        entry(seller, ANHYDRIDE, Direction.OUT, "5", date(2026, 3, 3), counterparty=buyer)
        reconcile()
        assert sorted(len(entry_ids(d)) for d in found(codes.SALE_TO_UNLICENSED)) == [1, 2]


# ---------------------------------------------------------------------------------------------
# 4. Cross-enterprise matching
# ---------------------------------------------------------------------------------------------

class TestMatching:
    def test_inbound_seven_days_later_matches(self, seller, buyer):
        entry(seller, SULPHURIC, Direction.OUT, "100", D, counterparty=buyer)
        entry(buyer, SULPHURIC, Direction.IN, "100", D + timedelta(days=7), counterparty=seller)
        reconcile()
        assert not found(codes.TRANSFER_NO_INBOUND) and not found(codes.TRANSFER_NO_OUTBOUND)

    def test_inbound_eight_days_later_does_not(self, seller, buyer):
        out = entry(seller, SULPHURIC, Direction.OUT, "100", D, counterparty=buyer)
        inb = entry(buyer, SULPHURIC, Direction.IN, "100", D + timedelta(days=8), counterparty=seller)
        reconcile()
        [a] = found(codes.TRANSFER_NO_INBOUND)
        [b] = found(codes.TRANSFER_NO_OUTBOUND)
        assert (a.enterprise, entry_ids(a)) == (seller, {out.pk})
        assert (b.enterprise, entry_ids(b)) == (buyer, {inb.pk})

    def test_not_reported_before_the_window_closes(self, seller, buyer):
        entry(seller, SULPHURIC, Direction.OUT, "100", D, counterparty=buyer)
        reconcile(as_of=D + timedelta(days=7))
        assert not found(codes.TRANSFER_NO_INBOUND)
        reconcile(as_of=D + timedelta(days=8))
        assert len(found(codes.TRANSFER_NO_INBOUND)) == 1

    def test_other_chemical_or_other_sender_does_not_match(self, seller, buyer):
        entry(seller, SULPHURIC, Direction.OUT, "100", D, counterparty=buyer)
        entry(buyer, ACETONE, Direction.IN, "100", D, counterparty=seller)
        entry(buyer, SULPHURIC, Direction.IN, "100", D, counterparty=EnterpriseFactory())
        reconcile()
        assert len(found(codes.TRANSFER_NO_INBOUND)) == 1

    def test_quantity_within_half_a_percent_agrees(self, seller, buyer):
        entry(seller, SULPHURIC, Direction.OUT, "1000", D, counterparty=buyer)
        entry(buyer, SULPHURIC, Direction.IN, "995", D + timedelta(days=1), counterparty=seller)
        reconcile()
        assert not found(codes.TRANSFER_QUANTITY_MISMATCH) and not found(codes.TRANSFER_NO_INBOUND)

    def test_quantity_beyond_tolerance_fires(self, seller, buyer):
        out = entry(seller, SULPHURIC, Direction.OUT, "1000", D, counterparty=buyer)
        inb = entry(buyer, SULPHURIC, Direction.IN, "994.9", D + timedelta(days=1), counterparty=seller)
        reconcile()
        [d] = found(codes.TRANSFER_QUANTITY_MISMATCH)
        assert entry_ids(d) == {out.pk, inb.pk} and d.details["tolerance_kg"] == "5.000"
        assert not found(codes.TRANSFER_NO_INBOUND) and not found(codes.TRANSFER_NO_OUTBOUND)

    def test_small_lots_use_the_one_kilogram_floor(self, seller, buyer):
        entry(seller, SULPHURIC, Direction.OUT, "20", D, counterparty=buyer)
        entry(buyer, SULPHURIC, Direction.IN, "19", D, counterparty=seller)
        entry(seller, ACETONE, Direction.OUT, "20", D, counterparty=buyer)
        entry(buyer, ACETONE, Direction.IN, "18.9", D, counterparty=seller)
        reconcile()
        [d] = found(codes.TRANSFER_QUANTITY_MISMATCH)
        assert d.chemical == chemical(ACETONE)

    def test_category_1_floor_is_ten_grams(self, seller, buyer):
        entry(seller, EPHEDRINE, Direction.OUT, "1", D, counterparty=buyer)
        entry(buyer, EPHEDRINE, Direction.IN, "0.990", D, counterparty=seller)
        reconcile()
        assert not found(codes.TRANSFER_QUANTITY_MISMATCH)
        entry(seller, EPHEDRINE, Direction.OUT, "1", D + timedelta(days=30), counterparty=buyer)
        entry(buyer, EPHEDRINE, Direction.IN, "0.989", D + timedelta(days=30), counterparty=seller)
        reconcile()
        assert len(found(codes.TRANSFER_QUANTITY_MISMATCH)) == 1


# ---------------------------------------------------------------------------------------------
# 5. Stock counts and balances
# ---------------------------------------------------------------------------------------------

def count(enterprise, name, day, qty, ledger="0"):
    return StockCount.objects.create(enterprise=enterprise, chemical=chemical(name), counted_on=day,
                                     quantity_kg=Decimal(qty), ledger_balance_kg=Decimal(ledger))


class TestStock:
    def test_count_within_tolerance_is_clean_beyond_fires(self, buyer):
        entry(buyer, SULPHURIC, Direction.IN, "100", D)
        entry(buyer, SULPHURIC, Direction.USED, "20", D + timedelta(days=1))
        entry(buyer, SULPHURIC, Direction.USED, "30", date(2026, 4, 20))  # after the counts: not counted
        count(buyer, SULPHURIC, date(2026, 4, 1), "79")  # ledger 80, tolerance 1 kg
        bad = count(buyer, SULPHURIC, date(2026, 4, 2), "78.9")
        reconcile()
        [d] = found(codes.STOCK_COUNT_MISMATCH)
        assert d.stock_count == bad and d.details["ledger_kg"] == "80.000"
        assert d.details["difference_kg"] == "-1.100"

    def test_count_uses_the_ledger_not_the_stored_balance(self, buyer):
        entry(buyer, SULPHURIC, Direction.IN, "100", D)
        count(buyer, SULPHURIC, date(2026, 4, 1), "100", ledger="60")
        reconcile()
        assert not found(codes.STOCK_COUNT_MISMATCH)

    def test_balance_going_negative_in_date_order_fires(self, buyer):
        entry(buyer, ACETONE, Direction.IN, "100", date(2026, 1, 5))
        entry(buyer, ACETONE, Direction.USED, "60", date(2026, 2, 1))
        over = entry(buyer, ACETONE, Direction.OUT, "50", date(2026, 3, 3), counterparty_name="甲", permit_number="x")
        entry(buyer, ACETONE, Direction.IN, "100", date(2026, 3, 20))
        reconcile()
        [d] = found(codes.NEGATIVE_BALANCE)
        assert d.occurred_on == date(2026, 3, 3) and entry_ids(d) == {over.pk}
        assert d.details["balance_kg"] == "-10.000"

    def test_same_day_order_does_not_matter_and_exact_zero_is_fine(self, buyer):
        entry(buyer, ACETONE, Direction.USED, "100", D)  # posted first, same day as the inbound
        entry(buyer, ACETONE, Direction.IN, "100", D)
        reconcile()
        assert not found(codes.NEGATIVE_BALANCE)

    def test_each_negative_episode_is_one_finding(self, buyer):
        entry(buyer, ACETONE, Direction.USED, "10", date(2026, 1, 5))
        entry(buyer, ACETONE, Direction.USED, "10", date(2026, 1, 6))  # still negative: same episode
        entry(buyer, ACETONE, Direction.IN, "100", date(2026, 2, 1))
        entry(buyer, ACETONE, Direction.USED, "80", date(2026, 4, 1))  # down to exactly 0
        entry(buyer, ACETONE, Direction.USED, "1", date(2026, 5, 1))
        reconcile()
        assert [d.occurred_on for d in found(codes.NEGATIVE_BALANCE)] == [date(2026, 1, 5), date(2026, 5, 1)]


# ---------------------------------------------------------------------------------------------
# 6. Unusual movements
# ---------------------------------------------------------------------------------------------

def monthly_outbound(enterprise, name, quantities, start=date(2025, 6, 1)):
    entry(enterprise, name, Direction.IN, "100000", start)
    y, m = start.year, start.month
    for q in quantities:
        entry(enterprise, name, Direction.USED, str(q), date(y, m, 15))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)


class TestUnusual:
    def test_a_spike_in_a_steady_series_is_flagged_for_review(self, buyer):
        monthly_outbound(buyer, ACETONE, [100, 110, 95, 105, 100, 98, 102, 1000])
        reconcile()
        [d] = found(codes.UNUSUAL_OUTBOUND)
        assert d.severity == DiscrepancySeverity.REVIEW and d.occurred_on == date(2026, 1, 1)
        assert d.details["method"] == "MAD" and Decimal(d.details["robust_z"]) > Decimal("3.5")
        assert len(entry_ids(d)) == 1

    def test_a_moderate_rise_is_not(self, buyer):
        # log scale: median ln 100, MAD 0.0296; 115: M = 0.6745 × 0.1398 / 0.0296 = 3.19 < 3.5
        monthly_outbound(buyer, ACETONE, [100, 103, 97, 100, 103, 97, 100, 115])
        reconcile()
        assert not found(codes.UNUSUAL_OUTBOUND)

    def test_a_high_score_below_three_times_the_usual_month_is_not(self, buyer):
        # M = 0.6745 × ln(2.9) / 0.01 ≈ 72, but 290 kg is less than three times the usual 100 kg
        monthly_outbound(buyer, ACETONE, [100, 101, 99, 100, 101, 99, 100, 290])
        reconcile()
        assert not found(codes.UNUSUAL_OUTBOUND)
        monthly_outbound(buyer, SULPHURIC, [100, 101, 99, 100, 101, 99, 100, 300])
        reconcile()
        assert len(found(codes.UNUSUAL_OUTBOUND)) == 1

    def test_an_unusually_low_month_is_not_flagged(self, buyer):
        monthly_outbound(buyer, ACETONE, [100, 110, 95, 105, 100, 98, 102, 1])
        reconcile()
        assert not found(codes.UNUSUAL_OUTBOUND)

    def test_destruction_is_not_a_movement(self, buyer):
        monthly_outbound(buyer, ACETONE, [100, 110, 95, 105, 100, 98, 102, 100])
        entry(buyer, ACETONE, Direction.DESTROYED, "5000", date(2026, 1, 20))
        reconcile()
        assert not found(codes.UNUSUAL_OUTBOUND)

    def test_too_short_a_history_is_not_scored(self, buyer):
        monthly_outbound(buyer, ACETONE, [100, 100, 100, 100, 1000])
        reconcile()
        assert not found(codes.UNUSUAL_OUTBOUND)

    def test_constant_series_falls_back_to_mean_absolute_deviation(self, buyer):
        monthly_outbound(buyer, ACETONE, [100] * 10 + [1000])
        reconcile()
        [d] = found(codes.UNUSUAL_OUTBOUND)
        assert d.details["method"] == "MeanAD"


# ---------------------------------------------------------------------------------------------
# 7. Expired lots
# ---------------------------------------------------------------------------------------------

class TestExpired:
    def test_lot_expired_yesterday_and_on_hand_fires(self, buyer):
        lot = entry(buyer, SULPHURIC, Direction.IN, "100", D, expires_on=AS_OF - timedelta(days=1))
        reconcile()
        [d] = found(codes.EXPIRED_NOT_DESTROYED)
        assert entry_ids(d) == {lot.pk} and d.details["remaining_kg"] == "100.000"

    def test_lot_expiring_today_does_not(self, buyer):
        entry(buyer, SULPHURIC, Direction.IN, "100", D, expires_on=AS_OF)
        reconcile()
        assert not found(codes.EXPIRED_NOT_DESTROYED)

    def test_first_in_first_out(self, buyer):
        old = entry(buyer, SULPHURIC, Direction.IN, "100", D, expires_on=date(2026, 5, 1))
        entry(buyer, SULPHURIC, Direction.IN, "100", D + timedelta(days=10), expires_on=date(2027, 5, 1))
        entry(buyer, SULPHURIC, Direction.USED, "60", D + timedelta(days=20))
        reconcile()
        [d] = found(codes.EXPIRED_NOT_DESTROYED)
        assert entry_ids(d) == {old.pk} and d.details["remaining_kg"] == "40.000"
        entry(buyer, SULPHURIC, Direction.DESTROYED, "40", date(2026, 6, 1))
        reconcile()
        assert not found(codes.EXPIRED_NOT_DESTROYED)
        assert Discrepancy.objects.get(pk=d.pk).still_detected is False


# ---------------------------------------------------------------------------------------------
# 8. Late reports
# ---------------------------------------------------------------------------------------------

class TestLateReport:
    @pytest.fixture(autouse=True)
    def _buyer_may_buy(self, buyer):
        licence(buyer, LicenceKind.PURCHASE_LICENCE, EPHEDRINE)
        licence(buyer, LicenceKind.PURCHASE_FILING, SULPHURIC)

    def test_category_1_reported_on_day_five_is_on_time_day_six_late(self, seller, buyer):
        entry(seller, EPHEDRINE, Direction.OUT, "1", date(2026, 3, 2), counterparty=buyer,
              reported_on=date(2026, 3, 7))
        late = entry(seller, EPHEDRINE, Direction.OUT, "1", date(2026, 4, 2), counterparty=buyer,
                     reported_on=date(2026, 4, 8))
        reconcile()
        [d] = found(codes.LATE_SALE_REPORT)
        assert entry_ids(d) == {late.pk} and d.details["max_days_to_report"] == 6

    def test_unreported_sale_is_late_only_after_its_deadline(self, seller, buyer):
        entry(seller, EPHEDRINE, Direction.OUT, "1", D, counterparty=buyer)
        reconcile(as_of=D + timedelta(days=5))
        assert not found(codes.LATE_SALE_REPORT)
        reconcile(as_of=D + timedelta(days=6))
        [d] = found(codes.LATE_SALE_REPORT)
        assert d.details["unreported"] == 1

    def test_category_3_has_thirty_days(self, seller, buyer):
        entry(seller, SULPHURIC, Direction.OUT, "100", D, counterparty=buyer, reported_on=D + timedelta(days=30))
        late = entry(seller, SULPHURIC, Direction.OUT, "100", D + timedelta(days=40), counterparty=buyer,
                     reported_on=D + timedelta(days=71))
        reconcile()
        [d] = found(codes.LATE_SALE_REPORT)
        assert entry_ids(d) == {late.pk}


# ---------------------------------------------------------------------------------------------
# Engine
# ---------------------------------------------------------------------------------------------

def keys() -> set[tuple[str, str]]:
    return set(Discrepancy.objects.filter(still_detected=True).exclude(status=DiscrepancyStatus.CLOSED)
               .values_list("rule", "fingerprint"))


class TestEngine:
    def test_rerun_does_not_duplicate(self, seller, buyer):
        entry(seller, ANHYDRIDE, Direction.OUT, "50", D, counterparty=buyer)
        first = reconcile()
        n = Discrepancy.objects.count()
        assert n >= 3 and first.raised == n and first.finished_at and first.pairs_checked == 1
        second = reconcile()
        assert Discrepancy.objects.count() == n and second.raised == 0

    def test_closed_findings_are_not_reopened(self, seller, buyer):
        entry(seller, ANHYDRIDE, Direction.OUT, "50", D, counterparty=buyer)
        reconcile()
        d = found(codes.SALE_TO_UNLICENSED)[0]
        Discrepancy.objects.filter(pk=d.pk).update(status=DiscrepancyStatus.CLOSED)
        reconcile()
        d.refresh_from_db()
        assert d.status == DiscrepancyStatus.CLOSED
        assert Discrepancy.objects.filter(rule=codes.SALE_TO_UNLICENSED).count() == 1

    def test_a_fixed_problem_is_no_longer_detected_and_comes_back_if_it_returns(self, buyer):
        e = entry(buyer, SULPHURIC, Direction.IN, "100", D, counterparty_name="甲")
        reconcile()
        [d] = found(codes.PURCHASE_UNLICENSED)
        lic = licence(buyer, LicenceKind.PURCHASE_FILING, SULPHURIC)
        reconcile()
        d.refresh_from_db()
        assert d.still_detected is False and d.status == DiscrepancyStatus.OPEN
        lic.lines.all().delete()
        reconcile()
        d.refresh_from_db()
        assert d.still_detected is True and entry_ids(d) == {e.pk}

    def test_voided_entries_are_ignored(self, seller, buyer):
        for name, direction in ((SULPHURIC, Direction.IN), (ANHYDRIDE, Direction.OUT)):
            e = entry(buyer if direction == Direction.IN else seller, name, direction, "100", D,
                      counterparty=seller if direction == Direction.IN else buyer, expires_on=D)
            LedgerEntry.objects.filter(pk=e.pk).update(voided_at=timezone.now(), void_reason="录入错误")
        # A write bypassing the ORM: the monthly summary is repaired with its rebuild tool.
        rebuild_ledger_months()
        reconcile()
        assert not Discrepancy.objects.exists()

    def test_entries_after_as_of_are_ignored(self, buyer):
        entry(buyer, SULPHURIC, Direction.IN, "100", AS_OF + timedelta(days=1), counterparty_name="甲")
        reconcile()
        assert not Discrepancy.objects.exists()

    def test_incremental_checks_only_touched_pairs_and_agrees_with_full(self, seller, buyer):
        third = EnterpriseFactory()
        entry(third, SULPHURIC, Direction.IN, "100", D, counterparty_name="甲")
        entry(seller, ANHYDRIDE, Direction.OUT, "50", D, counterparty=buyer)
        reconcile()
        before = {d.pk: d.history.count() for d in Discrepancy.objects.all()}
        # New: an inbound at the buyer matching the seller's outbound (both pairs touched),
        # and a new unlicensed purchase at the third enterprise.
        entry(buyer, ANHYDRIDE, Direction.IN, "50", D + timedelta(days=1), counterparty=seller)
        new = entry(third, ACETONE, Direction.IN, "5", D, counterparty_name="乙")
        run = reconcile(mode="incremental")
        assert run.mode == "incremental" and run.pairs_checked == 3
        assert not found(codes.TRANSFER_NO_INBOUND)
        assert any(entry_ids(d) == {new.pk} for d in found(codes.PURCHASE_UNLICENSED))
        # The untouched pair's finding was not rewritten.
        untouched = Discrepancy.objects.get(rule=codes.PURCHASE_UNLICENSED, chemical=chemical(SULPHURIC))
        assert untouched.history.count() == before[untouched.pk] and untouched.still_detected
        incremental = keys()
        reconcile(mode="full")
        assert keys() == incremental

    def test_incremental_matching_rejudges_from_the_new_entrys_day(self, seller, buyer):
        """Matching is one finding per entry: a new entry re-judges the transfers within its
        window on both sides, not the whole month of a busy pair (and does not clear what
        it did not re-judge)."""
        early = entry(seller, ANHYDRIDE, Direction.OUT, "50", date(2026, 3, 2), counterparty=buyer)
        reconcile()
        [missing] = found(codes.TRANSFER_NO_INBOUND)
        assert entry_ids(missing) == {early.pk}
        history = missing.history.count()
        # Later in March: the buyer books a delivery of the 20th, and the seller its outbound.
        entry(seller, ANHYDRIDE, Direction.OUT, "30", date(2026, 3, 20), counterparty=buyer)
        entry(buyer, ANHYDRIDE, Direction.IN, "30", date(2026, 3, 21), counterparty=seller)
        run = reconcile(mode="incremental")
        assert run.pairs_checked == 2
        [still] = found(codes.TRANSFER_NO_INBOUND)
        assert still.pk == missing.pk and still.history.count() == history  # not re-judged, not cleared
        assert not found(codes.TRANSFER_NO_OUTBOUND)  # the new inbound found its outbound
        # An inbound back-dated into the early outbound's window: the outbound is matched now.
        entry(buyer, ANHYDRIDE, Direction.IN, "50", date(2026, 3, 4), counterparty=seller)
        reconcile(mode="incremental")
        assert not found(codes.TRANSFER_NO_INBOUND)
        incremental = keys()
        reconcile(mode="full")
        assert keys() == incremental

    def test_incremental_leaves_a_month_alone_when_its_new_entries_are_clean(self, buyer):
        """A covered purchase posted into a month where the same pair already has a finding
        (purchases after its filing lapsed) leaves that finding as it was: the month is not
        re-judged, and not found "no longer detected" either."""
        licence(buyer, LicenceKind.PURCHASE_FILING, SULPHURIC, valid_until=D + timedelta(days=2))
        late = entry(buyer, SULPHURIC, Direction.IN, "100", D + timedelta(days=5), counterparty_name="甲")
        reconcile()
        [finding] = found(codes.PURCHASE_AFTER_EXPIRY)
        history = finding.history.count()
        entry(buyer, SULPHURIC, Direction.IN, "40", D + timedelta(days=1), counterparty_name="甲")  # covered
        run = reconcile(mode="incremental")
        assert run.pairs_checked == 1
        [same] = found(codes.PURCHASE_AFTER_EXPIRY)
        assert same.pk == finding.pk and same.history.count() == history and entry_ids(same) == {late.pk}
        # A second purchase after the lapse in that month: the month is read again, whole.
        again = entry(buyer, SULPHURIC, Direction.IN, "70", D + timedelta(days=9), counterparty_name="甲")
        reconcile(mode="incremental")
        [month] = found(codes.PURCHASE_AFTER_EXPIRY)
        assert month.pk == finding.pk and entry_ids(month) == {late.pk, again.pk} and month.details["entries"] == 2
        incremental = {(d.rule, d.fingerprint, d.summary) for d in found(codes.PURCHASE_AFTER_EXPIRY)}
        reconcile(mode="full")
        assert {(d.rule, d.fingerprint, d.summary) for d in found(codes.PURCHASE_AFTER_EXPIRY)} == incremental

    def test_incremental_leaves_the_other_sides_history_rules_alone(self, seller, buyer):
        """A transfer to the buyer touches the buyer's pair for matching only: its own
        entries and months did not change, so the rules over its whole history (here its
        negative balance) are not judged again — the finding stays as it was, neither
        rewritten nor found "no longer detected"."""
        entry(buyer, ANHYDRIDE, Direction.USED, "20", D)
        entry(seller, ANHYDRIDE, Direction.IN, "80", D, counterparty_name="甲")
        reconcile()
        [negative] = found(codes.NEGATIVE_BALANCE)
        history = negative.history.count()
        sale = entry(seller, ANHYDRIDE, Direction.OUT, "50", D + timedelta(days=3), counterparty=buyer)
        run = reconcile(mode="incremental")
        assert run.pairs_checked == 2
        [same] = found(codes.NEGATIVE_BALANCE)
        assert same.pk == negative.pk and same.still_detected and same.history.count() == history
        assert any(entry_ids(d) == {sale.pk} for d in found(codes.TRANSFER_NO_INBOUND))
        incremental = keys()
        reconcile(mode="full")
        assert keys() == incremental

    def test_incremental_run_keeps_older_months_and_completes_the_touched_month(self, buyer):
        # Unlicensed purchases of one pair in January and in March; a new one in March.
        entry(buyer, ACETONE, Direction.IN, "5", date(2026, 1, 12), counterparty_name="甲")
        entry(buyer, ACETONE, Direction.IN, "5", D, counterparty_name="甲")
        reconcile()
        new = entry(buyer, ACETONE, Direction.IN, "7", D + timedelta(days=5), counterparty_name="甲")
        reconcile(mode="incremental")
        by_month = {d.fingerprint[-7:]: d for d in found(codes.PURCHASE_UNLICENSED)}
        # January was not re-read, and is still detected; March counts both of its entries.
        assert set(by_month) == {"2026-01", "2026-03"}
        assert by_month["2026-03"].details["entries"] == 2 and new.pk in entry_ids(by_month["2026-03"])
        incremental = {(d.rule, d.fingerprint, d.summary) for d in found(codes.PURCHASE_UNLICENSED)}
        reconcile(mode="full")
        assert {(d.rule, d.fingerprint, d.summary) for d in found(codes.PURCHASE_UNLICENSED)} == incremental

    def test_incremental_sees_a_voided_entry_and_its_other_side(self, seller, buyer):
        from jindu.core.testing import grant, make_user
        from jindu.precursors import services

        licence(buyer, LicenceKind.PURCHASE_FILING, SULPHURIC)
        wrong = entry(buyer, SULPHURIC, Direction.IN, "100", D, counterparty=seller)  # seller never shipped
        bad = entry(buyer, ACETONE, Direction.IN, "100", D, counterparty_name="甲")  # no filing for acetone
        reconcile()
        assert found(codes.PURCHASE_UNLICENSED) and found(codes.TRANSFER_NO_OUTBOUND)
        regulator = make_user()
        grant(regulator, "regulator", "460106")
        services.void_entry(user=regulator, entry=bad, reason="重复录入")
        services.void_entry(user=regulator, entry=wrong, reason="录错供货单位")
        run = reconcile(mode="incremental")
        assert run.pairs_checked == 3  # the buyer's two pairs, and the seller's through the voided entry
        assert not found(codes.PURCHASE_UNLICENSED) and not found(codes.TRANSFER_NO_OUTBOUND)

    def test_incremental_sees_a_new_licence_of_the_buyer(self, seller, buyer):
        entry(seller, ANHYDRIDE, Direction.OUT, "50", D, counterparty=buyer)
        reconcile()
        assert found(codes.SALE_TO_UNLICENSED)
        licence(buyer, LicenceKind.PURCHASE_FILING, ANHYDRIDE)
        reconcile(mode="incremental")
        assert not found(codes.SALE_TO_UNLICENSED)

    def test_first_incremental_run_is_full(self, buyer):
        entry(buyer, SULPHURIC, Direction.IN, "100", D, counterparty_name="甲")
        run = reconcile(mode="incremental")
        assert run.mode == "full" and found(codes.PURCHASE_UNLICENSED)

    def test_run_is_audited_and_counted(self, buyer):
        from jindu.core.models import AuditEvent

        entry(buyer, SULPHURIC, Direction.IN, "100", D, counterparty_name="甲")
        run = reconcile()
        event = AuditEvent.objects.get(action="precursors.reconciliation_run")
        assert event.target_id == str(run.pk) and event.changes["created"] == run.raised
        assert run.stats["findings"][codes.PURCHASE_UNLICENSED] == 1
        d = found(codes.PURCHASE_UNLICENSED)[0]
        assert d.detected_by_run == run


class TestIncrementalHistoryRules:
    """The rules over a pair's whole history in an incremental run: ``recon_month`` holds the
    touched pairs' months from their ``since_day``; the earlier months come from the
    summary, and the statistical screen's pre-test and the expired-lot totals from the
    per-pair figures (``LedgerPair``) — what they find equals a full run."""

    def test_a_spike_posted_today_is_found_and_agrees_with_full(self, buyer):
        monthly_outbound(buyer, ACETONE, [100, 110, 95, 105, 100, 98, 102])  # June to December 2025
        as_of = date(2026, 1, 31)
        reconcile(as_of=as_of)
        assert not found(codes.UNUSUAL_OUTBOUND)
        entry(buyer, ACETONE, Direction.USED, "1000", date(2026, 1, 20))
        reconcile(as_of=as_of, mode="incremental")
        [d] = found(codes.UNUSUAL_OUTBOUND)
        assert d.occurred_on == date(2026, 1, 1) and d.details["months"] == 8
        incremental = keys()
        reconcile(as_of=as_of)
        assert keys() == incremental

    def test_an_inbound_leaves_the_screen_and_a_later_outbound_can_clear_it(self, buyer):
        monthly_outbound(buyer, ACETONE, [100, 110, 95, 105, 100, 98, 102, 1000])  # the spike in January
        as_of = date(2026, 2, 28)
        reconcile(as_of=as_of)
        [d] = found(codes.UNUSUAL_OUTBOUND)
        history = d.history.count()
        entry(buyer, ACETONE, Direction.IN, "500", date(2026, 2, 3))
        reconcile(as_of=as_of, mode="incremental")
        [same] = found(codes.UNUSUAL_OUTBOUND)
        assert same.pk == d.pk and same.history.count() == history
        # Enough months as large as January: it is not unusual any more.
        for day in (4, 5, 6, 7, 8, 9, 10, 11):
            entry(buyer, ACETONE, Direction.USED, "1000", date(2025, day, 20))
        reconcile(as_of=as_of, mode="incremental")
        assert not found(codes.UNUSUAL_OUTBOUND)
        assert Discrepancy.objects.get(pk=d.pk).still_detected is False
        incremental = keys()
        reconcile(as_of=as_of)
        assert keys() == incremental

    def test_entries_after_as_of_are_left_out_of_the_pairs_figures(self, buyer):
        """A pair with entries dated after the reconciliation date is judged from its months
        up to it (its per-pair figures include the later ones)."""
        monthly_outbound(buyer, ACETONE, [100, 110, 95, 105, 100, 98, 102])
        lot = entry(buyer, SULPHURIC, Direction.IN, "100", date(2025, 12, 1), expires_on=date(2026, 1, 10))
        as_of = date(2026, 1, 31)
        reconcile(as_of=as_of)
        assert found(codes.EXPIRED_NOT_DESTROYED)
        entry(buyer, ACETONE, Direction.USED, "1000", date(2026, 1, 20))
        entry(buyer, SULPHURIC, Direction.IN, "5", date(2026, 1, 25), expires_on=date(2027, 1, 1))
        # Later than as_of: months that would make January ordinary if they counted, and the
        # expired lot used up.
        for m in (2, 3, 4, 5, 6, 7, 8, 9):
            entry(buyer, ACETONE, Direction.USED, "1000", date(2026, m, 10))
        entry(buyer, SULPHURIC, Direction.USED, "100", date(2026, 3, 1))
        reconcile(as_of=as_of, mode="incremental")
        assert [d.occurred_on for d in found(codes.UNUSUAL_OUTBOUND)] == [date(2026, 1, 1)]
        [expired] = found(codes.EXPIRED_NOT_DESTROYED)
        assert entry_ids(expired) == {lot.pk} and expired.details["remaining_kg"] == "100.000"
        incremental = keys()
        reconcile(as_of=as_of)
        assert keys() == incremental

    def test_an_earlier_negative_episode_stays_and_a_new_one_is_found(self, buyer):
        entry(buyer, ACETONE, Direction.USED, "10", date(2026, 1, 5))  # negative in January
        entry(buyer, ACETONE, Direction.IN, "100", date(2026, 2, 1))
        reconcile()
        [january] = found(codes.NEGATIVE_BALANCE)
        history = january.history.count()
        over = entry(buyer, ACETONE, Direction.USED, "95", date(2026, 5, 4))  # 90 on hand
        reconcile(mode="incremental")
        by_day = {d.occurred_on: d for d in found(codes.NEGATIVE_BALANCE)}
        assert set(by_day) == {date(2026, 1, 5), date(2026, 5, 4)} and entry_ids(by_day[date(2026, 5, 4)]) == {over.pk}
        assert by_day[date(2026, 1, 5)].pk == january.pk and january.history.count() == history
        incremental = keys()
        reconcile()
        assert keys() == incremental

    def test_an_expired_lot_used_up_is_no_longer_detected(self, buyer):
        entry(buyer, SULPHURIC, Direction.IN, "100", D, expires_on=date(2026, 5, 1))
        entry(buyer, SULPHURIC, Direction.IN, "100", D + timedelta(days=10), expires_on=date(2027, 5, 1))
        reconcile()
        [d] = found(codes.EXPIRED_NOT_DESTROYED)
        entry(buyer, SULPHURIC, Direction.USED, "60", date(2026, 6, 2))
        reconcile(mode="incremental")
        [same] = found(codes.EXPIRED_NOT_DESTROYED)
        assert same.pk == d.pk and same.details["remaining_kg"] == "40.000"
        entry(buyer, SULPHURIC, Direction.DESTROYED, "40", date(2026, 6, 3))
        reconcile(mode="incremental")
        assert not found(codes.EXPIRED_NOT_DESTROYED)
        incremental = keys()
        reconcile()
        assert keys() == incremental


    def test_a_stock_count_leaves_the_ledger_history_rules_alone(self, buyer):
        """Counts and licences change no balance, lot or monthly movement: a pair touched
        only by a stock count has its count judged, not its history read again."""
        monthly_outbound(buyer, ACETONE, [100, 110, 95, 105, 100, 98, 102, 1000])
        entry(buyer, ACETONE, Direction.USED, "200000", date(2026, 2, 2))  # goes negative
        as_of = date(2026, 2, 28)
        reconcile(as_of=as_of)
        before = {d.pk: d.history.count() for d in Discrepancy.objects.all()}
        assert found(codes.UNUSUAL_OUTBOUND) and found(codes.NEGATIVE_BALANCE)
        count(buyer, ACETONE, date(2026, 2, 27), "5")
        reconcile(as_of=as_of, mode="incremental")
        [mismatch] = found(codes.STOCK_COUNT_MISMATCH)
        assert {d.pk: d.history.count() for d in Discrepancy.objects.exclude(pk=mismatch.pk)} == before
        incremental = keys()
        reconcile(as_of=as_of)
        assert keys() == incremental

    def test_an_episode_after_as_of_is_cleared_as_in_a_full_run(self, buyer):
        """A run for an earlier date than the last: the episode dated after it was re-judged
        (the month of as_of on), so it is found no longer detected, as a full run finds."""
        entry(buyer, ACETONE, Direction.IN, "100", date(2026, 1, 5), counterparty_name="甲")
        entry(buyer, ACETONE, Direction.USED, "150", date(2026, 5, 5))  # negative on 5 May
        reconcile(as_of=date(2026, 6, 30))
        [d] = found(codes.NEGATIVE_BALANCE)
        entry(buyer, ACETONE, Direction.IN, "100", date(2026, 6, 10), counterparty_name="甲")
        reconcile(as_of=date(2026, 3, 31), mode="incremental")
        assert Discrepancy.objects.get(pk=d.pk).still_detected is False

    def test_a_posting_during_a_run_for_a_past_date_does_not_lose_the_pair(self, buyer, monkeypatch):
        """Another session posts an entry dated after as_of while the run is under way: the
        pair's figures and its months are read once, so it is judged either way."""
        from jindu.precursors.reconciliation import engine

        monthly_outbound(buyer, ACETONE, [100] * 8 + [1000], start=date(2025, 1, 1))  # spike in September
        as_of = date(2025, 10, 31)
        reconcile(as_of=as_of)
        [d] = found(codes.UNUSUAL_OUTBOUND)
        entry(buyer, ACETONE, Direction.IN, "5", date(2025, 10, 3))  # touches the pair, not its movements
        build_pass = engine._build_pass

        def posting_meanwhile(ctx):
            entry(buyer, ACETONE, Direction.USED, "5", date(2025, 12, 3))
            return build_pass(ctx)

        monkeypatch.setattr(engine, "_build_pass", posting_meanwhile)
        reconcile(as_of=as_of, mode="incremental")
        assert Discrepancy.objects.get(pk=d.pk).still_detected is True

    def test_every_rule_is_rejudged_by_exactly_one_scope_day(self):
        from jindu.precursors.reconciliation import engine

        groups = (engine.MATCHING_RULES, engine.MONTHLY_RULES, engine.COUNT_RULES, engine.BALANCE_RULES,
                  engine.LICENCE_HISTORY_RULES, engine.LEDGER_HISTORY_RULES)
        assert sum(len(g) for g in groups) == len(RULES) and set().union(*groups) == set(RULES)


def test_planner_settings_do_not_hide_a_failing_statement():
    """(PostgreSQL) A statement failing inside ``Context.planner_off`` in a transaction is the
    error raised — not the aborted transaction's refusal of the settings' reset."""
    from django.db import DatabaseError, transaction

    from jindu.precursors.reconciliation.base import Context

    ctx = Context(as_of=AS_OF)
    with pytest.raises(DatabaseError) as info:
        with transaction.atomic(), ctx.planner_off("hashjoin", "mergejoin"):
            ctx.execute("SELECT * FROM recon_no_such_table")
    assert "recon_no_such_table" in str(info.value)


class TestCommandAndJob:
    def test_management_command_full_then_incremental(self, buyer, capsys):
        from django.core.management import call_command

        entry(buyer, SULPHURIC, Direction.IN, "100", D, counterparty_name="甲")
        call_command("reconcile_precursors", "--as-of", AS_OF.isoformat())
        out = capsys.readouterr().out
        assert "reconciliation full as of 2026-06-30: 1 pairs checked" in out
        assert f"{codes.PURCHASE_UNLICENSED}: 1" in out
        entry(buyer, ACETONE, Direction.IN, "100", D, counterparty_name="甲")
        call_command("reconcile_precursors", "--incremental", "--as-of", AS_OF.isoformat())
        out = capsys.readouterr().out
        assert "reconciliation incremental as of 2026-06-30: 1 pairs checked" in out
        assert len(found(codes.PURCHASE_UNLICENSED)) == 2

    def test_management_command_refuses_a_bad_date(self):
        from django.core.management import CommandError, call_command

        with pytest.raises(CommandError):
            call_command("reconcile_precursors", "--as-of", "2026-13-01")

    def test_job_records_its_result(self, buyer):
        from jindu.core.models import Job
        from jindu.precursors.tasks import KIND, reconcile as reconcile_job

        entry(buyer, SULPHURIC, Direction.IN, "100", D, counterparty_name="甲")
        job = Job.objects.create(kind=KIND, title="闭环核对", params={"mode": "full", "as_of": AS_OF.isoformat()})
        reconcile_job.call(job.pk)
        job.refresh_from_db()
        assert job.status == Job.Status.SUCCEEDED
        assert job.result["raised"] == 1 and job.result["findings"] == {codes.PURCHASE_UNLICENSED: 1}
        assert [str(RULES[codes.PURCHASE_UNLICENSED].title), 1] in job.result["summary"]
        run = ReconciliationRun.objects.get(pk=job.result["run"])
        assert run.finished_at and run.as_of == AS_OF

    def test_job_refuses_a_bad_mode(self):
        from jindu.core.jobs import JobError
        from jindu.core.models import Job
        from jindu.precursors.tasks import KIND, reconcile as reconcile_job

        job = Job.objects.create(kind=KIND, title="闭环核对", params={"mode": "sometimes"})
        with pytest.raises(JobError):
            reconcile_job.call(job.pk)
        job.refresh_from_db()
        assert job.status == Job.Status.FAILED and "mode" in job.message


# ---------------------------------------------------------------------------------------------
# The shared ledger pass
# ---------------------------------------------------------------------------------------------

class TestLedgerPass:
    """The entry-level rules share one pass over the ledger: an entry several rules flag is
    found by each of them; an entry several documents or other-side entries match is still
    one entry."""

    def test_one_sale_offending_four_rules_is_found_by_each(self, seller, buyer):
        # Category 2, no transport number, buyer without a filing, never reported, never received.
        e = entry(seller, ANHYDRIDE, Direction.OUT, "50", D, counterparty=buyer)
        reconcile()
        for code in (codes.SALE_TO_UNLICENSED, codes.LATE_SALE_REPORT, codes.TRANSPORT_UNPERMITTED,
                     codes.TRANSFER_NO_INBOUND):
            [d] = found(code)
            assert entry_ids(d) == {e.pk}, code
            assert d.details.get("entries", 1) == 1, code

    def test_an_entry_matched_by_several_documents_and_deliveries_counts_once(self, seller, buyer):
        licence(buyer, LicenceKind.PURCHASE_FILING, SULPHURIC)
        licence(buyer, LicenceKind.PURCHASE_LICENCE, SULPHURIC)
        out = entry(seller, SULPHURIC, Direction.OUT, "100", D, counterparty=buyer)  # unreported, no transport number
        entry(buyer, SULPHURIC, Direction.IN, "100", D, counterparty=seller)
        entry(buyer, SULPHURIC, Direction.IN, "100", D + timedelta(days=1), counterparty=seller)
        reconcile()
        assert not found(codes.SALE_TO_UNLICENSED) and not found(codes.TRANSFER_NO_INBOUND)
        assert not found(codes.PURCHASE_UNLICENSED)
        for code in (codes.LATE_SALE_REPORT, codes.TRANSPORT_UNPERMITTED):
            [d] = found(code)
            assert entry_ids(d) == {out.pk} and d.details["entries"] == 1, code
        assert Decimal(found(codes.TRANSPORT_UNPERMITTED)[0].details["quantity_kg"]) == 100
