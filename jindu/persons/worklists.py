"""Worklists: what case work is due, read from the :class:`~jindu.persons.models.DueItem` rows
the schedule keeps (one row per person and kind: contact, home visit, urinalysis, hair test,
reassessment, plan review, report, handover).

Buckets are by local date (DESIGN.md "Time"; ``jindu.core.timeutils``): a deadline is due
all of its local day and overdue from the next local midnight, so

- ``overdue``: ``due_on`` before today;
- ``today``: ``due_on`` is today;
- ``week``: later this ISO week (tomorrow up to and including Sunday; empty on a Sunday).

The buckets do not overlap; "due this week" on a page is ``today`` + ``week``. Everything is
scoped through ``Person.objects.restrict(user)``. The per-division counts are one grouped
query whatever the number of rows (group by the code prefix of the residence village).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q
from django.db.models.functions import Substr

from jindu.core.scope import VIEW, grant_roots, permission_name
from jindu.core.timeutils import local_today, week_period
from jindu.geo.choices import Level
from jindu.geo.models import Division
from jindu.persons.choices import DueKind
from jindu.persons.models import DueItem, Person

BUCKETS = ("overdue", "today", "week")

#: How many leading digits of a village code name the division one level below each level.
_CHILD_CODE_LENGTH = {Level.PROVINCE: 4, Level.CITY: 6, Level.DISTRICT: 9, Level.TOWN: 12}


def week_end(today: dt.date) -> dt.date:
    """Sunday of the ISO week containing ``today`` (``timeutils.week_period``)."""
    return week_period(today).last


def bucket_of(due_on: dt.date, today: dt.date) -> str | None:
    """``"overdue"``, ``"today"``, ``"week"`` or ``None`` (after this week)."""
    if due_on < today:
        return "overdue"
    if due_on == today:
        return "today"
    if due_on <= week_end(today):
        return "week"
    return None


def _bucket_counts(today: dt.date) -> dict[str, Count]:
    return {
        "overdue": Count("pk", filter=Q(due_on__lt=today)),
        "today": Count("pk", filter=Q(due_on=today)),
        "week": Count("pk", filter=Q(due_on__gt=today)),
    }


def people_for(user: Any):
    """People ``user`` may see (``Person.objects.restrict(user)``), records merged into another
    person excluded."""
    return Person.objects.restrict(user, VIEW).filter(merged_into=None)


def my_people(user: Any):
    """People assigned to ``user`` (the social worker's caseload), within ``user``'s scope."""
    return people_for(user).filter(assigned_worker=user)


def _due_until(persons, until: dt.date, *, materialise: bool = False):
    # ``next_due_on`` is the minimum of the person's due dates (derivation.apply_derivation), so
    # the redundant person filter lets the database start from the (worker, next_due_on) index.
    people = persons.filter(next_due_on__lte=until).values("pk")
    if materialise:
        # A caseload is a few dozen people: reading their ids first keeps the due-item query on
        # the (person, kind) index whatever the size of the registry. As a subquery, PostgreSQL
        # may instead walk the due_on index over every overdue item of the city (bench persons).
        people = list(people.values_list("pk", flat=True))
    return DueItem.objects.filter(person__in=people, due_on__lte=until)


@dataclass
class Worklist:
    """Due items of a set of people, split into the three buckets (lists of ``DueItem``
    with ``person`` and its residence division loaded; each item carries ``.bucket``)."""

    today: dt.date
    week_end: dt.date
    overdue: list[DueItem] = field(default_factory=list)
    due_today: list[DueItem] = field(default_factory=list)
    this_week: list[DueItem] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.overdue) + len(self.due_today) + len(self.this_week)

    def counts(self) -> dict[str, int]:
        return {"overdue": len(self.overdue), "today": len(self.due_today), "week": len(self.this_week)}


def worklist_of(persons, *, today: dt.date | None = None, materialise: bool = False) -> Worklist:
    """The worklist of the people in ``persons`` (an already scoped Person queryset): one
    query for the due items of this week and before (two with ``materialise``, for small
    sets of people such as a caseload)."""
    today = today or local_today()
    end = week_end(today)
    result = Worklist(today=today, week_end=end)
    items = (_due_until(persons, end, materialise=materialise)
             .select_related("person", "person__residence_division", "person__residence_division__parent")
             .order_by("due_on", "person__name", "person_id", "kind"))
    target = {"overdue": result.overdue, "today": result.due_today, "week": result.this_week}
    for item in items:
        item.bucket = bucket_of(item.due_on, today)
        item.days_late = (today - item.due_on).days if item.bucket == "overdue" else 0
        target[item.bucket].append(item)
    return result


def my_worklist(user: Any, *, today: dt.date | None = None) -> Worklist:
    """The social worker's day ("我的工作台"): due items of the people assigned to ``user``."""
    return worklist_of(my_people(user), today=today, materialise=True)


def counts_by_kind(persons, *, today: dt.date | None = None) -> dict[str, dict[str, int]]:
    """``{kind: {"overdue": n, "today": n, "week": n}}`` for ``persons`` (one grouped query;
    every ``DueKind`` present, zeros included)."""
    today = today or local_today()
    out = {kind: dict.fromkeys(BUCKETS, 0) for kind in DueKind.values}
    rows = _due_until(persons, week_end(today)).values("kind").annotate(**_bucket_counts(today)).order_by()
    for row in rows:
        out.setdefault(row["kind"], dict.fromkeys(BUCKETS, 0)).update({b: row[b] for b in BUCKETS})
    return out


def summary(user: Any, *, today: dt.date | None = None) -> dict[str, Any]:
    """Counts for the worklist card on the home page: ``{"mine": {bucket: n}, "has_caseload":
    bool, "scope": {bucket: n} | None}`` — ``scope`` (everyone the user may see) only for users
    who see more than their own caseload."""
    today = today or local_today()
    mine = _totals(counts_by_kind(my_people(user), today=today))
    caseload = my_people(user).exists()
    roots = grant_roots(user, permission_name(Person, VIEW))
    scope = _totals(counts_by_kind(people_for(user), today=today)) if roots is None or roots else None
    return {"today": today, "week_end": week_end(today), "mine": mine, "has_caseload": caseload, "scope": scope}


def _totals(by_kind: dict[str, dict[str, int]]) -> dict[str, int]:
    return {b: sum(v[b] for v in by_kind.values()) for b in BUCKETS}


# --- per division, with drill-down ---------------------------------------------------------------

@dataclass
class DivisionRow:
    """Counts of one child division: ``counts[kind][bucket]`` and ``totals[bucket]``."""

    division: Division
    counts: dict[str, dict[str, int]]
    totals: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.totals.values())

    @property
    def overdue_by_kind(self) -> list[tuple[str, int]]:
        """``[(kind label, overdue count)]``, largest first, kinds with none left out."""
        rows = [(str(DueKind(k).label), c["overdue"]) for k, c in self.counts.items() if c["overdue"]]
        return sorted(rows, key=lambda r: -r[1])


