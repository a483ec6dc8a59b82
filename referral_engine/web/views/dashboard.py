"""`/dashboard/`: what a supervisor scans for trouble — stalled cases, overdue and soon-due
handoffs, はざま cases, open escalations (acknowledge with a note), per-department counts and two
charts (acceptance time by department, escalations per week), all from `dashboard_data`."""

from datetime import timedelta

from django.contrib import messages
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from referral_engine.access import policy
from referral_engine.cases import selectors
from referral_engine.cases.choices import ReferralState
from referral_engine.errors import InvalidInput
from referral_engine.timers.models import Escalation
from referral_engine.timers.selectors import dashboard_data, escalations_visible_to
from referral_engine.timers.services import escalation_acknowledge
from referral_engine.web import charts
from referral_engine.web.errors import domain_errors
from referral_engine.web.forms import EscalationAcknowledgeForm
from referral_engine.web.replica import replica_reads
from referral_engine.web.templatetags.wareki import wareki_short
from referral_engine.web.views.common import require

ESCALATION_LIMIT = 50
FEEDBACK_LIMIT = 20
FEEDBACK_DAYS = 14


def _charts(data: dict) -> dict:
    acceptance = [
        charts.Bar(row["department"]["name"], row["median_hours"], _("%(n)d件") % {"n": row["accepted"]})
        for row in data["acceptance_hours_by_department"]
    ]
    weeks = [charts.Bar(wareki_short(row["week"]), row["count"]) for row in data["escalations_per_week"]]
    return {
        "acceptance_rows": acceptance,
        # Each label on its own line above its bar: long department names never overlap the bars (390 px).
        "acceptance_svg": charts.labelled_bar_chart(
            acceptance, title=_("つなぎの受理までの時間（中央値・時間）"), unit=_("時間")
        )
        if acceptance
        else None,
        "weekly_rows": weeks,
        "weekly_svg": charts.column_chart(weeks, title=_("週ごとのエスカレーション件数")),
    }


# Stands for the escalation's id in the note field rendered once for every row (digits never contain it).
BLANK_ID = "__escalation__"


@replica_reads
@domain_errors
def dashboard(request, ack_form=None, ack_id=None, status=200):
    user = request.user
    require(policy.can_view_dashboard(user))
    data = dashboard_data(user=user)
    escalations = list(
        escalations_visible_to(user).filter(state=Escalation.State.OPEN).order_by("-level", "due_at")[:ESCALATION_LIMIT]
    )
    # The feedback loop (DESIGN §3.2): declines and returns of the last two weeks, with their reasons.
    since = timezone.now() - timedelta(days=FEEDBACK_DAYS)
    setbacks = list(
        selectors.referrals_visible_to(user)
        .filter(state__in=[ReferralState.DECLINED, ReferralState.RETURNED], updated_at__gte=since)
        .order_by("-updated_at", "-id")[:FEEDBACK_LIMIT]
    )
    rows = [
        {
            "escalation": e,
            "can_ack": policy.can_acknowledge_escalation(user, e),
            "form": ack_form if (ack_form is not None and e.pk == ack_id) else None,
        }
        for e in escalations
    ]
    # Every row's empty note field is the same HTML but for its id: rendered once, not once per
    # escalation (50 widget renders were a fifth of the page's time at a million cases), then each
    # row gets its own id so every label points at its own field.
    if any(row["can_ack"] and row["form"] is None for row in rows):
        blank = EscalationAcknowledgeForm(auto_id=f"id_ack_{BLANK_ID}_%s")["note"]
        blank_note = render_to_string("includes/_field.html", {"field": blank}, request=request)
        for row in rows:
            row["blank_note"] = mark_safe(blank_note.replace(BLANK_ID, str(row["escalation"].pk)))  # noqa: S308
    return render(
        request,
        "web/dashboard.html",
        {"data": data, "escalations": rows, "setbacks": setbacks, **_charts(data)},
        status=status,
    )


@require_POST
@domain_errors
def escalation_ack(request, escalation_id: int):
    form = EscalationAcknowledgeForm(request.POST)
    if form.is_valid():
        try:
            escalation_acknowledge(escalation_id=escalation_id, actor=request.user, note=form.cleaned_data["note"])
        except InvalidInput as exc:
            form.add_domain_errors(exc)
        else:
            messages.success(request, _("エスカレーションを確認済みにしました。"))
            return redirect("dashboard")
    messages.error(request, _("確認メモを入力してください。"))
    return dashboard(request, ack_form=form, ack_id=escalation_id, status=400)
