"""The daily digest (issue 18, item 7): two delivery states for the rows that wait for the morning's
mail (`digest`) and those it listed (`digested`), the index the morning task reads them by (built
concurrently: the outbox is a large table), and one `MailDigest` row per user and day."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from referral_engine.migration_operations import AddIndexConcurrentlyOnPostgres


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY on PostgreSQL

    dependencies = [
        ("notifications", "0003_notification_link_built_when_shown"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="notification",
            name="delivery",
            field=models.CharField(
                choices=[
                    ("pending", "未送信"),
                    ("sent", "送信済み"),
                    ("failed", "失敗"),
                    ("skipped", "送信不要"),
                    ("digest", "まとめ送信待ち"),
                    ("digested", "まとめて送信済み"),
                ],
                default="pending",
                max_length=10,
                verbose_name="配信状態",
            ),
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name="notification",
            index=models.Index(
                condition=models.Q(("delivery", "digest")), fields=["recipient", "id"], name="notification_digest_idx"
            ),
        ),
        migrations.CreateModel(
            name="MailDigest",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("day", models.DateField(verbose_name="日付")),
                ("count", models.PositiveIntegerField(default=0, verbose_name="件数")),
                ("sent_at", models.DateTimeField(auto_now_add=True, verbose_name="送信日時")),
                (
                    "recipient",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="mail_digests",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="宛先",
                    ),
                ),
            ],
            options={
                "verbose_name": "まとめメール",
                "verbose_name_plural": "まとめメール",
                "ordering": ["-day", "recipient_id"],
                "constraints": [models.UniqueConstraint(fields=("recipient", "day"), name="mail_digest_once_a_day")],
            },
        ),
    ]
