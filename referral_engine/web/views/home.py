"""`/`: each role's starting point — staff see their work (issue 18: what is assigned to them, the
cases they lead, their departments' waiting handoffs, their follow-ups, setbacks, and for the desk the
untriaged slips, an urgent item at the top), connectors their slips. `/work/<section>/` lists one
section of my work in full."""

from django.http import Http404
from django.shortcuts import render
from django.utils import timezone

from referral_engine.access import policy
from referral_engine.accounts.models import District
from referral_engine.cases import selectors
from referral_engine.cases.choices import SlipStatus
from referral_engine.cases.work import SECTIONS, is_desk_staff, my_work, section_queryset
from referral_engine.pagination import CappedCountPaginator
from referral_engine.web import triage
from referral_engine.web.errors import domain_errors
from referral_engine.web.views.cases import deadline_badges
from referral_engine.web.views.common import require
from referral_engine.web.work_urls import FULL_LIST_URLS

HOME_LIMIT = 10
PAGE_SIZE = 50


def slip_rows(slips):
    """(slip, status code, status label): all a connector may know of a slip."""
    rows = []
    for slip in slips:
        status = selectors.slip_status(slip)
        rows.append((slip, status, SlipStatus(status).label))
    return rows


def _badged(section_name: str, items: list, now) -> list:
    """(item, badges, triage facts): referral rows with their deadline badges (緊急・期限超過・期限間近)
    and what their case says at a glance; led cases with theirs; other rows as they are."""
    if section_name in ("assigned", "inbox", "setbacks"):
        return [(r, deadline_badges(r, now), triage.referral_facts(r, now)) for r in items]
    if section_name == "led_cases":
        return [(case, [], triage.case_row(case, now)) for case in items]
    return [(item, [], {}) for item in items]


@domain_errors
def home(request):
    user = request.user
    p = policy.principal(user)
    context = {"p": p}
    if policy.can_view_inbox(user):
        now = timezone.now()
        work = my_work(user, limit=HOME_LIMIT, now=now)
        context.update(
            work=work,
            rows={name: _badged(name, work[name].items, now) for name in SECTIONS},
            links=FULL_LIST_URLS,
            is_desk=is_desk_staff(user),
            today=work.today,
            now=now,
        )
    if policy.can_submit_slip(user):
        context["slips"] = slip_rows(selectors.slips_of(user)[:HOME_LIMIT])
    if policy.can_list_watch_requests(user) and not p.is_staff_member:
        # A connector's one page for a phone: their slips and their district's watch requests (issue 19).
        context["districts"] = District.objects.filter(pk__in=p.district_ids).order_by("pk")
        context["watch_requests"] = list(selectors.watch_requests_for_connector(user, request=request)[:50])
        return render(request, "web/connector_home.html", context)
    return render(request, "web/home.html", context)


@domain_errors
def work_section(request, section: str):
    """One section of my work in full, paginated (the home page shows the first ten)."""
    user = request.user
    require(policy.can_view_inbox(user))
    if section not in SECTIONS or FULL_LIST_URLS[section] != f"/work/{section}/":
        raise Http404
    now = timezone.now()
    page = CappedCountPaginator(section_queryset(user, section), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "web/work_section.html",
        {
            "section": section,
            "page": page,
            "rows": _badged(section, list(page.object_list), now),
            "today": timezone.localdate(now),
            "now": now,
        },
    )
