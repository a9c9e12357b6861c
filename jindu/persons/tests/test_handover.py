"""Handover on release from compulsory isolation (无缝衔接) and the community-measure follow-up.

Rules checked (legal_rules.md §1): the facility gives ≥ 3 days' notice of a release
(戒毒条例 JDTL 34); the released person reports within 15 days (JDTL 38); the agreement
follows the reporting (JDTL 16, 38); a serious breach (JDTL 20) is a ground for isolation
(禁毒法 JDF 38); a community measure ends with a release notice (JDTL 23, 40). Deadlines
are local dates: due all that day, overdue from the next local midnight (DESIGN.md "Time").
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError

from jindu.core.models import AuditEvent, StaleEditError
from jindu.core.timeutils import month_period
from jindu.persons import services, workflows
from jindu.persons.choices import DueKind, EventKind, HandoverStatus, Status
from jindu.persons.models import DueItem, Event, Handover
from jindu.persons.tests.workflow_support import (
    BINHAI, LONGHUA, XIUYING, ZHONGSHAN, fresh, register, role_user, root, village,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
K = EventKind


def at(y, m, d, hh=10, mm=0, ss=0):
    """Freeze the clock at a Shanghai wall-clock time."""
    return time_machine.travel(dt.datetime(y, m, d, hh, mm, ss, tzinfo=SHANGHAI), tick=False)


def isolated(residence=None, decided=dt.date(2022, 3, 1), order=None, **kw):
    """A person decided into isolation on ``decided`` and admitted the next day; ``order`` adds a
    community rehabilitation order made during isolation (JDF 48)."""
    events = [{"kind": K.FOUND_USING, "occurred_on": decided - dt.timedelta(days=1)},
              {"kind": K.ISOLATION_DECISION, "occurred_on": decided},
              {"kind": K.ADMISSION, "occurred_on": decided + dt.timedelta(days=1)}]
    if order:
        events.append({"kind": K.COMMUNITY_RECOVERY_ORDER, "occurred_on": order, "term_months": 36})
    return register(events=events, residence=residence, **kw)


@pytest.fixture
def town_user(db):
    return role_user("town_office", ZHONGSHAN)


# --- the four steps -------------------------------------------------------------------------

@pytest.mark.django_db
def test_full_handover_writes_release_reported_and_agreement_events(town_user):
    """Notice → pickup → reporting → agreement; each step writes its timeline event and the
    person goes from isolation through awaiting report (JDTL 38) to community rehabilitation."""
    with at(2024, 2, 26):
        person = isolated(order=dt.date(2024, 2, 20))
        assert fresh(person).status == Status.ISOLATION
        handover = services.record_release_notice(
            user=town_user, person=person, facility="海南省琼山强制隔离戒毒所",
            notice_received_on=dt.date(2024, 2, 26), expected_release_on=dt.date(2024, 2, 29))
        assert handover.status == HandoverStatus.NOTIFIED
        assert DueItem.objects.get(person=person, kind=DueKind.HANDOVER).due_on == dt.date(2024, 2, 29)
    with at(2024, 2, 29, 16):
        handover = services.record_pickup(user=town_user, handover=handover, released_on=dt.date(2024, 2, 29),
                                          received_on=dt.date(2024, 2, 29), expected_version=handover.version)
        assert handover.status == HandoverStatus.RECEIVED
        assert Event.objects.filter(person=person, kind=K.RELEASE, occurred_on=dt.date(2024, 2, 29)).exists()
        assert fresh(person).status == Status.AWAITING_REPORT
        # The next deadline is reporting, 15 days after the release (JDTL 38).
        assert DueItem.objects.get(person=person, kind=DueKind.HANDOVER).due_on == dt.date(2024, 3, 15)
    with at(2024, 3, 5):
        handover = services.record_handover_report(user=town_user, handover=handover, reported_on=dt.date(2024, 3, 5),
                                                   expected_version=handover.version)
        assert Event.objects.filter(person=person, kind=K.REPORTED, occurred_on=dt.date(2024, 3, 5)).exists()
        assert fresh(person).status == Status.COMMUNITY_REHAB
        handover = services.record_handover_agreement(user=town_user, handover=handover, signed_on=dt.date(2024, 3, 5),
                                                      expected_version=handover.version)
        assert handover.status == HandoverStatus.AGREEMENT_SIGNED
        assert Event.objects.filter(person=person, kind=K.AGREEMENT_SIGNED).count() == 1
        assert not DueItem.objects.filter(person=person, kind=DueKind.HANDOVER).exists()
    actions = list(AuditEvent.objects.filter(target_id=str(handover.pk), action__startswith="persons.handover_")
                   .order_by("pk").values_list("action", flat=True))
    assert actions == ["persons.handover_notified", "persons.handover_received", "persons.handover_reported",
                       "persons.handover_agreement_signed"]


@pytest.mark.django_db
def test_short_notice_is_accepted_with_a_warning(town_user):
    """JDTL 34 asks for 3 days' notice; a shorter notice is still recorded (the release happens
    anyway) and flagged."""
    with at(2024, 2, 28):
        person = isolated()
        short = services.record_release_notice(user=town_user, person=person, facility="所",
                                               notice_received_on=dt.date(2024, 2, 28),
                                               expected_release_on=dt.date(2024, 2, 29))
        from jindu.persons.services.handover import notice_warning

        assert "3日" in notice_warning(short)
        other = isolated(residence=village(ZHONGSHAN, 1))
        enough = services.record_release_notice(user=town_user, person=other, facility="所",
                                                notice_received_on=dt.date(2024, 2, 26),
                                                expected_release_on=dt.date(2024, 2, 29))
        assert notice_warning(enough) == ""


@pytest.mark.django_db
def test_steps_refuse_bad_input_and_change_nothing(town_user):
    with at(2024, 3, 1):
        person = isolated()
        with pytest.raises(ValidationError) as exc:
            services.record_release_notice(user=town_user, person=person, facility="",
                                           notice_received_on=dt.date(2024, 3, 2),
                                           expected_release_on=dt.date(2024, 3, 1))
        assert "notice_received_on" in exc.value.message_dict
        assert "expected_release_on" in exc.value.message_dict
        handover = services.record_release_notice(user=town_user, person=person, facility="",
                                                  notice_received_on=dt.date(2024, 2, 26),
                                                  expected_release_on=dt.date(2024, 2, 29))
        with pytest.raises(ValidationError) as exc:  # one open handover per person
            services.record_release_notice(user=town_user, person=person, facility="",
                                           notice_received_on=dt.date(2024, 2, 27),
                                           expected_release_on=dt.date(2024, 3, 1))
        assert "person" in exc.value.message_dict
        with pytest.raises(ValidationError) as exc:  # agreement before reporting: wrong step
            services.record_handover_agreement(user=town_user, handover=handover, signed_on=dt.date(2024, 3, 1),
                                               expected_version=handover.version)
        assert "status" in exc.value.message_dict
        with pytest.raises(ValidationError) as exc:  # picked up before the release
            services.record_pickup(user=town_user, handover=handover, released_on=dt.date(2024, 2, 29),
                                   received_on=dt.date(2024, 2, 28), expected_version=handover.version)
        assert "received_on" in exc.value.message_dict
        with pytest.raises(StaleEditError):
            services.record_pickup(user=town_user, handover=handover, released_on=dt.date(2024, 2, 29),
                                   received_on=dt.date(2024, 2, 29), expected_version=handover.version + 1)
        assert fresh(handover).status == HandoverStatus.NOTIFIED
        assert not Event.objects.filter(person=person, kind=K.RELEASE).exists()


@pytest.mark.django_db
def test_other_town_cannot_record_a_step(town_user):
    with at(2024, 3, 1):
        person = isolated()
        handover = services.record_release_notice(user=town_user, person=person, facility="",
                                                  notice_received_on=dt.date(2024, 2, 26),
                                                  expected_release_on=dt.date(2024, 2, 29))
        stranger = role_user("town_office", XIUYING)
        with pytest.raises(PermissionDenied):
            services.record_pickup(user=stranger, handover=handover, released_on=dt.date(2024, 2, 29),
                                   received_on=dt.date(2024, 2, 29), expected_version=handover.version)
        with pytest.raises(PermissionDenied):
            services.record_release_notice(user=stranger, person=isolated(), facility="",
                                           notice_received_on=dt.date(2024, 2, 26),
                                           expected_release_on=dt.date(2024, 2, 29))
        assert fresh(handover).status == HandoverStatus.NOTIFIED


@pytest.mark.django_db
def test_release_already_on_the_timeline_is_not_duplicated(town_user):
    with at(2024, 3, 1):
        person = isolated()
        handover = services.record_release_notice(user=town_user, person=person, facility="",
                                                  notice_received_on=dt.date(2024, 2, 26),
                                                  expected_release_on=dt.date(2024, 2, 29))
        services.add_event(user=root(), person=person, data={"kind": K.RELEASE, "occurred_on": dt.date(2024, 2, 29)})
        services.record_pickup(user=town_user, handover=handover, released_on=dt.date(2024, 2, 29),
                               received_on=dt.date(2024, 2, 29), expected_version=handover.version)
        assert Event.objects.filter(person=person, kind=K.RELEASE).count() == 1
        assert DueItem.objects.get(person=person, kind=DueKind.HANDOVER).due_on == dt.date(2024, 3, 15)


# --- deadlines at the local-midnight boundary --------------------------------------------------

@pytest.mark.django_db
def test_pickup_deadline_is_due_all_release_day_and_overdue_from_local_midnight(town_user):
    """Expected release 2024-03-01: at 23:59:59 Shanghai (15:59:59 UTC) the pickup is due today,
    not escalated; one second later (00:00 Shanghai on 2 March, still 1 March in UTC) it is
    overdue and on the escalation list."""
    with at(2024, 2, 26):
        person = isolated()
        handover = services.record_release_notice(user=town_user, person=person, facility="",
                                                  notice_received_on=dt.date(2024, 2, 26),
                                                  expected_release_on=dt.date(2024, 3, 1))
    with at(2024, 3, 1, 23, 59, 59):
        assert workflows.handover_escalations(town_user) == []
        [row] = workflows.open_handovers(town_user)
        assert (row.due_on, row.due_state) == (dt.date(2024, 3, 1), "due_today")
    with at(2024, 3, 2, 0, 0, 0):
        [row] = workflows.handover_escalations(town_user)
        assert row.pk == handover.pk and row.due_state == "overdue" and row.days_overdue == 1
        assert not row.escalate


@pytest.mark.django_db
def test_reporting_deadline_is_release_plus_15_days_local(town_user):
    """Released 2024-03-01 → report by 2024-03-16 (JDTL 38): due all that local day, overdue
    from 00:00 Shanghai on 17 March; escalated to the district after 7 days overdue."""
    with at(2024, 3, 1, 12):
        person = isolated()
        handover = services.record_release_notice(user=town_user, person=person, facility="",
                                                  notice_received_on=dt.date(2024, 2, 26),
                                                  expected_release_on=dt.date(2024, 3, 1))
        services.record_pickup(user=town_user, handover=handover, released_on=dt.date(2024, 3, 1),
                               received_on=dt.date(2024, 3, 1), expected_version=handover.version)
    with at(2024, 3, 16, 23, 59, 59):
        assert workflows.handover_escalations(town_user) == []
        assert workflows.open_handovers(town_user)[0].due_on == dt.date(2024, 3, 16)
    with at(2024, 3, 17, 0, 0, 0):
        [row] = workflows.handover_escalations(town_user)
        assert row.days_overdue == 1 and not row.escalate
    with at(2024, 3, 24):
        [row] = workflows.handover_escalations(town_user)
        assert row.days_overdue == 8 and row.escalate


@pytest.mark.django_db
def test_escalation_list_is_scoped(town_user):
    with at(2024, 3, 10):
        mine = isolated()
        theirs = isolated(residence=village(XIUYING))
        for person in (mine, theirs):
            services.record_release_notice(user=root(), person=person, facility="",
                                           notice_received_on=dt.date(2024, 2, 26),
                                           expected_release_on=dt.date(2024, 3, 1))
        assert [h.person_id for h in workflows.handover_escalations(town_user)] == [mine.pk]
        district = role_user("district_office", LONGHUA)
        assert [h.person_id for h in workflows.handover_escalations(district)] == [mine.pk]
        assert {h.person_id for h in workflows.handover_escalations(root())} == {mine.pk, theirs.pk}


# --- rates -------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_execution_and_handover_rates_by_period_and_division():
    """February 2024: two isolation decisions in 龙华, one admitted → execution 50.0 %; one in
    秀英, admitted → 100.0 %. Releases in February: one reported within 15 days, one late, one
    still within its 15 days (pending, left out of the rate)."""
    feb = month_period(2024, 2)
    with at(2024, 3, 10):
        register(events=[{"kind": K.ISOLATION_DECISION, "occurred_on": dt.date(2024, 2, 5)},
                         {"kind": K.ADMISSION, "occurred_on": dt.date(2024, 2, 6)}])
        register(events=[{"kind": K.ISOLATION_DECISION, "occurred_on": dt.date(2024, 2, 20)}],
                 residence=village(BINHAI))
        register(events=[{"kind": K.ISOLATION_DECISION, "occurred_on": dt.date(2024, 2, 8)},
                         {"kind": K.ADMISSION, "occurred_on": dt.date(2024, 2, 8)}], residence=village(XIUYING))
        # A decision outside the period does not count.
        register(events=[{"kind": K.ISOLATION_DECISION, "occurred_on": dt.date(2024, 1, 31)}])

        admin = root()

        def handed(residence, released, reported=None):
            person = isolated(residence=residence)
            h = services.record_release_notice(user=admin, person=person, facility="",
                                               notice_received_on=released - dt.timedelta(days=3),
                                               expected_release_on=released)
            h = services.record_pickup(user=admin, handover=h, released_on=released, received_on=released,
                                       expected_version=h.version)
            if reported:
                services.record_handover_report(user=admin, handover=h, reported_on=reported,
                                                expected_version=h.version)

        handed(village(ZHONGSHAN), dt.date(2024, 2, 1), reported=dt.date(2024, 2, 16))  # day 15: on time
        handed(village(ZHONGSHAN, 1), dt.date(2024, 2, 2), reported=dt.date(2024, 2, 20))  # late
        handed(village(XIUYING), dt.date(2024, 2, 28))  # 15 days not yet over on 10 March: pending

        total = workflows.handover_rates(admin, feb)
        assert (total.decisions, total.executed, total.execution_rate) == (3, 2, Decimal("66.7"))
        assert (total.releases, total.reported_on_time, total.pending) == (3, 1, 1)
        assert total.handover_rate == Decimal("50.0")
        assert total.pickup_rate == Decimal("100.0")

        rows = {r.division.code[:6]: r for r in workflows.rates_by_division(admin, feb)}
        assert rows["460106"].execution_rate == Decimal("50.0")
        assert rows["460105"].execution_rate == Decimal("100.0")
        assert rows["460106"].handover_rate == Decimal("50.0")
        assert rows["460105"].handover_rate is None  # only a pending release
        assert rows["460108"].decisions == 0 and rows["460108"].execution_rate is None

        # A town user sees the rates of the town only.
        town = role_user("town_office", ZHONGSHAN)
        mine = workflows.handover_rates(town, feb)
        assert (mine.decisions, mine.releases) == (1, 2)


# --- community measures --------------------------------------------------------------------------

def community(reported_on, *, order_on=None, residence=None, extra=(), **kw):
    order_on = order_on or reported_on - dt.timedelta(days=3)
    events = [{"kind": K.FOUND_USING, "occurred_on": order_on},
              {"kind": K.COMMUNITY_REHAB_ORDER, "occurred_on": order_on},
              {"kind": K.REPORTED, "occurred_on": reported_on}, *extra]
    return register(events=events, residence=residence, **kw)


@pytest.mark.django_db
def test_reporting_deadline_list_shows_awaiting_and_overdue(town_user):
    """Ordered 2024-03-01 → report by 2024-03-16 (JDTL 14); from 17 March a deemed refusal."""
    with at(2024, 3, 10):
        awaiting = register(events=[{"kind": K.COMMUNITY_REHAB_ORDER, "occurred_on": dt.date(2024, 3, 1)}])
        reported = community(dt.date(2024, 3, 5))
        rows = workflows.reporting_deadlines(town_user)
        assert [(p.pk, p.report_due_on, p.due_state) for p in rows] == [
            (awaiting.pk, dt.date(2024, 3, 16), "upcoming")]
        assert reported.pk not in [p.pk for p in rows]
    with at(2024, 3, 17, 0, 0, 1):
        services.recompute_person(fresh(awaiting))
        [row] = workflows.reporting_deadlines(town_user)
        assert row.pk == awaiting.pk and row.due_state == "overdue"


@pytest.mark.django_db
def test_agreement_pending_until_signed(town_user):
    with at(2024, 3, 10):
        person = community(dt.date(2024, 3, 5))
        assert person.pk in [p.pk for p in workflows.agreements_pending(town_user)]
        services.add_event(user=town_user, person=person,
                           data={"kind": K.AGREEMENT_SIGNED, "occurred_on": dt.date(2024, 3, 6)})
        assert person.pk not in [p.pk for p in workflows.agreements_pending(town_user)]


@pytest.mark.django_db
def test_three_refusals_raise_a_serious_breach_and_a_proposal_is_recorded(town_user):
    """JDTL 20: three refusals of testing during community drug rehabilitation is a serious
    breach; the town's proposal to the police is audited and shown on the list."""
    with at(2024, 6, 1):
        refusals = [{"kind": K.REFUSED_TEST, "occurred_on": dt.date(2024, 4, d)} for d in (1, 10, 20)]
        person = community(dt.date(2024, 3, 5), extra=refusals[:2])
        assert person.pk not in [p.pk for p in workflows.serious_breaches(town_user)]
        with pytest.raises(ValidationError):
            services.propose_isolation(user=town_user, person=person, note="拒检两次")
        services.add_event(user=town_user, person=person, data=refusals[2])
        [row] = workflows.serious_breaches(town_user)
        assert row.pk == person.pk and row.proposed_at is None
        state = workflows.breach_details([row])[person.pk]
        assert state.refused_tests == 3 and state.serious_breach
        with pytest.raises(ValidationError):
            services.propose_isolation(user=town_user, person=person, note="  ")
        services.propose_isolation(user=town_user, person=person, note="三次拒绝检测，提请公安机关决定强制隔离戒毒")
        [row] = workflows.serious_breaches(town_user)
        assert row.proposed_at is not None
        event = AuditEvent.objects.get(action="persons.breach_proposal_made", target_id=str(person.pk))
        assert event.changes["refused_tests"] == 3 and event.reason.startswith("三次拒绝检测")


