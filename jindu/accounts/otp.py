"""Second factor (TOTP through django-otp) for privileged accounts.

Rule (DESIGN.md, "Security": django-otp for privileged roles): a user who holds any role
with ``Role.requires_otp`` (default: ``ncc_admin``), and every superuser, must after the
password step either enrol a TOTP device (first time) or enter a code from it. Until then
:class:`OTPRequiredMiddleware` answers every request except the second-factor page,
logout, language switch and static files with

- pages: a redirect to ``accounts:otp`` (``?next=`` keeps where the user was going);
- ``/api/`` with a session: 403 ``{"detail": "…", "code": "otp_required"}``.

API tokens of such users are accepted only when the token was made in an OTP-verified
session (see :mod:`jindu.accounts.authentication`).

Wrong codes: django-otp's device throttle (``OTP_TOTP_THROTTLE_FACTOR``, persisted on the
device, not reset by a new password login) and django-axes, which counts each wrong code
as a failed login for the username + IP pair, so ``AXES_FAILURE_LIMIT`` wrong codes lock the
account on that machine just as wrong passwords do.

Switch: ``settings.JINDU_ENFORCE_OTP`` (read per request, default on; see
:mod:`jindu.otp_settings`).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.apps import apps
from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _

OTP_APP = "django_otp.plugins.otp_totp"


def otp_installed() -> bool:
    return apps.is_installed(OTP_APP)


def otp_enforced() -> bool:
    return bool(getattr(settings, "JINDU_ENFORCE_OTP", True)) and otp_installed()


def otp_required(user: Any) -> bool:
    """Whether ``user`` must pass the second factor: superuser, or holds a ``requires_otp`` role.

    One query per user object (cached on it as ``_otp_required``).
    """
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    cached = getattr(user, "_otp_required", None)
    if cached is None:
        from jindu.accounts.models import RoleAssignment

        cached = bool(user.is_superuser) or RoleAssignment.objects.filter(
            user_id=user.pk, role__requires_otp=True
        ).exists()
        user._otp_required = cached
    return cached


def is_verified(user: Any) -> bool:
    """Whether this request's session passed the second factor (django-otp's ``is_verified``)."""
    check = getattr(user, "is_verified", None)
    return bool(check()) if callable(check) else False


def needs_verification(user: Any) -> bool:
    """Whether ``user`` (a request's user) must still pass the second factor now."""
    return otp_enforced() and otp_required(user) and not is_verified(user)


def confirmed_device(user: Any):
    """The user's confirmed TOTP device, or ``None``."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


def pending_device(user: Any):
    """The unconfirmed device being enrolled (created on first call; its secret is stable
    across page reloads until it is confirmed or reset)."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=_("身份验证器"), confirmed=False)
    return device


def qr_data_uri(device) -> str:
    """The device's ``otpauth://`` URL as an SVG QR code data URI (CSP allows ``img-src data:``)."""
    import segno

    return segno.make(device.config_url, error="m").svg_data_uri(scale=5, border=2)


def secret_text(device) -> str:
    """The shared secret in base32 groups of four, for typing into an authenticator app."""
    from base64 import b32encode

    raw = b32encode(device.bin_key).decode("ascii").rstrip("=")
    return " ".join(raw[i:i + 4] for i in range(0, len(raw), 4))


def _exempt_prefixes() -> tuple[str, ...]:
    return (
        reverse("accounts:otp"),
        reverse("logout"),
        reverse("set_language"),
        settings.STATIC_URL or "/static/",
    )


class OTPRequiredMiddleware:
    """Sends signed-in users who still need the second factor to ``accounts:otp``.

    Must come after ``django_otp.middleware.OTPMiddleware`` (see :mod:`jindu.otp_settings`).
    Token-authenticated API requests are not seen here (DRF authenticates them later);
    :class:`jindu.accounts.authentication.TokenAuthentication` covers them.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and needs_verification(user):
            path = request.path_info
            if not path.startswith(_exempt_prefixes()):
                if path.startswith("/api/"):
                    return JsonResponse(
                        {"detail": _("您的账号需要二次验证：请先在网页上完成动态验证码验证。"),
                         "code": "otp_required", "errors": {}},
                        status=403, json_dumps_params={"ensure_ascii": False},
                    )
                target = reverse("accounts:otp")
                if request.method == "GET":
                    target += "?" + urlencode({"next": request.get_full_path()})
                return redirect(target)
        return self.get_response(request)
