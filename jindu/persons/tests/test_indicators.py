"""The registry's indicators (``persons.indicators``) from small hand-computed fixtures: people
by status, tier, drug and division; new finds and relapses per local period; share of current
users in the population with the figure's source; execution and handover rates; tests and
contacts done vs due; help given — each scoped to the user, with query counts that do not
grow with the rows, and the statistics page that shows them.

Places: 中山街道 (460106001) and 滨海街道 (460106002) in 龙华区 (460106); 秀英街道 (460105001) in
秀英区 (460105). The divisions and population figures are the shipped ones (conftest).
"""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from jindu.core.testing import division, grant, make_user
from jindu.core.timeutils import month_period, period_containing, periods_between, quarter_period, year_period
from jindu.geo.models import Population
from jindu.geo.services import population_of
from jindu.persons import indicators
from jindu.persons.choices import (
    AssistanceKind, ContactKind, EventKind as K, HandoverStatus, Status, Tier,
)
from jindu.persons.choices import TestResult as Result
from jindu.persons.models import Assistance, Contact, Event, Handover, Person
from jindu.substances.models import Substance

pytestmark = pytest.mark.django_db

ZHONGSHAN, BINHAI, XIUYING = "460106001", "460106002", "460105001"
LONGHUA, XIUYING_DISTRICT = "460106", "460105"
MARCH = month_period(2024, 3)
TODAY = dt.date(2024, 6, 1)

_n = iter(range(1, 10_000))


def village(town=ZHONGSHAN, index=0):
    return division(town).children.order_by("code")[index]


def person(town=ZHONGSHAN, *, status=Status.CURRENT_NO_MEASURE, tier="", residence=None, drugs=(), **fields):
    """A person with the derived columns set directly (they are a cache of the timeline; the
    tests of the rules module cover the derivation itself)."""
    p = Person.objects.create(name=f"统计{next(_n)}", residence_division=residence or village(town),
                              registered_on=fields.pop("registered_on", dt.date(2020, 1, 1)), **fields)
    Person.objects.filter(pk=p.pk).update(status=status, tier=tier)
    if drugs:
        p.drugs.set(drugs)
    return Person.objects.get(pk=p.pk)


def event(p, kind, on, **extra):
    return Event.objects.create(person=p, kind=kind, occurred_on=on, **extra)


def superuser():
    return get_user_model().objects.create_superuser(username=f"statroot{next(_n)}", password=None)


def role_user(role, place):
    user = make_user()
    grant(user, role, place)
    return user


def counts(rows):
    return {r.key: r.count for r in rows}


def drug(name):
    return Substance.objects.filter(name_zh=name).order_by("pk").first()


# --- people by status, tier, drug, division -----------------------------------------------------

@pytest.fixture
def registry():
    meth, heroin = drug("甲基苯丙胺"), drug("海洛因")
    assert meth is not None and heroin is not None
    a = person(ZHONGSHAN, status=Status.COMMUNITY_DRUG_REHAB, tier=Tier.A, drugs=[meth, heroin])
    b = person(ZHONGSHAN, status=Status.ABSTINENT_3Y)
    c = person(BINHAI, status=Status.CURRENT_NO_MEASURE, tier=Tier.B, drugs=[meth])
    d = person(XIUYING, status=Status.ISOLATION, tier=Tier.C1, drugs=[heroin])
    merged = person(ZHONGSHAN, status=Status.CURRENT_NO_MEASURE, tier=Tier.A, drugs=[meth])
    Person.objects.filter(pk=merged.pk).update(merged_into=a)
    return {"a": a, "b": b, "c": c, "d": d, "meth": meth, "heroin": heroin}


def test_people_by_status_counts_every_status_and_leaves_out_merged_records(registry):
    rows = indicators.people_by_status(superuser())
    assert [r.key for r in rows] == [s.value for s in Status]
    assert counts(rows) == {**{s.value: 0 for s in Status}, Status.COMMUNITY_DRUG_REHAB: 1,
                            Status.ABSTINENT_3Y: 1, Status.CURRENT_NO_MEASURE: 1, Status.ISOLATION: 1}


