"""factory-boy factories for accounts, org and the test-only Specimen model.

Org factories live here because accounts is the layer that sees both org and accounts;
move them to ``org/tests/factories.py`` if org grows its own.
"""

import factory
from factory.django import DjangoModelFactory

from jindu.accounts.models import Role, RoleAssignment, User
from jindu.core.testing import division
from jindu.org.choices import UnitKind
from jindu.org.models import CommissionMembership, Pairing, Unit


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n:04d}")
    full_name = factory.Faker("name", locale="zh_CN")
    password = factory.django.Password(None)


class UnitFactory(DjangoModelFactory):
    class Meta:
        model = Unit

    name = factory.Sequence(lambda n: f"测试单位{n:04d}")
    kind = UnitKind.OTHER
    division = factory.LazyFunction(lambda: division("460106"))


class CommissionMembershipFactory(DjangoModelFactory):
    class Meta:
        model = CommissionMembership

    unit = factory.SubFactory(UnitFactory)
    year = 2024


class PairingFactory(DjangoModelFactory):
    class Meta:
        model = Pairing

    unit = factory.SubFactory(UnitFactory)
    town = factory.LazyFunction(lambda: division("460106001"))
    year = factory.Sequence(lambda n: 2000 + n % 50)


class RoleAssignmentFactory(DjangoModelFactory):
    class Meta:
        model = RoleAssignment

    user = factory.SubFactory(UserFactory)
    role = factory.LazyFunction(lambda: Role.objects.get(code="town_office"))
    division = factory.LazyFunction(lambda: division("460106001"))


def specimen_factory():
    """The Specimen factory (test-only app, installed by ``settings_test``)."""
    from jindu.core.tests.testapp.models import Specimen

    class SpecimenFactory(DjangoModelFactory):
        class Meta:
            model = Specimen

        name = factory.Sequence(lambda n: f"样本{n:05d}")
        division = factory.LazyFunction(lambda: division("460106001"))

    return SpecimenFactory
