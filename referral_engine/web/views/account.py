"""The user's own account: `/accounts/settings/` (notification mail and date style),
`/accounts/password/` (change the password, with Django's validators) and
`/accounts/tokens/` (the API tokens: list, issue one for this session, revoke). A password change
ends every API token through the User model's hook (referral_engine.accounts.tokens), not here."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.forms import PasswordChangeForm
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from referral_engine.accounts import tokens
from referral_engine.accounts.preferences import user_preferences, user_preferences_set
from referral_engine.errors import InvalidInput
from referral_engine.web.forms import PreferencesForm


def preferences(request):
    """The user's settings; a bad value answers 400 with the error next to its field."""
    form = PreferencesForm(request.POST or None, initial=user_preferences(request.user))
    if request.method == "POST" and form.is_valid():
        try:
            user_preferences_set(user=request.user, actor=request.user, **form.cleaned_data)
        except InvalidInput as exc:
            form.add_domain_errors(exc)
        else:
            messages.success(request, _("設定を保存しました。"))
            return redirect("account_settings")
    context = {"form": form, "today": timezone.localdate()}
    return render(request, "web/preferences.html", context, status=400 if form.errors else 200)


def password_change(request):
    form = PasswordChangeForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        update_session_auth_hash(request, user)  # this session stays logged in
        messages.success(request, _("パスワードを変更しました。APIトークンはすべて無効になりました。"))
        return redirect("account_tokens")
    return render(request, "web/password_change.html", {"form": form}, status=400 if form.errors else 200)


def token_list(request, *, new_key: str = "", status: int = 200):
    now = timezone.now()
    rows = [(token, tokens.api_token_live(token, now)) for token in tokens.api_tokens_of(request.user)]
    context = {"rows": rows, "new_key": new_key, "days": tokens.token_days()}
    return render(request, "web/tokens.html", context, status=status)


@never_cache  # the page carries the new key: no cache may keep it
@require_POST
def token_issue(request):
    """A token for scripts run by this user; it ends when this session logs out. Shown once."""
    if not request.session.session_key:
        request.session.save()
    _token, key = tokens.api_token_issue(user=request.user, session_key=request.session.session_key)
    return token_list(request, new_key=key)


@require_POST
def token_revoke(request, token_id: int):
    if tokens.api_token_revoke_own(user=request.user, token_id=token_id):
        messages.success(request, _("トークンを取り消しました。"))
    else:
        messages.info(request, _("このトークンはすでに無効です。"))
    return redirect("account_tokens")
