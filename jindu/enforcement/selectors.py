"""Reads of enforcement records, always for a user and through their scope.

Statistics (:func:`statistics`) count, for an inclusive range of local dates and the
user's scope, optionally narrowed to a division subtree, a case kind, a drug and a
campaign:

- cases filed (``filed_on`` in range) and solved (``solved_on`` in range);
- target cases among the cases solved, by level (ministry, province, city);
- suspects caught (``caught_on`` in range);
- gangs broken up (``broken_up_on`` in range);
- seizures: net grams of seizures whose ``seized_on`` is in range, summed exactly
  (milligram integers in SQL, then ``Decimal``; never a float).

Other apps read campaigns through :func:`campaign_choices` (e.g. inspections tagging a
visit with the campaign it was part of).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Count, DecimalField, F, Q, QuerySet, Sum
from django.db.models.functions import Round, TruncMonth

from django.utils.translation import gettext as _

from jindu.core.scope import VIEW, user_grants
from jindu.enforcement.choices import CaseKind, TargetLevel
from jindu.enforcement.models import Campaign, Case, DriverTest, Gang, ScreeningSession, Seizure, Suspect

MG_PER_G = Decimal(1000)


def cases(user: Any, action: str = VIEW) -> QuerySet:
    return Case.objects.restrict(user, action)


def suspects(user: Any, action: str = VIEW) -> QuerySet:
    return Suspect.objects.restrict(user, action)


def seizures(user: Any, action: str = VIEW) -> QuerySet:
    return Seizure.objects.restrict(user, action)


def gangs(user: Any, action: str = VIEW) -> QuerySet:
    return Gang.objects.restrict(user, action)


def campaigns(user: Any, action: str = VIEW) -> QuerySet:
    return Campaign.objects.restrict(user, action)


def screening_sessions(user: Any, action: str = VIEW) -> QuerySet:
    return ScreeningSession.objects.restrict(user, action)


def driver_tests(user: Any, action: str = VIEW) -> QuerySet:
    return DriverTest.objects.restrict(user, action)


def campaign_choices(user: Any) -> QuerySet:
    """Campaigns a user of any role may tag records with: those declared in a division
    inside or above one of the user's jurisdictions (a regulator in 琼山区 sees the
    city's 秋冬攻势). Needs no enforcement permission; anonymous users get none."""
    grants = user_grants(user)
    if getattr(user, "is_superuser", False) and getattr(user, "is_active", False):
        return Campaign.objects.all()
    if not grants:
        return Campaign.objects.none()
    q = Q(pk__in=[])
    for g in grants:
        if not g.division_path:
            return Campaign.objects.all()
        q |= Q(division__path__startswith=g.division_path)
        parts = [p for p in g.division_path.split("/") if p]
        q |= Q(division__path__in=["/".join(parts[:i]) + "/" for i in range(1, len(parts))])
    return Campaign.objects.filter(q)


def exact_gram_sum(queryset: QuerySet, field_name: str = "net_weight_g") -> Decimal:
    """Exact sum of a Decimal gram field (3 decimals) over ``queryset``: each value is
    rounded to whole milligrams in SQL and summed as integers, so SQLite's floating
    arithmetic can never leave an artefact (``6190.58``, not ``6190.580000001``)."""
    total = queryset.aggregate(
        mg=Sum(Round(F(field_name) * 1000), output_field=DecimalField(max_digits=20, decimal_places=0))
    )["mg"]
    if total is None:
        return Decimal("0.000")
    return (Decimal(int(Decimal(total).to_integral_value())) / MG_PER_G).quantize(Decimal("0.001"))


@dataclass
class StatisticsFilter:
    """What :func:`statistics` counts: inclusive local dates, optional division subtree
    (a ``geo.Division``), case kind, substance (``substances.Substance``) and campaign."""

    date_from: dt.date
    date_to: dt.date
    division: Any = None
    kind: str = ""
    substance: Any = None
    campaign: Any = None


@dataclass
class Statistics:
    cases_filed: int = 0
    cases_solved: int = 0
    target_cases: int = 0
    target_by_level: dict[str, int] = field(default_factory=dict)
    suspects_caught: int = 0
    gangs_broken: int = 0
    seized_g: Decimal = Decimal("0.000")
    seized_by_drug: list[tuple[str, Decimal]] = field(default_factory=list)
    solved_by_kind: dict[str, int] = field(default_factory=dict)
    monthly: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ministry_province_targets(self) -> int:
        """部、省级目标案件."""
        return self.target_by_level.get(TargetLevel.MINISTRY, 0) + self.target_by_level.get(TargetLevel.PROVINCE, 0)


