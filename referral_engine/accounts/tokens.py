"""API tokens: issue, authenticate, refresh, revoke (docs/api.md "Tokens").

A token is stored as the SHA-256 of its key (the key is shown once) with an expiry
(`API_TOKEN_DAYS`, default 30) and a fingerprint of the user's password hash. It ends:

- when the password changes, whatever changes it: the fingerprint check refuses it at the next
  request, and the User model's save (the admin, the password page, `changepassword`, a shell) marks
  the user's live tokens revoked (`password_changed`). A re-hash of the same password at login
  (new hasher settings) carries them over instead;
- when it is refreshed (`refreshed`: the new token replaces it), its session logs out (`logout`: the
  API's logout, or the web logout for a token issued on the token page), the user revokes it on the
  token page (`user`), or an admin does (`admin`);
- when it expires (`expires_at`).

Each request for a token issues a new one: the old ones stay valid until they end as above.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.db.models.signals import post_save, pre_save
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

from referral_engine.accounts.models import ApiToken, User
from referral_engine.bound_queries import bound_rows
from referral_engine.errors import Conflict

# last_used_at is written at most this often per token, so reading does not mean a write per request.
LAST_USED_RESOLUTION = timedelta(minutes=5)


def token_days() -> int:
    return int(getattr(settings, "API_TOKEN_DAYS", 30))


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def password_fingerprint(user: User) -> str:
    return salted_hmac("referral_engine.accounts.tokens.password", user.password or "", algorithm="sha256").hexdigest()


def session_digest(session_key: str) -> str:
    return hashlib.sha256(f"session:{session_key}".encode()).hexdigest()


def api_token_issue(*, user: User, session_key: str | None = None) -> tuple[ApiToken, str]:
    """A new token for an authenticated user (the caller has checked the credentials). Returns the
    row and the key, which is stored nowhere."""
    key = secrets.token_urlsafe(30)  # 40 characters
    token = ApiToken.objects.create(
        user=user,
        key_digest=key_digest(key),
        prefix=key[:8],
        password_fingerprint=password_fingerprint(user),
        session_digest=session_digest(session_key) if session_key else "",
        expires_at=timezone.now() + timedelta(days=token_days()),
    )
    return token, key


def _token_by_digest(digest: str) -> Any:
    return ApiToken.objects.select_related("user").filter(key_digest=digest)[:1]


def api_token_authenticate(key: str) -> ApiToken | None:
    """The live token for a key, with its user, or None (unknown, revoked, expired, inactive user, or
    a password changed since the token was issued)."""
    if not key or len(key) > 100:
        return None
    # Compiled once (`bound_queries`): this statement runs before every API request.
    found = bound_rows(ApiToken, _token_by_digest, (key_digest(key),))
    token = found[0] if found else None
    if token is None or token.revoked_at is not None:
        return None
    now = timezone.now()
    user = token.user
    if token.expires_at <= now or not user.is_active or getattr(user, "is_system", False):
        return None
    if token.password_fingerprint != password_fingerprint(user):
        # Changed without the model's save (an update(), raw SQL): end it here.
        _revoke(ApiToken.objects.filter(user=user, revoked_at__isnull=True), ApiToken.Revoked.PASSWORD_CHANGED)
        return None
    # Counted from the issue too, so a fresh token's first requests cost no write (the query budgets).
    if now - (token.last_used_at or token.created_at) >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


@transaction.atomic
def api_token_refresh(*, token: ApiToken) -> tuple[ApiToken, str]:
    """A new token with a fresh expiry for the holder of a live one, which ends (`refreshed`)."""
    ended = _revoke(ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True), ApiToken.Revoked.REFRESHED)
    if not ended:  # refreshed or revoked by a concurrent request: the key is spent
        raise Conflict(_("このトークンはすでに更新または取り消されています。"))
    return api_token_issue(user=token.user)


def api_token_logout(*, token: ApiToken) -> None:
    _revoke(ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True), ApiToken.Revoked.LOGOUT)


def api_tokens_of(user: User) -> list[ApiToken]:
    """The user's tokens, newest first (live and ended, of the last API_TOKEN_DAYS days)."""
    since = timezone.now() - timedelta(days=token_days())
    return list(ApiToken.objects.filter(user=user, created_at__gte=since))


def api_token_revoke_own(*, user: User, token_id: int) -> bool:
    """The user revokes one of their own tokens; False if it is not theirs or already ended."""
    live = ApiToken.objects.filter(pk=token_id, user=user, revoked_at__isnull=True)
    return bool(_revoke(live, ApiToken.Revoked.USER))


def api_tokens_revoke_by_admin(*, users: Any = None, tokens: Any = None) -> int:
    """An admin ends every live token of these users, or these tokens. (The admin site admits the
    admin role only: web/admin.py.)"""
    live = ApiToken.objects.filter(revoked_at__isnull=True)
    if users is not None:
        live = live.filter(user__in=users)
    if tokens is not None:
        live = live.filter(pk__in=tokens)
    return _revoke(live, ApiToken.Revoked.ADMIN)


def api_tokens_revoke_on_second_factor(*, user: User) -> int:
    """A token got on the password alone would outlive a newly confirmed second factor."""
    return _revoke(ApiToken.objects.filter(user=user, revoked_at__isnull=True), ApiToken.Revoked.SECOND_FACTOR)


def api_tokens_session_logout(*, session_key: str | None) -> int:
    """The web session logs out: the tokens issued from it end."""
    if not session_key:
        return 0
    live = ApiToken.objects.filter(session_digest=session_digest(session_key), revoked_at__isnull=True)
    return _revoke(live, ApiToken.Revoked.LOGOUT)


def api_token_live(token: ApiToken, now: Any = None) -> bool:
    now = now or timezone.now()
    return token.revoked_at is None and token.expires_at > now


def _revoke(queryset: Any, reason: str) -> int:
    # ApiToken is not historied: update() is the writer (the row carries its own when and why).
    return queryset.update(revoked_at=timezone.now(), revoked_reason=reason)


# --- The User model's hook --------------------------------------------------------------------


def _user_pre_save(sender: type, instance: User, raw: bool = False, update_fields: Any = None, **kwargs: Any) -> None:
    instance._tokens_password_changed = None
    if raw or instance.pk is None:
        return
    if update_fields is not None and "password" not in update_fields:
        return
    stored = User.objects.filter(pk=instance.pk).values_list("password", flat=True).first()
    if stored is not None and stored != instance.password:
        instance._tokens_password_changed = "rehash" if getattr(instance, "_password_rehash", False) else "changed"


def _user_post_save(sender: type, instance: User, raw: bool = False, **kwargs: Any) -> None:
    change = getattr(instance, "_tokens_password_changed", None)
    instance._tokens_password_changed = None
    if change is None:
        return
    live = ApiToken.objects.filter(user=instance, revoked_at__isnull=True)
    if change == "rehash":
        live.update(password_fingerprint=password_fingerprint(instance))
    else:
        _revoke(live, ApiToken.Revoked.PASSWORD_CHANGED)


def _session_logged_out(sender: type, request: Any = None, user: Any = None, **kwargs: Any) -> None:
    session = getattr(request, "session", None)
    api_tokens_session_logout(session_key=getattr(session, "session_key", None))


def connect_receivers() -> None:
    pre_save.connect(_user_pre_save, sender=User, dispatch_uid="accounts.tokens.user_pre_save")
    post_save.connect(_user_post_save, sender=User, dispatch_uid="accounts.tokens.user_post_save")
    user_logged_out.connect(_session_logged_out, dispatch_uid="accounts.tokens.session_logged_out")
