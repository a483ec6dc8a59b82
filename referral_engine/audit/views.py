"""Auditor pages under /audit/ (DESIGN §6, §8.2). Only auditors: others get 404 (the pages are hidden);
auditors get 403 on any write. Every page view is itself logged: reading the access log is a search,
a case's history is a view of the case, a user's activity is a view of the user, a CSV is an export."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from referral_engine import errors
from referral_engine.access import policy
from referral_engine.accounts.models import Department
from referral_engine.audit import exports, history_read, labels, selectors, services, timeline
from referral_engine.audit.models import AccessLog
from referral_engine.audit.selectors import AccessLogFilter
from referral_engine.cases.selectors import person_search_rate
from referral_engine.errors import InvalidInput
from referral_engine.web.errors import error_page
from referral_engine.web.replica import replica_reads

PAGE_SIZE = 50
USER_CHANGES_LIMIT = 200


def auditor_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Auditors only, reads only; asked of the primary, then the page reads from the replica when there
    is one (referral_engine/replica.py: the access-log rows the page writes go to the primary)."""
    reading = replica_reads(view)

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not policy.can_audit(request.user):
            raise Http404
        if request.method not in ("GET", "HEAD"):
            raise PermissionDenied  # auditors change nothing
        try:
            return reading(request, *args, **kwargs)
        except errors.NotFound as exc:
            raise Http404 from exc

    return wrapper


def _departments() -> list[Any]:
    return list(Department.objects.order_by("id").only("code", "name_ja"))


def _filter_context(filters: AccessLogFilter) -> dict[str, Any]:
    return {
        "filters": filters,
        "filter_params": filters.as_params(),
        "filter_query": urlencode(filters.as_params()),
        "departments": _departments(),
        "actions": AccessLog.Action.choices,
    }


def _bad_filters(request: HttpRequest, filters: AccessLogFilter) -> HttpResponse | None:
    """A filter the auditor mistyped (a date outside the years, text for an id) is a 400 that says
    which field, never a list that silently ignores it (an unfiltered CSV would look filtered)."""
    if not filters.errors:
        return None
    return error_page(
        request,
        InvalidInput(_("絞り込みの条件を確認してください。"), fields={k: [v] for k, v in filters.errors.items()}),
    )


def _filter_status(filters: AccessLogFilter) -> int:
    return 400 if filters.errors else 200


def _page(request: HttpRequest, items: Any) -> Any:
    return Paginator(items, PAGE_SIZE).get_page(request.GET.get("page"))


def _log_page(request: HttpRequest, rows: Any) -> Any:
    """A page of access-log rows with their labels (audit/labels.py): no codes on the screen."""
    page = _page(request, rows)
    page.object_list = labels.access_logs_labelled(page.object_list)
    return page


def _stamp() -> str:
    return timezone.localtime().strftime("%Y%m%d-%H%M")


@auditor_only
def index(request: HttpRequest) -> HttpResponse:
    filters = AccessLogFilter.from_params(request.GET)
    services.access_log_search(user=request.user, terms={}, object_type="access_log", request=request)
    recent = labels.access_logs_labelled(selectors.access_log_list(user=request.user, filters=AccessLogFilter())[:20])
    return render(
        request, "audit/index.html", {**_filter_context(filters), "recent": recent}, status=_filter_status(filters)
    )


@auditor_only
def access_log(request: HttpRequest) -> HttpResponse:
    filters = AccessLogFilter.from_params(request.GET)
    # Logged first: the page counts rows before the template reads them.
    services.access_log_search(user=request.user, terms=filters.as_params(), object_type="access_log", request=request)
    rows = selectors.access_log_list(user=request.user, filters=filters)
    page = _log_page(request, rows.none() if filters.errors else rows)
    return render(
        request, "audit/access_log.html", {**_filter_context(filters), "page": page}, status=_filter_status(filters)
    )


@auditor_only
def access_log_export(request: HttpRequest) -> HttpResponse:
    filters = AccessLogFilter.from_params(request.GET)
    if refused := _bad_filters(request, filters):
        return refused
    rows = selectors.access_log_list(user=request.user, filters=filters)
    services.access_log_export(
        user=request.user, object_type="access_log", terms=filters.as_params(), case_id=filters.case_id, request=request
    )
    return exports.csv_response(
        f"access-log-{_stamp()}.csv",
        exports.ACCESS_LOG_HEADERS,
        exports.access_log_rows(rows.iterator(chunk_size=2000)),
    )


