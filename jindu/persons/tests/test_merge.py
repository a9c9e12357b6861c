"""Duplicates: a near duplicate (same name and birth date, or same phone) raises a merge
proposal; a city user holding ``persons.decide_merge`` decides; a merge keeps every record of
both people (moved, never deleted) and is audited."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError

from jindu.core.models import AuditEvent
from jindu.persons import services, workflows
from jindu.persons.choices import (
    AccessStatus, ContactKind, EventKind, HandoverStatus, ProposalStatus, Status, TransferStatus,
)
from jindu.persons.models import (
    Contact, DueItem, Event, Handover, MergeProposal, Person, TemporaryAccess,
)
from jindu.persons.tests.workflow_support import (
    CITY, XIUYING, ZHONGSHAN, fresh, register, role_user, root, village,
)

K = EventKind


@pytest.fixture
def frozen():
    with time_machine.travel(dt.datetime(2024, 6, 3, 10, tzinfo=ZoneInfo("Asia/Shanghai")), tick=False):
        yield


@pytest.fixture
def pair(db, frozen):
    """The same man registered twice with different document numbers: in 中山 (older record,
    community drug rehabilitation) and in 秀英 (same phone, a positive test and a contact)."""
    admin = root()
    keep = register(name="王小明", phone="13900001111", events=[
        {"kind": K.COMMUNITY_REHAB_ORDER, "occurred_on": dt.date(2023, 5, 1)},
        {"kind": K.REPORTED, "occurred_on": dt.date(2023, 5, 10)}], residence=village(ZHONGSHAN))
    dup = register(name="王晓明", phone="13900001111", alias="小明", events=[
        {"kind": K.URINALYSIS, "occurred_on": dt.date(2024, 3, 1), "result": "positive"},
        {"kind": K.FOUND_USING, "occurred_on": dt.date(2024, 3, 1)}], residence=village(XIUYING),
        holds_driving_licence=True, driving_licence_classes="C1")
    services.record_contact(user=admin, person=dup, data={"kind": ContactKind.HOME_VISIT,
                                                          "occurred_on": dt.date(2024, 3, 2)})
    proposal = MergeProposal.objects.get(keep=keep, duplicate=dup)
    return {"keep": keep, "dup": dup, "proposal": proposal, "admin": admin}


def test_near_duplicate_raises_a_proposal_listed_for_city_users(pair):
    proposal = pair["proposal"]
    assert proposal.status == ProposalStatus.PENDING and "same_phone" in proposal.reasons
    city = role_user("ncc_admin", CITY)
    assert [p.pk for p in workflows.merge_proposals(city)] == [proposal.pk]
    town = role_user("town_office", ZHONGSHAN)
    with pytest.raises(PermissionDenied):  # a town may see it but not decide
        services.accept_merge(user=town, proposal=proposal, reason="同一人")


def test_merge_keeps_all_events_and_is_audited(pair):
    keep, dup, proposal = pair["keep"], pair["dup"], pair["proposal"]
    city = role_user("ncc_admin", CITY)
    events_before = set(Event.objects.filter(person__in=[keep, dup]).values_list("pk", flat=True))
    contacts_before = set(Contact.objects.filter(person__in=[keep, dup]).values_list("pk", flat=True))
    handover = services.record_release_notice(user=city, person=dup, facility="所",
                                              notice_received_on=dt.date(2024, 6, 1),
                                              expected_release_on=dt.date(2024, 6, 5))
    transfer = services.request_transfer(user=city, person=dup, to_division=village(XIUYING, 1), reason="搬家")
    access = TemporaryAccess.objects.create(person=dup, user=pair["admin"], reason="查案",
                                            status=AccessStatus.PENDING)
    with pytest.raises(ValidationError):
        services.accept_merge(user=city, proposal=proposal, reason="")

    services.accept_merge(user=city, proposal=proposal, reason="经核实为同一人，证件号码录入有误")

    assert set(Event.objects.filter(person=keep).values_list("pk", flat=True)) == events_before
    assert not Event.objects.filter(person=dup).exists()
    assert set(Contact.objects.filter(person=keep).values_list("pk", flat=True)) == contacts_before
    assert Handover.objects.get(pk=handover.pk).person_id == keep.pk
    assert fresh(transfer).status == TransferStatus.CANCELLED and fresh(transfer).person_id == keep.pk
    assert fresh(access).person_id == keep.pk
    dup, keep = fresh(dup), fresh(keep)
    assert dup.merged_into_id == keep.pk and Person.objects.filter(pk=dup.pk).exists()  # nothing deleted
    assert not DueItem.objects.filter(person=dup).exists()
    assert keep.alias == "小明" and keep.holds_driving_licence and keep.driving_licence_classes == "C1"
    # The merged timeline is derived as one: the positive test now counts for the kept record.
    assert keep.status == Status.COMMUNITY_DRUG_REHAB and keep.last_detected_use_on == dt.date(2024, 3, 1)
    assert fresh(proposal).status == ProposalStatus.ACCEPTED and fresh(proposal).decided_by == city
    audit = AuditEvent.objects.get(action="persons.merge_accepted", target_id=str(proposal.pk))
    assert audit.actor == city and audit.reason.startswith("经核实")
    assert audit.changes["keep"] == keep.pk and audit.changes["duplicate"] == dup.pk
    assert audit.changes["moved"]["events"] == 2 and audit.changes["moved"]["contacts"] == 1
    # Each moved row has a history entry showing the move.
    moved = Event.objects.filter(person=keep, kind=K.URINALYSIS).get()
    assert moved.history.first().person_id == keep.pk and moved.history.last().person_id == dup.pk
    # The merged record leaves the registry's work lists and cannot be decided again.
    assert dup.pk not in set(workflows.people(city).values_list("pk", flat=True))
    with pytest.raises(ValidationError):
        services.reject_merge(user=city, proposal=proposal, reason="x")


def test_decider_may_swap_which_record_is_kept(pair):
    keep, dup, proposal = pair["keep"], pair["dup"], pair["proposal"]
    city = role_user("ncc_admin", CITY)
    services.accept_merge(user=city, proposal=proposal, keep=dup, reason="秀英的记录为正确证件号码")
    assert fresh(keep).merged_into_id == dup.pk and fresh(dup).merged_into_id is None
    proposal = fresh(proposal)
    assert (proposal.keep_id, proposal.duplicate_id) == (dup.pk, keep.pk)
    assert Event.objects.filter(person=dup).count() == 4 and not Event.objects.filter(person=keep).exists()


def test_reject_needs_a_reason_and_moves_nothing(pair):
    keep, dup, proposal = pair["keep"], pair["dup"], pair["proposal"]
    city = role_user("ncc_admin", CITY)
    with pytest.raises(ValidationError):
        services.reject_merge(user=city, proposal=proposal, reason=" ")
    services.reject_merge(user=city, proposal=proposal, reason="兄弟二人，共用一个手机号")
    assert fresh(proposal).status == ProposalStatus.REJECTED
    assert Event.objects.filter(person=dup).count() == 2 and fresh(dup).merged_into_id is None
    assert AuditEvent.objects.filter(action="persons.merge_rejected", target_id=str(proposal.pk)).exists()
    # A decided pair is not proposed again.
    services.propose_duplicates(fresh(dup))
    assert MergeProposal.objects.filter(status=ProposalStatus.PENDING).count() == 0


def test_decide_merge_must_cover_both_people(pair):
    from jindu.core.testing import user_with

    district_decider = user_with(["persons.decide_merge", "persons.view_mergeproposal",
                                  "persons.change_mergeproposal", "persons.view_person", "persons.change_person"],
                                 "460106000000")
    with pytest.raises(PermissionDenied):  # 秀英's record is outside 龙华
        services.accept_merge(user=district_decider, proposal=pair["proposal"], reason="同一人")
    assert fresh(pair["dup"]).merged_into_id is None


def test_handover_of_the_kept_person_continues_after_merge(pair):
    city = role_user("ncc_admin", CITY)
    handover = services.record_release_notice(user=city, person=pair["dup"], facility="所",
                                              notice_received_on=dt.date(2024, 5, 30),
                                              expected_release_on=dt.date(2024, 6, 2))
    services.accept_merge(user=city, proposal=pair["proposal"], reason="同一人")
    handover = fresh(handover)
    services.record_pickup(user=city, handover=handover, released_on=dt.date(2024, 6, 2),
                           received_on=dt.date(2024, 6, 2), expected_version=handover.version)
    assert fresh(handover).status == HandoverStatus.RECEIVED
    assert Event.objects.filter(person=pair["keep"], kind=K.RELEASE).exists()


def test_merge_pages_are_for_city_users(pair, client):
    from django.urls import reverse

    client.force_login(role_user("town_office", ZHONGSHAN))
    assert client.get(reverse("persons:merge_list")).status_code == 403
    assert client.post(reverse("persons:merge_decide", args=[pair["proposal"].pk]),
                       {"decision": "accept", "reason": "x"}).status_code == 403
    city = role_user("ncc_admin", CITY)
    client.force_login(city)
    html = client.get(reverse("persons:merge_list")).content.decode()
    assert f'data-proposal="{pair["proposal"].pk}"' in html and "style=" not in html
    response = client.post(reverse("persons:merge_decide", args=[pair["proposal"].pk]),
                           {"decision": "accept", "keep": "keep", "reason": ""}, follow=True)
    assert "未保存：理由：" in response.content.decode()
    assert fresh(pair["dup"]).merged_into_id is None
    client.post(reverse("persons:merge_decide", args=[pair["proposal"].pk]),
                {"decision": "accept", "keep": "keep", "reason": "同一人", "version": pair["proposal"].version})
    assert fresh(pair["dup"]).merged_into_id == pair["keep"].pk
