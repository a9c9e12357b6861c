"""The demo registry: realistic, deterministic, create-once, and a worker's day has work."""

import datetime as dt
import io
import random

import pytest

from jindu.core.idnumbers import birth_date_of, is_valid_identity_number
from jindu.persons import demo
from jindu.persons.models import DueItem, Event, Person

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_world(monkeypatch):
    from jindu.accounts import demo as accounts_demo
    from jindu.org import demo as org_demo

    monkeypatch.setattr(demo, "DEMO_PEOPLE", 900)
    out = io.StringIO()
    org_demo.seed(out)
    accounts_demo.seed(out)
    demo.seed(out)
    return out


def test_identity_numbers_are_valid_but_never_real():
    rng = random.Random(1)
    for _ in range(200):
        number = demo.synthetic_identity_number(rng, dt.date(1988, 5, 17), male=rng.random() < 0.5)
        assert is_valid_identity_number(number)  # the check the registry applies (GB 11643-1999)
        assert number[:6] in demo.DEMO_AREA_CODES  # codes GB/T 2260 never assigned
    # the reference's published test vector
    assert demo.check_char("46010719850312001") == "5"


def test_demo_registry_covers_every_status_and_haikou(demo_world):
    people = Person.objects.filter(is_demo=True)
    assert people.count() == 900
    statuses = set(people.values_list("status", flat=True))
    assert {"abstinent_3y", "community_drug_rehab", "isolation", "community_rehab", "current_no_measure",
            "deceased"} <= statuses
    assert {"A", "B", "C1", "C2"} <= set(people.values_list("tier", flat=True))
    codes = list(people.values_list("residence_division__code", flat=True))
    assert all(c.startswith("4601") and len(c) == 12 for c in codes)
    by_district = {d: sum(c.startswith(d) for c in codes) for d in demo.DISTRICT_WEIGHTS}
    assert max(by_district, key=by_district.get) == "460107"  # 琼山区 heaviest
    assert 8 <= Event.objects.filter(person__is_demo=True).count() / 900 <= 14
    for person in people[:50]:
        assert is_valid_identity_number(person.identity_number)
        assert birth_date_of(person.identity_number) == person.birth_date


def test_the_demo_worker_has_a_day_of_work(demo_world):
    from jindu.accounts.models import User
    from jindu.persons.worklists import my_worklist

    worker = User.objects.get(username="fucheng_worker")
    caseload = Person.objects.filter(assigned_worker=worker)
    assert 0 < caseload.count() <= demo.CASELOAD
    assert all(p.residence_division.parent.name == "府城街道" for p in caseload)
    worklist = my_worklist(worker)
    assert worklist.overdue and worklist.due_today  # demo._shape_worklist


def test_seeding_twice_changes_nothing(demo_world):
    def state():
        return (Person.objects.count(), Event.objects.count(), DueItem.objects.count(),
                Person.history.count(), Event.history.count(),
                sorted(Person.objects.values_list("pk", "status", "tier", "next_due_on")))

    before = state()
    out = io.StringIO()
    demo.seed(out)
    assert state() == before
    assert "already present" in out.getvalue()


def test_same_seed_same_people():
    a = demo.Teller(random.Random(5), dt.date(2025, 6, 2))
    b = demo.Teller(random.Random(5), dt.date(2025, 6, 2))
    for path, _w in demo.PATHS:
        assert a.tell(path) == b.tell(path)
