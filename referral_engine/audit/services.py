"""The access log: every view of a case or person, every search, export and print (DESIGN §6).

Who calls what:

- a page or API endpoint that shows one case or person: `access_log_view(user=..., obj=..., request=...)`
  (or decorate the view with `@access_logged("person")`); `cases.selectors.case_get_for_user` already
  logs case views;
- a search: `access_log_search(user=..., terms={...}, request=...)` with the terms as typed — what is
  stored of a typed term is its fingerprint (`search_term_fingerprint`), never the text: staff search
  by a person's name (docs/audit.md);
- a CSV/PDF export or a print view: `access_log_export(...)` / `access_log_print(...)`.

`via` defaults from the request path (`/api/` → "api", `/admin/` → "admin", else "ui").
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import models
from django.utils import timezone
from django.utils.crypto import salted_hmac

from referral_engine.access import policy
from referral_engine.audit.models import AccessLog
from referral_engine.bound_queries import bound_insert
from referral_engine.cases import normalize

Action = AccessLog.Action

# Filter keys whose value is text typed by staff (a name, a phone number, a case number): stored as a
# fingerprint. Every other filter (state, risk, department, dates, a username) is a code and stays as is.
SEARCH_TERM_KEYS = frozenset({"q", "term"})
_CASE_NUMBER = re.compile(r"^(?:[A-Za-z]\d{1,2}-)?\d{1,6}$")  # R8-000004, 000004, 4: names no one
_KANA = re.compile(r"^[\u30a0-\u30ff\s]+$")
_PHONE = re.compile(r"^[\d\s()+\-－ー]+$")


def search_term_kind(term: str) -> str:
    """number / phone / kana / name."""
    term = term.strip()
    if _CASE_NUMBER.match(term):
        return "number"
    if _PHONE.match(term) and len(normalize.phone_key(term)) >= 6:
        return "phone"
    if _KANA.match(normalize.to_katakana(term)):
        return "kana"
    return "name"


def search_term_fingerprint(term: str) -> str:
    """What the access log keeps of a typed search term: `<kind>:<length>:<keyed hash>`, e.g.
    `kana:6:3f9a0c1d5e7b2a44`. A case number is kept as typed (`number:R8-000004`).

    The hash is an HMAC (ACCESS_LOG_TERM_KEY, by default SECRET_KEY) of the normalised term — the same
    normalisation the search itself uses, so `ツクミ`, `つくみ` and `ﾂｸﾐ` give one fingerprint. Whoever
    reads the table without the key cannot try names against it; an auditor can ask "who searched for
    this name?" by its fingerprint (the access log's `term` filter)."""
    term = (term or "").strip()
    if not term:
        return ""
    kind = search_term_kind(term)
    if kind == "number":
        return f"number:{term}"
    key = {"phone": normalize.phone_key, "kana": normalize.kana_key}.get(kind, normalize.name_key)(term)
    digest = salted_hmac(
        "referral_engine.audit.search_term", f"{kind}:{key}", secret=settings.ACCESS_LOG_TERM_KEY, algorithm="sha256"
    ).hexdigest()
    return f"{kind}:{len(term)}:{digest[:16]}"


def _client_ip(request: Any) -> str | None:
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def via_for(request: Any, default: str = "ui") -> str:
    path = getattr(request, "path", "") or ""
    if path.startswith("/api/"):
        return "api"
    if path.startswith("/admin/"):
        return "admin"
    return default


def access_log_record(
    *,
    user: Any,
    action: str,
    object_type: str = "",
    object_id: int | None = None,
    case_id: int | None = None,
    query: str = "",
    request: Any = None,
    via: str = "ui",
) -> AccessLog:
    p = policy.principal(user)
    return bound_insert(
        AccessLog(
            user=user,
            username=user.get_username(),
            role=",".join(sorted(p.roles)),
            department=",".join(sorted(p.department_codes)),
            action=action,
            object_type=object_type,
            object_id=object_id,
            case_id=case_id,
            query=query[:2000],
            # The path without its query string: `?q=` may hold a name (the terms are in `query`, protected).
            path=(request.path[:500] if request is not None else ""),
            via=via,
            ip_address=_client_ip(request),
        )
    )


def object_type_of(obj: models.Model) -> str:
    """ "case", "person", "referral"… (the model name, lower case)."""
    return obj._meta.model_name


def case_id_of(obj: models.Model) -> int | None:
    """The case an object belongs to, without a query: the case itself, or its `case_id`."""
    if obj._meta.label_lower == "cases.case":
        return obj.pk
    return getattr(obj, "case_id", None)


def terms_text(terms: Mapping[str, Any] | str) -> str:
    """Search terms as stored: a typed term as its fingerprint, or the non-empty filters as JSON (keys
    sorted) with the typed ones (SEARCH_TERM_KEYS) as fingerprints."""
    if isinstance(terms, str):
        return search_term_fingerprint(terms)
    cleaned = {
        k: (search_term_fingerprint(str(v)) if k in SEARCH_TERM_KEYS else v)
        for k, v in terms.items()
        if v not in (None, "", [], ())
    }
    return json.dumps(cleaned, ensure_ascii=False, sort_keys=True, default=str)


def access_log_view(*, user: Any, obj: models.Model, request: Any = None, via: str | None = None) -> AccessLog:
    """A view of one case, person, referral… (the detail page, the API detail, a history page)."""
    return access_log_record(
        user=user,
        action=Action.VIEW,
        object_type=object_type_of(obj),
        object_id=obj.pk,
        case_id=case_id_of(obj),
        request=request,
        via=via or via_for(request),
    )


