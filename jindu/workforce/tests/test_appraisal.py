"""Appraisal: the scorecard computed from case-work records (contacts and tests on time vs
due, reassessments, handovers, overdue items), the supervisor's marks, and the renewal
decision it supports."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from jindu.core.models import AuditEvent
from jindu.persons.choices import ContactKind, DueKind, EventKind, Status
from jindu.persons.choices import TestResult as Result
from jindu.persons.models import Contact, DueItem, Event, Handover, RiskAssessment
from jindu.workforce import services
from jindu.workforce.choices import RenewalDecision
from jindu.workforce.conf import DEFAULTS
from jindu.workforce.models import ContractPeriod
from jindu.workforce.scorecard import add_interval, windows
from jindu.workforce.tests.support import TOWN, manager, person, squadron, worker

D = dt.date
Q1 = dict(first=D(2025, 1, 1), last=D(2025, 3, 31))


# -- windows (pure) -----------------------------------------------------------------------

def test_monthly_windows_on_time_and_missed():
    # anchor 20 Dec → due 20 Jan (15 Jan on time) → due 15 Feb (10 Feb on time) → due 10 Mar missed
    t = windows([D(2024, 12, 20), D(2025, 1, 15), D(2025, 2, 10)], interval=(1, "months"), **Q1)
    assert (t.due, t.on_time, t.missed, t.done) == (3, 2, 1, 2)


def test_silent_months_are_each_a_miss_and_a_late_record_serves_the_next_window():
    t = windows([], interval=(1, "months"), **Q1)  # deadlines 1 Feb, 1 Mar
    assert (t.due, t.on_time, t.missed) == (2, 0, 2)
    # due 1 Feb missed; the 5 Feb record is on time for the window ending 1 Mar, and the next
    # window runs from it: due 5 Mar, missed
    t = windows([D(2025, 2, 5)], interval=(1, "months"), **Q1)
    assert (t.due, t.on_time, t.missed) == (3, 1, 2)


def test_already_overdue_at_the_start_is_one_missed_window_then_runs_from_there():
    t = windows([D(2024, 6, 1)], interval=(1, "months"), **Q1)  # deadline 1 Jul 2024 passed long ago
    assert (t.due, t.on_time, t.missed) == (3, 0, 3)  # 1 Jan, 1 Feb, 1 Mar


def test_unscheduled_kind_has_nothing_due():
    t = windows([D(2025, 1, 5)], interval=None, **Q1)
    assert (t.due, t.done) == (0, 1)


def test_month_interval_clamps_to_month_end():
    assert add_interval(D(2024, 1, 31), (1, "months")) == D(2024, 2, 29)
    assert add_interval(D(2025, 1, 1), (-1, "months")) == D(2024, 12, 1)


def test_intervals_are_the_persons_schedule_tier_overlay():
    data = json.loads((Path(__file__).parents[2] / "persons/data/schedule_default.json").read_text("utf-8"))
    for kind, ours in DEFAULTS["intervals"].items():
        for tier, value in ours.items():
            rule = data["tier_overlay"][tier][kind]
            expected = ((rule["every_days"], "days") if rule.get("every_days")
                        else (rule["every_months"], "months") if rule.get("every_months") else None)
            assert value == expected, (kind, tier)


# -- the scorecard from case-work records -------------------------------------------------

def _assess(p, on):
    RiskAssessment.objects.create(person=p, assessed_on=on, instrument_code="test", instrument_version="1", score=1,
                                  computed_tier=p.tier, tier=p.tier)


@pytest.fixture
def casework(db):
    """A worker of 府城街道 with three people (one in compulsory isolation, not scored) and
    their records for 2025-Q1 (see the expected numbers in the test)."""
    w = worker(squadron(TOWN), recruited_on=D(2024, 7, 1))
    ContractPeriod.objects.create(worker=w, starts_on=D(2024, 7, 1), ends_on=D(2025, 6, 30),
                                  renewal_due_on=D(2025, 5, 31))
    b = person(TOWN, worker_user=w.user, tier="B")
    a = person(TOWN, worker_user=w.user, tier="A")
    person(TOWN, worker_user=w.user, tier="A", status=Status.ISOLATION)
    for on in (D(2024, 12, 20), D(2025, 1, 15), D(2025, 2, 10), D(2025, 4, 5)):
        Contact.objects.create(person=b, kind=ContactKind.HOME_VISIT, occurred_on=on)
    Contact.objects.create(person=b, kind=ContactKind.POLICE_CONTACT, occurred_on=D(2025, 3, 5))  # not social work
    Event.objects.create(person=b, kind=EventKind.URINALYSIS, occurred_on=D(2025, 2, 1), result=Result.NEGATIVE)
    Event.objects.create(person=b, kind=EventKind.URINALYSIS, occurred_on=D(2025, 3, 15), result=Result.REFUSED)
    _assess(b, D(2024, 11, 1))
    Event.objects.create(person=a, kind=EventKind.URINALYSIS, occurred_on=D(2025, 1, 20), result=Result.POSITIVE)
    wrong = Event.objects.create(person=a, kind=EventKind.URINALYSIS, occurred_on=D(2025, 2, 18),
                                 result=Result.NEGATIVE)
    Event.objects.create(person=a, kind=EventKind.CORRECTION, occurred_on=D(2025, 3, 1), corrects=wrong)
    DueItem.objects.create(person=a, kind=DueKind.CONTACT, due_on=D(2025, 3, 1))
    Handover.objects.create(person=a, notice_received_on=D(2025, 1, 25), expected_release_on=D(2025, 2, 1),
                            released_on=D(2025, 2, 1), reported_on=D(2025, 2, 10))
    return {"worker": w, "user": manager()}


def test_scorecard_from_casework(casework):
    appraisal = services.compute_appraisal(user=casework["user"], worker=casework["worker"], period_label="2025-Q1",
                                           today=D(2025, 4, 15))
    card = appraisal.scorecard
    c = card["components"]
    assert card["caseload"] == 2  # the person in isolation is not scored
    # B contacts: due 20 Jan ✓, 15 Feb ✓, 10 Mar ✗; A contacts (15 days, none): 16 Jan … 17 Mar, 5 misses
    assert (c["contacts"]["due"], c["contacts"]["on_time"]) == (8, 2)
    # B urinalysis (2 months, none before): due 1 Mar ✓ (1 Feb); the refusal is not a test done.
    # A urinalysis (monthly): due 1 Feb ✓ (20 Jan), 20 Feb ✗ (the corrected record does not count), 20 Mar ✗
    assert (c["tests"]["due"], c["tests"]["on_time"]) == (4, 2)
    # B reassessment (3 months from 1 Nov): due 1 Feb ✗; A (monthly, none): 1 Feb ✗, 1 Mar ✗
    assert (c["reassessments"]["due"], c["reassessments"]["on_time"]) == (3, 0)
    assert (c["handovers"]["due"], c["handovers"]["on_time"]) == (1, 1)  # reported within 15 days
    assert (c["no_overdue"]["due"], c["no_overdue"]["on_time"]) == (2, 1)  # A has an overdue item
    # 20×0.25 + 15×0.5 + 10×0 + 10×1 + 15×0.5 = 30
    assert appraisal.computed_score == Decimal("30.00")
    assert AuditEvent.objects.filter(action="workforce.appraisal_computed", target_id=str(appraisal.pk)).count() == 1


def test_marks_total_and_renewal_decision(casework):
    user, w = casework["user"], casework["worker"]
    appraisal = services.compute_appraisal(user=user, worker=w, period_label="2025-Q1", today=D(2025, 4, 15))
    with pytest.raises(ValidationError):  # no decision before the supervisor's marks
        services.decide_renewal(user=user, appraisal=appraisal, decision=RenewalDecision.RENEW)
    with pytest.raises(ValidationError) as err:
        services.mark_appraisal(user=user, appraisal=appraisal, marks={"attitude": 11, "teamwork": 9, "learning": 7},
                                expected_version=appraisal.version)
    assert "attitude" in err.value.message_dict
    appraisal = services.mark_appraisal(user=user, appraisal=appraisal,
                                        marks={"attitude": 8, "teamwork": 9, "learning": "7.5"},
                                        expected_version=appraisal.version)
    assert appraisal.total_score == Decimal("54.50")
    assert services.suggested_decision(appraisal) == RenewalDecision.NOT_RENEW  # below 60
    with pytest.raises(ValidationError):  # against the suggestion: a reason is needed
        services.decide_renewal(user=user, appraisal=appraisal, decision=RenewalDecision.RENEW)
    appraisal = services.decide_renewal(user=user, appraisal=appraisal, decision=RenewalDecision.RENEW,
                                        reason="二季度已整改，试续一年", today=D(2025, 5, 20))
    old, new = ContractPeriod.objects.filter(worker=w).order_by("starts_on")
    assert old.decision == RenewalDecision.RENEW and appraisal.contract == old
    assert (new.starts_on, new.ends_on, new.decision) == (D(2025, 7, 1), D(2026, 6, 30), RenewalDecision.PENDING)
    assert new.renewal_due_on == D(2026, 5, 31)
    with pytest.raises(ValidationError):  # decided: no recomputation
        services.compute_appraisal(user=user, worker=w, period_label="2025-Q1", today=D(2025, 6, 1))


def test_future_or_bad_period_refused(casework):
    with pytest.raises(ValidationError):
        services.compute_appraisal(user=casework["user"], worker=casework["worker"], period_label="2099",
                                   today=D(2025, 4, 15))
    with pytest.raises(ValidationError):
        services.compute_appraisal(user=casework["user"], worker=casework["worker"], period_label="上季度")


def test_appraisal_pages(casework, client):
    client.force_login(casework["user"])
    w = casework["worker"]
    response = client.post(reverse("workforce:appraisal_compute", args=[w.pk]), {"period_label": "2025-Q1"})
    assert response.status_code == 302
    appraisal = w.appraisals.get()
    page = client.get(reverse("workforce:appraisal_detail", args=[appraisal.pk]))
    assert page.status_code == 200 and 'data-testid="scorecard"' in page.content.decode()
    client.post(reverse("workforce:appraisal_mark", args=[appraisal.pk]),
                {"attitude": "10", "teamwork": "10", "learning": "10", "version": appraisal.version})
    appraisal.refresh_from_db()
    assert appraisal.total_score == appraisal.computed_score + 30
