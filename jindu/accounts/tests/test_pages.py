"""Account pages: grant and revoke forms go through the services and leave one audit row."""

import pytest
from django.urls import reverse

from jindu.accounts.models import Role, RoleAssignment
from jindu.accounts.tests.factories import UnitFactory
from jindu.core.models import AccessLog, AuditEvent
from jindu.core.testing import division, grant, make_role, make_user


@pytest.fixture
def admin_longhua(db):
    user = make_user("longhua_admin", unit=UnitFactory(division=division("460106")))
    grant(user, "district_office", "460106")
    grant(user, make_role(["accounts.add_roleassignment", "accounts.delete_roleassignment",
                           "accounts.view_roleassignment", "accounts.view_user"]), "460106")
    return user


def test_grant_and_revoke_pages(admin_longhua, client):
    target = make_user(unit=UnitFactory(division=division("460106001")))
    client.force_login(admin_longhua)
    detail = client.get(reverse("accounts:user_detail", kwargs={"pk": target.pk}))
    assert detail.status_code == 200 and "授予角色" in detail.content.decode()
    assert AccessLog.objects.filter(user=admin_longhua, kind="view", model="accounts.User").exists()

    url = reverse("accounts:grant", kwargs={"pk": target.pk})
    form = client.get(url)
    assert form.status_code == 200
    # Only divisions in the actor's granting subtree are offered.
    html = form.content.decode()
    assert "龙华区" in html and "秀英区" not in html

    # Only roles the actor could grant are offered; a forged choice is refused.
    ncc_admin = Role.objects.get(code="ncc_admin")
    assert f'value="{ncc_admin.pk}"' not in html
    assert f'value="{Role.objects.get(code="town_office").pk}"' in html
    response = client.post(url, {"role": ncc_admin.pk, "division": division("460106001").pk, "note": ""})
    assert response.status_code == 200 and "ncc_admin" not in response.content.decode()
    assert not RoleAssignment.objects.filter(user=target).exists()

    response = client.post(url, {"role": Role.objects.get(code="town_office").pk,
                                 "division": division("460106001").pk, "note": "页面授权"})
    assert response.status_code == 302
    assignment = RoleAssignment.objects.get(user=target)
    assert AuditEvent.objects.filter(action="accounts.role_granted", actor=admin_longhua).count() == 1

    revoke_url = reverse("accounts:revoke", kwargs={"pk": assignment.pk})
    response = client.post(revoke_url, {"reason": ""})
    assert response.status_code == 200 and RoleAssignment.objects.filter(pk=assignment.pk).exists()
    response = client.post(revoke_url, {"reason": "离职"})
    assert response.status_code == 302
    assert not RoleAssignment.objects.filter(pk=assignment.pk).exists()
    event = AuditEvent.objects.get(action="accounts.role_revoked")
    assert event.actor == admin_longhua and event.reason == "离职"


def test_grant_page_out_of_scope_user_404_and_no_permission_403(admin_longhua, client):
    stranger = make_user(unit=UnitFactory(division=division("460105")))
    client.force_login(admin_longhua)
    assert client.get(reverse("accounts:grant", kwargs={"pk": stranger.pk})).status_code == 404
    other_grant = grant(stranger, "town_office", "460105001")
    assert client.get(reverse("accounts:revoke", kwargs={"pk": other_grant.pk})).status_code == 404

    town = make_user(unit=UnitFactory(division=division("460106001")))
    grant(town, "town_office", "460106001")
    client.force_login(town)
    colleague = make_user(unit=UnitFactory(division=division("460106001")))
    assert client.get(reverse("accounts:grant", kwargs={"pk": colleague.pk})).status_code == 403


def test_token_page_shows_key_once(admin_longhua, client):
    client.force_login(admin_longhua)
    response = client.post(reverse("accounts:token"), {"op": "create"})
    assert response.status_code == 200
    key = admin_longhua.auth_token.key
    assert key in response.content.decode()
    assert key not in client.get(reverse("accounts:token")).content.decode()
    client.post(reverse("accounts:token"), {"op": "revoke"})
    admin_longhua.refresh_from_db()
    assert not hasattr(admin_longhua, "auth_token") or admin_longhua.auth_token is None


def test_user_list_page_scoped_and_logged(admin_longhua, client):
    mine = make_user("mine_user", unit=UnitFactory(division=division("460106002")))
    make_user("theirs_user", unit=UnitFactory(division=division("460105002")))
    client.force_login(admin_longhua)
    html = client.get(reverse("accounts:user_list")).content.decode()
    assert "mine_user" in html and "theirs_user" not in html
    log = AccessLog.objects.get(user=admin_longhua, kind="list")
    assert str(mine.pk) in log.object_ids
