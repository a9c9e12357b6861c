"""Unusual movements against the enterprise's own history: a statistical screen whose
findings are *for review* (``severity = review``), never suspected violations.

Series: per enterprise × chemical, the kilograms moved out per calendar month — sales,
use and losses (``out``, ``used``, ``loss``; witnessed destruction is not a diversion
risk and is left out) — taken from the engine's monthly aggregate, months with no such
movement left out (a pair that sells twice a year is judged on those two months, not on
ten zeros).

Score: the modified z-score of Iglewicz & Hoaglin (1993, *How to Detect and Handle
Outliers*, pp. 11–12), ``M = 0.6745 · (x − median) / MAD``, MAD the median absolute
deviation; ``M > 3.5`` is reported. ``x`` is the *logarithm* of the month's kilograms:
monthly quantities are positive and right-skewed (a month is a sum of a few deliveries,
so two or three times the usual month is ordinary), and deviations of a quantity are
naturally judged as ratios; the rule assumes a roughly symmetric distribution, which the
log of such a quantity approximates far better than the quantity itself (on the raw
scale the bench's realistic ledgers flagged one pair-month in fifty). When more than
half the months are equal the MAD is zero and the mean absolute deviation is used
instead, ``M = (x − median) / (1.253314 · MeanAD)``.

Guards (reasoned defaults in :mod:`jindu.precursors.rules`): a pair needs
``ROBUST_Z_MIN_MONTHS`` months with movements before it is scored; only months at least
``ROBUST_Z_MIN_RATIO`` times the median month are reported, whatever the score; and only
unusually *high* months — a month that moved less than usual takes nothing out of the
closed loop (and on the log scale a month holding only a small loss would otherwise be
the most "unusual" of all); this also leaves the reconciliation date's own, incomplete
month alone unless it is already high.

Medians are taken in SQL on the monthly summary (:meth:`~.base.Context.month_history`), not
the ledger: with the ordered-set aggregate ``percentile_cont(0.5)`` on PostgreSQL, with
``ROW_NUMBER`` over each pair's months on SQLite (which has no median aggregate) — the same values — and only for the
pairs a cheap exact screen leaves (:func:`_screen_pairs`: those whose largest month is at
least three times their median, as a reported month must be). An incremental run screens
a touched pair on its maintained figures (:class:`~jindu.precursors.models.LedgerPair`:
count, lower median and largest of its moved-out months), one row whatever the length of
its history, and reads the months only of the pairs the screen leaves.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Iterator

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from jindu.precursors.choices import DiscrepancySeverity
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
    month_label,
    rule,
    to_date,
    to_kg,
)
from jindu.precursors.rules import (
    BALANCE_EPSILON_KG,
    ROBUST_Z_MAD_FACTOR,
    ROBUST_Z_MEANAD_FACTOR,
    ROBUST_Z_MIN_MONTHS,
    ROBUST_Z_MIN_RATIO,
    ROBUST_Z_THRESHOLD,
)

MOVED_OUT = ("out", "used", "loss")
OUTLIER_TABLE = "recon_outlier"
SCREEN_TABLE = "recon_zpairs"
#: Slack of the pre-screen's ratio test (:func:`_screen_pairs`), far above the rounding of
#: the logarithms and of the median: the screen only ever keeps more pairs.
SCREEN_SLACK = Decimal("1.000001")


@rule(codes.UNUSUAL_OUTBOUND, title=_lazy("出库量异常波动"),
      basis=_lazy("稳健Z值（Iglewicz & Hoaglin, 1993）：月出库量取对数，M > 3.5 且不低于月中位数的3倍；"
                  "统计筛查，供复核，不作违规认定"),
      severity=DiscrepancySeverity.REVIEW)
def unusual_monthly_outbound(ctx: Context) -> Iterator[Finding]:
    """Months whose moved-out kilograms are outliers of the pair's own monthly series
    (see the module docstring). One finding per enterprise × chemical × month;
    fingerprint ``e<enterprise>:c<chemical>:<YYYY-MM>``; evidence: that month's outbound
    entries of the pair."""
    z, mad_f, mean_f = ROBUST_Z_THRESHOLD, ROBUST_Z_MAD_FACTOR, ROBUST_Z_MEANAD_FACTOR
    _screen_pairs(ctx)
    ctx.execute(f"DROP TABLE IF EXISTS {OUTLIER_TABLE}")
    ctx.execute(f"""
        CREATE TEMP TABLE {OUTLIER_TABLE} AS
        {_spread_sql(ctx) if ctx.pg else _spread_sql_portable(ctx)}
        SELECT dev.enterprise_id, dev.chemical_id, dev.month, dev.kg, dev.v, dev.med, spread.mad, spread.meanad, dev.n
        FROM dev JOIN spread ON spread.enterprise_id = dev.enterprise_id AND spread.chemical_id = dev.chemical_id
        WHERE dev.v > dev.med AND dev.d >= {math.log(ROBUST_Z_MIN_RATIO) - 1e-9:.12f}
          AND ((spread.mad > 0 AND {mad_f} * dev.d > {z} * spread.mad)
               OR (spread.mad = 0 AND spread.meanad > 0 AND dev.d > {z} * {mean_f} * spread.meanad))
    """)
    ctx.analyze(OUTLIER_TABLE)
    moved = ", ".join(f"'{d}'" for d in MOVED_OUT)
    sql = f"""
        SELECT o.enterprise_id, o.chemical_id, o.month, o.kg, o.v, o.med, o.mad, o.meanad, o.n, {ctx.group_ids('e.id')}
        FROM {OUTLIER_TABLE} o {ctx.driven_join} precursors_ledgerentry e
          ON e.enterprise_id = o.enterprise_id AND e.chemical_id = o.chemical_id
         AND e.occurred_on >= {ctx.month_date('o.month')} AND e.occurred_on < {ctx.month_date('o.month', 1)}
        WHERE e.direction IN ({moved}) AND {ctx.live('e')}
        GROUP BY o.enterprise_id, o.chemical_id, o.month, o.kg, o.v, o.med, o.mad, o.meanad, o.n
        ORDER BY o.enterprise_id, o.chemical_id, o.month
    """
    try:
        for ent, chem, month, kg, v, med, mad, meanad, n, ids in ctx.rows(sql, [ctx.as_of_param]):
            v, med, mad, meanad = float(v), float(med), float(mad or 0), float(meanad or 0)
            score = (float(mad_f) * (v - med) / mad) if mad > 0 else ((v - med) / (float(mean_f) * meanad))
            typical = to_kg(Decimal(str(math.exp(med))))
            start = to_date(month)
            yield Finding(
                rule=codes.UNUSUAL_OUTBOUND, fingerprint=f"e{ent}:c{chem}:{start.year:04d}-{start.month:02d}",
                enterprise_id=ent, chemical_id=chem, occurred_on=start, entry_ids=evidence(id_list(ids)),
                details={"month_kg": str(to_kg(kg)), "median_kg": str(typical), "robust_z": f"{score:.2f}",
                         "mad_log": f"{mad:.4f}", "mean_abs_dev_log": f"{meanad:.4f}", "months": n,
                         "method": "MAD" if mad > 0 else "MeanAD", "scale": "log"},
                summary=_("%(month)s%(chemical)s出库、使用及损耗共%(qty)s千克，明显偏离本企业历史水平"
                          "（月中位数%(median)s千克，稳健Z值%(z)s）") % {
                    "month": month_label(start), "chemical": ctx.chemical_name(chem), "qty": kg_str(to_kg(kg)),
                    "median": kg_str(typical), "z": f"{score:.1f}"})
    finally:
        ctx.execute(f"DROP TABLE IF EXISTS {OUTLIER_TABLE}")
        ctx.execute(f"DROP TABLE IF EXISTS {SCREEN_TABLE}")


def _screen_pairs(ctx: Context) -> None:
    """``recon_zpairs``: the pairs that can have a reported month at all (PostgreSQL: one
    aggregate with ``percentile_disc``; SQLite: two hash aggregates, no per-pair sorts);
    only they are scored.

    A month is reported only if it is at least :data:`ROBUST_Z_MIN_RATIO` times the median
    month (``v − med ≥ ln 3``), so the median is at most the largest month / 3; the median
    (of ``n`` months; the mean of the two middle ones when ``n`` is even) is at least the
    ``⌈n/2⌉``-th smallest month, so at least ``(n + 1) // 2`` of the pair's months must be
    at most the largest / 3. Pairs failing this (or with fewer than
    :data:`ROBUST_Z_MIN_MONTHS` months) cannot be reported and are left out; the test is
    on kilograms (no logarithms), with :data:`SCREEN_SLACK`, so it never drops a pair the
    full computation would report — the findings are the same, on far fewer rows (a
    steady pair's largest month is rarely three times its median)."""
    ctx.execute(f"DROP TABLE IF EXISTS {SCREEN_TABLE}")
    if not ctx.scoped:
        ctx.execute(f"CREATE TEMP TABLE {SCREEN_TABLE} AS {_screen_select(ctx, MONTH_TABLE)}")
        ctx.analyze(SCREEN_TABLE)
        return
    # Incremental run: the same test on each pair's maintained figures (``recon_figures``,
    # from LedgerPair: the number of moved-out months, their lower median — the
    # (n + 1) // 2-th smallest, which ``percentile_disc(0.5)`` is — and the largest), one row
    # per pair whatever the length of its history.
    ctx.execute(f"CREATE TEMP TABLE {SCREEN_TABLE} AS SELECT p.enterprise_id, p.chemical_id "
                f"FROM {FIGURES_TABLE} p WHERE p.moved_months >= {int(ROBUST_Z_MIN_MONTHS)} "
                f"AND p.moved_median_kg * {ROBUST_Z_MIN_RATIO} <= p.moved_top_kg * {SCREEN_SLACK}")
    # The pairs with entries dated after ``as_of``: from their months up to it.
    ctx.execute(f"INSERT INTO {SCREEN_TABLE} (enterprise_id, chemical_id) "
                f"{_screen_select(ctx, ctx.month_history(pairs=STALE_TABLE))}")
    ctx.analyze(SCREEN_TABLE)


def _screen_select(ctx: Context, months: str) -> str:
    """The SELECT of :func:`_screen_pairs` over the months ``months`` (a ``FROM`` item)."""
    eps = BALANCE_EPSILON_KG
    if ctx.pg:
        # The same test in one aggregate: at least k = (n + 1) // 2 months are at most
        # top / 3 exactly when the k-th smallest month is, and ``percentile_disc(0.5)`` is
        # the ⌈n/2⌉-th smallest value (= k). A third of the time of the join below at two
        # million months (which also aggregates the month table once per worker).
        return f"""
            SELECT enterprise_id, chemical_id FROM {months} h WHERE move_kg > {eps}
            GROUP BY enterprise_id, chemical_id
            HAVING COUNT(*) >= {int(ROBUST_Z_MIN_MONTHS)}
               AND percentile_disc(0.5) WITHIN GROUP (ORDER BY move_kg) * {ROBUST_Z_MIN_RATIO}
                   <= MAX(move_kg) * {SCREEN_SLACK}
        """
    return f"""
        SELECT m.enterprise_id, m.chemical_id
        FROM {months} m JOIN (
            SELECT enterprise_id, chemical_id, MAX(move_kg) AS top, COUNT(*) AS n FROM {months} h
            WHERE move_kg > {eps} GROUP BY enterprise_id, chemical_id HAVING COUNT(*) >= {int(ROBUST_Z_MIN_MONTHS)}
        ) p ON p.enterprise_id = m.enterprise_id AND p.chemical_id = m.chemical_id
        WHERE m.move_kg > {eps}
        GROUP BY m.enterprise_id, m.chemical_id, p.top, p.n
        HAVING SUM(CASE WHEN m.move_kg * {ROBUST_Z_MIN_RATIO} <= p.top * {SCREEN_SLACK} THEN 1 ELSE 0 END)
               >= (p.n + 1) / 2
    """


def _screened_months(ctx: Context) -> str:
    """FROM and WHERE of the months scored: moved-out months of the screened pairs (an
    incremental run looks up only theirs, :meth:`~.base.Context.month_history`)."""
    if ctx.scoped:
        return f"FROM {ctx.month_history(pairs=SCREEN_TABLE)} m WHERE m.move_kg > {BALANCE_EPSILON_KG}"
    return (f"FROM {SCREEN_TABLE} z {ctx.driven_join} {MONTH_TABLE} m ON m.enterprise_id = z.enterprise_id "
            f"AND m.chemical_id = z.chemical_id WHERE m.move_kg > {BALANCE_EPSILON_KG}")


def _spread_sql(ctx: Context) -> str:
    """PostgreSQL: ``dev`` (each scored month with its pair's median ``med``, count ``n`` and
    deviation ``d``) and ``spread`` (per pair: ``mad``, the median of ``d``, and ``meanad``,
    its mean) with the ordered-set aggregate ``percentile_cont(0.5)`` — the median, the
    two middle values averaged when their number is even, as :func:`_spread_sql_portable`
    computes it — about half the time of the window functions at a million months."""
    return f"""
        WITH x AS (
            SELECT m.enterprise_id, m.chemical_id, m.month, m.move_kg AS kg, LN({ctx.float_sql('m.move_kg')}) AS v
            {_screened_months(ctx)}
        ), med AS (
            SELECT enterprise_id, chemical_id, COUNT(*) AS n, percentile_cont(0.5) WITHIN GROUP (ORDER BY v) AS med
            FROM x GROUP BY enterprise_id, chemical_id HAVING COUNT(*) >= {int(ROBUST_Z_MIN_MONTHS)}
        ), dev AS (
            SELECT x.enterprise_id, x.chemical_id, x.month, x.kg, x.v, med.n, med.med, ABS(x.v - med.med) AS d
            FROM x JOIN med ON med.enterprise_id = x.enterprise_id AND med.chemical_id = x.chemical_id
        ), spread AS (
            SELECT enterprise_id, chemical_id, percentile_cont(0.5) WITHIN GROUP (ORDER BY d) AS mad, AVG(d) AS meanad
            FROM dev GROUP BY enterprise_id, chemical_id
        )"""


def _spread_sql_portable(ctx: Context) -> str:
    """``dev`` and ``spread`` as :func:`_spread_sql`, with ``ROW_NUMBER`` over each pair's
    months (SQLite has no median aggregate)."""
    return f"""
        WITH x AS (
            SELECT m.enterprise_id, m.chemical_id, m.month, m.move_kg AS kg, LN({ctx.float_sql('m.move_kg')}) AS v,
                   COUNT(*) OVER (PARTITION BY m.enterprise_id, m.chemical_id) AS n,
                   ROW_NUMBER() OVER (PARTITION BY m.enterprise_id, m.chemical_id ORDER BY m.move_kg, m.month) AS rn
            {_screened_months(ctx)}
        ), r AS (
            SELECT * FROM x WHERE n >= {int(ROBUST_Z_MIN_MONTHS)}
        ), med AS (
            SELECT enterprise_id, chemical_id, AVG(v) AS med FROM r
            WHERE rn = (n + 1) / 2 OR rn = (n + 2) / 2 GROUP BY enterprise_id, chemical_id
        ), dev AS (
            SELECT r.enterprise_id, r.chemical_id, r.month, r.kg, r.v, r.n, med.med, ABS(r.v - med.med) AS d,
                   ROW_NUMBER() OVER (PARTITION BY r.enterprise_id, r.chemical_id
                                      ORDER BY ABS(r.v - med.med), r.month) AS rn2
            FROM r JOIN med ON med.enterprise_id = r.enterprise_id AND med.chemical_id = r.chemical_id
        ), spread AS (
            SELECT enterprise_id, chemical_id,
                   AVG(CASE WHEN rn2 = (n + 1) / 2 OR rn2 = (n + 2) / 2 THEN d END) AS mad,
                   AVG(d) AS meanad
            FROM dev GROUP BY enterprise_id, chemical_id
        )"""


__all__ = ["unusual_monthly_outbound"]
