"""Reads of the workforce, always given the user and always scoped (``restrict``).

The registry is read only through ``jindu.persons.selectors.persons_for`` (people the user may
see) and the relations of those people, so every count and list here is within the user's
scope of the registry as well as of the workforce.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any, Iterable

from django.db.models import Count, Q

from jindu.core.scope import VIEW, grant_roots, holds_permission_at, subtree_q
from jindu.core.timeutils import local_today
from jindu.geo.choices import Level
from jindu.geo.models import Division
from jindu.persons import indicators
from jindu.persons import selectors as persons_selectors
from jindu.persons.choices import CURRENT_USER_STATUSES, ContactKind, EventKind, Status, TestResult
from jindu.workforce import balance, scorecard, staffing
from jindu.workforce.choices import IN_POST_STATUSES, RenewalDecision
from jindu.workforce.conf import workforce_settings
from jindu.workforce.models import Appraisal, ContractPeriod, Meeting, Team, TrainingRecord, Worker

#: Statuses that make a person part of a social worker's caseload (and of the staffing need).
CURRENT = tuple(str(s) for s in CURRENT_USER_STATUSES)
ABSTINENT = (str(Status.ABSTINENT_3Y),)
CASELOAD_STATUSES = CURRENT + ABSTINENT
#: Statuses not scored on the appraisal (not in the community's case work, or gone).
NOT_SCORED = (str(Status.ISOLATION), str(Status.DECEASED), str(Status.EMIGRATED))
REGISTRY_PERMISSION = "persons.view_person"


def teams_for(user: Any, action: str = VIEW):
    return Team.objects.restrict(user, action).select_related("division", "parent", "leader")


def workers_for(user: Any, action: str = VIEW):
    return Worker.objects.restrict(user, action).select_related("team", "team__division", "user")


def in_post_workers(user: Any, division: Division, action: str = VIEW):
    """Workers in post (probation or confirmed) whose team sits in ``division``'s subtree."""
    return workers_for(user, action).filter(status__in=IN_POST_STATUSES,
                                            team__division__path__startswith=division.path)


def meetings_for(user: Any, action: str = VIEW):
    return Meeting.objects.restrict(user, action).select_related("team", "team__division")


def trainings_for(user: Any, action: str = VIEW):
    return TrainingRecord.objects.restrict(user, action).select_related("worker")


def contracts_for(user: Any, action: str = VIEW):
    return ContractPeriod.objects.restrict(user, action).select_related("worker", "worker__team")


def appraisals_for(user: Any, action: str = VIEW):
    return Appraisal.objects.restrict(user, action).select_related("worker", "worker__team", "contract")


def renewals_due(user: Any, *, today: dt.date | None = None, within_days: int = 60):
    """Contracts whose renewal decision is pending and due within ``within_days`` (or overdue)."""
    today = today or local_today()
    return contracts_for(user).filter(decision=RenewalDecision.PENDING, worker__status__in=IN_POST_STATUSES,
                                      renewal_due_on__lte=today + dt.timedelta(days=within_days)
                                      ).order_by("renewal_due_on", "pk")


# -- registry -----------------------------------------------------------------------------


def caseload_people(user: Any):
    """People of the registry the user may see who count for caseloads: current drug users
    and people abstinent three years, as ``persons.indicators.people`` counts people (merged
    duplicates and people reached only through a temporary access excluded)."""
    return indicators.people(user).filter(status__in=CASELOAD_STATUSES)


def registry_roots(user: Any) -> list[str] | None:
    """Division paths where the user sees the whole registry (not only assigned people);
    ``None`` = everywhere. Staffing counts are made only there: a social worker's own
    caseload is not a town's registry."""
    return grant_roots(user, REGISTRY_PERMISSION)


def registry_counts(user: Any) -> dict[str, dict[str, int]]:
    """``{town path: {"current": n, "abstinent": n}}`` of the people the user may see
    (``persons.indicators.people_by_division`` at town level: one grouped query whatever the
    number of people), only where the user sees the whole registry (:func:`registry_roots`)."""
    roots = registry_roots(user)
    if roots is not None and not roots:
        return {}
    out: dict[str, dict[str, int]] = {}
    for row in indicators.people_by_division(user, Level.TOWN):
        if row.division is None or (roots is not None and not any(row.division.path.startswith(r) for r in roots)):
            continue
        out[row.division.path] = {
            "current": sum(n for s, n in row.by_status.items() if s in CURRENT),
            "abstinent": sum(n for s, n in row.by_status.items() if s in ABSTINENT),
        }
    return out