def test_a_town_user_sees_only_the_towns_people(registry):
    town = role_user("town_office", ZHONGSHAN)
    assert counts(indicators.people_by_status(town))[Status.COMMUNITY_DRUG_REHAB] == 1
    assert sum(r.count for r in indicators.people_by_status(town)) == 2  # a and b; not c (滨海), d (秀英)
    by_division = indicators.people_by_division(town, "town")
    assert [(r.division.code[:9], r.total, r.current) for r in by_division] == [(ZHONGSHAN, 2, 1)]


def test_people_by_tier_counts_current_users_only_with_the_unassessed_last(registry):
    rows = indicators.people_by_tier(superuser())
    assert [r.key for r in rows] == ["A", "B", "C1", "C2", ""]
    # a (A), c (B), d (C1) are current users; b is abstinent three years; the merged record is out.
    assert counts(rows) == {"A": 1, "B": 1, "C1": 1, "C2": 0, "": 0}
    everyone = indicators.people_by_tier(superuser(), statuses=None)
    assert counts(everyone)[""] == 1  # b, never assessed


def test_people_by_drug_counts_a_person_under_each_drug(registry):
    rows = indicators.people_by_drug(superuser())
    # meth: a, c (the merged duplicate not counted); heroin: a, d. Most people first, then by name.
    assert [(r.label, r.count) for r in rows] == sorted([("甲基苯丙胺", 2), ("海洛因", 2)], key=lambda t: t[0])
    assert indicators.people_by_drug(superuser(), statuses=None)[-1].label == "未记录"  # b has no drug


def test_people_by_division_groups_by_the_ancestor_at_the_level(registry):
    rows = {r.division.code[:6]: r for r in indicators.people_by_division(superuser(), "district")}
    assert set(rows) == {"460105", "460106", "460107", "460108"}  # every district, zeros included
    assert (rows[LONGHUA].total, rows[LONGHUA].current) == (3, 2)  # a, c current; b abstinent
    assert (rows[XIUYING_DISTRICT].total, rows[XIUYING_DISTRICT].current) == (1, 1)
    assert rows["460107"].total == 0
    towns = indicators.people_by_division(superuser(), "town", division=division(LONGHUA))
    by_code = {r.division.code[:9]: r.total for r in towns}
    assert by_code[ZHONGSHAN] == 2 and by_code[BINHAI] == 1 and sum(by_code.values()) == 3
    assert all(r.division.parent.code.startswith(LONGHUA) for r in towns)
    # The page sums the by-division rows into the by-status counts: the same numbers.
    root = superuser()
    assert counts(indicators.status_rows(indicators.people_by_division(root, "village"))) == counts(
        indicators.people_by_status(root))


def test_people_living_above_the_level_get_their_own_row(registry):
    person(ZHONGSHAN, residence=division(ZHONGSHAN))  # residence recorded at the town only
    rows = indicators.people_by_division(superuser(), "village", division=division(ZHONGSHAN))
    assert rows[-1].division is None and rows[-1].total == 1 and "村居" in rows[-1].label
    assert sum(r.total for r in rows) == 3


def test_unknown_level_is_refused():
    with pytest.raises(ValueError):
        indicators.people_by_division(superuser(), "grid")


def test_status_on_a_past_date_comes_from_the_timeline():
    """Found using on 2021-05-01 and nothing since: a current user at the end of 2022; with the
    default clock (from the later of the last detected use and the end of the last measure)
    abstinent three years from 2024-05-01 (戒毒条例第七条). Someone registered and found in
    2023 is not counted at the end of 2022."""
    early = person(ZHONGSHAN, registered_on=dt.date(2021, 5, 2))
    event(early, K.FOUND_USING, dt.date(2021, 5, 1))
    late = person(ZHONGSHAN, registered_on=dt.date(2023, 3, 1))
    event(late, K.FOUND_USING, dt.date(2023, 3, 1))
    root = superuser()
    with time_machine.travel(dt.datetime(2025, 6, 1, 10, tzinfo=dt.timezone.utc)):
        end_2022 = counts(indicators.people_by_status(root, as_of=dt.date(2022, 12, 31)))
        end_2024 = counts(indicators.people_by_status(root, as_of=dt.date(2024, 12, 31)))
    assert end_2022[Status.CURRENT_NO_MEASURE] == 1 and sum(end_2022.values()) == 1
    assert end_2024[Status.ABSTINENT_3Y] == 1 and end_2024[Status.CURRENT_NO_MEASURE] == 1


