"""Reads of the precursors app, always given the user and always scoped.

Every function starts from ``Model.objects.restrict(user, action)`` (:mod:`jindu.core.scope`):
an enterprise's own users (role ``enterprise``, assigned-only) see only the enterprises
whose ``account_users`` they are, and never discrepancies (their role carries no
``view_discrepancy``). Pages, the API and other apps (assessment, reporting) read through
here. List querysets carry the ``select_related`` their tables need, so the number of
queries of a list page does not grow with its rows.

Dates are local dates (:mod:`jindu.core.timeutils`): a licence ``valid_until`` is valid all
of that day; a discrepancy ``deadline`` is overdue from the next local midnight.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Iterable

from django.db.models import Count, Exists, IntegerField, Min, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from jindu.core.scope import VIEW, has_model_permission, permission_name, subtree_q, user_grants
from jindu.core.timeutils import local_today, year_period
from jindu.precursors.choices import (
    ChemicalCategory,
    DiscrepancySeverity,
    DiscrepancyStatus,
    EnterpriseKind,
    EnterpriseStatus,
    LicenceStatus,
)
from jindu.precursors.models import (
    Chemical,
    Discrepancy,
    Enterprise,
    LedgerEntry,
    Licence,
    LicenceChemical,
    StockBalance,
    StockCount,
)

#: Licences expiring within this many days are highlighted ("expiring soon").
EXPIRY_SOON_DAYS = 30
#: The overview's second, longer horizon.
EXPIRY_HORIZON_DAYS = 90
OPEN_STATUSES = (DiscrepancyStatus.OPEN, DiscrepancyStatus.IN_PROGRESS)
#: The inspections app's target kind for precursor enterprises
#: (``jindu.inspections.choices.TargetKind.PRECURSOR_ENTERPRISE``).
TARGET_KIND = "precursor_enterprise"
TARGET_SOURCE_MODEL = "precursors.Enterprise"


# -- rule names ------------------------------------------------------------------------------
def rule_title(code: str) -> str:
    """The Chinese title of reconciliation rule ``code`` from
    :data:`jindu.precursors.reconciliation.RULES`; the raw code when the rule is unknown (a
    rule retired since the discrepancy was raised) or the module is not importable."""
    rule = _rules().get(code)
    return str(getattr(rule, "title", "") or code) if rule is not None else code


def rule_basis(code: str) -> str:
    """The legal basis (law and article) of rule ``code``, ``""`` when unknown."""
    rule = _rules().get(code)
    return str(getattr(rule, "basis", "") or "") if rule is not None else ""


def rule_choices() -> list[tuple[str, str]]:
    """``(code, title)`` of every known rule, in the registry's order."""
    return [(code, rule_title(code)) for code in _rules()]


def _rules() -> dict[str, Any]:
    from jindu.precursors.reconciliation import RULES

    return RULES


# -- enterprises ------------------------------------------------------------------------------
def enterprises_for(user: Any, action: str = VIEW) -> QuerySet:
    """Enterprises ``user`` may ``action``, with their division and its parent (district)."""
    return Enterprise.objects.restrict(user, action).select_related("division", "division__parent")


def enterprises_where(user: Any, model: type, action: str) -> QuerySet:
    """Enterprises for which ``user`` may ``action`` rows of ``model`` (a model scoped through
    ``enterprise__division`` and ``enterprise__account_users``, e.g. :class:`LedgerEntry`,
    :class:`Licence`, :class:`StockCount`), among those the user may view.

    This is the choice list of a form's "enterprise" field: an enterprise user gets their
    own enterprise(s), a district regulator the enterprises of the district. The service
    re-checks the scope when it writes.
    """
    visible = enterprises_for(user)
    if getattr(user, "is_superuser", False) and user.is_active:
        return visible
    perm = permission_name(model, action)
    subtree, assigned = set(), set()
    for grant in user_grants(user):
        if perm in grant.permissions:
            (assigned if grant.assigned_only else subtree).add(grant.division_path)
    if "" in subtree:
        return visible
    own = Q(pk__in=Enterprise.account_users.through.objects.filter(user=user).values("enterprise_id"))
    conds = []
    if subtree:
        conds.append(subtree_q(sorted(subtree), "division__path"))
    if assigned:
        conds.append(own if "" in assigned else subtree_q(sorted(assigned), "division__path") & own)
    if not conds:
        return visible.none()
    q = conds[0]
    for cond in conds[1:]:
        q |= cond
    return visible.filter(q)


