"""Report files made in the background: ask for one (a row, then a task after commit), make it (the
task: figures as the owner sees them, the file under MEDIA_ROOT, progress on the row), hand it to its
owner, and delete what expired (the hourly beat task).

The file is made with the owner's reach *when it runs*, so a supervisor who moved department while it
waited gets the new department's figures, never the old one's."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from referral_engine.audit.services import access_log_export
from referral_engine.errors import InvalidInput, NotFound
from referral_engine.reports import exports, selectors
from referral_engine.reports.models import ReportExport

logger = logging.getLogger(__name__)
State = ReportExport.State


def report_export_request(
    *, actor: Any, year: int, format: str, publication: bool = False, compare: bool = True
) -> ReportExport:
    """Queue an export of fiscal year `year` for `actor` (Forbidden / NotFound as for the report)."""
    selectors.report_scope_for(actor)
    selectors.report_fiscal_year(year)
    if format not in ReportExport.Format.values:
        raise InvalidInput(_("出力形式を確認してください。"), fields={"format": [_("csv か xlsx を選んでください。")]})
    export = ReportExport.objects.create(
        owner=actor, fiscal_year=year, format=format, publication=publication, compare=compare
    )
    from referral_engine.reports.tasks import export_run

    transaction.on_commit(lambda: export_run.delay(export.pk))
    return export


def _progress(export: ReportExport, progress: int, **fields: Any) -> None:
    for name, value in fields.items():
        setattr(export, name, value)
    export.progress = progress
    export.save(update_fields=["progress", *fields])


# A running export not finished after this long was abandoned (its worker died): a redelivered task
# may take it up again.
ABANDONED_AFTER = timedelta(minutes=10)


def report_export_run(*, export_id: int) -> ReportExport | None:
    """Make the file of a queued export. Idempotent: an export done, failed or running (unless
    abandoned) is left alone, so a redelivered task does nothing."""
    claimable = Q(state=State.QUEUED) | Q(state=State.RUNNING, started_at__lt=timezone.now() - ABANDONED_AFTER)
    with transaction.atomic():
        export = ReportExport.objects.select_for_update().filter(claimable, pk=export_id).first()
        if export is None:
            return None
        _progress(export, 5, state=State.RUNNING, started_at=timezone.now())
    try:
        owner = export.owner
        report = selectors.fiscal_year_report(user=owner, year=export.fiscal_year, compare=export.compare)
        _progress(export, 60)
        labels = exports.report_labels()
        tables = exports.report_tables(report, labels, publication=export.publication)
        if export.format == ReportExport.Format.XLSX:
            content = exports.report_xlsx_bytes(report, tables, labels, publication=export.publication)
        else:
            content = exports.report_csv_bytes(report, tables)
        _progress(export, 90)
        filename = exports.report_filename(report, export.format, publication=export.publication)
        # Stored under an ASCII name of the row's id; the Japanese name is only for the download.
        export.file.save(f"report-{export.pk}.{export.format}", ContentFile(content), save=False)
        now = timezone.now()
        _progress(
            export,
            100,
            state=State.DONE,
            file=export.file.name,
            filename=filename,
            finished_at=now,
            expires_at=now + timedelta(hours=settings.REPORT_EXPORT_HOURS),
        )
    except Exception as exc:  # recorded on the row for the page, and logged
        logger.exception("report export %s failed", export_id)
        ReportExport.objects.filter(pk=export_id).update(
            state=State.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000], finished_at=timezone.now()
        )
        export.refresh_from_db()
    return export


def report_export_get(*, user: Any, export_id: int) -> ReportExport:
    """The user's own export (anybody else's, or none: NotFound — the same answer)."""
    export = ReportExport.objects.filter(pk=export_id, owner_id=getattr(user, "pk", None)).first()
    if export is None or not getattr(user, "is_authenticated", False):
        raise NotFound(_("見つかりません。"))
    return export


def report_export_expired(export: ReportExport, now: Any = None) -> bool:
    return export.expires_at is not None and export.expires_at <= (now or timezone.now())


def report_export_download(*, user: Any, export_id: int, request: Any = None) -> tuple[ReportExport, bytes]:
    """The finished file for its owner, written to the access log as an export. An expired file is
    deleted on the spot and answers NotFound, as one never made."""
    export = report_export_get(user=user, export_id=export_id)
    if export.state != State.DONE or not export.file:
        raise NotFound(_("ファイルはまだできていません。"))
    if report_export_expired(export):
        _delete_file(export)
        raise NotFound(_("ダウンロードの期限が過ぎました。もう一度作成してください。"))
    # Still a reporter? A user whose role ended since asking gets nothing.
    selectors.report_scope_for(user)
    with export.file.open("rb") as handle:
        content = handle.read()
    access_log_export(
        user=user,
        object_type="report",
        terms={
            "fiscal_year": export.fiscal_year,
            "format": export.format,
            "publication": export.publication,
            "export_id": export.pk,
        },
        request=request,
    )
    return export, content


def _delete_file(export: ReportExport) -> None:
    if export.file:
        export.file.delete(save=False)
    ReportExport.objects.filter(pk=export.pk).update(file="")


def report_exports_cleanup(*, now: Any = None) -> int:
    """Delete expired files and their rows, and rows of failed or stuck exports older than a day.
    Returns how many rows went."""
    now = now or timezone.now()
    stale = ReportExport.objects.filter(expires_at__lte=now) | ReportExport.objects.filter(
        expires_at__isnull=True, created_at__lte=now - timedelta(days=1)
    )
    count = 0
    for export in stale.iterator():
        if export.file:
            export.file.delete(save=False)
        export.delete()
        count += 1
    return count
