"""`/reports/`: the fiscal-year report with charts and last year beside it, its print layout, the CSV
downloads and Excel made in the background (progress polled with htmx, the file for its owner only).

Who: supervisors (their departments), the desk supervisor, auditors and admins (everything); anybody
else gets the 403 page. The page is a `view` in the access log, the print layout a `print`, every
file an `export`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from referral_engine.access import policy
from referral_engine.accounts.models import Department
from referral_engine.audit.models import AccessLog
from referral_engine.audit.services import access_log_export, access_log_record, terms_text
from referral_engine.errors import InvalidInput
from referral_engine.reports import exports, selectors, services
from referral_engine.reports.models import ReportExport
from referral_engine.reports.periods import FiscalYear
from referral_engine.web import charts
from referral_engine.web.errors import domain_errors
from referral_engine.web.replica import replica_reads
from referral_engine.web.views.common import require

RECENT_EXPORTS = 5
CHARTED = {"by_channel", "by_window", "by_need", "by_district", "closures"}


def _figure(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _signed(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        text = _figure(abs(value) if isinstance(value, int) else round(abs(value), 1))
        return f"+{text}" if value > 0 else (f"−{text}" if value < 0 else "±0")
    return _figure(value)


def _table_context(table: exports.Table) -> dict[str, Any]:
    """A table for the page: figures formatted, the change signed, texts in the page's language
    (the tables are Japanese for the files; names from the master data stay as they are)."""
    rows = []
    for line, values in zip(table.lines, table.wide_rows(), strict=True):
        cells = [_figure(v) for v in values[1:]]
        if table.compare:
            cells[-1] = _signed(values[-1])
        rows.append({"label": _(line.label), "cells": cells, "is_total": line.is_total})
    chart = None
    if table.key in CHARTED:
        bars = [charts.Bar(_(line.label), line.values[0]) for line in table.lines if not line.is_total]
        chart = charts.labelled_bar_chart(bars, title=_(table.title), unit=_("件"))
    elif table.key == "referrals":
        bars = [charts.Bar(line.label, line.values[-1]) for line in table.lines if not line.is_total]
        chart = charts.labelled_bar_chart(bars, title=_(table.title), unit=_("件"))
    elif table.key == "by_month":
        lines = [line for line in table.lines if not line.is_total]
        chart = charts.column_pair_chart(
            [f"{line.code[5:].lstrip('0')}月" for line in lines],
            [line.values[0] for line in lines],
            [line.previous[0] for line in lines] if table.compare else None,
            title=_(table.title),
            legend=(_("今年度"), _("前年度")),
        )
    return {
        "table": table,
        "title": _(table.title),
        "note": _(table.note) if table.note else "",
        "headers": [_(h) for h in table.headers],
        "rows": rows,
        "chart": chart,
    }


def _scope_text(report: dict) -> str:
    if report["scope"]["all"]:
        return _("相談窓口全体")
    names = dict(Department.objects.filter(code__in=report["scope"]["departments"]).values_list("code", "name_ja"))
    return _("%(names)sに関わるもの") % {"names": "・".join(names.values())}


def _require_reports(user: Any) -> None:
    require(policy.can_view_reports(user), _("年度報告は係長・班長、監査担当、システム管理者だけが見られます。"))


def _log(request: HttpRequest, action: str, year: int, **terms: Any) -> None:
    access_log_record(
        user=request.user,
        action=action,
        object_type="report",
        query=terms_text({"fiscal_year": year, **terms}),
        request=request,
    )


def _page(request: HttpRequest, year: int, *, printing: bool = False, status: int = 200) -> HttpResponse:
    user = request.user
    _require_reports(user)
    report = selectors.fiscal_year_report(user=user, year=year, compare=True)
    labels = exports.report_labels()
    tables = exports.report_tables(report, labels)
    _log(request, AccessLog.Action.PRINT if printing else AccessLog.Action.VIEW, year)
    current = FiscalYear.current().year
    first = min(selectors.report_first_year(), year)
    summary, *breakdowns = tables
    now = timezone.now()
    recent = [
        e
        for e in ReportExport.objects.filter(owner=user, fiscal_year=year).order_by("-created_at", "-id")[
            :RECENT_EXPORTS
        ]
        if not services.report_export_expired(e, now)
    ]
    return render(
        request,
        "reports/report.html",
        {
            "report": report,
            "generated_at": datetime.fromisoformat(report["generated_at"]),
            "fy": FiscalYear(year),
            "previous_fy": FiscalYear(year - 1),
            "scope_text": _scope_text(report),
            "summary": _table_context(summary),
            "tables": [_table_context(t) for t in breakdowns],
            "years": list(range(max(current, year), first - 1, -1)),
            "exports": recent,
            "printing": printing,
            "suppress_below": settings.REPORT_SUPPRESS_BELOW,
        },
        status=status,
    )


@replica_reads
@domain_errors
def report_index(request: HttpRequest) -> HttpResponse:
    """The current fiscal year, or the year picked in the form (`?year=2025`)."""
    _require_reports(request.user)
    raw = request.GET.get("year", "")
    if raw:
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 4) or not FiscalYear(int(raw)).is_supported:
            raise InvalidInput(_("年度を選び直してください。"), fields={"year": [_("年度を選んでください。")]})
        return redirect("reports:year", year=int(raw))
    return _page(request, FiscalYear.current().year)


@replica_reads
@domain_errors
def report_year(request: HttpRequest, year: int) -> HttpResponse:
    return _page(request, year)


@replica_reads
@domain_errors
def report_print(request: HttpRequest, year: int) -> HttpResponse:
    return _page(request, year, printing=True)


@replica_reads
@domain_errors
def report_csv(request: HttpRequest, year: int) -> HttpResponse:
    """The CSV straight away (a few grouped queries): `?publication=1` for the suppressed one."""
    publication = request.GET.get("publication") in ("1", "true")
    report = selectors.fiscal_year_report(user=request.user, year=year, compare=True)
    response = exports.report_file_response(report, format="csv", publication=publication)
    access_log_export(
        user=request.user,
        object_type="report",
        terms={"fiscal_year": year, "format": "csv", "publication": publication},
        request=request,
    )
    return response


@require_POST
@domain_errors
def report_export_start(request: HttpRequest, year: int) -> HttpResponse:
    """Excel (or CSV) made in the background: the page shows its progress and then the link."""
    fmt = request.POST.get("format", "xlsx")
    publication = request.POST.get("publication") in ("1", "true")
    export = services.report_export_request(actor=request.user, year=year, format=fmt, publication=publication)
    if request.headers.get("HX-Request"):
        return render(request, "reports/_export.html", {"export": export})
    messages.success(request, _("出力ファイルの作成を始めました。できあがるとダウンロードのリンクが出ます。"))
    return redirect(reverse("reports:year", kwargs={"year": year}) + "#exports")


@domain_errors
def report_export_status(request: HttpRequest, export_id: int) -> HttpResponse:
    """One export's line of the list (what htmx polls while it is made)."""
    export = services.report_export_get(user=request.user, export_id=export_id)
    return render(request, "reports/_export.html", {"export": export})


@domain_errors
def report_export_download(request: HttpRequest, export_id: int) -> HttpResponse:
    export, content = services.report_export_download(user=request.user, export_id=export_id, request=request)
    return exports.file_response(
        content,
        filename=export.filename,
        ascii_name=exports.report_ascii_filename(export.fiscal_year, export.format, publication=export.publication),
        content_type=exports.CONTENT_TYPES[export.format],
    )
