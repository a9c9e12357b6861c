"""Rules on sales: to a buyer without a purchase document (arts. 14, 17, 18), and sales
not reported to the police in time (art. 19).

A *sale* is an ``out`` entry that is not a custody transfer (see
:meth:`~jindu.precursors.reconciliation.base.Context.custody_sql`). Both rules come from
the engine's shared pass over the ledger (:func:`sale_check`: a hash left join to the
buyers' purchase documents on (buyer, chemical); :func:`late_report_check`: the
report-date test on the row itself); :func:`sales` groups the flagged sales.
"""

from __future__ import annotations

import hashlib
from typing import Iterator

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from jindu.precursors.reconciliation import codes
from jindu.precursors.reconciliation.base import (
    PASS_TABLE,
    Context,
    Finding,
    LedgerCheck,
    MonthlyGrouper,
    evidence,
    kg_str,
    ledger_check,
    month_fp,
    month_label,
    rule,
    to_date,
    to_kg,
)
from jindu.precursors.reconciliation.licensing import doc_name, document_join
from jindu.precursors.rules import PURCHASE, REPORT_DEADLINE_DAYS


def _party_fp(party: str) -> str:
    """The buyer part of a fingerprint: ``p<id>`` for a Jindu enterprise, else a short hash
    of the outside party's credit code (or name)."""
    if party.startswith("p"):
        return party
    return "x" + hashlib.sha1(party.encode()).hexdigest()[:12]


# Row layout of the pass below.
ENT, CHEM, PARTY, CP_ID, CP_NAME, CP_CODE, DAY, ID, QTY, REPORTED, BUYER, UNCOVERED, LATE = range(13)


def _sale(ctx: Context, test: str) -> str:
    """SQL: entry ``e`` is a sale and ``test`` holds. The custody test comes last: every
    outbound of the ledger is evaluated, the custody lists only for the few that fail
    ``test`` (the conjuncts inside the pass's ``OR`` run in the order written)."""
    return f"(e.direction = 'out' AND ({test}) AND NOT {ctx.custody_sql('e')})"


@ledger_check("sale_uncovered")
def sale_check(ctx: Context) -> LedgerCheck:
    """The entry test of ``sale_to_unlicensed`` (:func:`sales`), in the shared ledger pass:
    a sale to a Jindu buyer none of whose purchase documents covers it, or to no named
    Jindu buyer with no buyer's document number recorded (the buyer's purchase documents:
    :func:`~jindu.precursors.reconciliation.licensing.document_join`, shared with the
    purchase check: a hash join on holder and chemical)."""
    return LedgerCheck("sale_uncovered", joins=(document_join(ctx),), condition=(
        _sale(ctx, "(e.counterparty_id IS NOT NULL AND e.counterparty_id <> e.enterprise_id "
                   "AND dc.licence_id IS NULL) OR (e.counterparty_id IS NULL AND e.permit_number = '')")))


@ledger_check("sale_late")
def late_report_check(ctx: Context) -> LedgerCheck:
    """The entry test of ``late_sale_report`` (:func:`sales`), in the shared ledger pass: a
    sale reported after its last day, or still unreported once that day has passed."""
    days = (f"(CASE {ctx.category_sql('e')} WHEN 1 THEN {REPORT_DEADLINE_DAYS[1]} "
            f"WHEN 2 THEN {REPORT_DEADLINE_DAYS[2]} ELSE {REPORT_DEADLINE_DAYS[3]} END)")
    deadline = ctx.add_days("e.occurred_on", days)
    return LedgerCheck("sale_late", condition=_sale(
        ctx, f"(e.reported_on IS NULL AND {deadline} < {ctx.as_of_sql}) OR e.reported_on > {deadline}"))


@rule(codes.SALE_TO_UNLICENSED, title=_lazy("向无购买许可或备案单位销售"),
      basis=_lazy("《易制毒化学品管理条例》第十四条、第十七条、第十八条"))
@rule(codes.LATE_SALE_REPORT, title=_lazy("销售情况未按期报告"),
      basis=_lazy("《易制毒化学品管理条例》第十九条：第一类5日内、第二类和第三类30日内报当地公安机关备案"))
