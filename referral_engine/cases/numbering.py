"""Case numbers: one sequence per fiscal year (April–March), shown with the 令和 year (`R8-000123`)."""

from __future__ import annotations

from datetime import datetime

from django.db import connection
from django.utils import timezone

from referral_engine.cases.models import CaseNumberSequence


def fiscal_year_of(moment: datetime) -> int:
    local = timezone.localtime(moment)
    return local.year if local.month >= 4 else local.year - 1


def case_number_format(fiscal_year: int, seq: int) -> str:
    """令和 year of the April–March fiscal year: FY2026 → R8-000123."""
    return f"R{fiscal_year - 2018}-{seq:06d}"


def next_case_number(moment: datetime) -> tuple[int, str]:
    """The next number of the fiscal year. The UPDATE locks the year's row until the intake commits,
    so intakes take their numbers one after the other (no duplicates; a rolled-back intake's number
    is reused by the next). One statement, two in the first intake of a year."""
    fiscal_year = fiscal_year_of(moment)
    table = connection.ops.quote_name(CaseNumberSequence._meta.db_table)
    sql = f"UPDATE {table} SET last = last + 1 WHERE fiscal_year = %s RETURNING last"  # noqa: S608 - our table name
    with connection.cursor() as cursor:
        cursor.execute(sql, [fiscal_year])
        row = cursor.fetchone()
        if row is None:
            CaseNumberSequence.objects.bulk_create([CaseNumberSequence(fiscal_year=fiscal_year)], ignore_conflicts=True)
            cursor.execute(sql, [fiscal_year])
            row = cursor.fetchone()
    return fiscal_year, case_number_format(fiscal_year, row[0])
