"""Prepared statements for the hot write and read paths, and for nothing else (issue 23, item 4).

PostgreSQL spends ~2 ms of its CPU planning a transition's or a history read's statements. A prepared
statement is planned once per connection and then runs a generic plan — right for a statement that
finds a row by key or inserts one, whatever the values, and wrong for a list whose best plan depends
on who asks: at a million cases the generic plans of my work's lists ran 4-7x slower than their custom
ones (docs/benchmarks.md, "Issue 23, third round"). psycopg decides per `execute` (`prepare=`), which
Django's ORM does not expose; so the app's PostgreSQL connections use `PreparingCursor` (parameters
bound by the server, which preparing needs), which prepares a statement only inside
`prepared_statements()` and never elsewhere. The API views that run one use case end to end —
intake, a case transition, the history read — say so with `PreparedStatementsMixin`.

`DATABASE_PREPARED_STATEMENTS=false` (behind a transaction-pooling pgbouncer, whose connections a
prepared statement does not follow) returns to Django's client-side binding and prepares nothing.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_PREPARE = contextvars.ContextVar("referral_engine_prepare", default=False)


@contextmanager
def prepared_statements() -> Iterator[None]:
    """Statements run inside are prepared on the connection (planned once, then generic plans)."""
    token = _PREPARE.set(True)
    try:
        yield
    finally:
        _PREPARE.reset(token)


@functools.cache
def preparing_cursor_class() -> type:
    from django.db.backends.postgresql.base import ServerBindingCursor

    class PreparingCursor(ServerBindingCursor):
        def execute(self, query: Any, params: Any = None, *, prepare: bool | None = None, **kwargs: Any) -> Any:
            if prepare is None:
                prepare = _PREPARE.get()
            return super().execute(query, params, prepare=prepare, **kwargs)

    return PreparingCursor


def use_preparing_cursor(sender: Any, connection: Any, **kwargs: Any) -> None:
    """`connection_created` receiver: a PostgreSQL connection configured for server-side binding
    (settings: DATABASE_PREPARED_STATEMENTS) gets the cursor that prepares only when asked."""
    if connection.vendor == "postgresql" and connection.settings_dict["OPTIONS"].get("server_side_binding") is True:
        connection.connection.cursor_factory = preparing_cursor_class()


class PreparedStatementsMixin:
    """On an API view: the methods in `prepared_methods` run with `prepared_statements()` — token
    lookup, policy reads, the service and the response. Only for views of one row and its writes,
    never for a list or a search (their plans depend on who asks). Without server-side binding
    (SQLite, DATABASE_PREPARED_STATEMENTS=false) nothing is prepared."""

    prepared_methods: frozenset[str] = frozenset()

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        if request.method in self.prepared_methods:
            with prepared_statements():
                return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
        return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
