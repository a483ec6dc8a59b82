"""Each user's own settings (issue 18, items 7 and 8): how notification mail reaches them and how
dates are shown. A database default as well, so processes of the previous release that create users
during an upgrade still write valid rows."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_api_tokens"),
    ]

    operations = [
        migrations.AddField(
            model_name="user",
            name="date_style",
            field=models.CharField(
                choices=[("wareki", "和暦と西暦（令和8年12月3日 (2026)）"), ("western", "西暦のみ（2026-12-03）")],
                db_default="wareki",
                default="wareki",
                max_length=10,
                verbose_name="日付の表示",
            ),
        ),
        migrations.AddField(
            model_name="user",
            name="mail_preference",
            field=models.CharField(
                choices=[
                    ("immediate", "すぐに送る"),
                    ("daily_digest", "1日1回まとめて送る（毎朝7時30分。急ぎの通知はすぐに送ります）"),
                    ("off", "送らない（画面の通知だけ）"),
                ],
                db_default="immediate",
                default="immediate",
                max_length=20,
                verbose_name="通知メール",
            ),
        ),
    ]
