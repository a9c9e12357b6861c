"""DRF token authentication that respects the second-factor rule (:mod:`jindu.accounts.otp`).

A user who must pass the second factor gets a token only from an OTP-verified session
(:func:`jindu.accounts.services.create_token` refuses otherwise), and the token's audit
event ``accounts.token_created`` records ``{"otp_verified": true}``. A token is accepted for
such a user only when the newest ``token_created`` event of that user carries that mark —
so a token made before the user received a privileged role, made in Django admin, or made
while enforcement was off stops working once the rule applies to them, without any
change to DRF's token table. Costs one indexed query, only for privileged users.
"""

from __future__ import annotations

from django.contrib.contenttypes.models import ContentType
from django.utils.translation import gettext as _
from rest_framework import authentication, exceptions

from jindu.accounts.otp import otp_enforced, otp_required


def token_was_verified(user, token) -> bool:
    """Whether ``token`` (the user's current one) was made in an OTP-verified session."""
    from jindu.core.models import AuditEvent

    event = (
        AuditEvent.objects.filter(
            action="accounts.token_created",
            target_type=ContentType.objects.get_for_model(user),
            target_id=str(user.pk),
            occurred_at__gte=token.created,
        )
        .order_by("-occurred_at", "-pk")
        .values_list("changes", flat=True)
        .first()
    )
    return bool(event and event.get("otp_verified"))


class TokenAuthentication(authentication.TokenAuthentication):
    """``Authorization: Token <key>``; refused with a Chinese message for privileged users
    whose token was not made in an OTP-verified session. The status is 403, not 401:
    session authentication is listed first, so DRF answers 403."""

    def authenticate_credentials(self, key):
        user, token = super().authenticate_credentials(key)
        if otp_enforced() and otp_required(user) and not token_was_verified(user, token):
            raise exceptions.AuthenticationFailed(
                _("该令牌不是在完成二次验证后生成的，已不可用。请登录网页并完成动态验证码验证后重新生成令牌。")
            )
        return user, token
