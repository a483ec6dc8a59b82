"""OpenAPI helpers: the error responses every operation documents, and path parameters.

Schemathesis checks every response against these, so each operation lists exactly the error
statuses it can answer, all in the one error shape.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse

from referral_engine.api.serializers import ErrorSerializer

ERROR_DESCRIPTIONS = {
    400: "Invalid input: `fields` names each problem (field path → messages).",
    401: "Not authenticated: send `Authorization: Token <token>` (or log in for a session).",
    403: "You may see this but may not do this (or the endpoint is not for your role).",
    404: "Not found, or not yours to see (the two are the same answer).",
    409: "Conflict: an illegal transition (`allowed` lists what you may do now), a possible duplicate "
    "person (`candidates`), or an Idempotency-Key reused with a different body.",
    413: "The request body is larger than the server accepts.",
    415: "Send JSON (`Content-Type: application/json`).",
    429: "Too many writes (per token), too many person searches (per user), or too many failed logins.",
}


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    return {code: OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[code]) for code in codes}


# Every authenticated read / write answers these besides its own.
READ = (401, 404)
WRITE = (400, 401, 403, 404, 413, 415, 429)


def responses(ok: dict[int, Any], *codes: int) -> dict[int, Any]:
    return {**ok, **errors(*sorted(set(codes)))}


def error_responses_hook(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular postprocessing: every operation under the API — ours and those other apps
    contribute (the audit views) — documents the 401 of authentication, the 404 of an id it cannot
    see and the 400 of a bad filter, in the one error shape."""
    error_ref = {"$ref": "#/components/schemas/Error"}
    for path, item in result.get("paths", {}).items():
        for method, operation in item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            found = operation.setdefault("responses", {})
            wanted = []
            security = operation.get("security") or []
            if security and not any(requirement == {} for requirement in security):
                wanted.append(401)
            if "{" in path:
                wanted.append(404)
            if any(
                p.get("in") == "query" and p.get("name") not in {"page", "page_size"}
                for p in operation.get("parameters", [])
            ):
                wanted.append(400)  # a filter of the wrong type or value
            for code in wanted:
                found.setdefault(
                    str(code),
                    {"content": {"application/json": {"schema": error_ref}}, "description": ERROR_DESCRIPTIONS[code]},
                )
    return result
