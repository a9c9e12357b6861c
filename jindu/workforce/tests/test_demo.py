"""The demo workforce: Qiongshan's brigade and 11 squadrons sized by the ratios from the
registry, accounts qs_worker_NN with the social_worker role in their town; create-once."""

from __future__ import annotations

import io

import pytest

from jindu.accounts.models import RoleAssignment, User
from jindu.core.models import AuditEvent
from jindu.core.testing import division
from jindu.persons.choices import Status
from jindu.persons.models import Person
from jindu.workforce import demo, selectors
from jindu.workforce.choices import TeamKind, WorkerStatus
from jindu.workforce.models import ContractPeriod, Meeting, Team, Worker
from jindu.workforce.tests.support import OTHER_TOWN, TOWN, people

pytestmark = pytest.mark.django_db


def _seed_all():
    from jindu.accounts import demo as accounts_demo
    from jindu.org import demo as org_demo

    out = io.StringIO()
    org_demo.seed(out)
    accounts_demo.seed(out)
    demo.seed(out)
    return out.getvalue()


def _snapshot():
    return (Team.objects.count(), Worker.objects.count(), User.objects.count(), ContractPeriod.objects.count(),
            Meeting.objects.count(), AuditEvent.objects.count(),
            sorted(Person.objects.values_list("pk", "assigned_worker")))


def test_demo_brigade_squadrons_sized_by_the_ratios_and_create_once():
    people(31, TOWN, status=Status.COMMUNITY_DRUG_REHAB)      # 府城街道: 31/30 → 2
    people(41, OTHER_TOWN, status=Status.ABSTINENT_3Y)         # 龙塘镇: 41/40 → 2
    people(50, "460107106", status=Status.CURRENT_NO_MEASURE)  # 甲子镇: 50/30 → 2, one resigned
    _seed_all()
    first = _snapshot()
    brigade = Team.objects.get(kind=TeamKind.BRIGADE, is_demo=True)
    assert brigade.division.code.startswith("460107") and brigade.leader is not None
    squadrons = Team.objects.filter(kind=TeamKind.SQUADRON, parent=brigade)
    assert squadrons.count() == 11
    assert not squadrons.filter(division__code__startswith="460107500").exists()  # the farm has no squadron
    in_post = {t.division.code[:9]: t.workers.filter(status__in=(WorkerStatus.PROBATION, WorkerStatus.IN_POST)).count()
               for t in squadrons}
    assert in_post[TOWN] == 2 + 1  # the registry demo's own social worker joins 府城街道
    assert in_post[OTHER_TOWN] == 2
    assert in_post["460107106"] == 2 - 1  # a vacancy
    assert in_post["460107001"] == 1  # no registry there: the squadron leader alone
    w = Worker.objects.filter(user__username__startswith="qs_worker_", team__division=division(OTHER_TOWN)).first()
    assert w.user.is_demo and RoleAssignment.objects.filter(user=w.user, role__code="social_worker",
                                                            division=division(OTHER_TOWN)).exists()
    # caseloads follow the ratio; a few of the latest registrations stay on the unassigned list
    longtang = Person.objects.filter(residence_division__path__startswith=division(OTHER_TOWN).path)
    assert longtang.filter(assigned_worker__isnull=False).count() == 40
    admin = User.objects.get(username="city_admin")
    assert selectors.unassigned(admin, division(OTHER_TOWN)).count() == 1
    _seed_all()
    assert _snapshot() == first
