"""Accounts API: users in scope, grants and revocations through the services, tokens, schema."""

import pytest
from django.urls import reverse

from jindu.accounts.models import RoleAssignment, User
from jindu.accounts.tests.factories import UnitFactory
from jindu.core.models import AccessLog, AuditEvent
from jindu.core.testing import ApiScopeTests, PageScopeTests, api_client, division, grant, make_role, make_user


def user_in(div_code, **fields):
    return make_user(unit=UnitFactory(division=division(div_code)), **fields)


class TestUserApiScope(ApiScopeTests):
    model = User
    api_list_url = "api:user-list"
    api_detail_url = "api:user-detail"
    api_writable = False

    def make_row(self, div):
        return make_user(unit=UnitFactory(division=div))


class TestUserPageScope(PageScopeTests):
    model = User
    page_list_url = "accounts:user_list"
    page_detail_url = "accounts:user_detail"

    def make_row(self, div):
        return make_user(unit=UnitFactory(division=div))


@pytest.fixture
def admin_longhua(db):
    user = user_in("460106", username="longhua_admin")
    grant(user, "district_office", "460106")
    grant(user, make_role(["accounts.add_roleassignment", "accounts.delete_roleassignment",
                           "accounts.view_roleassignment", "accounts.view_user"]), "460106")
    return user


def test_user_list_logs_access_and_shows_only_visible_grants(admin_longhua):
    colleague = user_in("460106001")
    grant(colleague, "town_office", "460106001")
    grant(colleague, "town_office", "460105001")  # a grant elsewhere is not shown to this admin
    user_in("460105")
    response = api_client(admin_longhua).get(reverse("api:user-list"), {"search": colleague.username})
    assert response.status_code == 200
    [row] = response.json()["results"]
    assert [g["division"] for g in row["grants"]] == ["460106001000"]
    log = AccessLog.objects.get(user=admin_longhua)
    assert log.kind == "search" and log.model == "accounts.User" and log.object_ids == [str(colleague.pk)]


def test_grant_and_revoke_through_api_are_audited_once(admin_longhua):
    target = user_in("460106001")
    client = api_client(admin_longhua)
    response = client.post(reverse("api:roleassignment-list"),
                           {"user": target.pk, "role": "town_office", "division": division("460106001").pk,
                            "note": "API 授权"}, format="json")
    assert response.status_code == 201, response.content
    assignment_id = response.json()["id"]
    granted = AuditEvent.objects.filter(action="accounts.role_granted", target_id=str(target.pk))
    assert granted.count() == 1 and granted.get().actor == admin_longhua and granted.get().reason == "API 授权"

    url = reverse("api:roleassignment-revoke", kwargs={"pk": assignment_id})
    assert client.post(url, {}, format="json").status_code == 400  # a reason is required
    response = client.post(url, {"reason": "岗位调整"}, format="json")
    assert response.status_code == 204
    revoked = AuditEvent.objects.filter(action="accounts.role_revoked")
    assert revoked.count() == 1 and revoked.get().actor == admin_longhua and revoked.get().reason == "岗位调整"
    assert not RoleAssignment.objects.filter(pk=assignment_id).exists()


def test_api_grant_escalation_and_scope_refused(admin_longhua):
    target = user_in("460106001")
    client = api_client(admin_longhua)
    url = reverse("api:roleassignment-list")
    # A more powerful role: 403 with the reason.
    response = client.post(url, {"user": target.pk, "role": "ncc_admin", "division": division("460106001").pk},
                           format="json")
    assert response.status_code == 403 and "权限" in response.json()["detail"]
    # A division outside the actor's scope: refused like a missing one.
    response = client.post(url, {"user": target.pk, "role": "town_office", "division": division("460105001").pk},
                           format="json")
    assert response.status_code == 400
    # A user outside the actor's scope: same.
    stranger = user_in("460105")
    response = client.post(url, {"user": stranger.pk, "role": "town_office", "division": division("460106001").pk},
                           format="json")
    assert response.status_code == 400
    # Oneself.
    response = client.post(url, {"user": admin_longhua.pk, "role": "town_office",
                                 "division": division("460106001").pk}, format="json")
    assert response.status_code == 403
    assert not RoleAssignment.objects.filter(user__in=[target, stranger]).exists()
    assert not AuditEvent.objects.filter(action="accounts.role_granted", actor=admin_longhua).exists()