# --- new finds and relapses ---------------------------------------------------------------------------

@pytest.fixture
def detections():
    x = person(ZHONGSHAN)
    event(x, K.FOUND_USING, dt.date(2024, 1, 10))  # new in January
    event(x, K.RELAPSE, dt.date(2024, 3, 31))  # relapse in March (its last day)
    event(x, K.FOUND_USING, dt.date(2024, 4, 1))  # found again: relapse in April
    y = person(ZHONGSHAN)
    wrong = event(y, K.FOUND_USING, dt.date(2024, 2, 1))
    event(y, K.CORRECTION, dt.date(2024, 4, 5), corrects=wrong)  # the February record was wrong
    event(y, K.FOUND_USING, dt.date(2024, 3, 31))  # so y is new in March
    event(y, K.RELAPSE, dt.date(2024, 3, 31))  # same day as the first detection: not a relapse
    z = person(XIUYING)
    event(z, K.FOUND_USING, dt.date(2023, 12, 31))  # new in 2023
    event(z, K.FOUND_USING, dt.date(2024, 2, 15))  # relapse in February
    event(z, K.RELAPSE, dt.date(2024, 2, 15))  # same day, counted once
    return x, y, z


def test_new_finds_and_relapses_per_month(detections):
    months = periods_between("month", dt.date(2024, 1, 1), dt.date(2024, 4, 30))
    root = superuser()
    assert [p.count for p in indicators.new_finds(root, months)] == [1, 0, 1, 0]
    assert [p.count for p in indicators.relapses(root, months)] == [0, 1, 1, 1]
    assert [p.period.label for p in indicators.new_finds(root, months)] == ["2024-01", "2024-02", "2024-03", "2024-04"]


def test_new_finds_and_relapses_are_scoped(detections):
    town = role_user("town_office", ZHONGSHAN)
    months = periods_between("month", dt.date(2024, 1, 1), dt.date(2024, 4, 30))
    assert [p.count for p in indicators.relapses(town, months)] == [0, 0, 1, 1]  # z lives in 秀英
    assert sum(p.count for p in indicators.new_finds(town, [year_period(2023)])) == 0


def test_an_event_on_the_last_local_day_of_a_month_counts_in_that_month(detections):
    """At 00:30 on 1 April in Shanghai it is still 31 March in UTC: the current local month is
    April, and y's find dated 31 March belongs to March, not to it."""
    root = superuser()
    with time_machine.travel(dt.datetime(2024, 3, 31, 16, 30, tzinfo=dt.timezone.utc)):
        from django.utils import timezone

        current = period_containing("month", timezone.now())
    assert current.label == "2024-04"
    assert indicators.new_finds(root, [current])[0].count == 0
    assert indicators.new_finds(root, [current.previous()])[0].count == 1
    days = periods_between("day", dt.date(2024, 3, 30), dt.date(2024, 4, 1))
    assert [p.count for p in indicators.relapses(root, days)] == [0, 1, 1]


# --- share of current users in the population -----------------------------------------------------------

