"""`/slips/`: a connector's つなぎ票 — a big-button form for a phone and the status of their slips
(received / connected / closed; never the case's contents)."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from referral_engine.access import policy
from referral_engine.cases import selectors
from referral_engine.cases.services.slips import slip_submit
from referral_engine.errors import InvalidInput
from referral_engine.web.errors import domain_errors
from referral_engine.web.forms import SlipForm
from referral_engine.web.views.common import require
from referral_engine.web.views.home import slip_rows


@domain_errors
def slips(request):
    user = request.user
    require(policy.can_submit_slip(user), _("つなぎ票を出せるのは地区のつなぎ役です。"))
    district_ids = policy.principal(user).district_ids
    status = 200
    if request.method == "POST":
        form = SlipForm(request.POST, district_ids=district_ids)
        if form.is_valid():
            data = form.cleaned_data
            try:
                slip = slip_submit(
                    actor=user,
                    concern=data["concern"],
                    district=data["district"] or None,
                    name=data["name"],
                    name_kana=data["name_kana"],
                    address_note=data["address_note"],
                    urgency=data["urgency"],
                    person_agreed_to_contact=data["person_agreed_to_contact"],
                )
            except InvalidInput as exc:
                form.add_domain_errors(exc)
            else:
                messages.success(
                    request,
                    _("つなぎ票を受け付けました（受付番号 %(n)s）。市の担当者が確認します。ありがとうございました。")
                    % {"n": slip.pk},
                )
                return redirect("slips")
        status = 400
    else:
        form = SlipForm(district_ids=district_ids)
    return render(
        request,
        "web/slips.html",
        {"form": form, "slips": slip_rows(selectors.slips_of(user)[:50])},
        status=status,
    )
