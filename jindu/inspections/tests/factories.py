"""Factories and helpers for inspection tests."""

from __future__ import annotations

from datetime import datetime

import factory
from factory.django import DjangoModelFactory

from jindu.core.testing import division
from jindu.core.timeutils import local_tz
from jindu.inspections.choices import TargetKind
from jindu.inspections.models import ChecklistTemplate, Target


class TargetFactory(DjangoModelFactory):
    class Meta:
        model = Target

    kind = TargetKind.KTV
    name = factory.Sequence(lambda n: f"测试场所{n:04d}")
    division = factory.LazyFunction(lambda: division("460106001"))
    address = "测试路1号"


def shanghai(*args) -> datetime:
    """An aware Asia/Shanghai datetime."""
    return datetime(*args, tzinfo=local_tz())


def template(code: str = "venue-standard") -> ChecklistTemplate:
    """The current revision of a shipped profile."""
    return ChecklistTemplate.objects.get(code=code, is_current=True)


def all_pass(tpl: ChecklistTemplate, **overrides) -> dict[int, tuple[str, str]]:
    """Results for every item of ``tpl``: pass, except item codes given as
    ``D01="fail"`` (or ``("fail", "note")``)."""
    out = {}
    for item in tpl.items.all():
        value = overrides.get(item.code, "pass")
        out[item.pk] = value if isinstance(value, tuple) else (value, "")
    return out
