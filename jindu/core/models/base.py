"""Abstract base for domain models: timestamps and an edit version for stale-save refusal."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from jindu.core.scope import ScopedManager
from jindu.core.text import normalize_name, normalize_text


class StaleEditError(Exception):
    """A save carried a version older than the stored one (someone else saved first)."""

    def __init__(self, expected: int, actual: int):
        super().__init__(f"stale edit: expected version {expected}, stored {actual}")
        self.expected = expected
        self.actual = actual


def normalize_text_fields(instance: models.Model) -> None:
    """Bring every free-text field of ``instance`` to its stored form (:mod:`jindu.core.text`).

    Single-line ``CharField`` → ``normalize_text(multiline=False)``, ``TextField`` →
    ``normalize_text``, fields named in the model's ``person_name_fields`` →
    ``normalize_name``. Skipped: fields with choices, non-editable fields, passwords, and
    fields that normalise themselves (identity numbers, phones).
    """
    for attname, normalize in _text_plan(type(instance)):
        value = getattr(instance, attname)
        if not isinstance(value, str) or not value:
            continue
        clean = normalize(value)
        if clean != value:
            setattr(instance, attname, clean)


_text_plans: dict[type, list] = {}


def _text_plan(model: type[models.Model]) -> list:
    """Per model (computed once): ``(attname, normalise)`` of the fields
    :func:`normalize_text_fields` brings to their stored form."""
    plan = _text_plans.get(model)
    if plan is not None:
        return plan
    from jindu.core.fields import NormalizedOnSaveMixin

    names = set(getattr(model, "person_name_fields", ()))
    plan = []
    for field in model._meta.concrete_fields:
        if (
            not isinstance(field, (models.CharField, models.TextField))
            or field.choices or not field.editable or field.name == "password"
            or isinstance(field, NormalizedOnSaveMixin)
        ):
            continue
        if field.name in names:
            plan.append((field.attname, normalize_name))
        elif isinstance(field, models.TextField):
            plan.append((field.attname, normalize_text))
        else:
            plan.append((field.attname, _single_line))
    _text_plans[model] = plan
    return plan


def _single_line(value: str) -> str:
    return normalize_text(value, multiline=False)


class NormalizedTextModel(models.Model):
    """Normalises free text on every way in: ``clean_fields`` (forms and imports, before
    uniqueness is validated) and ``save`` (services, API, scripts)."""

    person_name_fields: tuple[str, ...] = ()

    class Meta:
        abstract = True

    def clean_fields(self, exclude=None):
        normalize_text_fields(self)
        super().clean_fields(exclude=exclude)

    def save(self, *args, **kwargs):
        normalize_text_fields(self)
        super().save(*args, **kwargs)


class VersionedModel(NormalizedTextModel):
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
