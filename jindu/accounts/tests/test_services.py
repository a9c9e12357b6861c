"""grant_role / revoke_role / tokens: the escalation rule and exactly one audit row each."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from jindu.accounts import services
from jindu.accounts.models import Role, RoleAssignment
from jindu.core.models import AuditEvent
from jindu.core.testing import division, grant, make_role, make_user


@pytest.fixture
def district_admin(db):
    """Holds district_office plus the right to grant in 龙华区."""
    user = make_user("district_admin")
    grant(user, "district_office", "460106")
    grant(user, make_role(["accounts.add_roleassignment", "accounts.delete_roleassignment",
                           "accounts.view_roleassignment"]), "460106")
    return user


def events(action, **filters):
    """Events of ``action`` written after the fixtures ran (fixture grants are not counted)."""
    return list(AuditEvent.objects.filter(action=action, actor__isnull=False, **filters))


def test_grant_writes_one_event_with_actor_and_note(district_admin):
    target = make_user()
    town_office = Role.objects.get(code="town_office")
    assignment = services.grant_role(actor=district_admin, user=target, role=town_office,
                                     division=division("460106001"), note="新任镇街禁毒办")
    assert assignment.granted_by == district_admin
    [event] = events("accounts.role_granted")
    assert event.actor == district_admin and event.target_id == str(target.pk)
    assert event.changes == {"role": "town_office", "division": "460106001000", "assignment": assignment.pk}
    assert event.reason == "新任镇街禁毒办"
    assert target.role_codes() == {"town_office"}


def test_revoke_needs_reason_and_writes_one_event(district_admin):
    target = make_user()
    assignment = services.grant_role(actor=district_admin, user=target, role=Role.objects.get(code="town_office"),
                                     division=division("460106001"))
    with pytest.raises(ValidationError):
        services.revoke_role(actor=district_admin, assignment=assignment, reason="  ")
    assert RoleAssignment.objects.filter(pk=assignment.pk).exists()
    services.revoke_role(actor=district_admin, assignment=assignment, reason="调离岗位")
    assert not RoleAssignment.objects.filter(pk=assignment.pk).exists()
    [event] = events("accounts.role_revoked")
    assert event.actor == district_admin and event.reason == "调离岗位"
    assert event.changes["role"] == "town_office"


def test_cannot_grant_to_self(district_admin):
    with pytest.raises(PermissionDenied, match="自己"):
        services.grant_role(actor=district_admin, user=district_admin, role=Role.objects.get(code="town_office"),
                            division=division("460106001"))
    assert not events("accounts.role_granted")


def test_cannot_grant_outside_own_subtree(district_admin):
    with pytest.raises(PermissionDenied, match="秀英区"):
        services.grant_role(actor=district_admin, user=make_user(), role=Role.objects.get(code="town_office"),
                            division=division("460105"))
    # Nor above it: the city root contains the actor's subtree but is not inside it.
    with pytest.raises(PermissionDenied):
        services.grant_role(actor=district_admin, user=make_user(), role=Role.objects.get(code="town_office"),
                            division=division("460100"))


def test_cannot_grant_role_with_more_permissions(district_admin):
    before = AuditEvent.objects.count()
    with pytest.raises(PermissionDenied, match="权限超出"):
        services.grant_role(actor=district_admin, user=make_user(), role=Role.objects.get(code="ncc_admin"),
                            division=division("460106001"))
    # police carries accounts.view_identity_number, which district_office lacks.
    with pytest.raises(PermissionDenied):
        services.grant_role(actor=district_admin, user=make_user(), role=Role.objects.get(code="police"),
                            division=division("460106001"))
    assert AuditEvent.objects.count() == before
    assert not RoleAssignment.objects.filter(role__code__in=["ncc_admin", "police"]).exists()


def test_without_grant_permission_refused(db):
    town = make_user()
    grant(town, "town_office", "460106001")
    with pytest.raises(PermissionDenied):
        services.grant_role(actor=town, user=make_user(), role=Role.objects.get(code="social_worker"),
                            division=division("460106001"))


def test_assigned_only_grant_does_not_count_for_wider_roles(db):
    actor = make_user()
    grant(actor, make_role(["org.view_unit", "accounts.add_roleassignment"], assigned_only=True), "460106")
    narrow = make_role(["org.view_unit"], assigned_only=True)
    wide = make_role(["org.view_unit"])
    services.grant_role(actor=actor, user=make_user(), role=narrow, division=division("460106001"))
    with pytest.raises(PermissionDenied):
        services.grant_role(actor=actor, user=make_user(), role=wide, division=division("460106001"))


def test_duplicate_grant_refused_cleanly(district_admin):
    target = make_user()
    role = Role.objects.get(code="town_office")
    services.grant_role(actor=district_admin, user=target, role=role, division=division("460106001"))
    with pytest.raises(ValidationError, match="已在"):
        services.grant_role(actor=district_admin, user=target, role=role, division=division("460106001"))
    assert len(events("accounts.role_granted")) == 1


def test_superuser_may_grant_anything(db):
    root = make_user(is_superuser=True)
    services.grant_role(actor=root, user=make_user(), role=Role.objects.get(code="ncc_admin"),
                        division=division("460100"))
    assert events("accounts.role_granted")[0].actor == root


def test_tokens_created_and_revoked_with_audit_and_no_key_in_log(db):
    user = make_user()
    token = services.create_token(actor=user, user=user)
    token2 = services.create_token(actor=user, user=user)
    assert token2.key != token.key
    assert services.revoke_token(actor=user, user=user) is True
    actions = list(AuditEvent.objects.filter(action__startswith="accounts.token").order_by("id")
                   .values_list("action", flat=True))
    assert actions == ["accounts.token_created", "accounts.token_revoked", "accounts.token_created",
                       "accounts.token_revoked"]
    for e in AuditEvent.objects.all():
        assert token.key not in str(e.changes) and token2.key not in str(e.changes) + e.reason
    with pytest.raises(PermissionDenied):
        services.create_token(actor=make_user(), user=user)
