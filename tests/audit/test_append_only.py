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


@pytest.mark.parametrize("table", _tables())
def test_update_delete_and_truncate_are_refused(table, populated):
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT count(*) FROM "{table}"')
        rows = cursor.fetchone()[0]
    if rows:  # row triggers fire only on rows: those tables the journey wrote to
        assert "append-only: UPDATE" in _refused(f'UPDATE "{table}" SET id = id')
        assert "append-only: DELETE" in _refused(f'DELETE FROM "{table}"')
    else:  # no row written by the journey: the row trigger is there all the same
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "WHERE c.relname = %s AND t.tgname = 'audit_append_only_row'",
                [table],
            )
            assert cursor.fetchone()[0] == 1
    assert "append-only: TRUNCATE" in _refused(f'SET LOCAL referral_engine.allow_truncate = off; TRUNCATE "{table}"')


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


def test_the_check_names_a_table_without_triggers(populated):
    from referral_engine.audit.append_only import append_only_missing
    from referral_engine.audit.checks import append_only_triggers_check

    baseline = set(append_only_missing(connection))  # a history table of work in progress, if any
    _immediate()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute('DROP TRIGGER audit_append_only_truncate ON "cases_historicalactivity"')
            cursor.execute('ALTER TABLE "cases_historicalreferral" DISABLE TRIGGER audit_append_only_row')
        missing = set(append_only_missing(connection)) - baseline
        assert missing == {"cases_historicalactivity", "cases_historicalreferral"}
        errors = [e for e in append_only_triggers_check(databases=["default"]) if e.id == "audit.E001"]
        flagged = {e.msg.split("'")[1] for e in errors}
        assert missing <= flagged
        assert all("install_append_only_triggers" in e.hint for e in errors)
        transaction.set_rollback(True)
    assert set(append_only_missing(connection)) == baseline


def test_install_is_idempotent_and_repairs_a_missing_trigger():
    from django.db import connection as conn

    from referral_engine.audit.append_only import append_only_missing, install_append_only_triggers

    with transaction.atomic():
        with conn.cursor() as cursor:
            cursor.execute('DROP TRIGGER audit_append_only_row ON "cases_historicalconsent"')
        assert "cases_historicalconsent" in append_only_missing(conn)
        with conn.schema_editor(atomic=False) as editor:
            installed = install_append_only_triggers(editor, _tables())
        assert "cases_historicalconsent" in installed
        assert append_only_missing(conn) == []
        transaction.set_rollback(True)


def test_truncate_only_with_the_session_opt_in(populated):
    """The opt-in Django's test flush uses; without it TRUNCATE is refused (see above)."""
    _immediate()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL referral_engine.allow_truncate = 'on'")
            cursor.execute('TRUNCATE "audit_accesslog"')
            cursor.execute('SELECT count(*) FROM "audit_accesslog"')
            assert cursor.fetchone()[0] == 0
        transaction.set_rollback(True)


def test_the_command_reports_and_repairs_a_missing_trigger():
    import io

    from django.core.management import CommandError, call_command

    from referral_engine.audit.append_only import append_only_missing

    _immediate()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute('ALTER TABLE "cases_caseevent" DISABLE TRIGGER audit_append_only_row')
        with pytest.raises(CommandError, match="cases_caseevent"):
            call_command("append_only_triggers", stdout=io.StringIO())
        out = io.StringIO()
        call_command("append_only_triggers", "--install", stdout=out)
        assert "installed on: cases_caseevent" in out.getvalue()
        assert "cases_caseevent" not in append_only_missing(connection)
        transaction.set_rollback(True)
