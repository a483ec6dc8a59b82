"""The files: the CSV (BOM, Japanese headers, one line per figure, formulas neutralised), the Excel
workbook read back with openpyxl (a sheet per table, 和暦 titles, the report's numbers in the cells),
small-number suppression for publication, and the background export: made by the task, polled,
downloaded by its owner only, expired and cleaned up. One export runs on a real Celery worker."""

from __future__ import annotations

import csv
import io
import json
import time
from datetime import timedelta

import openpyxl
import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from referral_engine.accounts.models import District
from referral_engine.audit.models import AccessLog
from referral_engine.reports import exports
from referral_engine.reports.models import ReportExport
from referral_engine.reports.selectors import fiscal_year_report
from referral_engine.reports.services import report_export_run, report_exports_cleanup
from tests.reports.conftest import at, jst

pytestmark = pytest.mark.django_db

YEAR = 2026


@pytest.fixture
def world(open_case, users):
    """Five cases in 川上 (kawakami), two in 青江 (aoe), one in 保戸島 (hoto) in FY2026, one in
    青江 in FY2025 — so kawakami is published as it is and the others are suppressed."""
    person = {"family_name": "津久見", "family_name_kana": "ツクミ"}
    with at(jst(2026, 3, 10, 10)):
        open_case("desk_welfare", person={**person, "given_name": "前年", "district": "aoe"})
    with at(jst(2026, 5, 1, 10)):
        for i in range(5):
            open_case("desk_welfare", person={**person, "given_name": f"川{i}", "district": "kawakami"})
        for i in range(2):
            open_case("desk_health", person={**person, "given_name": f"青{i}", "district": "aoe"})
        open_case("desk_welfare", person={**person, "given_name": "島", "district": "hoto"})


def _report(users, fresh, username="auditor", compare=True):
    return fiscal_year_report(user=fresh(users[username]), year=YEAR, compare=compare)


def _csv(content: bytes) -> list[list[str]]:
    assert content.startswith(b"\xef\xbb\xbf"), "UTF-8 with a BOM"
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def test_csv_has_a_bom_japanese_headers_and_one_line_per_figure(world, users, fresh):
    report = _report(users, fresh)
    tables = exports.report_tables(report, exports.report_labels())
    rows = _csv(exports.report_csv_bytes(report, tables))
    assert rows[0] == ["年度", "集計表", "区分コード", "区分", "内訳コード", "内訳", "値", "前年度の値", "増減"]
    by_key = {(r[1], r[2], r[4]): r for r in rows[1:]}
    assert by_key[("主な指標", "consultations", "")][3:] == ["相談件数（受付したケース）", "", "", "8", "1", "7"]
    assert by_key[("地区別の相談件数", "kawakami", "")][3] == "川上地区"
    assert by_key[("地区別の相談件数", "kawakami", "")][6] == "5"
    assert by_key[("地区別の相談件数", "aoe", "")][6:] == ["2", "1", "1"]
    assert by_key[("経路別の相談件数", "total", "")][6] == "8"
    assert by_key[("月別の相談件数", "2026-05", "")][3] == "2026年5月"
    requested = by_key[("依頼先別・状態別のつなぎ件数（この年度に依頼したもの、現在の状態）", "total", "requested")]
    assert requested[5] == "依頼中"
    assert all(r[0] == "令和8年度" for r in rows[1:])


def test_publication_suppresses_small_district_counts_only(world, users, fresh, settings):
    report = _report(users, fresh)
    tables = exports.report_tables(report, exports.report_labels(), publication=True)
    rows = {(r[1], r[2]): r for r in _csv(exports.report_csv_bytes(report, tables))[1:]}
    district = "地区別の相談件数"
    assert rows[(district, "kawakami")][6:] == ["5", "0", "5"]  # 5 ≥ 3: shown
    assert rows[(district, "aoe")][6:] == ["<3", "<3", "…"]  # 2 and last year's 1: suppressed, change hidden
    assert rows[(district, "hoto")][6:] == ["<3", "0", "…"]
    assert rows[(district, "tsukumi")][6] == "0"  # zero is not suppressed
    assert rows[(district, "total")][6:] == ["8", "1", "7"]  # the total is not suppressed
    # Other tables are not district tables: their small counts stay.
    assert rows[("受付窓口別の相談件数", "health_promotion")][6] == "2"
    # The threshold is a setting.
    settings.REPORT_SUPPRESS_BELOW = 6
    tables = exports.report_tables(report, exports.report_labels(), publication=True)
    rows = {(r[1], r[2]): r for r in _csv(exports.report_csv_bytes(report, tables))[1:]}
    assert rows[(district, "kawakami")][6] == "<6"


