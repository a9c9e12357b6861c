"""Every write to the registry and its case work (see each module). Import from here."""

from jindu.persons.services.registry import (  # noqa: F401
    PERSON_EDIT_FIELDS, PERSON_FIELDS, DuplicatePersonError, add_event, assign_worker, correct_event,
    near_duplicates, propose_duplicates, recompute_person, register_person, register_person_from_external, update_person,
)
from jindu.persons.services.casework import (  # noqa: F401,E402,I001
    assess_risk, record_assistance, record_contact, record_test, save_plan)
from jindu.persons.services.handover import mark_handover_failed, propose_isolation, record_handover_agreement, record_handover_report, record_measure_completed, record_pickup, record_release_notice  # noqa: F401,E402,E501,I001
from jindu.persons.services.transfers import accept_transfer, cancel_transfer, reject_transfer, request_transfer  # noqa: F401,E402,E501,I001
from jindu.persons.services.screening import close_screening_round, open_screening_round, record_newly_found, record_screening_result  # noqa: F401,E402,E501,I001
from jindu.persons.services.merge import accept_merge, reject_merge  # noqa: F401,E402,E501,I001
from jindu.persons.services.access import approve_temporary_access, reject_temporary_access, request_temporary_access, revoke_temporary_access  # noqa: F401,E402,E501,I001
from jindu.persons.services.licences import record_licence_cancellation  # noqa: F401,E402,E501,I001
