"""Generic view mixins: permission (403), scope (404), access logging, versioned edits.

Every page that shows rows of a scoped model builds on these, so the house rules hold
without each view repeating them:

- :class:`ScopedPermissionMixin`: anonymous users are sent to the login page; a user whose
  roles carry no ``<app>.<action>_<model>`` permission at all gets 403.
- :class:`ScopedObjectMixin`: the object is fetched through ``.restrict(user, action)``,
  so a record outside the user's jurisdiction answers 404, exactly like a missing one
  (Zulip's ``access_stream_by_id``: fetch and authorise in one call).
- :class:`AccessLogMixin`: views of personal data set ``access_log_kind`` and every
  response that shows rows writes one :class:`~jindu.core.models.AccessLog` row.
- :class:`VersionedEditMixin`: forms carry the version they were loaded with; a save made
  after someone else's is refused with a clear form error (:class:`StaleEditError`), and a
  save that would move the record out of the editor's scope is refused the same way.
"""

from __future__ import annotations

from typing import Any, Iterable

from django import forms
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import HttpResponseRedirect
from django.utils.translation import gettext_lazy as _

from jindu.core.audit import log_access
from jindu.core.models import StaleEditError
from jindu.core.scope import VIEW, grant_roots, has_model_permission, permission_name, subtree_q


class ScopedPermissionMixin(LoginRequiredMixin):
    """Login required; 403 unless some role of the user carries ``action`` on ``model``.

    Set ``model`` and ``action`` (``"view"``, ``"add"``, ``"change"``, ``"delete"``).
    Whether a *particular* row is reachable is decided by :class:`ScopedObjectMixin`.
    """

    model: type[models.Model]
    action: str = VIEW

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if not has_model_permission(request.user, self.model, self.action):
            raise PermissionDenied(_("您的角色没有此操作的权限。"))
        return super().dispatch(request, *args, **kwargs)


class ScopedQuerysetMixin(ScopedPermissionMixin):
    """``get_queryset()`` is the model's rows restricted to the user's scope for ``action``."""

    def get_base_queryset(self):
        return self.model._default_manager.all()

    def get_queryset(self):
        return self.get_base_queryset().restrict(self.request.user, self.action)


class ScopedObjectMixin(ScopedQuerysetMixin):
    """Single-object views: out of scope raises 404 through ``get_object_or_404`` on the
    restricted queryset (Django's ``SingleObjectMixin.get_object`` does that for us)."""


class AccessLogMixin:
    """Writes an access-log row for views of personal data.

    ``access_log_kind`` (an :class:`AccessLog.Kind` value) switches logging on; models
    without personal data leave it ``None``. List views log the ids of the page shown and
    the filter parameters (identity numbers masked by :func:`log_access`).
    """

    access_log_kind: str | None = None

    def log_access(self, objects: Iterable[models.Model], *, result_count: int | None = None) -> None:
        if not self.access_log_kind:
            return
        ids = [o.pk for o in objects]
        log_access(
            kind=self.access_log_kind,
            model=self.model,
            user=self.request.user,
            object_ids=ids,
            result_count=result_count,
            path=self.request.path,
            query=self.request.GET.dict(),
        )


class VersionField(forms.IntegerField):
    """The hidden ``version`` a form was loaded with; compared under lock on save."""

    widget = forms.HiddenInput

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("required", True)
        super().__init__(**kwargs)


STALE_MESSAGE = _(
    "保存失败：该记录已被他人修改（您编辑的是第 %(expected)s 版，当前为第 %(actual)s 版）。"
    "您的修改未保存，请重新打开页面查看最新内容后再编辑。"
)
OUT_OF_SCOPE_MESSAGE = _("保存失败：修改后的记录将超出您的管辖范围，修改未保存。")


class VersionedEditMixin:
    """For ``FormView``/``UpdateView`` subclasses that save through a service.

    Subclasses implement ``save(form)`` (calling a service that raises
    :class:`StaleEditError` or ``PermissionDenied`` and rolls back) and return the saved
    object. Either error becomes a non-field form error and the form is shown again with
    the user's input; nothing is written. On success the view redirects to
    ``get_success_url()`` (``ModelFormMixin.form_valid`` is bypassed on purpose: it would
    call ``form.save()`` and skip the service).
    """

    success_message = _("已保存。")

    def save(self, form):  # pragma: no cover - abstract
        raise NotImplementedError

    def form_valid(self, form):
        try:
            self.object = self.save(form)
        except StaleEditError as exc:
            form.add_error(None, STALE_MESSAGE % {"expected": exc.expected, "actual": exc.actual})
            return self.form_invalid(form)
        except PermissionDenied:
            form.add_error(None, OUT_OF_SCOPE_MESSAGE)
            return self.form_invalid(form)
        if self.success_message:
            messages.success(self.request, self.success_message)
        return HttpResponseRedirect(self.get_success_url())


def divisions_where(user: Any, model: type[models.Model], action: str):
    """Divisions in whose subtree ``user`` may ``action`` rows of ``model`` (a queryset).

    Used for choice fields: a form may only offer places the user could save the record
    to. Superusers and country-wide grants get every division.
    """
    from jindu.geo.models import Division

    cond = subtree_q(grant_roots(user, permission_name(model, action)))
    return Division.objects.none() if cond is None else Division.objects.filter(cond)
