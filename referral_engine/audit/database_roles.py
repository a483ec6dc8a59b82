"""The two database roles (issue 16, docs/operations.md "Database roles").

- the **owner** (`referral_owner`): owns the database, the schema and every table; `manage.py migrate`
  connects as it when `DATABASE_OWNER_URL` is set (the migrate command of the audit app);
- the **application** (`referral_app`, the user of `DATABASE_URL`): neither superuser nor owner. It
  may read and write the ordinary tables, only SELECT and INSERT on the append-only ones (history, the
  case timeline, the access log), only SELECT on `django_migrations`, and no TRUNCATE, ALTER, DROP or
  CREATE anywhere. PostgreSQL itself then refuses what the app must never do: `ALTER TABLE … DISABLE
  TRIGGER` and `DROP FUNCTION` need ownership, `SET session_replication_role` needs a superuser.

`database_roles_grant` gives the application role exactly that; it runs as the owner after every
`migrate` (a post_migrate receiver, `AuditConfig.ready`), so a table a migration creates has its
grants before the app meets it. The owner's default privileges (deploy/postgres/roles.sql, and again
here, per database) cover a table created outside `migrate`, until the next `migrate` narrows them.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

from referral_engine.audit.append_only import append_only_tables

logger = logging.getLogger(__name__)

ORDINARY_PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"
APPEND_ONLY_PRIVILEGES = "SELECT, INSERT"
# Read by the app's system checks (pending migrations); written only by the owner's migrate.
READ_ONLY_TABLES = ("django_migrations",)
# What a connection takes from DATABASE_OWNER_URL: who and where. The database name stays the
# connection's own (a test run's test_* database, for instance).
OWNER_KEYS = ("USER", "PASSWORD", "HOST", "PORT")


def database_app_role() -> str:
    """The application's role when the deployment separates the owner from it, else ""."""
    return getattr(settings, "DATABASE_APP_ROLE", "") or ""


def database_owner() -> dict[str, Any] | None:
    return getattr(settings, "DATABASE_OWNER", None) or None


def _current_user(connection) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        return cursor.fetchone()[0]


def table_privileges(table: str, append_only: set[str]) -> str:
    if table in append_only:
        return APPEND_ONLY_PRIVILEGES
    if table in READ_ONLY_TABLES:
        return "SELECT"
    return ORDINARY_PRIVILEGES


def database_roles_grant(connection, *, app_role: str) -> list[str]:
    """As the owner: give `app_role` exactly its privileges on every table of the schema (REVOKE ALL,
    then GRANT, so a privilege given by hand does not linger). Returns the tables granted."""
    if connection.vendor != "postgresql" or not app_role:
        return []
    quote = connection.ops.quote_name
    role = quote(app_role)
    append_only = set(append_only_tables())
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [app_role])
        if cursor.fetchone() is None:
            logger.warning("database_roles_grant: role %s does not exist; nothing granted", app_role)
            return []
        cursor.execute(
            """
            SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND pg_has_role(current_user, c.relowner, 'USAGE')
             ORDER BY c.relname
            """
        )
        tables = [row[0] for row in cursor.fetchall()]
        cursor.execute(f"GRANT USAGE ON SCHEMA public TO {role}")
        for table in tables:
            quoted = quote(table)
            cursor.execute(f"REVOKE ALL ON {quoted} FROM {role}")
            cursor.execute(f"GRANT {table_privileges(table, append_only)} ON {quoted} TO {role}")
        # Identity columns need no sequence privilege to insert; serial columns (older tables) do. UPDATE
        # (setval: the load generator moves the id sequences past the rows it copied in) only on the
        # sequences of tables the app may update anyway, never those of the append-only tables.
        cursor.execute(
            """
            SELECT s.relname, t.relname FROM pg_class s
              JOIN pg_namespace n ON n.oid = s.relnamespace
              LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = s.oid
                                   AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
              LEFT JOIN pg_class t ON t.oid = d.refobjid
             WHERE n.nspname = 'public' AND s.relkind = 'S' AND pg_has_role(current_user, s.relowner, 'USAGE')
            """
        )
        for sequence, table in cursor.fetchall():
            quoted = quote(sequence)
            writable = table is not None and table_privileges(table, append_only) == ORDINARY_PRIVILEGES
            cursor.execute(f"REVOKE ALL ON SEQUENCE {quoted} FROM {role}")
            cursor.execute(f"GRANT USAGE, SELECT{', UPDATE' if writable else ''} ON SEQUENCE {quoted} TO {role}")
        cursor.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT {ORDINARY_PRIVILEGES} ON TABLES TO {role}")
        cursor.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {role}")
    return tables


def database_roles_after_migrate(sender: Any = None, using: str = DEFAULT_DB_ALIAS, **kwargs: Any) -> None:
    """post_migrate receiver (sent once per app: connected for the audit app only)."""
    app_role = database_app_role()
    connection = connections[using]
    if connection.vendor != "postgresql" or not app_role or _current_user(connection) == app_role:
        return
    granted = database_roles_grant(connection, app_role=app_role)
    stdout = kwargs.get("stdout")
    if granted and stdout is not None and kwargs.get("verbosity", 1) >= 1:
        stdout.write(f"  Granted {app_role} its privileges on {len(granted)} tables.")


@contextlib.contextmanager
def connection_as_owner(alias: str = DEFAULT_DB_ALIAS) -> Iterator[bool]:
    """Connect `alias` as the owner of DATABASE_OWNER_URL for the duration (the same database name),
    then back as the application. Yields False and changes nothing when no owner is configured.
    Not inside an open transaction: the connection is closed on the way in and out."""
    owner = database_owner()
    connection = connections[alias]
    if not owner or connection.vendor != "postgresql":
        yield False
        return
    saved = {key: connection.settings_dict.get(key) for key in OWNER_KEYS}
    connection.close()
    connection.settings_dict.update(
        {
            "USER": owner.get("USER") or "",
            "PASSWORD": owner.get("PASSWORD") or "",
            "HOST": owner.get("HOST") or saved["HOST"],
            "PORT": owner.get("PORT") or saved["PORT"],
        }
    )
    try:
        yield True
    finally:
        connection.close()
        connection.settings_dict.update(saved)
