"""Pages of the registry: the person list and file (``persons``), the case-work forms
(``casework``), the worklists (``worklists``), and the workflow pages (``workflows``: handover,
transfer, screening, merge, temporary access, driving licences).

Shared helpers live here: turning a service's ``ValidationError`` into form errors, and the
safe ``?next=`` target a case-work form returns to (the worklist it was opened from).
"""

from __future__ import annotations

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils.http import url_has_allowed_host_and_scheme


def add_service_errors(form, exc: ValidationError, field_map: dict[str, str] | None = None) -> None:
    """Put a service's ``ValidationError`` on ``form``: messages of fields the form has go on
    those fields (``field_map`` renames service fields to form fields), the rest on the form."""
    field_map = field_map or {}
    if not hasattr(exc, "error_dict"):
        for message in exc.messages:
            form.add_error(None, message)
        return
    for key, messages in exc.message_dict.items():
        name = field_map.get(key, key)
        if name in form.fields:
            for message in messages:
                form.add_error(name, message)
            continue
        label = _label(form, key)
        for message in messages:
            form.add_error(None, f"{label}：{message}" if label else message)


def _label(form, key: str) -> str:
    if key in (NON_FIELD_ERRORS, "__all__", "answers"):
        return ""
    model = getattr(getattr(form, "_meta", None), "model", None)
    if model is not None:
        try:
            return str(model._meta.get_field(key).verbose_name)
        except Exception:  # noqa: BLE001 - not a model field: show the message alone
            return ""
    return ""


def safe_next(request) -> str:
    """The ``next`` parameter (GET or POST) when it is a path of this site, else ``""``."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return target
    return ""
