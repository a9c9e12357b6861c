"""Indicators of the registry and its case work, for the statistics page, the dashboards
(``reporting``) and the annual assessment (``assessment``) — the figures the seed quotes
(``seed/SYSTEM.md`` "People who use drugs": 帮扶救助 18957 人次, 237 placed in jobs, 18
start-up grants, 62 given farming guidance, execution rate 100 %, share of current users
1.89 % → 0.25 %).

Every function is given the user and counts only what the user may see:

- people: ``Person.objects.restrict(user, "view")`` without merged duplicates
  (``merged_into``; their records were moved to the kept person) and without the people the
  user reads only through a temporary access (``workflows.people``): a temporary access is
  for reading one file, not for counting another town's people;
- records of people (events, contacts, help given): the same people, through the records'
  own ``restrict`` (``PersonScoped``);
- ``division`` (optional): narrows to that division's subtree (a ``path`` prefix). People are
  counted where they live now (``residence_division``), the registry's jurisdiction rule.

Counts are grouped in the database: the number of queries does not depend on the number of
people, records or divisions. Two indicators need a state the timeline gives on a given day
(the status on a past date; the measure on a period's last day, for urinalyses due by the
baseline). They take it from the person's cached derived columns (``status``,
``status_since``, ``measure_end_on``, ``derived_on``: written by ``derivation`` after every
change and nightly) wherever those already are that state — a status that began on or before
the day and was derived on or after it held on that day — and read and derive
(``rules.derive_state``, about a millisecond per person) only the timelines of the people
whose status changed after the day, in one streamed query (the shape
``derivation.load_inputs`` reads). ``tests/test_statistics.py`` checks that the figures equal
those of a replay of every timeline.

Periods are local calendar periods (``jindu.core.timeutils.Period``). Every date counted here
is a ``DateField`` holding a local date (``occurred_on``, ``given_on`` …), so a record dated the
last day of a month counts in that month whatever the UTC offset.

Results are ``int`` counts and ``Decimal`` amounts and rates (percent to one decimal, per
mille to two), ``None`` where the denominator is zero or missing.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Iterable, Sequence

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Substr
from django.utils.translation import gettext_lazy as _

from jindu.core.scope import VIEW, holds_permission_at, permission_name
from jindu.core.timeutils import Period, local_today, period_containing, periods_between
from jindu.geo.choices import Level
from jindu.geo.models import Division, Population
from jindu.persons import derivation, rules, schedule
from jindu.persons.choices import (
    CURRENT_USER_STATUSES, AssistanceKind, ContactKind, EventKind, Status, TestResult, Tier,
)
from jindu.persons.models import Assistance, Contact, Event, Person
from jindu.persons.timeline import PersonState, TimelineEvent

try:  # the workflows module owns the handover and execution rates; reuse them when present
    from jindu.persons import workflows as _workflows
except ImportError:  # pragma: no cover - the module ships with the app
    _workflows = None

__all__ = [
    "GROUP_LEVELS", "NO_POPULATION", "NOT_RECORDED",
    "Row", "DivisionRow", "PeriodCount", "ShareRow", "Compliance", "ContactCompliance", "HelpRow", "HelpSummary",
    "people", "people_by_status", "status_rows", "people_by_tier", "people_by_drug", "people_by_division",
    "new_finds", "relapses", "current_user_share", "handover_rates", "handover_rates_by_division",
    "urinalyses_done_vs_due", "contacts_done_vs_due", "tests_done", "help_given",
    "percent", "per_mille", "series_periods",
]

#: Division levels people can be grouped by, with the length of the ``Division.path`` prefix
#: that names the ancestor at that level: paths are the short codes joined by "/" (2, 4, 6,
#: 9 and 12 digits: ``46/4601/460107/460107001/460107001001/``).
GROUP_LEVELS = {Level.DISTRICT: 15, Level.TOWN: 25, Level.VILLAGE: 38}
NO_POPULATION = _("无人口数据")
NOT_RECORDED = _("未记录")
NOT_ASSESSED = _("未评估")
#: Test results that count as a test done (the schedule's rule, ``derivation._DONE_RESULTS``):
#: a refusal or a missed test is not a test done.
DONE_RESULTS = (TestResult.NEGATIVE, TestResult.POSITIVE, TestResult.INVALID)
#: Statuses of a community measure, the only ones with a urinalysis baseline.
MEASURE_ORDERS = (EventKind.COMMUNITY_REHAB_ORDER, EventKind.COMMUNITY_RECOVERY_ORDER)
#: Average days of a month, to turn monthly contact frequencies into a due count for day- and
#: week-long periods (365.25 / 12).
DAYS_PER_MONTH = Decimal("30.4375")
_MONTHS_IN = {"month": 1, "quarter": 3, "year": 12}


# --- small helpers ---------------------------------------------------------------------------

def percent(part: int | Decimal, whole: int | Decimal) -> Decimal | None:
    """``part / whole`` in percent to one decimal (``Decimal``, half up); ``None`` when
    ``whole`` is 0 or ``None``."""
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def per_mille(part: int | Decimal, whole: int | Decimal) -> Decimal | None:
    """``part / whole`` in per mille (‰) to two decimals; ``None`` when ``whole`` is 0 or ``None``."""
    if not whole:
        return None
    return (Decimal(part) * 1000 / Decimal(whole)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def series_periods(period: Period) -> list[Period]:
    """The sub-periods a chart of ``period`` is drawn in: months of a year or a quarter, days
    of a month, a week or a day."""
    kind = "month" if period.kind in ("year", "quarter") else "day"
    return periods_between(kind, period.first, period.last)


def _not_corrected() -> Exists:
    return ~Exists(Event.objects.filter(corrects=OuterRef("pk")))


def _temporary_only(user: Any) -> QuerySet:
    if _workflows is not None:
        return _workflows.temporary_only_ids(user)
    from django.utils import timezone  # pragma: no cover

    from jindu.persons.choices import AccessStatus  # pragma: no cover
    from jindu.persons.models import TemporaryAccess  # pragma: no cover

    return TemporaryAccess.objects.filter(user=user, status=AccessStatus.APPROVED,  # pragma: no cover
                                          expires_at__gt=timezone.now()).values("person_id")


def people(user: Any, *, division: Division | None = None) -> QuerySet:
    """The people counted for ``user``: in scope (``restrict(user, "view")``), not merged into
    another record, not reached only through a temporary access, and — with ``division`` —
    living in its subtree."""
    qs = (Person.objects.restrict(user, VIEW).filter(merged_into__isnull=True)
          .exclude(pk__in=_temporary_only(user)))
    if division is not None:
        qs = qs.filter(residence_division__path__startswith=division.path)
    return qs


def _records(model: type, user: Any, division: Division | None) -> QuerySet:
    """Rows of a person's record ``model`` (events, contacts, help) of the people of :func:`people`."""
    qs = (model.objects.restrict(user, VIEW).filter(person__merged_into__isnull=True)
          .exclude(person__in=_temporary_only(user)))
    if division is not None:
        qs = qs.filter(person__residence_division__path__startswith=division.path)
    return qs


