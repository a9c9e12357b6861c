"""The statistics page (``persons/views/statistics.py``) and the set-based paths of the indicators
it reads (``persons.indicators``):

- the figures on the page are the indicators' figures;
- the page's query count grows neither with the number of divisions (district, town, village
  grouping) nor with the number of people and records;
- the indicators that need a status on a past date or a measure on a period's last day read the
  cached derived columns where those already are that state, and give exactly the figures a
  replay of every timeline gives (checked by clearing ``derived_on``, which forces the replay);
- the share of current users in the population shows only divisions with a figure, and says
  which figure is missing (towns and villages: none shipped, population.md "Not found").

Places as in ``test_indicators``: 中山街道 (460106001), 滨海街道 (460106002) in 龙华区; 秀英街道
(460105001) in 秀英区. Today is 2024-06-01 (Asia/Shanghai) throughout.
"""

import datetime as dt
import json
import re

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from jindu.core.testing import division
from jindu.core.timeutils import parse_period, year_period
from jindu.geo.models import Population
from jindu.persons import indicators
from jindu.persons.choices import ContactKind, EventKind as K, Status, Tier
from jindu.persons.choices import TestResult as Result
from jindu.persons.derivation import apply_derivation
from jindu.persons.models import Contact, Person
from jindu.persons.tests.test_indicators import BINHAI, XIUYING, ZHONGSHAN, event, person, role_user, superuser

pytestmark = pytest.mark.django_db

TODAY = dt.date(2024, 6, 1)
NOON = dt.datetime(2024, 6, 1, 4, tzinfo=dt.timezone.utc)  # 12:00 in Shanghai


def derived(p):
    """Derive ``p``'s cached columns from its timeline as of today (what every write does)."""
    return apply_derivation(Person.objects.get(pk=p.pk), as_of=TODAY)


def figures(user):
    """Every figure the cached paths touch, for several periods and past dates."""
    out = {}
    for label in ("2022", "2023", "2024", "2023-Q4", "2024-Q1", "2024-Q2", "2024-Q3", "2024-Q4", "2024-05",
                  "2024-06", "2024-12", "2025"):
        c = indicators.urinalyses_done_vs_due(user, parse_period(label))
        out[f"urinalysis {label}"] = (c.people, c.due, c.done, c.met, c.people_met)
    for day in (dt.date(2021, 12, 31), dt.date(2022, 6, 30), dt.date(2022, 12, 31), dt.date(2023, 3, 31),
                dt.date(2023, 12, 31), dt.date(2024, 1, 4), dt.date(2024, 3, 31), dt.date(2024, 5, 31)):
        out[f"status {day}"] = [(r.key, r.count) for r in indicators.people_by_status(user, as_of=day)]
        out[f"division {day}"] = [(r.label, sorted(r.by_status.items()))
                                  for r in indicators.people_by_division(user, "town", as_of=day)]
    return out


@pytest.fixture
def timelines():
    """People whose timelines cover the cases of the cached paths, derived as of today."""
    people = []
    # 社区戒毒 ordered 2023-01-01, reported 2023-01-05: runs to 2026 (3 years, 戒毒条例 art. 14).
    a = person(ZHONGSHAN)
    event(a, K.FOUND_USING, dt.date(2023, 1, 1))
    event(a, K.COMMUNITY_REHAB_ORDER, dt.date(2023, 1, 1))
    event(a, K.REPORTED, dt.date(2023, 1, 5))
    for day in (dt.date(2024, 1, 10), dt.date(2024, 2, 8), dt.date(2024, 3, 9), dt.date(2024, 5, 2)):
        event(a, K.URINALYSIS, day, result=Result.NEGATIVE)
    event(a, K.URINALYSIS, dt.date(2024, 4, 7), result=Result.REFUSED)
    people.append(a)
    # 社区康复 of 9 months from 2024-01-03: ends in October, before the end of 2024 — after the
    # derivation date, so the year's figure needs the state the measure gives way to.
    b = person(ZHONGSHAN)
    event(b, K.FOUND_USING, dt.date(2021, 3, 1))
    event(b, K.ISOLATION_DECISION, dt.date(2021, 3, 2))
    event(b, K.ADMISSION, dt.date(2021, 3, 3))
    event(b, K.RELEASE, dt.date(2023, 3, 1))
    event(b, K.COMMUNITY_RECOVERY_ORDER, dt.date(2023, 12, 28), term_months=9)
    event(b, K.REPORTED, dt.date(2024, 1, 3))
    event(b, K.URINALYSIS, dt.date(2024, 2, 1), result=Result.NEGATIVE)
    people.append(b)
    # A test recorded and then corrected: the database count alone would be wrong.
    c = person(BINHAI)
    event(c, K.FOUND_USING, dt.date(2023, 6, 1))
    event(c, K.COMMUNITY_REHAB_ORDER, dt.date(2023, 6, 1))
    event(c, K.REPORTED, dt.date(2023, 6, 3))
    wrong = event(c, K.URINALYSIS, dt.date(2024, 3, 3), result=Result.NEGATIVE)
    event(c, K.CORRECTION, dt.date(2024, 3, 20), corrects=wrong)
    event(c, K.URINALYSIS, dt.date(2024, 3, 21), result=Result.NEGATIVE)
    people.append(c)
    # In isolation since 2023-02-01; its status changed after the past dates asked.
    d = person(XIUYING)
    event(d, K.FOUND_USING, dt.date(2020, 5, 1))
    event(d, K.COMMUNITY_REHAB_ORDER, dt.date(2020, 5, 2))
    event(d, K.REPORTED, dt.date(2020, 5, 6))
    event(d, K.ISOLATION_DECISION, dt.date(2023, 2, 1))
    event(d, K.ADMISSION, dt.date(2023, 2, 2))
    people.append(d)
    # Found once in 2019: abstinent three years since 2022 (戒毒条例 art. 7).
    e = person(BINHAI, registered_on=dt.date(2019, 4, 1))
    event(e, K.FOUND_USING, dt.date(2019, 4, 1))
    people.append(e)
    # Ordered into 社区戒毒 on 2024-05-25, not yet reported: awaiting report today.
    f = person(ZHONGSHAN)
    event(f, K.FOUND_USING, dt.date(2024, 5, 25))
    event(f, K.COMMUNITY_REHAB_ORDER, dt.date(2024, 5, 25))
    people.append(f)
    people = [derived(p) for p in people]
    # Recorded after the derivation with a later date (a reporting entered ahead of time):
    # the cached columns no longer tell the state at the end of the year.
    event(f, K.REPORTED, dt.date(2024, 6, 5))
    return people


