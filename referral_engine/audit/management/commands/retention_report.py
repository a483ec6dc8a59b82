"""`manage.py retention_report [--csv PATH|-] [--as-of YYYY-MM-DD]`: what is due for disposal under
RETENTION_ACCESS_LOG_YEARS / RETENTION_CLOSED_CASE_YEARS (counts and oldest dates). Deletes nothing."""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date

from referral_engine.audit.exports import csv_lines
from referral_engine.audit.retention import retention_report
from referral_engine.audit.selectors import day_start


def _local(value: dt.datetime | None) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d") if value else ""


class Command(BaseCommand):
    help = "Report access-log entries and closed cases past their retention period. Deletes nothing."

    def add_arguments(self, parser):
        parser.add_argument("--csv", metavar="PATH", help="also write the report as CSV (UTF-8 with BOM); - for stdout")
        parser.add_argument("--as-of", metavar="YYYY-MM-DD", help="report as of this day instead of now")

    def handle(self, *args, **options):
        now = timezone.now()
        if options["as_of"]:
            day = parse_date(options["as_of"])
            if day is None:
                raise CommandError("--as-of must be YYYY-MM-DD")
            now = day_start(day)
        lines = retention_report(now=now)
        headers = ["項目", "保存年限（年）", "基準日（これより前が対象）", "廃棄対象件数", "最古の日付"]
        rows = [[ln.label, ln.years, _local(ln.cutoff), ln.due_count, _local(ln.oldest)] for ln in lines]

        text = "".join(csv_lines(headers, rows))
        if options["csv"] == "-":
            self.stdout.write(text, ending="")
            return
        self.stdout.write(f"保存期間の確認（{_local(now)} 時点）— 削除は行いません。")
        for ln in lines:
            oldest = f"、最古 {_local(ln.oldest)}" if ln.oldest else ""
            self.stdout.write(f"{ln.label}: 保存 {ln.years} 年、{_local(ln.cutoff)} より前 {ln.due_count} 件{oldest}")
        if options["csv"]:
            with open(options["csv"], "w", encoding="utf-8", newline="") as handle:
                handle.write(text)
            self.stdout.write(f"CSV: {options['csv']}")
