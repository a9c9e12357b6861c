"""Staffing need: how many drug-control social workers a town needs, from the registry.

Rule (the seed's Qiongshan model, 禁毒专管员管理"建制"模式): one worker per
``users_per_worker`` (30) current drug users plus one per ``abstinent_per_worker`` (40)
people abstinent three years — ``settings.JINDU_WORKFORCE``.

**Rounding: the ceiling of the exact sum, not the sum of two ceilings.**

    need = ceil(current / 30 + abstinent / 40)

computed exactly with fractions (never floats). Why the sum first: a worker carries a mixed
caseload (20 current users and 13 abstinent people is 20/30 + 13/40 = 0.99 of one worker),
so the two groups share workers; rounding each group up on its own would add up to one
worker per town that no caseload needs (31 users and 1 abstinent person: 2 + 1 = 3 against
ceil(1.058) = 2). Why up: a fraction of a caseload still needs a person, and rounding down
would leave a worker with more than the ratio allows (31 users for one worker). The
``"half_up"`` setting rounds to the nearest worker instead (.5 up), for places whose rule says so.

Each town is rounded on its own, because workers are posted to a town's squadron and one
worker does not serve two towns; a district's need is the sum of its towns' needs (its exact
load is shown beside it, so the rounding is visible). Workers in post are counted where
their team is: a squadron's in its town, the brigade's own staff at the district only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

ROUNDING_RULES = ("ceil", "half_up")


def exact_load(current_users: int, abstinent: int, *, users_per_worker: int, abstinent_per_worker: int) -> Fraction:
    """The number of workers the caseload needs, unrounded: ``current / users_per_worker +
    abstinent / abstinent_per_worker`` as an exact fraction. Raises ``ValueError`` for a
    ratio that is not a positive integer or a negative count."""
    if users_per_worker <= 0 or abstinent_per_worker <= 0:
        raise ValueError("ratios must be positive")
    if current_users < 0 or abstinent < 0:
        raise ValueError("counts must not be negative")
    return Fraction(current_users, users_per_worker) + Fraction(abstinent, abstinent_per_worker)


def round_need(load: Fraction, rounding: str = "ceil") -> int:
    """Whole workers for an exact ``load``: ``"ceil"`` (default) or ``"half_up"``."""
    if rounding == "ceil":
        return math.ceil(load)
    if rounding == "half_up":
        return int((Decimal(load.numerator) / Decimal(load.denominator)).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    raise ValueError(f"unknown rounding rule {rounding!r}; use one of {ROUNDING_RULES}")


def staffing_need(current_users: int, abstinent: int, *, users_per_worker: int = 30, abstinent_per_worker: int = 40,
                  rounding: str = "ceil") -> int:
    """Workers needed for one town: ``round_need(exact_load(...))`` (see the module docstring)."""
    return round_need(exact_load(current_users, abstinent, users_per_worker=users_per_worker,
                                 abstinent_per_worker=abstinent_per_worker), rounding)


def load_decimal(load: Fraction) -> Decimal:
    """An exact load shown with two decimals (rounded half up), for tables and exports."""
    return (Decimal(load.numerator) / Decimal(load.denominator)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@dataclass
class StaffingRow:
    """One division's line of the staffing table.

    ``gap`` = ``need − in_post``: positive means workers missing, negative over capacity.
    """

    division: Any
    current_users: int = 0
    abstinent: int = 0
    load: Fraction = Fraction(0)
    need: int = 0
    in_post: int = 0
    teams: list = field(default_factory=list)
    towns: list["StaffingRow"] = field(default_factory=list)

    @property
    def gap(self) -> int:
        return self.need - self.in_post

    @property
    def shortfall(self) -> int:
        return max(self.gap, 0)

    @property
    def over_capacity(self) -> int:
        return max(-self.gap, 0)

    @property
    def load_display(self) -> Decimal:
        return load_decimal(self.load)
