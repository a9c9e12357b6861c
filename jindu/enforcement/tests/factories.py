"""factory-boy factories for enforcement records (rows made directly, for tests only)."""

import datetime as dt
from decimal import Decimal

import factory
from factory.django import DjangoModelFactory

from jindu.accounts.tests.factories import UnitFactory
from jindu.core.testing import division
from jindu.enforcement.choices import CampaignKind, CaseKind, Offence, SeizureForm
from jindu.enforcement.models import Campaign, Case, Gang, ScreeningSession, Seizure, Suspect
from jindu.org.choices import UnitKind
from jindu.substances.models import Substance


def substance(name_zh: str) -> Substance:
    return Substance.objects.filter(name_zh=name_zh).order_by("control_list", "seq_in_list").first()


class CampaignFactory(DjangoModelFactory):
    class Meta:
        model = Campaign

    name = factory.Sequence(lambda n: f"测试专项行动{n:04d}")
    kind = CampaignKind.AUTUMN_WINTER
    division = factory.LazyFunction(lambda: division("460100"))
    start_date = dt.date(2023, 9, 1)
    end_date = dt.date(2023, 12, 31)


class CaseFactory(DjangoModelFactory):
    class Meta:
        model = Case

    number = factory.Sequence(lambda n: f"T2023-{n:06d}")
    name = factory.Sequence(lambda n: f"测试毒品案{n:04d}")
    kind = CaseKind.CRIMINAL
    offence = Offence.TRAFFICKING
    division = factory.LazyFunction(lambda: division("460106"))
    handling_unit = factory.LazyAttribute(lambda o: UnitFactory(division=o.division, kind=UnitKind.POLICE))
    filed_on = dt.date(2023, 3, 1)


class SuspectFactory(DjangoModelFactory):
    class Meta:
        model = Suspect

    case = factory.SubFactory(CaseFactory)
    name = factory.Sequence(lambda n: f"嫌疑人{n:04d}")


class SeizureFactory(DjangoModelFactory):
    class Meta:
        model = Seizure

    case = factory.SubFactory(CaseFactory)
    substance = factory.LazyFunction(lambda: substance("甲基苯丙胺"))
    form = SeizureForm.CRYSTAL
    net_weight_g = Decimal("1.000")
    seized_on = dt.date(2023, 3, 1)


class GangFactory(DjangoModelFactory):
    class Meta:
        model = Gang

    name = factory.Sequence(lambda n: f"测试团伙{n:04d}")
    division = factory.LazyFunction(lambda: division("460106"))


class ScreeningSessionFactory(DjangoModelFactory):
    class Meta:
        model = ScreeningSession

    unit = factory.LazyAttribute(lambda o: UnitFactory(division=o.division, kind=UnitKind.POLICE))
    division = factory.LazyFunction(lambda: division("460106"))
    held_on = dt.date(2023, 5, 10)
    category = "school_bus"