@pytest.mark.django_db
def test_more_than_30_days_away_without_approval_is_a_serious_breach(town_user):
    with at(2024, 6, 1):
        person = community(dt.date(2024, 3, 5), extra=[
            {"kind": K.LEFT_COUNTY, "occurred_on": dt.date(2024, 4, 1), "days": 31, "approved": False}])
        assert [p.pk for p in workflows.serious_breaches(town_user)] == [person.pk]


@pytest.mark.django_db
def test_completion_list_and_record(town_user):
    """Community drug rehabilitation reported on 2021-04-10 ends 2024-04-09 (3 years, JDF 33):
    listed within 30 days of the end; the completion notice (JDTL 23) takes the person off."""
    with at(2024, 3, 9):
        person = community(dt.date(2021, 4, 10), order_on=dt.date(2021, 4, 1))
        assert fresh(person).measure_end_on == dt.date(2024, 4, 9)
        assert person.pk not in [p.pk for p in workflows.completions_due(town_user)]
    with at(2024, 3, 10):
        assert person.pk in [p.pk for p in workflows.completions_due(town_user)]
        with pytest.raises(ValidationError) as exc:
            services.record_measure_completed(user=town_user, person=person, completed_on=dt.date(2024, 3, 10))
        assert "completed_on" in exc.value.message_dict
    with at(2024, 4, 10):
        services.record_measure_completed(user=town_user, person=fresh(person), completed_on=dt.date(2024, 4, 10))
        assert Event.objects.filter(person=person, kind=K.MEASURE_COMPLETED).exists()
        assert fresh(person).status != Status.COMMUNITY_DRUG_REHAB
        assert person.pk not in [p.pk for p in workflows.completions_due(town_user)]


