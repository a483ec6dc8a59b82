"""The figures of a fiscal-year report (DESIGN §11.6; every definition in docs/reports.md).

A cohort view: the consultations (cases) *opened* in the fiscal year and the referrals *requested*
in it, each counted by its state when the report is made. A handful of grouped queries on the
year's range, whatever the size of the data:

1. the year's cases, one pass: total, by channel, window, district and month, はざま, closures by
   reason — every bucket a `COUNT(…) FILTER (WHERE …)` of the same scan (CASE WHEN on SQLite);
2. the year's cases by need: `needs` is a JSON list, unnested with a lateral
   `jsonb_array_elements_text` on PostgreSQL (counted in Python on SQLite);
3. the year's referrals grouped by receiving department and state;
4. acceptance time: `percentile_cont` 0.5 and 0.9 on PostgreSQL (the same interpolation in Python
   on SQLite);
5. the year's community slips.
"""

from __future__ import annotations

import copy
import math
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection, connections, router, transaction
from django.db.models import Aggregate, Count, DurationField, ExpressionWrapper, F, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from referral_engine.access import policy
from referral_engine.access.policy import ReportScope
from referral_engine.accounts.models import Department, District
from referral_engine.cases.choices import Channel, ClosureReason, Need, ReferralState
from referral_engine.cases.models import Case, CommunitySlip, Referral, WatchRequest
from referral_engine.errors import Forbidden, NotFound
from referral_engine.reports.periods import FiscalYear

# Referrals that were accepted at some point: their `responded_at` is the moment of acceptance.
ACCEPTED_AT_SOME_POINT = (ReferralState.ACCEPTED, ReferralState.COMPLETED, ReferralState.RETURNED)
REFERRAL_STATES = ("requested", "accepted", "declined", "returned", "completed", "cancelled")
UNKNOWN_DISTRICT = "unknown"  # the person has no district on record


class PercentileCont(Aggregate):
    """PostgreSQL's `percentile_cont(f) WITHIN GROUP (ORDER BY x)` (linear interpolation)."""

    function = "PERCENTILE_CONT"
    name = "PercentileCont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"

    def __init__(self, expression: Any, fraction: float, **extra: Any) -> None:
        super().__init__(expression, fraction=repr(float(fraction)), **extra)


def percentile_cont(values: list[float], fraction: float) -> float | None:
    """The same figure as PostgreSQL's percentile_cont: the value at position f·(n−1) of the sorted
    values, interpolated linearly between its neighbours."""
    if not values:
        return None
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


# --- Entry points ---------------------------------------------------------------------------------


def report_fiscal_year(year: int) -> FiscalYear:
    """The fiscal year named by its April, or NotFound outside the years the system can hold."""
    fy = FiscalYear(year)
    if not fy.is_supported:
        raise NotFound(_("その年度の報告はありません。"))
    return fy


def report_scope_for(user: Any) -> ReportScope:
    if not policy.can_view_reports(user):
        raise Forbidden(_("年度報告は係長・班長、監査担当、システム管理者だけが見られます。"))
    return policy.report_scope(user)


def fiscal_year_report(*, user: Any, year: int, compare: bool = False, now: datetime | None = None) -> dict:
    """The report of fiscal year `year` (its April) as `user` may see it; with `compare`, the
    previous year's figures under "previous". Forbidden for roles without reports, NotFound for a
    year out of range."""
    scope = report_scope_for(user)
    fy = report_fiscal_year(year)
    report = report_figures(scope=scope, fy=fy, now=now)
    if compare:
        previous = fy.previous
        report["previous"] = report_figures(scope=scope, fy=previous, now=now) if previous.is_supported else None
    return report


def report_first_year() -> int:
    """The earliest fiscal year with a case (the current one when there is none): the year picker."""
    first = Case.objects.order_by("created_at").values_list("created_at", flat=True).first()
    return FiscalYear.of(first).year if first else FiscalYear.current().year


def report_figures(*, scope: ReportScope, fy: FiscalYear, now: datetime | None = None) -> dict:
    """One year's figures for one scope. Kept REPORT_FIGURES_SECONDS (default 300) per scope and
    year, so the page, its print layout, the CSV and the Excel file made right after it read the
    same figures once; `generated_at` says when they were counted. A report for a given `now`
    (tests) is never cached."""
    seconds = getattr(settings, "REPORT_FIGURES_SECONDS", 0)
    key = f"report-figures:{fy.year}:" + ("all" if scope.all else ",".join(map(str, sorted(scope.department_ids))))
    if now is None and seconds > 0:
        cached = cache.get(key)
        if cached is not None:
            return copy.deepcopy(cached)
    # The database the figures are read from: the replica inside the report's pages (web/replica.py).
    alias = router.db_for_read(Case)
    with transaction.atomic(using=alias):
        if connections[alias].vendor == "postgresql":
            # A few cheap expressions over many rows: compiling them (JIT) would cost more than it
            # saves at a million cases.
            with connections[alias].cursor() as cursor:
                cursor.execute("SET LOCAL jit = off")
        figures = _report_figures(scope, fy, now)
    if now is None and seconds > 0:
        cache.set(key, figures, seconds)
    return figures