def _by_day(rows: Iterable[tuple[dt.date, int]], periods: Sequence[Period]) -> list["PeriodCount"]:
    """Per-day counts summed into ``periods`` (consecutive local periods)."""
    out = [PeriodCount(period=p) for p in periods]
    if not periods:
        return out
    index = {p.label: i for i, p in enumerate(periods)}
    kind = periods[0].kind
    for day, n in rows:
        i = index.get(period_containing(kind, day).label)
        if i is not None:
            out[i].count += n
    return out


def _range(periods: Sequence[Period]) -> tuple[dt.date, dt.date]:
    return min(p.first for p in periods), max(p.last for p in periods)


# --- shapes ------------------------------------------------------------------------------------

@dataclass
class Row:
    """One group of a breakdown: ``key`` (the stored value, ``""`` for none), ``label`` and ``count``."""

    key: str
    label: str
    count: int = 0


@dataclass
class DivisionRow:
    """People living in one division at the grouping level (``division`` ``None``: people
    whose residence is recorded above that level, labelled accordingly).

    ``by_status``: ``{Status value: count}``; ``total``: everyone counted; ``current``: the
    current drug users among them (``CURRENT_USER_STATUSES``).
    """

    division: Division | None
    label: str
    by_status: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.by_status.values())

    @property
    def current(self) -> int:
        return sum(n for s, n in self.by_status.items() if s in CURRENT_USER_STATUSES)


@dataclass
class PeriodCount:
    period: Period
    count: int = 0


# --- people by status, tier, drug, division ------------------------------------------------------

def _status_held_q(as_of: dt.date) -> Q:
    """People whose cached status (``Person.status``) is the status their timeline gives on
    ``as_of``: it began on or before ``as_of`` (``status_since``) and was derived on or after
    it (``derived_on``). ``status_since`` is the first day of the person's current status
    (``rules.derive_state``), so the status held on every day from then to the derivation
    date; the others must be derived from their timeline."""
    return Q(status_since__lte=as_of, derived_on__gte=as_of)


def _status_rows(qs: QuerySet, as_of: dt.date | None) -> list[tuple[int, str, str]]:
    """``(pk, residence path, status)`` of every person of ``qs``.

    ``as_of`` ``None``: the cached derived status (``Person.status``, rewritten after every
    change and nightly). A date: the status the timeline gives on that local date
    (``rules.derive_state``), counting only people registered or found using by then. The
    cached status is that status for everyone whose current status began by then
    (:func:`_status_held_q`: set-based, one query); only the people whose status changed
    after ``as_of`` (or was never derived) have their timeline read and derived — one more
    query for their paths and one for their timelines, whatever their number.
    """
    if as_of is None:
        return list(qs.values_list("pk", "residence_division__path", "status"))
    # A plain ``IN (subquery)``, not a correlated EXISTS: OR-ed with the date test, SQLite
    # answered the EXISTS by scanning the event-kind index once per person (minutes at 5,000).
    found = Event.objects.filter(kind=EventKind.FOUND_USING, occurred_on__lte=as_of).values("person_id")
    qs = qs.filter(Q(registered_on__lte=as_of) | Q(pk__in=found))
    held = _status_held_q(as_of)
    out = list(qs.filter(held).values_list("pk", "residence_division__path", "status"))
    rest = qs.filter(Q(status_since__isnull=True) | Q(status_since__gt=as_of)
                     | Q(derived_on__isnull=True) | Q(derived_on__lt=as_of))
    paths = dict(rest.values_list("pk", "residence_division__path"))
    if not paths:
        return out
    timelines = dict(_timelines(rest, upto=as_of))
    config = derivation.Config().rules
    out.extend((pk, path, rules.derive_state(timelines.get(pk, []), as_of, config, explain=False).status)
               for pk, path in paths.items())
    return out