def test_the_workbook_reads_back_with_a_sheet_per_table(world, users, fresh):
    report = _report(users, fresh)
    labels = exports.report_labels()
    tables = exports.report_tables(report, labels, publication=True)
    book = openpyxl.load_workbook(io.BytesIO(exports.report_xlsx_bytes(report, tables, labels, publication=True)))
    assert book.sheetnames == [
        "表紙",
        "概要",
        "経路別",
        "受付窓口別",
        "相談分野別",
        "地区別",
        "月別",
        "つなぎ",
        "終結理由別",
    ]
    cover = book["表紙"]
    assert cover["A1"].value == "津久見市 まるごと受け止める相談窓口 令和8年度 年度報告"
    assert "相談窓口全体" in [c.value for c in cover["B"]]
    district = book["地区別"]
    assert district["A1"].value == "令和8年度 地区別の相談件数"
    assert [c.value for c in district[4]] == ["地区", "件数", "前年度", "増減"]
    rows = {r[0]: r[1:] for r in district.iter_rows(min_row=5, values_only=True) if r[0]}
    assert rows["川上地区"] == (5, 0, 5)
    assert rows["青江地区"] == ("<3", "<3", "…")
    assert rows["計"] == (8, 1, 7)
    summary = {r[0]: r[1] for r in book["概要"].iter_rows(min_row=5, values_only=True) if r[0]}
    assert summary["相談件数（受付したケース）"] == 8
    window = {r[0]: r[1] for r in book["受付窓口別"].iter_rows(min_row=5, values_only=True) if r[0]}
    assert window["健康推進課"] == 2 and window["社会福祉課（地域共生推進班）"] == 6
    assert isinstance(window["健康推進課"], int)
    referrals = book["つなぎ"]
    assert [c.value for c in referrals[4]][:3] == ["依頼先", "依頼中", "受理"]
    month = {r[0]: r[1] for r in book["月別"].iter_rows(min_row=5, values_only=True) if r[0]}
    assert month["2026年5月"] == 8 and list(month)[0] == "2026年4月"


def test_text_that_looks_like_a_formula_is_neutralised_in_both_files(world, users, fresh):
    District.objects.filter(code="kawakami").update(name='=HYPERLINK("http://x","川上")')
    report = _report(users, fresh)
    labels = exports.report_labels()
    tables = exports.report_tables(report, labels)
    rows = {(r[1], r[2]): r for r in _csv(exports.report_csv_bytes(report, tables))[1:]}
    assert rows[("地区別の相談件数", "kawakami")][3].startswith("'=HYPERLINK")
    book = openpyxl.load_workbook(io.BytesIO(exports.report_xlsx_bytes(report, tables, labels, publication=False)))
    cell = next(c for c in book["地区別"]["A"] if isinstance(c.value, str) and "HYPERLINK" in c.value)
    assert cell.data_type == "s" and cell.value.startswith("'=")


# --- The background export -------------------------------------------------------------------------------


def test_excel_is_made_by_the_task_and_downloaded_by_its_owner_only(
    world, client, users, media, eager, django_capture_on_commit_callbacks
):
    client.force_login(users["chief_health"])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/reports/{YEAR}/exports/", {"format": "xlsx", "publication": "1"})
    assert response.status_code == 302 and response["Location"].endswith("#exports")
    export = ReportExport.objects.get()
    assert (export.owner, export.state, export.progress, export.publication) == (
        users["chief_health"],
        "done",
        100,
        True,
    )
    assert export.filename == "年度報告_令和8年度_公表用.xlsx"
    assert default_storage.exists(export.file.name)
    assert export.expires_at > timezone.now() + timedelta(hours=23)

    page = client.get(f"/reports/{YEAR}/").content.decode()
    assert f'href="/reports/exports/{export.pk}/download/"' in page
    status = client.get(f"/reports/exports/{export.pk}/", HTTP_HX_REQUEST="true")
    assert status.status_code == 200 and "hx-trigger" not in status.content.decode()  # done: polling stops

    download = client.get(f"/reports/exports/{export.pk}/download/")
    assert download.status_code == 200
    assert download["Content-Type"] == exports.XLSX_CONTENT_TYPE
    book = openpyxl.load_workbook(io.BytesIO(download.content))
    health = fiscal_year_report(user=users["chief_health"], year=YEAR)
    summary = {r[0]: r[1] for r in book["概要"].iter_rows(min_row=5, values_only=True) if r[0]}
    assert summary["相談件数（受付したケース）"] == health["consultations"]["total"] == 2
    log = AccessLog.objects.get(user=users["chief_health"], action="export")
    assert json.loads(log.query)["export_id"] == export.pk and log.object_type == "report"

    # Anybody else: the export does not exist for them.
    for other in ("chief_welfare", "auditor"):
        client.force_login(users[other])
        assert client.get(f"/reports/exports/{export.pk}/download/").status_code == 404
        assert client.get(f"/reports/exports/{export.pk}/").status_code == 404
    assert AccessLog.objects.filter(action="export").count() == 1


