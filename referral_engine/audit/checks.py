"""System check audit.E001: an append-only table (history, timeline, access log) without its
triggers on PostgreSQL. Runs with `manage.py check --database default` and in Django's test runner;
tests/audit/test_append_only.py asserts the same under pytest."""

from __future__ import annotations

from typing import Any

from django.core import checks
from django.db import connections
from django.db.migrations.executor import MigrationExecutor

from referral_engine.audit.append_only import append_only_missing


@checks.register(checks.Tags.database)
def append_only_triggers_check(app_configs: Any = None, databases: Any = None, **kwargs: Any) -> list:
    errors: list[checks.CheckMessage] = []
    for alias in databases or ():
        connection = connections[alias]
        if connection.vendor != "postgresql":
            continue
        executor = MigrationExecutor(connection)
        if executor.migration_plan(executor.loader.graph.leaf_nodes()):
            continue  # migrations pending (`migrate` runs this check first): one of them may install them
        for table in append_only_missing(connection):
            errors.append(
                checks.Error(
                    f"Append-only table {table!r} has no UPDATE/DELETE/TRUNCATE trigger.",
                    hint=(
                        "A new history table: add a migration whose RunPython calls "
                        "referral_engine.audit.append_only.install_append_only_triggers("
                        f"schema_editor, [{table!r}]). A trigger dropped or disabled by hand: "
                        "`manage.py append_only_triggers --install` (see docs/audit.md)."
                    ),
                    id="audit.E001",
                )
            )
    return errors
