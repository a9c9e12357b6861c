"""Writes to the registry: registration, edits, timeline events and corrections, worker
assignment, and the recomputation of everything derived from the timeline.

Every public function is keyword-only, runs in one transaction, re-checks scope after the
write (rolling back otherwise) and writes exactly one audit event. After any change to a
person's timeline or case work, :func:`recompute_person` refreshes the cached status, tier
and due items in the same transaction, so pages never show a stale status.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Iterable, Mapping

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from jindu.core.audit import record_event
from jindu.core.idnumbers import DocumentType, birth_date_of, sex_of
from jindu.core.scope import ADD, CHANGE
from jindu.core.services import ensure_in_scope, update_versioned
from jindu.core.text import needs_manual_check
from jindu.core.timeutils import local_today
from jindu.persons.choices import EventKind, ProposalStatus, TestResult
from jindu.persons.models import Event, MergeProposal, Person

#: Fields a user may set on a person through forms, imports and the API. Derived fields
#: (status, tier, dates) are absent on purpose: they come from the timeline.
PERSON_FIELDS = (
    "document_type", "identity_number", "name", "alias", "sex", "birth_date", "phone",
    "household_division", "household_address", "residence_division", "residence_address",
    "registered_on", "registering_unit", "holds_driving_licence", "driving_licence_classes",
)
#: Editable later; the residence village changes only through a transfer (both sides agree).
PERSON_EDIT_FIELDS = tuple(f for f in PERSON_FIELDS if f not in ("residence_division",))

EVENT_FIELDS = ("kind", "occurred_on", "source", "document_number", "result", "substance", "term_months", "days",
                "approved", "notes")

TEST_KINDS = (EventKind.URINALYSIS, EventKind.HAIR_TEST)


class DuplicatePersonError(ValidationError):
    """The identity number is already registered (one person per normalised number)."""


def _summary(data: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in data.items():
        if key == "identity_number":
            continue  # never in the audit trail unmasked
        if hasattr(value, "pk"):
            value = value.pk
        elif isinstance(value, (dt.date, dt.datetime)):
            value = value.isoformat()
        out[key] = value
    return out


def _fill_from_identity(person: Person) -> None:
    """Birth date and sex from a resident identity number (GB 11643-1999 §4–5) when not given;
    a contradiction with what was typed is a validation error naming the field."""
    if person.document_type != DocumentType.RESIDENT_ID or not person.identity_number:
        return
    try:
        born = birth_date_of(person.identity_number)
        sex = {"male": "M", "female": "F"}[sex_of(person.identity_number)]
    except ValidationError:
        return  # the field's own validation reports the number
    errors = {}
    if person.birth_date and person.birth_date != born:
        errors["birth_date"] = _("出生日期与身份证号码不一致（身份证号码显示为%(date)s）") % {"date": born.isoformat()}
    if person.sex not in ("", "U") and person.sex != sex:
        errors["sex"] = _("性别与身份证号码不一致")
    if errors:
        raise ValidationError(errors)
    person.birth_date, person.sex = born, sex


def _check_residence(division, *, allow_town: bool = False) -> None:
    from jindu.geo.choices import Level

    allowed = (Level.VILLAGE, Level.GRID) + ((Level.TOWN,) if allow_town else ())
    if division is not None and division.level not in allowed:
        raise ValidationError({"residence_division": _("居住地须选择到村（社区）或网格")})


@transaction.atomic
def register_person(*, user: Any, data: Mapping[str, Any], drugs: Iterable[Any] = (),
                    events: Iterable[Mapping[str, Any]] = (), external: bool = False) -> Person:
    """Register a person from ``data`` (keys of :data:`PERSON_FIELDS`), the substances used
    and optional first timeline events (mappings of :data:`EVENT_FIELDS`).

    Raises ``ValidationError`` (field → Chinese message) for bad input, with
    :class:`DuplicatePersonError` when the identity number is already registered, and
    ``PermissionDenied`` when the residence is outside the divisions where ``user`` may add
    people. Nothing is written in either case. Near duplicates (same name and birth date, or
    the same phone) are not refused: a :class:`MergeProposal` is raised for a city user.
    ``external`` (see :func:`register_person_from_external`) accepts a town as the residence
    when the village is not known yet.
    """
    person = Person(**{k: v for k, v in data.items() if k in PERSON_FIELDS})
    if not person.registered_on:
        person.registered_on = local_today()
    _check_residence(person.residence_division, allow_town=external)
    person.full_clean(exclude=["identity_number_digest"])
    _fill_from_identity(person)
    person.needs_name_check = needs_manual_check(person.name)
    _raise_if_registered(person)
    try:
        with transaction.atomic():
            person.save()
    except IntegrityError as exc:  # a concurrent registration of the same number won
        raise DuplicatePersonError({"identity_number": _("该证件号码已登记")}, code="duplicate") from exc
    person.drugs.set(list(drugs))
    _assign_to_registering_worker(person, user)
    ensure_in_scope(person, user=user, action=ADD)
    for event_data in events:
        _create_event(user=user, person=person, data=event_data)
    record_event(action="persons.person_registered", target=person, actor=user,
                 changes={**_summary(data), "drugs": sorted(d.pk for d in person.drugs.all())})
    propose_duplicates(person)
    return recompute_person(person)


def register_person_from_external(*, user: Any, name: str, id_number: str, division: Any, source: str,
                                  found_on: dt.date | None = None, holds_driving_licence: bool = False
                                  ) -> Person | None:
    """Link or register a person found using drugs by another module (a positive
    drug-driving test, a suspect found using): the registered person with this identity
    number if there is one (never a duplicate), otherwise a new registration at ``division``
    (the town or village where they were found; the town office then verifies the village
    of residence) with a ``found_using`` event from the police dated ``found_on``.

    Returns ``None`` when ``user`` may not register people (the caller keeps its own record
    and links later). Raises ``ValidationError`` for an invalid identity number.
    """
    from jindu.core.scope import has_model_permission
    from jindu.persons.choices import EventSource
    from jindu.persons.selectors import find_person_by_identity

    existing = find_person_by_identity(id_number)
    if existing is not None:
        return existing
    if not has_model_permission(user, Person, ADD):
        return None
    found_on = found_on or local_today()
    return register_person(
        user=user, external=True,
        data={"name": name, "identity_number": id_number, "residence_division": division,
              "registered_on": found_on, "holds_driving_licence": holds_driving_licence},
        events=[{"kind": EventKind.FOUND_USING, "occurred_on": found_on, "source": EventSource.POLICE,
                 "notes": source}],
    )


def _assign_to_registering_worker(person: Person, user: Any) -> None:
    """A social worker (assigned-only grant) who registers someone in their area becomes the
    person's worker; otherwise they could not see the person they just registered."""
    if person.assigned_worker_id is not None or getattr(user, "pk", None) is None:
        return
    if Person.objects.restrict(user, ADD).filter(pk=person.pk).exists():
        return
    person.assigned_worker = user
    person.save(update_fields=["assigned_worker"])