def _open_discrepancies_subquery(user: Any) -> Subquery:
    rows = (Discrepancy.objects.restrict(user, VIEW).filter(enterprise=OuterRef("pk"), status__in=OPEN_STATUSES)
            .order_by().values("enterprise").annotate(n=Count("pk")).values("n"))
    return Coalesce(Subquery(rows, output_field=IntegerField()), Value(0))


def _licences_expiring_subquery(user: Any, today: date, days: int) -> Subquery:
    rows = (Licence.objects.restrict(user, VIEW)
            .filter(enterprise=OuterRef("pk"), status=LicenceStatus.VALID,
                    valid_until__gte=today, valid_until__lte=today + timedelta(days=days))
            .order_by().values("enterprise").annotate(n=Count("pk")).values("n"))
    return Coalesce(Subquery(rows, output_field=IntegerField()), Value(0))


def _next_expiry_subquery(user: Any, today: date) -> Subquery:
    rows = (Licence.objects.restrict(user, VIEW)
            .filter(enterprise=OuterRef("pk"), status=LicenceStatus.VALID, valid_until__gte=today)
            .order_by().values("enterprise").annotate(m=Min("valid_until")).values("m"))
    return Subquery(rows)


def may_view_discrepancies(user: Any) -> bool:
    return has_model_permission(user, Discrepancy, VIEW)


def enterprise_list(user: Any, *, today: date | None = None) -> QuerySet:
    """Visible enterprises for the list page, annotated with ``licences_expiring``
    (valid licences ending within :data:`EXPIRY_SOON_DAYS` days, today included) and,
    for roles that may see discrepancies, ``open_discrepancies`` (open or in progress).
    Supervising units are prefetched. A constant number of queries whatever the rows."""
    today = today or local_today()
    qs = enterprises_for(user).prefetch_related("supervising_units").annotate(
        licences_expiring=_licences_expiring_subquery(user, today, EXPIRY_SOON_DAYS))
    if may_view_discrepancies(user):
        qs = qs.annotate(open_discrepancies=_open_discrepancies_subquery(user))
    return qs


def supervision_list(user: Any, unit: Any, *, today: date | None = None) -> QuerySet:
    """The "responsibility field" of department ``unit``: visible enterprises whose
    ``supervising_units`` include it, annotated like :func:`enterprise_list` plus
    ``next_expiry`` (the earliest ``valid_until`` of a valid licence not yet expired).
    Empty for ``unit=None``."""
    if unit is None:
        return Enterprise.objects.none()
    today = today or local_today()
    mine = Enterprise.supervising_units.through.objects.filter(unit=unit).values("enterprise_id")
    return enterprise_list(user, today=today).filter(pk__in=mine).annotate(
        next_expiry=_next_expiry_subquery(user, today),
        licences_expiring_90=_licences_expiring_subquery(user, today, EXPIRY_HORIZON_DAYS))


def chemical_categories_of(user: Any, enterprise: Enterprise) -> list[int]:
    """Categories (1–3) of the chemicals ``enterprise`` holds a balance or licence line of."""
    cats = set(StockBalance.objects.restrict(user, VIEW).filter(enterprise=enterprise)
               .values_list("chemical__category", flat=True))
    cats |= set(LicenceChemical.objects.restrict(user, VIEW).filter(licence__enterprise=enterprise)
                .values_list("chemical__category", flat=True))
    return sorted(cats)


# -- licences, ledger, balances, counts ------------------------------------------------------------
def licences_for(user: Any, action: str = VIEW) -> QuerySet:
    """Licences ``user`` may ``action``, with their enterprise and chemical lines."""
    return (Licence.objects.restrict(user, action)
            .select_related("enterprise", "enterprise__division")
            .prefetch_related("lines__chemical"))


def licences_expiring(user: Any, days: int, *, today: date | None = None) -> QuerySet:
    """Valid licences ending between today and ``days`` days from today (both inclusive),
    soonest first."""
    today = today or local_today()
    return licences_for(user).filter(status=LicenceStatus.VALID, valid_until__gte=today,
                                     valid_until__lte=today + timedelta(days=days)).order_by("valid_until", "pk")


