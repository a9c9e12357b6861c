"""Writes to campaigns, cases, suspects, gangs, seizures and drug-driving screenings.

Every function is keyword-only with the acting ``user``, runs in one transaction, validates
with ``full_clean``, re-reads the row through the user's scope after writing (rolls back
with ``PermissionDenied`` if it left it) and writes exactly one audit event
``enforcement.<thing>_<verb>``. Edits are versioned (:func:`jindu.core.services.update_versioned`):
a stale ``expected_version`` raises :class:`~jindu.core.models.StaleEditError`.

Pages, the API and imports all call these functions.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Iterable, Mapping

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.utils.translation import gettext as _

from jindu.core.audit import record_event
from jindu.core.scope import ADD, CHANGE, DELETE, VIEW
from jindu.core.services import ensure_in_scope, update_versioned
from jindu.enforcement.choices import CASE_TRANSITIONS, CaseStatus, ScreeningResult
from jindu.enforcement.models import Campaign, Case, DriverTest, Gang, ScreeningSession, Seizure, Suspect

CAMPAIGN_FIELDS = ("name", "kind", "level", "division", "start_date", "end_date", "description")
CASE_FIELDS = (
    "number", "name", "kind", "offence", "division", "handling_unit", "handling_level", "filed_on", "solved_on",
    "transferred_on", "closed_on", "status", "target_level", "summary",
)
SUSPECT_FIELDS = ("name", "id_number", "gender", "role", "caught_on", "measure", "note")
GANG_FIELDS = ("name", "division", "is_broken_up", "broken_up_on", "note")
SEIZURE_FIELDS = (
    "suspect", "substance", "item_name", "form", "gross_weight_g", "net_weight_g", "tablet_count", "plant_count",
    "purity_pct", "place", "seized_on",
)
SESSION_FIELDS = ("unit", "division", "held_on", "category", "place", "employer", "note")
DRIVER_TEST_FIELDS = ("name", "id_number", "licence_number", "result", "substance", "follow_up")

# Never written to audit events in clear (DESIGN.md "Personal data").
_SECRET_FIELDS = {"id_number"}


def _plain(value: Any) -> Any:
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if hasattr(value, "as_tuple"):  # Decimal
        return str(value)
    return value


def _summary(data: Mapping[str, Any], fields: Iterable[str]) -> dict[str, Any]:
    out = {}
    for f in fields:
        if f not in data:
            continue
        out[f] = "***" if f in _SECRET_FIELDS and data[f] else _plain(data[f])
    return out


def _attr(instance: models.Model, name: str) -> Any:
    field = instance._meta.get_field(name)
    return getattr(instance, field.attname)


def _diff(before: Mapping[str, Any], instance: models.Model, fields: Iterable[str]) -> dict[str, list]:
    changes = {}
    for f in fields:
        after = _plain(_attr(instance, f))
        if after != before[f]:
            changes[f] = ["***", "***"] if f in _SECRET_FIELDS else [before[f], after]
    return changes


def _create(model, *, user, data: Mapping[str, Any], fields: Iterable[str], extra: Mapping[str, Any] | None = None):
    obj = model(**{k: v for k, v in data.items() if k in fields}, **(extra or {}))
    obj.full_clean()
    obj.save()
    return obj


def _update(obj, *, user, data: Mapping[str, Any], fields: tuple[str, ...], expected_version: int | None,
            validate=None):
    """Versioned update with ``full_clean`` on the merged row; returns ``(obj, changes)``."""
    model = type(obj)
    stored = model.objects.select_for_update().get(pk=obj.pk)
    before = {f: _plain(_attr(stored, f)) for f in fields}
    # Validate the merged row before writing (update_versioned only assigns and saves).
    probe = model.objects.get(pk=obj.pk)
    for k, v in data.items():
        if k in fields:
            setattr(probe, k, v)
    probe.full_clean(validate_unique=True)
    if validate:
        validate(probe)
    updated, _changed = update_versioned(stored, user=user, data=data, fields=fields,
                                         expected_version=expected_version)
    return updated, _diff(before, updated, fields)


def _refuse_unless(queryset, obj, message: str) -> None:
    if not queryset.filter(pk=obj.pk).exists():
        raise PermissionDenied(message)


# -- campaigns --------------------------------------------------------------------------------


def create_campaign(*, user: Any, data: Mapping[str, Any]) -> Campaign:
    """Declare a campaign (keys of :data:`CAMPAIGN_FIELDS`) in a division where ``user``
    may add campaigns. Raises ``ValidationError`` (period reversed, duplicate) or
    ``PermissionDenied``; nothing is written then."""
    with transaction.atomic():
        campaign = _create(Campaign, user=user, data=data, fields=CAMPAIGN_FIELDS)
        ensure_in_scope(campaign, user=user, action=ADD)
        record_event(action="enforcement.campaign_created", target=campaign, actor=user,
                     changes=_summary(data, CAMPAIGN_FIELDS))
    return campaign


def update_campaign(*, user: Any, campaign: Campaign, data: Mapping[str, Any],
                    expected_version: int) -> tuple[Campaign, bool]:
    """Edit a campaign; returns ``(campaign, changed)``. Stale → ``StaleEditError``."""
    with transaction.atomic():
        _refuse_unless(Campaign.objects.restrict(user, CHANGE), campaign, _("该专项行动不在您的管辖范围内。"))
        campaign, changes = _update(campaign, user=user, data=data, fields=CAMPAIGN_FIELDS,
                                    expected_version=expected_version)
        if changes:
            record_event(action="enforcement.campaign_updated", target=campaign, actor=user, changes=changes)
    return campaign, bool(changes)


def campaigns_covering(day: dt.date, division) -> models.QuerySet:
    """Campaigns whose period contains local date ``day`` and whose division is ``division``
    or one of its ancestors (a city campaign covers every district's cases)."""
    paths = []
    parts = [p for p in division.path.split("/") if p]
    for i in range(1, len(parts) + 1):
        paths.append("/".join(parts[:i]) + "/")
    return Campaign.objects.filter(division__path__in=paths, start_date__lte=day, end_date__gte=day)


# -- cases ------------------------------------------------------------------------------------


def _check_campaigns(user, campaigns: Iterable[Campaign]) -> list[Campaign]:
    campaigns = list(campaigns)
    visible = set(Campaign.objects.restrict(user, VIEW).filter(pk__in=[c.pk for c in campaigns])
                  .values_list("pk", flat=True))
    missing = [c for c in campaigns if c.pk not in visible]
    if missing:
        raise ValidationError({"campaigns": _("专项行动不存在或不在您的管辖范围内。")})
    return campaigns


def _check_linked(user, case: Case | None, linked: Iterable[Case]) -> list[Case]:
    linked = list(linked)
    if case is not None and any(c.pk == case.pk for c in linked):
        raise ValidationError({"linked_cases": _("案件不能与自身关联。")})
    visible = set(Case.objects.restrict(user, VIEW).filter(pk__in=[c.pk for c in linked]).values_list("pk", flat=True))
    if any(c.pk not in visible for c in linked):
        raise ValidationError({"linked_cases": _("关联案件不存在或不在您的管辖范围内。")})
    return linked


def create_case(*, user: Any, data: Mapping[str, Any], campaigns: Iterable[Campaign] = (),
                linked_cases: Iterable[Case] = (), auto_tag: bool = False) -> Case:
    """Register a drug case (keys of :data:`CASE_FIELDS`), tagged with ``campaigns`` and
    linked to ``linked_cases`` (both must be visible to ``user``).

    ``auto_tag`` also tags every campaign covering the case's filing date in its division
    or above (:func:`campaigns_covering`). Raises ``ValidationError`` naming the field, or
    ``PermissionDenied`` when the case would lie outside where ``user`` may add cases.
    """
    with transaction.atomic():
        case = _create(Case, user=user, data=data, fields=CASE_FIELDS)
        tags = _check_campaigns(user, campaigns)
        if auto_tag:
            tags += [c for c in campaigns_covering(case.filed_on, case.division) if c not in tags]
        case.campaigns.set(tags)
        case.linked_cases.set(_check_linked(user, case, linked_cases))
        ensure_in_scope(case, user=user, action=ADD)
        record_event(action="enforcement.case_created", target=case, actor=user, changes={
            **_summary(data, CASE_FIELDS), "campaigns": sorted(c.pk for c in tags),
            "linked_cases": sorted(c.pk for c in case.linked_cases.all()),
        })
    return case


def update_case(*, user: Any, case: Case, data: Mapping[str, Any], expected_version: int,
                campaigns: Iterable[Campaign] | None = None,
                linked_cases: Iterable[Case] | None = None) -> tuple[Case, bool]:
    """Edit a case (keys of :data:`CASE_FIELDS`) and, if given, its campaign tags and linked
    cases. A status change must follow :data:`~jindu.enforcement.choices.CASE_TRANSITIONS`
    (or stay). Returns ``(case, changed)``; stale → ``StaleEditError``; out of scope →
    ``PermissionDenied``; invalid → ``ValidationError``. Nothing is written on error."""
    with transaction.atomic():
        _refuse_unless(Case.objects.restrict(user, CHANGE), case, _("该案件不在您的管辖范围内。"))
        old_status = Case.objects.filter(pk=case.pk).values_list("status", flat=True).get()
        new_status = data.get("status", old_status)
        if new_status != old_status and new_status not in CASE_TRANSITIONS[old_status]:
            raise ValidationError({"status": _("案件状态不能从“%(old)s”改为“%(new)s”。") % {
                "old": CaseStatus(old_status).label, "new": CaseStatus(new_status).label}})
        case, changes = _update(case, user=user, data=data, fields=CASE_FIELDS, expected_version=expected_version)
        related_changed = False
        if campaigns is not None:
            old = set(case.campaigns.values_list("pk", flat=True))
            new = {c.pk for c in _check_campaigns(user, campaigns)}
            # Tags outside the editor's view are kept: an editor cannot remove what they cannot see.
            hidden = old - set(Campaign.objects.restrict(user, VIEW).filter(pk__in=old).values_list("pk", flat=True))
            if old != new | hidden:
                case.campaigns.set(new | hidden)
                changes["campaigns"] = [sorted(old), sorted(new | hidden)]
                related_changed = True
        if linked_cases is not None:
            old = set(case.linked_cases.values_list("pk", flat=True))
            new = {c.pk for c in _check_linked(user, case, linked_cases)}
            hidden = old - set(Case.objects.restrict(user, VIEW).filter(pk__in=old).values_list("pk", flat=True))
            if old != new | hidden:
                case.linked_cases.set(new | hidden)
                changes["linked_cases"] = [sorted(old), sorted(new | hidden)]
                related_changed = True
        if related_changed and not set(changes) - {"campaigns", "linked_cases"}:
            case.version += 1
            case.save(update_fields=["version", "updated_at"])
        if changes:
            ensure_in_scope(case, user=user, action=CHANGE)
            record_event(action="enforcement.case_updated", target=case, actor=user, changes=changes)
    return case, bool(changes)


def tag_cases(*, user: Any, campaign: Campaign, cases: Iterable[Case]) -> int:
    """Tag ``cases`` with ``campaign`` (one campaign tag marks cases, inspections and
    publicity of the same campaign). Returns how many cases were newly tagged; cases the
    user may not change are refused with ``PermissionDenied`` (nothing tagged)."""
    cases = list(cases)
    with transaction.atomic():
        _check_campaigns(user, [campaign])
        allowed = set(Case.objects.restrict(user, CHANGE).filter(pk__in=[c.pk for c in cases])
                      .values_list("pk", flat=True))
        if any(c.pk not in allowed for c in cases):
            raise PermissionDenied(_("部分案件不在您的管辖范围内，未标记。"))
        already = set(campaign.cases.filter(pk__in=allowed).values_list("pk", flat=True))
        fresh = [c for c in cases if c.pk not in already]
        campaign.cases.add(*fresh)
        record_event(action="enforcement.campaign_tagged", target=campaign, actor=user,
                     changes={"cases": sorted(c.pk for c in fresh)})
    return len(fresh)


def delete_case(*, user: Any, case: Case, reason: str = "") -> None:
    """Delete a case (with its suspects and seizures). Needs ``enforcement.delete_case`` in
    scope and a reason; writes one ``enforcement.case_deleted`` event."""
    if not reason.strip():
        raise ValidationError({"reason": _("删除案件须说明原因。")})
    with transaction.atomic():
        _refuse_unless(Case.objects.restrict(user, DELETE), case, _("该案件不在您的管辖范围内。"))
        record_event(action="enforcement.case_deleted", target=case, actor=user, reason=reason,
                     changes={"number": case.number, "division": case.division_id})
        case._history_user = user
        case.delete()


# -- suspects ---------------------------------------------------------------------------------


def _find_person(id_number: str):
    """The registry person with this identity number, or ``None`` (persons selectors)."""
    if not id_number:
        return None
    try:
        from jindu.persons.selectors import find_person_by_identity
    except ImportError:  # persons app not built yet: link later
        return None
    return find_person_by_identity(id_number)


def _link_person(suspect: Suspect) -> None:
    if not hasattr(suspect, "person_id"):
        return
    person = _find_person(suspect.id_number)
    if person is not None and suspect.person_id != person.pk:
        suspect.person = person
        suspect.save(update_fields=["person", "updated_at"])


def create_suspect(*, user: Any, case: Case, data: Mapping[str, Any]) -> Suspect:
    """Add a suspect to ``case`` (keys of :data:`SUSPECT_FIELDS`). A suspect whose identity
    number is already in the persons registry is linked to that person (never registered
    twice). The case must be visible to ``user`` and the suspect inside the user's
    ``add_suspect`` scope. Raises ``ValidationError`` (bad identity number, the same number
    twice in one case) or ``PermissionDenied``."""
    with transaction.atomic():
        _refuse_unless(Case.objects.restrict(user, VIEW), case, _("该案件不在您的管辖范围内。"))
        suspect = _create(Suspect, user=user, data=data, fields=SUSPECT_FIELDS, extra={"case": case})
        _link_person(suspect)
        ensure_in_scope(suspect, user=user, action=ADD)
        record_event(action="enforcement.suspect_created", target=suspect, actor=user,
                     changes={**_summary(data, SUSPECT_FIELDS), "case": case.pk,
                              "person": getattr(suspect, "person_id", None)})
    return suspect


def update_suspect(*, user: Any, suspect: Suspect, data: Mapping[str, Any],
                   expected_version: int) -> tuple[Suspect, bool]:
    """Edit a suspect; a new identity number is looked up in the registry again."""
    with transaction.atomic():
        _refuse_unless(Suspect.objects.restrict(user, CHANGE), suspect, _("该犯罪嫌疑人不在您的管辖范围内。"))
        suspect, changes = _update(suspect, user=user, data=data, fields=SUSPECT_FIELDS,
                                   expected_version=expected_version)
        if "id_number" in changes:
            _link_person(suspect)
        if changes:
            record_event(action="enforcement.suspect_updated", target=suspect, actor=user, changes=changes)
    return suspect, bool(changes)


# -- gangs ------------------------------------------------------------------------------------


def _check_members(user, members: Iterable[Suspect]) -> list[Suspect]:
    members = list(members)
    visible = set(Suspect.objects.restrict(user, VIEW).filter(pk__in=[m.pk for m in members])
                  .values_list("pk", flat=True))
    if any(m.pk not in visible for m in members):
        raise ValidationError({"members": _("成员不存在或不在您的管辖范围内。")})
    return members


def create_gang(*, user: Any, data: Mapping[str, Any], members: Iterable[Suspect] = (),
                cases: Iterable[Case] = ()) -> Gang:
    """Record a gang (keys of :data:`GANG_FIELDS`) with its member suspects and cases."""
    with transaction.atomic():
        gang = _create(Gang, user=user, data=data, fields=GANG_FIELDS)
        gang.members.set(_check_members(user, members))
        gang.cases.set(_check_linked(user, None, cases))
        ensure_in_scope(gang, user=user, action=ADD)
        record_event(action="enforcement.gang_created", target=gang, actor=user, changes={
            **_summary(data, GANG_FIELDS), "members": sorted(m.pk for m in gang.members.all()),
            "cases": sorted(c.pk for c in gang.cases.all()),
        })
    return gang


def update_gang(*, user: Any, gang: Gang, data: Mapping[str, Any], expected_version: int,
                members: Iterable[Suspect] | None = None) -> tuple[Gang, bool]:
    """Edit a gang (e.g. mark it broken up on a date) and, if given, its members."""
    with transaction.atomic():
        _refuse_unless(Gang.objects.restrict(user, CHANGE), gang, _("该团伙不在您的管辖范围内。"))
        gang, changes = _update(gang, user=user, data=data, fields=GANG_FIELDS, expected_version=expected_version)
        if members is not None:
            old = set(gang.members.values_list("pk", flat=True))
            new = {m.pk for m in _check_members(user, members)}
            if old != new:
                gang.members.set(new)
                changes["members"] = [sorted(old), sorted(new)]
                if len(changes) == 1:
                    gang.version += 1
                    gang.save(update_fields=["version", "updated_at"])
        if changes:
            ensure_in_scope(gang, user=user, action=CHANGE)
            record_event(action="enforcement.gang_updated", target=gang, actor=user, changes=changes)
    return gang, bool(changes)


# -- seizures ---------------------------------------------------------------------------------


def create_seizure(*, user: Any, case: Case, data: Mapping[str, Any]) -> Seizure:
    """Record drugs seized in ``case`` (keys of :data:`SEIZURE_FIELDS`; weights Decimal
    grams). Raises ``ValidationError`` (net above gross, no weight or count, suspect of
    another case) or ``PermissionDenied``."""
    with transaction.atomic():
        _refuse_unless(Case.objects.restrict(user, VIEW), case, _("该案件不在您的管辖范围内。"))
        seizure = _create(Seizure, user=user, data=data, fields=SEIZURE_FIELDS, extra={"case": case})
        ensure_in_scope(seizure, user=user, action=ADD)
        record_event(action="enforcement.seizure_created", target=seizure, actor=user,
                     changes={**_summary(data, SEIZURE_FIELDS), "case": case.pk})
    return seizure


def update_seizure(*, user: Any, seizure: Seizure, data: Mapping[str, Any],
                   expected_version: int) -> tuple[Seizure, bool]:
    """Edit a seizure; returns ``(seizure, changed)``."""
    with transaction.atomic():
        _refuse_unless(Seizure.objects.restrict(user, CHANGE), seizure, _("该缴获记录不在您的管辖范围内。"))
        seizure, changes = _update(seizure, user=user, data=data, fields=SEIZURE_FIELDS,
                                   expected_version=expected_version)
        if changes:
            record_event(action="enforcement.seizure_updated", target=seizure, actor=user, changes=changes)
    return seizure, bool(changes)


def delete_seizure(*, user: Any, seizure: Seizure, reason: str = "") -> None:
    """Delete a seizure recorded in error (reason required)."""
    if not reason.strip():
        raise ValidationError({"reason": _("删除缴获记录须说明原因。")})
    with transaction.atomic():
        _refuse_unless(Seizure.objects.restrict(user, DELETE), seizure, _("该缴获记录不在您的管辖范围内。"))
        record_event(action="enforcement.seizure_deleted", target=seizure, actor=user, reason=reason,
                     changes={"case": seizure.case_id, "net_weight_g": _plain(seizure.net_weight_g)})
        seizure._history_user = user
        seizure.delete()


# -- drug-driving screening -------------------------------------------------------------------


def create_screening_session(*, user: Any, data: Mapping[str, Any],
                             campaigns: Iterable[Campaign] = ()) -> ScreeningSession:
    """Record a drug-driving screening session (keys of :data:`SESSION_FIELDS`)."""
    with transaction.atomic():
        session = _create(ScreeningSession, user=user, data=data, fields=SESSION_FIELDS)
        session.campaigns.set(_check_campaigns(user, campaigns))
        ensure_in_scope(session, user=user, action=ADD)
        record_event(action="enforcement.screening_created", target=session, actor=user,
                     changes=_summary(data, SESSION_FIELDS))
    return session


def update_screening_session(*, user: Any, session: ScreeningSession, data: Mapping[str, Any],
                             expected_version: int) -> tuple[ScreeningSession, bool]:
    with transaction.atomic():
        _refuse_unless(ScreeningSession.objects.restrict(user, CHANGE), session, _("该检测场次不在您的管辖范围内。"))
        session, changes = _update(session, user=user, data=data, fields=SESSION_FIELDS,
                                   expected_version=expected_version)
        if changes:
            record_event(action="enforcement.screening_updated", target=session, actor=user, changes=changes)
    return session, bool(changes)


def _register_positive(user, test: DriverTest) -> None:
    """Link a positive driver to the persons registry: the existing person with the same
    identity number, or a newly registered one through ``persons.services`` when it
    offers ``register_person_from_external``; otherwise the encrypted identity number
    stays on the test row for later linking."""
    if not hasattr(test, "person_id") or test.result != ScreeningResult.POSITIVE or not test.id_number:
        return
    person = _find_person(test.id_number)
    if person is None:
        try:
            from jindu.persons.services import register_person_from_external
        except ImportError:
            return
        person = register_person_from_external(
            user=user, name=test.name, id_number=test.id_number, division=test.session.division,
            source=_("毒驾检测阳性（%(date)s）") % {"date": test.session.held_on.isoformat()},
        )
    if person is not None:
        test.person = person
        test.save(update_fields=["person", "updated_at"])


def record_driver_test(*, user: Any, session: ScreeningSession, data: Mapping[str, Any]) -> DriverTest:
    """Record one driver's result in ``session`` (keys of :data:`DRIVER_TEST_FIELDS`). A
    positive result needs the identity number and is linked to the registry (an existing
    person, never a duplicate). Raises ``ValidationError`` or ``PermissionDenied``."""
    with transaction.atomic():
        _refuse_unless(ScreeningSession.objects.restrict(user, CHANGE), session, _("该检测场次不在您的管辖范围内。"))
        test = _create(DriverTest, user=user, data=data, fields=DRIVER_TEST_FIELDS, extra={"session": session})
        _register_positive(user, test)
        ensure_in_scope(test, user=user, action=ADD)
        record_event(action="enforcement.driver_test_recorded", target=test, actor=user,
                     changes={**_summary(data, DRIVER_TEST_FIELDS), "session": session.pk})
    return test
