"""Every write to the registry and its case work (see each module). Import from here."""

from jindu.persons.services.registry import (  # noqa: F401
    PERSON_EDIT_FIELDS, PERSON_FIELDS, DuplicatePersonError, add_event, assign_worker, correct_event,
    near_duplicates, propose_duplicates, recompute_person, register_person, update_person,
)