def _report_figures(scope: ReportScope, fy: FiscalYear, now: datetime | None) -> dict:
    departments = list(Department.objects.order_by("id").values_list("id", "code"))
    districts = list(District.objects.order_by("id").values_list("id", "code"))
    department_codes = dict(departments)
    cases = report_cases(scope, fy)
    case_figures = _case_figures(cases, fy, departments, districts)
    referrals = report_referrals(scope, fy)
    return {
        "fiscal_year": fy.year,
        "label": fy.label_ja,
        "period": {"start": fy.start.isoformat(), "end": fy.last_moment.isoformat()},
        "generated_at": timezone.localtime(now or timezone.now()).isoformat(),
        "scope": {
            "all": scope.all,
            "departments": sorted(department_codes[d] for d in scope.department_ids if d in department_codes),
        },
        "consultations": {
            "total": case_figures["total"],
            "by_channel": case_figures["by_channel"],
            "by_window": case_figures["by_window"],
            "by_need": _by_need(cases),
            "by_district": case_figures["by_district"],
            "by_month": case_figures["by_month"],
        },
        "referrals": {
            **_referral_counts(referrals, departments),
            "acceptance_hours": _acceptance_hours(referrals),
        },
        "gap_cases": case_figures["gap_cases"],
        "closures": case_figures["closures"],
        "community_slips": _community_slips(scope, fy, cases),
        "watch_requests": _watch_requests_count(scope, fy),
    }


# --- What a scope counts --------------------------------------------------------------------------


def report_cases(scope: ReportScope, fy: FiscalYear) -> QuerySet[Case]:
    """Cases opened in the year. A department's scope: cases whose intake window or lead department
    is one of its departments, or that were referred to one of them (in any state)."""
    qs = Case.objects.filter(created_at__gte=fy.start, created_at__lt=fy.end)
    if scope.all:
        return qs
    ids = sorted(scope.department_ids)
    # A case is referred after it is opened: referrals from the year's start on are enough (the
    # planner hashes this set once instead of probing the referrals for every case).
    referred = Referral.objects.filter(to_department_id__in=ids, created_at__gte=fy.start).values("case_id")
    return qs.filter(Q(intake_department_id__in=ids) | Q(lead_department_id__in=ids) | Q(pk__in=referred))


def report_referrals(scope: ReportScope, fy: FiscalYear) -> QuerySet[Referral]:
    """Referrals requested in the year. A department's scope: those to it or from it."""
    qs = Referral.objects.filter(created_at__gte=fy.start, created_at__lt=fy.end)
    if scope.all:
        return qs
    ids = sorted(scope.department_ids)
    return qs.filter(Q(to_department_id__in=ids) | Q(from_department_id__in=ids))


# --- The figures ----------------------------------------------------------------------------------


def _case_figures(
    cases: QuerySet[Case], fy: FiscalYear, departments: list[tuple[int, str]], districts: list[tuple[int, str]]
) -> dict:
    """One scan of the year's cases: every bucket is a filtered count of the same rows."""
    buckets: dict[str, tuple[str, str, Q]] = {}

    def bucket(figure: str, key: str, condition: Q) -> None:
        buckets[f"b{len(buckets)}"] = (figure, key, condition)

    for code in Channel.values:
        bucket("by_channel", code, Q(channel=code))
    for pk, code in departments:
        bucket("by_window", code, Q(intake_department_id=pk))
    for pk, code in districts:
        bucket("by_district", code, Q(person__district_id=pk))
    bucket("by_district", UNKNOWN_DISTRICT, Q(person__district_id__isnull=True))
    for month in fy.months():
        bucket("by_month", month.key, Q(created_at__gte=month.start, created_at__lt=month.end))
    for code in ClosureReason.values:
        bucket("closures", code, Q(state="closed", closure_reason=code))
    bucket("gap_cases", "", Q(is_gap=True))
    bucket("closed", "", Q(state="closed"))

    row = cases.order_by().aggregate(
        total=Count("*"), **{alias: Count("id", filter=condition) for alias, (_f, _k, condition) in buckets.items()}
    )
    figures: dict[str, Any] = {"total": row["total"], "by_channel": {}, "by_window": {}, "by_district": {}}
    figures["by_month"] = {}
    by_reason: dict[str, int] = {}
    for alias, (figure, key, _condition) in buckets.items():
        if figure == "closures":
            by_reason[key] = row[alias]
        elif figure in ("gap_cases", "closed"):
            figures[figure] = row[alias]
        else:
            figures[figure][key] = row[alias]
    figures["closures"] = {"total": figures.pop("closed"), "by_reason": by_reason}
    return figures


