"""The bulk recomputation computes exactly what the per-person path computes, writes only
what changed, and costs a constant number of queries per chunk."""

import datetime as dt

import pytest
from django.core.management import call_command
from django.db.models import Q
from django.test.utils import CaptureQueriesContext
from django.db import connection
from hypothesis import HealthCheck, given, settings, strategies as st

from jindu.core.models import Job
from jindu.core.testing import division
from jindu.persons import bulk, demo, derivation
from jindu.persons.choices import ContactKind, EventKind, HandoverStatus, Status
from jindu.persons.choices import TestResult as Result
from jindu.persons.models import CasePlan, Contact, DueItem, Event, Handover, Person, RiskAssessment

pytestmark = pytest.mark.django_db

DAY = dt.date(2025, 6, 2)
VILLAGE = "460107102001"


def snapshot(people):
    ids = [p.pk for p in people] if not isinstance(people, Q) else list(Person.objects.filter(people).values_list("pk", flat=True))
    values = {row[0]: row[1:] for row in Person.objects.filter(pk__in=ids).values_list("pk", *derivation.DERIVED_FIELDS)}
    items: dict[int, set] = {pk: set() for pk in ids}
    for pid, kind, due_on, basis in DueItem.objects.filter(person_id__in=ids).values_list("person_id", "kind", "due_on",
                                                                                        "basis"):
        items[pid].add((kind, due_on, basis))
    return values, items


def reset(ids):
    DueItem.objects.filter(person_id__in=ids).delete()
    Person.objects.filter(pk__in=ids).update(status=Status.CURRENT_NO_MEASURE, tier="", derived_on=None,
                                             next_due_on=None, measure_end_on=None, status_since=None)


def per_person(ids, as_of):
    for person in Person.objects.filter(pk__in=ids).order_by("pk"):
        derivation.apply_derivation(person, as_of=as_of)


@pytest.fixture
def demo_people():
    """A few hundred people with the demo's varied timelines and case work."""
    demo.build(today=DAY, size=240, seed_value=7)
    return list(Person.objects.filter(is_demo=True).order_by("pk").values_list("pk", flat=True))


def test_bulk_equals_per_person_on_varied_timelines(demo_people):
    statuses = set(Person.objects.values_list("status", flat=True))
    assert len(statuses) >= 6  # the sample covers most statuses
    bulk_result = snapshot(Q(pk__in=demo_people))  # demo.build ends with bulk.recompute
    reset(demo_people)
    per_person(demo_people, DAY)
    assert snapshot(Q(pk__in=demo_people)) == bulk_result


def test_bulk_over_existing_results_equals_per_person_later(demo_people):
    later = DAY + dt.timedelta(days=400)  # measures expire, items fall due, the clock runs
    per_person(demo_people, later)
    expected = snapshot(Q(pk__in=demo_people))
    bulk.recompute(as_of=DAY)
    stats = bulk.recompute(as_of=later, chunk_size=37)  # writes only the differences
    assert stats.people == len(demo_people)
    assert stats.changed > 0
    assert snapshot(Q(pk__in=demo_people)) == expected


EVENT_KINDS = [k for k in EventKind.values if k != EventKind.CORRECTION]


