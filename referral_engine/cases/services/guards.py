"""The checks every public service makes before it writes (Zulip's `access_*` helpers): load and
lock the row, and answer "not found" alike for a row that does not exist and one the actor may not
see (DESIGN §5: 404, never a hint that it exists)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from referral_engine.access import policy
from referral_engine.accounts.models import User
from referral_engine.cases import locks
from referral_engine.cases.models import Case, Referral
from referral_engine.errors import NotFound


def access_case_for_write(case_id: Any, actor: User) -> Case:
    """The case, locked, if the actor may see it."""
    try:
        case = locks.case_for_update(int(case_id))
    except (Case.DoesNotExist, TypeError, ValueError):
        raise NotFound(_("ケースが見つかりません。")) from None
    if not policy.can_view_case(actor, case):
        raise NotFound(_("ケースが見つかりません。"))
    return case


def access_referral_for_write(referral_id: Any, actor: User) -> Referral:
    """The referral, locked, if the actor may see it."""
    try:
        referral = locks.referral_for_update(int(referral_id))
    except (Referral.DoesNotExist, TypeError, ValueError):
        raise NotFound(_("つなぎが見つかりません。")) from None
    if not policy.can_view_referral(actor, referral):
        raise NotFound(_("つなぎが見つかりません。"))
    return referral
