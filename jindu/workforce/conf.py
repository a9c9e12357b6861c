"""The workforce settings (``settings.JINDU_WORKFORCE``) merged over their defaults.

Every value here is a *reasoned default* unless it names a source: the two staffing ratios
are the seed's Qiongshan model (one drug-control social worker per 30 current drug users and
per 40 people abstinent three years, 禁毒专管员管理"建制"模式); the scorecard intervals copy
the tier overlay of ``persons/data/schedule_default.json`` (casework_rules.md §6.3, a test
keeps them equal); weights, marks and the renewal threshold are this system's choices.
"""

from __future__ import annotations

import copy
from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    "users_per_worker": 30,
    "abstinent_per_worker": 40,
    # "ceil": ceiling of the exact sum (default); "half_up": nearest whole worker, .5 up.
    "rounding": "ceil",
    # A contract's renewal decision is due this many days before the contract ends.
    "renewal_notice_days": 30,
    # Length of a renewed contract.
    "contract_term_months": 12,
    # Scorecard: interval of each kind of work by risk tier, as (count, "days"|"months"),
    # None = not scheduled for that tier (persons/data/schedule_default.json tier_overlay).
    "intervals": {
        "contact": {"A": (15, "days"), "B": (1, "months"), "C1": (2, "months"), "C2": None},
        "urinalysis": {"A": (1, "months"), "B": (2, "months"), "C1": (3, "months"), "C2": None},
        "reassessment": {"A": (1, "months"), "B": (3, "months"), "C1": (6, "months"), "C2": (12, "months")},
    },
    # Points of each computed component (sum 70) and of the supervisor's marks (sum 30).
    "weights": {"contacts": 20, "tests": 15, "reassessments": 10, "handovers": 10, "no_overdue": 15},
    "marks": {"attitude": 10, "teamwork": 10, "learning": 10},
    # A total at or above this suggests renewal; the supervisor decides.
    "renew_threshold": 60,
    # Reporting deadline after release from compulsory isolation (戒毒条例 art. 38: 15 days).
    "handover_report_days": 15,
}


def workforce_settings() -> dict[str, Any]:
    """The effective settings: ``DEFAULTS`` updated (one level deep for dicts) by
    ``settings.JINDU_WORKFORCE``."""
    out = copy.deepcopy(DEFAULTS)
    for key, value in (getattr(settings, "JINDU_WORKFORCE", None) or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out