def access_log_search(
    *,
    user: Any,
    terms: Mapping[str, Any] | str,
    object_type: str = "person",
    request: Any = None,
    via: str | None = None,
) -> AccessLog:
    """A search (persons at intake, the case list filters, the access log itself) with its terms."""
    return access_log_record(
        user=user,
        action=Action.SEARCH,
        object_type=object_type,
        query=terms_text(terms),
        request=request,
        via=via or via_for(request),
    )


def access_log_export(
    *,
    user: Any,
    object_type: str,
    terms: Mapping[str, Any] | str = "",
    obj: models.Model | None = None,
    case_id: int | None = None,
    request: Any = None,
    via: str | None = None,
) -> AccessLog:
    """A CSV (or other file) export: what was exported (`object_type`, the filters as `terms`, or the
    one object `obj`)."""
    return access_log_record(
        user=user,
        action=Action.EXPORT,
        object_type=object_type,
        object_id=obj.pk if obj is not None else None,
        case_id=case_id if case_id is not None else (case_id_of(obj) if obj is not None else None),
        query=terms_text(terms),
        request=request,
        via=via or via_for(request),
    )


def access_log_print(*, user: Any, obj: models.Model, request: Any = None, via: str | None = None) -> AccessLog:
    """A print view (a case summary printed for a support meeting)."""
    return access_log_record(
        user=user,
        action=Action.PRINT,
        object_type=object_type_of(obj),
        object_id=obj.pk,
        case_id=case_id_of(obj),
        request=request,
        via=via or via_for(request),
    )


def access_logged(
    object_type: str, *, url_kwarg: str = "pk", action: str = Action.VIEW, case: bool | None = None
) -> Callable:
    """Decorate a view (a function view `(request, **kwargs)` or a method `(self, request, **kwargs)`)
    so that a successful (2xx) response logs `action` on `object_type` with the id from `url_kwarg`.
    `case=True` (the default when `object_type == "case"`) also fills `case_id`. Failures (404, 403)
    are not logged: nothing was shown."""
    is_case = object_type == "case" if case is None else case

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            request = args[1] if len(args) > 1 and hasattr(args[1], "META") else args[0]
            response = view(*args, **kwargs)
            user = getattr(request, "user", None)
            if 200 <= getattr(response, "status_code", 500) < 300 and getattr(user, "is_authenticated", False):
                raw = kwargs.get(url_kwarg)
                object_id = int(raw) if raw is not None and str(raw).isdigit() else None
                access_log_record(
                    user=user,
                    action=action,
                    object_type=object_type,
                    object_id=object_id,
                    case_id=object_id if is_case else None,
                    request=request,
                    via=via_for(request),
                )
            return response

        return wrapper

    return decorator


# --- Denied reads (issue 16 item 6) --------------------------------------------------------------

DENIED_SUMMARY = "denied_summary"


def _denied_counter(user_id: int, minute: int) -> str:
    return f"audit:denied:{user_id}:{minute}"


def access_log_denied(*, user: Any, object_type: str, object_id: int | None, request: Any = None) -> AccessLog | None:
    """A read of a case, person or referral the user may not see (or that does not exist: the same
    404): the access log keeps it as `denied`, so an auditor sees someone probing ids.

    Rate limited per user so that a scan cannot flood the log: the first ACCESS_LOG_DENIED_PER_MINUTE
    denials of a user in a minute are rows of their own; after that one `denied_summary` row per
    ACCESS_LOG_DENIED_SUMMARY_EVERY further denials (its query says how many), and the remainder of
    a minute is written as a summary with the user's next denial. The counter lives in the cache
    (Redis in production: shared by every process)."""
    if not getattr(user, "is_authenticated", False):
        return None
    via = via_for(request)
    minute = int(timezone.now().timestamp() // 60)
    key = _denied_counter(user.pk, minute)
    cache.add(key, 0, timeout=180)
    try:
        count = cache.incr(key)
    except ValueError:  # evicted between add and incr
        cache.set(key, 1, timeout=180)
        count = 1
    limit = settings.ACCESS_LOG_DENIED_PER_MINUTE
    every = max(1, settings.ACCESS_LOG_DENIED_SUMMARY_EVERY)
    if count == 1:
        _denied_flush_previous(user=user, minute=minute, request=request, via=via)
    if count <= limit:
        return access_log_record(
            user=user,
            action=Action.DENIED,
            object_type=object_type,
            object_id=object_id,
            case_id=object_id if object_type == "case" else None,
            request=request,
            via=via,
        )
    if (count - limit) % every == 0:
        return _denied_summary(user=user, minute=minute, suppressed=every, request=request, via=via)
    return None


def _denied_summary(*, user: Any, minute: int, suppressed: int, request: Any, via: str) -> AccessLog:
    start = dt.datetime.fromtimestamp(minute * 60, tz=dt.UTC).isoformat()
    return access_log_record(
        user=user,
        action=Action.DENIED,
        object_type=DENIED_SUMMARY,
        query=json.dumps({"minute": start, "suppressed": suppressed}, sort_keys=True),
        request=request,
        via=via,
    )


def _denied_flush_previous(*, user: Any, minute: int, request: Any, via: str) -> None:
    """The first denial of a minute writes what the user's earlier minutes left uncounted."""
    limit = settings.ACCESS_LOG_DENIED_PER_MINUTE
    every = max(1, settings.ACCESS_LOG_DENIED_SUMMARY_EVERY)
    for earlier in (minute - 2, minute - 1):
        key = _denied_counter(user.pk, earlier)
        count = cache.get(key)
        if not count or count <= limit:
            continue
        remainder = (count - limit) % every
        if remainder and cache.add(f"{key}:flushed", 1, timeout=180):
            _denied_summary(user=user, minute=earlier, suppressed=remainder, request=request, via=via)
