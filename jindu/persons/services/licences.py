"""Driving licences of registered people: recording that the vehicle administration office
cancelled a licence (公安部令第162号《机动车驾驶证申领和使用规定》 art. 79(6)).

Who must be cancelled is a list (``workflows.licences_to_cancel``, exported for the traffic
police); the cancellation itself is done by the traffic police and recorded here with its
date, so the person leaves the list. The timeline is not touched (a licence is not part of
the control status), so nothing is recomputed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from jindu.core.audit import record_event
from jindu.core.services import update_versioned
from jindu.core.timeutils import local_today
from jindu.persons.models import Person


@transaction.atomic
def record_licence_cancellation(*, user: Any, person: Person, cancelled_on: dt.date, expected_version: int | None,
                                document_number: str = "", notes: str = "") -> Person:
    """Record that ``person``'s driving licence was cancelled on ``cancelled_on`` (a local
    date, not in the future).

    Refuses a person without a licence on record, a licence already recorded as cancelled
    and a stale page (``StaleEditError``); ``PermissionDenied`` outside ``user``'s scope."""
    current = Person.objects.get(pk=person.pk)
    errors: dict[str, str] = {}
    if not current.holds_driving_licence:
        errors["person"] = _("该人员没有登记持有机动车驾驶证")
    elif current.licence_cancelled_on is not None:
        errors["cancelled_on"] = _("该人员的驾驶证已于%(date)s注销") % {"date": current.licence_cancelled_on.isoformat()}
    if cancelled_on is None:
        errors["cancelled_on"] = _("请填写注销日期")
    elif cancelled_on > local_today():
        errors["cancelled_on"] = _("注销日期不能晚于今天")
    if errors:
        raise ValidationError(errors)
    person, _changed = update_versioned(person, user=user, data={"licence_cancelled_on": cancelled_on},
                                        fields=("licence_cancelled_on",), expected_version=expected_version)
    record_event(action="persons.licence_cancelled", target=person, actor=user, reason=(notes or "").strip(),
                 changes={"licence_cancelled_on": cancelled_on.isoformat(),
                          "document_number": (document_number or "").strip(),
                          "driving_licence_classes": person.driving_licence_classes})
    return person
