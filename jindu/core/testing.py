"""Generic scope tests: declare a model, how to make rows, and its URLs; inherit the tests.

Pattern: NetBox ``utilities/testing/api.py`` — a test class declares its model and sample
data and inherits permission-aware tests. Here the permission is a grant in a division
subtree (:mod:`jindu.core.scope`), and the inherited tests check, for pages and API:

- anonymous: API 403, page redirect to the login page;
- authenticated without the model permission: 403;
- a row outside the user's subtree: 404 (the same answer as a missing row);
- a row inside it: 200;
- the list shows in-scope rows and never out-of-scope ones;
- API create or update that would put a row into another division is refused and
  nothing is written.

Usage (pytest)::

    class TestUnitScope(ApiScopeTests):
        model = Unit
        api_list_url = "api:unit-list"
        api_detail_url = "api:unit-detail"

        def make_row(self, division):            # a row whose scope division is `division`
            return UnitFactory(division=division)

        def create_payload(self, division):      # API body creating a row in `division`
            return {"name": "新单位", "kind": "other", "division": division.pk}

        def move_payload(self, row, division):   # API body moving `row` into `division`
            return {"division": division.pk}

Defaults: the user's jurisdiction is 龙华区 (``in_division_code``), the other division is
秀英区 (``out_division_code``), both Haikou districts loaded by the suite's conftest.
Roles are made per test with exactly the model's permissions, so the tests do not depend
on how default roles are configured (the role × scope matrix covers those).

Users, roles and grants are reached through ``django.apps`` because ``core`` imports no
app; the only contract is ``accounts.Role`` (``code``, ``permissions``, ``assigned_only``)
and ``accounts.RoleAssignment`` (``user``, ``role``, ``division``).
"""

from __future__ import annotations

import contextlib
import itertools
import json
from typing import Any, Iterable

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import models
from django.db.models import Max
from django.urls import NoReverseMatch, reverse

_counter = itertools.count(1)

CITY_CODE = "460100000000"


# -- helpers ------------------------------------------------------------------------------
def division(code: str):
    """The division with ``code`` (12-digit, or a short code padded to 12 digits)."""
    Division = apps.get_model("geo", "Division")
    return Division.objects.get(code=code if len(code) > 12 or "-" in code else code.ljust(12, "0"))


def permissions_for(model: type[models.Model], actions: Iterable[str]) -> list[str]:
    return [f"{model._meta.app_label}.{a}_{model._meta.model_name}" for a in actions]


