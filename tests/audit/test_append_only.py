"""On PostgreSQL, history tables, the case timeline and the access log refuse UPDATE, DELETE and
TRUNCATE, while creating, changing and deleting tracked objects keeps working."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def _tables() -> list[str]:
    from referral_engine.audit.append_only import append_only_tables

    return append_only_tables()


def _immediate() -> None:
    """Fire the deferred FK checks of the rows this test wrote: TRUNCATE and ALTER TABLE refuse to run
    on a table with pending trigger events."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def _refused(sql: str) -> str:
    """Run `sql` in a savepoint; return the database's message (the test fails if it succeeds)."""
    _immediate()
    with pytest.raises(DatabaseError) as info, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql)
    return str(info.value)


@pytest.fixture
def populated(open_case, users, fresh):
    """At least one row in every audit table that the services write."""
    from referral_engine.audit.services import access_log_record
    from referral_engine.cases.services.referrals import referral_transition

    case = open_case(
        referrals=[{"to_department": "health_promotion", "basis": "internal_use", "reason": "訪問"}],
        first_note="初回",
        consent={"recipients": ["shakyo"], "purposes": "支援", "method": "oral"},
    )
    referral_transition(referral_id=case.referrals.get().pk, name="accept", actor=fresh(users["worker_health"]))
    access_log_record(user=users["auditor"], action="view", object_type="case", object_id=case.pk, case_id=case.pk)
    return case


def test_every_history_table_the_timeline_and_the_access_log_are_covered():
    from referral_engine.audit.append_only import history_models

    tables = set(_tables())
    assert {"cases_caseevent", "audit_accesslog"} <= tables
    assert {m._meta.db_table for m in history_models()} <= tables
    assert {"cases_historicalcase", "cases_historicalreferral", "accounts_historicalmembership"} <= tables


def test_no_append_only_table_lacks_its_triggers():
    """Fails when a history table is added without a migration calling install_append_only_triggers."""
    from referral_engine.audit.append_only import append_only_missing

    assert append_only_missing(connection) == []


@pytest.mark.django_db(transaction=True)
def test_the_triggers_refuse_update_delete_and_truncate_even_to_the_owner(populated, owner_connection):
    """The owner (or a local run's superuser) holds every privilege on the tables: the trigger is
    what refuses it. (The application role is refused earlier, by its privileges: test_database_roles.)"""
    import psycopg

    def refused(sql: str) -> str:
        with pytest.raises(psycopg.Error) as info:
            owner_connection.execute(sql)
        return str(info.value)

    for table in _tables():
        rows = owner_connection.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
        if rows:  # row triggers fire only on rows: those tables the journey wrote to
            assert "append-only: UPDATE" in refused(f'UPDATE "{table}" SET id = id'), table
            assert "append-only: DELETE" in refused(f'DELETE FROM "{table}"'), table
        else:  # no row written by the journey: the row trigger is there all the same
            found = owner_connection.execute(
                "SELECT t.tgenabled FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "WHERE c.relname = %s AND t.tgname = 'audit_append_only_row'",
                [table],
            ).fetchall()
            assert found == [("A",)], table
        assert "append-only: TRUNCATE" in refused(f'TRUNCATE "{table}"'), table
        # `replica` skips ordinary triggers, not ALWAYS ones (the owner cannot set it; a superuser can).
        if owner_connection.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()[0]:
            with owner_connection.transaction(force_rollback=True):
                owner_connection.execute("SET LOCAL session_replication_role = replica")
                with pytest.raises(psycopg.Error, match="append-only: TRUNCATE"), owner_connection.transaction():
                    owner_connection.execute(f'TRUNCATE "{table}"')


def test_history_rows_cannot_be_edited_through_the_orm(populated):
    from simple_history.utils import update_change_reason

    from referral_engine.cases.models import Activity, Case, CaseEvent

    row = populated.history.first()
    with pytest.raises(DatabaseError), transaction.atomic():
        Case.history.filter(history_id=row.history_id).update(history_change_reason="tampered")
    activity = Activity.objects.get(case=populated)
    with pytest.raises(DatabaseError), transaction.atomic():
        update_change_reason(activity, "tampered")
    activity_row = activity.history.first()
    with pytest.raises(DatabaseError), transaction.atomic():
        activity_row.delete()
    with pytest.raises(DatabaseError), transaction.atomic():
        CaseEvent.objects.filter(case=populated).delete()
    row = Case.history.get(history_id=row.history_id)  # protected FSM field: no refresh_from_db
    activity_row = Activity.history.get(history_id=activity_row.history_id)
    assert row.history_change_reason != "tampered" and activity_row.history_change_reason != "tampered"
    assert CaseEvent.objects.filter(case=populated).exists()


def test_access_log_rows_cannot_be_changed(populated):
    from referral_engine.audit.models import AccessLog

    log = AccessLog.objects.latest("id")
    with pytest.raises(DatabaseError), transaction.atomic():
        AccessLog.objects.filter(pk=log.pk).update(username="someone-else")
    with pytest.raises(DatabaseError), transaction.atomic():
        log.delete()
    assert AccessLog.objects.filter(pk=log.pk, username=log.username).exists()


def test_creating_changing_and_deleting_tracked_objects_still_works(populated, users):
    from referral_engine.audit.history import save_with_history
    from referral_engine.cases.services.records import activity_add
    from referral_engine.timers.models import ClosedDay

    day = ClosedDay(date="2031-08-13", name="臨時閉庁", source="manual")
    save_with_history(day, actor=users["admin"], reason="create")
    day.name = "臨時閉庁（お盆）"
    save_with_history(day, actor=users["admin"], reason="rename", update_fields=["name"])
    pk = day.pk
    day.delete()
    assert [h.history_type for h in ClosedDay.history.filter(id=pk).order_by("history_date")] == ["+", "~", "-"]

    activity = activity_add(case_id=populated.pk, actor=users["worker_welfare"], kind="note", body="記録")
    assert activity.history.count() == 1