def _resolve_as_of(as_of: dt.date | None) -> dt.date | None:
    """``None`` (use the cached status) for today or later, else the date."""
    if as_of is None or as_of >= local_today():
        return None
    return as_of


def people_by_status(user: Any, *, division: Division | None = None, as_of: dt.date | None = None) -> list[Row]:
    """People by control status (``choices.Status``, in that order, zeros included).

    Definition: the derived status (never typed in) of each person of :func:`people`; on
    ``as_of`` (a past local date) the status the timeline gives on that day, today or no date:
    the stored derived status. Source: ``persons.rules`` (禁毒法, 戒毒条例; legal_rules.md).
    One grouped query (today), or two whatever the number of people (a past date).
    """
    as_of = _resolve_as_of(as_of)
    counts: dict[str, int] = defaultdict(int)
    if as_of is None:
        for status, n in people(user, division=division).order_by().values_list("status").annotate(n=Count("pk")):
            counts[status] += n
    else:
        for _pk, _path, status in _status_rows(people(user, division=division), as_of):
            counts[status] += 1
    return [Row(key=s.value, label=str(s.label), count=counts.get(s.value, 0)) for s in Status]


def people_by_tier(user: Any, *, division: Division | None = None,
                   statuses: Sequence[str] | None = CURRENT_USER_STATUSES) -> list[Row]:
    """People by risk tier (分级分类: A, B, C1, C2, then "未评估" for no assessment), zeros
    included; by default current drug users only (``CURRENT_USER_STATUSES``: the abstinent,
    the dead and the emigrated are no longer managed by tier). The tier is the latest
    assessment's (``RiskAssessment.tier``, cached on the person). One grouped query."""
    qs = people(user, division=division)
    if statuses is not None:
        qs = qs.filter(status__in=list(statuses))
    counts = dict(qs.order_by().values_list("tier").annotate(n=Count("pk")))
    rows = [Row(key=t.value, label=str(t.label), count=counts.get(t.value, 0)) for t in Tier]
    rows.append(Row(key="", label=str(NOT_ASSESSED), count=counts.get("", 0)))
    return rows


def people_by_drug(user: Any, *, division: Division | None = None,
                   statuses: Sequence[str] | None = CURRENT_USER_STATUSES) -> list[Row]:
    """People by drug used (``Person.drugs``, the controlled-substances list), most people
    first, "未记录" last for people with no drug recorded. A person using several drugs counts
    under each, so the rows may add up to more than the people. By default current drug users
    only. ``key`` is the substance's primary key as text. One grouped query."""
    qs = people(user, division=division)
    if statuses is not None:
        qs = qs.filter(status__in=list(statuses))
    rows, none = [], 0
    for pk, name, n in (qs.order_by().values_list("drugs__pk", "drugs__name_zh")
                        .annotate(n=Count("pk", distinct=True))):
        if pk is None:
            none += n
        else:
            rows.append(Row(key=str(pk), label=name, count=n))
    rows.sort(key=lambda r: (-r.count, r.label))
    if none:
        rows.append(Row(key="", label=str(NOT_RECORDED), count=none))
    return rows


def status_rows(by_division: Iterable[DivisionRow]) -> list[Row]:
    """:func:`people_by_status` from a :func:`people_by_division` result (the same people,
    summed over the divisions), without querying again."""
    counts: dict[str, int] = defaultdict(int)
    for r in by_division:
        for status, n in r.by_status.items():
            counts[status] += n
    return [Row(key=s.value, label=str(s.label), count=counts.get(s.value, 0)) for s in Status]


def _visible_divisions(user: Any, level: str, division: Division | None) -> list[Division]:
    qs = Division.objects.restrict(user, VIEW).filter(level=level)
    if division is not None:
        qs = qs.filter(path__startswith=division.path)
    return list(qs.order_by("code"))


def _group_label(level: str) -> str:
    return str(_("（居住地未落实到%(level)s）") % {"level": Level(level).label})


