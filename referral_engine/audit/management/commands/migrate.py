"""`manage.py migrate`, as the database owner when `DATABASE_OWNER_URL` is set (issue 16).

The application connects as a role that owns nothing and cannot create, alter or drop a table
(docs/operations.md "Database roles"). Migrations need the owner: with `DATABASE_OWNER_URL` set this
command connects the migrated database as that role (same database name) for the whole run —
system checks, migrations, post_migrate receivers, among them the grants to the application role
(`audit.database_roles`) — and reconnects as the application afterwards. Without it, Django's
migrate as is (SQLite, `make run`, a single-role deployment)."""

from __future__ import annotations

from django.core.management.commands.migrate import Command as DjangoMigrateCommand

from referral_engine.audit.database_roles import connection_as_owner


class Command(DjangoMigrateCommand):
    help = DjangoMigrateCommand.help + " Connects as DATABASE_OWNER_URL's role when it is set."

    def handle(self, *args, **options):
        with connection_as_owner(options["database"]) as as_owner:
            if as_owner and options["verbosity"] >= 1:
                self.stdout.write("Migrating as the database owner (DATABASE_OWNER_URL).")
            return super().handle(*args, **options)
