"""Rules on stock: counts against the ledger, impossible (negative) balances in the
ledger's own date order, and expired lots still on hand.

All three start from the monthly summary (the engine's ``recon_month``, read from the
maintained :class:`~jindu.precursors.models.LedgerMonth`: kilograms in, out, moved out,
opening balance, lowest end-of-day balance, earliest expiry), shared with the
unusual-movement rule, and go back to the ledger only through the (enterprise, chemical,
occurred_on) index for the few pairs and months that need day-level detail.
"""

from __future__ import annotations

from typing import Iterator

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from jindu.precursors.reconciliation import codes
from jindu.precursors.reconciliation.base import (
    FIGURES_TABLE,
    MONTH_TABLE,
    STALE_TABLE,
    Context,
    Finding,
    evidence,
    id_list,
    kg_str,
    rule,
    to_date,
    to_kg,
)
from jindu.precursors.rules import BALANCE_EPSILON_KG, QUANTITY_TOLERANCE_MIN_KG, quantity_tolerance_kg

NEG_TABLE = "recon_negcand"
EXPIRED_TABLE = "recon_expired"


@rule(codes.STOCK_COUNT_MISMATCH, title=_lazy("盘点与账面不符"),
      basis=_lazy("《易制毒化学品管理条例》第五条（单位内部管理制度）、第十九条（如实记录台账）"))
def counts_against_ledger(ctx: Context) -> Iterator[Finding]:
    """Stock counts (``StockCount``) whose counted quantity differs from the ledger balance
    at the end of ``counted_on`` by more than :func:`~jindu.precursors.rules.quantity_tolerance_kg`
    of that balance.

    The balance is recomputed from the non-voided entries dated on or before the count
    (the value stored on the count when it was recorded may be stale after back-dated
    entries or voids): the balance before the count's month from the monthly summary
    (:class:`~jindu.precursors.models.LedgerMonth`), plus that month's entries up to the
    count through the (enterprise, chemical, occurred_on) index — a month of one pair,
    whatever the length of its history. One finding per count; fingerprint ``<count id>``.
    """
    ms = (f"CAST(date_trunc('month', CAST(s.counted_on AS timestamp)) AS date)" if ctx.pg
          else "(substr(s.counted_on, 1, 8) || '01')")
    before = (f"COALESCE((SELECT COALESCE(m.opening_kg, 0) + CASE WHEN m.month < {ms} THEN m.in_kg - m.out_kg "
              f"ELSE 0 END FROM precursors_ledgermonth m WHERE m.enterprise_id = s.enterprise_id "
              f"AND m.chemical_id = s.chemical_id AND m.month <= {ms} ORDER BY m.month DESC LIMIT 1), 0)")
    # Incremental: a count's balance depends on the entries dated up to it only, so counts
    # before the pair's ``since_day`` are unchanged (a new or changed count sets it to the
    # whole history).
    recent = "AND s.counted_on >= sc.since_day" if ctx.scoped else ""
    # PostgreSQL would push the outer test (and its balance look-ups) down into the scan of
    # every count, below the join with the scope: OFFSET 0 keeps it after the join.
    fence = "OFFSET 0" if ctx.pg and ctx.scoped else ""
    sql = f"""
        SELECT x.id, x.enterprise_id, x.chemical_id, x.counted_on, x.quantity_kg, x.ledger_kg FROM (
            SELECT s.id, s.enterprise_id, s.chemical_id, s.counted_on, s.quantity_kg,
                   {before} + COALESCE((SELECT SUM({ctx.signed_qty('e')}) FROM precursors_ledgerentry e
                              WHERE e.enterprise_id = s.enterprise_id AND e.chemical_id = s.chemical_id
                                AND e.occurred_on >= {ms} AND e.occurred_on <= s.counted_on
                                AND e.voided_at IS NULL), 0) AS ledger_kg
            FROM {ctx.scoped_from('precursors_stockcount', 's')}
            WHERE s.counted_on <= %s {recent} {fence}
        ) x
        WHERE ABS(x.quantity_kg - x.ledger_kg) > {ctx.tolerance_sql('x.ledger_kg', 'x')} + {BALANCE_EPSILON_KG}
        ORDER BY x.id
    """
    for cid, ent, chem, day, counted, ledger in ctx.rows(sql, [ctx.as_of_param]):
        day, counted, ledger = to_date(day), to_kg(counted), to_kg(ledger)
        diff = counted - ledger
        tol = quantity_tolerance_kg(ctx.category(chem), ledger)
        yield Finding(
            rule=codes.STOCK_COUNT_MISMATCH, fingerprint=str(cid), enterprise_id=ent, chemical_id=chem,
            occurred_on=day, stock_count_id=cid,
            details={"counted_kg": str(counted), "ledger_kg": str(ledger), "difference_kg": str(diff),
                     "tolerance_kg": str(tol)},
            summary=_("%(date)s盘点%(chemical)s实存%(counted)s千克，账面结存%(ledger)s千克，差额%(diff)s千克") % {
                "date": day.isoformat(), "chemical": ctx.chemical_name(chem), "counted": kg_str(counted),
                "ledger": kg_str(ledger), "diff": kg_str(diff)})


