"""Framework-level models: base classes, audit trail, import batches, background jobs."""

from .audit import AccessLog, AuditEvent
from .base import NormalizedTextModel, StaleEditError, VersionedModel
from .imports import ImportBatch
from .jobs import Job

__all__ = ["AccessLog", "AuditEvent", "ImportBatch", "Job", "NormalizedTextModel", "StaleEditError", "VersionedModel"]
