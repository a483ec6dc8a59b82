"""What is recorded on a case besides its state: activities (支援記録), consents (同意) and their
withdrawal, and the receiving departments' structured stage records (their workflow's form)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from referral_engine import workflow_registry
from referral_engine.access import policy
from referral_engine.accounts.models import Department, User
from referral_engine.audit.history import save_with_history
from referral_engine.cases import locks
from referral_engine.cases.choices import ActivityKind, ConsentMethod, EventKind
from referral_engine.cases.events import event_write
from referral_engine.cases.inputs import clean_choice, clean_code, clean_text
from referral_engine.cases.models import Activity, Case, Consent, StageRecord
from referral_engine.cases.services.changes import touch
from referral_engine.cases.services.departments import requesting_department
from referral_engine.cases.services.guards import access_case_for_write, access_referral_for_write
from referral_engine.errors import Conflict, Forbidden, InvalidInput, NotFound
from referral_engine.timers import services as timers

# --- Activities ---------------------------------------------------------------------------------


@transaction.atomic
def activity_add(
    *,
    case_id: int,
    actor: User,
    kind: str,
    body: str,
    sensitive: bool = False,
    occurred_at: datetime | None = None,
    _case: Case | None = None,
) -> Activity:
    case = _case or access_case_for_write(case_id, actor)
    if _case is None and not policy.can_add_activity(actor, case):
        raise Forbidden(_("支援記録を追加する権限がありません。"))
    kind = clean_choice(kind, ActivityKind, field="kind")
    body = clean_text(body, field="body", required=True)
    now = timezone.now()
    if occurred_at is not None and occurred_at > now + timedelta(minutes=5):
        raise InvalidInput(_("未来の日時は記録できません。"), fields={"occurred_at": [_("未来の日時です。")]})
    department = (
        requesting_department(actor, case, None) if policy.principal(actor).department_ids else case.intake_department
    )
    activity = Activity(
        case=case,
        kind=kind,
        author=actor,
        department=department,
        occurred_at=occurred_at or now,
        body=body,
        sensitive=bool(sensitive),
    )
    save_with_history(activity, actor=actor, reason="activity_add")
    # The timeline names the record, never its body: limited viewers see the timeline.
    event_write(
        case=case,
        kind=EventKind.ACTIVITY,
        actor=actor,
        name=kind,
        department=department,
        data={"activity_id": activity.pk, "sensitive": activity.sensitive},
    )
    if _case is None:
        save_with_history(case, actor=actor, reason="activity_add", update_fields=touch(case, now))
    timers.timers_object_resolved(case=case, actor=actor)
    return activity


# --- Consents -----------------------------------------------------------------------------------


@transaction.atomic
def consent_record(
    *,
    case_id: int,
    actor: User,
    recipients: list[str],
    purposes: str,
    method: str,
    obtained_at: datetime | None = None,
    note: str = "",
    _case: Case | None = None,
) -> Consent:
    case = _case or access_case_for_write(case_id, actor)
    if _case is None and not policy.can_manage_consent(actor, case):
        raise Forbidden(_("同意を記録する権限がありません。"))
    if not isinstance(recipients, list | tuple) or not recipients:
        raise InvalidInput(_("提供先を選んでください。"), fields={"recipients": [_("少なくとも1つ選んでください。")]})
    known = set(Department.objects.filter(code__in=[clean_code(r) for r in recipients]).values_list("code", flat=True))
    unknown = [r for r in recipients if r not in known]
    if unknown:
        raise InvalidInput(
            _("部署が見つかりません。"),
            fields={"recipients": [_("不明な部署: %(v)s") % {"v": ", ".join(map(str, unknown))}]},
        )
    consent = Consent(
        person=case.person,
        case=case,
        recipients=sorted(known),
        purposes=clean_text(purposes, field="purposes", required=True),
        method=clean_choice(method, ConsentMethod, field="method"),
        obtained_by=actor,
        obtained_at=obtained_at or timezone.now(),
        note=clean_text(note, field="note"),
    )
    save_with_history(consent, actor=actor, reason="consent_record")
    event_write(
        case=case,
        kind=EventKind.CONSENT,
        actor=actor,
        name="record",
        data={"consent_id": consent.pk, "recipients": consent.recipients, "method": consent.method},
    )
    return consent


@transaction.atomic
def consent_withdraw(*, consent_id: int, actor: User, note: str = "") -> Consent:
    """Withdrawal stops new disclosures that rely on the consent; existing ones stay on record."""
    try:
        consent = Consent.objects.select_for_update(of=("self",)).select_related("case").get(pk=int(consent_id))
    except (Consent.DoesNotExist, TypeError, ValueError):
        raise NotFound(_("同意が見つかりません。")) from None
    if consent.case is None or not policy.can_view_case(actor, consent.case):
        raise NotFound(_("同意が見つかりません。"))
    if not policy.can_manage_consent(actor, consent.case):
        raise Forbidden(_("同意を撤回する権限がありません。"))
    if consent.withdrawn_at is not None:
        raise Conflict(_("この同意は既に撤回されています。"))
    consent.withdrawn_at = timezone.now()
    consent.withdrawn_by = actor
    consent.note = "\n".join(filter(None, [consent.note, clean_text(note, field="note")]))
    save_with_history(
        consent, actor=actor, reason="consent_withdraw", update_fields=["withdrawn_at", "withdrawn_by", "note"]
    )
    event_write(
        case=consent.case, kind=EventKind.CONSENT, actor=actor, name="withdraw", data={"consent_id": consent.pk}
    )
    return consent


# --- Stage records ------------------------------------------------------------------------------


@transaction.atomic
def stage_record_update(*, referral_id: int, actor: User, data: dict[str, Any]) -> StageRecord:
    """Validate and store the department's structured record (its workflow declares the form)."""
    referral = access_referral_for_write(referral_id, actor)
    if not policy.can_edit_stage_record(referral, actor):
        raise Forbidden(_("この記録を編集する権限がありません。"))
    workflow = workflow_registry.get(referral.to_department.code)
    if workflow is None or workflow.record_form is None:
        raise InvalidInput(_("この部署には記録の様式がありません。"), fields={"data": [_("様式がありません。")]})
    if not isinstance(data, dict):
        raise InvalidInput(
            _("記録の形式が正しくありません。"), fields={"data": [_("オブジェクトで指定してください。")]}
        )
    if not workflow.record_editable(referral.stage):
        raise Conflict(
            _("現在の段階（%(s)s）ではこの記録を編集できません。") % {"s": workflow.stage_label(referral.stage)}
        )
    form = workflow.record_form(data=data)
    if not form.is_valid():
        raise InvalidInput(_("入力内容を確認してください。"), fields={k: list(v) for k, v in form.errors.items()})
    # A partial update changes only the fields that were sent.
    updates = {k: v for k, v in form.cleaned_data.items() if k in data}
    record = StageRecord.objects.filter(referral=referral).first() or StageRecord(referral=referral, data={})
    before = dict(record.data)
    record.data = {**before, **updates}
    if record.data != before:
        save_with_history(
            record,
            actor=actor,
            reason="stage_record_update",
            update_fields=None if record.pk is None else ["data"],
        )
        changed = sorted(k for k in record.data if record.data.get(k) != before.get(k))
        case = locks.case_for_update(referral.case_id)
        event_write(
            case=case,
            referral=referral,
            kind=EventKind.STAGE_DATA,
            actor=actor,
            name="record",
            department=referral.to_department,
            data={"fields": changed},
        )
        save_with_history(case, actor=actor, reason="stage_record_update", update_fields=touch(case, timezone.now()))
    return record
