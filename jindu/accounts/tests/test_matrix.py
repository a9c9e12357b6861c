"""The role × scope matrix.

1. Every default role held at city, district or town level sees exactly its subtree of
   divisions and units — through the API and the unit list page.
2. Holding two roles never shows more of a model than the union of what each role shows
   alone; in particular a social worker (assigned_only) who also holds a role that does not
   cover a model with assignees still sees only the rows assigned to them (peer case 13) —
   asserted for every pair of default roles, at the same and at different places.
"""

import itertools

import pytest
from django.contrib.auth.models import Permission
from django.urls import NoReverseMatch, reverse

from jindu.accounts.models import Role, RoleAssignment, User
from jindu.accounts.roles import DEFAULT_ROLES
from jindu.accounts.tests.factories import (
    CommissionMembershipFactory, PairingFactory, UnitFactory, specimen_factory,
)
from jindu.core.testing import all_pages, api_client, division, grant, make_user
from jindu.core.tests.testapp.models import Specimen
from jindu.geo.models import Division
from jindu.org.models import CommissionMembership, Pairing, Unit

ROLE_CODES = [spec.code for spec in DEFAULT_ROLES]
LEVELS = {"city": "460100", "district": "460106", "town": "460106001"}
DISTRICTS = ["460105", "460106", "460107", "460108"]
SpecimenFactory = specimen_factory()


@pytest.fixture
def org_world(db):
    """Units at the city, every district and each district's first town; pairings, memberships."""
    units = [UnitFactory(division=division("460100"), name="矩阵单位-市")]
    for code in DISTRICTS:
        d = division(code)
        town = d.children.order_by("code").first()
        units.append(UnitFactory(division=d, name=f"矩阵单位-{d.name}"))
        town_unit = UnitFactory(division=town, name=f"矩阵单位-{town.name}")
        units.append(town_unit)
        PairingFactory(unit=town_unit, town=town, year=2024)
        CommissionMembershipFactory(unit=town_unit, year=2024)
    return units


def _subtree(code):
    return division(code).path


@pytest.mark.parametrize("level", list(LEVELS))
@pytest.mark.parametrize("role", ROLE_CODES)
def test_role_sees_exactly_its_subtree_api(org_world, role, level):
    user = make_user()
    grant(user, role, LEVELS[level])
    root = _subtree(LEVELS[level])
    client = api_client(user)

    ids, count = all_pages(client, reverse("api:division-list"), {"page_size": 500})
    expected = set(Division.objects.filter(path__startswith=root).values_list("pk", flat=True))
    assert set(ids) == expected and count == len(expected) == len(ids)

    ids, count = all_pages(client, reverse("api:unit-list"), {"page_size": 500})
    expected = set(Unit.objects.filter(division__path__startswith=root).values_list("pk", flat=True))
    assert set(ids) == expected and count == len(expected)
    assert expected  # every level has at least one unit in this world

    ids, _ = all_pages(client, reverse("api:pairing-list"), {"page_size": 500})
    assert set(ids) == set(Pairing.objects.filter(town__path__startswith=root).values_list("pk", flat=True))
    ids, _ = all_pages(client, reverse("api:commissionmembership-list"), {"page_size": 500})
    assert set(ids) == set(
        CommissionMembership.objects.filter(unit__division__path__startswith=root).values_list("pk", flat=True)
    )


@pytest.mark.parametrize("level", list(LEVELS))
@pytest.mark.parametrize("role", ROLE_CODES)
def test_role_sees_exactly_its_subtree_pages(org_world, client, role, level):
    try:
        url = reverse("org:unit_list")
    except NoReverseMatch:
        pytest.skip("unit list page not built")
    user = make_user()
    grant(user, role, LEVELS[level])
    client.force_login(user)
    html = client.get(url, {"per_page": 500}).content.decode()
    root = _subtree(LEVELS[level])
    for unit in org_world:
        inside = unit.division.path.startswith(root)
        assert (unit.name in html) == inside, (unit.name, inside)
    outside_division = Division.objects.exclude(path__startswith=root).filter(level="town").first()
    if outside_division is not None:
        assert client.get(reverse("geo:division_detail", args=[outside_division.pk])).status_code == 404
    assert client.get(reverse("geo:division_detail", args=[division(LEVELS[level]).pk])).status_code == 200


# -- pairs of roles ------------------------------------------------------------------------
MODELS = [Division, Unit, Pairing, CommissionMembership, Specimen, User, RoleAssignment]


@pytest.fixture
def pair_world(org_world):
    """Specimens (a model with assignees, standing in for persons) and the social worker
    role covering it, as persons.view_person will; no other default role covers it."""
    sw = Role.objects.get(code="social_worker")
    sw.permissions.add(Permission.objects.get(content_type__app_label="testapp", codename="view_specimen"))
    for code in ("460106001", "460106002", "460105001"):
        SpecimenFactory.create_batch(2, division=division(code))
    return org_world


def _visible(user, model):
    user.refresh_grants()
    return set(model._default_manager.restrict(user, "view").values_list("pk", flat=True))


PLACES = [("460106", "460106"), ("460106001", "460105")]


@pytest.mark.parametrize("place_a,place_b", PLACES)
def test_two_roles_never_see_more_than_the_union(pair_world, place_a, place_b):
    singles = {}
    users = {}
    for code in ROLE_CODES:
        for place in {place_a, place_b}:
            u = make_user()
            grant(u, code, place)
            users[(code, place)] = u
    # Rows assigned to the people who will hold the roles, so assignment matters.
    for a, b in itertools.combinations_with_replacement(ROLE_CODES, 2):
        if a == b and place_a == place_b:
            continue
        both = make_user()
        grant(both, a, place_a)
        grant(both, b, place_b)
        mine = SpecimenFactory(division=division("460106001"), assignee=both)
        for model in MODELS:
            alone_a = _single(singles, users, a, place_a, model, both)
            alone_b = _single(singles, users, b, place_b, model, both)
            combined = _visible(both, model)
            assert combined <= alone_a | alone_b, (a, b, model.__name__)
            if model is Specimen:
                sw_places = [p for r, p in ((a, place_a), (b, place_b)) if r == "social_worker"]
                if sw_places:
                    # Peer case 13: only rows assigned to this user inside the social worker's
                    # jurisdiction, however the roles combine.
                    inside = any(mine.division.path.startswith(_subtree(p)) for p in sw_places)
                    assert combined == ({mine.pk} if inside else set()), (a, b)
                else:
                    assert combined == set(), (a, b)


def _single(cache, users, code, place, model, holder):
    """What ``holder`` would see with only ``code`` at ``place`` (a twin user with that role).

    For models with assignees the twin's visibility is recomputed as if the holder's
    assigned rows were the twin's: the twin is made the assignee temporarily.
    """
    if model is Specimen:
        twin = make_user()
        grant(twin, code, place)
        Specimen.objects.filter(assignee=holder).update(assignee=twin)
        try:
            return _visible(twin, model)
        finally:
            Specimen.objects.filter(assignee=twin).update(assignee=holder)
    if model in (User, RoleAssignment):  # rows of these grow as the test adds holders
        return _visible(users[(code, place)], model)
    key = (code, place, model)
    if key not in cache:
        cache[key] = _visible(users[(code, place)], model)
    return cache[key]
