"""Migration operations shared by the apps' migrations."""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations
from django.db.migrations.operations.base import Operation


class AddIndexConcurrentlyOnPostgres(AddIndexConcurrently):
    """CREATE INDEX CONCURRENTLY on PostgreSQL; a plain index elsewhere (SQLite for `make run` and
    `make test`, where no other writer waits on the table). Django's own operation refuses SQLite,
    which broke `make run` on a fresh machine once (notifications/0004)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        return migrations.AddIndex.database_forwards(self, app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_backwards(app_label, schema_editor, from_state, to_state)
        return migrations.AddIndex.database_backwards(self, app_label, schema_editor, from_state, to_state)


class DatabaseTriggers(Operation):
    """Triggers that keep stored columns right on both databases (cases/0009, cases/0010), then a fill
    of the rows already there. Forwards: the PostgreSQL script or the SQLite statements, the `fill`,
    then `postgres_after` (an index, an ANALYZE). Backwards: `postgres_drop` in order, or each SQLite
    trigger dropped by name. The model state does not change (the columns are AddField's)."""

    reversible = True
    reduces_to_sql = False

    def __init__(
        self,
        *,
        label: str,
        postgres: str,
        sqlite: list[str],
        fill: str,
        postgres_drop: list[str],
        sqlite_drop: list[str],
        postgres_after: list[str] | None = None,
    ):
        self.label, self.postgres, self.sqlite, self.fill = label, postgres, sqlite, fill
        self.postgres_drop, self.sqlite_drop = postgres_drop, sqlite_drop
        self.postgres_after = postgres_after or []

    def state_forwards(self, app_label, state):
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        vendor = schema_editor.connection.vendor
        if vendor not in ("postgresql", "sqlite"):
            raise NotImplementedError(f"{self.label}: no triggers for {vendor}")
        with schema_editor.connection.cursor() as cursor:
            for sql in [self.postgres] if vendor == "postgresql" else self.sqlite:
                cursor.execute(sql)
            cursor.execute(self.fill)
            for sql in self.postgres_after if vendor == "postgresql" else []:
                cursor.execute(sql)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        vendor = schema_editor.connection.vendor
        with schema_editor.connection.cursor() as cursor:
            if vendor == "postgresql":
                for sql in self.postgres_drop:
                    cursor.execute(sql)
            elif vendor == "sqlite":
                for name in self.sqlite_drop:
                    cursor.execute(f"DROP TRIGGER IF EXISTS {name}")

    def describe(self):
        return f"Database triggers: {self.label}"
