"""Domain errors become pages, in one place (CONVENTIONS 10): NotFound 404, Forbidden 403,
IllegalTransition and Conflict 409 (with the allowed transitions), InvalidInput 400. Views catch
InvalidInput themselves where they can show the errors next to the fields."""

from __future__ import annotations

from functools import wraps

from django.shortcuts import render
from django.utils.translation import gettext as _

from referral_engine.errors import Conflict, DomainError, Forbidden, IllegalTransition, NotFound


def error_page(request, exc: DomainError, *, back_url: str = "", labels: dict[str, str] | None = None):
    if isinstance(exc, NotFound):
        title = _("見つかりません")
    elif isinstance(exc, Forbidden):
        title = _("この操作は許可されていません")
    elif isinstance(exc, IllegalTransition | Conflict):
        title = _("この操作は現在できません")
    else:
        title = _("入力内容を確認してください")
    allowed = getattr(exc, "allowed", None) or []
    return render(
        request,
        "web/error.html",
        {
            "title": title,
            "message": exc.message,
            "allowed": [(name, (labels or {}).get(name, name)) for name in allowed],
            "back_url": back_url,
            "fields": getattr(exc, "fields", {}),
        },
        status=exc.status,
    )


def domain_errors(view):
    """Render any DomainError that escapes the view as its status page."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except DomainError as exc:
            return error_page(request, exc)

    return wrapper
