"""Reads of the registry, always given the user and always scoped (``restrict``).

Other apps use the registry only through this module and ``services``.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

from jindu.core.fields import identity_lookup
from jindu.core.idnumbers import DocumentType
from jindu.core.scope import VIEW
from jindu.persons.models import Person


def persons_for(user: Any, action: str = VIEW):
    """People ``user`` may ``action`` (their jurisdiction; assigned people for social
    workers; plus approved temporary access for reading)."""
    return Person.objects.restrict(user, action)


def find_person_by_identity(identity_number: Any, *, document_type: str = DocumentType.RESIDENT_ID) -> Person | None:
    """The registered person with this identity number (any accepted form: 15/18 digits,
    full-width, lower-case x), or ``None``; ``None`` too for a number that is not valid.

    A record merged into another answers with the person it was merged into.
    Unscoped on purpose: used to *link* records (a suspect, a positive drug-driving test)
    to the one registry row instead of creating a duplicate. Callers must not show the
    person's data to a user who cannot see the person (check with :func:`persons_for`).
    """
    try:
        lookup = identity_lookup("identity_number", identity_number, document_type=document_type)
    except ValidationError:
        return None
    person = Person.objects.filter(**lookup).first()
    seen = set()
    while person is not None and person.merged_into_id and person.pk not in seen:  # follow merges
        seen.add(person.pk)
        person = person.merged_into
    return person
