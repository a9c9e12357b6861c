"""Rules on documents: purchases without a purchase licence or filing, after it lapsed or
beyond its quantity; transport without a valid transport licence or filing. (Sales to a
party without a purchase document, and late sale reports: :mod:`.sales`.)

The entry tests of the purchase and transport rules (:func:`purchase_check`,
:func:`transport_check`) run in the engine's one shared pass over the ledger, joined to
the licence cover (:class:`~jindu.precursors.models.LicenceCover`, :mod:`.cover`: one
row per licence × chemical × activity the kind covers for that chemical's category, per
:data:`jindu.precursors.rules.LICENCE_KIND_RULES`, with the validity cut at the
revocation date for revoked licences); each rule groups its flagged entries into
findings. The quantity-limit rule reads the ledger through the pair index. A document "covers" an entry
when it belongs to the right enterprise, lists the chemical, is of a kind accepted for the
activity and category, and the entry's date is within ``valid_from … valid_until``
(both inclusive). Findings are grouped per enterprise, chemical (and buyer) and calendar
month so one lapsed filing does not flood the queue with a discrepancy per delivery.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Iterator

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from jindu.precursors.reconciliation import codes
from jindu.precursors.reconciliation.base import (
    PASS_TABLE,
    Context,
    Finding,
    LedgerCheck,
    evidence,
    group_monthly,
    kg_str,
    ledger_check,
    month_fp,
    month_label,
    rule,
    to_date,
    to_kg,
)
from jindu.precursors.rules import BALANCE_EPSILON_KG, PURCHASE, TRANSPORT


def _doc_name(activity: str, category: int) -> str:
    if activity == PURCHASE:
        return _("购买许可证") if category == 1 else _("购买备案证明")
    return _("运输许可证") if category in (1, 2) else _("运输备案证明")


def _has_counterparty(a: str = "e") -> str:
    return f"({a}.counterparty_id IS NOT NULL OR {a}.counterparty_name <> '' OR {a}.counterparty_credit_code <> '')"


def _covered(ctx: Context, activity: str, enterprise: str, a: str = "e") -> str:
    """SQL: a document of ``activity`` held by ``enterprise`` (an SQL expression) covers entry ``a``."""
    return (f"EXISTS (SELECT 1 FROM {ctx.cover} c WHERE c.activity = '{activity}' "
            f"AND c.enterprise_id = {enterprise} AND c.chemical_id = {a}.chemical_id "
            f"AND {a}.occurred_on >= c.valid_from AND {a}.occurred_on <= c.valid_until)")


# ---------------------------------------------------------------------------------------------
# 1. Purchases
# ---------------------------------------------------------------------------------------------

def _document_join(ctx: Context) -> str:
    """``LEFT JOIN`` ``dc``: the documents that cover entry ``e`` as a purchase or a sale —
    for an inbound, the enterprise's purchase documents, and its production documents when
    the entry names no counterparty (its own output); for an outbound, the buyer's purchase
    documents — listing the chemical, valid on the entry's date. Shared by
    :func:`purchase_check` and :func:`jindu.precursors.reconciliation.sales.sale_check`:
    one hash join on (holder, chemical) for both."""
    holder = "(CASE WHEN e.direction = 'in' THEN e.enterprise_id WHEN e.direction = 'out' THEN e.counterparty_id END)"
    return (f"LEFT JOIN {ctx.cover} dc ON dc.activity IN ('{PURCHASE}', 'production') AND dc.enterprise_id = {holder} "
            f"AND dc.chemical_id = e.chemical_id AND e.occurred_on >= dc.valid_from "
            f"AND e.occurred_on <= dc.valid_until "
            f"AND (dc.activity = '{PURCHASE}' OR (e.direction = 'in' AND NOT {_has_counterparty('e')}))")


@ledger_check("purchase_uncovered")
def purchase_check(ctx: Context) -> LedgerCheck:
    """The entry test of :func:`purchases_without_cover`, in the shared ledger pass: an
    inbound that is not a custody transfer, with no purchase document of the enterprise
    covering it, and not the enterprise's own production (naming no counterparty while a
    production document covers it) — no row of :func:`_document_join`."""
    return LedgerCheck("purchase_uncovered", joins=(_document_join(ctx),),
                       # (The custody test last: it runs only for the few uncovered entries.)
                       condition=f"(e.direction = 'in' AND dc.licence_id IS NULL AND NOT {ctx.custody_sql('e')})")


@rule(codes.PURCHASE_AFTER_EXPIRY, title=_lazy("许可或备案失效后购买"),
      basis=_lazy("《易制毒化学品管理条例》第十四条、第十五条、第十七条"))
@rule(codes.PURCHASE_UNLICENSED, title=_lazy("购买无许可或备案"),
      basis=_lazy("《易制毒化学品管理条例》第十四条、第十五条、第十七条"))
def purchases_without_cover(ctx: Context) -> Iterator[Finding]:
    """Inbound purchases not covered by a purchase document on their date.

    A *purchase* is an inbound entry that is not a custody transfer
    (:func:`Context.custody_sql`) and is not the enterprise's own production (an inbound
    naming no counterparty at an enterprise holding a production licence or filing for the
    chemical on that date). Category 1 needs a 购买许可证 (arts. 14, 15), Categories 2/3 a
    购买备案证明 made before buying (art. 17; a purchase licence listing the chemical is
    accepted too). Hospitals buying Category 1 pharmaceuticals on a 印鉴卡 (art. 16) are
    not modelled. The entries come from the shared ledger pass (:func:`purchase_check`).

    ``purchase_after_expiry`` when the enterprise held a covering document whose validity
    ended before the entry (``valid_until`` passed, or revoked — the revocation date is
    the first day not covered); ``purchase_unlicensed`` when it never held one before the
    entry. One finding per enterprise × chemical × month × rule; fingerprint
    ``e<enterprise>:c<chemical>:<YYYY-MM>``; evidence: the entries and the lapsed documents.
    """
    lapsed = (f"FROM {ctx.cover} c WHERE c.activity = 'purchase' AND c.enterprise_id = b.enterprise_id "
              f"AND c.chemical_id = b.chemical_id AND c.valid_until < b.occurred_on AND c.valid_from <= b.occurred_on "
              f"ORDER BY c.valid_until DESC, c.licence_id DESC LIMIT 1")
    sql = f"""
        SELECT b.enterprise_id, b.chemical_id, b.occurred_on, b.id, b.quantity_kg,
               (SELECT c.licence_id {lapsed}) AS lapsed, (SELECT c.valid_until {lapsed}) AS lapsed_on
        FROM {PASS_TABLE} b WHERE b.purchase_uncovered = 1
        ORDER BY b.enterprise_id, b.chemical_id, b.occurred_on, b.id
    """
    rows = ctx.rows(sql)
    # Split each month's entries by rule (lapsed or never covered).
    for (ent, chem), first, bucket in group_monthly(rows, key=lambda r: (r[0], r[1]), day=lambda r: r[2]):
        by_rule: dict[str, list[tuple]] = defaultdict(list)
        for r in bucket:
            by_rule[codes.PURCHASE_AFTER_EXPIRY if r[5] else codes.PURCHASE_UNLICENSED].append(r)
        cat = ctx.category(chem)
        doc = _doc_name(PURCHASE, cat)
        for code, rs in by_rule.items():
            total = sum((to_kg(r[4]) for r in rs), start=to_kg(0))
            day = to_date(rs[0][2])
            params = {"month": month_label(day), "chemical": ctx.chemical_name(chem), "n": len(rs),
                      "qty": kg_str(total), "doc": doc}
            if code == codes.PURCHASE_UNLICENSED:
                summary = _("%(month)s购入%(chemical)s %(n)s笔共%(qty)s千克，购入时未持有有效的%(doc)s") % params
            else:
                params["until"] = to_date(max(r[6] for r in rs)).isoformat()
                summary = _("%(month)s购入%(chemical)s %(n)s笔共%(qty)s千克，所持%(doc)s已于%(until)s后失效") % params
            yield Finding(
                rule=code, fingerprint=f"e{ent}:c{chem}:{month_fp(day)}", enterprise_id=ent, chemical_id=chem,
                occurred_on=day, summary=summary,
                details={"entries": len(rs), "quantity_kg": str(total), "category": cat,
                         "required_document": doc},
                entry_ids=evidence(r[3] for r in rs), licence_ids=evidence(r[5] for r in rs if r[5]))


@rule(codes.PURCHASE_OVER_LIMIT, title=_lazy("超出许可数量购买"), basis=_lazy("《易制毒化学品管理条例》第十四条、第十五条、第十七条"))
def purchases_over_limit(ctx: Context) -> Iterator[Finding]:
    """Cumulative purchases beyond a purchase document's quantity for a chemical.

    For each purchase licence or filing line with ``quantity_limit_kg``: the inbound
    purchases of that chemical at the holder dated within the document's validity that
    either name the document (``permit_number`` equal to its number) or name no document
    at all, summed in date order (``occurred_on``, then id). The entries from the one that
    takes the sum beyond the limit onwards are the evidence. One finding per licence line;
    fingerprint ``L<licence>:c<chemical>``.
    """
    limited = "c.activity = 'purchase' AND c.limit_kg IS NOT NULL"
    sql = f"""
        WITH lim AS (
            SELECT c.licence_id, c.enterprise_id, c.chemical_id, c.valid_from, c.valid_until, c.limit_kg, c.number
            FROM {ctx.scoped_from(ctx.cover, 'c', own=True, driven=True, where=limited)}
            WHERE {limited}
        ), run AS (
            SELECT l.licence_id, l.enterprise_id, l.chemical_id, l.limit_kg, l.number, e.id, e.occurred_on,
                   SUM(e.quantity_kg) OVER (PARTITION BY l.licence_id, l.chemical_id
                                            ORDER BY e.occurred_on, e.id) AS cum
            FROM lim l {ctx.driven_join} precursors_ledgerentry e
              ON e.enterprise_id = l.enterprise_id AND e.chemical_id = l.chemical_id
             AND e.occurred_on >= l.valid_from AND e.occurred_on <= l.valid_until
            WHERE e.direction = 'in' AND {ctx.live('e')} AND NOT {ctx.custody_sql('e')}
              AND (e.permit_number = l.number OR (e.permit_number = '' AND {_has_counterparty('e')}))
        )
        SELECT licence_id, enterprise_id, chemical_id, limit_kg, number, id, occurred_on, cum
        FROM run WHERE cum > limit_kg + {BALANCE_EPSILON_KG}
        ORDER BY licence_id, chemical_id, occurred_on, id
    """
    current = None
    bucket: list[tuple] = []

    def emit(rows: list[tuple]) -> Finding:
        lic, ent, chem, limit, number = rows[0][:5]
        cum = to_kg(max(r[7] for r in rows))
        day = to_date(rows[0][6])
        return Finding(
            rule=codes.PURCHASE_OVER_LIMIT, fingerprint=f"L{lic}:c{chem}", enterprise_id=ent, chemical_id=chem,
            occurred_on=day,
            summary=_("%(chemical)s累计购入%(cum)s千克，超出%(number)s核定数量%(limit)s千克") % {
                "chemical": ctx.chemical_name(chem), "cum": kg_str(cum), "number": number,
                "limit": kg_str(to_kg(limit))},
            details={"limit_kg": str(to_kg(limit)), "cumulative_kg": str(cum), "excess_kg": str(cum - to_kg(limit)),
                     "first_excess_on": day.isoformat()},
            entry_ids=evidence(r[5] for r in rows), licence_ids=(lic,))

    for row in ctx.rows(sql, [ctx.as_of_param]):
        key = (row[0], row[2])
        if key != current and bucket:
            yield emit(bucket)
            bucket = []
        current = key
        bucket.append(row)
    if bucket:
        yield emit(bucket)


# ---------------------------------------------------------------------------------------------
# 2. Transport
# ---------------------------------------------------------------------------------------------

@ledger_check("transport_unpermitted")
def transport_check(ctx: Context) -> LedgerCheck:
    """The entry test of :func:`transport_without_permit`, in the shared ledger pass: a
    transport number naming no valid transport document of either side for the chemical
    (a hash join on number and chemical), or no number on an outbound that needs one."""
    join = (f"LEFT JOIN {ctx.cover} tc ON tc.activity = 'transport' AND e.transport_permit_number <> '' "
            f"AND tc.number = e.transport_permit_number AND tc.chemical_id = e.chemical_id "
            f"AND (tc.enterprise_id = e.enterprise_id OR tc.enterprise_id = e.counterparty_id) "
            f"AND e.occurred_on >= tc.valid_from AND e.occurred_on <= tc.valid_until")
    cat = ctx.category_sql("e")
    return LedgerCheck("transport_unpermitted", joins=(join,), condition=(
        f"((e.transport_permit_number <> '' AND e.direction IN ('in', 'out') AND tc.licence_id IS NULL) "
        f"OR (e.transport_permit_number = '' AND e.direction = 'out' "
        f"AND ({cat} IN (2, 3) OR e.counterparty_id IS NULL)))"))


@rule(codes.TRANSPORT_UNPERMITTED, title=_lazy("无有效运输许可或备案"), basis=_lazy("《易制毒化学品管理条例》第二十条、第二十二条"))
def transport_without_permit(ctx: Context) -> Iterator[Finding]:
    """Transports without the licence or filing art. 20 asks for.

    Two cases (decided for Jindu, see :func:`jindu.precursors.rules.transport_document_required`):

    - *invalid*: an entry (in or out) whose ``transport_permit_number`` names no transport
      document of the sender or the receiver that lists the chemical, is of a kind accepted
      for its category (Categories 1/2 a 运输许可证, Category 3 a 运输备案证明 or a licence)
      and is valid on the entry's date;
    - *missing*: an outbound (``out``) with no transport number where one is required —
      Categories 2 and 3 always, Category 1 when the receiver is not a Jindu enterprise
      (presumed to leave the city). The dispatching side records it: the permit is issued
      by the police of the place of dispatch (art. 20).

    The entries come from the shared ledger pass (:func:`transport_check`). One finding
    per enterprise × chemical × month; fingerprint ``e<enterprise>:c<chemical>:<YYYY-MM>``;
    ``details`` counts both cases.
    """
    sql = f"""
        SELECT enterprise_id, chemical_id, occurred_on, id, quantity_kg, transport_permit_number
        FROM {PASS_TABLE} WHERE transport_unpermitted = 1
        ORDER BY enterprise_id, chemical_id, occurred_on, id
    """
    for (ent, chem), day, rows in group_monthly(ctx.rows(sql), key=lambda r: (r[0], r[1]),
                                                day=lambda r: r[2]):
        invalid = [r for r in rows if r[5]]
        total = sum((to_kg(r[4]) for r in rows), start=to_kg(0))
        category = ctx.category(chem)
        yield Finding(
            rule=codes.TRANSPORT_UNPERMITTED, fingerprint=f"e{ent}:c{chem}:{month_fp(day)}", enterprise_id=ent,
            chemical_id=chem, occurred_on=day,
            summary=_("%(month)s运输%(chemical)s %(n)s笔共%(qty)s千克，未取得有效的%(doc)s") % {
                "month": month_label(day), "chemical": ctx.chemical_name(chem), "n": len(rows),
                "qty": kg_str(total), "doc": _doc_name(TRANSPORT, category)},
            details={"entries": len(rows), "quantity_kg": str(total), "category": category,
                     "missing_number": len(rows) - len(invalid),
                     "invalid_numbers": sorted({r[5] for r in invalid})[:50]},
            entry_ids=evidence(r[3] for r in rows))


__all__ = ["purchases_without_cover", "purchases_over_limit", "transport_without_permit", "purchase_check",
           "transport_check", "doc_name", "covered", "document_join", "has_counterparty"]

doc_name, covered, document_join, has_counterparty = _doc_name, _covered, _document_join, _has_counterparty
