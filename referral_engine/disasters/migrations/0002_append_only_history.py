"""The history of disaster events and safety checks is append-only like every history table
(audit/append_only.py): who marked whom safe, and when, cannot be rewritten."""

from django.db import migrations

from referral_engine.audit.append_only import install_append_only_triggers, uninstall_append_only_triggers

HISTORY_TABLES = ["disasters_historicaldisaster", "disasters_historicalsafetycheck"]


def append_only(apps, schema_editor):
    install_append_only_triggers(schema_editor, HISTORY_TABLES)


def not_append_only(apps, schema_editor):
    uninstall_append_only_triggers(schema_editor, HISTORY_TABLES)


class Migration(migrations.Migration):
    dependencies = [("disasters", "0001_disaster_mode")]

    operations = [migrations.RunPython(append_only, not_append_only, elidable=False)]
