"""Two middlewares that keep a failure or a missing second factor from reaching the user as a mess.

DatabaseUnavailableMiddleware: when PostgreSQL is down or restarting, every request would die with a
500 and (with DEBUG on) a traceback. Django turns an exception into a 500 response inside each
middleware layer, so an outer middleware never sees it raised; instead `got_request_exception` (sent
for every uncaught exception, with the request) marks the request, and this middleware, sitting just
inside SecurityMiddleware, swaps that 500 for a calm 503 with `Retry-After`: JSON in the API's one
error shape under /api/, a static Japanese page elsewhere. The page is rendered without a request
context, so no context processor touches the database that just failed. The transaction the request
was in is rolled back by the database itself (the connection is gone), so nothing is half-saved.

TwoFactorMiddleware: a user with a confirmed TOTP device must pass the one-time code after the
password before anything else (the verify page); a user whose role is in REQUIRE_2FA_FOR_ROLES and
has no device yet must set one up first. Runs after django-otp's OTPMiddleware (which gives
`request.user.is_verified()`).
"""

from __future__ import annotations

import logging
import sys
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, HttpResponseRedirect, JsonResponse
from django.template import loader
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"
DATABASE_ERRORS = (OperationalError, InterfaceError)


def _is_database_unavailable(exc: BaseException | None) -> bool:
    seen = 0
    while exc is not None and seen < 10:  # the error itself or what it was raised from
        if isinstance(exc, DATABASE_ERRORS):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def mark_database_unavailable(sender: Any, request: Any = None, **kwargs: Any) -> None:
    """`got_request_exception` receiver: remember on the request that the database failed it."""
    if request is not None and _is_database_unavailable(sys.exc_info()[1]):
        request._database_unavailable = True


def retry_after_seconds() -> int:
    return int(getattr(settings, "DATABASE_UNAVAILABLE_RETRY_AFTER", 10))


def service_unavailable_response(request: Any) -> HttpResponse:
    retry = retry_after_seconds()
    message = _(
        "ただいまデータベースに接続できません。入力内容は保存されていません。少し待ってからもう一度お試しください。"
    )
    if request.path.startswith(API_PREFIX):
        response: HttpResponse = JsonResponse(
            {"error": "service_unavailable", "message": message, "fields": {}, "retry_after": retry},
            status=503,
            json_dumps_params={"ensure_ascii": False},
        )
    else:
        body = loader.get_template("503.html").render({"retry_after": retry})
        response = HttpResponse(body, status=503, content_type="text/html; charset=utf-8")
    response["Retry-After"] = str(retry)
    response["Cache-Control"] = "no-store"
    return response


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            response = self.get_response(request)
        except DATABASE_ERRORS:  # only when an inner layer let it escape (tests with raise_request_exception)
            logger.warning("database unavailable: %s %s", request.method, request.path, exc_info=True)
            return service_unavailable_response(request)
        if response.status_code >= 500 and getattr(request, "_database_unavailable", False):
            logger.warning("database unavailable: %s %s answered 503", request.method, request.path)
            return service_unavailable_response(request)
        return response


class RequestTooLargeMiddleware:
    """A form post larger than DATA_UPLOAD_MAX_MEMORY_SIZE is a 413 page, decided on the declared
    Content-Length before a byte is read. Django itself would answer 400 (RequestDataTooBig, raised
    when the CSRF check reads the form); the API has its own JSON 413 (api.middleware) and is left
    to it. The app takes no file uploads, so the whole body counts."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and not request.path.startswith(API_PREFIX):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0  # Django reads an unparsable length as an empty body
            if length > limit:
                body = loader.get_template("413.html").render({"limit_kb": limit // 1024})
                return HttpResponse(body, status=413, content_type="text/html; charset=utf-8")
        return self.get_response(request)


# --- Two-factor -----------------------------------------------------------------------------------

# What a password-only session may still reach: the 2FA pages themselves, logging out, static files,
# the health check and the language switch.
TWO_FACTOR_OPEN_PREFIXES = (
    "/accounts/2fa/",
    "/accounts/logout/",
    "/accounts/login/",
    "/static/",
    "/healthz",
    "/i18n/",
    "/favicon.ico",
)


class TwoFactorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from referral_engine.security import two_factor

        if getattr(request, "user", None) is not None and not request.path.startswith(TWO_FACTOR_OPEN_PREFIXES):
            step = two_factor.session_pending_step(request)
            if step is not None:
                return self._stop(request, step)
        return self.get_response(request)

    def _stop(self, request, step: str) -> HttpResponse:
        if request.path.startswith(API_PREFIX):
            # A session that has not passed its second factor may not use the API either (token
            # clients never reach here: DRF authenticates them inside the view).
            return JsonResponse(
                {
                    "error": "two_factor_required",
                    "message": _("2段階認証を完了してください。"),
                    "fields": {},
                },
                status=403,
                json_dumps_params={"ensure_ascii": False},
            )
        target = "/accounts/2fa/verify/" if step == "verify" else "/accounts/2fa/setup/"
        return HttpResponseRedirect(f"{target}?{urlencode({'next': request.get_full_path()})}")