def test_cached_paths_give_the_figures_of_a_full_replay(timelines):
    root, town = superuser(), role_user("town_office", ZHONGSHAN)
    with time_machine.travel(NOON):
        cached = {"root": figures(root), "town": figures(town)}
        # Sanity: the fixture reaches the cases (someone due in 2024, a past status in isolation).
        assert cached["root"]["urinalysis 2024"][1] > 0
        assert dict(cached["root"]["status 2023-03-31"])[Status.ISOLATION] == 1
        assert dict(cached["root"]["status 2022-12-31"])[Status.ABSTINENT_3Y] == 1
        Person.objects.update(derived_on=None)  # nothing cached is trusted: every timeline is replayed
        replayed = {"root": figures(root), "town": figures(town)}
    assert cached == replayed


def test_the_cached_status_counts_without_reading_timelines(timelines):
    """On a past date only the people whose status changed since are derived from their
    timeline: the timeline query reads none when nobody's status changed after that date."""
    root = superuser()

    def reads_timelines(ctx):
        return any('"persons_event"."kind" AS "kind"' in q["sql"] and "ORDER BY" in q["sql"]
                   for q in ctx.captured_queries)

    with time_machine.travel(NOON):
        Person.objects.update(status_since=dt.date(2000, 1, 1))  # as if nothing had changed since 2000
        with CaptureQueriesContext(connection) as ctx:
            rows = indicators.people_by_status(root, as_of=dt.date(2023, 12, 31))
        assert not reads_timelines(ctx)
        assert sum(r.count for r in rows) == len(timelines)
        Person.objects.update(status_since=dt.date(2024, 5, 1))  # everyone changed status since
        with CaptureQueriesContext(connection) as ctx:
            indicators.people_by_status(root, as_of=dt.date(2023, 12, 31))
        assert reads_timelines(ctx)


# --- the page shows the indicators' figures ------------------------------------------------------------

def _figure(html, name):
    match = re.search(rf'data-figure="{name}">([^<]*)<', html)
    assert match, name
    return match.group(1).strip()


def _charts(html):
    match = re.search(r'<script id="persons-statistics-charts" type="application/json">(.*?)</script>', html, re.S)
    return json.loads(match.group(1))


