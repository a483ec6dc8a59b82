"""/disaster/: the safety-check board (安否確認). Staff see every district; a connector (on a phone)
sees their own district's list while the event is open and marks people in a tap or two. The board's
counts refresh by htmx polling; a printable list per district and a CSV of the unconfirmed are for
when power or the network fails. Every read of the people's list is in the access log."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from referral_engine.access import policy
from referral_engine.accounts.models import District
from referral_engine.audit.exports import csv_response
from referral_engine.audit.models import AccessLog
from referral_engine.audit.services import access_log_record
from referral_engine.cases.services.person_choice import person_choice_issue
from referral_engine.disasters import selectors, services
from referral_engine.disasters.models import CheckStatus, DisasterKind
from referral_engine.errors import InvalidInput
from referral_engine.web.errors import domain_errors
from referral_engine.web.views.common import require


class DisasterOpenForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("名称"), max_length=services.NAME_MAX_LENGTH)
    kind = forms.ChoiceField(label=gettext_lazy("種別"), choices=DisasterKind.choices)
    districts = forms.ModelMultipleChoiceField(
        label=gettext_lazy("対象の地区"),
        queryset=District.objects.filter(is_active=True).order_by("id"),
        to_field_name="code",
        widget=forms.CheckboxSelectMultiple,
    )


class SafetyCheckForm(forms.Form):
    status = forms.ChoiceField(label=gettext_lazy("状況"), choices=CheckStatus.choices)
    note = forms.CharField(label=gettext_lazy("メモ"), max_length=services.NOTE_MAX_LENGTH, required=False)


def _log(request, disaster, what: str = "disaster") -> None:
    access_log_record(
        user=request.user, action=AccessLog.Action.VIEW, object_type=what, object_id=disaster.pk, request=request
    )


@domain_errors
def disaster_index(request):
    """The events I may see; the open form for those who may open one."""
    user = request.user
    form = DisasterOpenForm()
    status = 200
    if request.method == "POST":
        require(policy.can_open_disaster(user), _("災害対応を開始できるのは防災の係長・班長とシステム管理者です。"))
        form = DisasterOpenForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                disaster = services.disaster_open(
                    actor=user,
                    name=data["name"],
                    kind=data["kind"],
                    district_codes=[d.code for d in data["districts"]],
                )
            except InvalidInput as exc:
                for field, errors in exc.fields.items():
                    for error in errors:
                        form.add_error(field if field in form.fields else None, error)
            else:
                messages.success(request, _("災害対応を開始しました。安否確認の対象者を一覧にしました。"))
                return redirect("disasters:board", disaster.pk)
        status = 400
    events = selectors.disasters_visible(user)
    p = policy.principal(user)
    if p.is_connector and not p.is_staff_member and len(events) == 1:
        return redirect("disasters:board", events[0].pk)
    return render(
        request,
        "disasters/index.html",
        {"events": events, "form": form, "can_open": policy.can_open_disaster(user)},
        status=status,
    )


@domain_errors
def disaster_board(request, disaster_id: int):
    """The board (counts by district and status) and the people: staff filter by district and status;
    a connector sees their district's list with a status form on each row."""
    user = request.user
    disaster = selectors.disaster_get(user, disaster_id)
    district = request.GET.get("district", "")[:50]
    status = request.GET.get("status", "")
    if status not in CheckStatus.values:
        status = ""
    checks = list(selectors.safety_checks(user, disaster, district=district, status=status)[:500])
    if policy.can_open_case(user):
        # "Open a case" for someone who needs help: the board offered this person to this user, and the
        # link carries that proof (an intake for an existing person needs it: cases/services/person_choice.py).
        for check in checks:
            if check.status == CheckStatus.NEEDS_HELP:
                check.choice = person_choice_issue(user, check.person_id)
    _log(request, disaster)
    return render(
        request,
        "disasters/board.html",
        {
            "disaster": disaster,
            "board": selectors.board(user, disaster),
            "checks": checks,
            "district": district,
            "status": status,
            "statuses": CheckStatus.choices,
            "can_update": disaster.is_open and any(policy.can_update_safety_check(user, c) for c in checks[:1]),
            "can_close": disaster.is_open and policy.can_open_disaster(user),
            "summary": selectors.summary(user, disaster),
            "poll_seconds": _poll_seconds(),
        },
    )


@domain_errors
def disaster_board_counts(request, disaster_id: int):
    """The board's counts alone (htmx polls it every DISASTER_BOARD_POLL_SECONDS)."""
    disaster = selectors.disaster_get(request.user, disaster_id)
    return render(
        request,
        "disasters/_counts.html",
        {"disaster": disaster, "board": selectors.board(request.user, disaster), "poll_seconds": _poll_seconds()},
    )


def _poll_seconds() -> int:
    return max(1, int(getattr(settings, "DISASTER_BOARD_POLL_SECONDS", 15)))


@domain_errors
def disaster_print(request, disaster_id: int, district: str):
    """A district's list on A4 for the supporters: name, address, supporters, destination, a column to tick."""
    disaster = selectors.disaster_get(request.user, disaster_id)
    checks = list(selectors.safety_checks(request.user, disaster, district=district))
    access_log_record(
        user=request.user, action=AccessLog.Action.PRINT, object_type="disaster", object_id=disaster.pk, request=request
    )
    return render(request, "disasters/print.html", {"disaster": disaster, "checks": checks, "district": district})


@domain_errors
def disaster_unconfirmed_csv(request, disaster_id: int):
    """The people not yet confirmed, as CSV for Excel (UTF-8 with a BOM)."""
    disaster = selectors.disaster_get(request.user, disaster_id)
    checks = selectors.safety_checks(request.user, disaster, status=CheckStatus.UNCONFIRMED)
    access_log_record(
        user=request.user,
        action=AccessLog.Action.EXPORT,
        object_type="disaster",
        object_id=disaster.pk,
        request=request,
    )
    headers = [_("地区"), _("氏名"), _("住所"), _("避難支援者"), _("避難先"), _("状況")]
    rows = (
        [c.district.name, c.person.full_name, c.person.address, c.supporters, c.destination, c.get_status_display()]
        for c in checks.iterator()
    )
    return csv_response(f"unconfirmed-{disaster.pk}.csv", headers, rows)


@require_POST
@domain_errors
def safety_check_post(request, check_id: int):
    form = SafetyCheckForm(request.POST)
    check = selectors.safety_check_get(request.user, check_id)
    if form.is_valid():
        try:
            services.safety_check_update(
                actor=request.user,
                check_id=check.pk,
                status=form.cleaned_data["status"],
                note=form.cleaned_data["note"],
            )
        except InvalidInput as exc:
            messages.error(request, " ".join(sum(exc.fields.values(), [])) or str(exc.message))
        else:
            messages.success(
                request,
                _("%(name)sさんの安否を「%(status)s」と記録しました。")
                % {"name": check.person.full_name, "status": CheckStatus(form.cleaned_data["status"]).label},
            )
    else:
        messages.error(request, _("状況を選んでください。"))
    target = reverse("disasters:board", kwargs={"disaster_id": check.disaster_id})
    back = request.POST.get("back", "")
    if back.startswith("?") and len(back) < 200:
        target += back
    return redirect(target + f"#check-{check.pk}")


@require_POST
@domain_errors
def disaster_close_post(request, disaster_id: int):
    services.disaster_close(actor=request.user, disaster_id=disaster_id)
    messages.success(request, _("災害対応を終了しました。つなぎ役の閲覧はできなくなりました。"))
    return redirect("disasters:board", disaster_id)