def people_by_division(user: Any, level: str = Level.DISTRICT, *, division: Division | None = None,
                       as_of: dt.date | None = None) -> list[DivisionRow]:
    """People by division at ``level`` (``district`` / ``town`` / ``village``): each person is
    counted in the ancestor at that level of the village they live in (``geo`` paths), with
    a breakdown by status (see :func:`people_by_status` for ``as_of``).

    Rows: every division of that level the user can see (under ``division`` when given), zeros
    included, in code order; plus the divisions people live in that the division list does not
    show; then one row with ``division=None`` for people whose residence is recorded above
    ``level``. Two queries today (grouped counts, division names), or three on a past date.
    Raises ``ValueError`` for another level.
    """
    if level not in GROUP_LEVELS:
        raise ValueError(f"unknown grouping level {level!r}")
    length = GROUP_LEVELS[level]
    as_of = _resolve_as_of(as_of)
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    qs = people(user, division=division)
    if as_of is None:
        grouped = (qs.order_by().annotate(prefix=Substr("residence_division__path", 1, length))
                   .values_list("prefix", "status").annotate(n=Count("pk")))
        for prefix, status, n in grouped:
            counts[prefix][status] += n
    else:
        for _pk, path, status in _status_rows(qs, as_of):
            counts[path[:length]][status] += 1
    return _division_rows(user, level, division, counts)


def _division_rows(user: Any, level: str, division: Division | None,
                   counts: dict[str, dict[str, int]]) -> list[DivisionRow]:
    visible = {d.path: d for d in _visible_divisions(user, level, division)}
    missing = [p for p in counts if p not in visible]
    # Names of the divisions the user's own people live in: not secret even when the user's
    # role cannot list divisions (a social worker's caseload).
    extra = {d.path: d for d in Division.objects.filter(path__in=missing, level=level)} if missing else {}
    by_path = {**visible, **extra}
    rows = [DivisionRow(division=d, label=d.name, by_status=dict(counts.get(p, {})))
            for p, d in sorted(by_path.items(), key=lambda kv: kv[1].code)]
    unplaced: dict[str, int] = defaultdict(int)
    for prefix, statuses in counts.items():
        if prefix not in by_path:
            for s, n in statuses.items():
                unplaced[s] += n
    if unplaced:
        rows.append(DivisionRow(division=None, label=_group_label(level), by_status=dict(unplaced)))
    return rows


# --- new finds and relapses per period -----------------------------------------------------------

def new_finds(user: Any, periods: Sequence[Period], *, division: Division | None = None) -> list[PeriodCount]:
    """People newly found using (新发现吸毒人员) per period: people whose *first* ``found_using``
    event (not corrected) falls in the period — the person's first detection by the police,
    however late it was entered. A person is new once. One query (counts per day), whatever
    the number of events."""
    if not periods:
        return []
    first, last = _range(periods)
    earlier = (Event.objects.filter(person=OuterRef("person"), kind=EventKind.FOUND_USING)
               .filter(Q(occurred_on__lt=OuterRef("occurred_on")) | Q(occurred_on=OuterRef("occurred_on"),
                                                                     pk__lt=OuterRef("pk")))
               .filter(_not_corrected()))
    qs = (_records(Event, user, division)
          .filter(kind=EventKind.FOUND_USING, occurred_on__gte=first, occurred_on__lte=last)
          .filter(_not_corrected()).filter(~Exists(earlier)))
    rows = qs.order_by().values_list("occurred_on").annotate(n=Count("person", distinct=True))
    return _by_day(rows, periods)


def relapses(user: Any, periods: Sequence[Period], *, division: Division | None = None) -> list[PeriodCount]:
    """Relapses (复吸, person-times) per period: detected uses (``relapse`` or ``found_using``
    events, not corrected) of people who had been detected before — every detection but a
    person's first. Several detections of one person on one day count once. One query."""
    if not periods:
        return []
    first, last = _range(periods)
    detections = (EventKind.FOUND_USING, EventKind.RELAPSE)
    earlier = (Event.objects.filter(person=OuterRef("person"), kind__in=detections,
                                    occurred_on__lt=OuterRef("occurred_on"))
               .filter(_not_corrected()))
    qs = (_records(Event, user, division)
          .filter(kind__in=detections, occurred_on__gte=first, occurred_on__lte=last)
          .filter(_not_corrected()).filter(Exists(earlier)))
    rows = qs.order_by().values_list("occurred_on").annotate(n=Count("person", distinct=True))
    return _by_day(rows, periods)


# --- share of current users in the population ------------------------------------------------------

_KIND_ORDER = {Population.Kind.YEAR_END_RESIDENT: 0, Population.Kind.CENSUS_RESIDENT: 1,
               Population.Kind.REGISTERED: 2}


def populations_of(divisions: Iterable[Division], year: int) -> dict[int, Population | None]:
    """``{division pk: figure}``: for each division the figure
    :func:`jindu.geo.services.population_of` chooses (the latest year ≤ ``year``, year-end
    resident before census resident before registered), read in one query."""
    divisions = list(divisions)
    best: dict[int, Population] = {}
    for p in Population.objects.filter(division__in=[d.pk for d in divisions], year__lte=year):
        key = (-p.year, _KIND_ORDER.get(p.kind, 9))
        held = best.get(p.division_id)
        if held is None or key < (-held.year, _KIND_ORDER.get(held.kind, 9)):
            best[p.division_id] = p
    return {d.pk: best.get(d.pk) for d in divisions}


