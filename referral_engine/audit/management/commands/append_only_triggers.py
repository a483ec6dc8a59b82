"""`manage.py append_only_triggers [--install]`: list the append-only tables (history, timeline,
access log) that lack their PostgreSQL triggers (exit status 1 when any does); `--install` installs
them on every such table (idempotent) — the repair for drift such as a trigger dropped by hand —
connected as DATABASE_OWNER_URL's role when it is set (the application's role owns no table).
A new history table still gets its own migration (docs/audit.md)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from referral_engine.audit.append_only import append_only_missing, append_only_tables, install_append_only_triggers
from referral_engine.audit.database_roles import connection_as_owner


class Command(BaseCommand):
    help = "Check (or --install) the append-only triggers on history, timeline and access-log tables."
    # audit.E001 (what this command reports and repairs) must not stop it from running.
    requires_system_checks: list = []

    def add_arguments(self, parser):
        parser.add_argument("--install", action="store_true", help="install the triggers where they are missing")
        parser.add_argument("--database", default="default")

    def handle(self, *args, **options):
        connection = connections[options["database"]]
        if connection.vendor != "postgresql":
            self.stdout.write(f"{connection.vendor}: append-only triggers exist on PostgreSQL only.")
            return
        missing = append_only_missing(connection)
        if missing and options["install"]:
            # Only the tables' owner may (re)create their triggers: DATABASE_OWNER_URL's role if set.
            with connection_as_owner(options["database"]), connection.schema_editor() as editor:
                install_append_only_triggers(editor, missing)
            self.stdout.write(f"installed on: {', '.join(missing)}")
            missing = append_only_missing(connection)
        if missing:
            raise CommandError(f"without append-only triggers: {', '.join(missing)}")
        self.stdout.write(f"all {len(append_only_tables())} append-only tables have their triggers.")
