"""Reassessment (再アセスメント, DESIGN §11.2): a case's risk, needs and 主訴 change after intake, with a
reason. The change is historied (who and why), written to the timeline, and touches the case: the
stall clock restarts under the new risk (`urgent`: one day)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from referral_engine.access import policy
from referral_engine.accounts.models import User
from referral_engine.audit.history import save_with_history
from referral_engine.cases import events
from referral_engine.cases.choices import CaseState, Risk
from referral_engine.cases.inputs import UpkeepInputs, clean_choice, clean_needs
from referral_engine.cases.models import Case
from referral_engine.cases.services.changes import case_touch, changed_fields, snapshot
from referral_engine.cases.services.guards import access_case_for_write, checks
from referral_engine.errors import Forbidden, IllegalTransition


@checks(policy.can_view_case, policy.can_reassess)
@transaction.atomic
def case_reassess(
    *,
    case_id: int,
    actor: User,
    risk: str | None = None,
    needs: list[str] | None = None,
    summary: str | None = None,
    reason: str,
) -> Case:
    """`risk`, `needs` and `summary` left as None keep their value; the reason is required."""
    case = access_case_for_write(case_id, actor)
    if case.state == CaseState.CLOSED:
        raise IllegalTransition(_("終結したケースは再アセスメントできません。再開してください。"), allowed=[])
    if not policy.can_reassess(actor, case):
        raise Forbidden(_("再アセスメントできるのは、このケースに対応している職員です。"))
    reason = UpkeepInputs.reason.clean(reason)
    before = snapshot(case)
    if risk is not None:
        case.risk = clean_choice(risk, Risk, field="risk")
    if needs is not None:
        case.needs = clean_needs(needs)
    if summary is not None:
        case.summary = UpkeepInputs.summary.clean(summary)
    changed = changed_fields(case, before)
    # A reassessment is work on the case even when it confirms what was there: it touches the case.
    fields = changed + case_touch(case, timezone.now())
    save_with_history(case, actor=actor, reason=f"reassess: {reason}", update_fields=fields, changed=True)
    events.case_reassessed(case=case, actor=actor, before=before, reason=reason)
    return case