@pytest.mark.django_db
def test_handover_can_fail_with_a_reason(town_user):
    with at(2024, 3, 20):
        person = isolated()
        handover = services.record_release_notice(user=town_user, person=person, facility="",
                                                  notice_received_on=dt.date(2024, 2, 26),
                                                  expected_release_on=dt.date(2024, 3, 1))
        with pytest.raises(ValidationError):
            services.mark_handover_failed(user=town_user, handover=handover, reason="", expected_version=1)
        services.mark_handover_failed(user=town_user, handover=handover, reason="出所后失联，已通报派出所",
                                      expected_version=handover.version)
        assert fresh(handover).status == HandoverStatus.FAILED
        assert workflows.handover_escalations(town_user) == []
        assert not DueItem.objects.filter(person=person, kind=DueKind.HANDOVER).exists()
        assert Handover.objects.filter(person=person).count() == 1


# --- pages ----------------------------------------------------------------------------------------

def assert_csp_clean(html: str) -> None:
    """Strict CSP: no inline style attributes, no inline scripts."""
    import re

    assert "style=" not in html
    assert all("src=" in tag for tag in re.findall(r"<script[^>]*>", html))


@pytest.mark.django_db
def test_handover_pages_record_each_step(town_user, client):
    from django.urls import reverse

    from jindu.core.models import AccessLog

    with at(2024, 2, 28):
        person = isolated()
        other = isolated(residence=village(XIUYING))
        client.force_login(town_user)
        create = reverse("persons:handover_create")
        # A person outside the scope is "not found", and nothing is written.
        response = client.post(create, {"identity_number": other.identity_number, "facility": "所",
                                        "notice_received_on": "2024-02-28", "expected_release_on": "2024-02-29"})
        assert response.status_code == 200 and "您的管辖范围内没有该证件号码的登记人员" in response.content.decode()
        assert not Handover.objects.exists()
        response = client.post(create, {"identity_number": person.identity_number, "facility": "琼山所",
                                        "notice_received_on": "2024-02-28", "expected_release_on": "2024-02-29"},
                               follow=True)
        html = response.content.decode()
        handover = Handover.objects.get(person=person)
        assert response.redirect_chain[-1][0] == reverse("persons:handover_detail", args=[handover.pk])
        assert "少于《戒毒条例》第三十四条规定的3日" in html
        assert_csp_clean(html)
        listing = client.get(reverse("persons:handover_list")).content.decode()
        assert f'data-handover="{handover.pk}"' in listing
        assert_csp_clean(listing)
        assert AccessLog.objects.filter(user=town_user, kind=AccessLog.Kind.LIST, model="persons.Handover").exists()
    with at(2024, 3, 1):
        client.force_login(town_user)  # the session of 28 February has expired
        step = reverse("persons:handover_step", args=[handover.pk])
        escalation = client.get(reverse("persons:handover_list"), {"tab": "escalation"}).content.decode()
        assert f'data-handover="{handover.pk}"' in escalation
        client.post(step, {"step": "pickup", "version": handover.version, "released_on": "2024-02-29",
                           "received_on": "2024-02-29"})
        assert fresh(handover).status == HandoverStatus.RECEIVED
        # A stale page is refused with a message, nothing changes.
        response = client.post(step, {"step": "report", "version": handover.version, "reported_on": "2024-03-01"},
                               follow=True)
        assert "已被他人修改" in response.content.decode() and fresh(handover).status == HandoverStatus.RECEIVED
        client.post(step, {"step": "report", "version": fresh(handover).version, "reported_on": "2024-03-01"})
        client.post(step, {"step": "agreement", "version": fresh(handover).version,
                           "agreement_signed_on": "2024-03-01"})
        assert fresh(handover).status == HandoverStatus.AGREEMENT_SIGNED
        rates = client.get(reverse("persons:handover_list"), {"tab": "rates", "period": "2024-02"}).content.decode()
        assert 'data-testid="handover-rate">100.0%' in rates
        assert client.get(reverse("persons:handover_list"), {"tab": "rates", "period": "2024-13"}).status_code == 200
        # Another town's office cannot open the handover.
        client.force_login(role_user("town_office", XIUYING))
        assert client.get(reverse("persons:handover_detail", args=[handover.pk])).status_code == 404
        assert client.post(step, {"step": "fail", "version": 1, "reason": "x"}).status_code == 404


