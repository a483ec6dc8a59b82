"""Retention (issue 6): how long access logs and closed cases are kept, and what is due for disposal.
Reports only; nothing here deletes (disposal is a later, reviewed decision)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count, Min
from django.utils import timezone

from referral_engine.cases.choices import CaseState
from referral_engine.cases.models import Activity, Case, CaseEvent, Referral


@dataclass(frozen=True)
class RetentionLine:
    what: str
    label: str
    years: int
    cutoff: dt.datetime
    due_count: int
    oldest: dt.datetime | None


def years_before(moment: dt.datetime, years: int) -> dt.datetime:
    """The same local calendar moment `years` earlier (29 February → 28 February)."""
    local = timezone.localtime(moment)
    try:
        return local.replace(year=local.year - years)
    except ValueError:
        return local.replace(year=local.year - years, day=28)


def retention_report(*, now: dt.datetime | None = None) -> list[RetentionLine]:
    from referral_engine.audit.models import AccessLog

    now = now or timezone.now()
    log_years = int(getattr(settings, "RETENTION_ACCESS_LOG_YEARS", 5))
    case_years = int(getattr(settings, "RETENTION_CLOSED_CASE_YEARS", 5))
    log_cutoff = years_before(now, log_years)
    case_cutoff = years_before(now, case_years)

    logs = AccessLog.objects.filter(at__lt=log_cutoff).aggregate(n=Count("id"), oldest=Min("at"))
    due_cases = Case.objects.filter(state=CaseState.CLOSED, closed_at__lt=case_cutoff)
    cases = due_cases.aggregate(n=Count("id"), oldest=Min("closed_at"))
    lines = [
        RetentionLine("access_log", "アクセスログ", log_years, log_cutoff, logs["n"], logs["oldest"]),
        RetentionLine("closed_cases", "終結したケース", case_years, case_cutoff, cases["n"], cases["oldest"]),
    ]
    if cases["n"]:
        ids = due_cases.values("id")
        for what, label, model in (
            ("closed_case_referrals", "　うち つなぎ", Referral),
            ("closed_case_activities", "　うち 支援記録", Activity),
            ("closed_case_events", "　うち 経過", CaseEvent),
        ):
            count = model.objects.filter(case_id__in=ids).count()
            lines.append(RetentionLine(what, label, case_years, case_cutoff, count, cases["oldest"]))
    return lines
