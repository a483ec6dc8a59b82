"""Tokens of users with a confirmed TOTP device were issued on the password alone until the token
endpoint asked for the code (issue 11): revoke them once, so each such user's next token is got with
the second factor. Integration accounts (no device) keep theirs."""

from django.db import migrations


def revoke_password_only_tokens(apps, schema_editor):
    Token = apps.get_model("authtoken", "Token")
    TOTPDevice = apps.get_model("otp_totp", "TOTPDevice")
    users = TOTPDevice.objects.filter(confirmed=True).values("user_id")
    Token.objects.filter(user_id__in=users).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("authtoken", "0004_alter_tokenproxy_options"),
        ("otp_totp", "0003_add_timestamps"),
    ]

    operations = [migrations.RunPython(revoke_password_only_tokens, migrations.RunPython.noop)]