@dataclass
class ShareRow:
    """Current drug users of one division and the population they are divided by.

    - ``current_users``: people of :func:`people` living in the division whose status on
      ``as_of`` is in ``CURRENT_USER_STATUSES``;
    - ``population``: the ``geo.Population`` figure chosen for ``year`` (its ``year``, ``kind``
      and ``source_doc`` say what it is), ``None`` when there is none ("无人口数据");
    - ``complete``: the user sees every person of the division (a share of only part of the
      people would be wrong, so it is not given);
    - ``ratio``: ``current_users / population`` (``Decimal``), ``per_mille`` (‰, two
      decimals) and ``percent`` (three decimals): ``None`` without a figure or when incomplete.
    """

    division: Division
    current_users: int
    population: Population | None
    year: int
    as_of: dt.date
    complete: bool = True

    @property
    def ratio(self) -> Decimal | None:
        if self.population is None or not self.population.population or not self.complete:
            return None
        return Decimal(self.current_users) / Decimal(self.population.population)

    @property
    def per_mille(self) -> Decimal | None:
        return per_mille(self.current_users, self.population.population) if self.ratio is not None else None

    @property
    def percent(self) -> Decimal | None:
        if self.ratio is None:
            return None
        return (self.ratio * 100).quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)

    @property
    def note(self) -> str:
        """Why there is no share, in Chinese (empty when there is one)."""
        if self.population is None:
            return str(NO_POPULATION)
        if not self.complete:
            return str(_("仅能看到本辖区部分人员，不计算占比"))
        return ""


def current_user_share(user: Any, year: int, *, level: str = Level.DISTRICT, division: Division | None = None,
                       as_of: dt.date | None = None, by_division: list[DivisionRow] | None = None,
                       ) -> tuple[list[ShareRow], ShareRow | None]:
    """Share of current drug users in the population (现有吸毒人员占常住人口比例) per division
    at ``level`` and for the whole selection, for ``year``.

    Definition: current drug users (``CURRENT_USER_STATUSES``: everyone registered except the
    abstinent three years, the dead and the emigrated — NNCC drug-situation reports,
    legal_rules.md §2) living in the division on ``as_of`` (default: the end of ``year``, or
    today for the current year), divided by the division's population for ``year`` chosen by
    ``geo.services.population_of`` (census 2020 resident, later year-end resident; the figure's
    year, kind and source travel with the ratio; population.md "Use in indicators"). Provincial
    practice states it in per mille (Hainan 8.3‰ in 2016 → 0.58‰ in 2023, practice.md A14);
    the seed's "1.89% → 0.25%" is probably also per mille.

    Returns ``(rows, total)``: ``rows`` as :func:`people_by_division` (divisions only), and
    ``total`` for ``division`` — or, without one, for the smallest division containing every
    row (the city for a city user) — ``None`` when there is no row. Queries: constant
    (grouped counts, division names, one population query, the total's division).
    """
    today = local_today()
    if as_of is None:
        as_of = today if year >= today.year else dt.date(year, 12, 31)
    if by_division is None:
        by_division = people_by_division(user, level, division=division, as_of=as_of)
    rows = [r for r in by_division if r.division is not None]
    perm = permission_name(Person, VIEW)
    root = division or _common_ancestor([r.division for r in rows])
    figures = populations_of([r.division for r in rows] + ([root] if root is not None else []), year)
    share_rows = [ShareRow(division=r.division, current_users=r.current, population=figures[r.division.pk],
                           year=year, as_of=as_of, complete=holds_permission_at(user, perm, r.division.path))
                  for r in rows]
    total = None
    if root is not None:
        # Everyone counted, the people recorded above ``level`` included.
        total = ShareRow(division=root, current_users=sum(r.current for r in by_division),
                         population=figures[root.pk], year=year, as_of=as_of,
                         complete=holds_permission_at(user, perm, root.path))
    return share_rows, total


def _common_ancestor(divisions: Sequence[Division]) -> Division | None:
    """The deepest division whose subtree holds all of ``divisions`` (``None`` for none)."""
    if not divisions:
        return None
    parts = [d.path.rstrip("/").split("/") for d in divisions]
    common = []
    for segs in zip(*parts):
        if len(set(segs)) != 1:
            break
        common.append(segs[0])
    if not common:
        return None
    return Division.objects.filter(path="/".join(common) + "/").first()


# --- handover and execution rates -------------------------------------------------------------------

def handover_rates(user: Any, period: Period, *, division: Division | None = None,
                   today: dt.date | None = None):
    """The execution and handover rates of ``period`` (``workflows.RateRow``):

    - execution rate (强制隔离戒毒决定执行率, the seed's "执行率达100%"): share of compulsory
      isolation decisions dated in the period followed by an admission;
    - on-time handover rate (按时衔接率): share of releases in the period whose person reported
      within 15 days (戒毒条例 art. 38), releases still inside their 15 days left out;
    - pickup rate (出所必接率): share collected on the release day (戒毒条例 art. 34).

    Computed by ``jindu.persons.workflows.handover_rates`` (one definition for the workflow
    pages and the statistics)."""
    return _workflows.handover_rates(user, period, division, today)


