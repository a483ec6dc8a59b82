"""Small pieces every page view uses: a safe `next` redirect, role gates that answer 403."""

from __future__ import annotations

from django.http import HttpResponseRedirect
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from referral_engine.errors import Forbidden


def redirect_next(request, default: str):
    """Back to where the form was (the inbox or the case page), never to another site."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        # A URL, never a view name: redirect() would try to reverse "0" and answer 500 (issue 16).
        return HttpResponseRedirect(target)
    return redirect(default)


def require(allowed: bool, message: str | None = None) -> None:
    if not allowed:
        raise Forbidden(message or _("このページを開く権限がありません。"))
