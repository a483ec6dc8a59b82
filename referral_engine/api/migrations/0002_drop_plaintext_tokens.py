"""DRF's authtoken table kept each key in plain text, without expiry, and survived password changes
(issue 16). The API now authenticates against referral_engine.accounts' hashed, expiring ApiToken:
the old keys are deleted once (they may have outlived a password reset — there is no telling), so
each client asks POST /api/v1/auth/token/ once more. `rest_framework.authtoken` stays installed only
because the migration history names it."""

from django.db import migrations


def drop_plaintext_tokens(apps, schema_editor):
    apps.get_model("authtoken", "Token").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("api", "0001_revoke_password_only_tokens"),
        ("accounts", "0002_api_tokens"),
    ]

    operations = [migrations.RunPython(drop_plaintext_tokens, migrations.RunPython.noop)]