# -- staffing -----------------------------------------------------------------------------


def staffing_table(user: Any) -> list[staffing.StaffingRow]:
    """The staffing table the user may see: one :class:`~jindu.workforce.staffing.StaffingRow`
    per district (with ``towns``), for every town in the user's workforce scope.

    Per town: current users and people abstinent three years (registry, user's scope), the
    exact load, the need (rounded per ``settings.JINDU_WORKFORCE``, see
    :mod:`jindu.workforce.staffing`), workers in post in the town's squadrons. Per district:
    the sums, with the brigade's own staff added to ``in_post``; a district row is given only
    when the user's scope covers the whole district (``division`` of a partial row is the
    district, ``towns`` the visible ones, and ``partial`` set)."""
    conf = workforce_settings()
    ratios = {"users_per_worker": conf["users_per_worker"], "abstinent_per_worker": conf["abstinent_per_worker"]}
    roots = grant_roots(user, "workforce.view_team", include_assigned=True)
    cond = subtree_q(roots)
    if cond is None:
        return []
    towns = list(Division.objects.filter(cond, level=Level.TOWN).select_related("parent").order_by("code"))
    if not towns:
        district_cond = Division.objects.filter(cond, level=Level.DISTRICT)
        towns = list(Division.objects.filter(parent__in=district_cond, level=Level.TOWN)
                     .select_related("parent").order_by("code"))
    if not towns:
        return []
    counts = registry_counts(user)
    in_post: dict[str, int] = defaultdict(int)
    for row in (Worker.objects.restrict(user, VIEW).filter(status__in=IN_POST_STATUSES).order_by()
                .values("team__division__path").annotate(n=Count("pk"))):
        in_post[row["team__division__path"]] += row["n"]
    team_names: dict[str, list[str]] = defaultdict(list)
    for t in Team.objects.restrict(user, VIEW).filter(is_active=True).order_by("name").values("division__path", "name"):
        team_names[t["division__path"]].append(t["name"])
    districts: dict[int, staffing.StaffingRow] = {}
    for town in towns:
        c = counts.get(town.path, {"current": 0, "abstinent": 0})
        load = staffing.exact_load(c["current"], c["abstinent"], **ratios)
        row = staffing.StaffingRow(division=town, current_users=c["current"], abstinent=c["abstinent"], load=load,
                                   need=staffing.round_need(load, conf["rounding"]), in_post=in_post.get(town.path, 0),
                                   teams=team_names.get(town.path, []))
        row.registry_visible = holds_permission_at(user, REGISTRY_PERMISSION, town.path)
        district = town.parent
        d = districts.get(district.pk)
        if d is None:
            d = districts[district.pk] = staffing.StaffingRow(division=district, teams=team_names.get(district.path, []))
            d.partial = not holds_permission_at(user, "workforce.view_team", district.path, include_assigned=True)
            d.in_post = in_post.get(district.path, 0)  # the brigade's own staff
        d.towns.append(row)
        d.current_users += row.current_users
        d.abstinent += row.abstinent
        d.load += row.load
        d.need += row.need
        d.in_post += row.in_post
    return list(districts.values())


def chart_data(rows: list[staffing.StaffingRow]) -> dict[str, Any]:
    """ECharts data of the staffing table: town names, need, in post and gap per town."""
    towns = [t for d in rows for t in d.towns]
    return {
        "categories": [t.division.name for t in towns],
        "need": [t.need for t in towns],
        "in_post": [t.in_post for t in towns],
        "gap": [t.gap for t in towns],
    }


# -- caseloads ----------------------------------------------------------------------------


def unassigned(user: Any, town: Division):
    """People in ``town`` the user may see who count for caseloads and have no worker
    (the town's "unassigned" list), oldest registrations first."""
    return (caseload_people(user).filter(residence_division__path__startswith=town.path, assigned_worker__isnull=True)
            .select_related("residence_division").order_by("registered_on", "pk"))


