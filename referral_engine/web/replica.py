"""`replica_reads`: the opt-in of a view to the replica (referral_engine/replica.py, docs/scaling.md).

Who the user is and what they may do are read from the primary before the view runs (the session,
the user and their memberships: a role that ended is never honoured from a replica that lags); then
the view's reads — and a streamed file's rows, read while the response is sent — go to the replica.
Only GET and HEAD: a request that writes reads from the primary throughout. Writes (the access log)
always go to the primary (the router)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse

from referral_engine.access import policy
from referral_engine.replica import on_replica, pinned_to_primary, reading_from_replica, replica_configured


def _read(request: Any, call: Callable[[], HttpResponse]) -> HttpResponse:
    if request.method not in ("GET", "HEAD") or not replica_configured():
        return call()
    policy.principal(request.user)  # the user and their roles from the primary, kept on the user
    with reading_from_replica(pinned=pinned_to_primary(request)) as replica:
        response = call()
    if replica and getattr(response, "streaming", False):
        response.streaming_content = on_replica(response.streaming_content)
    return response


def replica_reads(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A page (a view function)."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return _read(request, lambda: view(request, *args, **kwargs))

    return wrapper


def replica_reads_api(method: Callable[..., Any]) -> Callable[..., Any]:
    """The `get` of an API view: it runs after DRF authenticated the request (the token, on the primary)."""

    @functools.wraps(method)
    def wrapper(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        return _read(request, lambda: method(self, request, *args, **kwargs))

    return wrapper