@pytest.mark.django_db
def test_order_pages_show_breach_and_record_a_proposal(town_user, client):
    from django.urls import reverse

    with at(2024, 6, 1):
        refusals = [{"kind": K.REFUSED_TEST, "occurred_on": dt.date(2024, 4, d)} for d in (1, 10, 20)]
        person = community(dt.date(2024, 3, 5), extra=refusals)
        client.force_login(town_user)
        html = client.get(reverse("persons:order_list"), {"tab": "breach"}).content.decode()
        assert f'data-person="{person.pk}"' in html and "拒检 3 次" in html and "未提请" in html
        assert_csp_clean(html)
        client.post(reverse("persons:breach_propose", args=[person.pk]), {"note": "三次拒检"})
        html = client.get(reverse("persons:order_list"), {"tab": "breach"}).content.decode()
        assert "已提请" in html
        for tab in ("reporting", "agreement", "completion"):
            assert client.get(reverse("persons:order_list"), {"tab": tab}).status_code == 200
        index = client.get(reverse("persons:workflows")).content.decode()
        assert "严重违反协议 1 人" in index
        assert_csp_clean(index)


@pytest.mark.django_db
def test_workflow_list_queries_do_not_grow_with_rows(town_user, client):
    """The handover, order and licence lists cost the same number of queries for 2 and 5 rows."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    def count(url, params):
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url, params).status_code == 200
        return len(ctx.captured_queries)

    def add(n, start):
        for i in range(n):
            person = isolated(residence=village(ZHONGSHAN, (start + i) % 3), holds_driving_licence=True)
            services.record_release_notice(user=town_user, person=person, facility="所",
                                           notice_received_on=dt.date(2024, 2, 26),
                                           expected_release_on=dt.date(2024, 3, 1))
            community(dt.date(2024, 2, 20), residence=village(ZHONGSHAN, (start + i) % 3),
                      extra=[{"kind": K.REFUSED_TEST, "occurred_on": dt.date(2024, 3, d)} for d in (1, 2, 3)])

    pages = [("persons:handover_list", {}), ("persons:handover_list", {"tab": "escalation"}),
             ("persons:order_list", {"tab": "breach"}), ("persons:order_list", {"tab": "agreement"}),
             ("persons:licence_list", {})]
    with at(2024, 3, 10):
        client.force_login(town_user)
        add(2, 0)
        few = [count(reverse(name), params) for name, params in pages]
        add(3, 2)
        more = [count(reverse(name), params) for name, params in pages]
    assert few == more
