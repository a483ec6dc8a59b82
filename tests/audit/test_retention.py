"""`manage.py retention_report`: counts and oldest dates of what is due for disposal; deletes nothing."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.utils import timezone

pytestmark = pytest.mark.django_db


@pytest.fixture
def old_records(open_case, users, fresh, settings):
    """Two access-log rows and one closed case, all as if six years old, and recent ones."""
    from referral_engine.audit.services import access_log_record
    from referral_engine.cases.services.case_state import case_transition

    settings.RETENTION_ACCESS_LOG_YEARS = 5
    settings.RETENTION_CLOSED_CASE_YEARS = 5
    old = open_case()
    access_log_record(user=users["worker_welfare"], action="view", object_type="case", object_id=old.pk, case_id=old.pk)
    access_log_record(user=users["worker_welfare"], action="view", object_type="case", object_id=old.pk, case_id=old.pk)
    case_transition(case_id=old.pk, name="close", actor=fresh(users["worker_welfare"]), closure_reason="resolved")
    recent = open_case()
    access_log_record(user=users["worker_welfare"], action="view", object_type="case", object_id=recent.pk)
    return old


def _run(*args, now: dt.datetime) -> str:
    out = io.StringIO()
    call_command("retention_report", *args, "--as-of", timezone.localtime(now).date().isoformat(), stdout=out)
    return out.getvalue()


def test_nothing_is_due_today(old_records):
    out = _run(now=timezone.now())
    assert "アクセスログ: 保存 5 年" in out and "より前 0 件" in out
    assert "削除は行いません" in out


def test_six_years_later_everything_old_is_reported_and_nothing_deleted(old_records):
    from referral_engine.audit.models import AccessLog
    from referral_engine.cases.models import Case

    logs, cases = AccessLog.objects.count(), Case.objects.count()
    later = timezone.now() + dt.timedelta(days=365 * 6 + 2)
    out = _run(now=later)
    assert (
        f"アクセスログ: 保存 5 年、{(timezone.localtime(later).date().replace(year=timezone.localtime(later).year - 5)).isoformat()} より前 3 件"
        in out
    )
    assert "終結したケース: 保存 5 年" in out and "前 1 件" in out
    assert f"最古 {timezone.localdate().isoformat()}" in out
    assert (AccessLog.objects.count(), Case.objects.count()) == (logs, cases)


def test_csv_to_stdout_has_bom_and_japanese_headers(old_records):
    out = _run("--csv", "-", now=timezone.now() + dt.timedelta(days=365 * 6 + 2))
    assert out.startswith("\ufeff項目,保存年限（年）")
    assert "終結したケース,5," in out


def test_csv_to_a_file(old_records, tmp_path):
    target = tmp_path / "retention.csv"
    _run("--csv", str(target), now=timezone.now())
    assert target.read_bytes().startswith(b"\xef\xbb\xbf")