def test_the_page_shows_the_indicators_figures(client, timelines):
    town = role_user("town_office", ZHONGSHAN)
    client.force_login(town)
    period = year_period(2024)
    with time_machine.travel(NOON):
        html = client.get(reverse("persons:statistics"), {"period": "2024"}).content.decode()
        by_status = indicators.people_by_status(town)
        finds = indicators.new_finds(town, indicators.series_periods(period))
        urinalysis = indicators.urinalyses_done_vs_due(town, period)
        contacts = indicators.contacts_done_vs_due(town, period)
        help_ = indicators.help_given(town, period)
    assert _figure(html, "registered") == f"{sum(r.count for r in by_status)} 人"
    assert _figure(html, "current") == "{} 人".format(
        sum(r.count for r in by_status if r.key in {s.value for s in indicators.CURRENT_USER_STATUSES}))
    assert _figure(html, "finds") == f"{sum(p.count for p in finds)} 人"
    assert _figure(html, "help-person-times") == f"{help_.person_times} 人次"
    for col, value in (("people", urinalysis.people), ("due", urinalysis.due), ("done", urinalysis.done)):
        assert re.search(rf'data-col="{col}">{value}<', html), col
    assert re.search(rf'data-col="due-contacts">{contacts.due_contacts}<', html)
    status_table = dict(re.findall(r'<tr data-key="([a-z_0-9]+)"><td>[^<]*</td><td class="text-end">(\d+)</td>', html))
    for r in by_status:
        assert int(status_table[r.key]) == r.count
    assert [p["name"] for p in _charts(html)["status"]["data"]] == [r.label for r in by_status if r.count]


# --- query counts ----------------------------------------------------------------------------------------

def _page_queries(client, params):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(reverse("persons:statistics"), params)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def _more_people(n):
    for i in range(n):
        p = person((ZHONGSHAN, BINHAI, XIUYING)[i % 3], status=Status.COMMUNITY_DRUG_REHAB, tier=Tier.A)
        event(p, K.FOUND_USING, dt.date(2023, 1, 1))
        event(p, K.COMMUNITY_REHAB_ORDER, dt.date(2023, 1, 1))
        event(p, K.REPORTED, dt.date(2023, 1, 4))
        event(p, K.URINALYSIS, dt.date(2024, 3, 1), result=Result.NEGATIVE)
        Contact.objects.create(person=p, kind=ContactKind.HOME_VISIT, occurred_on=dt.date(2024, 3, 2))
        derived(p)
        if i % 2:  # and half of them changed status after the past dates asked
            Person.objects.filter(pk=p.pk).update(status_since=dt.date(2024, 5, 1))


def test_page_query_count_grows_neither_with_divisions_nor_with_people(client, timelines):
    client.force_login(superuser())
    cases = [{"period": p, "level": level}
             for p in ("2024", "2023", "2024-Q2") for level in ("district", "town", "village")]
    with time_machine.travel(NOON):
        _page_queries(client, cases[0])  # warm per-user caches
        few = [_page_queries(client, c) for c in cases]
        _more_people(12)
        many = [_page_queries(client, c) for c in cases]
    assert many == few
    # District (4 rows), town (dozens) and village (hundreds) grouping: the same queries.
    assert few[0] == few[1] == few[2] and few[3] == few[4] == few[5]
    assert division(ZHONGSHAN).children.count() > 4  # villages really outnumber districts


# --- share of current users in the population ------------------------------------------------------------

def test_town_level_share_says_which_figure_is_missing(client, timelines):
    client.force_login(superuser())
    with time_machine.travel(NOON):
        html = client.get(reverse("persons:statistics"), {"period": "2024", "level": "town"}).content.decode()
    assert 'data-testid="share-missing"' in html
    assert "按镇街的占比无法计算：缺少人口数据" in html
    assert "中山街道" in html and "没有 2024 年及以前年度的人口数" in html
    assert "中国人口普查分乡、镇、街道资料2020" in html  # the official source that is not shipped
    assert 'data-stats-chart="share"' not in html  # no chart of bars that are not there
    assert _charts(html)["share"]["categories"] == []
    # The city total still has its figure (year-end resident 2023).
    assert re.search(r'data-testid="share-total"[^>]*>\s*<td>合计（海口市）</td>', html)


def test_district_level_share_is_drawn_and_a_town_figure_once_entered_counts(client, timelines):
    client.force_login(superuser())
    with time_machine.travel(NOON):
        html = client.get(reverse("persons:statistics"), {"period": "2024"}).content.decode()
        assert 'data-testid="share-missing"' not in html
        share = _charts(html)["share"]
        assert len(share["categories"]) == 4 and all(v is not None for v in share["series"][0]["data"])
        Population.objects.create(division=division(ZHONGSHAN), year=2020, kind=Population.Kind.CENSUS_RESIDENT,
                                  population=40000, source_doc="测试用来源（非真实数据）")
        html = client.get(reverse("persons:statistics"), {"period": "2024", "level": "town",
                                                          "division": division("460106").pk}).content.decode()
    share = _charts(html)["share"]
    assert share["categories"] == ["中山街道"]  # only the town with a figure is drawn
    # 中山街道's current users today: a, b (community measures) and f (awaiting report) → 3 / 40000.
    assert share["series"][0]["data"] == [str(indicators.per_mille(3, 40000))]
    assert 'data-testid="share-missing"' in html and "按镇街的占比无法计算" not in html
