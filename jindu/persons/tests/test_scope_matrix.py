"""The role × scope matrix of the registry, for every default role held at city, district or
town level, through the pages (person list and detail), the API and the export; masking of
identity numbers identical in list, detail, export and API; and role unions never widening
what a social worker sees (peer case 13), for every pair of default roles."""

import csv
import io
import itertools

import pytest
from django.urls import NoReverseMatch, reverse

from jindu.accounts.roles import DEFAULT_ROLES
from jindu.core.idnumbers import mask_identity_number
from jindu.core.testing import all_pages, api_client, division, grant, make_user
from jindu.persons.models import Person
from jindu.persons.tests.io_support import make_person, role_user

ROLE_CODES = [spec.code for spec in DEFAULT_ROLES]
LEVELS = {"city": "460100", "district": "460106", "town": "460106001"}
DISTRICTS = ["460105", "460106", "460107", "460108"]
#: Roles that see people (everyone but the regulator and enterprises' own users); social
#: workers see only their own.
NO_PERSONS = {"regulator", "enterprise"}
FULL_NUMBERS = {"ncc_admin", "police"}


def _village(town):
    return town.children.order_by("code").first()


@pytest.fixture
def people(db):
    """Two people in the first village of each district's first and second town."""
    rows = []
    for code in DISTRICTS:
        for town in division(code).children.order_by("code")[:2]:
            rows.append(make_person(_village(town), name=f"矩阵-{town.name}"))
    return rows


def _expected(role, place, user, people):
    if role in NO_PERSONS:
        return set()
    root = division(place).path
    return {p.pk for p in people if p.residence_division.path.startswith(root)
            and (role != "social_worker" or p.assigned_worker_id == user.pk)}


def _page_urls(person):
    try:
        return reverse("persons:person_list"), reverse("persons:person_detail", kwargs={"pk": person.pk})
    except NoReverseMatch:
        pytest.skip("person pages not built yet")


@pytest.mark.parametrize("level", list(LEVELS))
@pytest.mark.parametrize("role", ROLE_CODES)
def test_role_sees_exactly_its_people(people, client, role, level):
    user = make_user()
    grant(user, role, LEVELS[level])
    root = division(LEVELS[level]).path
    inside = [p for p in people if p.residence_division.path.startswith(root)]
    outside = [p for p in people if not p.residence_division.path.startswith(root)]
    if role == "social_worker":  # one person of the subtree is theirs
        Person.objects.filter(pk=inside[0].pk).update(assigned_worker=user)
        inside[0].refresh_from_db()
    expected = _expected(role, LEVELS[level], user, people)

    # API
    api = api_client(user)
    if role in NO_PERSONS:
        assert api.get(reverse("api:person-list")).status_code == 403
        assert api.get(reverse("api:person-detail", kwargs={"pk": inside[0].pk})).status_code == 403
    else:
        ids, count = all_pages(api, reverse("api:person-list"), {"page_size": 500})
        assert set(ids) == expected and count == len(expected) == len(ids)
        for p in inside + outside:
            status = api.get(reverse("api:person-detail", kwargs={"pk": p.pk})).status_code
            assert status == (200 if p.pk in expected else 404), (p.name, status)

    # Export (the person list as the user sees it)
    client.force_login(user)
    response = client.get(reverse("persons:person_export"), {"format": "csv"})
    if role in NO_PERSONS:
        assert response.status_code == 403
    else:
        assert response.status_code == 200
        rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
        names = sorted(r[rows[0].index("姓名")] for r in rows[1:])
        assert names == sorted(p.name for p in people if p.pk in expected)

    # Pages
    list_url, _detail = _page_urls(inside[0])
    response = client.get(list_url, {"per_page": 100})
    if role in NO_PERSONS:
        assert response.status_code == 403
        return
    html = response.content.decode()
    for p in people:
        marker = reverse("persons:person_detail", kwargs={"pk": p.pk})
        assert (marker in html) == (p.pk in expected), (p.name, role, level)
    for p in inside + outside:
        status = client.get(reverse("persons:person_detail", kwargs={"pk": p.pk})).status_code
        assert status == (200 if p.pk in expected else 404), (p.name, status)


@pytest.mark.parametrize("role", [r for r in ROLE_CODES if r not in NO_PERSONS])
def test_masking_identical_in_list_detail_export_and_api(db, client, role):
    person = make_person(_village(division("460106001")), name="脱敏检查")
    user = role_user(role, "460106")
    if role == "social_worker":
        Person.objects.filter(pk=person.pk).update(assigned_worker=user)
    number = person.identity_number
    shown = number if role in FULL_NUMBERS else mask_identity_number(number)

    api = api_client(user)
    assert api.get(reverse("api:person-list")).json()["results"][0]["identity_number"] == shown
    assert api.get(reverse("api:person-detail", kwargs={"pk": person.pk})).json()["identity_number"] == shown

    client.force_login(user)
    for fmt in ("csv", "xlsx"):
        content = b"".join(client.get(reverse("persons:person_export"), {"format": fmt}).streaming_content)
        if fmt == "csv":
            rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
        else:
            from openpyxl import load_workbook

            rows = [[c.value for c in r] for r in load_workbook(io.BytesIO(content)).worksheets[0].iter_rows()]
        assert rows[1][rows[0].index("证件号码")] == shown, fmt

    list_url, detail_url = _page_urls(person)
    for url in (list_url, detail_url):
        html = client.get(url).content.decode()
        assert shown in html, url
        if shown != number:
            assert number not in html, url


def _visible(user):
    user.refresh_grants()
    return set(Person.objects.restrict(user, "view").values_list("pk", flat=True))


PLACES = [("460106", "460106"), ("460106001", "460105"), ("460106001", "460106001")]


@pytest.mark.parametrize("place_a,place_b", PLACES)
def test_two_roles_see_exactly_the_union(people, place_a, place_b):
    """Peer case 13 for every pair of default roles: holding a second role adds exactly what
    that role sees alone; a social worker's assigned-only view is never widened by a role
    that does not cover people (the regulator's)."""
    for a, b in itertools.combinations_with_replacement(ROLE_CODES, 2):
        if a == b and place_a == place_b:
            continue
        both = make_user()
        grant(both, a, place_a)
        grant(both, b, place_b)
        mine = make_person(_village(division("460106001")), name="分配给我", assigned_worker=both)
        everyone = [*people, mine]
        expected = _expected(a, place_a, both, everyone) | _expected(b, place_b, both, everyone)
        assert _visible(both) == expected, (a, place_a, b, place_b)
        if {a, b} == {"social_worker", "regulator"}:
            assert expected == ({mine.pk} if division(place_a if a == "social_worker" else place_b).path
                                in mine.residence_division.path else set())
        mine.delete()
        Person.history.filter(id=mine.pk).delete()


def test_social_worker_plus_publicity_role_api_and_page(people, client):
    """Peer case 13 through the API and the list page: the second role (no person
    permission) leaves the list at the assigned people."""
    user = make_user()
    grant(user, "social_worker", "460106")
    grant(user, "regulator", "460100")
    mine = make_person(_village(division("460106001")), name="我的对象", assigned_worker=user)
    ids, count = all_pages(api_client(user), reverse("api:person-list"), {"search": "矩阵"})
    assert ids == [] and count == 0
    ids, count = all_pages(api_client(user), reverse("api:person-list"))
    assert ids == [mine.pk] and count == 1
    list_url, _detail = _page_urls(mine)
    client.force_login(user)
    html = client.get(list_url).content.decode()
    assert "我的对象" in html and "矩阵-" not in html
