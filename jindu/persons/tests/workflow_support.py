"""Helpers for the workflow tests (handover, transfers, screening, merge, access, licences):
people registered through the registration service with a timeline, users holding the
default roles, and the divisions of the test city used throughout.

Places: 中山街道 (460106001) and 滨海街道 (460106002) in 龙华区, 秀英街道 (460105001) in 秀英区.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any, Iterable, Mapping

from django.contrib.auth import get_user_model
from stdnum.cn import ric

from jindu.core.testing import division, grant, make_user
from jindu.persons.models import Person

ZHONGSHAN, BINHAI, XIUYING = "460106001", "460106002", "460105001"
LONGHUA, XIUYING_DISTRICT, CITY = "460106", "460105", "460100"

_seq = itertools.count(1)


def identity_number() -> str:
    """A fresh valid 18-digit resident identity number (never repeats within a run)."""
    n = next(_seq)
    born = dt.date(1970, 1, 1) + dt.timedelta(days=37 * n)
    first17 = f"460106{born:%Y%m%d}{n % 997 + 1:03d}"
    return first17 + ric.calc_check_digit(first17 + "0")


def village(town_code: str = ZHONGSHAN, index: int = 0):
    """The ``index``-th village (by code) of a town."""
    return division(town_code).children.order_by("code")[index]


def root():
    """An active superuser (acts as the system for setting up data)."""
    return get_user_model().objects.create_superuser(username=f"wfroot{next(_seq)}", password=None)


def role_user(role: str, place: str, **fields: Any):
    """A new user holding the default role ``role`` in the division with code ``place``."""
    user = make_user(**fields)
    grant(user, role, place)
    return user


def register(*, events: Iterable[Mapping[str, Any]] = (), residence=None, name: str | None = None,
             user: Any = None, **fields: Any) -> Person:
    """A person registered through ``services.register_person`` with ``events`` (dicts of
    ``EVENT_FIELDS``) on the timeline; the derived status is computed as of today."""
    from jindu.persons import services

    data = {"identity_number": identity_number(), "name": name or f"测试{next(_seq)}",
            "residence_division": residence or village(), "registered_on": dt.date(2020, 1, 1), **fields}
    return services.register_person(user=user or root(), data=data, events=list(events))


def fresh(obj):
    """The row re-read from the database."""
    return type(obj).objects.get(pk=obj.pk)
