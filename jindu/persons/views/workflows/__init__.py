"""Workflow pages (流程), one module a workflow: ``handover`` (on release), ``orders``
(community measures: reporting, agreement, serious breach, completion), ``transfers``,
``screening`` (rolling screening), ``merge`` (proposals), ``licences`` (driving licences) and
``access`` (temporary access); ``base`` holds what they share and the hub. Lists come from
:mod:`jindu.persons.workflows`, actions go through the services.

Every page showing people writes an access-log row with the ids shown. Actions are POST
only, say what happened (or the Chinese reason nothing happened) and go back to the list.
"""

# Export jobs store their exporter's dotted path (``jindu.core.exports.exporter_path``); jobs
# started before this package was split name the old module, so the exporter stays here too.
from jindu.persons.views.workflows.licences import LicenceExporter  # noqa: F401