def handover_rates_by_division(user: Any, period: Period, *, parent: Division | None = None,
                               today: dt.date | None = None) -> list:
    """:func:`handover_rates` for each child division of ``parent`` (the districts of the
    user's scope without one): ``workflows.rates_by_division``."""
    return _workflows.rates_by_division(user, period, parent, today)


# --- contacts and tests done vs due ------------------------------------------------------------------

@dataclass
class Compliance:
    """Urinalyses done against the baseline of community measures in one period.

    - ``people``: people with at least one urinalysis due in the period;
    - ``due``: urinalyses the baseline makes due in the period (``schedule.expected_urinalyses``:
      one per interval slot of the measure ending in the period — monthly in the first year of
      社区戒毒, every 2 months in the second, every 3 in the third; 社区康复 by its term;
      casework_rules.md §6.2, JDS/PT12 local practice);
    - ``done``: urinalyses with a result (negative, positive or invalid; not a refusal or a
      missed test; not corrected) those people had in the period;
    - ``met``: Σ min(done, due) per person (extra tests of one person do not hide another's
      missing ones); ``rate``: ``met / due`` in percent; ``people_met``: people with done ≥ due.
    """

    people: int = 0
    due: int = 0
    done: int = 0
    met: int = 0
    people_met: int = 0

    @property
    def rate(self) -> Decimal | None:
        return percent(self.met, self.due)


def urinalyses_done_vs_due(user: Any, period: Period, *, division: Division | None = None) -> Compliance:
    """Urinalyses done vs due by the baseline (:class:`Compliance`) in ``period``.

    Only people with a community measure order (社区戒毒 / 社区康复) dated on or before the
    period's last day count. Each person's measure and its start are those the timeline
    gives on the period's last day (``rules.derive_state``); a measure that ended or changed
    inside the period is counted by its state on that last day (a known simplification: the
    slots before the change are not counted). People neither in a community measure now nor
    with a status change since the period began (stored derived columns, recomputed nightly)
    are not read.

    Set-based where the cached derived columns already are that state: a person whose
    cached status (a community measure) began by the period's last day and was derived on or
    after it, or — for a period ending after the derivation date — whose measure runs past
    the period's end with no event dated after the derivation, is under that measure on the
    last day, started on ``status_since`` and ending on ``measure_end_on``; their urinalyses
    done are counted by the database. A cached status without a baseline that held on the
    last day gives nothing due. Only the remaining people (status changed after the period,
    a measure ending between the derivation and the period's end, a correction on their
    timeline) have their timeline read and derived. Two queries whatever the number of
    people; the Python work is a few microseconds per person under a measure, plus about a
    millisecond per person derived from the timeline.
    """
    cfg = derivation.Config()
    ordered = Event.objects.filter(kind__in=MEASURE_ORDERS, occurred_on__lte=period.last).values("person_id")
    # Someone under a community measure during the period is in one now, or changed status
    # since the period began (the measure's end changes the stored derived status): leave out
    # the others before reading timelines — the bulk of a registry, whose measures ended long ago.
    community = (Status.COMMUNITY_DRUG_REHAB, Status.COMMUNITY_REHAB)
    in_period = (Q(status__in=community) | Q(status_since__gte=period.first) | Q(status_since__isnull=True))
    qs = people(user, division=division).filter(in_period, pk__in=ordered)
    with_baseline = [s for s, rule in cfg.schedule.statuses.items() if rule.baseline]
    measures = [s for s in community if s in with_baseline]
    last = period.last
    later = Event.objects.filter(person=OuterRef("pk"), occurred_on__gt=OuterRef("derived_on"))
    corrected = Event.objects.filter(kind=EventKind.CORRECTION).values("person_id")
    # The cached state held on the last day (derived on or after it, the status begun by
    # then), or is the state the derivation stopped at, with nothing recorded since (a
    # period ending after the derivation date: only time passes, see the docstring).
    held_then = _status_held_q(last)
    held_now = Q(status_since__isnull=False, derived_on__lt=last) & ~Exists(later)
    # Under the cached measure on the last day; the urinalyses done are counted in the
    # database, so no correction may void one.
    cached = (Q(status__in=measures) & (held_then | (held_now & Q(measure_end_on__gte=last)))
              & ~Q(pk__in=corrected))
    # A cached status with no baseline that held on the last day gives nothing due. After the
    # derivation date, time alone never starts a community measure (a reporting event does:
    # ``rules``), and a measure that ends gives way to a status without a baseline — as long
    # as the configuration gives no baseline to any status but the community measures.
    nothing = held_then & ~Q(status__in=with_baseline)
    if set(with_baseline) <= set(measures):
        nothing |= held_now & (~Q(status__in=measures) | Q(status__in=measures, measure_end_on__lt=last))
    before = period.first - dt.timedelta(days=1)
    out = Compliance()

    slots: dict[tuple, int] = {}  # people with the same measure, start and end have the same slots

    def due_in_period(state) -> int:
        key = (state.status, state.measure_started_on, state.reported_on, state.measure_ordered_on,
               state.measure_end_on)
        if key not in slots:
            at_end = schedule.expected_urinalyses(state, period.last, cfg.schedule)
            slots[key] = at_end - (schedule.expected_urinalyses(state, before, cfg.schedule) or 0) if at_end else 0
        return slots[key]

    def add(state, done_of) -> None:
        due = due_in_period(state)
        if due <= 0:
            return
        done = done_of()
        out.people += 1
        out.due += due
        out.done += done
        out.met += min(done, due)
        out.people_met += int(done >= due)

    done = (Event.objects.filter(person=OuterRef("pk"), kind=EventKind.URINALYSIS, result__in=DONE_RESULTS,
                                 occurred_on__gte=period.first, occurred_on__lte=period.last)
            .order_by().values("person").annotate(n=Count("pk")).values("n"))
    for status, since, end, n in (qs.filter(cached).annotate(done=Subquery(done))
                                  .values_list("status", "status_since", "measure_end_on", "done")):
        state = PersonState(as_of=period.last, status=status, status_since=since, measure=status,
                            measure_started_on=since, reported_on=since, measure_end_on=end)
        add(state, lambda n=n: n or 0)
    for _pk, events in _timelines(qs.exclude(cached).exclude(nothing), upto=last):
        state = rules.derive_state(events, period.last, cfg.rules, explain=False)
        voided = rules.voided_ids(events)
        add(state, lambda events=events, voided=voided: sum(
            1 for e in events if e.kind == EventKind.URINALYSIS and e.result in DONE_RESULTS
            and period.first <= e.occurred_on <= period.last and e.id not in voided))
    return out