@st.composite
def timelines(draw):
    n = draw(st.integers(0, 12))
    out = []
    for _ in range(n):
        kind = draw(st.sampled_from(EVENT_KINDS))
        extra = {}
        if kind in (EventKind.URINALYSIS, EventKind.HAIR_TEST):
            extra["result"] = draw(st.sampled_from(Result.values))
        if kind in (EventKind.EXTENSION, EventKind.COMMUNITY_RECOVERY_ORDER):
            extra["term_months"] = draw(st.sampled_from([None, 3, 6, 12, 24, 36]))
        if kind == EventKind.LEFT_COUNTY:
            extra["days"] = draw(st.integers(1, 40))
            extra["approved"] = draw(st.sampled_from([None, True, False]))
        out.append((kind, draw(st.integers(-2000, 0)), extra))
    correct = draw(st.booleans())
    tier = draw(st.sampled_from(["", "A", "B", "C1", "C2"]))
    contacts = draw(st.lists(st.tuples(st.sampled_from(ContactKind.values), st.integers(-400, 0)), max_size=3))
    plan = draw(st.sampled_from([None, (-200, 30), (-30, -5)]))
    handover = draw(st.sampled_from([None, HandoverStatus.NOTIFIED, HandoverStatus.RECEIVED]))
    return out, correct, tier, contacts, plan, handover


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(story=timelines(), days_later=st.integers(0, 900))
def test_property_bulk_equals_per_person(story, days_later):
    events, correct, tier, contacts, plan, handover = story
    person = Person.objects.create(name="测试", residence_division=division(VILLAGE), registered_on=DAY)
    created = [Event.objects.create(person=person, kind=k, occurred_on=DAY + dt.timedelta(days=d), **x)
               for k, d, x in events]
    if correct and created:
        Event.objects.create(person=person, kind=EventKind.CORRECTION, occurred_on=DAY, corrects=created[0])
    if tier:
        RiskAssessment.objects.create(person=person, assessed_on=DAY - dt.timedelta(days=40), instrument_code="t",
                                      instrument_version="1", score=1, computed_tier=tier, tier=tier)
    for kind, d in contacts:
        Contact.objects.create(person=person, kind=kind, occurred_on=DAY + dt.timedelta(days=d))
    if plan:
        CasePlan.objects.create(person=person, goals="g", measures="m", starts_on=DAY + dt.timedelta(days=plan[0]),
                                review_on=DAY + dt.timedelta(days=plan[1]))
    if handover:
        Handover.objects.create(person=person, notice_received_on=DAY, expected_release_on=DAY + dt.timedelta(days=4),
                                status=handover, released_on=DAY if handover == HandoverStatus.RECEIVED else None)
    as_of = DAY + dt.timedelta(days=days_later)
    derivation.apply_derivation(person, as_of=as_of)
    expected = snapshot([person])
    reset([person.pk])
    bulk.recompute(as_of=as_of, people=Q(pk=person.pk))
    assert snapshot([person]) == expected


def test_queries_per_chunk_do_not_grow_with_the_chunk(demo_people):
    bulk.recompute(as_of=DAY)  # nothing changes below: only reads are counted

    def queries(chunk_size):
        with CaptureQueriesContext(connection) as ctx:
            stats = bulk.recompute(as_of=DAY, chunk_size=chunk_size)
        return len(ctx.captured_queries), stats.chunks

    small, small_chunks = queries(60)  # 4 chunks
    large, large_chunks = queries(120)  # 2 chunks
    assert (small_chunks, large_chunks) == (4, 2)
    # the same queries per chunk (the final one finds no more people)
    assert (small - 1) / small_chunks == (large - 1) / large_chunks


def test_second_run_the_same_day_changes_nothing(demo_people):
    stats = bulk.recompute(as_of=DAY)
    assert (stats.changed, stats.due_changed) == (0, 0)
    assert stats.people == len(demo_people)
    assert sum(stats.status_counts.values()) == stats.people


def test_progress_is_reported_per_chunk(demo_people):
    seen = []
    bulk.recompute(as_of=DAY, chunk_size=100, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(100, 240), (200, 240), (240, 240)]


def test_recompute_job_records_its_result(demo_people):
    from jindu.persons.tasks import KIND, recompute_all

    job = Job.objects.create(kind=KIND, title="重新计算", params={"as_of": DAY.isoformat()})
    recompute_all.call(job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED
    assert job.result["people"] == 240
    assert (job.progress_done, job.progress_total) == (240, 240)
    assert ["人数", 240] in job.result["summary"]


def test_recompute_job_refuses_a_bad_date():
    from jindu.persons.tasks import KIND, recompute_all
    from jindu.core.jobs import JobError

    job = Job.objects.create(kind=KIND, title="重新计算", params={"as_of": "2025-13-01"})
    with pytest.raises(JobError):
        recompute_all.call(job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert "as_of" in job.message


def test_management_command(demo_people, capsys):
    call_command("recompute_persons", "--as-of", DAY.isoformat())
    out = capsys.readouterr().out
    assert "recomputed 240 people as of 2025-06-02" in out
