"""Append-only audit tables on PostgreSQL: every history table, the case timeline and the access log
refuse UPDATE, DELETE and TRUNCATE (DESIGN §6). Nothing on other databases.

The tables are resolved from the models as the code declares them (`django.apps.apps`, not the
migration state), so every history table that exists when this runs is covered; a history table
created by a later migration needs a migration of its own calling `install_append_only_triggers`
(the system check audit.E001 and tests/audit/test_append_only.py report one that lacks it)."""

from django.apps import apps as global_apps
from django.db import migrations

from referral_engine.audit.append_only import (
    append_only_tables,
    install_append_only_triggers,
    uninstall_append_only_triggers,
)


def forwards(apps, schema_editor):
    install_append_only_triggers(schema_editor, append_only_tables(global_apps))


def backwards(apps, schema_editor):
    uninstall_append_only_triggers(schema_editor, append_only_tables(global_apps))


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0001_initial"),
        ("accounts", "0001_initial"),
        ("cases", "0001_initial"),
        ("timers", "0003_sweep_runs"),
    ]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