def _raise_if_registered(person: Person) -> None:
    digest = type(person)._meta.get_field("identity_number_digest").compute(person)
    if digest and Person.objects.filter(identity_number_digest=digest).exclude(pk=person.pk).exists():
        raise DuplicatePersonError({"identity_number": _("该证件号码已登记，请勿重复登记")}, code="duplicate")


@transaction.atomic
def update_person(*, user: Any, person: Person, data: Mapping[str, Any], expected_version: int | None,
                  drugs: Iterable[Any] | None = None) -> tuple[Person, bool]:
    """Edit the person's own fields (:data:`PERSON_EDIT_FIELDS`; the residence village moves
    only through a transfer). Refuses a stale edit (``StaleEditError``) and anything that
    would leave ``user``'s scope. Returns ``(person, changed)``."""
    candidate = Person.objects.get(pk=person.pk)
    for key, value in data.items():
        if key in PERSON_EDIT_FIELDS:
            setattr(candidate, key, value)
    candidate.full_clean(exclude=["identity_number_digest"])
    _fill_from_identity(candidate)
    _raise_if_registered(candidate)
    values = {k: getattr(candidate, k) for k in PERSON_EDIT_FIELDS if k in data or k in ("birth_date", "sex")}
    values["needs_name_check"] = needs_manual_check(candidate.name)
    person, changed = update_versioned(person, user=user, data=values,
                                       fields=PERSON_EDIT_FIELDS + ("needs_name_check",),
                                       expected_version=expected_version)
    if drugs is not None:
        before = set(person.drugs.values_list("pk", flat=True))
        after = {d.pk for d in drugs}
        if before != after:
            person.drugs.set(list(drugs))
            changed = True
    if changed:
        record_event(action="persons.person_updated", target=person, actor=user,
                     changes=_summary({k: v for k, v in data.items() if k in PERSON_EDIT_FIELDS}))
        propose_duplicates(person)
    return person, changed


