"""The two pages of two-factor login: setting up an authenticator app, and the code after the
password. Thin: the rules live in `referral_engine.security.two_factor`."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponseForbidden, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from referral_engine.security import two_factor


def _next_url(request) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or "/"
    if url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return "/"


@never_cache
@require_http_methods(["GET", "POST"])
def setup(request):
    user = request.user
    if not (two_factor.eligible(request.user) or two_factor.required(request.user)):
        return HttpResponseForbidden(_("2段階認証の設定は係長・班長、監査担当、システム管理者が使えます。"))
    if two_factor.confirmed_device(user) is not None and not two_factor.is_verified(user):
        return redirect(f"/accounts/2fa/verify/?next={request.get_full_path()}")
    device = two_factor.device_for_setup(user)
    error = ""
    if request.method == "POST":
        if two_factor.device_confirm(request=request, device=device, code=request.POST.get("code", "")):
            messages.success(request, _("2段階認証を設定しました。次回からログイン時に確認コードを入力します。"))
            return HttpResponseRedirect(_next_url(request))
        error = _("確認コードが正しくありません。アプリに表示されている6桁の数字を入力してください。")
    return render(
        request,
        "security/setup.html",
        {
            # The SVG is made by qrcode from our own otpauth URL and re-serialised by ElementTree.
            "qr_svg": mark_safe(two_factor.qr_svg(device.config_url)),  # noqa: S308
            "secret": two_factor.base32_secret(device),
            "already": two_factor.confirmed_device(user) is not None,
            "required": two_factor.required(user),
            "error": error,
            "next": _next_url(request),
        },
        status=400 if error else 200,
    )


@never_cache
@require_http_methods(["GET", "POST"])
def verify(request):
    if two_factor.confirmed_device(request.user) is None:
        return HttpResponseRedirect(_next_url(request))
    if two_factor.is_verified(request.user):
        return HttpResponseRedirect(_next_url(request))
    error = ""
    if request.method == "POST":
        if two_factor.session_verify(request=request, code=request.POST.get("code", "")):
            return HttpResponseRedirect(_next_url(request))
        error = _("確認コードが正しくありません。失敗が続くと、しばらく入力できなくなります。")
    return render(
        request, "security/verify.html", {"error": error, "next": _next_url(request)}, status=400 if error else 200
    )
