"""Worklists: the social worker's "my people" (overdue / due today / later this ISO week) and
the per-division drill-down, by local date — a deadline is due all of its local day and
overdue from the next local midnight in Asia/Shanghai (DESIGN.md "Time").
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from jindu.core.testing import division
from jindu.core.timeutils import local_today
from jindu.persons import services, worklists
from jindu.persons.choices import DueKind, EventKind
from jindu.persons.choices import TestResult as Result
from jindu.persons.models import DueItem, Person
from jindu.persons.tests.casework_support import (
    OTHER_DISTRICT_TOWN, OTHER_TOWN, TOWN, in_community_rehab, register, role_user, village,
)

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(y, m, d, hh=10, mm=0):
    """Freeze the clock at a Shanghai wall-clock time."""
    return time_machine.travel(dt.datetime(y, m, d, hh, mm, tzinfo=SHANGHAI), tick=False)


def set_due(person: Person, items: dict[str, dt.date]) -> None:
    """Replace the person's due items (the schedule's cache) with ``items`` and keep
    ``next_due_on`` in step, as ``derivation.apply_derivation`` does."""
    DueItem.objects.filter(person=person).delete()
    DueItem.objects.bulk_create([DueItem(person=person, kind=k, due_on=d) for k, d in items.items()])
    Person.objects.filter(pk=person.pk).update(next_due_on=min(items.values()) if items else None)


def kinds(items) -> set[tuple[str, str]]:
    return {(i.person.name, i.kind) for i in items}


@pytest.fixture
def worker():
    return role_user("social_worker", TOWN)


# --- buckets ----------------------------------------------------------------------------------

def test_due_today_until_local_midnight_then_overdue(worker):
    person = register(name="甲", worker=worker)
    set_due(person, {DueKind.URINALYSIS: dt.date(2024, 6, 20)})
    # 2024-06-20 23:59 in Shanghai is 15:59 UTC: still due today.
    with at(2024, 6, 20, 23, 59):
        wl = worklists.my_worklist(worker)
        assert kinds(wl.due_today) == {("甲", "urinalysis")} and wl.overdue == []
    # Local midnight (16:00 UTC on the 20th): overdue, although UTC still reads 20 June.
    with at(2024, 6, 21, 0, 0):
        wl = worklists.my_worklist(worker)
        assert kinds(wl.overdue) == {("甲", "urinalysis")} and wl.due_today == []
        assert wl.overdue[0].days_late == 1


def test_this_week_is_the_iso_week_up_to_sunday(worker):
    person = register(name="乙", worker=worker)
    set_due(person, {
        DueKind.CONTACT: dt.date(2024, 6, 18),       # Tuesday: overdue
        DueKind.URINALYSIS: dt.date(2024, 6, 19),    # Wednesday: today
        DueKind.HOME_VISIT: dt.date(2024, 6, 23),    # Sunday: this week
        DueKind.REASSESSMENT: dt.date(2024, 6, 24),  # next Monday: not listed
    })
    with at(2024, 6, 19):
        wl = worklists.my_worklist(worker)
    assert [i.kind for i in wl.overdue] == ["contact"]
    assert [i.kind for i in wl.due_today] == ["urinalysis"]
    assert [i.kind for i in wl.this_week] == ["home_visit"]
    assert wl.week_end == dt.date(2024, 6, 23)
    with at(2024, 6, 23):  # on Sunday "later this week" is empty, Monday's item still not listed
        wl = worklists.my_worklist(worker)
    assert wl.this_week == [] and "reassessment" not in {i.kind for i in wl.due_today + wl.overdue}


def test_my_worklist_lists_only_people_assigned_to_me(worker):
    other = role_user("social_worker", TOWN)
    mine = register(name="我的", worker=worker)
    theirs = register(name="别人的", worker=other)
    nobody = register(name="未分配")
    for p in (mine, theirs, nobody):
        set_due(p, {DueKind.CONTACT: dt.date(2024, 6, 1)})
    with at(2024, 6, 19):
        assert {i.person.name for i in worklists.my_worklist(worker).overdue} == {"我的"}
        assert {i.person.name for i in worklists.my_worklist(other).overdue} == {"别人的"}


def test_a_worker_moved_away_no_longer_sees_a_person_assigned_in_another_town(worker):
    """Scope comes first: an assignment outside the worker's jurisdiction shows nothing."""
    person = register(name="外镇", residence=village(OTHER_TOWN), worker=worker)
    set_due(person, {DueKind.CONTACT: dt.date(2024, 6, 1)})
    with at(2024, 6, 19):
        assert worklists.my_worklist(worker).total == 0


# --- backdating ------------------------------------------------------------------------------

def test_backdated_record_clears_the_overdue_item_and_leaves_no_false_overdue(worker):
    today = local_today()
    person = in_community_rehab(today - dt.timedelta(days=120), worker=worker)
    overdue_before = {i.kind for i in worklists.my_worklist(worker).overdue}
    assert {"urinalysis", "reassessment"} <= overdue_before

    # A paper record of last week's urinalysis, entered today with its real date.
    services.record_test(user=worker, person=person, data={
        "kind": EventKind.URINALYSIS, "occurred_on": today - dt.timedelta(days=7), "result": Result.NEGATIVE})
    wl = worklists.my_worklist(worker)
    assert "urinalysis" not in {i.kind for i in wl.overdue}
    assert {i.kind for i in wl.overdue} <= overdue_before  # nothing new became overdue
    assert DueItem.objects.get(person=person, kind=DueKind.URINALYSIS).due_on > today