def _create_event(*, user: Any, person: Person, data: Mapping[str, Any]) -> Event:
    event = Event(person=person, recorded_by=user if getattr(user, "pk", None) else None,
                  **{k: v for k, v in data.items() if k in EVENT_FIELDS})
    _check_event(event)
    event.full_clean()
    event.save()
    return event


def _check_event(event: Event) -> None:
    """The rules of a timeline event beyond its fields' own (shared with the bulk import,
    :mod:`jindu.persons.services.bulk_registry`). Raises ``ValidationError``."""
    errors = {}
    if event.kind in TEST_KINDS and not event.result:
        errors["result"] = _("检测记录须填写检测结果")
    if event.kind not in TEST_KINDS and event.result:
        errors["result"] = _("只有尿检、毛发检测记录有检测结果")
    if event.kind == EventKind.EXTENSION and not event.term_months:
        errors["term_months"] = _("延长强制隔离戒毒须填写延长的月数")
    if event.kind == EventKind.EXTENSION and event.term_months and event.term_months > 12:
        errors["term_months"] = _("强制隔离戒毒期限最多延长一年（禁毒法第四十七条第三款）")
    if event.kind == EventKind.LEFT_COUNTY and event.days is None:
        errors["days"] = _("离开县（市、区）须填写天数")
    if event.occurred_on and event.occurred_on > local_today():
        errors["occurred_on"] = _("发生日期不能晚于今天")
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def add_event(*, user: Any, person: Person, data: Mapping[str, Any]) -> Event:
    """Record one timeline event (keys of :data:`EVENT_FIELDS`) and recompute the person.

    Backdated events (paper records entered late) are accepted: the status is recomputed
    from the whole timeline ordered by ``occurred_on``. Future dates are refused.
    Raises ``ValidationError`` / ``PermissionDenied``; nothing is written then.
    """
    locked = Person.objects.select_for_update().get(pk=person.pk)
    ensure_in_scope(locked, user=user, action=CHANGE)
    event = _create_event(user=user, person=locked, data=data)
    record_event(action="persons.event_recorded", target=event, actor=user,
                 changes={"person": locked.pk, **_summary({k: v for k, v in data.items() if k in EVENT_FIELDS})})
    recompute_person(locked)
    return event


@transaction.atomic
def correct_event(*, user: Any, event: Event, reason: str) -> Event:
    """Void a wrong record with a ``correction`` event naming it (records are never deleted).

    Raises ``ValidationError`` when the reason is empty, the event is itself a correction
    or has already been corrected."""
    if not (reason or "").strip():
        raise ValidationError({"notes": _("请填写更正理由")})
    if event.kind == EventKind.CORRECTION:
        raise ValidationError({"corrects": _("更正记录本身不能再被更正")})
    if Event.objects.filter(corrects=event).exists():
        raise ValidationError({"corrects": _("该记录已被更正")})
    person = Person.objects.select_for_update().get(pk=event.person_id)
    ensure_in_scope(person, user=user, action=CHANGE)
    correction = Event.objects.create(person=person, kind=EventKind.CORRECTION, occurred_on=local_today(),
                                      corrects=event, notes=reason.strip(),
                                      recorded_by=user if getattr(user, "pk", None) else None)
    record_event(action="persons.event_corrected", target=correction, actor=user,
                 changes={"person": person.pk, "corrects": event.pk, "kind": event.kind}, reason=reason.strip())
    recompute_person(person)
    return correction


