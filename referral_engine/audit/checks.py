"""System check audit.E001: an append-only table (history, timeline, access log) on PostgreSQL whose
UPDATE/DELETE/TRUNCATE trigger is missing, disabled, or not ENABLE ALWAYS (pg_trigger.tgenabled).

Registered without Django's `database` tag so that a plain `manage.py check` runs it too (issue 16),
as do `migrate` (once no migration is pending) and every command that runs the checks. It is silent
on other databases, while migrations are pending (one of them may install the triggers) and when the
database cannot be reached (/healthz reports that). tests/audit/test_append_only.py asserts the same."""

from __future__ import annotations

from typing import Any

from django.core import checks
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.migrations.executor import MigrationExecutor

from referral_engine.audit.append_only import append_only_missing


def _missing(connection) -> list[str]:
    executor = MigrationExecutor(connection)
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        return []  # migrations pending (`migrate` runs this check first): one of them may install them
    return append_only_missing(connection)


@checks.register()
def append_only_triggers_check(app_configs: Any = None, databases: Any = None, **kwargs: Any) -> list:
    errors: list[checks.CheckMessage] = []
    for alias in databases if databases is not None else [DEFAULT_DB_ALIAS]:
        connection = connections[alias]
        if connection.vendor != "postgresql":
            continue
        try:
            missing = _missing(connection)
        except DatabaseError:
            continue  # unreachable or not yet created: nothing to say about its triggers
        for table in missing:
            errors.append(
                checks.Error(
                    f"Append-only table {table!r} has no enabled (ALWAYS) UPDATE/DELETE/TRUNCATE trigger.",
                    hint=(
                        "A new history table: add a migration whose RunPython calls "
                        "referral_engine.audit.append_only.install_append_only_triggers("
                        f"schema_editor, [{table!r}]). A trigger dropped or disabled by hand: "
                        "`manage.py append_only_triggers --install` as the database owner (docs/audit.md)."
                    ),
                    id="audit.E001",
                )
            )
    return errors