def _filtered_cases(user: Any, f: StatisticsFilter) -> QuerySet:
    return cases(user).filter(_case_q(f))


def _case_q(f: StatisticsFilter, prefix: str = "") -> Q:
    """The case conditions of ``f`` as a filter on a case (``prefix=""``) or on a row
    pointing at one (``prefix="case__"``): joins, never an ``IN`` list of every case in
    scope, so the database can start from the period's date index whatever the table holds."""
    q = Q()
    if f.division is not None:
        q &= Q(**{f"{prefix}division__path__startswith": f.division.path})
    if f.kind:
        q &= Q(**{f"{prefix}kind": f.kind})
    case_pk = "case_id__in" if prefix else "pk__in"  # the row's own column: no join for these
    if f.campaign is not None:
        q &= Q(**{case_pk: Case.campaigns.through.objects.filter(campaign=f.campaign).values("case_id")})
    if f.substance is not None:
        q &= Q(**{case_pk: Seizure.objects.filter(substance=f.substance).values("case_id")})
    return q


def statistics(user: Any, f: StatisticsFilter) -> Statistics:
    """Enforcement figures for ``f`` within ``user``'s scope (see the module docstring).

    Query count is constant (about ten aggregate queries) whatever the number of rows.
    """
    base = _filtered_cases(user, f)
    solved = base.filter(solved_on__gte=f.date_from, solved_on__lte=f.date_to)
    out = Statistics()
    out.cases_filed = base.filter(filed_on__gte=f.date_from, filed_on__lte=f.date_to).count()
    by_kind = dict(solved.order_by().values_list("kind").annotate(n=Count("pk")))
    out.solved_by_kind = {k: by_kind.get(k, 0) for k in CaseKind.values}
    out.cases_solved = sum(by_kind.values())
    levels = dict(solved.exclude(target_level="").order_by().values_list("target_level").annotate(n=Count("pk")))
    out.target_by_level = {lvl: levels.get(lvl, 0) for lvl in (TargetLevel.MINISTRY, TargetLevel.PROVINCE,
                                                               TargetLevel.CITY)}
    out.target_cases = sum(out.target_by_level.values())
    on_case = _case_q(f, "case__")
    out.suspects_caught = suspects(user).filter(
        on_case, caught_on__gte=f.date_from, caught_on__lte=f.date_to
    ).count()
    gang_qs = gangs(user).filter(is_broken_up=True, broken_up_on__gte=f.date_from, broken_up_on__lte=f.date_to)
    if f.division is not None:
        gang_qs = gang_qs.filter(division__path__startswith=f.division.path)
    if f.kind or f.campaign is not None or f.substance is not None:
        gang_qs = gang_qs.filter(pk__in=Gang.cases.through.objects.filter(on_case).values("gang_id"))
    out.gangs_broken = gang_qs.count()
    seized = seizures(user).filter(on_case, seized_on__gte=f.date_from, seized_on__lte=f.date_to)
    if f.substance is not None:
        seized = seized.filter(substance=f.substance)
    out.seized_g = exact_gram_sum(seized)
    by_drug = (
        seized.exclude(net_weight_g__isnull=True).order_by()
        .values("substance__name_zh")
        .annotate(mg=Sum(Round(F("net_weight_g") * 1000), output_field=DecimalField(max_digits=20, decimal_places=0)))
    )
    rows = [
        (r["substance__name_zh"] or _("未列管物品"),
         (Decimal(int(Decimal(r["mg"]).to_integral_value())) / MG_PER_G).quantize(Decimal("0.001")))
        for r in by_drug
    ]
    out.seized_by_drug = sorted(rows, key=lambda r: r[1], reverse=True)
    monthly_cases = dict(
        solved.order_by().annotate(m=TruncMonth("solved_on")).values_list("m").annotate(n=Count("pk"))
    )
    monthly_g = {
        m: Decimal(int(Decimal(mg).to_integral_value())) / MG_PER_G
        for m, mg in seized.exclude(net_weight_g__isnull=True).order_by().annotate(m=TruncMonth("seized_on"))
        .values_list("m").annotate(mg=Sum(Round(F("net_weight_g") * 1000),
                                          output_field=DecimalField(max_digits=20, decimal_places=0)))
    }
    months = sorted({*monthly_cases, *monthly_g}, key=lambda d: (d.year, d.month))
    out.monthly = [
        {"month": f"{m.year}-{m.month:02d}", "cases_solved": monthly_cases.get(m, 0),
         "seized_g": str(monthly_g.get(m, Decimal(0)).quantize(Decimal("0.001")))}
        for m in months
    ]
    return out
