"""Two partial indexes for my work at a million cases (issue 23, docs/benchmarks.md "Issue 23, third
round"): a worker's open led cases in deadline order, and a worker's open assigned referrals. Built
concurrently on PostgreSQL (a write to the tables does not wait), so the migration is not atomic."""

from django.db import migrations, models
from django.db.models import Q

from referral_engine.migration_operations import AddIndexConcurrentlyOnPostgres


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("cases", "0010_referral_setback_open")]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name="case",
            index=models.Index(
                condition=~Q(("state", "closed")), fields=["lead_worker", "stall_due_at"], name="case_led_open_idx"
            ),
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name="referral",
            index=models.Index(
                condition=Q(("state__in", ["requested", "accepted"])),
                fields=["assigned_worker"],
                name="referral_assigned_open_idx",
            ),
        ),
    ]
