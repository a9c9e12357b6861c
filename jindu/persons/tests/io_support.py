"""Helpers for the registry's API, import, export and peer-case tests: synthetic identity
numbers with valid check digits, villages of the test city, people made directly or
through the registration service, and users holding default roles."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from stdnum.cn import ric

from jindu.core.testing import division, grant, make_user
from jindu.persons.models import Person

# Synthetic values of the peer cases (shared/reference/acceptance/peer-cases.md).
PERSON_A_ID = "110101199003071233"   # 张测试
PERSON_B_ID = "11010119880516105X"   # 李样例
OLD_15 = "110101750812341"           # → 110101197508123415
OLD_15_AS_18 = "110101197508123415"
RARE_NAME = "王\U0002003e"           # 王𠀾, outside GBK, in GB18030

_seq = itertools.count(1)


def id_number(born: dt.date = dt.date(1990, 1, 1), *, region: str = "460106", seq: int | None = None) -> str:
    """A valid 18-digit resident identity number (check digit computed)."""
    n = next(_seq) if seq is None else seq
    first17 = f"{region}{born:%Y%m%d}{n % 1000:03d}"
    return first17 + ric.calc_check_digit(first17 + "0")


def unique_id_number() -> str:
    """A fresh valid number (birth date varies with the sequence, so numbers never repeat)."""
    n = next(_seq)
    born = dt.date(1960, 1, 1) + dt.timedelta(days=n // 999)
    return id_number(born, seq=n % 999 + 1)


def village(town_code: str = "460106001", index: int = 0):
    """The ``index``-th village (by code) of a town."""
    return division(town_code).children.order_by("code")[index]


def make_person(residence=None, **fields: Any) -> Person:
    """A person saved directly (no service, no events); derived fields left at defaults."""
    values = {
        "identity_number": unique_id_number(),
        "name": "测试人员",
        "registered_on": dt.date(2024, 1, 15),
        "residence_division": residence or village(),
    }
    values.update(fields)
    return Person.objects.create(**values)


def superuser():
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_superuser(username=f"root{next(_seq)}", password=None)


def role_user(role: str, place: str, **fields: Any):
    """A new user holding the default role ``role`` in the division with code ``place``."""
    user = make_user(**fields)
    grant(user, role, place)
    return user