def ledger_for(user: Any, *, enterprise: Enterprise | None = None, chemical: Chemical | None = None,
               date_from: date | None = None, date_to: date | None = None, direction: str | None = None,
               include_voided: bool = True, action: str = VIEW) -> QuerySet:
    """Ledger entries ``user`` may ``action``, newest first (``-occurred_on, -id``), with
    enterprise, chemical, counterparty and recorder. ``date_from``/``date_to`` are
    inclusive local dates of ``occurred_on``."""
    qs = LedgerEntry.objects.restrict(user, action).select_related(
        "enterprise", "chemical", "counterparty", "recorded_by")
    if enterprise is not None:
        qs = qs.filter(enterprise=enterprise)
    if chemical is not None:
        qs = qs.filter(chemical=chemical)
    if date_from is not None:
        qs = qs.filter(occurred_on__gte=date_from)
    if date_to is not None:
        qs = qs.filter(occurred_on__lte=date_to)
    if direction:
        qs = qs.filter(direction=direction)
    if not include_voided:
        qs = qs.filter(voided_at__isnull=True)
    return qs.order_by("-occurred_on", "-id")


def balances_for(user: Any, enterprise: Enterprise | None = None) -> QuerySet:
    """Stock balances (kilograms) ``user`` may see, by category and chemical."""
    qs = StockBalance.objects.restrict(user, VIEW).select_related("chemical", "enterprise")
    if enterprise is not None:
        qs = qs.filter(enterprise=enterprise)
    return qs.order_by("enterprise_id", "chemical__category", "chemical_id")


def stock_counts_for(user: Any, enterprise: Enterprise | None = None) -> QuerySet:
    qs = StockCount.objects.restrict(user, VIEW).select_related("chemical", "enterprise")
    if enterprise is not None:
        qs = qs.filter(enterprise=enterprise)
    return qs.order_by("-counted_on", "-id")


# -- discrepancies ------------------------------------------------------------------------------
def discrepancies_for(user: Any, action: str = VIEW) -> QuerySet:
    """Discrepancies ``user`` may ``action`` (none for enterprise users)."""
    return Discrepancy.objects.restrict(user, action).select_related(
        "enterprise", "enterprise__division", "chemical", "assignee")


def discrepancy_queue(user: Any, *, rule: str | None = None, status: str | Iterable[str] | None = None,
                      severity: str | None = None, overdue: bool | None = None, division: Any = None,
                      today: date | None = None) -> QuerySet:
    """The supervisor's work queue: visible discrepancies, open ones first (overdue on top,
    then by deadline, undated last), then in progress, then closed.

    ``status`` one value or several; ``overdue=True`` keeps open or in-progress ones whose
    deadline is before today (local date), ``False`` the others; ``division`` keeps
    enterprises in that division's subtree.
    """
    from django.db.models import Case, F, When

    today = today or local_today()
    qs = discrepancies_for(user)
    if rule:
        qs = qs.filter(rule=rule)
    if status:
        qs = qs.filter(status__in=[status] if isinstance(status, str) else list(status))
    if severity:
        qs = qs.filter(severity=severity)
    overdue_q = Q(status__in=OPEN_STATUSES, deadline__lt=today)
    if overdue is True:
        qs = qs.filter(overdue_q)
    elif overdue is False:
        qs = qs.exclude(overdue_q)
    if division is not None:
        qs = qs.filter(enterprise__division__path__startswith=division.path)
    rank = Case(When(status=DiscrepancyStatus.OPEN, then=Value(0)),
                When(status=DiscrepancyStatus.IN_PROGRESS, then=Value(1)), default=Value(2),
                output_field=IntegerField())
    return qs.annotate(status_rank=rank).order_by("status_rank", F("deadline").asc(nulls_last=True), "-id")


def discrepancy_evidence(user: Any, discrepancy: Discrepancy) -> dict[str, Any]:
    """The evidence of a discrepancy as the user may see it: ``entries`` (ledger entries,
    oldest first), ``licences`` and ``stock_count`` (or ``None``)."""
    entries = (LedgerEntry.objects.restrict(user, VIEW).filter(discrepancies=discrepancy)
               .select_related("enterprise", "chemical", "counterparty").order_by("occurred_on", "id"))
    licences = (Licence.objects.restrict(user, VIEW).filter(discrepancies=discrepancy)
                .select_related("enterprise").prefetch_related("lines__chemical").order_by("valid_until", "id"))
    count = None
    if discrepancy.stock_count_id:
        count = StockCount.objects.restrict(user, VIEW).filter(pk=discrepancy.stock_count_id).select_related(
            "chemical").first()
    return {"entries": list(entries), "licences": list(licences), "stock_count": count}


