"""Migrations that a running city can take without downtime (issue 22, item 5).

A plain `CREATE INDEX` or `ALTER TABLE … ADD CONSTRAINT` on PostgreSQL holds a lock that blocks every
write to the table until the whole table has been read: on the case, referral, history or access-log
tables of a city with years of records, that is minutes of "the counter cannot save". On those tables a
migration must instead use

- `django.contrib.postgres.operations.AddIndexConcurrently` (and `RemoveIndexConcurrently`) in a
  migration with `atomic = False`;
- `AddConstraintNotValid` followed by `ValidateConstraint` (check constraints; the validation takes a
  lock that lets writes through), or, for a unique constraint, `CREATE UNIQUE INDEX CONCURRENTLY` then
  `ADD CONSTRAINT … UNIQUE USING INDEX` (a `SeparateDatabaseAndState` with `RunSQL`);
- a new column without an index in one migration and `AddIndexConcurrently` in the next.

`unsafe_operations()` lists every operation that breaks this rule in migrations other than the
ACCEPTED ones (migrations applied before the rule: history is not rewritten). A test runs it over all
migrations (`tests/test_migration_safety.py`), so CI fails on a plain index on a large table.
docs/operations.md explains the rule and the upgrade order.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.postgres.operations import AddConstraintNotValid, AddIndexConcurrently
from django.db import migrations, models

# Tables that grow with the city's work (model labels, lower case). Every simple-history table
# ("historical…") is large too, whatever its model.
LARGE_MODELS = frozenset(
    {
        "cases.person",
        "cases.case",
        "cases.referral",
        "cases.caseevent",
        "cases.activity",
        "cases.consent",
        "cases.stagerecord",
        "cases.communityslip",
        "audit.accesslog",
        "timers.timer",
        "timers.escalation",
        "notifications.notification",
    }
)
# Apps whose every table is large: `access` holds only the per-case and per-referral permission rows.
LARGE_APPS = frozenset({"access"})
LARGE_TABLE_PREFIXES = ("cases_", "audit_", "timers_timer", "timers_escalation", "notifications_", "access_")

# Migrations written before this rule: applied everywhere, so history — never rewritten. Each one here
# added an index or constraint to a large table in a way the rule now refuses.
ACCEPTED = frozenset(
    {
        ("cases", "0002_list_and_dashboard_indexes"),
        ("cases", "0003_gap_cases_index"),
        ("notifications", "0002_unread_count_index"),
        ("timers", "0002_timer_clocks_and_cycles"),
        ("timers", "0004_open_escalations_list_index"),
    }
)

_PLAIN_CREATE_INDEX = re.compile(r"\bCREATE\s+(UNIQUE\s+)?INDEX\b(?!\s+CONCURRENTLY)", re.IGNORECASE)
_ADD_CONSTRAINT = re.compile(r"\bADD\s+CONSTRAINT\b", re.IGNORECASE)
_NOT_VALID_OR_USING_INDEX = re.compile(r"\bNOT\s+VALID\b|\bUSING\s+INDEX\b", re.IGNORECASE)


@dataclass(frozen=True)
class Finding:
    app_label: str
    migration: str
    operation: str
    target: str
    why: str

    def __str__(self) -> str:
        return f"{self.app_label}.{self.migration}: {self.operation} on {self.target}: {self.why}"


def is_large(app_label: str, model_name: str) -> bool:
    model_name = model_name.lower()
    return app_label in LARGE_APPS or model_name.startswith("historical") or f"{app_label}.{model_name}" in LARGE_MODELS


def _field_builds_an_index(field: models.Field) -> bool:
    if field.unique or field.db_index:
        return True
    # A foreign key gets an index (db_index defaults to True) and a constraint validated under lock.
    return field.is_relation and field.many_to_one and field.db_constraint


def _sql_texts(sql) -> Iterable[str]:
    if isinstance(sql, str):
        yield sql
    elif isinstance(sql, list | tuple):
        for item in sql:
            yield item[0] if isinstance(item, list | tuple) else str(item)


def _sql_names_large_table(sql: str) -> bool:
    lowered = sql.lower()
    return any(prefix in lowered for prefix in LARGE_TABLE_PREFIXES)


def check_migration(migration: migrations.Migration) -> list[Finding]:
    """The operations of one migration that would lock a large table for writes."""
    app = migration.app_label
    if migration.initial:
        return []  # an initial migration runs when the app is installed: its tables are empty
    created_here: set[str] = set()  # a table created in the same migration is empty: anything goes
    found: list[Finding] = []

    def flag(operation, model_name: str, why: str) -> None:
        found.append(Finding(app, migration.name, type(operation).__name__, f"{app}.{model_name.lower()}", why))

    for operation in migration.operations:
        if isinstance(operation, migrations.CreateModel):
            created_here.add(operation.name_lower)
            continue
        model_name = getattr(operation, "model_name", None) or getattr(operation, "name", None) or ""
        large = bool(model_name) and is_large(app, model_name) and model_name.lower() not in created_here
        if isinstance(operation, AddIndexConcurrently):
            if migration.atomic:
                flag(operation, model_name, "AddIndexConcurrently needs `atomic = False` on the migration")
            continue
        if isinstance(operation, AddConstraintNotValid):
            continue
        if isinstance(operation, migrations.AddIndex) and large:
            flag(operation, model_name, "use AddIndexConcurrently in a migration with atomic = False")
        elif isinstance(operation, migrations.AddConstraint) and large:
            flag(
                operation,
                model_name,
                "use AddConstraintNotValid + ValidateConstraint (a unique constraint: CREATE UNIQUE INDEX "
                "CONCURRENTLY, then ADD CONSTRAINT … USING INDEX)",
            )
        elif isinstance(operation, migrations.AddField | migrations.AlterField) and large:
            if _field_builds_an_index(operation.field):
                flag(
                    operation,
                    model_name,
                    f"field {operation.name!r} builds an index or constraint under lock: add it with "
                    "db_index=False / db_constraint=False, then AddIndexConcurrently",
                )
        elif isinstance(operation, migrations.AlterUniqueTogether | migrations.AlterIndexTogether) and large:
            if getattr(operation, "option_value", None):
                flag(operation, model_name, "use a concurrently built index instead")
        elif isinstance(operation, migrations.RunSQL):
            for sql in _sql_texts(operation.sql):
                if not _sql_names_large_table(sql):
                    continue
                if _PLAIN_CREATE_INDEX.search(sql):
                    found.append(
                        Finding(app, migration.name, "RunSQL", "a large table", "CREATE INDEX without CONCURRENTLY")
                    )
                if _ADD_CONSTRAINT.search(sql) and not _NOT_VALID_OR_USING_INDEX.search(sql):
                    found.append(
                        Finding(app, migration.name, "RunSQL", "a large table", "ADD CONSTRAINT without NOT VALID")
                    )
    return found


def project_migrations() -> list[migrations.Migration]:
    """Every migration on disk of the project's own apps (referral_engine.*, workflows)."""
    from django.apps import apps
    from django.db.migrations.loader import MigrationLoader

    ours = {
        config.label
        for config in apps.get_app_configs()
        if config.name.startswith("referral_engine.") or config.name == "workflows"
    }
    loader = MigrationLoader(None, ignore_no_migrations=True)
    return [migration for (app, _), migration in sorted(loader.disk_migrations.items()) if app in ours]


def unsafe_operations(migration_list: Iterable[migrations.Migration] | None = None) -> list[Finding]:
    """Findings in every migration that is not ACCEPTED history."""
    found: list[Finding] = []
    for migration in project_migrations() if migration_list is None else migration_list:
        if (migration.app_label, migration.name) in ACCEPTED:
            continue
        found.extend(check_migration(migration))
    return found
