"""The rules of the inspection engine: the checklist scorecard, rectification deadlines and
the four-colour status of a target in a period.

Each rule is a small pure function; :mod:`jindu.inspections.selectors` evaluates the same
four-colour rule in SQL for lists (:func:`colour_annotations`) and the tests check that
both give the same answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Iterable

from django.db.models import Case, Count, Exists, IntegerField, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Coalesce

from jindu.core.timeutils import Period, due_status, local_date, local_now
from jindu.inspections.choices import Colour, HazardStatus, ItemOutcome

ONE_DECIMAL = Decimal("0.1")
HUNDRED = Decimal("100")


# -- scorecard -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Scorecard:
    """The result of one inspection against its checklist.

    ``score_pct`` = points of passed items ÷ points of applicable items × 100, rounded half
    up to one decimal (not-applicable items count in neither); with one point per item it
    is the share of items passed. ``required_failed`` lists the codes of "100%" items
    that failed. ``passed`` is true when no required item failed and the unrounded score
    reaches the template's ``pass_score_pct``.
    """

    items_passed: int
    items_failed: int
    items_na: int
    points_applicable: Decimal
    points_passed: Decimal
    score_pct: Decimal
    required_failed: tuple[str, ...]
    passed: bool

    @property
    def items_applicable(self) -> int:
        return self.items_passed + self.items_failed


def scorecard(results: Iterable[tuple[Any, str]], pass_score_pct: Decimal = HUNDRED) -> Scorecard:
    """Score ``results``: pairs of (checklist item with ``code``, ``points``, ``required``;
    outcome ``"pass"``/``"fail"``/``"na"``).

    Source of the "100%" rule: the delivery-channel "N个100%" checklists (Hainan postal
    "三个100%", "五个100%" variants; practice note §5.2): each listed measure must hold at
    every outlet, so one failure fails the inspection whatever the other items score.
    An inspection with no applicable item scores 0 and does not pass. Raises
    ``ValueError`` for an unknown outcome.
    """
    passed = failed = na = 0
    points_applicable = points_passed = Decimal("0")
    required_failed: list[str] = []
    for item, outcome in results:
        points = Decimal(item.points)
        if outcome == ItemOutcome.PASS:
            passed += 1
            points_applicable += points
            points_passed += points
        elif outcome == ItemOutcome.FAIL:
            failed += 1
            points_applicable += points
            if item.required:
                required_failed.append(item.code)
        elif outcome == ItemOutcome.NOT_APPLICABLE:
            na += 1
        else:
            raise ValueError(f"unknown outcome {outcome!r}")
    if points_applicable:
        score = (points_passed * HUNDRED / points_applicable).quantize(ONE_DECIMAL, rounding=ROUND_HALF_UP)
        reaches = points_passed * HUNDRED >= Decimal(pass_score_pct) * points_applicable
    else:
        score, reaches = Decimal("0.0"), False
    return Scorecard(
        items_passed=passed, items_failed=failed, items_na=na,
        points_applicable=points_applicable, points_passed=points_passed, score_pct=score,
        required_failed=tuple(required_failed), passed=reaches and not required_failed,
    )


# -- deadlines -----------------------------------------------------------------------------
def default_deadline(found_at: datetime, days: int) -> date:
    """The rectification deadline ``days`` local days after the local date of ``found_at``
    (practice note §5.4 suggests 7 days for delivery outlets, marked UNCERTAIN there; each
    checklist carries its own ``rectification_days``)."""
    return local_date(found_at) + timedelta(days=days)


def hazard_due(hazard: Any, now: datetime | None = None) -> str | None:
    """``"upcoming"``, ``"due_today"`` or ``"overdue"`` for an open hazard; ``None`` once it
    left ``open``. The deadline is a local date: due all of that local day, overdue from
    the next local midnight (DESIGN.md "Time"; :func:`jindu.core.timeutils.due_status`),
    so at 2024-06-21 07:59 Shanghai a 2024-06-20 deadline is overdue although UTC still
    reads 20 June (peer case 11)."""
    if hazard.status != HazardStatus.OPEN:
        return None
    return due_status(hazard.deadline, now)


def rectified_late(hazard: Any) -> bool | None:
    """Whether a rectified hazard was fixed after its deadline's local day (``None`` while open)."""
    if hazard.rectified_at is None:
        return None
    return local_date(hazard.rectified_at) > hazard.deadline