def sales(ctx: Context) -> Iterator[Finding]:
    """``sale_to_unlicensed``: a sale to a buyer without a purchase document for the
    chemical on the sale date. A buyer registered in Jindu must hold a covering purchase
    licence (Category 1, arts. 14, 18: the seller checks it) or filing (Categories 2/3,
    art. 17). A buyer outside Jindu cannot be checked here, so the entry must at least
    record the buyer's document number (``permit_number``); an ``out`` naming no buyer at
    all is a sale to an unknown party. One finding per seller × chemical × buyer × month;
    fingerprint ``e<seller>:c<chemical>:<buyer key>:<YYYY-MM>`` (buyer key ``p<id>``, or a
    hash of the outside party's credit code or name). Entry test: :func:`sale_check`.

    ``late_sale_report``: the last day to report is the sale date plus 5 (Category 1) or
    30 days (the starting day not counted, Civil Code art. 201); a sale is late when
    ``reported_on`` is after that day, or when it is still unreported after that day on
    the reconciliation date — a sale whose deadline has not passed is not reported. One
    finding per seller × chemical × month of sale; fingerprint
    ``e<enterprise>:c<chemical>:<YYYY-MM>``; details count unreported and late sales.
    Entry test: :func:`late_report_check`.
    """
    party = ("(CASE WHEN s.counterparty_id IS NOT NULL THEN 'p' || CAST(s.counterparty_id AS text) "
             "WHEN s.counterparty_credit_code <> '' THEN 'c' || s.counterparty_credit_code "
             "ELSE 'n' || s.counterparty_name END)")
    # The flagged sales from the shared ledger pass, sorted by seller, chemical, month,
    # buyer, date: each (seller, chemical, month) and each (seller, chemical, buyer, month)
    # is contiguous.
    sql = f"""
        SELECT s.enterprise_id, s.chemical_id, {party} AS party, s.counterparty_id, s.counterparty_name,
               s.counterparty_credit_code, s.occurred_on, s.id, s.quantity_kg, s.reported_on, b.name,
               s.sale_uncovered, s.sale_late
        FROM {PASS_TABLE} s LEFT JOIN precursors_enterprise b ON b.id = s.counterparty_id
        WHERE s.sale_uncovered = 1 OR s.sale_late = 1
        ORDER BY s.enterprise_id, s.chemical_id, {ctx.month_of('s.occurred_on')}, party, s.occurred_on, s.id
    """
    unlicensed = MonthlyGrouper(key=lambda r: (r[ENT], r[CHEM], r[PARTY]), day=lambda r: r[DAY],
                                accept=lambda r: bool(r[UNCOVERED]))
    unreported = MonthlyGrouper(key=lambda r: (r[ENT], r[CHEM]), day=lambda r: r[DAY], accept=lambda r: bool(r[LATE]))
    for row in ctx.rows(sql):
        for grouper, make in ((unlicensed, _sale_finding), (unreported, _late_finding)):
            done = grouper.add(row)
            if done:
                yield make(ctx, *done)
    for grouper, make in ((unlicensed, _sale_finding), (unreported, _late_finding)):
        done = grouper.close()
        if done:
            yield make(ctx, *done)


def _sale_finding(ctx: Context, key: tuple, day, bucket: list[tuple]) -> Finding:
    ent, chem, party = key
    first = bucket[0]
    buyer = first[BUYER] or first[CP_NAME] or first[CP_CODE] or _("未记录购买方")
    category = ctx.category(chem)
    total = sum((to_kg(r[QTY]) for r in bucket), start=to_kg(0))
    params = {"month": month_label(day), "buyer": buyer, "chemical": ctx.chemical_name(chem),
              "n": len(bucket), "qty": kg_str(total), "doc": doc_name(PURCHASE, category)}
    if first[CP_ID]:
        summary = _("%(month)s向%(buyer)s销售%(chemical)s %(n)s笔共%(qty)s千克，购买方未持有有效的%(doc)s") % params
    else:
        summary = _("%(month)s向%(buyer)s销售%(chemical)s %(n)s笔共%(qty)s千克，未记录购买方%(doc)s编号") % params
    return Finding(
        rule=codes.SALE_TO_UNLICENSED, fingerprint=f"e{ent}:c{chem}:{_party_fp(party)}:{month_fp(day)}",
        enterprise_id=ent, chemical_id=chem, occurred_on=day, summary=summary,
        details={"entries": len(bucket), "quantity_kg": str(total), "category": category,
                 "buyer_enterprise_id": first[CP_ID], "buyer": buyer, "buyer_in_jindu": bool(first[CP_ID])},
        entry_ids=evidence(r[ID] for r in bucket))


def _late_finding(ctx: Context, key: tuple, day, bucket: list[tuple]) -> Finding:
    ent, chem = key
    category = ctx.category(chem)
    days = REPORT_DEADLINE_DAYS[category]
    unreported = sum(1 for r in bucket if r[REPORTED] is None)
    total = sum((to_kg(r[QTY]) for r in bucket), start=to_kg(0))
    delays = [(to_date(r[REPORTED]) - to_date(r[DAY])).days for r in bucket if r[REPORTED] is not None]
    return Finding(
        rule=codes.LATE_SALE_REPORT, fingerprint=f"e{ent}:c{chem}:{month_fp(day)}", enterprise_id=ent,
        chemical_id=chem, occurred_on=day, entry_ids=evidence(r[ID] for r in bucket),
        details={"entries": len(bucket), "unreported": unreported, "reported_late": len(bucket) - unreported,
                 "deadline_days": days, "max_days_to_report": max(delays) if delays else None,
                 "quantity_kg": str(total)},
        summary=_("%(month)s销售%(chemical)s %(n)s笔共%(qty)s千克，未在%(days)s日内报告公安机关"
                  "（其中%(unreported)s笔未报告）") % {
            "month": month_label(day), "chemical": ctx.chemical_name(chem), "n": len(bucket),
            "qty": kg_str(total), "days": days, "unreported": unreported})