def assignee_candidates(user: Any, discrepancy: Discrepancy) -> QuerySet:
    """Active users who could work on ``discrepancy``: holders of
    ``precursors.change_discrepancy`` through a role (not assigned-only) granted in a
    division whose subtree contains the enterprise's division, plus ``user``. Names only;
    the service checks the assignee when it saves."""
    from django.contrib.auth import get_user_model

    from jindu.accounts.models import RoleAssignment

    path = discrepancy.enterprise.division.path
    parts = [p for p in path.split("/") if p]
    prefixes = ["/".join(parts[:i]) + "/" for i in range(1, len(parts) + 1)]
    holders = RoleAssignment.objects.filter(
        division__path__in=prefixes, role__assigned_only=False,
        role__permissions__content_type__app_label="precursors",
        role__permissions__codename="change_discrepancy").values("user_id")
    User = get_user_model()
    return (User.objects.filter(Q(pk__in=holders) | Q(pk=user.pk), is_active=True)
            .select_related("unit").order_by("username"))


def open_discrepancies_by_rule(user: Any) -> list[dict[str, Any]]:
    """``[{"rule", "title", "violations", "reviews", "total", "overdue"}]`` over open and
    in-progress discrepancies the user may see, most first. One query."""
    today = local_today()
    rows = (discrepancies_for(user).filter(status__in=OPEN_STATUSES).order_by().values("rule")
            .annotate(total=Count("pk"),
                      violations=Count("pk", filter=Q(severity=DiscrepancySeverity.VIOLATION)),
                      reviews=Count("pk", filter=Q(severity=DiscrepancySeverity.REVIEW)),
                      overdue=Count("pk", filter=Q(deadline__lt=today))))
    out = [{**r, "title": rule_title(r["rule"])} for r in rows]
    return sorted(out, key=lambda r: (-r["total"], r["rule"]))


# -- inspections (read through the inspections app's selectors) -------------------------------
def inspection_target(user: Any, enterprise: Enterprise):
    """The inspection target mirroring ``enterprise`` (``source_model="precursors.Enterprise"``,
    ``source_key=str(pk)``) if the user may see it, else ``None``."""
    from jindu.inspections import selectors as inspections

    if not has_model_permission(user, _target_model(), VIEW):
        return None
    return inspections.targets_for(user).filter(source_model=TARGET_SOURCE_MODEL,
                                                source_key=str(enterprise.pk)).first()


def inspections_of(user: Any, enterprise: Enterprise) -> dict[str, Any]:
    """``{"target", "inspections", "hazards", "may_view"}`` for the enterprise page: the
    inspections and hazards of the enterprise's inspection target, through
    :mod:`jindu.inspections.selectors`. ``may_view`` is false for roles without inspection
    permissions (enterprise users), and the lists are then empty."""
    from jindu.inspections import selectors as inspections
    from jindu.inspections.models import Hazard, Inspection

    may = has_model_permission(user, Inspection, VIEW)
    target = inspection_target(user, enterprise) if may else None
    if target is None:
        return {"target": None, "inspections": [], "hazards": [], "may_view": may}
    found = list(inspections.inspections_of_target(user, target)[:20])
    hazards = []
    if has_model_permission(user, Hazard, VIEW):
        hazards = list(inspections.hazards_for(user).filter(target=target).order_by("-found_at", "pk")[:20])
    return {"target": target, "inspections": found, "hazards": hazards, "may_view": may}


def _target_model():
    from jindu.inspections.models import Target

    return Target