def _timelines(qs: QuerySet, *, upto: dt.date | None = None) -> Iterable[tuple[int, list[TimelineEvent]]]:
    """``(person pk, timeline)`` of each person of ``qs`` that has events (ordered by date and
    id, as ``derivation.load_inputs`` reads them): one query, streamed. With ``upto``, only
    what ``rules.derive_state`` reads for that date: the events dated on or before it, and
    every correction (a correction applies whatever its own date)."""
    events = Event.objects.filter(person_id__in=qs.values("pk"))
    if upto is not None:
        events = events.filter(Q(occurred_on__lte=upto) | Q(kind=EventKind.CORRECTION))
    rows = (events.order_by("person_id", "occurred_on", "pk")
            .values_list("person_id", "kind", "occurred_on", "pk", "result", "term_months", "days", "approved",
                         "corrects_id"))
    current_pk, timeline = None, []
    for pid, kind, occurred_on, pk, result, term, days, approved, corrects in rows.iterator(chunk_size=20_000):
        if pid != current_pk:
            if timeline:
                yield current_pk, timeline
            current_pk, timeline = pid, []
        timeline.append(TimelineEvent(kind, occurred_on, pk, result or None, term, days, approved, corrects))
    if timeline:
        yield current_pk, timeline


@dataclass
class ContactCompliance:
    """Contacts and home visits done vs due in one period.

    ``due_contacts`` / ``due_home_visits`` (``Decimal``, one decimal: a bimonthly contact is half
    due in a month): for each current person, the tier's frequency (``schedule`` tier overlay,
    casework_rules.md §6.3: A twice a month, B monthly, C1 every 2 months, C2 none) times the
    period's length, where the person's status calls for it (``StatusRule.overlay_kinds``);
    people without a tier have nothing due. The status and tier are today's (the stored derived
    values): for a past period this is an approximation.

    ``done_contacts``: contacts of every kind but a police meeting (as the schedule counts
    them); ``done_home_visits``: home visits; ``people_contacted``: distinct people with a
    contact. ``rate`` / ``home_visit_rate``: done / due in percent (may exceed 100).
    """

    done_contacts: int = 0
    done_home_visits: int = 0
    people_contacted: int = 0
    due_contacts: Decimal = Decimal("0.0")
    due_home_visits: Decimal = Decimal("0.0")
    by_kind: list[Row] = field(default_factory=list)

    @property
    def rate(self) -> Decimal | None:
        return percent(self.done_contacts, self.due_contacts)

    @property
    def home_visit_rate(self) -> Decimal | None:
        return percent(self.done_home_visits, self.due_home_visits)


def _due_in(period: Period, rule: Any) -> Decimal:
    """How many times an overlay rule's work is due in ``period`` (``Decimal``)."""
    if rule is None or rule.interval is None:
        return Decimal(0)
    months = Decimal(_MONTHS_IN[period.kind]) if period.kind in _MONTHS_IN else Decimal(period.days) / DAYS_PER_MONTH
    if rule.per_month:
        return months * Decimal(str(rule.per_month))
    if rule.interval.months and not rule.interval.days:
        return months / rule.interval.months
    days = Decimal(period.days) if period.kind not in _MONTHS_IN else months * DAYS_PER_MONTH
    return days / Decimal(rule.interval.months * DAYS_PER_MONTH + rule.interval.days)


