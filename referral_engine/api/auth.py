"""API tokens: `POST /api/v1/auth/token/` exchanges a username and password for a DRF token.

The password goes through `django.contrib.auth.authenticate` with the request, so django-axes counts
failures and refuses a locked-out username + address exactly as it does at the login page. The
lockout answer is a 429 in the API's error shape (axes's own lockout page is HTML).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate
from django.utils.translation import gettext as _
from rest_framework.authtoken.models import Token

from referral_engine.errors import DomainError, InvalidInput


class LockedOut(DomainError):
    """Too many failed logins for this username from this address."""

    status = 429
    code = "locked_out"


def token_obtain(*, request: Any, username: str, password: str) -> str:
    """The user's token (created on first use). `request` is DRF's request: axes marks *it* as
    locked out, so AxesMiddleware does not swap our JSON answer for its HTML page."""
    user = authenticate(request=request, username=username, password=password)
    if getattr(request, "axes_locked_out", False):
        raise LockedOut(_("ログインの失敗が続いたため、しばらくログインできません。"))
    if user is None or not user.is_active or getattr(user, "is_system", False):
        raise InvalidInput(
            _("ユーザー名またはパスワードが正しくありません。"),
            fields={"non_field_errors": [_("ユーザー名またはパスワードが正しくありません。")]},
        )
    token, _created = Token.objects.get_or_create(user=user)
    return token.key
