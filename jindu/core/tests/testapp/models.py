"""A test-only scoped model exercising the core machinery (scope, audit, import, identity numbers).

Installed only by ``jindu.settings_test``; never migrated in production.
"""

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords

from jindu.core.models import VersionedModel


class Specimen(VersionedModel):
    """A stand-in for a domain record: lives in a division, may be assigned to a user."""

    name = models.CharField(max_length=100)
    division = models.ForeignKey("geo.Division", on_delete=models.PROTECT, related_name="+")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    id_number = models.CharField(max_length=255, blank=True)  # becomes IdentityNumberField
    recorded_at = models.DateTimeField(null=True, blank=True)
    quantity_kg = models.DecimalField(max_digits=14, decimal_places=3, null=True, blank=True)

    history = HistoricalRecords()
    scope_division_path = "division"
    scope_assignee_path = "assignee"

    def __str__(self):
        return self.name
