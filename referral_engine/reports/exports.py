"""A report as tables (the web page, the CSV and the Excel workbook all read the same tables), and the
two files: CSV (UTF-8 with a BOM, Japanese headers, one line per figure, formula-neutralised like the
audit CSVs) and Excel (one sheet per table, Japanese headers, the 和暦 year in every title).

Publication (`publication=True`): every district cell from 1 to REPORT_SUPPRESS_BELOW − 1 shows
"<3" (with the default of 3), this year's and last year's, and their change shows "…". Totals are
never suppressed (docs/reports.md says why).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.http import HttpResponse
from django.utils import timezone, translation
from django.utils.translation import gettext_noop
from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

from referral_engine.accounts.models import Department, District
from referral_engine.audit.exports import csv_lines, neutralise
from referral_engine.cases.choices import Channel, ClosureReason, Need, ReferralState
from referral_engine.reports.periods import FiscalYear
from referral_engine.reports.selectors import REFERRAL_STATES, UNKNOWN_DISTRICT

Value = int | float | str | None
CITY = "津久見市 まるごと受け止める相談窓口"
NOT_SHOWN = "…"  # a change that would reveal a suppressed cell
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class Labels:
    channel: dict[str, str]
    window: dict[str, str]
    need: dict[str, str]
    district: dict[str, str]
    closure: dict[str, str]
    referral_state: dict[str, str]


# Texts of the tables are Japanese in every file; the web page shows them translated (gettext_noop
# marks them for the catalogue). The two composed headers of the handoff table:
COMPOSED_HEADERS = (gettext_noop("前年度（計）"), gettext_noop("増減（計）"))


def report_labels() -> Labels:
    """Japanese names of every code a report uses (departments and districts from the master data),
    whatever the language of the request: the files are Japanese."""
    with translation.override("ja"):
        return _labels()


def _labels() -> Labels:
    return Labels(
        channel={c: str(label) for c, label in Channel.choices},
        window=dict(Department.objects.order_by("id").values_list("code", "name_ja")),
        need={c: str(label) for c, label in Need.choices},
        district={
            **dict(District.objects.order_by("id").values_list("code", "name")),
            UNKNOWN_DISTRICT: gettext_noop("地区不明"),
        },
        closure={c: str(label) for c, label in ClosureReason.choices},
        referral_state={c: str(label) for c, label in ReferralState.choices},
    )


@dataclass
class Line:
    code: str
    label: str
    values: list[Value]
    previous: list[Value] | None = None
    is_total: bool = False


@dataclass
class Table:
    key: str
    title: str
    sheet: str  # an Excel sheet name: at most 31 characters, none of []:*?/\
    row_header: str
    columns: list[tuple[str, str]]  # (code, header)
    lines: list[Line] = field(default_factory=list)
    note: str = ""
    compare: bool = False

    @property
    def headers(self) -> list[str]:
        out = [self.row_header, *(label for _code, label in self.columns)]
        if self.compare:
            suffix = "" if len(self.columns) == 1 else f"（{self.columns[-1][1]}）"
            out += [f"前年度{suffix}", f"増減{suffix}"]
        return out

    def wide_rows(self) -> Iterator[list[Value]]:
        """One row per line: its label, its values, and (compared) last year's last column and the change."""
        for line in self.lines:
            row: list[Value] = [line.label, *line.values]
            if self.compare:
                previous = line.previous[-1] if line.previous else None
                row += [previous, change(line.values[-1], previous)]
            yield row


def change(current: Value, previous: Value) -> Value:
    if isinstance(current, str) or isinstance(previous, str):
        return NOT_SHOWN
    if current is None or previous is None:
        return None
    difference = current - previous
    return round(difference, 1) if isinstance(difference, float) else difference


def suppressed(value: Value, below: int) -> Value:
    """A count from 1 to below − 1 → "<below"; zero and larger counts as they are."""
    if isinstance(value, int) and 0 < value < below:
        return f"<{below}"
    return value


# --- Tables -----------------------------------------------------------------------------------------


