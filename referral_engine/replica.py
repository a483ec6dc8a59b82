"""Reads that may leave the primary (issue 23 item 6; docs/scaling.md).

With `DATABASE_REPLICA_URL` set (a PostgreSQL streaming replica of the primary), the settings add the
alias `replica` and this router. Nothing is sent there by guessing: a read goes to the replica only
inside `reading_from_replica()`, which the views that may read slightly old data opt into — the fiscal-year
report, the supervisor dashboard, the auditor's pages and the CSV exports (`web/replica.py`
`replica_reads`). Everything else, and every write, stays on the primary:

- every write goes to `default`, whatever the model instance was read from: the access-log row a
  replica page writes (every case read is logged) lands on the primary;
- a read inside a transaction of the primary (`transaction.atomic()`, `select_for_update`) stays on the
  primary: a read a write depends on is never served from the replica;
- the author reads their own writes: after a request that could write (not GET/HEAD/OPTIONS/TRACE) the
  `PrimaryPinMiddleware` sets a short cookie, and while it lasts (`REPLICA_PIN_SECONDS`) that browser's
  pages read from the primary;
- a replica that cannot be reached is skipped (a warning in the log), the page reads the primary.

Without the setting (`replica` not in DATABASES) or with `REPLICA_READS=False` nothing changes."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections

logger = logging.getLogger(__name__)

REPLICA = "replica"
PIN_COOKIE = "re_primary_until"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})

_on_replica: ContextVar[bool] = ContextVar("referral_engine_replica_reads", default=False)


def replica_configured() -> bool:
    """A replica alias is configured and replica reads are on."""
    return REPLICA in settings.DATABASES and getattr(settings, "REPLICA_READS", True)


def pinned_to_primary(request: Any) -> bool:
    """The request's browser wrote less than REPLICA_PIN_SECONDS ago (the cookie holds the end, a Unix time)."""
    raw = getattr(request, "COOKIES", {}).get(PIN_COOKIE, "")
    return raw.isascii() and raw.isdigit() and len(raw) <= 12 and int(raw) > time.time()


def _replica_reachable() -> bool:
    try:
        connections[REPLICA].ensure_connection()
    except DatabaseError:
        logger.warning("replica unreachable: reading from the primary", exc_info=True)
        return False
    return True


@contextmanager
def reading_from_replica(*, pinned: bool = False) -> Iterator[bool]:
    """Reads inside go to the replica (yields True), unless no replica is configured, `pinned` (the
    author's recent write) or the replica cannot be reached (yields False: the primary, as always)."""
    if pinned or not replica_configured() or not _replica_reachable():
        yield False
        return
    token = _on_replica.set(True)
    try:
        yield True
    finally:
        _on_replica.reset(token)


def on_replica(iterable: Iterable[Any]) -> Iterator[Any]:
    """Consume `iterable` with each step inside `reading_from_replica()`: a streamed CSV's rows are
    read after the view returned, by the server writing the response."""
    iterator = iter(iterable)
    while True:
        token = _on_replica.set(True)
        try:
            item = next(iterator)
        except StopIteration:
            return
        finally:
            _on_replica.reset(token)
        yield item


def reads_on_replica() -> bool:
    """Reads made now would go to the replica (the router's answer for a read outside a transaction)."""
    return _on_replica.get()


class ReplicaRouter:
    """settings.DATABASE_ROUTERS when DATABASE_REPLICA_URL is set."""

    def db_for_read(self, model: Any, **hints: Any) -> str:
        if _on_replica.get() and not connections[DEFAULT_DB_ALIAS].in_atomic_block:
            return REPLICA
        return DEFAULT_DB_ALIAS

    def db_for_write(self, model: Any, **hints: Any) -> str:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        # A row read from the replica is the primary's row: relations between the two are allowed.
        if {obj1._state.db, obj2._state.db} <= {DEFAULT_DB_ALIAS, REPLICA, None}:
            return True
        return None

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        return False if db == REPLICA else None  # the replica follows the primary's schema


class PrimaryPinMiddleware:
    """Read-your-writes: after a request that could have written, the browser reads from the primary for
    REPLICA_PIN_SECONDS (a cookie with the time it ends). Does nothing without a replica."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        response = self.get_response(request)
        if request.method not in SAFE_METHODS and replica_configured():
            seconds = settings.REPLICA_PIN_SECONDS
            response.set_cookie(
                PIN_COOKIE,
                str(int(time.time()) + seconds),
                max_age=seconds,
                httponly=True,
                samesite="Lax",
                secure=settings.SESSION_COOKIE_SECURE,
            )
        return response