def caseload_counts(user: Any, user_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """``{worker user id: {"current", "abstinent", "total", "load"}}`` for the people the user
    may see (``load`` = the worker's share of one worker's capacity, a ``Decimal``)."""
    conf = workforce_settings()
    ids = list(user_ids)
    out = {i: {"current": 0, "abstinent": 0} for i in ids}
    if not ids:
        return out
    for row in (caseload_people(user).filter(assigned_worker__in=ids).order_by()
                .values("assigned_worker", "status").annotate(n=Count("pk"))):
        group = "abstinent" if row["status"] in ABSTINENT else "current"
        out[row["assigned_worker"]][group] += row["n"]
    for value in out.values():
        value["total"] = value["current"] + value["abstinent"]
        value["load"] = staffing.load_decimal(staffing.exact_load(
            value["current"], value["abstinent"], users_per_worker=conf["users_per_worker"],
            abstinent_per_worker=conf["abstinent_per_worker"]))
    return out


def balance_suggestion(user: Any, town: Division) -> tuple[balance.Suggestion, list[Worker]]:
    """The balance suggestion for ``town`` (:func:`jindu.workforce.balance.suggest`) over the
    people the user may see there and the workers in post in the town's squadrons."""
    conf = workforce_settings()
    workers = list(in_post_workers(user, town).order_by("user_id"))
    people = [
        balance.CasePerson(pk, balance.ABSTINENT if status in ABSTINENT else balance.CURRENT, worker_id)
        for pk, status, worker_id in caseload_people(user).filter(residence_division__path__startswith=town.path)
        .order_by("pk").values_list("pk", "status", "assigned_worker")
    ]
    result = balance.suggest(people, [w.user_id for w in workers], users_per_worker=conf["users_per_worker"],
                             abstinent_per_worker=conf["abstinent_per_worker"])
    return result, workers


# -- appraisal ----------------------------------------------------------------------------


def _related_model(name: str):
    """A registry model reached through ``Person``'s relation ``name`` (no import of the
    persons models: the people themselves come from ``persons_for``)."""
    return persons_selectors.persons_for(None).model._meta.get_field(name).related_model


def scorecard_inputs(user: Any, worker: Worker, *, first: dt.date, last: dt.date, as_of: dt.date
                     ) -> tuple[list[scorecard.PersonWork], list[scorecard.HandoverWork]]:
    """The case work of ``worker``'s caseload as :mod:`jindu.workforce.scorecard` reads it:
    people assigned to the worker now (that the user may see; not in isolation, dead or
    emigrated), with their contacts, tests and assessments up to ``last`` (and the last one
    before ``first``), their overdue worklist items on ``as_of``, and their handovers."""
    conf = workforce_settings()
    people = indicators.people(user).filter(assigned_worker=worker.user_id).exclude(status__in=NOT_SCORED)
    tiers = dict(people.values_list("pk", "tier"))
    ids = list(tiers)
    work = {pk: scorecard.PersonWork(person_id=pk, tier=tiers[pk] or "") for pk in ids}
    if not ids:
        return [], []
    Contact = _related_model("contacts")
    Event = _related_model("events")
    Assessment = _related_model("assessments")
    DueItem = _related_model("due_items")
    Handover = _related_model("handovers")
    for pid, on in (Contact.objects.restrict(user).filter(person_id__in=ids, occurred_on__lte=last)
                    .exclude(kind=ContactKind.POLICE_CONTACT).values_list("person_id", "occurred_on")):
        work[pid].contacts.append(on)
    corrected = Event.objects.filter(kind=EventKind.CORRECTION, person_id__in=ids).values("corrects_id")
    for pid, on in (Event.objects.restrict(user).filter(
            person_id__in=ids, kind=EventKind.URINALYSIS, occurred_on__lte=last,
            result__in=(TestResult.NEGATIVE, TestResult.POSITIVE, TestResult.INVALID))
            .exclude(pk__in=corrected).values_list("person_id", "occurred_on")):
        work[pid].tests.append(on)
    for pid, on in (Assessment.objects.restrict(user).filter(person_id__in=ids, assessed_on__lte=last)
                    .values_list("person_id", "assessed_on")):
        work[pid].assessments.append(on)
    for row in (DueItem.objects.restrict(user).filter(person_id__in=ids, due_on__lt=as_of).order_by()
                .values("person_id").annotate(n=Count("pk"))):
        work[row["person_id"]].overdue_items = row["n"]
    days = dt.timedelta(days=int(conf["handover_report_days"]))
    handovers = []
    for pid, released, expected, reported in (Handover.objects.restrict(user).filter(person_id__in=ids)
                                              .filter(Q(released_on__lte=last) | Q(released_on__isnull=True,
                                                                                   expected_release_on__lte=last))
                                              .values_list("person_id", "released_on", "expected_release_on",
                                                           "reported_on")):
        handovers.append(scorecard.HandoverWork(pid, (released or expected) + days, reported))
    return [work[i] for i in ids], handovers