def report_tables(report: dict, labels: Labels, *, publication: bool = False) -> list[Table]:
    """The report as tables, in the order of the page, the CSV and the workbook's sheets."""
    previous = report.get("previous")
    compare = "previous" in report
    below = settings.REPORT_SUPPRESS_BELOW if publication else 0
    c, pc = report["consultations"], (previous or {}).get("consultations")
    fy = FiscalYear(report["fiscal_year"])

    def counts(
        key: str,
        title: str,
        sheet: str,
        row_header: str,
        names: dict[str, str],
        figures: dict[str, int],
        before: dict[str, int] | None,
        *,
        total: tuple[str, int, int | None] | None = None,
        note: str = "",
        suppress: bool = False,
    ) -> Table:
        table = Table(key, title, sheet, row_header, [("count", gettext_noop("件数"))], note=note, compare=compare)
        hide = (lambda v: suppressed(v, below)) if suppress and below else (lambda v: v)
        for code, n in figures.items():
            line = Line(code, names.get(code, code), [hide(n)])
            if compare:
                line.previous = [hide((before or {}).get(code, 0)) if previous else None]
            table.lines.append(line)
        if total is not None:
            label, n, before_n = total
            table.lines.append(Line("total", label, [n], [before_n] if compare else None, is_total=True))
        return table

    def prev(path: tuple[str, ...]) -> Any:
        value: Any = previous
        for key in path:
            if value is None:
                return None
            value = value.get(key)
        return value

    summary = Table(
        "summary",
        gettext_noop("主な指標"),
        gettext_noop("概要"),
        gettext_noop("項目"),
        [("value", gettext_noop("値"))],
        compare=compare,
    )
    for code, label, path in (
        ("consultations", gettext_noop("相談件数（受付したケース）"), ("consultations", "total")),
        ("referrals", gettext_noop("つなぎ（依頼）件数"), ("referrals", "total")),
        (
            "acceptance_median",
            gettext_noop("受理までの時間 中央値（時間）"),
            ("referrals", "acceptance_hours", "median"),
        ),
        (
            "acceptance_p90",
            gettext_noop("受理までの時間 90パーセンタイル（時間）"),
            ("referrals", "acceptance_hours", "p90"),
        ),
        ("gap_cases", gettext_noop("はざまのケース"), ("gap_cases",)),
        ("closures", gettext_noop("終結したケース"), ("closures", "total")),
        ("community_slips", gettext_noop("つなぎ票（地域からの連絡）"), ("community_slips",)),
        ("watch_requests", gettext_noop("見守り依頼"), ("watch_requests",)),
    ):
        value: Any = report
        for key in path:
            value = value[key]
        summary.lines.append(Line(code, label, [value], [prev(path)] if compare else None))

    total = c["total"]
    before_total = pc["total"] if pc else None
    tables = [
        summary,
        counts(
            "by_channel",
            gettext_noop("経路別の相談件数"),
            gettext_noop("経路別"),
            gettext_noop("経路"),
            labels.channel,
            c["by_channel"],
            pc and pc["by_channel"],
            total=(gettext_noop("計"), total, before_total),
        ),
        counts(
            "by_window",
            gettext_noop("受付窓口別の相談件数"),
            gettext_noop("受付窓口別"),
            gettext_noop("受付窓口"),
            labels.window,
            c["by_window"],
            pc and pc["by_window"],
            total=(gettext_noop("計"), total, before_total),
        ),
        counts(
            "by_need",
            gettext_noop("相談分野別の件数（複数該当）"),
            gettext_noop("相談分野別"),
            gettext_noop("相談分野"),
            labels.need,
            c["by_need"],
            pc and pc["by_need"],
            total=(gettext_noop("（参考）相談件数"), total, before_total),
            note=gettext_noop(
                "1件のケースが複数の分野に当たるときは、それぞれに数えます（合計は相談件数を超えることがあります）。"
            ),
        ),
        counts(
            "by_district",
            gettext_noop("地区別の相談件数"),
            gettext_noop("地区別"),
            gettext_noop("地区"),
            labels.district,
            c["by_district"],
            pc and pc["by_district"],
            total=(gettext_noop("計"), total, before_total),
            suppress=True,
            note=(
                f"公表用：{below}件未満の地区は「<{below}」と表示しています（合計は秘匿していません）。"
                if publication
                else ""
            ),
        ),
        counts(
            "by_month",
            gettext_noop("月別の相談件数"),
            gettext_noop("月別"),
            gettext_noop("月"),
            {m.key: f"{int(m.key[:4])}年{int(m.key[5:])}月" for m in fy.months()},
            c["by_month"],
            # Last year's months line up with this year's by position (April with April).
            dict(zip(c["by_month"], pc["by_month"].values(), strict=True)) if pc else None,
            total=(gettext_noop("計"), total, before_total),
        ),
        _referral_table(report, previous, labels, compare),
        counts(
            "closures",
            gettext_noop("終結理由別の件数（この年度に受付したケースのうち終結したもの）"),
            gettext_noop("終結理由別"),
            gettext_noop("終結理由"),
            labels.closure,
            report["closures"]["by_reason"],
            previous and previous["closures"]["by_reason"],
            total=(
                gettext_noop("計"),
                report["closures"]["total"],
                previous["closures"]["total"] if previous else None,
            ),
        ),
    ]
    return tables


