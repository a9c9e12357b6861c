"""The reconciliation rules: for each, a case that fires and a near miss that does not.
(The engine — re-runs, closed findings, incremental runs, the shared ledger pass — is
tested in ``test_reconciliation_engine``.)"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from jindu.precursors.choices import Direction, DiscrepancySeverity, EnterpriseKind, LicenceKind, LicenceStatus
from jindu.precursors.models import Discrepancy
from jindu.precursors.reconciliation import RULES, codes
from jindu.precursors.tests.factories import EnterpriseFactory, chemical, entry
from jindu.precursors.tests.reconciliation_helpers import (
    ACETONE,
    ANHYDRIDE,
    AS_OF,
    EPHEDRINE,
    SULPHURIC,
    D,
    count,
    entry_ids,
    found,
    licence,
    monthly_outbound,
    reconcile,
)

pytestmark = pytest.mark.django_db



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
