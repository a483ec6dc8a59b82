"""`/`: each role's starting point — staff see their inbox and their cases, connectors their slips."""

from django.shortcuts import render

from referral_engine.access import policy
from referral_engine.accounts.models import District
from referral_engine.cases import selectors
from referral_engine.cases.choices import CaseState, SlipStatus
from referral_engine.web.errors import domain_errors

HOME_LIMIT = 10


def slip_rows(slips):
    """(slip, status code, status label): all a connector may know of a slip."""
    rows = []
    for slip in slips:
        status = selectors.slip_status(slip)
        rows.append((slip, status, SlipStatus(status).label))
    return rows


@domain_errors
def home(request):
    user = request.user
    p = policy.principal(user)
    context = {"p": p}
    if policy.can_view_inbox(user):
        inbox = selectors.referrals_inbox(user)
        in_progress = selectors.referrals_in_progress(user)
        context.update(
            inbox=list(inbox[:HOME_LIMIT]),
            inbox_count=inbox.count(),
            in_progress_count=in_progress.count(),
            # "My cases": the open cases I am the lead worker of.
            my_cases=list(
                selectors.cases_visible_to(user).filter(lead_worker=user).exclude(state=CaseState.CLOSED)[:20]
            ),
        )
    if policy.can_submit_slip(user):
        context["slips"] = slip_rows(selectors.slips_of(user)[:HOME_LIMIT])
    if policy.can_list_watch_requests(user) and not p.is_staff_member:
        # A connector's one page for a phone: their slips and their district's watch requests (issue 19).
        context["districts"] = District.objects.filter(pk__in=p.district_ids).order_by("pk")
        context["watch_requests"] = list(selectors.watch_requests_for_connector(user, request=request)[:50])
        return render(request, "web/connector_home.html", context)
    return render(request, "web/home.html", context)
