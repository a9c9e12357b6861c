"""Second-factor (TOTP, django-otp) settings for privileged roles.

Wiring, done once in ``jindu/settings.py``::

    from jindu.otp_settings import (  # noqa: E402,F401
        JINDU_ENFORCE_OTP, OTP_APPS, OTP_MIDDLEWARE, OTP_TOTP_ISSUER, OTP_TOTP_THROTTLE_FACTOR,
    )
    INSTALLED_APPS += OTP_APPS
    _auth = MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware")
    MIDDLEWARE[_auth + 1:_auth + 1] = OTP_MIDDLEWARE

Who needs a second factor: a user holding any role with ``Role.requires_otp`` (the
default ``ncc_admin``), and every superuser (see :func:`jindu.accounts.otp.otp_required`).
``JINDU_ENFORCE_OTP`` (environment, default on) switches the enforcement off, e.g. for a
throw-away demo; the pages stay available either way. It is read per request, so tests
switch it with ``override_settings``.
"""

from __future__ import annotations

from jindu.env import env_bool

JINDU_ENFORCE_OTP = env_bool("JINDU_ENFORCE_OTP", True)

OTP_APPS = ["django_otp", "django_otp.plugins.otp_totp"]

# OTPMiddleware sets request.user.otp_device / is_verified(); ours sends unverified
# privileged users to the second-factor step. Both belong right after AuthenticationMiddleware.
OTP_MIDDLEWARE = ["django_otp.middleware.OTPMiddleware", "jindu.accounts.otp.OTPRequiredMiddleware"]

# The name authenticator apps show next to the account.
OTP_TOTP_ISSUER = "禁毒综合治理平台"
# django-otp's own throttle: after n successive wrong codes the device refuses codes for
# factor × 2^(n-1) seconds; it survives a new password login (unlike the axes counter,
# which AXES_RESET_ON_SUCCESS clears), so guessing codes stays slow.
OTP_TOTP_THROTTLE_FACTOR = 1
