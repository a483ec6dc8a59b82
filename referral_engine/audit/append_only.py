"""Append-only audit tables on PostgreSQL (DESIGN §6): every history table, the case timeline and the
access log refuse UPDATE, DELETE and TRUNCATE. INSERT stays open, so creating, changing and deleting
tracked objects keeps working (each writes a new history row).

Reusable from any later migration that creates a history table:

    from referral_engine.audit.append_only import install_append_only_triggers

    def forwards(apps, schema_editor):
        install_append_only_triggers(schema_editor, ["cases_historicalnewthing"])

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]

`append_only_missing()` lists tables that lack their triggers; the system check `audit.E001`
(`manage.py check --database default`) and `tests/audit/test_append_only.py` report them.

TRUNCATE is refused unless the session opted in with `SET referral_engine.allow_truncate = 'on'`
**and** its role owns the table (or is a superuser), who could disable the trigger anyway: the
opt-in gives nobody a power they did not have. The application's role (`referral_app`, docs/
operations.md) owns nothing and has no TRUNCATE privilege either. Django's test framework empties the
database with one TRUNCATE after transactional tests: as the owner (tests/fixtures.py when
DATABASE_OWNER_URL is set), or as the superuser of a local run (`referral_engine.audit.apps` opts in
only while Django's test environment is set up). UPDATE and DELETE have no opt-in: a migration that
must rewrite history drops the triggers with `uninstall_append_only_triggers` and reinstalls them,
in plain sight of review.

Both triggers are `ENABLE ALWAYS`: they fire even in a session that set `session_replication_role =
replica` (which skips ordinary triggers). `append_only_missing()` reports a trigger that is missing,
disabled or back in the ordinary mode.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.apps import apps as global_apps

FUNCTION_NAME = "audit_append_only"
ROW_TRIGGER = "audit_append_only_row"
TRUNCATE_TRIGGER = "audit_append_only_truncate"
ALLOW_TRUNCATE_SETTING = "referral_engine.allow_truncate"

# Append-only tables besides the history tables: the case timeline and the access log.
EXTRA_APPEND_ONLY_MODELS = ("cases.CaseEvent", "audit.AccessLog")

# `%` not `%%`: executed without params.
FUNCTION_SQL = f"""
CREATE OR REPLACE FUNCTION {FUNCTION_NAME}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE'
       AND coalesce(current_setting('{ALLOW_TRUNCATE_SETTING}', true), '') = 'on'
       AND pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = TG_RELID), 'USAGE') THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'append-only: % on %.% is refused', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'History, the case timeline and the access log are never edited (docs/audit.md).';
END;
$$;
"""  # noqa: S608 - module constants only, no input


def history_models(apps: Any = global_apps) -> list[Any]:
    """Every simple-history model: those registered on a tracked model, and any model whose name
    starts with "Historical" (m2m history, custom names)."""
    found: dict[str, Any] = {}
    for model in apps.get_models():
        manager_name = getattr(model._meta, "simple_history_manager_attribute", None)
        if manager_name and not model._meta.proxy:
            history = getattr(getattr(model, manager_name, None), "model", None)
            if history is not None:
                found[history._meta.label_lower] = history
        if model.__name__.startswith("Historical") and not model._meta.proxy:
            found[model._meta.label_lower] = model
    return sorted(found.values(), key=lambda m: m._meta.db_table)


def append_only_tables(apps: Any = global_apps) -> list[str]:
    """The tables that must refuse UPDATE/DELETE/TRUNCATE, from the models as the code declares them."""
    tables = {m._meta.db_table for m in history_models(apps)}
    for label in EXTRA_APPEND_ONLY_MODELS:
        try:
            tables.add(apps.get_model(label)._meta.db_table)
        except LookupError:
            continue
    return sorted(tables)


def install_append_only_triggers(schema_editor: Any, tables: Iterable[str]) -> list[str]:
    """Install (or reinstall) the function and both triggers on each existing table. Idempotent; a
    no-op on databases other than PostgreSQL. Returns the tables it installed on."""
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        existing = set(connection.introspection.table_names(cursor))
    schema_editor.execute(FUNCTION_SQL, params=None)
    done = []
    for table in sorted(set(tables)):
        if table not in existing:  # created by a later migration: the check reports it if it stays bare
            continue
        quoted = schema_editor.quote_name(table)
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {ROW_TRIGGER} ON {quoted}", params=None)
        schema_editor.execute(
            f"CREATE TRIGGER {ROW_TRIGGER} BEFORE UPDATE OR DELETE ON {quoted} "
            f"FOR EACH ROW EXECUTE FUNCTION {FUNCTION_NAME}()",
            params=None,
        )
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {TRUNCATE_TRIGGER} ON {quoted}", params=None)
        schema_editor.execute(
            f"CREATE TRIGGER {TRUNCATE_TRIGGER} BEFORE TRUNCATE ON {quoted} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION_NAME}()",
            params=None,
        )
        # ALWAYS: `SET session_replication_role = replica` must not switch them off.
        for trigger in (ROW_TRIGGER, TRUNCATE_TRIGGER):
            schema_editor.execute(f"ALTER TABLE {quoted} ENABLE ALWAYS TRIGGER {trigger}", params=None)
        done.append(table)
    return done


def uninstall_append_only_triggers(schema_editor: Any, tables: Iterable[str]) -> None:
    """Remove both triggers from each table (the reverse of a migration, or a reviewed rewrite)."""
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        existing = set(connection.introspection.table_names(cursor))
    for table in sorted(set(tables)):
        if table in existing:
            quoted = schema_editor.quote_name(table)
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {ROW_TRIGGER} ON {quoted}", params=None)
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {TRUNCATE_TRIGGER} ON {quoted}", params=None)


def append_only_missing(connection: Any, apps: Any = global_apps) -> list[str]:
    """Existing append-only tables that lack a row trigger or truncate trigger calling the append-only
    function and enabled ALWAYS (pg_trigger.tgenabled = 'A'): missing, disabled ('D'), replica-only
    ('R') or ordinary ('O', which `session_replication_role = replica` skips) are all reported.
    Empty on databases other than PostgreSQL."""
    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        existing = set(connection.introspection.table_names(cursor))
        cursor.execute(
            """
            SELECT c.relname, t.tgname, t.tgtype
              FROM pg_trigger t
              JOIN pg_class c ON c.oid = t.tgrelid
              JOIN pg_namespace n ON n.oid = c.relnamespace
              JOIN pg_proc p ON p.oid = t.tgfoid
             WHERE n.nspname = ANY(current_schemas(false))
               AND NOT t.tgisinternal
               AND t.tgenabled = 'A'
               AND p.proname = %s
               AND t.tgname IN (%s, %s)
            """,
            [FUNCTION_NAME, ROW_TRIGGER, TRUNCATE_TRIGGER],
        )
        present: dict[str, set[str]] = {}
        for table, trigger, tgtype in cursor.fetchall():
            # pg_trigger.tgtype bits: 1 row, 8 delete, 16 update, 32 truncate.
            complete = (tgtype & 25) == 25 if trigger == ROW_TRIGGER else bool(tgtype & 32)
            if complete:
                present.setdefault(table, set()).add(trigger)
    wanted = {ROW_TRIGGER, TRUNCATE_TRIGGER}
    return [t for t in append_only_tables(apps) if t in existing and present.get(t, set()) != wanted]
