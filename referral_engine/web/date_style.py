"""The date style of the request being answered (issue 18, item 8), like Django's active language:
`DateStyleMiddleware` activates the signed-in user's `date_style` (a column of the user row the request
has already loaded: no query), and the `wareki` filter reads it for every date it shows. Outside a
request (mail, tasks, the shell) the style is 和暦 with 西暦."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from referral_engine.accounts.models import DateStyle

_current: ContextVar[str] = ContextVar("date_style", default=DateStyle.WAREKI)


def current() -> str:
    return _current.get()


@contextmanager
def override(style: str) -> Iterator[None]:
    token = _current.set(style if style in DateStyle.values else DateStyle.WAREKI)
    try:
        yield
    finally:
        _current.reset(token)


class DateStyleMiddleware:
    """After AuthenticationMiddleware: the user's style for everything rendered in this request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        style = getattr(user, "date_style", DateStyle.WAREKI) if user is not None and user.is_authenticated else ""
        with override(style or DateStyle.WAREKI):
            return self.get_response(request)
