"""The access log: every view of a case or person, every search, export and print (DESIGN §6).

Who calls what:

- a page or API endpoint that shows one case or person: `access_log_view(user=..., obj=..., request=...)`
  (or decorate the view with `@access_logged("person")`); `cases.selectors.case_get_for_user` already
  logs case views;
- a search: `access_log_search(user=..., terms={...}, request=...)` with the terms as typed;
- a CSV/PDF export or a print view: `access_log_export(...)` / `access_log_print(...)`.

`via` defaults from the request path (`/api/` → "api", `/admin/` → "admin", else "ui").
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from typing import Any

from django.db import models

from referral_engine.access import policy
from referral_engine.audit.models import AccessLog

Action = AccessLog.Action


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
    return AccessLog.objects.create(
        user=user,
        username=user.get_username(),
        role=",".join(sorted(p.roles)),
        department=",".join(sorted(p.department_codes)),
        action=action,
        object_type=object_type,
        object_id=object_id,
        case_id=case_id,
        query=query[:2000],
        path=(request.get_full_path()[:500] if request is not None else ""),
        via=via,
        ip_address=_client_ip(request),
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
    """Search terms as stored: the text as typed, or the non-empty filters as JSON (keys sorted)."""
    if isinstance(terms, str):
        return terms
    cleaned = {k: v for k, v in terms.items() if v not in (None, "", [], ())}
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