def test_share_divides_by_the_chosen_population_figure_with_its_source(registry):
    root = superuser()
    with time_machine.travel(dt.datetime(2024, 6, 1, 4, tzinfo=dt.timezone.utc)):
        rows, total = indicators.current_user_share(root, 2023, level="district", as_of=dt.date(2024, 6, 1))
    longhua = next(r for r in rows if r.division.code.startswith(LONGHUA))
    # 龙华区: no district figure after the 2020 census → census resident 797,684 (2020).
    assert longhua.current_users == 2
    assert (longhua.population.year, longhua.population.kind, longhua.population.population) == (
        2020, Population.Kind.CENSUS_RESIDENT, 797684)
    assert "第七次全国人口普查公报" in longhua.population.source_doc
    assert longhua.ratio == Decimal(2) / Decimal(797684)
    assert longhua.per_mille == Decimal("0.00") and longhua.percent == Decimal("0.000")
    # The whole city: year-end resident 2023, 300.16万 = 3,001,600; current users a, c, d.
    assert total.division.code == "460100000000"
    assert (total.population.year, total.population.kind, total.population.population) == (
        2023, Population.Kind.YEAR_END_RESIDENT, 3001600)
    assert total.current_users == 3 and total.ratio == Decimal(3) / Decimal(3001600)
    assert total.population == population_of(total.division, 2023)


def test_share_per_mille_is_rounded_half_up():
    row = indicators.ShareRow(division=division(LONGHUA), current_users=1995,
                              population=Population(population=797684, year=2020), year=2023, as_of=TODAY)
    assert row.per_mille == Decimal("2.50")  # 1995 × 1000 / 797684 = 2.50099…
    assert row.percent == Decimal("0.250")


def test_no_population_figure_gives_no_share(registry):
    town = role_user("town_office", ZHONGSHAN)
    with time_machine.travel(dt.datetime(2024, 6, 1, 4, tzinfo=dt.timezone.utc)):
        rows, total = indicators.current_user_share(town, 2023, level="village", as_of=dt.date(2024, 6, 1))
    assert total.division.code.startswith(ZHONGSHAN)  # the town: its villages' common ancestor
    assert total.population is None and total.ratio is None and total.note == "无人口数据"
    assert total.current_users == 1
    assert all(r.ratio is None and r.note == "无人口数据" for r in rows)


def test_a_share_is_not_given_for_a_division_seen_only_in_part(registry):
    town = role_user("town_office", ZHONGSHAN)
    with time_machine.travel(dt.datetime(2024, 6, 1, 4, tzinfo=dt.timezone.utc)):
        _rows, total = indicators.current_user_share(town, 2023, level="village", division=division(LONGHUA),
                                                     as_of=dt.date(2024, 6, 1))
    # 龙华区 has a figure, but the town user sees one town of it: dividing would be wrong.
    assert total.population is not None and total.complete is False and total.ratio is None


def test_population_choice_matches_geo_services():
    city = division("460100")
    for year in (2019, 2020, 2021, 2022, 2023, 2024):
        assert indicators.populations_of([city], year)[city.pk] == population_of(city, year)


# --- handover and execution rates --------------------------------------------------------------------

def test_execution_and_handover_rates():
    """Two isolation decisions in February, one followed by an admission: execution 50.0 %.
    Two releases: one reported on day 10, one on day 19 (the 15 days of 戒毒条例 art. 38 passed):
    on time 50.0 %."""
    p, q = person(ZHONGSHAN), person(ZHONGSHAN)
    event(p, K.ISOLATION_DECISION, dt.date(2024, 2, 1))
    event(p, K.ADMISSION, dt.date(2024, 2, 3))
    event(q, K.ISOLATION_DECISION, dt.date(2024, 2, 10))
    Handover.objects.create(person=p, notice_received_on=dt.date(2024, 2, 1), expected_release_on=dt.date(2024, 2, 5),
                            released_on=dt.date(2024, 2, 5), received_on=dt.date(2024, 2, 5),
                            reported_on=dt.date(2024, 2, 15), status=HandoverStatus.REPORTED)
    Handover.objects.create(person=q, notice_received_on=dt.date(2024, 1, 28), expected_release_on=dt.date(2024, 2, 1),
                            released_on=dt.date(2024, 2, 1), reported_on=dt.date(2024, 2, 20),
                            status=HandoverStatus.REPORTED)
    rates = indicators.handover_rates(superuser(), month_period(2024, 2), today=TODAY)
    assert (rates.decisions, rates.executed, rates.execution_rate) == (2, 1, Decimal("50.0"))
    assert (rates.releases, rates.reported_on_time, rates.handover_rate) == (2, 1, Decimal("50.0"))
    assert rates.pickup_rate == Decimal("50.0")
    other = role_user("town_office", XIUYING)
    assert indicators.handover_rates(other, month_period(2024, 2), today=TODAY).execution_rate is None


