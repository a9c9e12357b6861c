"""Writes of rolling screening (滚动排查): a town verifies, person by person, everyone registered
as living there, and reports people newly found.

- :func:`open_screening_round` lists everyone currently registered in the town (every
  village under it; the dead, the emigrated and merged duplicates excluded) as one
  :class:`~jindu.persons.models.ScreeningResult` each, outcome empty. One open round per town.
- :func:`record_screening_result` records the outcome for one person, and what the outcome
  means for the timeline:

  ========================  ==============================================================
  outcome                   effect
  ========================  ==============================================================
  ``seen`` 见面核实          none (the person is where the registry says; the result is the
                            record of the check)
  ``moved`` 已迁出           a transfer request to the new village (``services.transfers``)
                            when the new village is known; otherwise the note says where
  ``lost_contact`` 失联      none on the timeline — losing contact is not an event the
                            rules read; the round's counts and list show it for follow-up
  ``died`` 死亡              a ``death`` event on the date of death (source: screening)
  ========================  ==============================================================

- :func:`record_newly_found` registers a person found in the town who was not on the list
  (``registry.register_person``, with a ``found_using`` event from the screening) and adds
  the result ``newly_found`` to the round.
- :func:`close_screening_round` closes the round and returns its counts (:func:`round_counts`).

Every function is keyword-only, one transaction, one audit event; the timeline events and
transfers it causes carry their own audit events. Errors: ``ValidationError`` (field →
Chinese message) or ``PermissionDenied`` / ``StaleEditError``; nothing is written then.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Iterable, Mapping

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count
from django.utils.translation import gettext as _
from simple_history.utils import bulk_create_with_history

from jindu.core.audit import record_event
from jindu.core.scope import ADD, CHANGE
from jindu.core.services import ensure_in_scope
from jindu.core.timeutils import local_today
from jindu.persons.choices import EventKind, EventSource, ScreeningOutcome, Status
from jindu.persons.models import Event, Person, ScreeningResult, ScreeningRound
from jindu.persons.services import registry

#: People not listed in a round: nothing left to verify.
NOT_SCREENED = (Status.DECEASED, Status.EMIGRATED)


def round_counts(screening_round: ScreeningRound) -> dict[str, int]:
    """``{"total", "checked", "unchecked", <each ScreeningOutcome value>}`` of a round."""
    counts = {o: 0 for o in ScreeningOutcome.values}
    rows = (ScreeningResult.objects.filter(round=screening_round).exclude(outcome="")
            .values("outcome").annotate(n=Count("pk")))
    for row in rows:
        counts[row["outcome"]] = row["n"]
    total = ScreeningResult.objects.filter(round=screening_round).count()
    checked = sum(counts.values())
    return {"total": total, "checked": checked, "unchecked": total - checked, **counts}


def people_to_screen(town) -> Any:
    """Everyone currently registered in ``town`` (unscoped queryset; the caller checks that
    the user may screen the town)."""
    return (Person.objects.filter(residence_division__path__startswith=town.path, merged_into__isnull=True)
            .exclude(status__in=NOT_SCREENED))


@transaction.atomic
def open_screening_round(*, user: Any, division: Any, title: str, opened_on: dt.date | None = None,
                         due_on: dt.date) -> ScreeningRound:
    """Open a round for ``division`` (a town) listing everyone registered there.

    Refuses a division that is not a town, a second open round of the same town, a due date
    before the opening date, and a town outside the divisions where ``user`` may add rounds
    (``PermissionDenied``)."""
    from jindu.geo.choices import Level
    from jindu.geo.models import Division

    errors: dict[str, str] = {}
    opened_on = opened_on or local_today()
    if division is None or division.level != Level.TOWN:
        errors["division"] = _("滚动排查须选择一个镇（街道）")
    if not (title or "").strip():
        errors["title"] = _("请填写排查名称")
    if opened_on > local_today():
        errors["opened_on"] = _("开始日期不能晚于今天")
    if due_on is None:
        errors["due_on"] = _("请填写完成期限")
    elif due_on < opened_on:
        errors["due_on"] = _("完成期限不能早于开始日期")
    if errors:
        raise ValidationError(errors)
    # One open round per town: serialise openings of the same town on its division row.
    Division.objects.select_for_update().filter(pk=division.pk).first()
    if ScreeningRound.objects.filter(division=division, closed_on__isnull=True).exists():
        raise ValidationError({"division": _("该镇街已有未完成的滚动排查，请先完成")})
    screening_round = ScreeningRound(division=division, title=title.strip(), opened_on=opened_on, due_on=due_on)
    screening_round.full_clean()
    screening_round.save()
    ensure_in_scope(screening_round, user=user, action=ADD)
    people = list(people_to_screen(division).values_list("pk", flat=True))
    bulk_create_with_history([ScreeningResult(round=screening_round, person_id=pk) for pk in people],
                             ScreeningResult, batch_size=1000, default_user=_user_or_none(user))
    record_event(action="persons.screening_opened", target=screening_round, actor=user,
                 changes={"division": division.pk, "opened_on": opened_on.isoformat(), "due_on": due_on.isoformat(),
                          "listed": len(people)})
    return screening_round


def _user_or_none(user: Any):
    return user if getattr(user, "pk", None) else None


def _open_round(screening_round: ScreeningRound) -> ScreeningRound:
    locked = ScreeningRound.objects.select_for_update().get(pk=screening_round.pk)
    if locked.closed_on is not None:
        raise ValidationError({"round": _("该滚动排查已完成，不能再录入结果")})
    return locked


@transaction.atomic
def record_screening_result(*, user: Any, result: ScreeningResult, outcome: str, checked_on: dt.date,
                            notes: str = "", died_on: dt.date | None = None, to_division: Any = None,
                            new_address: str = "", expected_version: int | None = None) -> ScreeningResult:
    """Record the outcome of checking one listed person (see the module docstring for what
    each outcome writes on the timeline).

    ``checked_on``: local date of the check (not in the future, not before the round opened).
    ``died`` takes ``died_on`` (default ``checked_on``); ``moved`` takes ``to_division`` (a
    village; a transfer is requested) or, when the new place is unknown or outside the city,
    a ``notes`` saying so. ``newly_found`` goes through :func:`record_newly_found`. A result
    already recorded is not overwritten (correct the timeline event instead).
    """
    screening_round = _open_round(result.round)
    locked = ScreeningResult.objects.select_for_update(of=("self",)).select_related("person").get(pk=result.pk)
    ensure_in_scope(locked, user=user, action=CHANGE)
    if expected_version is not None and locked.version != expected_version:
        from jindu.core.models import StaleEditError

        raise StaleEditError(expected_version, locked.version)
    notes = (notes or "").strip()
    errors: dict[str, str] = {}
    if locked.outcome:
        errors["outcome"] = _("该人员已核查（%(outcome)s），不能重复录入") % {"outcome": locked.get_outcome_display()}
    if outcome not in ScreeningOutcome.values or outcome == ScreeningOutcome.NEWLY_FOUND:
        errors["outcome"] = _("请选择核查结果（见面核实、已迁出、失联或死亡）")
    _check_date(checked_on, screening_round, errors)
    if outcome == ScreeningOutcome.DIED:
        died_on = died_on or checked_on
        if died_on and died_on > local_today():
            errors["died_on"] = _("死亡日期不能晚于今天")
    if outcome == ScreeningOutcome.MOVED and to_division is None and not notes:
        errors["notes"] = _("已迁出但新居住地不在本市或不详的，请在说明中写明去向")
    if errors:
        raise ValidationError(errors)
    person = locked.person
    event = None
    transfer = None
    if outcome == ScreeningOutcome.DIED:
        event = registry.add_event(user=user, person=person, data={
            "kind": EventKind.DEATH, "occurred_on": died_on, "source": EventSource.SCREENING,
            "notes": notes or _("滚动排查核实死亡")})
    elif outcome == ScreeningOutcome.MOVED and to_division is not None:
        from jindu.persons.services.transfers import request_transfer

        transfer = request_transfer(user=user, person=person, to_division=to_division, new_address=new_address,
                                    reason=notes or _("滚动排查发现已迁出（%(title)s）") % {"title": screening_round.title},
                                    requested_on=checked_on)
    locked.outcome = outcome
    locked.checked_on = checked_on
    locked.notes = notes
    locked.event = event
    locked.version += 1
    locked.full_clean()
    locked.save()
    record_event(action="persons.screening_result_recorded", target=locked, actor=user,
                 changes={"round": screening_round.pk, "person": person.pk if person else None, "outcome": outcome,
                          "checked_on": checked_on.isoformat(), "event": event.pk if event else None,
                          "transfer": transfer.pk if transfer else None})
    return locked


def _check_date(checked_on: dt.date | None, screening_round: ScreeningRound, errors: dict[str, str]) -> None:
    if checked_on is None:
        errors["checked_on"] = _("请填写核查日期")
    elif checked_on > local_today():
        errors["checked_on"] = _("核查日期不能晚于今天")
    elif checked_on < screening_round.opened_on:
        errors["checked_on"] = _("核查日期不能早于排查开始日期")


@transaction.atomic
def record_newly_found(*, user: Any, screening_round: ScreeningRound, data: Mapping[str, Any], checked_on: dt.date,
                       drugs: Iterable[Any] = (), notes: str = "",
                       events: Iterable[Mapping[str, Any]] | None = None) -> ScreeningResult:
    """Register a person found during the round who is not on the registry, and add the
    ``newly_found`` result. ``data`` are the registration fields (``registry.PERSON_FIELDS``;
    the residence village must lie in the round's town); ``events`` default to one
    ``found_using`` event on ``checked_on`` from the screening. Raises what
    ``register_person`` raises (``DuplicatePersonError`` for a registered number) plus
    ``ValidationError`` for a village outside the town or a bad date."""
    screening_round = _open_round(screening_round)
    ensure_in_scope(screening_round, user=user, action=CHANGE)
    errors: dict[str, str] = {}
    _check_date(checked_on, screening_round, errors)
    residence = data.get("residence_division")
    if residence is None or not residence.path.startswith(screening_round.division.path):
        errors["residence_division"] = _("新发现人员的居住地须在本次排查的镇街（%(town)s）内") % {
            "town": screening_round.division.name}
    if errors:
        raise ValidationError(errors)
    if events is None:
        events = [{"kind": EventKind.FOUND_USING, "occurred_on": checked_on, "source": EventSource.SCREENING,
                   "notes": notes}]
    person = registry.register_person(user=user, data=data, drugs=drugs, events=events)
    first = Event.objects.filter(person=person).order_by("occurred_on", "pk").first()
    result = ScreeningResult(round=screening_round, person=person, outcome=ScreeningOutcome.NEWLY_FOUND,
                             checked_on=checked_on, notes=(notes or "").strip(), event=first)
    result.full_clean()
    result.save()
    ensure_in_scope(result, user=user, action=ADD)
    record_event(action="persons.screening_result_recorded", target=result, actor=user,
                 changes={"round": screening_round.pk, "person": person.pk, "outcome": ScreeningOutcome.NEWLY_FOUND,
                          "checked_on": checked_on.isoformat(), "event": first.pk if first else None})
    return result


@transaction.atomic
def close_screening_round(*, user: Any, screening_round: ScreeningRound, closed_on: dt.date | None = None,
                          expected_version: int | None = None) -> dict[str, int]:
    """Close the round on ``closed_on`` (default today) and return its counts
    (:func:`round_counts`); people left unchecked are counted as ``unchecked``."""
    locked = _open_round(screening_round)
    ensure_in_scope(locked, user=user, action=CHANGE)
    if expected_version is not None and locked.version != expected_version:
        from jindu.core.models import StaleEditError

        raise StaleEditError(expected_version, locked.version)
    closed_on = closed_on or local_today()
    if closed_on > local_today():
        raise ValidationError({"closed_on": _("完成日期不能晚于今天")})
    if closed_on < locked.opened_on:
        raise ValidationError({"closed_on": _("完成日期不能早于开始日期")})
    counts = round_counts(locked)
    locked.closed_on = closed_on
    locked.version += 1
    locked.save()
    record_event(action="persons.screening_closed", target=locked, actor=user,
                 changes={"closed_on": closed_on.isoformat(), **counts})
    return counts