@rule(codes.NEGATIVE_BALANCE, title=_lazy("账面结存为负"),
      basis=_lazy("《易制毒化学品管理条例》第十九条（如实记录台账）"))
def negative_balances(ctx: Context) -> Iterator[Finding]:
    """Days on which the ledger's balance, taken in date order, falls below zero — stock
    sent out that the ledger never received (an imported history, or entries back-dated
    around the posting check).

    The balance is taken at the end of each day (a day's entries are netted, so the order
    of same-day entries, which a dated ledger does not record, cannot raise a finding).
    Screening on the monthly summary: a month goes negative exactly when its lowest
    end-of-day balance (``lowest``, kept by :mod:`.months`, indexed where negative) is
    negative; only those months are replayed day by day through the index, for the day
    and the evidence. One finding per *episode* (a
    day the balance goes from ≥ 0 to < 0); fingerprint ``e<enterprise>:c<chemical>:<date>``;
    evidence: that day's outbound entries. A day's balance depends on the entries up to it
    only: an incremental run judges a pair's months from its ``since_day`` on (those
    ``recon_month`` holds), and leaves the earlier episodes as they were.
    """
    eps = BALANCE_EPSILON_KG
    ctx.execute(f"DROP TABLE IF EXISTS {NEG_TABLE}")
    ctx.execute(f"""
        CREATE TEMP TABLE {NEG_TABLE} AS
        SELECT enterprise_id, chemical_id, month, COALESCE(opening, 0) AS opening,
               {ctx.month_date('month')} AS start_day, {ctx.month_date('month', 1)} AS end_day
        FROM {MONTH_TABLE}
        WHERE lowest < 0 AND lowest < -{eps}
    """)
    ctx.analyze(NEG_TABLE)
    sql = f"""
        WITH d AS (
            SELECT c.enterprise_id, c.chemical_id, c.month, c.opening, e.occurred_on AS day,
                   SUM({ctx.signed_qty('e')}) AS net,
                   {ctx.group_ids("CASE WHEN e.direction <> 'in' THEN e.id END")} AS outs
            FROM {NEG_TABLE} c {ctx.driven_join} precursors_ledgerentry e
              ON e.enterprise_id = c.enterprise_id AND e.chemical_id = c.chemical_id
             AND e.occurred_on >= c.start_day AND e.occurred_on < c.end_day
            WHERE {ctx.live('e')}
            GROUP BY c.enterprise_id, c.chemical_id, c.month, c.opening, e.occurred_on
        ), r AS (
            SELECT d.*, opening + SUM(net) OVER (PARTITION BY enterprise_id, chemical_id, month ORDER BY day
                                                 ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS bal
            FROM d
        ), s AS (
            SELECT r.*, LAG(bal) OVER (PARTITION BY enterprise_id, chemical_id, month ORDER BY day) AS prev FROM r
        )
        SELECT enterprise_id, chemical_id, day, bal, outs FROM s
        WHERE bal < -{eps} AND COALESCE(prev, opening) >= -{eps}
        ORDER BY enterprise_id, chemical_id, day
    """
    try:
        for ent, chem, day, bal, outs in ctx.rows(sql, [ctx.as_of_param]):
            day, bal = to_date(day), to_kg(bal)
            yield Finding(
                rule=codes.NEGATIVE_BALANCE, fingerprint=f"e{ent}:c{chem}:{day.isoformat()}", enterprise_id=ent,
                chemical_id=chem, occurred_on=day, details={"balance_kg": str(bal)},
                entry_ids=evidence(id_list(outs)),
                summary=_("按日期顺序，%(chemical)s账面结存于%(date)s降为%(bal)s千克（负数）") % {
                    "chemical": ctx.chemical_name(chem), "date": day.isoformat(), "bal": kg_str(bal)})
    finally:
        ctx.execute(f"DROP TABLE IF EXISTS {NEG_TABLE}")


@rule(codes.EXPIRED_NOT_DESTROYED, title=_lazy("过期化学品未销毁"),
      basis=_lazy("《易制毒化学品管理条例》第五条（单位内部管理制度）；条例未规定处置期限，按监督销毁惯例核查"))
