"""CSV exports for auditors: UTF-8 with a BOM (so Japanese Excel opens it as UTF-8), Japanese headers,
and formula injection neutralised (OWASP "CSV injection"): a cell gets a leading apostrophe when it
starts with a tab or CR, or when its first visible character is =, +, - or @ — in any form a
spreadsheet or a Japanese IME may produce (full-width ＝＋－＠, small ﹦﹢﹣﹫, the minus sign −) and
whatever invisible characters stand before it (spaces of any kind, zero-width characters, BOM, word
joiner, bidi marks and overrides, combining marks). Streamed, so a large access log never sits in memory."""

from __future__ import annotations

import csv
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from typing import Any
from urllib.parse import quote

from django.http import StreamingHttpResponse
from django.utils import timezone

from referral_engine.audit.labels import access_logs_labelled_stream, object_type_label
from referral_engine.audit.models import AccessLog
from referral_engine.audit.timeline import Entry

BOM = "\ufeff"
# The plain ASCII starts (OWASP's list); looks_like_formula also sees through widths and invisibles.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
ALWAYS_PREFIXED = ("\t", "\r")
FORMULA_CHARACTERS = frozenset("=+-@")
# Not folded to "-" by NFKC, but read as a minus by people and by some spreadsheets.
MINUS_LOOKALIKES = frozenset("\u2212\u2010\u2011\u2012\u2013\u2014\u2796\ufe58")
# Characters that show nothing before a formula: controls, format characters (zero-width space and
# joiners, BOM, word joiner, bidi marks, embeddings, overrides and isolates, soft hyphen), every kind
# of space and line separator, combining and enclosing marks (variation selectors too).
INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp", "Mn", "Me"})
# Blank letters (Hangul fillers, braille blank) that are not in those categories.
INVISIBLE_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def _invisible(char: str) -> bool:
    return char.isspace() or char in INVISIBLE_LETTERS or unicodedata.category(char) in INVISIBLE_CATEGORIES


def looks_like_formula(text: str) -> bool:
    if text.startswith(ALWAYS_PREFIXED):
        return True
    for char in text:
        if _invisible(char):
            continue
        return char in MINUS_LOOKALIKES or unicodedata.normalize("NFKC", char)[:1] in FORMULA_CHARACTERS
    return False


def neutralise(value: Any) -> str:
    """One cell as text, with a leading apostrophe when a spreadsheet would read it as a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    text = value if isinstance(value, str) else str(value)
    if looks_like_formula(text):
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
    "ケース番号",
    "検索条件",
    "経路",
    "パス",
    "接続元",
)


def access_log_rows(entries: Iterable[AccessLog]) -> Iterator[list[Any]]:
    """Labels, not codes (audit/labels.py): roles, departments, actions, object kinds, routes and
    filters in words, and the case number where the row names a case."""
    for log in access_logs_labelled_stream(entries):
        kind = object_type_label(log.object_type)
        yield [
            _local(log.at),
            log.username,
            getattr(log.user, "display_name", ""),
            log.role_label,
            log.department_label,
            log.action_label,
            kind,
            "" if log.object_type == "case" else log.object_id,
            log.case_number or ("" if not log.case_id else f"#{log.case_id}"),
            log.query_label,
            log.via_label,
            log.path,
            log.ip_address or "",
        ]


TIMELINE_HEADERS = (
    "日時",
    "区分",
    "種類",
    "対象",
    "対象ID",
    "ケース番号",
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
            entry.object_label or object_type_label(entry.object_type),
            entry.object_id,
            entry.case_number,
            entry.summary,
        ]
        tail = [entry.username, entry.user_display_name, entry.reason_label or entry.reason]
        if not entry.changes:
            yield [*head, "", "", "", *tail]
        for change in entry.changes:
            yield [*head, change.label, change.old, change.new, *tail]


SEARCH_VOLUME_HEADERS = ["日付", "ユーザー名", "表示名", "部署", "本人検索", "制限で拒否", "1分間の最多", "要確認"]


def search_volume_rows(rows: Iterable[Any]) -> Iterator[list[Any]]:
    for row in rows:
        yield [
            row.day.isoformat(),
            row.username,
            row.display_name,
            row.department,
            row.searches,
            row.refused,
            row.peak_minute,
            "要確認" if row.alert else "",
        ]