# -- four-colour status ----------------------------------------------------------------------
def status_instant(period: Period, now: datetime | None = None) -> datetime:
    """The instant a period's status is read at: the period's end, or now if earlier."""
    now = now or local_now()
    return min(now, period.end)


def colour(*, open_hazards: int, latest_passed: bool | None, latest_rectified: int) -> str:
    """The four-colour status of one target in one period (a :class:`Colour` value).

    Inputs, all read at the status instant *t* = the period's end, or now if earlier
    (:func:`status_instant`):

    - ``open_hazards``: hazards of the target found before *t* and not rectified by *t*
      (``rectified_at`` empty or later than *t*), whatever period they were found in — an
      unrectified hazard from last quarter still counts;
    - ``latest_passed``: whether the target's latest inspection inside the period (by
      ``inspected_at``, then id; only inspections before *t*) passed, ``None`` if there
      was none;
    - ``latest_rectified``: how many hazards of that latest inspection were rectified by *t*.

    The rule, first match wins:

    1. **red** (failed): ``open_hazards > 0``, or the latest inspection failed and none
       of its hazards has been rectified (a failed inspection with no recorded hazard
       stays red);
    2. **yellow** (not yet inspected this period): no inspection in the period;
    3. **blue** (rectified): the latest inspection failed and its hazards are all
       rectified (nothing open);
    4. **green** (passed): the latest inspection passed and nothing is open.

    Open hazards outrank "not inspected": a target that left last period with an open
    hazard is red, not yellow, until the hazard is rectified.
    """
    if open_hazards > 0 or (latest_passed is False and latest_rectified == 0):
        return Colour.RED
    if latest_passed is None:
        return Colour.YELLOW
    if latest_passed is False:
        return Colour.BLUE
    return Colour.GREEN


def colour_annotations(period: Period, now: datetime | None = None) -> dict[str, Any]:
    """Annotations for a ``Target`` queryset evaluating :func:`colour` in SQL:
    ``open_hazards``, ``latest_passed`` (0/1/None), ``latest_rectified``,
    ``inspected_in_period`` and ``colour``. Correlated subqueries keep one row per target
    and a query count independent of the number of rows."""
    from jindu.inspections.models import Hazard, Inspection

    t = status_instant(period, now)
    open_q = Hazard.objects.filter(target=OuterRef("pk"), found_at__lt=t).filter(
        Q(rectified_at__isnull=True) | Q(rectified_at__gt=t)
    )
    in_period = Inspection.objects.filter(
        target=OuterRef("pk"), inspected_at__gte=period.start, inspected_at__lt=t
    ).order_by("-inspected_at", "-pk")
    # The same "latest inspection" one level deeper (inside the hazard subquery).
    latest_nested = Inspection.objects.filter(
        target=OuterRef(OuterRef("pk")), inspected_at__gte=period.start, inspected_at__lt=t
    ).order_by("-inspected_at", "-pk").values("pk")[:1]
    rectified_of_latest = Subquery(
        Hazard.objects.filter(inspection=Subquery(latest_nested), rectified_at__lte=t)
        .order_by().values("inspection").annotate(n=Count("pk")).values("n")[:1],
        output_field=IntegerField(),
    )
    open_count = Subquery(
        open_q.order_by().values("target").annotate(n=Count("pk")).values("n"), output_field=IntegerField()
    )
    latest_passed = Subquery(in_period.values("passed")[:1])
    return {
        "open_hazards": Coalesce(open_count, 0),
        "latest_passed": latest_passed,
        "latest_rectified": Coalesce(rectified_of_latest, 0),
        "inspected_in_period": Exists(in_period),
        "colour": Case(
            When(Q(open_hazards__gt=0) | Q(latest_passed=False, latest_rectified=0), then=Value(Colour.RED.value)),
            When(inspected_in_period=False, then=Value(Colour.YELLOW.value)),
            When(latest_passed=False, then=Value(Colour.BLUE.value)),
            default=Value(Colour.GREEN.value),
        ),
    }