@dataclass
class DivisionWorklist:
    """The drill-down page's data for ``division``: one row per child division (districts of
    a city, towns of a district, villages of a town), or, for a village, its ``worklist`` of
    people. ``totals`` / ``by_kind`` cover the whole division."""

    division: Division
    today: dt.date
    week_end: dt.date
    rows: list[DivisionRow]
    by_kind: dict[str, dict[str, int]]
    totals: dict[str, int]
    worklist: Worklist | None = None


def root_divisions(user: Any) -> list[Division]:
    """Where a user's drill-down starts: the top divisions of their person grants (the city
    for users who see everywhere)."""
    roots = grant_roots(user, permission_name(Person, VIEW), include_assigned=True)
    if roots is None:
        return list(Division.objects.filter(level=Level.CITY).order_by("code")[:20])
    return list(Division.objects.filter(path__in=roots).order_by("code"))


def division_worklist(user: Any, division: Division, *, today: dt.date | None = None) -> DivisionWorklist:
    """Counts per child division, kind and bucket of the people ``user`` may see living in
    ``division`` (one grouped query, plus one for the child divisions); a village (or grid)
    gets the list of due items instead."""
    today = today or local_today()
    end = week_end(today)
    persons = people_for(user).filter(residence_division__path__startswith=division.path)
    child_len = _CHILD_CODE_LENGTH.get(division.level)
    if child_len is None:  # village or grid: the people themselves
        worklist = worklist_of(persons, today=today)
        by_kind = {kind: dict.fromkeys(BUCKETS, 0) for kind in DueKind.values}
        for bucket, items in (("overdue", worklist.overdue), ("today", worklist.due_today),
                              ("week", worklist.this_week)):
            for item in items:
                by_kind.setdefault(item.kind, dict.fromkeys(BUCKETS, 0))[bucket] += 1
        return DivisionWorklist(division=division, today=today, week_end=end, rows=[], by_kind=by_kind,
                                totals=worklist.counts(), worklist=worklist)

    grouped = (_due_until(persons, end)
               .annotate(unit=Substr("person__residence_division__code", 1, child_len))
               .values("unit", "kind").annotate(**_bucket_counts(today)).order_by())
    per_unit: dict[str, dict[str, dict[str, int]]] = {}
    for row in grouped:
        per_unit.setdefault(row["unit"], {})[row["kind"]] = {b: row[b] for b in BUCKETS}
    children = Division.objects.filter(parent=division).exclude(level=Level.GRID).order_by("code")
    rows = []
    by_kind = {kind: dict.fromkeys(BUCKETS, 0) for kind in DueKind.values}
    for child in children:
        counts = {kind: dict.fromkeys(BUCKETS, 0) for kind in DueKind.values}
        for kind, buckets in per_unit.get(child.code[:child_len], {}).items():
            counts.setdefault(kind, dict.fromkeys(BUCKETS, 0)).update(buckets)
            for b in BUCKETS:
                by_kind.setdefault(kind, dict.fromkeys(BUCKETS, 0))[b] += buckets[b]
        rows.append(DivisionRow(division=child, counts=counts, totals=_totals(counts)))
    rows.sort(key=lambda r: (-r.totals["overdue"], -r.total, r.division.code))
    return DivisionWorklist(division=division, today=today, week_end=end, rows=rows, by_kind=by_kind,
                            totals=_totals(by_kind))
