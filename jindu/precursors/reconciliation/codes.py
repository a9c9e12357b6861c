"""Stable codes of the reconciliation rules (stored in ``Discrepancy.rule``; the demo, the
bench and the pages refer to them). Never rename one: add a new code instead."""

PURCHASE_UNLICENSED = "purchase_unlicensed"
PURCHASE_AFTER_EXPIRY = "purchase_after_expiry"
PURCHASE_OVER_LIMIT = "purchase_over_limit"
TRANSPORT_UNPERMITTED = "transport_unpermitted"
SALE_TO_UNLICENSED = "sale_to_unlicensed"
TRANSFER_NO_INBOUND = "transfer_no_inbound"
TRANSFER_NO_OUTBOUND = "transfer_no_outbound"
TRANSFER_QUANTITY_MISMATCH = "transfer_quantity_mismatch"
STOCK_COUNT_MISMATCH = "stock_count_mismatch"
NEGATIVE_BALANCE = "negative_balance"
UNUSUAL_OUTBOUND = "unusual_outbound"
EXPIRED_NOT_DESTROYED = "expired_not_destroyed"
LATE_SALE_REPORT = "late_sale_report"

ALL_CODES = (
    PURCHASE_UNLICENSED, PURCHASE_AFTER_EXPIRY, PURCHASE_OVER_LIMIT, TRANSPORT_UNPERMITTED, SALE_TO_UNLICENSED,
    TRANSFER_NO_INBOUND, TRANSFER_NO_OUTBOUND, TRANSFER_QUANTITY_MISMATCH, STOCK_COUNT_MISMATCH, NEGATIVE_BALANCE,
    UNUSUAL_OUTBOUND, EXPIRED_NOT_DESTROYED, LATE_SALE_REPORT,
)
