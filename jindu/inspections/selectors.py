"""Reads of the inspection engine, always given the user and always scoped.

Other apps (enforcement, precursors, assessment, reporting) read inspections only through
these functions. Counts are per local calendar period (:mod:`jindu.core.timeutils`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable

from django.db.models import Count, Q, QuerySet

from jindu.core.scope import VIEW, grant_roots, permission_name
from jindu.core.timeutils import Period, period_q
from jindu.inspections.choices import Colour, HazardStatus, ItemOutcome, kinds_of
from jindu.inspections.models import ChecklistTemplate, Hazard, Inspection, ItemResult, Target
from jindu.inspections.rules import colour_annotations


def targets_for(user: Any, action: str = VIEW) -> QuerySet:
    """Targets ``user`` may ``action``, with their division."""
    return Target.objects.restrict(user, action).select_related("division", "division__parent")


def targets_with_colour(user: Any, period: Period, *, now: datetime | None = None,
                        queryset: QuerySet | None = None) -> QuerySet:
    """Visible targets annotated with the four-colour status of ``period``
    (:func:`jindu.inspections.rules.colour`): ``colour``, ``open_hazards``,
    ``latest_passed``, ``latest_rectified``, ``inspected_in_period``."""
    qs = queryset if queryset is not None else targets_for(user)
    return qs.annotate(**colour_annotations(period, now))


def colour_counts(queryset: QuerySet) -> dict[str, int]:
    """``{colour: number of targets}`` for every colour (zeros included) of a queryset
    from :func:`targets_with_colour`."""
    counts = {c: 0 for c in Colour.values}
    for row in queryset.order_by().values("colour").annotate(n=Count("pk")):
        counts[row["colour"]] = row["n"]
    return counts


def inspections_for(user: Any, action: str = VIEW) -> QuerySet:
    return Inspection.objects.restrict(user, action).select_related("target", "target__division", "template")


def hazards_for(user: Any, action: str = VIEW) -> QuerySet:
    return Hazard.objects.restrict(user, action).select_related(
        "target", "target__division", "inspection", "item")


def current_templates(user: Any, category: str | None = None) -> QuerySet:
    """Current checklist revisions (default first), optionally of one category."""
    qs = ChecklistTemplate.objects.restrict(user, VIEW).filter(is_current=True)
    if category:
        qs = qs.filter(category=category)
    return qs.order_by("category", "-is_default", "name")


def inspections_of_target(user: Any, target: Target) -> QuerySet:
    return inspections_for(user).filter(target=target).prefetch_related("units", "inspectors").order_by(
        "-inspected_at", "-pk")


# -- statistics --------------------------------------------------------------------------------
@dataclass(frozen=True)
class DivisionStats:
    """Counts for one division and period: targets registered (now, operating or not),
    targets inspected (distinct targets with at least one inspection in the period),
    inspections, hazards found in the period and, of those, rectified (rectification
    reported, whatever happened after), and still open."""

    division: Any
    targets: int
    targets_inspected: int
    inspections: int
    hazards_found: int
    hazards_rectified: int
    hazards_open: int

    @property
    def coverage_pct(self) -> float | None:
        return round(100 * self.targets_inspected / self.targets, 1) if self.targets else None


def _group_divisions(user: Any, parent: Any = None) -> list[Any]:
    """The divisions a statistics table has one row for: the children of ``parent``, or of
    the user's single jurisdiction root (the city's districts for a city user, a district's
    towns for a district user); a user with several roots gets one row per root."""
    from jindu.geo.models import Division

    # The user's own jurisdiction roots (from the inspection grant) and their children:
    # no geo permission is needed to name the places one is responsible for.
    visible = Division.objects.all()
    if parent is not None:
        return list(visible.filter(parent=parent).order_by("code"))
    roots = grant_roots(user, permission_name(Inspection, VIEW))
    if roots is None:
        from django.conf import settings

        city = visible.filter(code=settings.JINDU_DEMO_CITY.ljust(12, "0")).first()
        top = [city] if city else list(visible.filter(parent__isnull=True))
    else:
        top = list(visible.filter(path__in=roots).order_by("code"))
    if len(top) == 1:
        children = list(visible.filter(parent=top[0], level__in=["district", "town", "village"]).order_by("code"))
        return children or top
    return top


def stats_by_division(user: Any, period: Period, *, kinds: Iterable[str] | None = None,
                      parent: Any = None) -> list[DivisionStats]:
    """One :class:`DivisionStats` per division of :func:`_group_divisions`, for targets of
    ``kinds`` (default: all), restricted to what ``user`` may see. Four queries whatever
    the number of divisions or records (conditional aggregation per division)."""
    groups = _group_divisions(user, parent)
    targets = Target.objects.restrict(user, VIEW)
    inspections = Inspection.objects.restrict(user, VIEW).filter(period_q("inspected_at", period))
    hazards = Hazard.objects.restrict(user, VIEW).filter(period_q("found_at", period))
    if kinds:
        kinds = list(kinds)
        targets = targets.filter(kind__in=kinds)
        inspections = inspections.filter(target__kind__in=kinds)
        hazards = hazards.filter(target__kind__in=kinds)

    def per_group(qs, path_field, **extra):
        aggs = {}
        for g in groups:
            aggs[f"g{g.pk}"] = Count("pk", filter=Q(**{f"{path_field}__startswith": g.path}))
            for name, (expr_field, cond) in extra.items():
                aggs[f"{name}{g.pk}"] = Count(expr_field, filter=Q(**{f"{path_field}__startswith": g.path}) & cond,
                                              distinct=True)
        return qs.aggregate(**aggs) if aggs else {}

    t = per_group(targets, "division__path")
    i = per_group(inspections, "target__division__path",
                  targets_=("target", Q()))
    h = per_group(hazards, "target__division__path",
                  rect_=("pk", Q(rectified_at__isnull=False)), open_=("pk", Q(status=HazardStatus.OPEN)))
    return [
        DivisionStats(
            division=g, targets=t[f"g{g.pk}"], targets_inspected=i[f"targets_{g.pk}"], inspections=i[f"g{g.pk}"],
            hazards_found=h[f"g{g.pk}"], hazards_rectified=h[f"rect_{g.pk}"], hazards_open=h[f"open_{g.pk}"],
        )
        for g in groups
    ]


def totals(rows: list[DivisionStats]) -> dict[str, int]:
    """Column sums of :func:`stats_by_division` rows (divisions do not overlap)."""
    keys = ("targets", "targets_inspected", "inspections", "hazards_found", "hazards_rectified", "hazards_open")
    return {k: sum(getattr(r, k) for r in rows) for k in keys}


def item_compliance(user: Any, template_code: str, period: Period) -> list[dict[str, Any]]:
    """The "N个100%" scorecard of a checklist profile over a period: for each item code,
    how many inspections (of every revision of ``template_code``) in ``period`` found it
    passed, failed or not applicable, and the pass rate over applicable results
    (``None`` when none applied). Ordered by the current revision's item order."""
    rows = (
        ItemResult.objects.restrict(user, VIEW)
        .filter(inspection__template__code=template_code)
        .filter(period_q("inspection__inspected_at", period))
        .values("item__code")
        .annotate(
            passed=Count("pk", filter=Q(outcome=ItemOutcome.PASS)),
            failed=Count("pk", filter=Q(outcome=ItemOutcome.FAIL)),
            na=Count("pk", filter=Q(outcome=ItemOutcome.NOT_APPLICABLE)),
        )
    )
    by_code = {r["item__code"]: r for r in rows}
    current = ChecklistTemplate.objects.filter(code=template_code, is_current=True).first()
    order = list(current.items.order_by("seq")) if current else []
    out = []
    for item in order:
        r = by_code.pop(item.code, {"passed": 0, "failed": 0, "na": 0})
        applicable = r["passed"] + r["failed"]
        out.append({"code": item.code, "text": item.text, "required": item.required, "passed": r["passed"],
                    "failed": r["failed"], "na": r["na"],
                    "rate_pct": round(100 * r["passed"] / applicable, 1) if applicable else None})
    for code, r in sorted(by_code.items()):  # items dropped in a later revision
        applicable = r["passed"] + r["failed"]
        out.append({"code": code, "text": "", "required": False, "passed": r["passed"], "failed": r["failed"],
                    "na": r["na"], "rate_pct": round(100 * r["passed"] / applicable, 1) if applicable else None})
    return out


def venue_kinds() -> list[str]:
    return kinds_of("venue")


def delivery_kinds() -> list[str]:
    return kinds_of("delivery")
