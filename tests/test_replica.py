"""Reads that leave the primary (issue 23 item 6; referral_engine/replica.py, docs/scaling.md).

The router's rules everywhere (no replica needed); then, with DATABASE_REPLICA_URL (CI: `.ci/run` starts a
real streaming replica, `.ci/run replica-start` does the same on a developer's machine), the pages on the
real replica: the test commits, waits for the replica to replay it, pauses the replay and shows the
auditor's page and the report reading the replica's (older) rows, their access-log rows written to the
primary, the author reading their own write from the primary, and the pages right again once replay
resumes. The replica's copy of the test database is the primary's `test_<name>` (a test mirror whose
connection opens the replica: settings/test.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.http import HttpResponse
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from referral_engine import replica
from referral_engine.replica import (
    PIN_COOKIE,
    REPLICA,
    PrimaryPinMiddleware,
    ReplicaRouter,
    pinned_to_primary,
    reading_from_replica,
    reads_on_replica,
)

HAS_REPLICA = REPLICA in settings.DATABASES
WRITES = ("INSERT", "UPDATE", "DELETE", "TRUNCATE", "CREATE", "ALTER", "DROP", "COPY", "LOCK")


# --- The rules, without a replica ----------------------------------------------------------------------


@pytest.mark.parametrize("how", ["no replica alias", "REPLICA_READS off"])
def test_without_a_replica_nothing_changes(settings, how):
    if how == "no replica alias":
        settings.REPLICA_READS = True
        settings.DATABASES = {k: v for k, v in settings.DATABASES.items() if k != REPLICA}
    else:
        settings.REPLICA_READS = False
    with reading_from_replica() as replica:
        assert replica is False
        assert reads_on_replica() is False
        assert ReplicaRouter().db_for_read(None) == DEFAULT_DB_ALIAS
    response = PrimaryPinMiddleware(lambda r: HttpResponse())(RequestFactory().post("/cases/"))
    assert PIN_COOKIE not in response.cookies


def test_writes_and_migrations_never_go_to_the_replica():
    router = ReplicaRouter()
    assert router.db_for_write(None) == DEFAULT_DB_ALIAS
    assert router.allow_migrate(REPLICA, "cases") is False
    assert router.allow_migrate(DEFAULT_DB_ALIAS, "cases") is None


def test_the_pin_cookie_is_a_time_in_the_future():
    factory = RequestFactory()
    future, past = str(int(time.time()) + 30), str(int(time.time()) - 1)
    assert pinned_to_primary(factory.get("/", HTTP_COOKIE=f"{PIN_COOKIE}={future}"))
    assert not pinned_to_primary(factory.get("/", HTTP_COOKIE=f"{PIN_COOKIE}={past}"))
    wide = factory.get("/")
    wide.COOKIES = {PIN_COOKIE: "９" * 11}  # digits, not ASCII ones: not a time
    assert not pinned_to_primary(wide)
    assert not pinned_to_primary(factory.get("/", HTTP_COOKIE=f"{PIN_COOKIE}={'9' * 40}"))
    assert not pinned_to_primary(factory.get("/"))


def test_a_write_pins_the_browser_to_the_primary(settings, monkeypatch):
    monkeypatch.setattr(replica, "replica_configured", lambda: True)
    settings.REPLICA_PIN_SECONDS = 20
    middleware = PrimaryPinMiddleware(lambda r: HttpResponse())
    written = middleware(RequestFactory().post("/cases/"))
    morsel = written.cookies[PIN_COOKIE]
    assert 15 <= int(morsel.value) - time.time() <= 20
    assert morsel["max-age"] == 20 and morsel["httponly"]
    assert PIN_COOKIE not in middleware(RequestFactory().get("/reports/")).cookies


@pytest.mark.django_db
def test_reads_inside_a_transaction_of_the_primary_stay_there():
    """A read a write depends on (inside atomic, or locked) never leaves the primary."""
    router = ReplicaRouter()
    token = replica._on_replica.set(True)
    try:
        with transaction.atomic():
            assert router.db_for_read(None) == DEFAULT_DB_ALIAS
    finally:
        replica._on_replica.reset(token)


# --- On a real streaming replica ------------------------------------------------------------------------

needs_replica = pytest.mark.skipif(
    not HAS_REPLICA, reason="needs a streaming replica: set DATABASE_REPLICA_URL (.ci/run replica-start)"
)


def _primary_lsn() -> str:
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()::text")
        return cursor.fetchone()[0]


def _wait_replayed(admin, seconds: float = 30) -> None:
    """Until the replica has replayed everything the primary committed so far."""
    lsn = _primary_lsn()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if admin.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [lsn]).fetchone()[0]:
            return
        time.sleep(0.05)
    raise AssertionError(f"the replica did not replay {lsn} within {seconds} s")


@pytest.fixture
def replica_admin() -> Iterator[object]:
    """A superuser's connection to the replica cluster (to pause and resume its replay): `postgres` at
    the replica's host and port, trusted there as on the primary (CI, a developer's machine)."""
    import psycopg

    replica = connections[REPLICA].settings_dict
    with psycopg.connect(
        host=replica["HOST"] or "127.0.0.1", port=replica["PORT"] or 5432, user="postgres", dbname="postgres"
    ) as admin:
        admin.autocommit = True
        assert admin.execute("SELECT pg_is_in_recovery()").fetchone()[0], "DATABASE_REPLICA_URL is not a standby"
        try:
            yield admin
        finally:
            admin.execute("SELECT pg_wal_replay_resume()")


def _queries(context: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in context.captured_queries]


@needs_replica
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, databases=[DEFAULT_DB_ALIAS, REPLICA])
def test_pages_read_the_replica_and_the_author_reads_their_writes(settings, client, users, replica_admin):
    from django.test import Client

    from referral_engine.audit.models import AccessLog
    from referral_engine.audit.services import access_log_record
    from referral_engine.reports.models import ReportExport
    from referral_engine.reports.periods import FiscalYear

    settings.REPLICA_READS = True
    assert connections[REPLICA].settings_dict["NAME"] == connections[DEFAULT_DB_ALIAS].settings_dict["NAME"]
    year = FiscalYear.current().year
    supervisor, auditor = users["chief_welfare"], users["auditor"]
    author, colleague = Client(), Client()
    author.force_login(supervisor)
    colleague.force_login(auditor)
    _wait_replayed(replica_admin)

    # The report, the dashboard and the auditor's pages read the replica; their access-log rows (a write
    # on every page) go to the primary — a write on the replica would fail: it is read-only.
    for who, url, logs in (
        (author, reverse("reports:year", kwargs={"year": year}), True),
        (author, reverse("dashboard"), False),
        (colleague, reverse("audit:access_log"), True),
        (colleague, reverse("audit:user_activity", kwargs={"user_id": supervisor.pk}), True),
        (colleague, "/api/v1/audit/access-log/", True),
        (author, f"/api/v1/reports/fiscal-year/{year}/", True),
        (author, "/api/v1/dashboard/", False),
    ):
        with (
            CaptureQueriesContext(connections[REPLICA]) as on_replica,
            CaptureQueriesContext(connections[DEFAULT_DB_ALIAS]) as on_primary,
        ):
            response = who.get(url)
        assert response.status_code == 200, url
        assert len(on_replica.captured_queries) >= 2, url
        writes = [q for q in _queries(on_replica) if q.lstrip(" (").upper().startswith(WRITES) or "FOR UPDATE" in q]
        assert not writes, (url, writes)
        assert logs == any('INSERT INTO "audit_accesslog"' in q for q in _queries(on_primary)), url

    # Replication lag: replay paused, a row committed on the primary is not on the replica yet.
    _wait_replayed(replica_admin)
    replica_admin.execute("SELECT pg_wal_replay_pause()")
    marker = access_log_record(
        user=supervisor, action=AccessLog.Action.SEARCH, object_type="report", request=RequestFactory().get("/lag/")
    )
    access_url = reverse("audit:access_log") + f"?user={supervisor.pk}"
    page = colleague.get(access_url)
    assert page.status_code == 200
    shown = [row.pk for row in page.context["page"].object_list]
    assert shown and marker.pk not in shown  # the replica's rows: the marker is not there yet
    assert AccessLog.objects.filter(pk=marker.pk).exists()  # the primary has it
    export = colleague.get(reverse("audit:access_log_export") + f"?user={supervisor.pk}")
    csv = b"".join(export.streaming_content).decode("utf-8")  # streamed: read while it is sent
    assert "/reports/" in csv and "/lag/" not in csv

    # The author writes (an Excel file asked for: a row on the primary) and is pinned to the primary:
    # their report page lists their own file; the same page without the pin (the replica) does not yet.
    response = author.post(reverse("reports:export_start", kwargs={"year": year}), {"format": "xlsx"})
    assert response.status_code == 302
    assert int(response.cookies[PIN_COOKIE].value) > time.time()
    mine = ReportExport.objects.get(owner=supervisor, fiscal_year=year)
    page = author.get(reverse("reports:year", kwargs={"year": year}))
    assert [e.pk for e in page.context["exports"]] == [mine.pk]
    del author.cookies[PIN_COOKIE]
    page = author.get(reverse("reports:year", kwargs={"year": year}))
    assert [e.pk for e in page.context["exports"]] == []

    # Replay resumed: the replica catches up and the pages show everything.
    replica_admin.execute("SELECT pg_wal_replay_resume()")
    _wait_replayed(replica_admin)
    shown = [row.pk for row in colleague.get(access_url).context["page"].object_list]
    assert marker.pk in shown
    page = author.get(reverse("reports:year", kwargs={"year": year}))
    assert [e.pk for e in page.context["exports"]] == [mine.pk]
