"""A user's own settings (issue 18, items 7 and 8): how notification mail reaches them
(`mail_preference`: immediate / daily_digest / off, honoured by notifications/digest.py) and how dates
are shown (`date_style`: 和暦 with 西暦, or 西暦 only; the `wareki` template filter). The web page
`/accounts/settings/` and `PATCH /api/v1/me/preferences/` both write through `user_preferences_set`."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from referral_engine.access import policy
from referral_engine.accounts.models import DateStyle, MailPreference, User
from referral_engine.errors import Forbidden, InvalidInput

FIELDS = {"mail_preference": MailPreference, "date_style": DateStyle}


def user_preferences(user: Any) -> dict[str, str]:
    return {name: getattr(user, name) for name in FIELDS}


@transaction.atomic
def user_preferences_set(*, user: Any, actor: Any, **changes: str) -> User:
    """Change some of `mail_preference` / `date_style` of `user` (only one's own: `Forbidden`
    otherwise). An unknown field or value is an `InvalidInput` naming the field; nothing is saved."""
    if not policy.can_edit_preferences(actor, user):
        raise Forbidden()
    errors: dict[str, list[str]] = {}
    for name, value in changes.items():
        choices = FIELDS.get(name)
        if choices is None:
            errors[name] = [_("この項目は変更できません。")]
        elif value not in choices.values:
            errors[name] = [_("選択肢の中から選んでください。")]
    if errors:
        raise InvalidInput(_("設定を保存できませんでした。"), fields=errors)
    row = User.objects.select_for_update().get(pk=user.pk)
    changed = [name for name, value in changes.items() if getattr(row, name) != value]
    for name in changed:
        setattr(row, name, changes[name])
        setattr(user, name, changes[name])  # the request's user shows the new style at once
    if changed:
        row.save(update_fields=changed)
    return row
