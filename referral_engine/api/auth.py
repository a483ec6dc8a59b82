"""API authentication: the token endpoint and the session check.

`POST /api/v1/auth/token/` exchanges a username and password — and, for a user with a confirmed TOTP
device, a six-digit `otp_token` — for a DRF token. The password goes through
`django.contrib.auth.authenticate` with the request, so django-axes counts failures and refuses a
locked-out username + address exactly as it does at the login page; a wrong code is reported to axes
as a failed login too, so guessing codes locks out like guessing passwords. The lockout answer is a
429 in the API's error shape (axes's own lockout page is HTML).

`ApiTokenAuthentication`: `Authorization: Token <key>` against the hashed, expiring tokens of
`referral_engine.accounts.tokens` (which replaced DRF's plain-text authtoken table, issue 16).

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
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, SessionAuthentication, get_authorization_header

from referral_engine.accounts import tokens
from referral_engine.accounts.models import ApiToken
from referral_engine.errors import DomainError, InvalidInput
from referral_engine.security import two_factor


class LockedOut(DomainError):
    """Too many failed logins for this username from this address."""

    status = 429
    code = "locked_out"


def _locked_out_if_axes_says_so(request: Any) -> None:
    if getattr(request, "axes_locked_out", False):
        raise LockedOut(_("ログインの失敗が続いたため、しばらくログインできません。"))


def token_obtain(*, request: Any, username: str, password: str, otp_token: str | None = None) -> tuple[ApiToken, str]:
    """A new token and its key (every request issues a new one). `request` is DRF's request: axes
    marks *it* as locked out, so AxesMiddleware does not swap our JSON answer for its HTML page."""
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
    return tokens.api_token_issue(user=user)


class ApiTokenAuthentication(BaseAuthentication):
    """`Authorization: Token <key>`; `request.auth` is the ApiToken row."""

    keyword = "Token"

    def authenticate(self, request: Any) -> tuple[Any, ApiToken] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(_("トークンの形式が正しくありません。"))
        try:
            key = parts[1].decode("ascii")
        except UnicodeError:
            raise exceptions.AuthenticationFailed(_("トークンの形式が正しくありません。")) from None
        token = tokens.api_token_authenticate(key)
        if token is None:
            raise exceptions.AuthenticationFailed(_("トークンが無効か、期限切れか、取り消されています。"))
        return token.user, token

    def authenticate_header(self, request: Any) -> str:
        return self.keyword


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "referral_engine.api.auth.ApiTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <key>` from POST /api/v1/auth/token/ (expires; see docs/api.md).",
        }


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