def expired_lots_on_hand(ctx: Context) -> Iterator[Finding]:
    """Inbound lots whose ``expires_on`` (+ :data:`~jindu.precursors.rules.EXPIRY_GRACE_DAYS`)
    is before the reconciliation date and of which some quantity is still on hand.

    What is still on hand of a lot is computed first-in first-out: every outbound movement
    (sale, use, destruction, loss) is taken from the oldest stock first, in date order
    (``occurred_on``, then id). A ledger does not say which lot a movement drew on, and
    FIFO is what storage practice and the expiry dates themselves call for; it is also the
    assumption most favourable to the enterprise (old lots are consumed first), so a
    finding means that even then the expired lot cannot all be gone. The lot is reported
    when more than the category's tolerance floor remains. One finding per lot; fingerprint
    ``<entry id>``; evidence: the lot's entry.
    """
    floor = QUANTITY_TOLERANCE_MIN_KG
    cat = ctx.category_sql("ins")
    sql = f"""
        WITH ins AS (
            SELECT e.id, e.enterprise_id, e.chemical_id, e.occurred_on, e.quantity_kg, e.expires_on, p.out_kg,
                   SUM(e.quantity_kg) OVER (PARTITION BY e.enterprise_id, e.chemical_id ORDER BY e.occurred_on, e.id
                                            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS cum
            FROM {EXPIRED_TABLE} p {ctx.driven_join} precursors_ledgerentry e
              ON e.enterprise_id = p.enterprise_id AND e.chemical_id = p.chemical_id
            WHERE e.direction = 'in' AND {ctx.live('e')}
        )
        SELECT id, enterprise_id, chemical_id, occurred_on, quantity_kg, expires_on,
               {ctx.least('quantity_kg', 'cum - out_kg')} AS remaining
        FROM ins
        WHERE expires_on IS NOT NULL AND expires_on < %s
          AND {ctx.least('quantity_kg', 'cum - out_kg')} >
              (CASE {cat} WHEN 1 THEN {floor[1]} WHEN 2 THEN {floor[2]} ELSE {floor[3]} END) + {BALANCE_EPSILON_KG}
        ORDER BY id
    """
    # The pairs holding an expired lot first, in an analysed table: few, so the planner
    # reads their inbound entries through the pair index.
    ctx.execute(f"DROP TABLE IF EXISTS {EXPIRED_TABLE}")
    ctx.execute(f"DROP TABLE IF EXISTS {EXPIRED_TABLE}_kg")
    # (Months with an expired lot through the summary's expiry index; then those pairs' totals.)
    # (An incremental run: the pairs' maintained totals, LedgerPair — one row per pair; the
    # pairs with entries dated after ``as_of`` from their months, below.)
    months = ctx.month_history(pairs=STALE_TABLE) if ctx.scoped else MONTH_TABLE
    ctx.execute(f"CREATE TEMP TABLE {EXPIRED_TABLE} AS SELECT DISTINCT enterprise_id, chemical_id "
                f"FROM {months} h WHERE first_expiry < %s", [ctx.expiry_cutoff_param()])
    ctx.analyze(EXPIRED_TABLE)
    ctx.execute(f"CREATE TEMP TABLE {EXPIRED_TABLE}_kg AS SELECT m.enterprise_id, m.chemical_id, "
                f"SUM(m.out_kg) AS out_kg FROM {EXPIRED_TABLE} x {ctx.driven_join} {months} m "
                f"ON m.enterprise_id = x.enterprise_id AND m.chemical_id = x.chemical_id "
                f"GROUP BY m.enterprise_id, m.chemical_id")
    if ctx.scoped:
        ctx.execute(f"INSERT INTO {EXPIRED_TABLE}_kg (enterprise_id, chemical_id, out_kg) "
                    f"SELECT p.enterprise_id, p.chemical_id, p.out_kg FROM {FIGURES_TABLE} p "
                    f"WHERE p.first_expiry_on < %s", [ctx.expiry_cutoff_param()])
    ctx.execute(f"DROP TABLE {EXPIRED_TABLE}")
    ctx.execute(f"ALTER TABLE {EXPIRED_TABLE}_kg RENAME TO {EXPIRED_TABLE}")
    ctx.analyze(EXPIRED_TABLE)
    params = [ctx.as_of_param, ctx.expiry_cutoff_param()]
    try:
        rows = list(ctx.rows(sql, params))
    finally:
        ctx.execute(f"DROP TABLE IF EXISTS {EXPIRED_TABLE}")
        ctx.execute(f"DROP TABLE IF EXISTS {EXPIRED_TABLE}_kg")
    for eid, ent, chem, day, qty, expires, remaining in rows:
        day, expires, remaining = to_date(day), to_date(expires), to_kg(remaining)
        yield Finding(
            rule=codes.EXPIRED_NOT_DESTROYED, fingerprint=str(eid), enterprise_id=ent, chemical_id=chem,
            occurred_on=expires, entry_ids=(eid,),
            details={"lot_kg": str(to_kg(qty)), "remaining_kg": str(remaining), "received_on": day.isoformat(),
                     "expires_on": expires.isoformat(), "method": "FIFO"},
            summary=_("%(date)s入库的%(chemical)s（失效日期%(expires)s）按先进先出计尚余%(qty)s千克，未见销毁记录") % {
                "date": day.isoformat(), "chemical": ctx.chemical_name(chem), "expires": expires.isoformat(),
                "qty": kg_str(remaining)})
