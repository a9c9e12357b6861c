"""Staffing need: one worker per 30 current drug users plus one per 40 people abstinent three
years (the seed's Qiongshan model), the ceiling of the exact sum per town; the staffing
page, its chart data and its Excel export."""

from __future__ import annotations

import io
from fractions import Fraction

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from jindu.core.testing import division, user_with
from jindu.persons.choices import Status
from jindu.workforce import selectors
from jindu.workforce.choices import WorkerStatus
from jindu.workforce.staffing import exact_load, round_need, staffing_need
from jindu.workforce.tests.support import (
    DISTRICT, OTHER_TOWN, TOWN, brigade, manager, people, person, squadron, worker, workforce_perms,
)


# -- the formula --------------------------------------------------------------------------

@pytest.mark.parametrize("current, abstinent, need", [
    (0, 0, 0),
    (1, 0, 1),
    (30, 0, 1),      # exactly one caseload
    (31, 0, 2),      # one more user needs a second worker
    (0, 40, 1),
    (0, 41, 2),
    (30, 40, 2),
    (20, 13, 1),     # 20/30 + 13/40 = 0.991…: one mixed caseload
    (31, 1, 2),      # ceiling of the sum (1.058 → 2), not the sum of ceilings (2 + 1 = 3)
    (15, 20, 1),     # 0.5 + 0.5 = 1 exactly, no float error
    (123 * 30, 0, 123),
])
def test_need_is_the_ceiling_of_the_exact_sum(current, abstinent, need):
    assert staffing_need(current, abstinent) == need


def test_sum_of_separate_ceilings_would_overstate_the_need():
    # The rule documented in jindu.workforce.staffing: a worker's caseload mixes both groups.
    load = exact_load(31, 1, users_per_worker=30, abstinent_per_worker=40)
    assert load == Fraction(31, 30) + Fraction(1, 40)
    assert round_need(load) == 2
    assert round_need(Fraction(31, 30)) + round_need(Fraction(1, 40)) == 3


def test_half_up_rounding_setting():
    assert staffing_need(45, 0, rounding="half_up") == 2  # 1.5 → 2
    assert staffing_need(44, 0, rounding="half_up") == 1  # 1.47 → 1
    assert staffing_need(44, 0, rounding="ceil") == 2
    with pytest.raises(ValueError):
        staffing_need(1, 0, rounding="floor")


def test_ratios_come_from_settings(db, settings):
    settings.JINDU_WORKFORCE = {"users_per_worker": 20, "abstinent_per_worker": 40, "rounding": "ceil"}
    user = manager()
    people(21, TOWN)
    town = next(t for d in selectors.staffing_table(user) for t in d.towns if t.division.code.startswith(TOWN))
    assert (town.current_users, town.need) == (21, 2)


# -- the table ----------------------------------------------------------------------------

@pytest.fixture
def qiongshan(db):
    """府城街道: 31 current users, 1 abstinent (need 2) and 1 worker in post (short by 1);
    龙塘镇: 10 current users (need 1) and 3 workers in post, one of whom left (over by 1);
    the brigade's leader; people who do not count (dead, emigrated, merged)."""
    people(31, TOWN, status=Status.COMMUNITY_DRUG_REHAB)
    person(TOWN, status=Status.ABSTINENT_3Y)
    person(TOWN, status=Status.DECEASED)
    person(TOWN, status=Status.EMIGRATED)
    keep = person(TOWN, status=Status.ISOLATION)  # a current user (in a facility) still counts
    merged = person(TOWN, status=Status.CURRENT_NO_MEASURE)
    type(merged).objects.filter(pk=merged.pk).update(merged_into=keep)
    worker(squadron(TOWN))
    people(10, OTHER_TOWN, status=Status.CURRENT_NO_MEASURE)
    for _ in range(2):
        worker(squadron(OTHER_TOWN))
    worker(squadron(OTHER_TOWN), status=WorkerStatus.PROBATION)
    worker(squadron(OTHER_TOWN), status=WorkerStatus.LEFT)
    worker(brigade(DISTRICT))


def _town(rows, code):
    return next(t for d in rows for t in d.towns if t.division.code.startswith(code))


def test_staffing_table_counts_need_in_post_and_gap(qiongshan):
    rows = selectors.staffing_table(manager())
    assert [d.division.code[:6] for d in rows] == [DISTRICT]
    fucheng, longtang = _town(rows, TOWN), _town(rows, OTHER_TOWN)
    assert (fucheng.current_users, fucheng.abstinent, fucheng.need, fucheng.in_post, fucheng.gap) == (32, 1, 2, 1, 1)
    assert (longtang.current_users, longtang.need, longtang.in_post, longtang.gap) == (10, 1, 3, -2)
    assert longtang.over_capacity == 2
    district = rows[0]
    assert len(district.towns) == 12  # every town-level unit of 琼山区, squadron or not
    assert district.need == 3  # sum of the towns' needs
    assert district.in_post == 1 + 3 + 1  # squadrons plus the brigade's own staff


def test_staffing_page_shows_table_rule_and_chart_data(qiongshan, client):
    client.force_login(manager())
    response = client.get(reverse("workforce:staffing"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="staffing-table"' in html and "向上取整" in html
    assert 'id="staffing-chart-data"' in html and "<script src=" in html
    assert "<script>" not in html  # strict CSP: data in json_script, code in a static file
    data = response.context["chart"]
    i = data["categories"].index(division(TOWN).name)
    assert (data["need"][i], data["in_post"][i], data["gap"][i]) == (2, 1, 1)


def test_staffing_export_is_the_table(qiongshan, client):
    client.force_login(manager())
    response = client.get(reverse("workforce:staffing_export"))
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "区划代码"
    fucheng = next(r for r in rows if r[1] == division(TOWN).name)
    assert fucheng[0] == division(TOWN).code and fucheng[3:] == (32, 1, 1.09, 2, 1, 1)


def test_counts_only_where_the_user_sees_the_whole_registry(qiongshan):
    # A social worker's grant is narrowed to their own people: their caseload is not the town's
    # registry, so no need is computed from it.
    narrowed = user_with([*workforce_perms(["view"]), "persons.view_person"], division(TOWN), assigned_only=True)
    rows = selectors.staffing_table(narrowed)
    fucheng = _town(rows, TOWN)
    assert fucheng.current_users == 0 and fucheng.registry_visible is False


def test_staffing_page_empty_and_forbidden(db, client):
    client.force_login(user_with(["geo.view_division"], division(DISTRICT)))
    assert client.get(reverse("workforce:staffing")).status_code == 403
    client.force_login(user_with(workforce_perms(["view"]), division(DISTRICT)))
    response = client.get(reverse("workforce:staffing"))
    assert response.status_code == 200 and response.context["total_need"] == 0


def test_staffing_api(qiongshan):
    from jindu.core.testing import api_client

    data = api_client(manager()).get(reverse("api:staffing-list")).json()
    town = next(t for t in data["results"][0]["towns"] if t["code"] == division(TOWN).code)
    assert (town["need"], town["in_post"], town["gap"], town["load"]) == (2, 1, 1, "1.09")
