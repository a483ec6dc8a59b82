"""CSV exports for auditors: UTF-8 with a BOM (so Japanese Excel opens it as UTF-8), Japanese headers,
and formula injection neutralised (a cell starting with =, +, -, @, tab or CR gets a leading
apostrophe, OWASP "CSV injection"). Streamed, so a large access log never sits in memory."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence
from typing import Any
from urllib.parse import quote

from django.http import StreamingHttpResponse
from django.utils import timezone

from referral_engine.audit.models import AccessLog
from referral_engine.audit.timeline import Entry

BOM = "\ufeff"
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> str:
    """One cell as text, with a leading apostrophe when a spreadsheet would read it as a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    text = value if isinstance(value, str) else str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """The BOM, the header line, then one line per row (CRLF line ends, as Excel expects)."""
    writer = csv.writer(_Echo())
    yield BOM + writer.writerow([neutralise(h) for h in headers])
    for row in rows:
        yield writer.writerow([neutralise(cell) for cell in row])


def csv_response(filename: str, headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(
        (line.encode("utf-8") for line in csv_lines(headers, rows)), content_type="text/csv; charset=utf-8"
    )
    ascii_name = filename.encode("ascii", "ignore").decode() or "export.csv"
    response["Content-Disposition"] = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
    response["Cache-Control"] = "no-store"
    return response


def _local(value: Any) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S") if value else ""


ACCESS_LOG_HEADERS = (
    "日時",
    "ユーザー名",
    "表示名",
    "役割",
    "部署",
    "操作",
    "対象の種類",
    "対象ID",
    "ケースID",
    "検索条件",
    "経路",
    "パス",
    "接続元",
)


def access_log_rows(entries: Iterable[AccessLog]) -> Iterator[list[Any]]:
    labels = dict(AccessLog.Action.choices)
    for log in entries:
        yield [
            _local(log.at),
            log.username,
            getattr(log.user, "display_name", ""),
            log.role,
            log.department,
            str(labels.get(log.action, log.action)),
            log.object_type,
            log.object_id,
            log.case_id,
            log.query,
            log.via,
            log.path,
            log.ip_address or "",
        ]


TIMELINE_HEADERS = (
    "日時",
    "区分",
    "種類",
    "対象",
    "対象ID",
    "ケースID",
    "内容",
    "項目",
    "変更前",
    "変更後",
    "ユーザー名",
    "表示名",
    "理由",
)


def timeline_rows(entries: Iterable[Entry]) -> Iterator[list[Any]]:
    """One row per field change (an entry without field changes: one row)."""
    source_labels = {"event": "経過", "history": "変更履歴"}
    for entry in entries:
        head = [
            _local(entry.at),
            source_labels.get(entry.source, entry.source),
            entry.kind_label,
            entry.object_label or entry.object_type,
            entry.object_id,
            entry.case_id,
            entry.summary,
        ]
        tail = [entry.username, entry.user_display_name, entry.reason]
        if not entry.changes:
            yield [*head, "", "", "", *tail]
        for change in entry.changes:
            yield [*head, change.label, change.old, change.new, *tail]
