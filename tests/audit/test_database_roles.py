"""The application's database role (issue 16, docs/operations.md "Database roles"): neither superuser nor
owner; on the append-only audit tables it may only SELECT and INSERT, and PostgreSQL refuses it
UPDATE, DELETE, TRUNCATE, ALTER TABLE … DISABLE TRIGGER, dropping the trigger function and
`SET session_replication_role`.

CI runs the suite as that role (DATABASE_URL=referral_app, DATABASE_OWNER_URL=referral_owner): these
tests then act as the very role the web and the worker use. A local run as a superuser takes on a
role of its own inside the test's transaction instead (created, granted by the same
`database_roles_grant` that migrate runs, `SET LOCAL ROLE`, all rolled back), so the same refusals
are asserted either way."""

from __future__ import annotations

import uuid

import pytest
from django.db import DatabaseError, connection, transaction

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def _tables() -> list[str]:
    from referral_engine.audit.append_only import append_only_tables

    return append_only_tables()


def _scalar(sql: str, params=None):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def _refused(sql: str) -> str:
    """Run `sql` in a savepoint; return the database's message (the test fails if it succeeds)."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the journey's deferred FK checks, fired now
    with pytest.raises(DatabaseError) as info, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql)
    return str(info.value)


@pytest.fixture
def app_role(db):
    """The connection acts as the application role: already (CI), or from here on (a superuser's run)."""
    from referral_engine.audit.database_roles import database_roles_grant

    if _scalar("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"):
        role = f"referral_app_test_{uuid.uuid4().hex[:12]}"
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE ROLE "{role}" NOLOGIN NOINHERIT')
        database_roles_grant(connection, app_role=role)
        with connection.cursor() as cursor:
            cursor.execute(f'SET LOCAL ROLE "{role}"')
    return _scalar("SELECT current_user")


@pytest.fixture
def populated(app_role, open_case, users, fresh):
    """The journey, written by the application role: a row in every audit table the services write."""
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


def test_the_app_role_is_neither_superuser_nor_owner_of_anything(app_role):
    assert (
        _scalar(
            "SELECT rolsuper OR rolcreaterole OR rolcreatedb OR rolbypassrls FROM pg_roles WHERE rolname = %s",
            [app_role],
        )
        is False
    )
    owned = _scalar(
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND pg_has_role(current_user, c.relowner, 'USAGE')"
    )
    assert owned == 0
    assert "permission denied for schema public" in _refused("CREATE TABLE referral_app_sneaks_in (id int)")


def test_the_journey_writes_every_audit_table_it_needs_as_the_app_role(populated):
    """What the app must do still works: INSERT into history, the timeline and the access log."""
    from referral_engine.audit.models import AccessLog
    from referral_engine.cases.models import CaseEvent

    assert populated.history.count() >= 1
    assert CaseEvent.objects.filter(case=populated).exists()
    assert AccessLog.objects.filter(case_id=populated.pk).exists()


def test_update_delete_and_truncate_of_every_audit_table_are_refused(populated):
    for table in _tables():
        for sql in (f'UPDATE "{table}" SET id = id', f'DELETE FROM "{table}"', f'TRUNCATE "{table}"'):
            message = _refused(sql)
            assert f"permission denied for table {table}" in message, (sql, message)


def test_the_truncate_opt_in_does_not_help_the_app_role(populated):
    message = _refused("SET LOCAL referral_engine.allow_truncate = 'on'; TRUNCATE \"audit_accesslog\"")
    assert "permission denied for table audit_accesslog" in message
    assert _scalar('SELECT count(*) FROM "audit_accesslog"') > 0


def test_the_orm_cannot_edit_history_as_the_app_role(populated):
    from referral_engine.cases.models import Case, CaseEvent

    row = populated.history.first()
    with pytest.raises(DatabaseError, match="permission denied"), transaction.atomic():
        Case.history.filter(history_id=row.history_id).update(history_change_reason="tampered")
    with pytest.raises(DatabaseError, match="permission denied"), transaction.atomic():
        CaseEvent.objects.filter(case=populated).delete()


@pytest.mark.parametrize("table", ["cases_caseevent", "audit_accesslog", "cases_historicalcase"])
def test_disabling_or_dropping_the_triggers_is_refused(populated, table):
    for sql in (
        f'ALTER TABLE "{table}" DISABLE TRIGGER audit_append_only_row',
        f'ALTER TABLE "{table}" DISABLE TRIGGER ALL',
        f'ALTER TABLE "{table}" ENABLE REPLICA TRIGGER audit_append_only_truncate',
        f'DROP TRIGGER audit_append_only_row ON "{table}"',
    ):
        message = _refused(sql)
        assert "must be owner of" in message and table in message, sql
    assert "must be owner of function audit_append_only" in _refused("DROP FUNCTION audit_append_only() CASCADE")
    assert "permission denied for schema public" in _refused(  # no CREATE in the schema at all
        "CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$"
    )


def test_session_replication_role_cannot_be_changed(app_role):
    for sql in ("SET session_replication_role = replica", "SET LOCAL session_replication_role = replica"):
        assert 'permission denied to set parameter "session_replication_role"' in _refused(sql)
    assert _scalar("SHOW session_replication_role") == "origin"


def test_ordinary_tables_are_read_and_written_and_the_migration_record_is_read_only(populated):
    with connection.cursor() as cursor:  # an ordinary table: UPDATE and DELETE granted
        cursor.execute("UPDATE cases_case SET updated_at = now() WHERE id = %s", [populated.pk])
        assert cursor.rowcount == 1
        cursor.execute("DELETE FROM django_session")
    assert _scalar("SELECT count(*) FROM django_migrations") > 0
    assert "permission denied for table django_migrations" in _refused(
        "INSERT INTO django_migrations (app, name, applied) VALUES ('x', 'y', now())"
    )


@pytest.mark.django_db(transaction=True)
def test_connection_as_owner_switches_who_connects_and_switches_back(settings):
    """What `manage.py migrate` (and `append_only_triggers --install`) do with DATABASE_OWNER_URL."""
    from referral_engine.audit.database_roles import connection_as_owner

    before = {key: connection.settings_dict.get(key) for key in ("USER", "PASSWORD", "HOST", "PORT", "NAME")}
    settings.DATABASE_OWNER = {"USER": "someone_owning", "PASSWORD": "pw", "HOST": "", "PORT": "", "NAME": "other"}
    with connection_as_owner() as as_owner:
        assert as_owner is True
        inside = dict(connection.settings_dict)
        assert (inside["USER"], inside["PASSWORD"]) == ("someone_owning", "pw")
        assert (inside["HOST"], inside["PORT"], inside["NAME"]) == (before["HOST"], before["PORT"], before["NAME"])
        assert connection.connection is None  # closed on the way in: the next query connects as the owner
    assert {key: connection.settings_dict.get(key) for key in before} == before
    settings.DATABASE_OWNER = None
    with connection_as_owner() as as_owner:
        assert as_owner is False and connection.settings_dict["USER"] == before["USER"]


def test_migrate_is_the_audit_apps_owner_aware_command():
    from django.core.management import get_commands, load_command_class

    assert get_commands()["migrate"] == "referral_engine.audit"
    command = load_command_class("referral_engine.audit", "migrate")
    assert "DATABASE_OWNER_URL" in command.help


def test_the_id_sequences_of_the_audit_tables_cannot_be_moved(app_role):
    """setval (UPDATE on a sequence) only where the table itself is writable: the load generator's need."""
    assert "permission denied for sequence" in _refused(
        "SELECT setval(pg_get_serial_sequence('\"audit_accesslog\"', 'id'), 1)"
    )
    assert "permission denied for sequence" in _refused(
        "SELECT setval(pg_get_serial_sequence('\"cases_caseevent\"', 'id'), 1)"
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT setval(pg_get_serial_sequence('\"cases_person\"', 'id'), 5000)")
        assert cursor.fetchone()[0] == 5000