# --- tests and contacts done vs due ---------------------------------------------------------------------

def in_community_rehab(town=ZHONGSHAN):
    """Ordered 2024-01-01, reported 2024-01-05: the baseline slots end 02-05, 03-05, 04-05 …
    (monthly in the first year), so exactly one urinalysis falls due in March 2024."""
    p = person(town, status=Status.COMMUNITY_DRUG_REHAB)
    event(p, K.FOUND_USING, dt.date(2024, 1, 1))
    event(p, K.COMMUNITY_REHAB_ORDER, dt.date(2024, 1, 1))
    event(p, K.REPORTED, dt.date(2024, 1, 5))
    return p


def test_urinalyses_done_vs_due():
    one, two, three = in_community_rehab(), in_community_rehab(), in_community_rehab()
    event(one, K.URINALYSIS, dt.date(2024, 3, 10), result=Result.NEGATIVE)
    event(one, K.URINALYSIS, dt.date(2024, 3, 20), result=Result.REFUSED)  # not a test done
    event(two, K.URINALYSIS, dt.date(2024, 3, 1), result=Result.POSITIVE)
    event(two, K.URINALYSIS, dt.date(2024, 3, 31), result=Result.NEGATIVE)
    event(three, K.URINALYSIS, dt.date(2024, 4, 1), result=Result.NEGATIVE)  # April: not in March
    person(ZHONGSHAN)  # no measure: nothing due
    c = indicators.urinalyses_done_vs_due(superuser(), MARCH)
    assert (c.people, c.due, c.done, c.met, c.people_met) == (3, 3, 3, 2, 2)
    assert c.rate == Decimal("66.7")
    # The first quarter: slots ending 02-05 and 03-05 → 2 each (the 01-05 start is no slot);
    # done: one 1, two 2, three 0 (its test is in April) → met 1 + 2 + 0.
    q1 = indicators.urinalyses_done_vs_due(superuser(), quarter_period(2024, 1))
    assert (q1.people, q1.due, q1.done, q1.met, q1.people_met) == (3, 6, 3, 3, 1)


def test_urinalyses_are_scoped():
    in_community_rehab(ZHONGSHAN)
    in_community_rehab(XIUYING)
    assert indicators.urinalyses_done_vs_due(role_user("town_office", ZHONGSHAN), MARCH).due == 1


def test_contacts_done_vs_due():
    """Due in March from the tier overlay (schedule_default.json): A contact twice a month and
    a home visit monthly; B contact monthly and a home visit every 3 months (1/3 in a month);
    C2, unassessed and abstinent people nothing. Due: contacts 2 + 1 = 3.0, home visits
    1 + 0.33 = 1.3."""
    a = person(ZHONGSHAN, status=Status.COMMUNITY_DRUG_REHAB, tier=Tier.A)
    b = person(ZHONGSHAN, status=Status.CURRENT_NO_MEASURE, tier=Tier.B)
    person(ZHONGSHAN, status=Status.CURRENT_NO_MEASURE, tier=Tier.C2)
    person(ZHONGSHAN, status=Status.CURRENT_NO_MEASURE)
    person(ZHONGSHAN, status=Status.ABSTINENT_3Y, tier=Tier.A)
    for p, kind, day in ((a, ContactKind.INTERVIEW, 3), (a, ContactKind.HOME_VISIT, 31), (b, ContactKind.PHONE, 1),
                         (a, ContactKind.POLICE_CONTACT, 15)):
        Contact.objects.create(person=p, kind=kind, occurred_on=dt.date(2024, 3, day))
    Contact.objects.create(person=b, kind=ContactKind.HOME_VISIT, occurred_on=dt.date(2024, 4, 1))
    c = indicators.contacts_done_vs_due(superuser(), MARCH)
    assert (c.due_contacts, c.due_home_visits) == (Decimal("3.0"), Decimal("1.3"))
    assert (c.done_contacts, c.done_home_visits, c.people_contacted) == (3, 1, 2)
    assert c.rate == Decimal("100.0") and c.home_visit_rate == Decimal("76.9")
    assert {r.key: r.count for r in c.by_kind}[ContactKind.POLICE_CONTACT] == 1
    # A quarter: A 6 contacts and 3 visits, B 3 contacts and 1 visit.
    q = indicators.contacts_done_vs_due(superuser(), quarter_period(2024, 1))
    assert (q.due_contacts, q.due_home_visits) == (Decimal("9.0"), Decimal("4.0"))


