"""Issue 16 (database roles): reinstall the append-only function and triggers on every existing
append-only table, so that

- TRUNCATE's opt-in (`referral_engine.allow_truncate`) works only for the table's owner or a superuser
  (roles that could disable the trigger anyway), never for the application's role;
- both triggers are ENABLE ALWAYS: `SET session_replication_role = replica` no longer skips them.

`install_append_only_triggers` is idempotent (CREATE OR REPLACE, DROP/CREATE TRIGGER). Going back
leaves the triggers installed (the previous migration's state is "installed" too)."""

from django.apps import apps as global_apps
from django.db import migrations

from referral_engine.audit.append_only import append_only_tables, install_append_only_triggers


def forwards(apps, schema_editor):
    install_append_only_triggers(schema_editor, append_only_tables(global_apps))


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_append_only_triggers")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop, elidable=False)]
