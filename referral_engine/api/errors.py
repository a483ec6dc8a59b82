"""One error shape for the whole API: {"error", "message", "fields"} (DESIGN §8.1).

Domain errors keep their status and payload (409 bodies carry `allowed` or `candidates`); DRF's own
exceptions (validation, authentication, permission, 404, 405, throttling, parse errors) are rewritten
into the same shape, with nested validation errors flattened to `person.birth_date`,
`referrals[0].basis` — the spelling the services use. Anything else is not caught here: an
unexpected exception is a bug to fix, not a response to dress up.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, JsonResponse
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from referral_engine.errors import DomainError

# DRF exception class → the `error` code clients branch on.
DRF_CODES: list[tuple[type[exceptions.APIException], str]] = [
    (exceptions.ValidationError, "invalid"),
    (exceptions.ParseError, "parse_error"),
    (exceptions.NotAuthenticated, "not_authenticated"),
    (exceptions.AuthenticationFailed, "authentication_failed"),
    (exceptions.PermissionDenied, "forbidden"),
    (exceptions.NotFound, "not_found"),
    (exceptions.MethodNotAllowed, "method_not_allowed"),
    (exceptions.NotAcceptable, "not_acceptable"),
    (exceptions.UnsupportedMediaType, "unsupported_media_type"),
    (exceptions.Throttled, "throttled"),
]


def error_payload(code: str, message: str, fields: dict[str, list[str]] | None = None, **extra: Any) -> dict[str, Any]:
    return {"error": code, "message": str(message), "fields": fields or {}, **extra}


def flatten_errors(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail → {"a.b[0].c": ["message", ...]}."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            if isinstance(key, int):
                name = f"{prefix}[{key}]"
            elif prefix:
                name = f"{prefix}.{key}"
            else:
                name = str(key)
            for k, v in flatten_errors(value, name).items():
                out.setdefault(k, []).extend(v)
    elif isinstance(detail, list | tuple):
        if all(not isinstance(item, dict | list | tuple) for item in detail):
            out.setdefault(prefix or "non_field_errors", []).extend(str(item) for item in detail)
        else:
            for index, item in enumerate(detail):
                if item in ({}, [], None):
                    continue
                for k, v in flatten_errors(item, f"{prefix}[{index}]").items():
                    out.setdefault(k, []).extend(v)
    else:
        out.setdefault(prefix or "non_field_errors", []).append(str(detail))
    return out


def _drf_code(exc: exceptions.APIException) -> str:
    for cls, code in DRF_CODES:
        if isinstance(exc, cls):
            return code
    return "error"


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainError):
        set_rollback()
        retry_after = getattr(exc, "retry_after", None)
        headers = {"Retry-After": str(retry_after)} if retry_after else None
        return Response(exc.payload(), status=exc.status, headers=headers)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        return None  # a real bug: let it surface (and be fixed), never disguise it as a 4xx

    headers: dict[str, str] = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = f"{int(exc.wait)}"
    code = _drf_code(exc)
    if isinstance(exc, exceptions.ValidationError):
        fields = flatten_errors(exc.detail)
        message = _("入力内容を確認してください。")
        if list(fields) == ["non_field_errors"]:
            message = fields["non_field_errors"][0]
        payload = error_payload(code, message, fields)
    else:
        detail = exc.detail
        message = detail if isinstance(detail, str) else " ".join(flatten_errors(detail).get("non_field_errors", []))
        payload = error_payload(code, message or str(exc.default_detail))
    set_rollback()
    return Response(payload, status=exc.status_code, headers=headers)


def json_error(code: str, message: str, status_code: int, **extra: Any) -> JsonResponse:
    """The error shape outside DRF's view machinery (middleware, unmatched URLs)."""
    return JsonResponse(
        error_payload(code, message, **extra), status=status_code, json_dumps_params={"ensure_ascii": False}
    )


def too_large_response() -> JsonResponse:
    return json_error("too_large", _("リクエストが大きすぎます。"), status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