def test_tests_done_by_result():
    p = in_community_rehab()
    event(p, K.URINALYSIS, dt.date(2024, 3, 2), result=Result.NEGATIVE)
    wrong = event(p, K.URINALYSIS, dt.date(2024, 3, 3), result=Result.POSITIVE)
    event(p, K.CORRECTION, dt.date(2024, 3, 4), corrects=wrong)
    event(p, K.HAIR_TEST, dt.date(2024, 3, 5), result=Result.NEGATIVE)
    tests = indicators.tests_done(superuser(), MARCH)
    assert counts(tests[K.URINALYSIS]) == {**{r.value: 0 for r in Result}, Result.NEGATIVE: 1}
    assert counts(tests[K.HAIR_TEST])[Result.NEGATIVE] == 1


# --- help given ---------------------------------------------------------------------------------------

@pytest.fixture
def helped():
    p, q = person(ZHONGSHAN), person(ZHONGSHAN)
    rows = [
        (p, AssistanceKind.CARE, dt.date(2024, 3, 1), Decimal("500.00"), False),
        (p, AssistanceKind.JOB_PLACEMENT, dt.date(2024, 3, 31), None, True),
        (q, AssistanceKind.JOB_PLACEMENT, dt.date(2024, 3, 15), None, True),
        (q, AssistanceKind.STARTUP_GRANT, dt.date(2024, 3, 20), Decimal("3000.50"), False),
        (q, AssistanceKind.CARE, dt.date(2024, 4, 1), Decimal("100.00"), False),  # April
    ]
    for who, kind, on, amount, job in rows:
        Assistance.objects.create(person=who, kind=kind, given_on=on, amount_yuan=amount, job_found=job)
    other = person(XIUYING)
    Assistance.objects.create(person=other, kind=AssistanceKind.CARE, given_on=dt.date(2024, 3, 5),
                              amount_yuan=Decimal("200.00"))
    return p, q


def test_help_given_person_times_people_jobs_and_amounts(helped):
    town = role_user("town_office", ZHONGSHAN)
    h = indicators.help_given(town, MARCH)
    assert (h.person_times, h.people, h.jobs_found, h.people_in_jobs) == (4, 2, 2, 2)
    assert h.amount_yuan == Decimal("3500.50")
    rows = {r.key: (r.person_times, r.people, r.jobs_found, r.amount_yuan) for r in h.rows}
    assert rows[AssistanceKind.CARE] == (1, 1, 0, Decimal("500.00"))
    assert rows[AssistanceKind.JOB_PLACEMENT] == (2, 2, 2, Decimal("0.00"))
    assert rows[AssistanceKind.STARTUP_GRANT] == (1, 1, 0, Decimal("3000.50"))
    assert rows[AssistanceKind.FARMING_GUIDANCE] == (0, 0, 0, Decimal("0.00"))
    everyone = indicators.help_given(superuser(), MARCH)
    assert (everyone.person_times, everyone.amount_yuan) == (5, Decimal("3700.50"))


def test_records_of_a_merged_duplicate_are_not_counted(helped):
    p, q = helped
    Person.objects.filter(pk=q.pk).update(merged_into=p)
    h = indicators.help_given(superuser(), MARCH)
    assert h.person_times == 3  # p's two and the 秀英 one


# --- query counts do not grow with the rows -----------------------------------------------------------------

def _queries(fn):
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(ctx.captured_queries)


