"""Intake (受付): whichever window a person reaches opens the case there (どの窓口でも受け止める), with
its person (found or new), consent, first note and referrals, all in one transaction: a refused
referral or an invalid consent saves nothing at all. An `Idempotency-Key` makes a resent intake
return the case it opened the first time.

`case_open` is the staff's intake at their own window (`policy.can_open_case`). A connector's slip
opens its case at the desk through the same writer, `_case_write`, once `slips.slip_submit` has
checked `policy.can_submit_slip`."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from referral_engine.access import grants, policy
from referral_engine.accounts.models import Department, User
from referral_engine.audit.history import save_with_history
from referral_engine.cases import events
from referral_engine.cases.choices import ActivityKind, Channel, Risk
from referral_engine.cases.inputs import IntakeInputs, clean_choice, clean_needs
from referral_engine.cases.models import Case, IntakeToken, Person, Referral
from referral_engine.cases.numbering import next_case_number
from referral_engine.cases.services.departments import actor_department
from referral_engine.cases.services.guards import checks
from referral_engine.cases.services.persons import _intake_person
from referral_engine.cases.services.records import _activity_write, _consent_write
from referral_engine.cases.services.referrals import _referral_write
from referral_engine.errors import Conflict, Forbidden, InvalidInput
from referral_engine.timers import services as timers


def _request_hash(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


@checks(policy.can_open_case)
@transaction.atomic
def case_open(
    *,
    actor: User,
    channel: str = Channel.COUNTER,
    summary: str,
    needs: list[str] | None = None,
    risk: str = Risk.NORMAL,
    person_id: int | None = None,
    person_choice: str = "",
    person: dict[str, Any] | None = None,
    confirm_new_person: bool = False,
    referrals: list[dict[str, Any]] | None = None,
    consent: dict[str, Any] | None = None,
    first_note: str = "",
    department_code: str | None = None,
    idempotency_key: str | None = None,
) -> Case:
    """Open a case at the actor's window (their department, or `department_code` among theirs)."""
    if not policy.can_open_case(actor):
        raise Forbidden(_("ケースを受け付ける権限がありません。"))
    request_payload = {
        "channel": channel,
        "summary": summary,
        "needs": needs,
        "risk": risk,
        "person_id": person_id,
        "person": person,
        "referrals": referrals,
        "consent": consent,
        "first_note": first_note,
    }
    if idempotency_key:
        idempotency_key = IntakeInputs.idempotency_key.clean(idempotency_key)
        previous = IntakeToken.objects.filter(user=actor, key=idempotency_key).select_related("case").first()
        if previous is not None:
            if previous.request_hash != _request_hash(request_payload):
                raise Conflict(_("同じ Idempotency-Key で異なる内容が送られました。"))
            previous.case.replayed = True
            return previous.case
    channel = clean_choice(channel, Channel, field="channel", default=Channel.COUNTER)
    risk = clean_choice(risk, Risk, field="risk", default=Risk.NORMAL)
    summary = IntakeInputs.summary.clean(summary)
    need_codes = clean_needs(needs)
    window = actor_department(actor, department_code)
    person_obj = _intake_person(
        actor=actor,
        person_id=person_id,
        person_choice=person_choice,
        person=person,
        confirm_new_person=confirm_new_person,
    )
    now = timezone.now()
    case = _case_write(
        actor=actor,
        window=window,
        person=person_obj,
        channel=channel,
        summary=summary,
        needs=need_codes,
        risk=risk,
        now=now,
        grants_follow=True,
    )
    if idempotency_key:
        try:
            with transaction.atomic():
                IntakeToken.objects.create(
                    user=actor, key=idempotency_key, request_hash=_request_hash(request_payload), case=case
                )
        except IntegrityError:
            # A concurrent request with the same key won: this whole intake rolls back.
            raise Conflict(_("同じ Idempotency-Key の受付が処理中です。")) from None
    consent_obj = _consent_write(case=case, actor=actor, **consent) if consent else None
    if first_note:
        # The case was touched at this very moment: the note moves no clock of its own.
        _activity_write(case=case, actor=actor, kind=ActivityKind.NOTE, body=first_note, touch=False)
    made = _intake_referrals(
        case=case,
        actor=actor,
        window=window,
        specs=referrals or [],
        summary=summary,
        risk=risk,
        consent_id=consent_obj.pk if consent_obj else None,
        now=now,
    )
    # One write of the grants for the case and its referrals, all inserted in this transaction (no
    # rows to read and reconcile), and what they give the actor told to the policy: the response's
    # `access` is not read back.
    desired, granted_at = grants.case_grants_create(case=case, referrals=made)
    policy.case_perms_granted(actor, case, desired.case_groups, desired.case_users, granted_at)
    return case


def _case_write(
    *,
    actor: User,
    window: Department,
    person: Person,
    channel: str,
    summary: str,
    needs: list[str],
    risk: str,
    now: datetime,
    referrer: User | None = None,
    grants_follow: bool = False,
) -> Case:
    """Write the case at `window` (its intake and lead department), its timeline event, and its
    grants unless `grants_follow` (the intake writes them once, with its referrals')."""
    fiscal_year, number = next_case_number(now)
    p = policy.principal(actor)
    case = Case(
        number=number,
        fiscal_year=fiscal_year,
        person=person,
        intake_department=window,
        channel=channel,
        referrer=referrer,
        opened_by=actor,
        summary=summary,
        needs=needs,
        risk=risk,
        lead_department=window,
        lead_worker=actor if (p.can_work and window.pk in p.department_ids) else None,
        last_touched_at=now,
    )
    clocks = timers.timers_plan_new(case)  # stall_due_at goes in with the INSERT
    save_with_history(case, actor=actor, reason="case_open")
    timers.timers_start_new(case, clocks)
    events.case_opened(case=case, actor=actor, department=window)
    if not grants_follow:
        grants.case_grants_create(case=case)
    # No policy.forget(actor) here: the grants are on a case no cache of this request has seen (its
    # permissions are read when first asked), and they change no membership.
    return case


def _intake_referrals(
    *,
    case: Case,
    actor: User,
    window: Department,
    specs: list[Any],
    summary: str,
    risk: str,
    consent_id: int | None,
    now: datetime,
) -> list[Referral]:
    """The referrals asked for at intake: from the window the intake was authorised at, made at the
    moment the case was opened; a field error names its referral (`referrals[1].basis`). Their grants
    are the caller's to write (`grants.case_grants_create`, with the case's)."""
    requested: set[int] = set()  # departments asked by this intake so far (the case has no other referral)
    made: list[Referral] = []
    for index, spec in enumerate(specs):
        if not isinstance(spec, dict):
            raise InvalidInput(
                _("つなぎ先が正しくありません。"), fields={f"referrals[{index}]": [_("不正な形式です。")]}
            )
        try:
            referral = _referral_write(
                case=case,
                actor=actor,
                source=window,
                to_department=spec.get("to_department"),
                basis=spec.get("basis"),
                reason=spec.get("reason") or summary,
                justification=spec.get("justification", ""),
                urgent=bool(spec.get("urgent", risk == Risk.URGENT)),
                consent_id=spec.get("consent_id") or consent_id,
                now=now,
                requested=requested,
                grants_follow=True,
            )
        except InvalidInput as exc:
            raise InvalidInput(
                exc.message, fields={f"referrals[{index}].{k}": v for k, v in exc.fields.items()}
            ) from None
        made.append(referral)
    return made
