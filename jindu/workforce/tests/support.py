"""Helpers for the workforce tests: teams, workers with accounts, and registry people made
directly with a given derived status (the status rules are the persons app's business and
tested there; here only the counts matter).

Places: 琼山区 (460107) with 府城街道 (460107002) and 龙塘镇 (460107101); out of scope 龙华区 (460106).
"""

from __future__ import annotations

import datetime as dt
import itertools

from jindu.core.testing import division, make_user, permissions_for, user_with
from jindu.persons.choices import Status
from jindu.persons.models import Person
from jindu.persons.tests.casework_support import identity_number
from jindu.workforce.choices import Position, TeamKind, WorkerStatus
from jindu.workforce.models import Appraisal, ContractPeriod, Meeting, Team, TrainingRecord, Worker

DISTRICT, TOWN, OTHER_TOWN, OTHER_DISTRICT = "460107", "460107002", "460107101", "460106"
ALL_MODELS = (Team, Worker, ContractPeriod, TrainingRecord, Meeting, Appraisal)

_seq = itertools.count(1)


def workforce_perms(actions=("view", "add", "change", "delete")) -> list[str]:
    return [p for m in ALL_MODELS for p in permissions_for(m, actions)]


PERSONS_WORK = ["persons.view_person", "persons.change_person", "persons.view_contact", "persons.view_event",
                "persons.view_riskassessment", "persons.view_dueitem", "persons.view_handover"]


def manager(place: str = DISTRICT, *, extra=()):
    """A user managing the workforce and the registry's assignments in ``place``."""
    return user_with([*workforce_perms(), *PERSONS_WORK, "geo.view_division", "accounts.view_user", *extra],
                     division(place))


def village(town_code: str = TOWN, index: int = 0):
    return division(town_code).children.order_by("code")[index]


def brigade(district_code: str = DISTRICT) -> Team:
    d = division(district_code)
    return Team.objects.get_or_create(division=d, name=f"{d.name}大队", defaults={"kind": TeamKind.BRIGADE})[0]


def squadron(town_code: str = TOWN) -> Team:
    town = division(town_code)
    parent = brigade(town.parent.code[:6])
    return Team.objects.get_or_create(division=town, name=f"{town.name}中队",
                                      defaults={"kind": TeamKind.SQUADRON, "parent": parent})[0]


def worker(team: Team | None = None, *, status: str = WorkerStatus.IN_POST, name: str | None = None,
           recruited_on: dt.date = dt.date(2022, 1, 1), **fields) -> Worker:
    team = team or squadron()
    n = next(_seq)
    account = make_user(username=f"wf{n}", full_name=name or f"社工{n}")
    return Worker.objects.create(user=account, name=name or f"社工{n}", team=team, status=status,
                                 recruited_on=recruited_on, position=fields.pop("position", Position.WORKER), **fields)


def person(town_code: str = TOWN, *, status: str = Status.COMMUNITY_DRUG_REHAB, worker_user=None, tier: str = "",
           index: int = 0, registered_on: dt.date = dt.date(2020, 1, 1)) -> Person:
    """A registry row in a village of ``town_code`` with the derived ``status`` set directly."""
    n = next(_seq)
    return Person.objects.create(identity_number=identity_number(), name=f"人员{n}", residence_division=village(
        town_code, index), registered_on=registered_on, status=status, assigned_worker=worker_user, tier=tier)


def people(n: int, town_code: str = TOWN, **kwargs) -> list[Person]:
    return [person(town_code, **kwargs) for _ in range(n)]
