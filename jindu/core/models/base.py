"""Abstract base for domain models: timestamps and an edit version for stale-save refusal."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from jindu.core.scope import ScopedManager


class StaleEditError(Exception):
    """A save carried a version older than the stored one (someone else saved first)."""

    def __init__(self, expected: int, actual: int):
        super().__init__(f"stale edit: expected version {expected}, stored {actual}")
        self.expected = expected
        self.actual = actual


class VersionedModel(models.Model):
    """Base of every domain model.

    ``version`` starts at 1 and is incremented by :func:`jindu.core.services.update_versioned`;
    an edit made from a form or API payload carrying an older version is refused with
    :class:`StaleEditError` instead of silently overwriting the newer save.
    """

    version = models.PositiveIntegerField(_("版本"), default=1, editable=False)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    objects = ScopedManager()

    class Meta:
        abstract = True
