"""Intake (受付): whichever window a person reaches opens the case there (どの窓口でも受け止める), with
its person (found or new), consent, first note and referrals, all in one transaction: a refused
referral or an invalid consent saves nothing at all. An `Idempotency-Key` makes a resent intake
return the case it opened the first time."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from referral_engine.access import grants, policy
from referral_engine.accounts.models import Department, District, User
from referral_engine.accounts.roles import DESK_DEPARTMENT_CODE
from referral_engine.audit.history import save_with_history
from referral_engine.cases.choices import ActivityKind, Channel, EventKind, Risk
from referral_engine.cases.events import event_write
from referral_engine.cases.inputs import clean_choice, clean_needs, clean_text
from referral_engine.cases.models import Case, IntakeToken, Person
from referral_engine.cases.numbering import next_case_number
from referral_engine.cases.services.departments import actor_department
from referral_engine.cases.services.persons import (
    _person_create,
    person_candidate_payload,
    person_duplicate_candidates,
    person_input,
)
from referral_engine.cases.services.records import activity_add, consent_record
from referral_engine.cases.services.referrals import _referral_create
from referral_engine.errors import Conflict, Forbidden, InvalidInput, PossibleDuplicate
from referral_engine.timers import services as timers


def _request_hash(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


@transaction.atomic
def case_open(
    *,
    actor: User,
    channel: str = Channel.COUNTER,
    summary: str,
    needs: list[str] | None = None,
    risk: str = Risk.NORMAL,
    person_id: int | None = None,
    person: dict[str, Any] | None = None,
    confirm_new_person: bool = False,
    referrals: list[dict[str, Any]] | None = None,
    consent: dict[str, Any] | None = None,
    first_note: str = "",
    department_code: str | None = None,
    referrer: Any = None,
    idempotency_key: str | None = None,
    _slip_district: District | None = None,
) -> Case:
    """Open a case at the actor's window (どの窓口でも受け止める). Everything in one transaction:
    a refused referral or an invalid consent saves nothing at all."""
    if _slip_district is None and not policy.can_open_case(actor):
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
        idempotency_key = clean_text(idempotency_key, field="idempotency_key", max_length=100)
        previous = IntakeToken.objects.filter(user=actor, key=idempotency_key).select_related("case").first()
        if previous is not None:
            if previous.request_hash != _request_hash(request_payload):
                raise Conflict(_("同じ Idempotency-Key で異なる内容が送られました。"))
            return previous.case

    channel = clean_choice(channel, Channel, field="channel", default=Channel.COUNTER)
    risk = clean_choice(risk, Risk, field="risk", default=Risk.NORMAL)
    summary = clean_text(summary, field="summary", required=True)
    need_codes = clean_needs(needs)
    if _slip_district is not None:
        window = Department.objects.get(code=DESK_DEPARTMENT_CODE)
    else:
        window = actor_department(actor, department_code)

    if person_id is not None:
        try:
            person_obj = Person.objects.get(pk=int(person_id))
        except (Person.DoesNotExist, TypeError, ValueError):
            raise InvalidInput(_("本人が見つかりません。"), fields={"person_id": [_("存在しない本人です。")]}) from None
    elif person is not None:
        data = person_input(person)
        if not confirm_new_person:
            candidates = person_duplicate_candidates(data)
            if candidates:
                raise PossibleDuplicate(
                    _("同一人物の可能性がある方が登録されています。確認してください。"),
                    candidates=[person_candidate_payload(c) for c in candidates],
                )
        person_obj = _person_create(data, actor=actor)
    else:
        raise InvalidInput(_("本人を指定してください。"), fields={"person": [_("person_id か person が必要です。")]})

    now = timezone.now()
    fiscal_year, number = next_case_number(now)
    p = policy.principal(actor)
    case = Case(
        number=number,
        fiscal_year=fiscal_year,
        person=person_obj,
        intake_department=window,
        channel=channel,
        referrer=referrer,
        opened_by=actor,
        summary=summary,
        needs=need_codes,
        risk=risk,
        lead_department=window,
        lead_worker=actor if (p.can_work and window.pk in p.department_ids) else None,
        last_touched_at=now,
    )
    timers.timers_case_changed(case=case)
    save_with_history(case, actor=actor, reason="case_open")
    event_write(
        case=case,
        kind=EventKind.CASE_OPENED,
        actor=actor,
        name="open",
        to_state=case.state,
        department=window,
        data={"channel": channel, "risk": risk},
    )
    if not referrals:  # otherwise each referral below reconciles the case's grants, this one included
        grants.case_grants_sync(case=case)
    # No policy.forget(actor) here: the grants are on a case no cache of this request has seen (its
    # permissions are read when first asked), and they change no membership.

    if idempotency_key:
        try:
            with transaction.atomic():
                IntakeToken.objects.create(
                    user=actor, key=idempotency_key, request_hash=_request_hash(request_payload), case=case
                )
        except IntegrityError:
            # A concurrent request with the same key won: this whole intake rolls back.
            raise Conflict(_("同じ Idempotency-Key の受付が処理中です。")) from None

    consent_obj = None
    if consent:
        consent_obj = consent_record(case_id=case.pk, actor=actor, _case=case, **consent)
    if first_note:
        activity_add(case_id=case.pk, actor=actor, kind=ActivityKind.NOTE, body=first_note, _case=case)
    requested: set[int] = set()  # departments asked by this intake so far (the case has no other referral)
    for index, spec in enumerate(referrals or []):
        if not isinstance(spec, dict):
            raise InvalidInput(
                _("つなぎ先が正しくありません。"), fields={f"referrals[{index}]": [_("不正な形式です。")]}
            )
        try:
            _referral_create(  # already in case_open's transaction: no savepoint of its own
                case_id=case.pk,
                actor=actor,
                to_department=spec.get("to_department"),
                basis=spec.get("basis"),
                reason=spec.get("reason") or summary,
                justification=spec.get("justification", ""),
                urgent=bool(spec.get("urgent", risk == Risk.URGENT)),
                consent_id=spec.get("consent_id") or (consent_obj.pk if consent_obj else None),
                _case=case,
                _from_department=window if _slip_district is not None else None,
                _now=now,
                _requested=requested,
            )
        except InvalidInput as exc:
            raise InvalidInput(
                exc.message, fields={f"referrals[{index}].{k}": v for k, v in exc.fields.items()}
            ) from None
    return case