def _reinstall_as_owner(tables) -> None:
    from referral_engine.audit.append_only import install_append_only_triggers
    from referral_engine.audit.database_roles import connection_as_owner

    with connection_as_owner(), connection.schema_editor() as editor:
        install_append_only_triggers(editor, tables)


@pytest.mark.django_db(transaction=True)
def test_the_check_names_a_table_without_triggers(populated, owner_connection):
    from referral_engine.audit.append_only import append_only_missing
    from referral_engine.audit.checks import append_only_triggers_check

    baseline = set(append_only_missing(connection))  # a history table of work in progress, if any
    changed = {
        "cases_historicalactivity": 'DROP TRIGGER audit_append_only_truncate ON "cases_historicalactivity"',
        "cases_historicalreferral": 'ALTER TABLE "cases_historicalreferral" DISABLE TRIGGER audit_append_only_row',
        # enabled, but in the ordinary mode that `session_replication_role = replica` skips
        "cases_historicalcase": 'ALTER TABLE "cases_historicalcase" ENABLE TRIGGER audit_append_only_row',
        "cases_historicalconsent": 'ALTER TABLE "cases_historicalconsent" ENABLE REPLICA TRIGGER audit_append_only_row',
    }
    try:
        for sql in changed.values():
            owner_connection.execute(sql)
        missing = set(append_only_missing(connection)) - baseline
        assert missing == set(changed)
        # As `manage.py check` runs it: no database named, the default one is checked.
        errors = [e for e in append_only_triggers_check() if e.id == "audit.E001"]
        flagged = {e.msg.split("'")[1] for e in errors}
        assert missing <= flagged
        assert all("install_append_only_triggers" in e.hint for e in errors)
    finally:
        _reinstall_as_owner(changed)
    assert set(append_only_missing(connection)) == baseline


@pytest.mark.django_db(transaction=True)
def test_manage_py_check_reports_a_disabled_trigger(owner_connection):
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    owner_connection.execute('ALTER TABLE "audit_accesslog" DISABLE TRIGGER audit_append_only_truncate')
    try:
        with pytest.raises(SystemCheckError, match=r"audit\.E001.*audit_accesslog"):
            call_command("check")
    finally:
        _reinstall_as_owner(["audit_accesslog"])
    call_command("check")  # repaired: no error


@pytest.mark.django_db(transaction=True)
def test_install_is_idempotent_and_repairs_a_missing_trigger(owner_connection):
    from referral_engine.audit.append_only import append_only_missing

    owner_connection.execute('DROP TRIGGER audit_append_only_row ON "cases_historicalconsent"')
    try:
        assert "cases_historicalconsent" in append_only_missing(connection)
    finally:
        _reinstall_as_owner(_tables())
    assert append_only_missing(connection) == []


@pytest.mark.django_db(transaction=True)
def test_truncate_only_for_the_owner_with_the_session_opt_in(populated, owner_connection):
    """The opt-in Django's test flush uses (as the owner); without it even the owner is refused. The
    application role is refused with it too (tests/audit/test_database_roles.py)."""
    import psycopg

    with pytest.raises(psycopg.Error, match="append-only: TRUNCATE"):
        owner_connection.execute('TRUNCATE "audit_accesslog"')
    with owner_connection.transaction(force_rollback=True):
        owner_connection.execute("SET LOCAL referral_engine.allow_truncate = 'on'")
        owner_connection.execute('TRUNCATE "audit_accesslog"')
        assert owner_connection.execute('SELECT count(*) FROM "audit_accesslog"').fetchone()[0] == 0
    assert owner_connection.execute('SELECT count(*) FROM "audit_accesslog"').fetchone()[0] > 0


@pytest.mark.django_db(transaction=True)
def test_the_command_reports_and_repairs_a_missing_trigger(owner_connection):
    import io

    from django.core.management import CommandError, call_command

    from referral_engine.audit.append_only import append_only_missing

    owner_connection.execute('ALTER TABLE "cases_caseevent" DISABLE TRIGGER audit_append_only_row')
    try:
        with pytest.raises(CommandError, match="cases_caseevent"):
            call_command("append_only_triggers", stdout=io.StringIO())
        out = io.StringIO()
        call_command("append_only_triggers", "--install", stdout=out)  # connects as the owner itself
        assert "installed on: cases_caseevent" in out.getvalue()
        assert "cases_caseevent" not in append_only_missing(connection)
    finally:
        _reinstall_as_owner(["cases_caseevent"])


@pytest.mark.django_db(transaction=True)
def test_healthz_reports_a_disabled_trigger_and_keeps_its_status(client, owner_connection):
    before = client.get("/healthz")
    assert before.json()["checks"]["append_only"] == {"ok": True}
    owner_connection.execute('ALTER TABLE "cases_historicalcase" DISABLE TRIGGER audit_append_only_row')
    try:
        response = client.get("/healthz")
    finally:
        _reinstall_as_owner(["cases_historicalcase"])
    check = response.json()["checks"]["append_only"]
    assert check["ok"] is False and "cases_historicalcase" in check["missing"]
    # Reported, not an outage: the HTTP status follows the database and the broker as before.
    assert response.status_code == before.status_code
    assert client.get("/healthz").json()["checks"]["append_only"] == {"ok": True}