def _add_world(n):
    for i in range(n):
        p = in_community_rehab(ZHONGSHAN if i % 2 else BINHAI)
        Person.objects.filter(pk=p.pk).update(tier=Tier.A)
        event(p, K.URINALYSIS, dt.date(2024, 3, 10), result=Result.NEGATIVE)
        event(p, K.RELAPSE, dt.date(2024, 3, 12))
        Contact.objects.create(person=p, kind=ContactKind.HOME_VISIT, occurred_on=dt.date(2024, 3, 11))
        Assistance.objects.create(person=p, kind=AssistanceKind.CARE, given_on=dt.date(2024, 3, 9),
                                  amount_yuan=Decimal("10.00"))


def test_query_counts_do_not_depend_on_the_number_of_rows():
    town = role_user("town_office", LONGHUA)
    months = periods_between("month", dt.date(2024, 1, 1), dt.date(2024, 12, 31))
    calls = {
        "status": lambda: indicators.people_by_status(town),
        "status_past": lambda: indicators.people_by_status(town, as_of=dt.date(2024, 3, 31)),
        "tier": lambda: indicators.people_by_tier(town),
        "drug": lambda: indicators.people_by_drug(town),
        "division": lambda: indicators.people_by_division(town, "village"),
        "finds": lambda: indicators.new_finds(town, months),
        "relapses": lambda: indicators.relapses(town, months),
        "share": lambda: indicators.current_user_share(town, 2023, level="town"),
        "rates": lambda: indicators.handover_rates(town, MARCH, today=TODAY),
        "urinalysis": lambda: indicators.urinalyses_done_vs_due(town, MARCH),
        "contacts": lambda: indicators.contacts_done_vs_due(town, MARCH),
        "tests": lambda: indicators.tests_done(town, MARCH),
        "help": lambda: indicators.help_given(town, MARCH),
    }
    _add_world(2)
    for fn in calls.values():
        fn()  # warm per-user caches (grants)
    few = {name: _queries(fn) for name, fn in calls.items()}
    _add_world(8)
    many = {name: _queries(fn) for name, fn in calls.items()}
    assert many == few
    # … and the rows were really there to count.
    assert indicators.help_given(town, MARCH).person_times == 10
    assert sum(p.count for p in indicators.relapses(town, months)) == 10


# --- the statistics page ------------------------------------------------------------------------------

def test_statistics_page_shows_the_users_numbers(client, registry, helped):
    town = role_user("town_office", ZHONGSHAN)
    client.force_login(town)
    url = reverse("persons:statistics")
    with time_machine.travel(dt.datetime(2024, 6, 1, 4, tzinfo=dt.timezone.utc)):
        response = client.get(url, {"period": "2024-03"})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-figure="help-person-times">4 ' in html  # 中山街道's four records, not 秀英's
    assert 'data-figure="registered">4 ' in html  # a, b and the two people helped; not c (滨海) nor d (秀英)
    assert "无人口数据" in html  # villages and the town have no published population
    assert 'id="persons-statistics-charts" type="application/json"' in html
    assert "<script>" not in html  # strict CSP: no inline script
    assert "persons/statistics.js" in html


def test_statistics_page_refuses_a_bad_period_and_needs_permission(client):
    town = role_user("town_office", ZHONGSHAN)
    client.force_login(town)
    response = client.get(reverse("persons:statistics"), {"period": "2024-13"})
    assert response.status_code == 200
    assert "统计周期格式不正确" in response.content.decode()
    assert "persons-statistics-charts" not in response.content.decode()
    client.force_login(role_user("regulator", ZHONGSHAN))
    assert client.get(reverse("persons:statistics")).status_code == 403
    client.logout()
    assert client.get(reverse("persons:statistics")).status_code in (302, 403)


def test_statistics_page_of_a_city_user_shows_the_city_share_with_its_source(client, registry):
    client.force_login(superuser())
    with time_machine.travel(dt.datetime(2024, 6, 1, 4, tzinfo=dt.timezone.utc)):
        response = client.get(reverse("persons:statistics"), {"period": "2024"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "海口市第七次全国人口普查公报" in html  # the districts' 2020 census figures
    assert "年末常住人口" in html  # the city: year-end resident (2023, the latest ≤ 2024)