@auditor_only
def case_lookup(request: HttpRequest) -> HttpResponse:
    number = (request.GET.get("number") or "").strip()
    if number.isascii() and number.isdigit() and len(number) <= 18:
        return redirect("audit:case_history", case_id=int(number))
    case = selectors.case_by_number(user=request.user, number=number)
    return redirect("audit:case_history", case_id=case.pk)


@auditor_only
def case_history(request: HttpRequest, case_id: int) -> HttpResponse:
    case = selectors.case_for_audit(user=request.user, case_id=case_id)
    services.access_log_view(user=request.user, obj=case, request=request)
    entries = history_read.case_history(case=case, reader=request.user)
    access = labels.access_logs_labelled(
        selectors.access_log_list(user=request.user, filters=AccessLogFilter(case_id=case.pk))[:PAGE_SIZE]
    )
    return render(
        request,
        "audit/case_history.html",
        {"case": case, "entries": entries, "access": access, "access_more_url": _access_url(case=case.pk)},
    )


@auditor_only
def case_history_export(request: HttpRequest, case_id: int) -> HttpResponse:
    case = selectors.case_for_audit(user=request.user, case_id=case_id)
    entries = history_read.case_history(case=case, reader=request.user)
    services.access_log_export(user=request.user, object_type="case_history", obj=case, request=request)
    return exports.csv_response(
        f"case-history-{case.number}-{_stamp()}.csv", exports.TIMELINE_HEADERS, exports.timeline_rows(entries)
    )


@auditor_only
def user_list(request: HttpRequest) -> HttpResponse:
    q = (request.GET.get("q") or "").strip()
    users = get_user_model().objects.order_by("username")
    if q:
        users = users.filter(Q(username__icontains=q) | Q(display_name__icontains=q))
        services.access_log_search(user=request.user, terms={"q": q}, object_type="user", request=request)
    return render(
        request,
        "audit/user_list.html",
        {"q": q, "page": _page(request, users), "filter_query": urlencode({"q": q}) if q else ""},
    )


@auditor_only
def user_activity(request: HttpRequest, user_id: int) -> HttpResponse:
    target = selectors.audited_user_get(user=request.user, user_id=user_id)
    base = AccessLogFilter.from_params(request.GET)
    filters = AccessLogFilter(
        since=base.since, until=base.until, user=str(target.pk), action=base.action, errors=base.errors
    )
    services.access_log_view(user=request.user, obj=target, request=request)  # before the page counts rows
    rows = selectors.access_log_list(user=request.user, filters=filters)
    page = _log_page(request, rows.none() if filters.errors else rows)
    changes = (
        []
        if filters.errors
        else timeline.user_changes(
            user_id=target.pk, since=filters.since, until=filters.until, limit=USER_CHANGES_LIMIT
        )
    )
    query = {k: v for k, v in filters.as_params().items() if k != "user"}
    return render(
        request,
        "audit/user_activity.html",
        {
            **_filter_context(filters),
            "target": target,
            "page": page,
            "changes": changes,
            "changes_limit": USER_CHANGES_LIMIT,
            "filter_query": urlencode(query),
        },
        status=_filter_status(filters),
    )


@auditor_only
def user_access_export(request: HttpRequest, user_id: int) -> HttpResponse:
    target = selectors.audited_user_get(user=request.user, user_id=user_id)
    base = AccessLogFilter.from_params(request.GET)
    if refused := _bad_filters(request, base):
        return refused
    filters = AccessLogFilter(since=base.since, until=base.until, user=str(target.pk), action=base.action)
    rows = selectors.access_log_list(user=request.user, filters=filters)
    services.access_log_export(
        user=request.user, object_type="user_access_log", obj=target, terms=filters.as_params(), request=request
    )
    return exports.csv_response(
        f"user-access-{target.username}-{_stamp()}.csv",
        exports.ACCESS_LOG_HEADERS,
        exports.access_log_rows(rows.iterator(chunk_size=2000)),
    )


