"""Notifications stop storing a URL: the link is built when the notification is shown or mailed
(`Notification.get_absolute_url`). Step one of two, so an upgrade needs no downtime:

1. the column gets a database default (`''`, a catalogue change on PostgreSQL: no rewrite, no long
   lock), then leaves the model's state: the new code no longer writes it, while the old processes
   still running during the upgrade (migrate, then web, then workers) go on writing it;
2. a later release drops the column (`RemoveField`), once no process of this release's predecessor
   can run (docs/operations.md, "Upgrades").
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0002_unread_count_index"),
    ]

    operations = [
        migrations.AlterField(
            model_name="notification",
            name="url",
            field=models.CharField(blank=True, db_default="", default="", max_length=300),
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.RemoveField(model_name="notification", name="url")],
            database_operations=[],
        ),
    ]
