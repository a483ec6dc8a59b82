"""The system principal: the acting user of Celery tasks, commands and the clocks (history rows and
timeline events name it). Below the services on purpose: the timers, which the case services call,
need it, and the organisation services (`accounts.services`) sit above the case services."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction

from referral_engine.accounts.models import User

_system_user_cache: dict[str, User] = {}


def system_user() -> User:
    """The acting user of Celery tasks and commands (history, timeline), and of the clocks' history
    rows. Looked up once per process: every intake and transition used to ask for it (a query per
    clock sync), and the row is never deleted. `system_user_forget()` drops it (tests that flush)."""
    cached = _system_user_cache.get(settings.SYSTEM_USERNAME)
    if cached is not None:
        return cached
    user, _ = User.objects.get_or_create(
        username=settings.SYSTEM_USERNAME,
        defaults={"display_name": "システム", "is_system": True, "is_active": True},
    )
    if user.has_usable_password():
        user.set_unusable_password()
        user.save(update_fields=["password"])
    # Remembered once the row is known to be committed: a user created in a transaction that rolls
    # back must not outlive it (immediately when no transaction is open).
    transaction.on_commit(lambda: _system_user_cache.setdefault(settings.SYSTEM_USERNAME, user))
    return user


def system_user_forget() -> None:
    _system_user_cache.clear()
