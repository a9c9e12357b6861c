"""Cross-enterprise matching: both ledgers of a transfer between two Jindu enterprises.

An outbound at A naming B (``counterparty``) and an inbound at B naming A, of the same
chemical, *match* when their dates are at most :data:`~jindu.precursors.rules.TRANSFER_WINDOW_DAYS`
apart; they *agree* when their quantities differ by at most
:func:`~jindu.precursors.rules.quantity_tolerance_kg` of the outbound quantity. Matching
is by existence, not one-to-one: two outbounds of 50 kg on one day both match one inbound
of 100 kg by date (and are then reported as a quantity mismatch). A side is reported
only once its window has closed on the reconciliation date (``occurred_on + window <
as_of``), so a receiver who books tomorrow is not reported today.

One anti-join of the transfer entries with the other sides' entries (a hash anti-join on
PostgreSQL, index probes on (enterprise, chemical, occurred_on) on SQLite) finds the
entries without their other side before the engine's shared ledger pass, which flags
them (:func:`transfer_check`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Iterator

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from jindu.precursors.reconciliation import codes
from jindu.precursors.reconciliation.base import (
    PASS_TABLE,
    Context,
    Finding,
    LedgerCheck,
    id_list,
    kg_str,
    ledger_check,
    rule,
    to_date,
    to_kg,
)
from jindu.precursors.rules import BALANCE_EPSILON_KG, TRANSFER_WINDOW_DAYS, quantity_tolerance_kg

W = TRANSFER_WINDOW_DAYS


def _other_side(ctx: Context, a: str, b: str, direction: str, *, qty_match: bool) -> str:
    """SQL: an entry ``b`` of ``direction`` on the other side of ``a``'s transfer within the window
    (and, with ``qty_match``, within tolerance of ``a``'s quantity)."""
    cond = (f"{b}.enterprise_id = {a}.counterparty_id AND {b}.counterparty_id = {a}.enterprise_id "
            f"AND {b}.chemical_id = {a}.chemical_id AND {b}.direction = '{direction}' "
            f"AND {b}.voided_at IS NULL AND {b}.occurred_on <= %s "
            f"AND {b}.occurred_on >= {ctx.add_days(f'{a}.occurred_on', -W)} "
            f"AND {b}.occurred_on <= {ctx.add_days(f'{a}.occurred_on', W)}")
    if qty_match:
        cond += (f" AND ABS({b}.quantity_kg - {a}.quantity_kg) <= "
                 f"{ctx.tolerance_sql(f'{a}.quantity_kg', a)} + {BALANCE_EPSILON_KG}")
    return cond


#: The transfer entries without their other side (:func:`transfer_check`), by id.
UNMATCHED_TABLE = "recon_unmatched"


@ledger_check("transfer_unmatched")
def transfer_check(ctx: Context) -> LedgerCheck:
    """The entry test of :func:`transfer_matching`, in the shared ledger pass: a transfer
    entry (in or out, naming another Jindu enterprise) whose window has closed and that has
    no entry on the other side — of the opposite direction at the counterparty naming this
    enterprise, of the chemical, within the window and, for an outbound, within tolerance
    of its quantity.

    Found before the pass by one anti-join of the transfer entries with the counterparties'
    ledgers into :data:`UNMATCHED_TABLE` (a hash anti-join on (enterprise, counterparty,
    chemical) in a full run on PostgreSQL, which stops at the first entry that matches; the
    pair index in an incremental run and on SQLite); the pass flags the entries found
    there. As a ``LEFT JOIN`` inside the pass the same test cost five times as much at ten
    million entries: the planner probed the index once per ledger entry."""
    tol = f"{ctx.tolerance_sql('t.quantity_kg', 't')} + {BALANCE_EPSILON_KG}"
    as_of = ctx.as_of_sql
    # Windows closed on ``as_of``: ``occurred_on + W < as_of``, written on the column alone so
    # that it bounds the index range (an incremental run reads a pair from ``match_since``:
    # from there to here, not to ``as_of`` — at ten million entries a counterparty's week —
    # and not at all when that range is empty, as for entries posted today).
    closed = ctx.date_sql(ctx.as_of - timedelta(days=W))
    # PostgreSQL: an unlogged ordinary table (temporary tables are invisible to
    # the pass's parallel workers: the join would wait for every entry to be gathered).
    build = f"""
        CREATE {'UNLOGGED' if ctx.pg else 'TEMP'} TABLE {UNMATCHED_TABLE} AS
        SELECT t.id, t.enterprise_id, t.chemical_id, t.occurred_on
        FROM {ctx.scoped_from('precursors_ledgerentry', 't', recent=True, since='sc.match_since')}
        WHERE {f"sc.match_since < {closed} AND " if ctx.scoped else ""}t.direction IN ('in', 'out')
          AND t.counterparty_id IS NOT NULL AND t.counterparty_id <> t.enterprise_id
          AND t.voided_at IS NULL AND t.occurred_on < {closed}
          AND NOT EXISTS (
              SELECT 1 FROM precursors_ledgerentry o
              WHERE o.enterprise_id = t.counterparty_id AND o.counterparty_id = t.enterprise_id
                AND o.chemical_id = t.chemical_id AND o.direction IN ('in', 'out') AND o.direction <> t.direction
                AND o.voided_at IS NULL AND o.occurred_on <= {as_of}
                AND o.occurred_on >= {ctx.add_days('t.occurred_on', -W)}
                AND o.occurred_on <= {ctx.add_days('t.occurred_on', W)}
                AND (t.direction = 'in' OR ABS(o.quantity_kg - t.quantity_kg) <= {tol}))
    """
    # The pass looks the entry up in a hashed set of the (few) ids, not through a join: a
    # join node would handle every entry of the ledger.
    return LedgerCheck("transfer_unmatched", prepare=(build,), work_tables=(UNMATCHED_TABLE,), since="match_since",
                       listed=UNMATCHED_TABLE,
                       # (The entry's own part lets the planner filter the ledger as it reads it.)
                       condition=("(e.direction IN ('in', 'out') AND e.counterparty_id IS NOT NULL "
                                  "AND e.counterparty_id <> e.enterprise_id "
                                  f"AND e.id IN (SELECT id FROM {UNMATCHED_TABLE}))"))


@rule(codes.TRANSFER_NO_OUTBOUND, title=_lazy("入库无对应出库"),
      basis=_lazy("《易制毒化学品管理条例》第十九条（如实记录销售台账）"))
@rule(codes.TRANSFER_QUANTITY_MISMATCH, title=_lazy("购销双方数量不符"),
      basis=_lazy("《易制毒化学品管理条例》第十九条（如实记录品种、数量）"))
@rule(codes.TRANSFER_NO_INBOUND, title=_lazy("出库无对应入库"),
      basis=_lazy("《易制毒化学品管理条例》第十九条（如实记录销售台账）"))
def transfer_matching(ctx: Context) -> Iterator[Finding]:
    """Both sides of transfers between Jindu enterprises: the transfer entries without a
    matching other side, flagged in the shared ledger pass (:func:`transfer_check`: one
    anti-join of the ledger's transfer entries with the counterparties' ledgers).

    - ``transfer_no_inbound``: an outbound from A to B with no inbound at B from A of the
      chemical in the window;
    - ``transfer_quantity_mismatch``: such inbounds exist, none agrees in quantity
      (evidence: the outbound and those inbounds);
    - ``transfer_no_outbound``: an inbound at B from A with no outbound at A to B in the window.

    One finding per entry (the outbound for the first two, the inbound for the third);
    fingerprint ``<entry id>``.
    """
    sql = f"""
        SELECT u.id, u.enterprise_id, u.chemical_id, u.counterparty_id, u.occurred_on, u.quantity_kg, u.direction,
               p.name,
               (SELECT {ctx.group_ids('i.id')} FROM precursors_ledgerentry i
                 WHERE {_other_side(ctx, 'u', 'i', 'in', qty_match=False)}) AS candidates,
               (SELECT SUM(i.quantity_kg) FROM precursors_ledgerentry i
                 WHERE {_other_side(ctx, 'u', 'i', 'in', qty_match=False)}) AS candidate_kg
        FROM {PASS_TABLE} u JOIN precursors_enterprise p ON p.id = u.counterparty_id
        WHERE u.transfer_unmatched = 1
        ORDER BY u.id
    """
    p = ctx.as_of_param
    for eid, ent, chem, party_id, day, qty, direction, party, candidates, cand_kg in ctx.rows(sql, [p] * 2):
        day, qty = to_date(day), to_kg(qty)
        params = {"date": day.isoformat(), "party": party, "chemical": ctx.chemical_name(chem), "qty": kg_str(qty),
                  "days": W}
        details = {"counterparty_id": party_id, "counterparty": party, "quantity_kg": str(qty), "window_days": W}
        cands = id_list(candidates) if direction == "out" else ()
        if direction == "in":
            yield Finding(rule=codes.TRANSFER_NO_OUTBOUND, fingerprint=str(eid), enterprise_id=ent, chemical_id=chem,
                          occurred_on=day, entry_ids=(eid,), details=details,
                          summary=_("%(date)s自%(party)s入库%(chemical)s %(qty)s千克，对方台账前后%(days)s日内"
                                    "无对应出库") % params)
        elif not cands:
            yield Finding(rule=codes.TRANSFER_NO_INBOUND, fingerprint=str(eid), enterprise_id=ent, chemical_id=chem,
                          occurred_on=day, details=details, entry_ids=(eid,),
                          summary=_("%(date)s向%(party)s出库%(chemical)s %(qty)s千克，对方台账前后%(days)s日内"
                                    "无对应入库") % params)
        else:
            tolerance = quantity_tolerance_kg(ctx.category(chem), qty)
            params.update(other=kg_str(to_kg(cand_kg)), tol=kg_str(tolerance))
            details.update(counterparty_kg=str(to_kg(cand_kg)), tolerance_kg=str(tolerance),
                           counterparty_entries=list(cands))
            yield Finding(rule=codes.TRANSFER_QUANTITY_MISMATCH, fingerprint=str(eid), enterprise_id=ent,
                          chemical_id=chem, occurred_on=day, details=details, entry_ids=(eid, *cands[:50]),
                          summary=_("%(date)s向%(party)s出库%(chemical)s %(qty)s千克，对方同期入库%(other)s千克，"
                                    "差额超出允许误差%(tol)s千克") % params)