def test_a_running_export_is_polled_with_its_progress(world, client, users, media):
    export = ReportExport.objects.create(owner=users["auditor"], fiscal_year=YEAR, format="xlsx")
    ReportExport.objects.filter(pk=export.pk).update(state="running", progress=60)
    client.force_login(users["auditor"])
    html = client.get(f"/reports/exports/{export.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert f'hx-get="/reports/exports/{export.pk}/"' in html and 'hx-trigger="every 2s"' in html
    assert 'value="60"' in html and "作成中 60%" in html
    page = client.get(f"/reports/{YEAR}/").content.decode()
    assert 'id="export-list"' in page and f'id="export-{export.pk}"' in page
    assert "js/vendor/htmx-2.0.11.min.js" in page


def test_the_task_is_idempotent_and_records_a_failure(world, users, media, monkeypatch):
    export = ReportExport.objects.create(owner=users["auditor"], fiscal_year=YEAR, format="csv")
    done = report_export_run(export_id=export.pk)
    assert done.state == "done"
    name = done.file.name
    assert report_export_run(export_id=export.pk) is None  # a second delivery does nothing
    assert ReportExport.objects.get(pk=export.pk).file.name == name
    content = default_storage.open(name).read()
    assert content.startswith(b"\xef\xbb\xbf\xe5\xb9\xb4\xe5\xba\xa6")  # BOM + 年度

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(exports, "report_xlsx_bytes", boom)
    failing = ReportExport.objects.create(owner=users["auditor"], fiscal_year=YEAR, format="xlsx")
    result = report_export_run(export_id=failing.pk)
    assert result.state == "failed" and "disk full" in result.error and not result.file


def test_the_owner_loses_the_file_when_they_lose_the_role(world, client, users, media):
    from referral_engine.accounts.models import Membership

    export = ReportExport.objects.create(owner=users["chief_bosai"], fiscal_year=YEAR, format="csv")
    report_export_run(export_id=export.pk)
    Membership.objects.filter(user=users["chief_bosai"]).update(role="caseworker")
    client.force_login(users["chief_bosai"])
    assert client.get(f"/reports/exports/{export.pk}/download/").status_code == 403


def test_expired_files_are_gone_on_read_and_swept_by_the_cleanup(world, client, users, media):
    old = ReportExport.objects.create(owner=users["auditor"], fiscal_year=YEAR, format="csv")
    report_export_run(export_id=old.pk)
    fresh_one = ReportExport.objects.create(owner=users["auditor"], fiscal_year=YEAR, format="csv")
    report_export_run(export_id=fresh_one.pk)
    stuck = ReportExport.objects.create(owner=users["auditor"], fiscal_year=YEAR, format="xlsx")
    ReportExport.objects.filter(pk=stuck.pk).update(created_at=timezone.now() - timedelta(days=2))
    old.refresh_from_db()
    path = old.file.name
    ReportExport.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(minutes=1))

    client.force_login(users["auditor"])
    assert client.get(f"/reports/exports/{old.pk}/download/").status_code == 404
    assert not default_storage.exists(path)  # deleted on the spot
    assert f"/reports/exports/{old.pk}/" not in client.get(f"/reports/{YEAR}/").content.decode()

    assert report_exports_cleanup() == 2  # the expired one and the one stuck for two days
    assert list(ReportExport.objects.values_list("pk", flat=True)) == [fresh_one.pk]
    fresh_one.refresh_from_db()
    assert default_storage.exists(fresh_one.file.name)
    later = timezone.now() + timedelta(hours=25)
    assert report_exports_cleanup(now=later) == 1
    assert not default_storage.exists(fresh_one.file.name)


def test_the_api_answers_files_directly(world, users):
    client = APIClient()
    client.force_authenticate(users["auditor"])
    response = client.get(f"/api/v1/reports/fiscal-year/{YEAR}/?format=csv&compare=true")
    rows = _csv(response.content)
    assert rows[0][-2:] == ["前年度の値", "増減"]
    assert response["Content-Disposition"].startswith('attachment; filename="report-fy2026.csv"')


# --- A real worker ---------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.redis
def test_an_export_runs_on_a_real_celery_worker(transactional_db, tmp_path, settings, monkeypatch):
    from referral_engine.accounts.demo import demo_users_ensure
    from referral_engine.reports.tasks import export_run
    from tests.timers.test_sweep_postgres import Worker, _wait_backends_gone

    media_root = tmp_path / "media"
    settings.MEDIA_ROOT = str(media_root)
    monkeypatch.setenv("TEST_MEDIA_ROOT", str(media_root))  # the worker process reads it at start
    users = {u.username: u for u in demo_users_ensure(password="pw-for-tests")}
    export = ReportExport.objects.create(owner=users["chief_welfare"], fiscal_year=YEAR, format="xlsx")

    queue = f"reports-test-{export.pk}-{int(time.time())}"
    worker = Worker(queue, f"reports-{export.pk}")
    try:
        export_run.apply_async(args=[export.pk], queue=queue)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            export.refresh_from_db()
            if export.is_finished:
                break
            time.sleep(0.2)
    finally:
        worker.stop()
        _wait_backends_gone([worker.name])
    assert export.state == "done", export.error
    assert export.progress == 100
    book = openpyxl.load_workbook(media_root / export.file.name)
    assert book["表紙"]["A1"].value.endswith("令和8年度 年度報告")
    assert connection.vendor == "postgresql"
