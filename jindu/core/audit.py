"""Writing the audit trail: domain events and the personal-data access log.

The request context (acting user, IP address, request id) is held in a context variable
set by :class:`jindu.core.middleware.AuditContextMiddleware`, so signal handlers (admin,
API and page edits alike) can attribute changes without being handed the request.
"""

from __future__ import annotations

import contextvars
import re
import uuid
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from django.contrib.contenttypes.models import ContentType
from django.db import models

from jindu.core.models import AccessLog, AuditEvent


@dataclass(frozen=True)
class AuditContext:
    user: Any = None
    ip_address: str | None = None
    request_id: str = ""


_context: contextvars.ContextVar[AuditContext] = contextvars.ContextVar("jindu_audit", default=AuditContext())


def current_context() -> AuditContext:
    return _context.get()


def set_context(ctx: AuditContext) -> contextvars.Token:
    return _context.set(ctx)


def reset_context(token: contextvars.Token) -> None:
    _context.reset(token)


def new_request_id() -> str:
    return uuid.uuid4().hex


def _actor(actor: Any) -> Any:
    if actor is None:
        actor = current_context().user
    if hasattr(actor, "unwrap"):
        actor = actor.unwrap()
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    return actor


def record_event(
    *,
    action: str,
    target: models.Model | None = None,
    actor: Any = None,
    changes: Mapping[str, Any] | None = None,
    reason: str = "",
) -> AuditEvent:
    """Write one domain event (who, what, when, why) in the caller's transaction.

    ``action`` is a dotted verb (``"accounts.role_granted"``); ``changes`` must be
    JSON-serialisable and must not contain unmasked identity numbers. ``actor`` defaults
    to the user of the current request; system actions (management commands) have none.
    """
    actor = _actor(actor)
    ctx = current_context()
    return AuditEvent.objects.create(
        actor=actor,
        actor_repr=(actor.get_username() if actor is not None else "system"),
        action=action,
        target_type=ContentType.objects.get_for_model(target) if target is not None else None,
        target_id=str(target.pk) if target is not None else "",
        target_repr=str(target)[:255] if target is not None else "",
        changes=dict(changes or {}),
        reason=reason,
        ip_address=ctx.ip_address,
        request_id=ctx.request_id,
    )


# 15- or 18-character identity numbers, with or without separators; masked before logging.
_ID_LIKE = re.compile(r"(?<![0-9A-Za-z])(\d{6})\d{5,8}(\d{3}[0-9Xx]|\d{4})(?![0-9A-Za-z])")


def scrub(value: str) -> str:
    """Mask anything shaped like an identity number in free text (logs, query strings)."""
    return _ID_LIKE.sub(lambda m: m.group(1) + "*" * (len(m.group(0)) - 10) + m.group(2), value)


def log_access(
    *,
    kind: str,
    model: type[models.Model] | str,
    user: Any = None,
    object_ids: Iterable[Any] = (),
    result_count: int | None = None,
    path: str = "",
    query: Mapping[str, Any] | None = None,
) -> AccessLog:
    """Record one read of personal data.

    ``kind`` is an :class:`AccessLog.Kind` value; ``object_ids`` is capped at 1000 ids
    (``result_count`` keeps the true total). Identity-number-shaped values in ``path`` and
    ``query`` are masked with :func:`scrub`.
    """
    user = _actor(user)
    ids = [str(i) for i in object_ids]
    label = model if isinstance(model, str) else model._meta.label
    clean_query = {str(k): scrub(str(v)) for k, v in (query or {}).items()}
    return AccessLog.objects.create(
        user=user,
        user_repr=user.get_username() if user is not None else "",
        kind=kind,
        model=label,
        object_ids=ids[:1000],
        result_count=len(ids) if result_count is None else result_count,
        path=scrub(path)[:500],
        query=clean_query,
        ip_address=current_context().ip_address,
    )