def test_revoke_out_of_scope_grant_is_404(admin_longhua):
    other = user_in("460105")
    assignment = grant(other, "town_office", "460105001")
    response = api_client(admin_longhua).post(
        reverse("api:roleassignment-revoke", kwargs={"pk": assignment.pk}), {"reason": "x"}, format="json")
    assert response.status_code == 404
    assert RoleAssignment.objects.filter(pk=assignment.pk).exists()


def test_role_assignment_writes_without_permission_are_403(db):
    town = user_in("460106001")
    grant(town, "town_office", "460106001")
    client = api_client(town)
    assert client.get(reverse("api:roleassignment-list")).status_code == 403
    response = client.post(reverse("api:roleassignment-list"),
                           {"user": town.pk, "role": "town_office", "division": division("460106001").pk},
                           format="json")
    assert response.status_code == 403


def test_token_auth_and_lifecycle(admin_longhua):
    session = api_client(admin_longhua)
    response = session.post(reverse("api:token"))
    assert response.status_code == 201
    key = response.json()["key"]
    from rest_framework.test import APIClient

    token_client = APIClient()
    token_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    response = token_client.get(reverse("api:user-list"))
    assert response.status_code == 200
    # Access made with a token is attributed to the token's user.
    assert AccessLog.objects.filter(user=admin_longhua, kind="list").exists()
    assert session.delete(reverse("api:token")).status_code == 204
    assert token_client.get(reverse("api:user-list")).status_code in (401, 403)
    assert AuditEvent.objects.filter(action__startswith="accounts.token", actor=admin_longhua).count() == 2


def test_schema_and_docs_need_login_and_work(admin_longhua):
    anon = api_client()
    assert anon.get(reverse("api:schema")).status_code in (401, 403)
    client = api_client(admin_longhua)
    response = client.get(reverse("api:schema"), {"format": "json"})
    assert response.status_code == 200
    paths = response.json()["paths"]
    for p in ("/api/divisions/", "/api/units/", "/api/pairings/", "/api/memberships/", "/api/users/",
              "/api/role-assignments/", "/api/role-assignments/{id}/revoke/", "/api/token/"):
        assert p in paths
    docs = client.get(reverse("api:docs"))
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "swagger-ui" in html and "cdn" not in html.lower()


def test_user_list_query_count_is_flat(admin_longhua, django_assert_max_num_queries):
    client = api_client(admin_longhua)
    for _ in range(10):
        grant(user_in("460106001"), "town_office", "460106001")
    with django_assert_max_num_queries(14) as ctx:
        client.get(reverse("api:user-list"), {"page_size": 200})
    small = len(ctx.captured_queries)
    for _ in range(90):
        grant(user_in("460106002"), "town_office", "460106002")
    with django_assert_max_num_queries(small):
        response = client.get(reverse("api:user-list"), {"page_size": 200})
    assert response.json()["count"] == 101


def test_role_assignments_only_change_through_grant_and_revoke(admin_longhua):
    target = user_in("460106001")
    assignment = grant(target, "town_office", "460106001")
    client = api_client(admin_longhua)
    url = reverse("api:roleassignment-detail", kwargs={"pk": assignment.pk})
    assert client.delete(url).status_code == 405
    assert client.patch(url, {"division": division("460106").pk}, format="json").status_code in (403, 405)
    assert RoleAssignment.objects.filter(pk=assignment.pk, division__code="460106001000").exists()


def test_role_assignment_list_query_count_is_flat(admin_longhua, django_assert_max_num_queries):
    client = api_client(admin_longhua)
    for _ in range(10):
        grant(user_in("460106001"), "town_office", "460106001")
    with django_assert_max_num_queries(12) as ctx:
        client.get(reverse("api:roleassignment-list"), {"page_size": 200})
    small = len(ctx.captured_queries)
    for _ in range(90):
        grant(user_in("460106002"), "social_worker", "460106002")
    with django_assert_max_num_queries(small):
        response = client.get(reverse("api:roleassignment-list"), {"page_size": 200})
    assert response.json()["count"] == 102  # 100 plus the admin's own two grants
