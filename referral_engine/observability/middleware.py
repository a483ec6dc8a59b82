"""One middleware, outermost: a request id (X-Request-ID), the context every log line of the request
carries, one JSON line per request, and the latency histogram per view (issue 22, items 2 and 3)."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from django.conf import settings
from django.utils.functional import SimpleLazyObject, empty

from referral_engine.observability import metrics
from referral_engine.observability.logs import log_context

logger = logging.getLogger("referral_engine.request")

# A proxy's request id is accepted when it looks like one: no spaces, quotes or control characters
# (they would forge log lines), 8-128 characters (nginx's $request_id is 32 hex digits, a UUID 36).
VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{7,127}$")


def route_name(request: Any) -> str:
    """The URL pattern's name ("api:case-detail", "case_detail"): bounded, and free of ids and names."""
    match = getattr(request, "resolver_match", None)
    if match is not None:
        return match.view_name or "unnamed"
    if request.path.startswith(settings.STATIC_URL):
        return "static"
    return "unmatched"


def user_id_of(request: Any) -> int | None:
    """The user's id if authentication already ran; never loads the user just to log it."""
    user = request.__dict__.get("user")
    if user is None or (isinstance(user, SimpleLazyObject) and user._wrapped is empty):
        return None
    return user.pk if getattr(user, "is_authenticated", False) else None


class RequestObservabilityMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def request_id_for(self, request: Any) -> str:
        incoming = request.META.get("HTTP_X_REQUEST_ID", "") if settings.TRUST_REQUEST_ID_HEADER else ""
        return incoming if VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex

    def __call__(self, request):
        started = time.perf_counter()
        request.request_id = self.request_id_for(request)
        context: dict[str, Any] = {"request_id": request.request_id}
        token = log_context.set(context)
        try:
            response = self.get_response(request)
            seconds = time.perf_counter() - started
            context.update(route=route_name(request), user_id=user_id_of(request))
            response["X-Request-ID"] = request.request_id
            metrics.observe_request(
                view=context["route"], method=request.method, status=response.status_code, seconds=seconds
            )
            logger.log(
                logging.ERROR if response.status_code >= 500 else logging.INFO,
                "%s %s %s",
                request.method,
                context["route"],
                response.status_code,
                extra={
                    "method": request.method,
                    "path": request.path,  # never the query string: a search term may be a name
                    "status": response.status_code,
                    "duration_ms": round(seconds * 1000, 1),
                },
            )
            return response
        finally:
            log_context.reset(token)

    def process_view(self, request, view_func, view_args, view_kwargs):
        context = log_context.get()
        if context is not None:
            context.update(route=route_name(request), user_id=user_id_of(request))
        return None
