"""Django admin: grants, revocations, role permissions, staff/superuser flags and groups are
audited exactly once, with the admin user as actor; admin grants obey the escalation rule."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from jindu.accounts.models import Role, RoleAssignment
from jindu.core.models import AuditEvent
from jindu.core.testing import division, grant, make_user


@pytest.fixture
def root(db):
    return make_user("root", is_superuser=True, is_staff=True)


def new_events(actor, prefix="accounts."):
    return list(AuditEvent.objects.filter(actor=actor, action__startswith=prefix).order_by("id"))


def test_admin_grant_and_revoke_audited_once(root, client):
    client.force_login(root)
    target = make_user()
    response = client.post(reverse("admin:accounts_roleassignment_add"), {
        "user": target.pk, "role": Role.objects.get(code="town_office").pk,
        "division": division("460106001").pk, "note": "后台授权",
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    assignment = RoleAssignment.objects.get(user=target)
    assert assignment.granted_by == root
    assert [(e.action, e.reason) for e in new_events(root)] == [("accounts.role_granted", "后台授权")]

    response = client.post(reverse("admin:accounts_roleassignment_delete", args=[assignment.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not RoleAssignment.objects.filter(pk=assignment.pk).exists()
    assert [e.action for e in new_events(root)] == ["accounts.role_granted", "accounts.role_revoked"]
    assert new_events(root)[-1].reason == "在管理后台删除"


def test_admin_grant_refuses_escalation(db, client):
    staff = make_user("staff", is_staff=True)
    grant(staff, "district_office", "460106")
    from jindu.core.testing import make_role

    grant(staff, make_role(["accounts.add_roleassignment", "accounts.view_roleassignment", "accounts.view_user"]),
          "460106")
    client.force_login(staff)
    target = make_user()
    response = client.post(reverse("admin:accounts_roleassignment_add"), {
        "user": target.pk, "role": Role.objects.get(code="ncc_admin").pk, "division": division("460106001").pk,
    })
    assert response.status_code == 200 and "权限超出" in response.content.decode()
    assert not RoleAssignment.objects.filter(user=target).exists()
    assert not new_events(staff, "accounts.role_")


def test_admin_flag_and_group_changes_audited(root, client):
    client.force_login(root)
    target = make_user("flagged")
    group = Group.objects.create(name="审计组")
    url = reverse("admin:accounts_user_change", args=[target.pk])
    response = client.post(url, {
        "username": "flagged", "full_name": "", "phone": "", "unit": "", "email": "",
        "is_active": "on", "is_staff": "on", "is_superuser": "on", "groups": [group.pk],
        "last_login_0": "", "last_login_1": "", "date_joined_0": "2024-01-01", "date_joined_1": "00:00:00",
    })
    assert response.status_code == 302, response.content.decode()[:3000]
    events = new_events(root)
    flags = [e for e in events if e.action == "accounts.user_flags_changed"]
    groups = [e for e in events if e.action == "accounts.user_groups_add"]
    assert len(flags) == 1 and flags[0].changes == {"is_staff": [False, True], "is_superuser": [False, True]}
    assert len(groups) == 1 and groups[0].changes == {"groups": [group.pk]}


def test_admin_role_permission_change_audited(root, client):
    client.force_login(root)
    role = Role.objects.get(code="assessor")
    perms = list(role.permissions.values_list("pk", flat=True))
    extra = Permission.objects.get(content_type__app_label="org", codename="change_unit")
    response = client.post(reverse("admin:accounts_role_change", args=[role.pk]), {
        "code": role.code, "name": role.name, "description": role.description,
        "permissions": [*perms, extra.pk], "assigned_only": "", "requires_otp": "",
    })
    assert response.status_code == 302, response.content.decode()[:3000]
    events = [e for e in new_events(root) if e.action.startswith("accounts.role_permissions")]
    assert events and "org.change_unit" in str([e.changes for e in events])
    assert not any("org.view_unit" in e.changes.get("permissions", []) for e in events
                   if e.action.endswith("_add"))


def test_service_flag_change_and_orm_group_change_audited(db):
    """The same events come from code paths outside admin (management scripts, services)."""
    actor = make_user("actor", is_superuser=True)
    target = make_user()
    from jindu.core.audit import AuditContext, reset_context, set_context

    token = set_context(AuditContext(user=actor))
    try:
        target.is_staff = True
        target.save()
        target.groups.add(Group.objects.create(name="g"))
        target.groups.clear()
    finally:
        reset_context(token)
    assert [e.action for e in new_events(actor)] == [
        "accounts.user_flags_changed", "accounts.user_groups_add", "accounts.user_groups_clear"]
