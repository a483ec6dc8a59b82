"""`/inbox/`: handoffs waiting for my departments (deadline badges, accept / decline), and the
referrals my departments have taken on (their stage buttons, return, complete)."""

from django.core.paginator import Paginator
from django.shortcuts import render
from django.utils import timezone

from referral_engine import workflow_registry
from referral_engine.access import policy
from referral_engine.cases import selectors, services
from referral_engine.web import labels
from referral_engine.web.errors import domain_errors
from referral_engine.web.views.cases import deadline_badges
from referral_engine.web.views.common import require

PAGE_SIZE = 50


def inbox_rows(user, referrals, now):
    referrals = list(referrals)
    policy.referrals_perms_prefetch(user, referrals)
    rows = []
    for referral in referrals:
        workflow = workflow_registry.get(referral.to_department.code)
        handoff_actions, stage_actions = labels.referral_actions(
            services.referral_available_transitions(referral, user), workflow
        )
        rows.append(
            {
                "referral": referral,
                "badges": deadline_badges(referral, now),
                "handoff_actions": handoff_actions,
                "stage_actions": stage_actions,
                "stage_label": workflow.stage_label(referral.stage) if workflow and referral.stage else "",
            }
        )
    return rows


@domain_errors
def inbox(request):
    user = request.user
    require(policy.principal(user).is_staff_member)
    now = timezone.now()
    pending = Paginator(selectors.referrals_inbox(user), PAGE_SIZE).get_page(request.GET.get("page"))
    working = Paginator(selectors.referrals_in_progress(user), PAGE_SIZE).get_page(request.GET.get("wpage"))
    return render(
        request,
        "web/inbox.html",
        {
            "pending_page": pending,
            "pending": inbox_rows(user, pending.object_list, now),
            "working_page": working,
            "working": inbox_rows(user, working.object_list, now),
            "now": now,
        },
    )
