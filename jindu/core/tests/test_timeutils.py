"""Local time helpers: peer cases 8, 9, 10, 11 (shared/reference/acceptance/peer-cases.md)."""

from datetime import date, datetime, timedelta
from datetime import timezone as dt_timezone
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection

from jindu.core.tests.testapp.models import Specimen
from jindu.core.timeutils import (
    date_range_bounds,
    date_range_q,
    day_bounds,
    due_status,
    local_date,
    local_now,
    local_today,
    month_period,
    parse_period,
    period_containing,
    period_q,
    periods_between,
    quarter_period,
    week_period,
    year_period,
)
from jindu.geo.models import Division

SH = ZoneInfo("Asia/Shanghai")
UTC = dt_timezone.utc


def sh(*args):
    return datetime(*args, tzinfo=SH)


# --- local now / today / date ---------------------------------------------------------


def test_local_today_is_shanghai_date_when_utc_is_still_yesterday():
    with time_machine.travel(datetime(2024, 6, 20, 23, 59, tzinfo=UTC), tick=False):
        # 2024-06-21 07:59 in Shanghai.
        assert local_today() == date(2024, 6, 21)
        assert local_now().utcoffset() == timedelta(hours=8)
        assert local_now().hour == 7


def test_local_date_of_aware_datetimes():
    assert local_date(datetime(2024, 2, 29, 23, 30, tzinfo=UTC)) == date(2024, 3, 1)
    assert local_date(datetime(2024, 3, 31, 15, 30, tzinfo=UTC)) == date(2024, 3, 31)
    with pytest.raises(ValueError):
        local_date(datetime(2024, 3, 1, 7, 30))


def test_day_bounds_are_local_midnights():
    start, end = day_bounds(date(2024, 5, 10))
    assert start == datetime(2024, 5, 9, 16, 0, tzinfo=UTC)
    assert end == datetime(2024, 5, 10, 16, 0, tzinfo=UTC)


# --- peer case 11: deadlines ----------------------------------------------------------


@pytest.mark.parametrize(
    "moment,expected",
    [
        (sh(2024, 6, 19, 23, 59, 59), "upcoming"),
        (sh(2024, 6, 20, 0, 0, 0), "due_today"),
        (sh(2024, 6, 20, 23, 59), "due_today"),
        (sh(2024, 6, 21, 0, 0, 1), "overdue"),
        (sh(2024, 6, 21, 7, 59), "overdue"),  # UTC still says 20 June
    ],
)
def test_rectification_deadline(moment, expected):
    deadline = date(2024, 6, 20)
    with time_machine.travel(moment, tick=False):
        assert due_status(deadline) == expected
    # The same answer when "now" is passed, in any zone.
    assert due_status(deadline, now=moment.astimezone(UTC)) == expected


def test_due_status_at_0759_shanghai_is_overdue_although_utc_date_is_the_deadline():
    moment = datetime(2024, 6, 20, 23, 59, tzinfo=UTC)
    assert moment.date() == date(2024, 6, 20)
    with time_machine.travel(moment, tick=False):
        assert due_status(date(2024, 6, 20)) == "overdue"


# --- peer case 10: ISO week at year end ------------------------------------------------


def test_iso_week_at_year_end():
    week = week_period(date(2024, 12, 31))
    assert week.label == "2025-W01"
    assert (week.first, week.last) == (date(2024, 12, 30), date(2025, 1, 5))
    assert week.display == "2025-W01（2024-12-30 至 2025-01-05）"
    assert parse_period("2025-W01") == week
    assert year_period(2024).contains(date(2024, 12, 31))
    assert not year_period(2025).contains(date(2024, 12, 31))


def test_weekly_series_across_year_boundary_counts_each_day_once():
    weeks = periods_between("week", date(2024, 12, 1), date(2025, 1, 31))
    labels = [w.label for w in weeks]
    assert labels[0] == "2024-W48" and "2025-W01" in labels and labels[-1] == "2025-W05"
    assert len(labels) == len(set(labels))
    # Consecutive, no gap and no overlap.
    for a, b in zip(weeks, weeks[1:]):
        assert a.end == b.start
    hits = [w.label for w in weeks if w.contains(sh(2024, 12, 31, 10, 0))]
    assert hits == ["2025-W01"]