def contacts_done_vs_due(user: Any, period: Period, *, division: Division | None = None) -> ContactCompliance:
    """Contacts and home visits done vs due in ``period`` (:class:`ContactCompliance`).
    Three grouped queries, whatever the number of people or contacts."""
    cfg = derivation.Config().schedule
    out = ContactCompliance()
    contacts = _records(Contact, user, division).filter(occurred_on__gte=period.first, occurred_on__lte=period.last)
    counts = dict(contacts.order_by().values_list("kind").annotate(n=Count("pk")))
    out.by_kind = [Row(key=k.value, label=str(k.label), count=counts.get(k.value, 0)) for k in ContactKind]
    out.done_contacts = sum(n for k, n in counts.items() if k != ContactKind.POLICE_CONTACT)
    out.done_home_visits = counts.get(ContactKind.HOME_VISIT, 0)
    out.people_contacted = (contacts.exclude(kind=ContactKind.POLICE_CONTACT)
                            .aggregate(n=Count("person", distinct=True))["n"])
    groups = (people(user, division=division).exclude(tier="").order_by()
              .values_list("status", "tier").annotate(n=Count("pk")))
    due_c, due_h = Decimal(0), Decimal(0)
    for status, tier, n in groups:
        status_rule = cfg.statuses.get(status)
        kinds = status_rule.overlay_kinds if status_rule else ()
        overlay = cfg.overlay.get(tier, {})
        if "contact" in kinds:
            due_c += n * _due_in(period, overlay.get("contact"))
        if "home_visit" in kinds:
            due_h += n * _due_in(period, overlay.get("home_visit"))
    out.due_contacts = due_c.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    out.due_home_visits = due_h.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return out


def tests_done(user: Any, period: Period, *, division: Division | None = None) -> dict[str, list[Row]]:
    """Urinalyses and hair tests recorded in ``period`` by result, for everyone in scope:
    ``{"urinalysis": [Row per TestResult], "hair_test": [...]}`` (corrected records left out).
    One grouped query."""
    qs = (_records(Event, user, division)
          .filter(kind__in=(EventKind.URINALYSIS, EventKind.HAIR_TEST),
                  occurred_on__gte=period.first, occurred_on__lte=period.last)
          .filter(_not_corrected()))
    counts: dict[tuple[str, str], int] = {(k, r): n for k, r, n in
                                          qs.order_by().values_list("kind", "result").annotate(n=Count("pk"))}
    return {kind: [Row(key=r.value, label=str(r.label), count=counts.get((kind, r.value), 0)) for r in TestResult]
            for kind in (EventKind.URINALYSIS, EventKind.HAIR_TEST)}


# --- help given ---------------------------------------------------------------------------------

@dataclass
class HelpRow:
    """Help of one kind (``AssistanceKind``) in a period: ``person_times`` (records, 人次),
    ``people`` (distinct people), ``jobs_found`` (records with ``job_found``), ``amount_yuan``
    (``Decimal`` yuan, records without an amount count 0)."""

    key: str
    label: str
    person_times: int = 0
    people: int = 0
    jobs_found: int = 0
    amount_yuan: Decimal = Decimal("0.00")


@dataclass
class HelpSummary:
    """Help given in a period (帮扶救助): ``rows`` by kind (every kind, zeros included) and the
    totals — ``people`` is distinct over all kinds (not the sum of the rows); ``people_in_jobs``
    distinct people with a job found."""

    rows: list[HelpRow]
    person_times: int = 0
    people: int = 0
    jobs_found: int = 0
    people_in_jobs: int = 0
    amount_yuan: Decimal = Decimal("0.00")


def help_given(user: Any, period: Period, *, division: Division | None = None) -> HelpSummary:
    """Help given in ``period`` (by ``given_on``): person-times by kind (帮扶救助人次, the seed's
    18957), distinct people helped, jobs found (``job_found``: the seed's "237 placed in jobs"),
    start-up grants and farming guidance by their kinds, amounts in yuan. Two queries."""
    qs = _records(Assistance, user, division).filter(given_on__gte=period.first, given_on__lte=period.last)
    grouped = {k: (t, p, j, a) for k, t, p, j, a in qs.order_by().values_list("kind").annotate(
        t=Count("pk"), p=Count("person", distinct=True), j=Count("pk", filter=Q(job_found=True)),
        a=Sum("amount_yuan")).values_list("kind", "t", "p", "j", "a")}
    rows = []
    for k in AssistanceKind:
        t, p, j, a = grouped.get(k.value, (0, 0, 0, None))
        rows.append(HelpRow(key=k.value, label=str(k.label), person_times=t, people=p, jobs_found=j,
                            amount_yuan=_money(a)))
    totals = qs.aggregate(p=Count("person", distinct=True),
                          pj=Count("person", distinct=True, filter=Q(job_found=True)))
    return HelpSummary(rows=rows, person_times=sum(r.person_times for r in rows), people=totals["p"],
                       jobs_found=sum(r.jobs_found for r in rows), people_in_jobs=totals["pj"],
                       amount_yuan=_money(sum((r.amount_yuan for r in rows), Decimal(0))))


def _money(value: Any) -> Decimal:
    return (Decimal(value) if value is not None else Decimal(0)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
