"""A test-only scoped model exercising the core machinery (scope, audit, import, identity numbers).

Installed only by ``jindu.settings_test``; never migrated in production.
"""

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords

from jindu.core.fields import BlindIndexField, IdentityNumberField
from jindu.core.idnumbers import DocumentType
from jindu.core.models import VersionedModel


class Specimen(VersionedModel):
    """A stand-in for a domain record: lives in a division, may be assigned to a user."""

    name = models.CharField(max_length=100)
    division = models.ForeignKey("geo.Division", on_delete=models.PROTECT, related_name="+")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    id_number = IdentityNumberField("身份证号", blank=True)
    id_number_digest = BlindIndexField(source="id_number")
    recorded_at = models.DateTimeField(null=True, blank=True)
    quantity_kg = models.DecimalField(max_digits=14, decimal_places=3, null=True, blank=True)

    history = HistoricalRecords()
    scope_division_path = "division"
    scope_assignee_path = "assignee"

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["id_number_digest"], name="testapp_specimen_id_number_uniq"),
        ]

    def __str__(self):
        return self.name


class IdentityDocument(models.Model):
    """A test-only holder of a typed identity document (passport, travel permit, …)."""

    name = models.CharField(max_length=100)
    document_type = models.CharField(max_length=32, choices=DocumentType.choices, default=DocumentType.RESIDENT_ID)
    document_number = IdentityNumberField("证件号码", document_type_field="document_type")
    document_number_digest = BlindIndexField(source="document_number")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["document_number_digest"], name="testapp_identitydocument_number_uniq"),
        ]

    def __str__(self):
        return self.name
