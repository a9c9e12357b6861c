"""Writes of the daily case work on one person's file (一人一档一策): contacts and home visits,
the individual plan, help given, drug tests and risk assessments.

Every public function is keyword-only, runs in one transaction, locks the person, checks
that ``user`` may change the person (out of scope: ``PermissionDenied``, nothing written),
validates (``ValidationError`` mapping field → Chinese message, nothing written), writes
exactly one audit event and then refreshes the derived status, tier and due items with
``registry.recompute_person``, so the worklist reflects the work as soon as it is saved.

Dates are local dates (``Asia/Shanghai``) of when the work was done; a date in the future is
refused, a date in the past is accepted (paper records entered late): the schedule counts
from the date the work was done, so a backdated record clears the item it satisfied.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any, Mapping

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from jindu.core.audit import record_event
from jindu.core.scope import ADD, CHANGE
from jindu.core.services import ensure_in_scope, update_versioned
from jindu.core.timeutils import local_today
from jindu.persons.choices import AssistanceKind, EventKind, TestResult, Tier
from jindu.persons.models import Assistance, CasePlan, Contact, Event, Person, RiskAssessment
from jindu.persons.services import registry

CONTACT_FIELDS = ("kind", "occurred_on", "place", "worker", "notes")
PLAN_FIELDS = ("goals", "measures", "responsible_worker", "starts_on", "review_on")
ASSISTANCE_FIELDS = ("kind", "given_on", "amount_yuan", "job_found", "provider", "description")
TEST_FIELDS = ("kind", "occurred_on", "result", "substance", "source", "document_number", "notes")
TEST_KINDS = (EventKind.URINALYSIS, EventKind.HAIR_TEST)

#: Why an assessment was made, besides the instrument's reassessment triggers (positive
#: test, breach, release …; ``risk.Instrument.triggers``): on entry, periodically (the tier's
#: schedule), or for another reason the assessor writes down.
BASE_TRIGGERS = (
    ("entry", gettext_lazy("初次评估（建档）")),
    ("periodic", gettext_lazy("定期评估")),
)
OTHER_TRIGGER = ("other", gettext_lazy("其他"))


def assessment_triggers() -> list[tuple[str, str]]:
    """``[(code, Chinese label)]`` accepted as an assessment's ``trigger``: entry, periodic,
    the default instrument's reassessment triggers (``risk_default.json``
    ``reassessment_triggers``, casework_rules.md §6.1), other."""
    from jindu.persons import risk

    out = [(code, str(label)) for code, label in BASE_TRIGGERS]
    out += [(t.code, t.label) for t in risk.Instrument.load_default().triggers]
    out.append((OTHER_TRIGGER[0], str(OTHER_TRIGGER[1])))
    return out


def trigger_label(code: str) -> str:
    return dict(assessment_triggers()).get(code, code)


def _lock(person: Person, user: Any) -> Person:
    locked = Person.objects.select_for_update().get(pk=person.pk)
    ensure_in_scope(locked, user=user, action=CHANGE)
    return locked


def _not_future(value: dt.date | None, field: str, errors: dict[str, str], label: str) -> None:
    if value is not None and value > local_today():
        errors[field] = _("%(field)s不能晚于今天") % {"field": label}


def _summary(data: Mapping[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    out = {}
    for key in fields:
        if key not in data:
            continue
        value = data[key]
        if hasattr(value, "pk"):
            value = value.pk
        elif isinstance(value, (dt.date, dt.datetime)):
            value = value.isoformat()
        elif isinstance(value, Decimal):
            value = str(value)
        out[key] = value
    return out


def _user_or_none(user: Any):
    return user if getattr(user, "pk", None) else None


# --- contacts -------------------------------------------------------------------------------

@transaction.atomic
def record_contact(*, user: Any, person: Person, data: Mapping[str, Any]) -> Contact:
    """Record one contact of the case work (``data``: ``kind`` a ``ContactKind``,
    ``occurred_on`` local date, ``place``, ``worker`` (default: ``user``), ``notes``).

    A home visit also counts as a contact for the schedule (``derivation.last_done_dates``).
    Raises ``ValidationError`` (future date, bad kind) or ``PermissionDenied``.
    """
    locked = _lock(person, user)
    values = {k: v for k, v in data.items() if k in CONTACT_FIELDS}
    values.setdefault("worker", _user_or_none(user))
    contact = Contact(person=locked, **values)
    errors: dict[str, str] = {}
    _not_future(contact.occurred_on, "occurred_on", errors, _("联系日期"))
    if errors:
        raise ValidationError(errors)
    contact.full_clean()
    contact.save()
    ensure_in_scope(contact, user=user, action=ADD)
    record_event(action="persons.contact_recorded", target=contact, actor=user,
                 changes={"person": locked.pk, **_summary(values, CONTACT_FIELDS)})
    registry.recompute_person(locked)
    return contact


# --- the individual plan ----------------------------------------------------------------------

@transaction.atomic
def save_plan(*, user: Any, person: Person, data: Mapping[str, Any], plan: CasePlan | None = None,
              expected_version: int | None = None) -> CasePlan:
    """Create the person's plan (一人一策), or edit ``plan`` when given.

    ``data``: ``goals``, ``measures``, ``responsible_worker`` (a user), ``starts_on`` (default
    today), ``review_on`` (the review date: it becomes the "plan review" due item). A new plan
    replaces the active one (the old plan stays in the file, inactive). Editing carries
    ``expected_version``: a stale edit raises ``StaleEditError`` and nothing is written.
    Raises ``ValidationError`` (review before start, future start) or ``PermissionDenied``.
    """
    locked = _lock(person, user)
    values = {k: v for k, v in data.items() if k in PLAN_FIELDS}
    if plan is None:
        values.setdefault("starts_on", local_today())
        candidate = CasePlan(person=locked, is_active=True, **values)
    else:
        if plan.person_id != locked.pk:
            raise ValidationError({"plan": _("帮扶计划不属于该人员")})
        candidate = CasePlan.objects.get(pk=plan.pk)
        for key, value in values.items():
            setattr(candidate, key, value)
    errors: dict[str, str] = {}
    _not_future(candidate.starts_on, "starts_on", errors, _("制定日期"))
    if candidate.starts_on and candidate.review_on and candidate.review_on < candidate.starts_on:
        errors["review_on"] = _("回顾日期不能早于制定日期")
    if errors:
        raise ValidationError(errors)
    candidate.full_clean()
    if plan is None:
        for old in CasePlan.objects.select_for_update().filter(person=locked, is_active=True):
            old.is_active = False
            old.version += 1
            old.save()  # one by one: each deactivation is kept in the row history
        candidate.save()
        ensure_in_scope(candidate, user=user, action=ADD)
        saved, action = candidate, "persons.plan_created"
    else:
        saved, _changed = update_versioned(plan, user=user, data={k: getattr(candidate, k) for k in values},
                                           fields=PLAN_FIELDS, expected_version=expected_version)
        action = "persons.plan_updated"
    record_event(action=action, target=saved, actor=user,
                 changes={"person": locked.pk, **_summary(values, PLAN_FIELDS)})
    registry.recompute_person(locked)
    return saved


# --- help given -------------------------------------------------------------------------------

def _decimal_or_error(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, float):  # a float has already lost the cents (DESIGN.md "Quantities")
        raise ValidationError({"amount_yuan": _("金额（元）须以十进制数给出，不接受浮点数")})
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValidationError({"amount_yuan": _("金额（元）不是有效的数字：%(value)s") % {"value": value}}) from None
    if not amount.is_finite():
        raise ValidationError({"amount_yuan": _("金额（元）不是有效的数字：%(value)s") % {"value": value}})
    return amount


@transaction.atomic
def record_assistance(*, user: Any, person: Person, data: Mapping[str, Any]) -> Assistance:
    """Record help given (帮扶救助): ``kind`` (``AssistanceKind``), ``given_on``, ``amount_yuan``
    (``Decimal`` yuan, optional, ≥ 0; floats refused), ``job_found`` (counts in "jobs
    found"), ``provider`` (an org unit), ``description``. Each record is one person-time.
    Raises ``ValidationError`` or ``PermissionDenied``.
    """
    locked = _lock(person, user)
    values = {k: v for k, v in data.items() if k in ASSISTANCE_FIELDS}
    values["amount_yuan"] = _decimal_or_error(values.get("amount_yuan"))
    values["job_found"] = bool(values.get("job_found"))
    row = Assistance(person=locked, **values)
    errors: dict[str, str] = {}
    _not_future(row.given_on, "given_on", errors, _("帮扶日期"))
    if row.amount_yuan is not None and row.amount_yuan < 0:
        errors["amount_yuan"] = _("金额（元）不能为负数")
    if row.kind and row.kind not in AssistanceKind.values:
        errors["kind"] = _("帮扶类型无效")
    if errors:
        raise ValidationError(errors)
    row.full_clean()
    row.save()
    ensure_in_scope(row, user=user, action=ADD)
    record_event(action="persons.assistance_recorded", target=row, actor=user,
                 changes={"person": locked.pk, **_summary(values, ASSISTANCE_FIELDS)})
    registry.recompute_person(locked)
    return row


# --- drug tests -------------------------------------------------------------------------------

def record_test(*, user: Any, person: Person, data: Mapping[str, Any]) -> Event:
    """Record a urinalysis or hair test as a timeline event (through ``registry.add_event``,
    which writes the one audit event and recomputes): ``kind`` (``urinalysis`` /
    ``hair_test``), ``occurred_on``, ``result`` (``TestResult``), optional ``substance``
    detected, ``source``, ``document_number``, ``notes``.

    A positive result is detected use: the rules move the abstinence clock and the risk
    instrument treats it as a reassessment trigger (``risk_default.json``
    ``reassessment_triggers.positive_test``; ``needs_reassessment`` tells the pages).
    Raises ``ValidationError`` (not a test kind, no result) or ``PermissionDenied``.
    """
    values = {k: v for k, v in data.items() if k in TEST_FIELDS}
    errors = {}
    if values.get("kind") not in TEST_KINDS:
        errors["kind"] = _("检测类型须为尿检或毛发检测")
    if not values.get("result"):
        errors["result"] = _("请填写检测结果")
    elif values["result"] not in TestResult.values:
        errors["result"] = _("检测结果无效")
    if values.get("substance") is not None and values.get("result") != TestResult.POSITIVE:
        errors["substance"] = _("只有阳性结果才填写检出物质")
    if errors:
        raise ValidationError(errors)
    return registry.add_event(user=user, person=person, data=values)


def needs_reassessment(event: Event) -> bool:
    """Whether ``event`` calls for a new risk assessment under the default instrument."""
    from jindu.persons import risk
    from jindu.persons.timeline import TimelineEvent

    timeline_event = TimelineEvent(kind=event.kind, occurred_on=event.occurred_on, id=event.pk,
                                   result=event.result or None, days=event.days, approved=event.approved)
    return risk.trigger_rule_for(timeline_event) is not None


# --- risk assessment --------------------------------------------------------------------------

def person_state(person: Person, as_of: dt.date | None = None):
    """``(PersonState, [TimelineEvent])`` of ``person`` at ``as_of`` (default today), from the
    rules module with the configured settings."""
    from jindu.persons import rules

    events = registry.timeline_of(person)
    state = rules.derive_state(events, as_of or local_today(), rules.RulesConfig.from_settings())
    return state, events


@transaction.atomic
def assess_risk(*, user: Any, person: Person, assessed_on: dt.date, answers: Mapping[str, str], trigger: str,
                tier: str | None = None, override_reason: str = "") -> RiskAssessment:
    """Assess ``person`` with the default risk instrument (``risk.Instrument.load_default``,
    casework_rules.md §6.1) and store the result.

    ``answers``: ``{item_code: answer_code, flag_code: "yes"|"no"}``, every item answered.
    The rules module derives the person's state at ``assessed_on`` (timeline overrides such
    as a positive test within 90 days, the C2 three-year test). ``tier``: the final tier when
    the assessor changes the computed one — then ``override_reason`` is required and the
    audit event is ``persons.risk_tier_overridden`` (else ``persons.risk_assessed``).
    ``trigger``: one of :func:`assessment_triggers`.

    Stores the instrument code and version, answers, points per item, the overrides that
    fired, the score, the computed and the final tier. Raises ``ValidationError`` (unanswered
    or unknown answers, future date, bad tier or trigger, override without reason) or
    ``PermissionDenied``.
    """
    from jindu.persons import risk

    locked = _lock(person, user)
    errors: dict[str, Any] = {}
    if assessed_on is None:
        errors["assessed_on"] = _("请填写评估日期")
    else:
        _not_future(assessed_on, "assessed_on", errors, _("评估日期"))
    if trigger not in dict(assessment_triggers()):
        errors["trigger"] = _("评估原因无效")
    if tier not in (None, "") and tier not in Tier.values:
        errors["tier"] = _("评定等级无效：%(tier)s") % {"tier": tier}
    if errors:
        raise ValidationError(errors)
    instrument = risk.Instrument.load_default()
    state, _events = person_state(locked, assessed_on)
    try:
        result = risk.score(instrument, dict(answers), state, as_of=assessed_on)
    except risk.AnswerError as exc:
        raise ValidationError({"answers": list(exc.errors)}) from None
    final = tier or result.tier
    reason = (override_reason or "").strip()
    manual = final != result.tier
    if manual and not reason:
        raise ValidationError({"override_reason": _(
            "评定等级（%(final)s）与计算等级（%(computed)s）不同，须填写人工调整理由") % {
            "final": Tier(final).label, "computed": Tier(result.tier).label}})
    row = RiskAssessment(
        person=locked, assessed_on=assessed_on, trigger=trigger,
        instrument_code=result.instrument_code, instrument_version=result.instrument_version,
        answers=dict(answers),
        item_points={s.item: s.points for s in result.items},
        overrides=[{"code": o.code, "label": o.label, "reason": o.reason, "status": o.status}
                   for o in result.overrides],
        score=result.score, computed_tier=result.tier, tier=final,
        override_reason=reason if manual else "",
        assessor=_user_or_none(user),
    )
    row.full_clean(exclude=["overrides"])  # an empty list (no override fired) is a valid value
    row.save()
    ensure_in_scope(row, user=user, action=ADD)
    changes = {"person": locked.pk, "assessed_on": assessed_on.isoformat(), "trigger": trigger,
               "instrument": f"{result.instrument_code}/{result.instrument_version}", "score": result.score,
               "computed_tier": result.tier, "tier": final, "overrides": [o.code for o in result.overrides]}
    record_event(action="persons.risk_tier_overridden" if manual else "persons.risk_assessed", target=row,
                 actor=user, changes=changes, reason=reason if manual else "")
    registry.recompute_person(locked)
    return row