def _referral_table(report: dict, previous: dict | None, labels: Labels, compare: bool) -> Table:
    columns = [(s, labels.referral_state[s]) for s in REFERRAL_STATES] + [("total", gettext_noop("計"))]
    table = Table(
        "referrals",
        gettext_noop("依頼先別・状態別のつなぎ件数（この年度に依頼したもの、現在の状態）"),
        gettext_noop("つなぎ"),
        gettext_noop("依頼先"),
        columns,
        compare=compare,
    )
    totals = dict.fromkeys(REFERRAL_STATES, 0)
    before = (previous or {}).get("referrals", {}).get("by_department", {})
    for code, states in report["referrals"]["by_department"].items():
        values: list[Value] = [states[s] for s in REFERRAL_STATES]
        for s in REFERRAL_STATES:
            totals[s] += states[s]
        line = Line(code, labels.window.get(code, code), [*values, sum(states.values())])
        if compare:
            was = before.get(code)
            line.previous = [was[s] for s in REFERRAL_STATES] + [sum(was.values())] if was else [0] * len(columns)
        table.lines.append(line)
    line = Line("total", gettext_noop("計"), [*totals.values(), report["referrals"]["total"]], is_total=True)
    if compare:
        line.previous = (
            [sum(d[s] for d in before.values()) for s in REFERRAL_STATES] + [previous["referrals"]["total"]]
            if previous
            else [None] * len(columns)
        )
    table.lines.append(line)
    return table


# --- Files --------------------------------------------------------------------------------------------


def scope_text(report: dict, labels: Labels) -> str:
    if report["scope"]["all"]:
        return "相談窓口全体"
    names = [labels.window.get(code, code) for code in report["scope"]["departments"]]
    return "・".join(names) + "に関わるもの" if names else "なし"


def report_filename(report: dict, ext: str, *, publication: bool) -> str:
    return f"年度報告_{report['label']}{'_公表用' if publication else ''}.{ext}"


def report_ascii_filename(fiscal_year: int, ext: str, *, publication: bool) -> str:
    return f"report-fy{fiscal_year}{'-publication' if publication else ''}.{ext}"


CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "xlsx": XLSX_CONTENT_TYPE}


CSV_HEADERS = ["年度", "集計表", "区分コード", "区分", "内訳コード", "内訳", "値"]


def csv_rows(report: dict, tables: list[Table]) -> Iterator[list[Value]]:
    """One line per figure (a tidy table a statistician can pivot): year, table, row, column, value
    (and with the comparison, last year's value and the change)."""
    label = report["label"]
    for table in tables:
        for line in table.lines:
            for i, (code, header) in enumerate(table.columns):
                column_code, column = ("", "") if len(table.columns) == 1 else (code, header)
                row: list[Value] = [label, table.title, line.code, line.label, column_code, column, line.values[i]]
                if table.compare:
                    before = line.previous[i] if line.previous else None
                    row += [before, change(line.values[i], before)]
                yield row


def report_csv_lines(report: dict, tables: list[Table]) -> Iterator[str]:
    headers = CSV_HEADERS + (["前年度の値", "増減"] if "previous" in report else [])
    return csv_lines(headers, csv_rows(report, tables))


def report_csv_bytes(report: dict, tables: list[Table]) -> bytes:
    return "".join(report_csv_lines(report, tables)).encode("utf-8")


TITLE_FONT = Font(bold=True, size=14)
HEADER_FONT = Font(bold=True)
HEADER_FILL = PatternFill("solid", fgColor="E8EDF2")
TOTAL_FONT = Font(bold=True)
THIN = Side(style="thin", color="8A94A0")


def _text(value: Value) -> Value:
    """Text cells are neutralised like the CSV; numbers stay numbers."""
    return neutralise(value) if isinstance(value, str) else value