# --- per division ------------------------------------------------------------------------------

@pytest.fixture
def district_world():
    """People in two towns of 龙华区 and one in 秀英区, with due items around 2024-06-19."""
    people = {
        "z1": register(name="中山一", residence=village(TOWN, 0)),
        "z2": register(name="中山二", residence=village(TOWN, 1)),
        "b1": register(name="滨海一", residence=village(OTHER_TOWN, 0)),
        "x1": register(name="秀英一", residence=village(OTHER_DISTRICT_TOWN, 0)),
    }
    set_due(people["z1"], {DueKind.URINALYSIS: dt.date(2024, 6, 1), DueKind.CONTACT: dt.date(2024, 6, 19)})
    set_due(people["z2"], {DueKind.URINALYSIS: dt.date(2024, 6, 10), DueKind.HOME_VISIT: dt.date(2024, 6, 22)})
    set_due(people["b1"], {DueKind.REASSESSMENT: dt.date(2024, 6, 19)})
    set_due(people["x1"], {DueKind.URINALYSIS: dt.date(2024, 6, 1)})
    return people


def test_district_counts_per_town_kind_and_bucket(district_world):
    office = role_user("district_office", "460106")
    with at(2024, 6, 19):
        data = worklists.division_worklist(office, division("460106"))
    rows = {r.division.code[:9]: r for r in data.rows}
    assert rows[TOWN].totals == {"overdue": 2, "today": 1, "week": 1}
    assert rows[TOWN].counts["urinalysis"] == {"overdue": 2, "today": 0, "week": 0}
    assert rows[OTHER_TOWN].totals == {"overdue": 0, "today": 1, "week": 0}
    assert data.totals == {"overdue": 2, "today": 2, "week": 1}  # 秀英区 is out of scope
    assert data.by_kind["reassessment"]["today"] == 1
    assert len(data.rows) == division("460106").children.count()  # towns without work listed too


def test_drill_down_town_to_villages_to_people(district_world):
    office = role_user("district_office", "460106")
    with at(2024, 6, 19):
        town = worklists.division_worklist(office, division(TOWN))
        first = village(TOWN, 0)
        rows = {r.division.pk: r for r in town.rows}
        assert rows[first.pk].totals == {"overdue": 1, "today": 1, "week": 0}
        village_page = worklists.division_worklist(office, first)
    assert village_page.worklist is not None
    assert kinds(village_page.worklist.overdue) == {("中山一", "urinalysis")}
    assert kinds(village_page.worklist.due_today) == {("中山一", "contact")}


def test_a_social_worker_s_division_view_counts_only_their_people(district_world, worker):
    services.assign_worker(user=role_user("town_office", TOWN), persons=[district_world["z1"]], worker=worker)
    with at(2024, 6, 19):
        data = worklists.division_worklist(worker, division(TOWN))
    assert data.totals == {"overdue": 1, "today": 1, "week": 0}


def test_summary_card_counts(district_world, worker):
    services.assign_worker(user=role_user("town_office", TOWN), persons=[district_world["z2"]], worker=worker)
    office = role_user("town_office", TOWN)
    with at(2024, 6, 19):
        mine = worklists.summary(worker)
        town = worklists.summary(office)
    assert mine["has_caseload"] and mine["mine"] == {"overdue": 1, "today": 0, "week": 1}
    assert mine["scope"] is None  # a social worker sees only their caseload
    assert town["scope"] == {"overdue": 2, "today": 1, "week": 1} and not town["has_caseload"]


def _queries(fn) -> int:
    fn()  # warm: the user's grants are loaded once per user object
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(ctx.captured_queries)


def test_query_count_does_not_grow_with_rows(worker):
    office = role_user("district_office", "460106")
    people = [register(name=f"批量{i}", residence=village(TOWN, i % 3), worker=worker) for i in range(2)]
    for p in people:
        set_due(p, {DueKind.CONTACT: dt.date(2024, 6, 1), DueKind.URINALYSIS: dt.date(2024, 6, 20)})
    with at(2024, 6, 19):
        small = (_queries(lambda: worklists.my_worklist(worker)),
                 _queries(lambda: worklists.division_worklist(office, division("460106"))),
                 _queries(lambda: worklists.division_worklist(office, division(TOWN))))
    more = [register(name=f"再批量{i}", residence=village(TOWN, i % 3), worker=worker) for i in range(12)]
    for p in more:
        set_due(p, {DueKind.CONTACT: dt.date(2024, 6, 1), DueKind.HOME_VISIT: dt.date(2024, 6, 19)})
    with at(2024, 6, 19):
        assert worklists.my_worklist(worker).total == 28
        large = (_queries(lambda: worklists.my_worklist(worker)),
                 _queries(lambda: worklists.division_worklist(office, division("460106"))),
                 _queries(lambda: worklists.division_worklist(office, division(TOWN))))
    assert large == small