@transaction.atomic
def assign_worker(*, user: Any, persons: Iterable[Person], worker: Any | None, reason: str = "") -> int:
    """Assign (or with ``worker=None`` unassign) a social worker to people in ``user``'s
    scope; returns how many changed. One audit event per person changed."""
    changed = 0
    for person in persons:
        locked = Person.objects.restrict(user, CHANGE).select_for_update().filter(pk=person.pk).first()
        if locked is None:
            raise PermissionDenied(_("该人员超出您的管辖范围"))
        if locked.assigned_worker_id == (worker.pk if worker else None):
            continue
        before = locked.assigned_worker_id
        locked.assigned_worker = worker
        locked.version += 1
        locked.save()
        record_event(action="persons.worker_assigned", target=locked, actor=user, reason=reason,
                     changes={"assigned_worker": [before, worker.pk if worker else None]})
        changed += 1
    return changed


# --- duplicates -------------------------------------------------------------------------

def near_duplicates(person: Person) -> list[tuple[Person, list[str]]]:
    """Other people who look like ``person``: same normalised name and birth date, or the
    same normalised phone (peer-cases 16/18). Different document types with the same number
    are *not* duplicates (a passport and a travel permit may share a number)."""
    found: dict[int, tuple[Person, list[str]]] = {}
    live = Person.objects.filter(merged_into__isnull=True).exclude(pk=person.pk)  # merged shells are not people
    if person.birth_date:
        for other in live.filter(name=person.name, birth_date=person.birth_date):
            found.setdefault(other.pk, (other, []))[1].append("same_name_and_birth_date")
    if person.phone:
        for other in live.filter(phone=person.phone):
            found.setdefault(other.pk, (other, []))[1].append("same_phone")
    return list(found.values())


def propose_duplicates(person: Person) -> list[MergeProposal]:
    """Raise a pending merge proposal for every near duplicate not already proposed (the
    older record is kept by default; the deciding user may swap)."""
    proposals = []
    for other, reasons in near_duplicates(person):
        keep, dup = (other, person) if other.pk < person.pk else (person, other)
        if MergeProposal.objects.filter(keep__in=[keep, dup], duplicate__in=[keep, dup]).exists():
            continue
        proposals.append(MergeProposal.objects.create(keep=keep, duplicate=dup, reasons=reasons,
                                                      status=ProposalStatus.PENDING))
    return proposals


# --- derived state ----------------------------------------------------------------------

def timeline_of(person: Person):
    """The person's events as ``timeline.TimelineEvent`` values, for the rules module."""
    from jindu.persons.timeline import TimelineEvent

    return [
        TimelineEvent(kind=e.kind, occurred_on=e.occurred_on, id=e.pk, result=e.result or None,
                      term_months=e.term_months, days=e.days, approved=e.approved, corrects_id=e.corrects_id)
        for e in person.events.all().order_by("occurred_on", "pk")
    ]


def recompute_person(person: Person, *, as_of: dt.date | None = None) -> Person:
    """Refresh the derived columns of ``person`` (status, measure end, abstinence date,
    tier, next due date) and its :class:`DueItem` rows from the timeline and case work.

    System action (no user, no audit event: the inputs were audited when written); call it
    inside the writing transaction. Returns the refreshed person.
    """
    from jindu.persons.derivation import apply_derivation

    return apply_derivation(person, as_of=as_of or local_today())


def is_positive(event: Event) -> bool:
    return event.kind in TEST_KINDS and event.result == TestResult.POSITIVE
