"""Request middleware: the audit context (acting user, IP, request id) and the UI language."""

from __future__ import annotations

from django.conf import settings
from django.db import OperationalError
from django.http import JsonResponse
from django.shortcuts import render
from django.middleware.locale import LocaleMiddleware as DjangoLocaleMiddleware
from django.utils import translation

from jindu.core.audit import AuditContext, new_request_id, reset_context, set_context


class AuditContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.request_id = new_request_id()
        token = set_context(
            AuditContext(
                # Lazy: the user object is resolved on first use (token auth sets it later).
                user=_LazyUser(request),
                ip_address=request.META.get("REMOTE_ADDR"),
                request_id=request.request_id,
            )
        )
        try:
            return self.get_response(request)
        finally:
            reset_context(token)


class _LazyUser:
    """Resolves ``request.user`` when read, so DRF token authentication is seen too."""

    def __init__(self, request):
        self._request = request

    def _resolve(self):
        drf_user = getattr(self._request, "_jindu_api_user", None)
        return drf_user if drf_user is not None else getattr(self._request, "user", None)

    def __getattr__(self, name):
        return getattr(self._resolve(), name)

    @property
    def is_authenticated(self) -> bool:
        user = self._resolve()
        return bool(user is not None and user.is_authenticated)

    def unwrap(self):
        return self._resolve()


class LocaleMiddleware(DjangoLocaleMiddleware):
    """Simplified Chinese unless the user chose another language (the cookie set by
    ``set_language``). The browser's Accept-Language is deliberately not consulted: the UI
    language of a government system should not depend on how a workstation was installed."""

    def process_request(self, request):
        language = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        if language not in dict(settings.LANGUAGES) or not translation.check_for_language(language):
            language = settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()


class DatabaseBusyMiddleware:
    """Answer 503 "busy, try again" instead of 500 when the embedded SQLite database stays
    locked past its busy timeout (another connection holds the write lock, e.g. the commit
    of a very large import). The request's own transaction has rolled back: nothing changed.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not (isinstance(exception, OperationalError) and "database is locked" in str(exception)):
            return None
        message = translation.gettext("系统正在写入一批数据（例如大批量导入），请稍后再试。您的操作没有生效。")
        if request.path.startswith("/api/"):
            response = JsonResponse({"detail": message, "code": "busy", "errors": {}}, status=503)
        else:
            response = render(request, "503.html", status=503)
        response["Retry-After"] = "30"
        return response
