"""POST actions on one record, and the messages that say what a service call did.

Pages offer small actions as POST forms (confirm a worker, decide a transfer, close a
screening round). Each does the same four things, so they live here once:

- :class:`RecordActionView`: fetch the record through the user's scope (404 outside it,
  the same answer as "does not exist"), validate the posted form, call the service, go
  back to the record's page. POST only; permission first (403), as every scoped view.
- :func:`run_service`: call the service; on success a success message, on refusal the
  Chinese reason (validation, stale version, out of scope) and nothing written.
- :func:`error_text` / :func:`form_error_text`: one line of Chinese from a service's
  ``ValidationError`` or a form's errors, for those messages.
"""

from __future__ import annotations

from typing import Any, Callable

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views import View

from jindu.core.models import StaleEditError
from jindu.core.views.mixins import STALE_MESSAGE, ScopedQuerysetMixin


def error_text(exc: ValidationError) -> str:
    """The messages of ``exc`` (field errors and non-field errors alike) joined by ``；``."""
    if hasattr(exc, "error_dict"):
        return "；".join(m for ms in exc.message_dict.values() for m in ms)
    return "；".join(exc.messages)


def form_error_text(form: forms.Form) -> str:
    """A bound, invalid form's errors as ``标签：原因；…`` (non-field errors without a label)."""
    parts = []
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else ""
        parts += [f"{label}：{e}" if label else str(e) for e in errors]
    return "；".join(parts)


def run_service(
    request,
    call: Callable[[], Any],
    ok: str | Callable[[Any], str],
    *,
    denied: Callable[[PermissionDenied], str] | None = None,
) -> Any:
    """Call ``call()`` (one service action, which writes all or nothing) and say what happened.

    ``ok`` is the success message, or a function of the service's result giving it. A
    refusal becomes an error message and ``None`` is returned: ``ValidationError`` →
    "未保存：<reasons>", :class:`StaleEditError` → the stale-version message,
    ``PermissionDenied`` → "未保存：<its text, or 超出您的管辖范围。>" (or ``denied(exc)``
    when given, for pages that word it their own way). Returns the service's result
    otherwise (a service returning ``None`` is then indistinguishable: check the result
    only of services that return a record).
    """
    try:
        result = call()
    except ValidationError as exc:
        messages.error(request, _("未保存：%(reason)s") % {"reason": error_text(exc)})
    except StaleEditError as exc:
        messages.error(request, str(STALE_MESSAGE % {"expected": exc.expected, "actual": exc.actual}))
    except PermissionDenied as exc:
        if denied is not None:
            messages.error(request, denied(exc))
        else:
            messages.error(request, _("未保存：%(reason)s") % {"reason": str(exc) or _("超出您的管辖范围。")})
    else:
        messages.success(request, ok(result) if callable(ok) else ok)
        return result
    return None


class RecordActionView(ScopedQuerysetMixin, View):
    """A POST-only action on the record ``pk`` (set ``model`` and ``action`` as usual).

    1. 403 without the model permission (:class:`ScopedPermissionMixin`);
    2. ``get_object()``: the record from ``get_queryset()`` (the model's rows restricted
       for ``action``; override for another scope), 404 when out of reach;
    3. ``get_form(obj)`` bound to the POST (``form_class(request.POST)`` by default;
       ``None`` for an action without fields): invalid → an error message built from
       ``refused_message`` (a msgid with ``%(reason)s``), nothing written;
    4. ``act(obj, cleaned_data)`` (the bound form is ``self.form``), usually one
       :func:`run_service` call, whose return value is handed on;
    5. redirect to ``back_url(obj, result)`` (``result`` is ``None`` when refused).
    """

    http_method_names = ["post"]
    form_class: type[forms.Form] | None = None
    refused_message = gettext_noop("未保存：%(reason)s")

    def get_object(self) -> Any:
        return get_object_or_404(self.get_queryset(), pk=self.kwargs["pk"])

    def get_form(self, obj: Any) -> forms.Form | None:
        return self.form_class(self.request.POST) if self.form_class is not None else None

    def act(self, obj: Any, data: dict[str, Any]) -> Any:  # pragma: no cover - declared by subclasses
        raise NotImplementedError

    def back_url(self, obj: Any, result: Any = None) -> str:  # pragma: no cover - declared by subclasses
        raise NotImplementedError

    def post(self, request, *args, **kwargs):
        obj = self.get_object()
        form = self.form = self.get_form(obj)
        result = None
        if form is not None and not form.is_valid():
            messages.error(request, _(self.refused_message) % {"reason": form_error_text(form)})
        else:
            result = self.act(obj, form.cleaned_data if form is not None else {})
        return HttpResponseRedirect(self.back_url(obj, result))
