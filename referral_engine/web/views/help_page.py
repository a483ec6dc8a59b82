"""`/help/`: a short page in plain Japanese on the escalation levels L1/L2/L3, はざま and follow-ups
(予定), linked from the header and the dashboard. Every signed-in role may read it."""

from django.shortcuts import render
from django.urls import reverse

from referral_engine.access import policy
from referral_engine.web.views.common import require


def help_page(request):
    require(policy.can_read_help(request.user))
    return render(request, "web/help.html", {"settings_url": reverse("account_settings")})
