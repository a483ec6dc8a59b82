"""`/inbox/`: handoffs waiting for my departments (deadline badges, accept / decline), and the
referrals my departments have taken on (their stage buttons, return, complete)."""

from django.shortcuts import render
from django.utils import timezone

from referral_engine.access import policy
from referral_engine.cases import selectors
from referral_engine.cases import triage as case_triage
from referral_engine.cases.choices import Risk
from referral_engine.cases.services.referrals import referral_available_transitions
from referral_engine.pagination import CappedCountPaginator
from referral_engine.web import labels, triage
from referral_engine.web.errors import domain_errors
from referral_engine.web.views.cases import deadline_badges
from referral_engine.web.views.common import require
from referral_engine.workflow import registry as workflow_registry

# 25 cards a list: a card carries its triage facts and its action forms (about 5 ms of rendering each
# on the bench machine: two lists of 50 took 0.47 s at a million cases), and the lists are sorted most
# pressing first, so the next 25 are one page away.
PAGE_SIZE = 25


def inbox_rows(user, referrals, now):
    referrals = list(referrals)
    policy.referrals_perms_prefetch(user, referrals)
    # Which transitions a row offers depends on the row (its grants, its requester); the buttons and
    # the stage label made of them depend only on the workflow and the names: built once per kind.
    actions: dict = {}
    stage_labels: dict = {}
    rows = []
    for referral in referrals:
        code = referral.to_department.code
        workflow = workflow_registry.get(code)
        names = tuple(referral_available_transitions(referral, user))
        if (code, names) not in actions:
            actions[code, names] = labels.referral_actions(list(names), workflow)
        handoff_actions, stage_actions = actions[code, names]
        if (code, referral.stage) not in stage_labels:
            stage_labels[code, referral.stage] = (
                workflow.stage_label(referral.stage) if workflow and referral.stage else ""
            )
        rows.append(
            {
                "referral": referral,
                "badges": deadline_badges(referral, now),
                "handoff_actions": handoff_actions,
                "stage_actions": stage_actions,
                "stage_label": stage_labels[code, referral.stage],
                "facts": triage.referral_facts(referral, now),
            }
        )
    return rows


@domain_errors
def inbox(request):
    user = request.user
    require(policy.can_view_inbox(user))
    now = timezone.now()
    params = triage.inbox_params(request.GET)
    filters = {"sort": params["sort"], "risk": params["risk"], "assignee": user if params["assignee"] == "me" else None}
    filters["unassigned"] = params["assignee"] == "none"
    pending_qs = case_triage.referrals_triage(selectors.referrals_inbox(user), deadline_field="due_at", **filters)
    working_qs = case_triage.referrals_triage(
        selectors.referrals_in_progress(user), deadline_field="stage_due_at", **filters
    )
    pending = CappedCountPaginator(pending_qs, PAGE_SIZE).get_page(request.GET.get("page"))
    working = CappedCountPaginator(working_qs, PAGE_SIZE).get_page(request.GET.get("wpage"))
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("wpage", None)
    return render(
        request,
        "web/inbox.html",
        {
            "pending_page": pending,
            "pending": inbox_rows(user, pending.object_list, now),
            "working_page": working,
            "working": inbox_rows(user, working.object_list, now),
            "now": now,
            "triage": params,
            "sort_labels": triage.INBOX_SORT_LABELS,
            "risks": Risk.choices,
            "query_string": query.urlencode(),
        },
    )