def make_role(perms: Iterable[str], *, code: str | None = None, assigned_only: bool = False):
    """A role holding exactly ``perms`` (``"app.codename"`` names)."""
    Role = apps.get_model("accounts", "Role")
    n = next(_counter)
    role = Role.objects.create(code=code or f"test-role-{n}", name=f"测试角色{n}", assigned_only=assigned_only)
    rows = []
    for name in perms:
        app_label, codename = name.split(".", 1)
        rows.append(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    role.permissions.set(rows)
    return role


def make_user(username: str | None = None, **fields):
    User = get_user_model()
    return User.objects.create_user(username=username or f"user{next(_counter)}", password=None, **fields)


def grant(user, role, div, *, actor=None):
    """Give ``user`` ``role`` (a Role or a role code) in ``div`` (Division or code)."""
    Role = apps.get_model("accounts", "Role")
    RoleAssignment = apps.get_model("accounts", "RoleAssignment")
    if isinstance(role, str):
        role = Role.objects.get(code=role)
    if isinstance(div, str):
        div = division(div)
    assignment = RoleAssignment.objects.create(user=user, role=role, division=div, granted_by=actor)
    if hasattr(user, "refresh_grants"):
        user.refresh_grants()
    return assignment


def user_with(perms: Iterable[str], div, *, assigned_only: bool = False, **user_fields):
    """A new user holding a new role with ``perms`` in ``div``."""
    user = make_user(**user_fields)
    grant(user, make_role(perms, assigned_only=assigned_only), div)
    return user


def api_client(user=None):
    from rest_framework.test import APIClient

    client = APIClient()
    if user is not None:
        client.force_login(user)
    return client


def result_ids(response) -> list[Any]:
    data = response.json()
    rows = data["results"] if isinstance(data, dict) and "results" in data else data
    return [r["id"] for r in rows]


def all_pages(client, url: str, params: dict | None = None) -> tuple[list[Any], int]:
    """Follow ``next`` links; returns (ids in order, the first page's ``count``)."""
    response = client.get(url, params or {})
    assert response.status_code == 200, response.content
    data = response.json()
    count = data["count"]
    ids = [r["id"] for r in data["results"]]
    while data.get("next"):
        response = client.get(data["next"])
        assert response.status_code == 200, response.content
        data = response.json()
        ids += [r["id"] for r in data["results"]]
    return ids, count


# -- generic test classes -------------------------------------------------------------------
@contextlib.contextmanager
def no_committed_trail():
    """Delete the audit events, access-log rows and row-history rows written inside the block.

    For tests that commit outside the per-test transaction (real concurrency needs rows
    other connections see): they delete their own records, but the trail those writes left
    (grant/revoke events, history) would otherwise leak into later tests on the same database.
    """
    trail = [apps.get_model("core", "AuditEvent"), apps.get_model("core", "AccessLog")]
    trail += [m for m in apps.get_models() if m.__name__.startswith("Historical")]
    marks = {m: m._default_manager.aggregate(top=Max("pk"))["top"] or 0 for m in trail}
    try:
        yield
    finally:
        for model, mark in marks.items():
            model._default_manager.filter(pk__gt=mark).delete()


class _ScopeCase:
    model: type[models.Model]
    in_division_code = "460106"  # 龙华区
    out_division_code = "460105"  # 秀英区
    # Permissions the viewer needs besides view_<model> (none usually).
    extra_view_perms: tuple[str, ...] = ()

    def make_row(self, division) -> models.Model:  # pragma: no cover - declared by subclasses
        raise NotImplementedError

    def scope_division_for(self, code: str):
        """The division rows are made in for a jurisdiction ``code`` (override to go deeper)."""
        return division(code)

    def detail_kwargs(self, row) -> dict[str, Any]:
        return {"pk": row.pk}

    @pytest.fixture
    def scope_world(self, db):
        """(viewer, in-scope row, out-of-scope row, unprivileged user)."""
        in_div = division(self.in_division_code)
        viewer = user_with([*permissions_for(self.model, ["view"]), *self.extra_view_perms], in_div)
        # A user with a grant in the same subtree that does not carry the model's permission.
        nobody = user_with(["geo.view_division"] if self.model._meta.label != "geo.Division" else [], in_div)
        row_in = self.make_row(self.scope_division_for(self.in_division_code))
        row_out = self.make_row(self.scope_division_for(self.out_division_code))
        return viewer, row_in, row_out, nobody


class ApiScopeTests(_ScopeCase):
    """Scope tests for a DRF viewset (see the module docstring)."""

    api_list_url: str
    api_detail_url: str
    api_writable = True
    # Permissions the writer needs to reference other rows in payloads (FK targets).
    writer_extra_perms: tuple[str, ...] = ("geo.view_division", "org.view_unit")

    def create_payload(self, division) -> dict[str, Any]:  # pragma: no cover - declared by subclasses
        raise NotImplementedError

    def move_payload(self, row, division) -> dict[str, Any]:  # pragma: no cover
        raise NotImplementedError

    def _detail(self, row) -> str:
        return reverse(self.api_detail_url, kwargs=self.detail_kwargs(row))

    def test_api_anonymous_refused(self, scope_world):
        _viewer, row_in, _row_out, _nobody = scope_world
        client = api_client()
        assert client.get(reverse(self.api_list_url)).status_code in (401, 403)
        assert client.get(self._detail(row_in)).status_code in (401, 403)

    def test_api_without_permission_403(self, scope_world):
        _viewer, row_in, _row_out, nobody = scope_world
        client = api_client(nobody)
        assert client.get(reverse(self.api_list_url)).status_code == 403
        assert client.get(self._detail(row_in)).status_code == 403

    def test_api_out_of_jurisdiction_404(self, scope_world):
        viewer, _row_in, row_out, _nobody = scope_world
        assert api_client(viewer).get(self._detail(row_out)).status_code == 404

    def test_api_in_jurisdiction_200(self, scope_world):
        viewer, row_in, _row_out, _nobody = scope_world
        response = api_client(viewer).get(self._detail(row_in))
        assert response.status_code == 200
        assert response.json()["id"] == row_in.pk

    def test_api_list_only_in_scope(self, scope_world):
        viewer, row_in, row_out, _nobody = scope_world
        ids, count = all_pages(api_client(viewer), reverse(self.api_list_url), {"page_size": 500})
        assert row_in.pk in ids
        assert row_out.pk not in ids
        visible = set(self.model._default_manager.restrict(viewer, "view").values_list("pk", flat=True))
        assert set(ids) == visible and count == len(ids) == len(set(ids))

    # -- writes --------------------------------------------------------------------------
    def _writer(self):
        """Sees the whole city, may add/change/delete only in the in-jurisdiction subtree."""
        user = make_user()
        view_perms = [*permissions_for(self.model, ["view"]), *self.writer_extra_perms]
        grant(user, make_role(view_perms), division(CITY_CODE))
        grant(user, make_role([*permissions_for(self.model, ["view", "add", "change", "delete"]),
                               *self.writer_extra_perms]), division(self.in_division_code))
        return user

    def _snapshot(self):
        return sorted(
            self.model._default_manager.values_list(*[f.attname for f in self.model._meta.concrete_fields])
        )

    def test_api_create_in_jurisdiction_201(self, scope_world):
        if not self.api_writable:
            pytest.skip("read-only endpoint")
        writer = self._writer()
        payload = self.create_payload(self.scope_division_for(self.in_division_code))
        response = api_client(writer).post(reverse(self.api_list_url), payload, format="json")
        assert response.status_code == 201, response.content

    def test_api_create_into_other_division_refused(self, scope_world):
        if not self.api_writable:
            pytest.skip("read-only endpoint")
        writer = self._writer()
        before = self._snapshot()
        payload = self.create_payload(self.scope_division_for(self.out_division_code))
        response = api_client(writer).post(reverse(self.api_list_url), payload, format="json")
        assert response.status_code in (400, 403, 404), response.content
        assert self._snapshot() == before

    def test_api_update_into_other_division_refused(self, scope_world):
        if not self.api_writable:
            pytest.skip("read-only endpoint")
        _viewer, row_in, _row_out, _nobody = scope_world
        writer = self._writer()
        before = self._snapshot()
        payload = {**self.move_payload(row_in, self.scope_division_for(self.out_division_code))}
        if hasattr(row_in, "version"):
            payload["version"] = row_in.version
        response = api_client(writer).patch(self._detail(row_in), payload, format="json")
        assert response.status_code in (400, 403, 404), response.content
        assert self._snapshot() == before

    def test_api_write_out_of_jurisdiction_404(self, scope_world):
        if not self.api_writable:
            pytest.skip("read-only endpoint")
        _viewer, _row_in, row_out, _nobody = scope_world
        writer = self._writer()  # can see row_out (city-wide view) but not change it
        before = self._snapshot()
        client = api_client(writer)
        payload = {"version": getattr(row_out, "version", 1)}
        assert client.patch(self._detail(row_out), payload, format="json").status_code == 404
        assert client.delete(self._detail(row_out)).status_code == 404
        assert self._snapshot() == before


class PageScopeTests(_ScopeCase):
    """Scope tests for server-rendered list and detail pages.

    ``page_list_url`` / ``page_detail_url`` are URL names; ``row_marker(row)`` is text that
    identifies a row in the list's HTML (default: its detail URL).
    """

    page_list_url: str
    page_detail_url: str

    def row_marker(self, row) -> str:
        return reverse(self.page_detail_url, kwargs=self.detail_kwargs(row))

    def _urls(self, row):
        try:
            return reverse(self.page_list_url), reverse(self.page_detail_url, kwargs=self.detail_kwargs(row))
        except NoReverseMatch:
            pytest.skip(f"pages {self.page_list_url} / {self.page_detail_url} are not built yet")

    def test_page_anonymous_redirects_to_login(self, scope_world, client):
        _viewer, row_in, _row_out, _nobody = scope_world
        for url in self._urls(row_in):
            response = client.get(url)
            assert response.status_code == 302 and reverse("login") in response["Location"]

    def test_page_without_permission_403(self, scope_world, client):
        _viewer, row_in, _row_out, nobody = scope_world
        client.force_login(nobody)
        for url in self._urls(row_in):
            assert client.get(url).status_code == 403

    def test_page_out_of_jurisdiction_404(self, scope_world, client):
        viewer, _row_in, row_out, _nobody = scope_world
        _list, detail = self._urls(row_out)
        client.force_login(viewer)
        assert client.get(detail).status_code == 404

    def test_page_in_jurisdiction_200(self, scope_world, client):
        viewer, row_in, _row_out, _nobody = scope_world
        _list, detail = self._urls(row_in)
        client.force_login(viewer)
        assert client.get(detail).status_code == 200

    def test_page_list_only_in_scope(self, scope_world, client):
        viewer, row_in, row_out, _nobody = scope_world
        url, _detail = self._urls(row_in)
        client.force_login(viewer)
        html = client.get(url, self.page_list_params(row_in)).content.decode()
        assert self.row_marker(row_in) in html
        assert self.row_marker(row_out) not in html

    def page_list_params(self, row) -> dict[str, Any]:
        """Query parameters that put ``row`` on the first page of the list (override if paged)."""
        return {}


def json_body(response) -> Any:
    return json.loads(response.content)
