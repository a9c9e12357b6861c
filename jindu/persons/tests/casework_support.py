"""Helpers for the case-work, worklist and page tests: people registered through the
registration service, a social worker holding the default role in one town, and an answer
set for the default risk instrument.

Place: 中山街道 (460106001) in 龙华区 (460106); out of scope: 秀英区 (460105).
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any, Iterable, Mapping

from django.contrib.auth import get_user_model
from stdnum.cn import ric

from jindu.core.testing import division, grant, make_user
from jindu.persons.choices import EventKind
from jindu.persons.models import Person

TOWN, OTHER_TOWN, DISTRICT, OTHER_DISTRICT_TOWN = "460106001", "460106002", "460106", "460105001"
PASSWORD = "Correct-horse-9"

_seq = itertools.count(1)


def identity_number(born: dt.date | None = None) -> str:
    """A fresh valid 18-digit resident identity number."""
    n = next(_seq)
    born = born or dt.date(1960, 1, 1) + dt.timedelta(days=(53 * n) % 15000)  # 1960–2001, unique per run
    first17 = f"460106{born:%Y%m%d}{(n * 7) % 997 + 1:03d}"
    return first17 + ric.calc_check_digit(first17 + "0")


def village(town_code: str = TOWN, index: int = 0):
    return division(town_code).children.order_by("code")[index]


def root():
    return get_user_model().objects.create_superuser(username=f"cwroot{next(_seq)}", password=None)


def role_user(role: str, place: str, **fields: Any):
    """A user holding the default role ``role`` in ``place`` (with a password to log in)."""
    fields.setdefault("username", f"cw{role}{next(_seq)}")
    user = make_user(**fields)
    user.set_password(PASSWORD)
    user.save()
    grant(user, role, place)
    return user


def register(*, events: Iterable[Mapping[str, Any]] = (), residence=None, name: str | None = None,
             worker: Any = None, **fields: Any) -> Person:
    """A person registered through ``services.register_person`` (acting: a superuser) with
    ``events`` on the timeline and, when given, ``worker`` assigned."""
    from jindu.persons import services

    actor = root()
    data = {"identity_number": identity_number(), "name": name or f"测试人员{next(_seq)}",
            "residence_division": residence or village(), "registered_on": dt.date(2020, 1, 1), **fields}
    person = services.register_person(user=actor, data=data, events=list(events))
    if worker is not None:
        services.assign_worker(user=actor, persons=[person], worker=worker)
        person.refresh_from_db()
    return person


def in_community_rehab(ordered_on: dt.date, **kwargs) -> Person:
    """A person ordered to community drug rehabilitation on ``ordered_on`` who reported 3 days
    later (禁毒法 art. 33; 戒毒条例 art. 14: report within 15 days)."""
    return register(events=[
        {"kind": EventKind.FOUND_USING, "occurred_on": ordered_on},
        {"kind": EventKind.COMMUNITY_REHAB_ORDER, "occurred_on": ordered_on},
        {"kind": EventKind.REPORTED, "occurred_on": ordered_on + dt.timedelta(days=3)},
    ], **kwargs)


def fresh(obj):
    return type(obj).objects.get(pk=obj.pk)


def low_risk_answers() -> dict[str, str]:
    """Every item of the default instrument answered with its lowest-scoring answer; flags "no"."""
    from jindu.persons import risk

    instrument = risk.Instrument.load_default()
    answers = {item.code: min(item.answers, key=lambda a: a.points).code for item in instrument.items}
    answers.update({flag.code: "no" for flag in instrument.flags})
    return answers


def high_risk_answers() -> dict[str, str]:
    from jindu.persons import risk

    instrument = risk.Instrument.load_default()
    answers = {item.code: max(item.answers, key=lambda a: a.points).code for item in instrument.items}
    answers.update({flag.code: "no" for flag in instrument.flags})
    return answers