def _by_need(cases: QuerySet[Case]) -> dict[str, int]:
    """Cases per need: a case with several needs counts once under each (so the sum can exceed the
    total); a need listed twice on one case counts once."""
    counts: Counter[str] = Counter()
    db = connections[cases.db]  # the replica inside the report's pages
    if db.vendor == "postgresql":
        sql, params = cases.order_by().values("needs").query.sql_with_params()
        with db.cursor() as cursor:
            cursor.execute(
                "SELECT e.need, COUNT(*) FROM (" + sql + ") AS c "  # noqa: S608 - the ORM's own SQL, params bound
                "CROSS JOIN LATERAL (SELECT DISTINCT value FROM jsonb_array_elements_text("
                "CASE WHEN jsonb_typeof(c.needs) = 'array' THEN c.needs ELSE '[]'::jsonb END)) AS e(need) "
                "GROUP BY e.need",
                params,
            )
            counts.update(dict(cursor.fetchall()))
    else:
        for needs in cases.order_by().values_list("needs", flat=True).iterator(chunk_size=5000):
            if isinstance(needs, list):
                counts.update({str(n) for n in needs})
    return {code: counts.get(code, 0) for code in Need.values}


def _referral_counts(referrals: QuerySet[Referral], departments: list[tuple[int, str]]) -> dict:
    by_department = {code: dict.fromkeys(REFERRAL_STATES, 0) for _pk, code in departments}
    codes = dict(departments)
    total = 0
    for row in referrals.order_by().values("to_department_id", "state").annotate(n=Count("*")):
        total += row["n"]
        if row["state"] in REFERRAL_STATES:
            by_department[codes[row["to_department_id"]]][row["state"]] += row["n"]
    return {"total": total, "by_department": by_department}


def _hours(value: timedelta | float | None) -> float | None:
    if value is None:
        return None
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    return round(seconds / 3600, 1)


def _acceptance_hours(referrals: QuerySet[Referral]) -> dict:
    """Hours from the request to the acceptance (wall-clock, not office hours) of the year's
    referrals that were accepted at some point (accepted, completed, returned)."""
    accepted = referrals.filter(state__in=ACCEPTED_AT_SOME_POINT, responded_at__isnull=False).order_by()
    if connection.vendor == "postgresql":
        waited = ExpressionWrapper(F("responded_at") - F("created_at"), output_field=DurationField())
        row = accepted.aggregate(
            count=Count("*"),
            median=PercentileCont(waited, 0.5, output_field=DurationField()),
            p90=PercentileCont(waited, 0.9, output_field=DurationField()),
        )
        return {"median": _hours(row["median"]), "p90": _hours(row["p90"]), "count": row["count"]}
    seconds = [
        (responded - created).total_seconds()
        for created, responded in accepted.values_list("created_at", "responded_at").iterator(chunk_size=5000)
    ]
    return {
        "median": _hours(percentile_cont(seconds, 0.5)),
        "p90": _hours(percentile_cont(seconds, 0.9)),
        "count": len(seconds),
    }


def _community_slips(scope: ReportScope, fy: FiscalYear, cases: QuerySet[Case]) -> int:
    """つなぎ票 received in the year (a slip opens its case at the same moment); a department's scope
    counts the slips whose case it sees."""
    slips = CommunitySlip.objects.filter(created_at__gte=fy.start, created_at__lt=fy.end)
    if not scope.all:
        slips = slips.filter(case__in=cases.values("pk"))
    return slips.count()


def _watch_requests_count(scope: ReportScope, fy: FiscalYear) -> int:
    """見守り依頼 (DESIGN §11.4) made in the year (`WatchRequest.created_at` in [fy.start, fy.end)). A
    department's scope counts the requests it asked for, and those about cases it counts
    (`report_cases`): a request of the year about a case opened the year before counts for the
    department that asked."""
    requests = WatchRequest.objects.filter(created_at__gte=fy.start, created_at__lt=fy.end)
    if not scope.all:
        requests = requests.filter(
            Q(department_id__in=sorted(scope.department_ids)) | Q(case__in=report_cases(scope, fy).values("pk"))
        )
    return requests.count()