# -- overview ----------------------------------------------------------------------------------
@dataclass
class Overview:
    """The precursor overview of a user's scope for one local calendar year.

    ``by_kind``: ``[{"kind", "label", "total", "operating", "cat1", "cat2", "cat3"}]`` —
    enterprises per kind, and of those how many hold a balance or licence line of a
    Category 1/2/3 chemical; ``category_totals``: ``{1: n, 2: n, 3: n}`` (an enterprise may
    count under several categories); ``expiring_30``/``expiring_90``: numbers of valid
    licences ending within 30/90 days; ``expiring_soon``: the ten soonest of them;
    ``without_valid_licence``: operating enterprises holding no licence or filing valid
    today (every such enterprise needs one, Regulation arts. 7–17); ``discrepancies_by_rule`` (``None`` when the role may not see
    discrepancies); ``inspection_rows``/``inspection_totals`` from
    :func:`jindu.inspections.selectors.stats_by_division` for precursor enterprises
    (``None`` without inspection permissions).
    """

    year: int
    enterprises: int = 0
    by_kind: list[dict[str, Any]] = field(default_factory=list)
    category_totals: dict[int, int] = field(default_factory=dict)
    expiring_30: int = 0
    expiring_90: int = 0
    expiring_soon: list[Any] = field(default_factory=list)
    without_valid_licence: int = 0
    discrepancies_by_rule: list[dict[str, Any]] | None = None
    open_discrepancies: int | None = None
    inspection_rows: list[Any] | None = None
    inspection_totals: dict[str, int] | None = None
    total_balance_kg: Decimal | None = None


def overview(user: Any, year: int | None = None, *, today: date | None = None) -> Overview:
    """The overview of :class:`Overview` for ``user``'s scope and local calendar ``year``
    (default: this year). Query count is fixed (about ten) whatever the data size: the
    category counts are ``EXISTS`` subqueries aggregated per kind in one query."""
    today = today or local_today()
    year = year or today.year
    out = Overview(year=year)
    enterprises = Enterprise.objects.restrict(user, VIEW)
    cat_flags = {}
    for cat in ChemicalCategory.values:
        balances = StockBalance.objects.filter(enterprise=OuterRef("pk"), chemical__category=cat)
        lines = LicenceChemical.objects.filter(licence__enterprise=OuterRef("pk"), chemical__category=cat)
        cat_flags[f"c{cat}"] = Exists(balances) | Exists(lines)
    rows = (enterprises.annotate(**cat_flags).order_by().values("kind")
            .annotate(total=Count("pk"), operating=Count("pk", filter=Q(status=EnterpriseStatus.OPERATING)),
                      **{f"cat{c}": Count("pk", filter=Q(**{f"c{c}": True})) for c in ChemicalCategory.values}))
    by_kind = {r["kind"]: r for r in rows}
    labels = dict(EnterpriseKind.choices)
    for kind, label in labels.items():
        r = by_kind.get(kind, {})
        out.by_kind.append({"kind": kind, "label": label, "total": r.get("total", 0),
                            "operating": r.get("operating", 0),
                            **{f"cat{c}": r.get(f"cat{c}", 0) for c in ChemicalCategory.values}})
    out.enterprises = sum(r["total"] for r in out.by_kind)
    out.category_totals = {c: sum(r[f"cat{c}"] for r in out.by_kind) for c in ChemicalCategory.values}

    licences = Licence.objects.restrict(user, VIEW).filter(status=LicenceStatus.VALID)
    counts = licences.aggregate(
        e30=Count("pk", filter=Q(valid_until__gte=today, valid_until__lte=today + timedelta(days=EXPIRY_SOON_DAYS))),
        e90=Count("pk", filter=Q(valid_until__gte=today,
                                 valid_until__lte=today + timedelta(days=EXPIRY_HORIZON_DAYS))),
    )
    out.expiring_30, out.expiring_90 = counts["e30"], counts["e90"]
    valid_now = Licence.objects.filter(enterprise=OuterRef("pk"), status=LicenceStatus.VALID,
                                       valid_from__lte=today, valid_until__gte=today)
    out.without_valid_licence = enterprises.filter(status=EnterpriseStatus.OPERATING).exclude(
        Exists(valid_now)).count()
    out.expiring_soon = list(licences_expiring(user, EXPIRY_HORIZON_DAYS, today=today)[:10])

    if may_view_discrepancies(user):
        out.discrepancies_by_rule = open_discrepancies_by_rule(user)
        out.open_discrepancies = sum(r["total"] for r in out.discrepancies_by_rule)

    from jindu.inspections.models import Inspection

    if has_model_permission(user, Inspection, VIEW):
        from jindu.inspections import selectors as inspections

        rows = inspections.stats_by_division(user, year_period(year), kinds=[TARGET_KIND])
        out.inspection_rows = rows
        out.inspection_totals = inspections.totals(rows)
    return out