def report_xlsx_bytes(report: dict, tables: list[Table], labels: Labels, *, publication: bool) -> bytes:
    """The workbook: an overview sheet (year, period, scope, when, the suppression rule), then one
    sheet per table with the year's 和暦 name in its title, Japanese headers, numbers as numbers."""
    fy = FiscalYear(report["fiscal_year"])
    generated = datetime.fromisoformat(report["generated_at"])
    workbook = Workbook()
    workbook.properties.title = f"{CITY} {report['label']} 年度報告"
    workbook.properties.creator = CITY
    info = workbook.active
    info.title = "表紙"
    meta: list[tuple[str, Value]] = [
        ("年度", f"{report['label']}（{fy.year}年度）"),
        ("期間", f"{fy.year}年4月1日 0時0分 ～ {fy.year + 1}年3月31日 23時59分（日本時間）"),
        ("範囲", scope_text(report, labels)),
        ("集計日時", timezone.localtime(generated).strftime("%Y-%m-%d %H:%M")),
        ("数え方", "この年度に受付したケースと依頼したつなぎを、集計日時の状態で数えています（docs/reports.md）。"),
    ]
    if publication:
        below = settings.REPORT_SUPPRESS_BELOW
        meta.append(("公表用", f"地区別で{below}件未満のものは「<{below}」と表示しています。合計は秘匿していません。"))
    if "previous" in report:
        meta.append(("比較", f"前年度（{FiscalYear(fy.year - 1).label_ja}）と比べています。"))
    info["A1"] = f"{CITY} {report['label']} 年度報告"
    info["A1"].font = TITLE_FONT
    for i, (key, value) in enumerate(meta, start=3):
        info.cell(row=i, column=1, value=key).font = HEADER_FONT
        info.cell(row=i, column=2, value=_text(value))
    info.column_dimensions["A"].width = 14
    info.column_dimensions["B"].width = 90

    for table in tables:
        sheet = workbook.create_sheet(table.sheet)
        sheet["A1"] = f"{report['label']} {table.title}"
        sheet["A1"].font = TITLE_FONT
        sheet["A2"] = _text(f"{scope_text(report, labels)}・集計 {timezone.localtime(generated):%Y-%m-%d %H:%M}")
        header_row = 4
        for col, header in enumerate(table.headers, start=1):
            cell = sheet.cell(row=header_row, column=col, value=header)
            cell.font, cell.fill = HEADER_FONT, HEADER_FILL
            cell.border = Border(bottom=THIN)
            cell.alignment = Alignment(horizontal="center", wrap_text=True)
        for r, (line, values) in enumerate(zip(table.lines, table.wide_rows(), strict=True), start=header_row + 1):
            for col, value in enumerate(values, start=1):
                cell = sheet.cell(row=r, column=col, value=_text(value))
                if col > 1:
                    cell.alignment = Alignment(horizontal="right")
                    if isinstance(value, float):
                        cell.number_format = "0.0"
                if line.is_total:
                    cell.font = TOTAL_FONT
                    cell.border = Border(top=THIN)
        if table.note:
            sheet.cell(row=header_row + len(table.lines) + 2, column=1, value=_text(table.note))
        sheet.column_dimensions["A"].width = 34 if table.key == "summary" else 22
        for col in range(2, len(table.headers) + 1):
            sheet.column_dimensions[get_column_letter(col)].width = 12
        sheet.freeze_panes = sheet.cell(row=header_row + 1, column=2)
        sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
        sheet.print_title_rows = f"{header_row}:{header_row}"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def file_response(content: bytes, *, filename: str, ascii_name: str, content_type: str) -> HttpResponse:
    """A download: the Japanese file name for browsers that read RFC 6266's filename*, an ASCII one
    for the rest; never cached."""
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
    response["Cache-Control"] = "no-store"
    return response


def report_file_response(report: dict, *, format: str, publication: bool) -> HttpResponse:
    labels = report_labels()
    tables = report_tables(report, labels, publication=publication)
    if format == "xlsx":
        content = report_xlsx_bytes(report, tables, labels, publication=publication)
    else:
        content = report_csv_bytes(report, tables)
    return file_response(
        content,
        filename=report_filename(report, format, publication=publication),
        ascii_name=report_ascii_filename(report["fiscal_year"], format, publication=publication),
        content_type=CONTENT_TYPES[format],
    )
