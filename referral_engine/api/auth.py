"""API authentication: the token endpoint and the session check.

`POST /api/v1/auth/token/` exchanges a username and password — and, for a user with a confirmed TOTP
device, a six-digit `otp_token` — for a DRF token. The password goes through
`django.contrib.auth.authenticate` with the request, so django-axes counts failures and refuses a
locked-out username + address exactly as it does at the login page; a wrong code is reported to axes
as a failed login too, so guessing codes locks out like guessing passwords. The lockout answer is a
429 in the API's error shape (axes's own lockout page is HTML).

`VerifiedSessionAuthentication`: a browser session whose user owes a second factor (a confirmed
device not yet verified in this session, or a role that must set one up) does not authenticate the
API, as it opens no page on the web. TwoFactorMiddleware already answers such requests with a 403
`two_factor_required`; this keeps the rule where DRF decides who the user is, should the middleware
ever be bypassed or reordered.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate
from django.contrib.auth.signals import user_login_failed
from django.utils.translation import gettext as _
from drf_spectacular.authentication import SessionScheme
from rest_framework.authentication import SessionAuthentication
from rest_framework.authtoken.models import Token

from referral_engine.errors import DomainError, InvalidInput
from referral_engine.security import two_factor


class LockedOut(DomainError):
    """Too many failed logins for this username from this address."""

    status = 429
    code = "locked_out"


def _locked_out_if_axes_says_so(request: Any) -> None:
    if getattr(request, "axes_locked_out", False):
        raise LockedOut(_("ログインの失敗が続いたため、しばらくログインできません。"))


def token_obtain(*, request: Any, username: str, password: str, otp_token: str | None = None) -> str:
    """The user's token (created on first use). `request` is DRF's request: axes marks *it* as
    locked out, so AxesMiddleware does not swap our JSON answer for its HTML page."""
    user = authenticate(request=request, username=username, password=password)
    _locked_out_if_axes_says_so(request)
    if user is None or not user.is_active or getattr(user, "is_system", False):
        raise InvalidInput(
            _("ユーザー名またはパスワードが正しくありません。"),
            fields={"non_field_errors": [_("ユーザー名またはパスワードが正しくありません。")]},
        )
    if two_factor.confirmed_device(user) is not None:
        if not otp_token:
            message = _("2段階認証のコード（認証アプリの6桁の数字）を otp_token に入れてください。")
            raise InvalidInput(message, fields={"otp_token": [message]})
        if not two_factor.token_code_verify(user=user, code=otp_token):
            # Counted by axes like a wrong password (same username + address), and answered the same way.
            user_login_failed.send(sender=__name__, credentials={"username": username}, request=request)
            _locked_out_if_axes_says_so(request)
            message = _("2段階認証のコードが正しくありません。")
            raise InvalidInput(message, fields={"otp_token": [message]})
    token, _created = Token.objects.get_or_create(user=user)
    return token.key


class VerifiedSessionAuthentication(SessionAuthentication):
    """Session authentication that, like the web, needs the session's second factor first."""

    def authenticate(self, request: Any) -> tuple[Any, None] | None:
        result = super().authenticate(request)
        if result is not None and two_factor.session_pending_step(request._request) is not None:
            return None
        return result


class VerifiedSessionScheme(SessionScheme):
    """The schema describes it as the session cookie it is (drf-spectacular matches exact classes)."""

    target_class = "referral_engine.api.auth.VerifiedSessionAuthentication"