def test_periods_and_labels():
    assert month_period(2024, 2).last == date(2024, 2, 29)
    assert month_period(2024, 12).next().label == "2025-01"
    assert quarter_period(2024, 1).label == "2024-Q1"
    assert quarter_period(2024, 4).last == date(2024, 12, 31)
    assert quarter_period(2024, 1).display == "2024-Q1（2024-01-01 至 2024-03-31）"
    assert period_containing("quarter", date(2024, 5, 1)).label == "2024-Q2"
    assert period_containing("month", datetime(2024, 2, 29, 23, 30, tzinfo=UTC)).label == "2024-03"
    assert parse_period("2024-03").first == date(2024, 3, 1)
    assert parse_period("2024-03-05").days == 1
    assert parse_period("2024").days == 366
    assert parse_period("2024-Q3").first == date(2024, 7, 1)
    for bad in ("2024-13", "2024-W54", "2024-02-30", "March", ""):
        with pytest.raises(ValueError):
            parse_period(bad)


# --- peer case 9: inclusive end day ----------------------------------------------------


def test_date_range_bounds_include_the_whole_end_day():
    start, end = date_range_bounds("2024-05-10", "2024-05-10")
    inspection = sh(2024, 5, 10, 16, 20)
    assert start <= inspection < end
    assert date_range_bounds(None, date(2024, 5, 10)) == (None, sh(2024, 5, 11))
    assert date_range_bounds("", "") == (None, None)


@pytest.mark.parametrize(
    "date_from,date_to,message",
    [
        ("2024-05-11", "2024-05-10", "起始日期不能晚于截止日期"),
        ("2024-02-30", None, "起始日期"),
        (None, "10/05/2024", "截止日期"),
        (datetime(2024, 5, 10, tzinfo=UTC), None, "日期时间"),
    ],
)
def test_date_range_bounds_refuse_bad_input(date_from, date_to, message):
    with pytest.raises(ValueError) as exc:
        date_range_bounds(date_from, date_to)
    assert message in str(exc.value)


# --- peer cases 8 and 9 against the database (session in UTC) -------------------------


@pytest.fixture
def town(db):
    return Division.objects.filter(code__startswith="460107").exclude(code="460107000000").order_by("code").first()


def test_month_filter_counts_by_local_month(town):
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SHOW TIME ZONE")
            assert cur.fetchone()[0] == "UTC"
    Specimen.objects.create(name="尿检1", division=town, recorded_at=sh(2024, 3, 1, 7, 30))
    Specimen.objects.create(name="尿检2", division=town, recorded_at=sh(2024, 3, 31, 23, 30))
    stored = sorted(Specimen.objects.values_list("recorded_at", flat=True))
    assert stored[0] == datetime(2024, 2, 29, 23, 30, tzinfo=UTC)
    assert stored[1] == datetime(2024, 3, 31, 15, 30, tzinfo=UTC)

    assert Specimen.objects.filter(period_q("recorded_at", month_period(2024, 3))).count() == 2
    assert Specimen.objects.filter(period_q("recorded_at", month_period(2024, 2))).count() == 0
    assert Specimen.objects.filter(period_q("recorded_at", month_period(2024, 4))).count() == 0
    assert Specimen.objects.filter(period_q("recorded_at", quarter_period(2024, 1))).count() == 2
    start, end = parse_period("2024-03").bounds
    assert Specimen.objects.filter(recorded_at__gte=start, recorded_at__lt=end).count() == 2
    assert Specimen.objects.filter(date_range_q("recorded_at", "2024-03-01", "2024-03-31")).count() == 2
    assert Specimen.objects.filter(date_range_q("recorded_at", "2024-02-01", "2024-02-29")).count() == 0


def test_end_day_filter_against_the_database(town):
    Specimen.objects.create(name="检查", division=town, recorded_at=sh(2024, 5, 10, 16, 20))
    Specimen.objects.create(name="次日", division=town, recorded_at=sh(2024, 5, 11, 0, 0))
    Specimen.objects.create(name="前日", division=town, recorded_at=sh(2024, 5, 9, 23, 59, 59))
    assert Specimen.objects.filter(date_range_q("recorded_at", "2024-05-10", "2024-05-10")).count() == 1
    assert Specimen.objects.filter(date_range_q("recorded_at", "2024-05-10", None)).count() == 2
    assert Specimen.objects.filter(date_range_q("recorded_at", None, "2024-05-10")).count() == 2


def test_date_field_range_is_inclusive():
    q = date_range_q("deadline", "2024-05-10", "2024-05-12", date_field=True)
    assert dict(q.children) == {"deadline__gte": date(2024, 5, 10), "deadline__lte": date(2024, 5, 12)}
