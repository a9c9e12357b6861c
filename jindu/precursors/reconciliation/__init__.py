"""Closed-loop reconciliation of the precursor stock ledgers (《易制毒化学品管理条例》).

:data:`RULES` maps each rule code (:mod:`.codes`, stable) to a :class:`Rule`: Chinese
title, legal or statistical basis, severity (suspected violation, or review for the
statistical screen) and the function that finds it. :func:`run_reconciliation` runs them
all — in the database, set-based — and upserts the findings as
:class:`~jindu.precursors.models.Discrepancy` rows with their evidence.

Rule groups (one module each): :mod:`.licensing` (purchases, transport, sales),
:mod:`.matching` (both ledgers of a transfer), :mod:`.stock` (counts, negative balances,
expired lots), :mod:`.anomaly` (unusual monthly outbound, for review), :mod:`.reporting`
(late sale reports); :mod:`.engine` prepares the shared working tables and writes;
:mod:`.months` and :mod:`.cover` keep the monthly ledger summary and the licence cover
in step with every posting and licence.
"""

from jindu.precursors.reconciliation import codes
from jindu.precursors.reconciliation.base import RULES, Context, Finding, Rule

# Importing the rule modules registers their rules, in this order.
from jindu.precursors.reconciliation import licensing, sales, matching, stock, anomaly  # noqa: E402,F401,I001
from jindu.precursors.reconciliation.engine import run_reconciliation  # noqa: E402

__all__ = ["RULES", "Rule", "Finding", "Context", "codes", "run_reconciliation"]