@auditor_only
def user_changes_export(request: HttpRequest, user_id: int) -> HttpResponse:
    target = selectors.audited_user_get(user=request.user, user_id=user_id)
    base = AccessLogFilter.from_params(request.GET)
    if refused := _bad_filters(request, base):
        return refused
    entries = timeline.user_changes(user_id=target.pk, since=base.since, until=base.until, limit=10_000)
    services.access_log_export(
        user=request.user,
        object_type="user_changes",
        obj=target,
        terms=AccessLogFilter(since=base.since, until=base.until).as_params(),
        request=request,
    )
    return exports.csv_response(
        f"user-changes-{target.username}-{_stamp()}.csv", exports.TIMELINE_HEADERS, exports.timeline_rows(entries)
    )


def _search_volume_period(request: HttpRequest) -> tuple[AccessLogFilter, Any, Any]:
    filters = AccessLogFilter.from_params(request.GET)
    since = filters.since or timezone.localdate() - dt.timedelta(days=selectors.SEARCH_VOLUME_DAYS - 1)
    return filters, since, filters.until


@auditor_only
def search_volume(request: HttpRequest) -> HttpResponse:
    """Person searches per user and day: a scraping pattern (thousands a day, a minute at the limit,
    refusals) stands out, marked and first."""
    filters, since, until = _search_volume_period(request)
    params = {"since": since.isoformat(), **({"until": until.isoformat()} if until else {})}
    services.access_log_search(user=request.user, terms=params, object_type="search_volume", request=request)
    rows = selectors.person_search_volume(user=request.user, since=since, until=until)
    allowed, seconds = person_search_rate()
    return render(
        request,
        "audit/search_volume.html",
        {
            "rows": rows,
            "since": since,
            "until": until,
            "errors": filters.errors,
            "filter_query": urlencode(params),
            "alert_per_day": selectors.SEARCH_VOLUME_ALERT_PER_DAY,
            "throttle": f"{allowed}/{seconds}s",
        },
    )


@auditor_only
def search_volume_export(request: HttpRequest) -> HttpResponse:
    _filters, since, until = _search_volume_period(request)
    params = {"since": since.isoformat(), **({"until": until.isoformat()} if until else {})}
    rows = selectors.person_search_volume(user=request.user, since=since, until=until)
    services.access_log_export(user=request.user, object_type="search_volume", terms=params, request=request)
    return exports.csv_response(
        f"search-volume-{_stamp()}.csv", exports.SEARCH_VOLUME_HEADERS, exports.search_volume_rows(rows)
    )


def _access_url(**params: Any) -> str:
    return f"{reverse('audit:access_log')}?{urlencode(params)}"


@auditor_only
def denied(request: HttpRequest) -> HttpResponse:
    """Who was denied what, when: reads of cases, persons and referrals that answered 404 (a scan of
    ids shows here). Filters as the access log's; the per-user totals count the summary rows too."""
    filters = AccessLogFilter.from_params(request.GET)
    services.access_log_search(user=request.user, terms=filters.as_params(), object_type="denied", request=request)
    rows = selectors.denied_list(user=request.user, filters=filters)
    page = _log_page(request, rows.none() if filters.errors else rows)
    by_user = [] if filters.errors else selectors.denied_by_user(user=request.user, filters=filters)
    return render(
        request,
        "audit/denied.html",
        {
            **_filter_context(filters),
            "page": page,
            "by_user": by_user,
            "per_minute": settings.ACCESS_LOG_DENIED_PER_MINUTE,
        },
        status=_filter_status(filters),
    )


@auditor_only
def denied_export(request: HttpRequest) -> HttpResponse:
    filters = AccessLogFilter.from_params(request.GET)
    if refused := _bad_filters(request, filters):
        return refused
    rows = selectors.denied_list(user=request.user, filters=filters)
    services.access_log_export(user=request.user, object_type="denied", terms=filters.as_params(), request=request)
    return exports.csv_response(
        f"denied-{_stamp()}.csv", exports.ACCESS_LOG_HEADERS, exports.access_log_rows(rows.iterator(chunk_size=2000))
    )
