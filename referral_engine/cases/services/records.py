"""What is recorded on a case besides its state: activities (支援記録), consents (同意) and their
withdrawal, and the receiving departments' structured stage records (their workflow's form)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.apps import apps as django_apps
from django.db import models, transaction
from django.db.models import Q, TextField
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.translation import gettext as _

from referral_engine.access import policy
from referral_engine.accounts.models import Department, District, User
from referral_engine.audit.append_only import append_only_tables
from referral_engine.audit.history import save_with_history
from referral_engine.cases import events, locks
from referral_engine.cases.choices import DISTRICT_SCOPE_PREFIX, ActivityKind, ConsentMethod
from referral_engine.cases.inputs import (
    ActivityInputs,
    ConsentInputs,
    clean_choice,
    clean_code,
    clean_moment,
    date_year_bounds,
    in_date_range,
)
from referral_engine.cases.models import Activity, Case, Consent, Person, StageRecord
from referral_engine.cases.services.changes import case_touch
from referral_engine.cases.services.departments import requesting_department
from referral_engine.cases.services.evacuation_plans import _evacuation_plan_sync
from referral_engine.cases.services.guards import access_case_for_write, access_referral_for_write, checks
from referral_engine.errors import Conflict, Forbidden, InvalidInput, NotFound
from referral_engine.timers import services as timers
from referral_engine.workflow import registry as workflow_registry

# --- Activities ---------------------------------------------------------------------------------


@checks(policy.can_view_case, policy.can_add_activity)
@transaction.atomic
def activity_add(
    *,
    case_id: int,
    actor: User,
    kind: str,
    body: str,
    sensitive: bool = False,
    occurred_at: datetime | None = None,
) -> Activity:
    case = access_case_for_write(case_id, actor)
    if not policy.can_add_activity(actor, case):
        raise Forbidden(_("支援記録を追加する権限がありません。"))
    return _activity_write(case=case, actor=actor, kind=kind, body=body, sensitive=sensitive, occurred_at=occurred_at)


def _activity_write(
    *,
    case: Case,
    actor: User,
    kind: Any,
    body: Any,
    sensitive: bool = False,
    occurred_at: datetime | None = None,
    touch: bool = True,
) -> Activity:
    """Write an activity the caller has authorised. It touches the case (the stall clock starts
    again) unless `touch` is False: an intake's first note, written when the case was just opened."""
    kind = clean_choice(kind, ActivityKind, field="kind")
    body = ActivityInputs.body.clean(body)
    now = timezone.now()
    clean_moment(occurred_at, field="occurred_at")
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
    events.activity_added(activity=activity, actor=actor)
    if touch:
        save_with_history(case, actor=actor, reason="activity_add", update_fields=case_touch(case, now))
    timers.timers_object_resolved(case=case, actor=actor)
    return activity


# --- Consents -----------------------------------------------------------------------------------


@checks(policy.can_view_case, policy.can_manage_consent)
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
) -> Consent:
    case = access_case_for_write(case_id, actor)
    if not policy.can_manage_consent(actor, case):
        raise Forbidden(_("同意を記録する権限がありません。"))
    return _consent_write(
        case=case,
        actor=actor,
        recipients=recipients,
        purposes=purposes,
        method=method,
        obtained_at=obtained_at,
        note=note,
    )


def _consent_write(
    *,
    case: Case,
    actor: User,
    recipients: Any,
    purposes: Any,
    method: Any,
    obtained_at: datetime | None = None,
    note: Any = "",
) -> Consent:
    """Write a consent the caller has authorised, for the case's person."""
    if not isinstance(recipients, list | tuple) or not recipients:
        raise InvalidInput(_("提供先を選んでください。"), fields={"recipients": [_("少なくとも1つ選んでください。")]})
    codes = [clean_code(r) for r in recipients]
    known = set(Department.objects.filter(code__in=codes).values_list("code", flat=True))
    # A district council's connectors as recipients (見守り依頼, DESIGN §11.4): `district:<code>`.
    districts = [c.removeprefix(DISTRICT_SCOPE_PREFIX) for c in codes if c.startswith(DISTRICT_SCOPE_PREFIX)]
    known |= {
        f"{DISTRICT_SCOPE_PREFIX}{code}"
        for code in District.objects.filter(code__in=districts).values_list("code", flat=True)
    }
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
        purposes=ConsentInputs.purposes.clean(purposes),
        method=clean_choice(method, ConsentMethod, field="method"),
        obtained_by=actor,
        obtained_at=clean_moment(obtained_at, field="obtained_at") or timezone.now(),
        note=ConsentInputs.note.clean(note),
    )
    save_with_history(consent, actor=actor, reason="consent_record")
    events.consent_recorded(consent=consent, actor=actor)
    return consent


@checks(policy.can_view_case, policy.can_manage_consent)
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
    consent.note = "\n".join(filter(None, [consent.note, ConsentInputs.note.clean(note)]))
    save_with_history(
        consent, actor=actor, reason="consent_withdraw", update_fields=["withdrawn_at", "withdrawn_by", "note"]
    )
    events.consent_withdrawn(consent=consent, actor=actor)
    return consent


# --- Stage records ------------------------------------------------------------------------------


@checks(policy.can_view_referral, policy.can_edit_stage_record)
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
    # A partial update changes only the fields that were sent; whatever a workflow's form declares,
    # no date outside the years reaches the record (its review date drives a clock).
    updates = {k: clean_moment(v, field=k) for k, v in form.cleaned_data.items() if k in data}
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
        events.stage_record_changed(case=case, referral=referral, actor=actor, fields=changed)
        if referral.stage in workflow.evacuation_plan_stages:
            _evacuation_plan_sync(referral=referral, case=case, actor=actor)
        save_with_history(
            case, actor=actor, reason="stage_record_update", update_fields=case_touch(case, timezone.now())
        )
    return record


# --- Stored dates outside the years (issue 16) --------------------------------------------------

REPAIR_REASON = "repair_out_of_range_dates"
REPAIR_APPS = ("cases", "timers", "notifications")


@dataclass(frozen=True)
class DateRepair:
    """One stored value outside DATE_YEAR_MIN..DATE_YEAR_MAX: where, what PostgreSQL held, the fix."""

    model: str
    pk: int
    field: str
    stored: str
    corrected: Any


def _repairable_fields() -> list[tuple[type[models.Model], models.Field]]:
    """Every date and date-time column of the live records. History tables, the timeline and the
    access log are append-only: their rows stay as written (they read as far dates, never a 500)."""
    frozen = set(append_only_tables())
    found = []
    for model in django_apps.get_models():
        meta = model._meta
        if meta.app_label not in REPAIR_APPS or meta.proxy or not meta.managed or meta.db_table in frozen:
            continue
        found += [(model, f) for f in meta.concrete_fields if isinstance(f, models.DateField)]
    return found


def _corrected(obj: models.Model, field: models.Field, now: datetime) -> Any:
    """The value a repair writes: a date-time becomes the moment the record was written (its
    `created_at`) or now; a date is cleared when it may be empty."""
    created = getattr(obj, "created_at", None) if field.name != "created_at" else None
    if isinstance(field, models.DateTimeField):
        return created if isinstance(created, datetime) and in_date_range(created) else now
    if field.null:
        return None
    return timezone.localdate(created) if isinstance(created, datetime) and in_date_range(created) else now.date()


def _out_of_range(model: type[models.Model], field: models.Field) -> list[tuple[int, str]]:
    low_year, high_year = date_year_bounds()
    if isinstance(field, models.DateTimeField):
        low: Any = datetime(low_year, 1, 1, tzinfo=UTC)
        high: Any = datetime(high_year + 1, 1, 1, tzinfo=UTC) if high_year < 9999 else None
    else:
        low, high = date(low_year, 1, 1), date(high_year + 1, 1, 1) if high_year < 9999 else None
    outside = Q(**{f"{field.name}__lt": low})
    if high is not None:
        outside |= Q(**{f"{field.name}__gte": high})
    # Read as text: the driver cannot load a BC timestamp, PostgreSQL can print it.
    rows = model._default_manager.filter(outside).annotate(_stored=Cast(field.name, TextField()))
    return list(rows.order_by("pk").values_list("pk", "_stored"))


def _cases_of(obj: models.Model) -> list[Case]:
    if isinstance(obj, Case):
        return [obj]
    case_id = getattr(obj, "case_id", None)
    if case_id is not None:
        return [locks.case_for_update(case_id)]
    if isinstance(obj, Person):
        return list(Case.objects.filter(person=obj).order_by("pk"))
    return []


@checks(policy.can_repair_records)
def records_dates_repair(*, actor: User, apply: bool = False) -> list[DateRepair]:
    """Find (and with `apply`, correct) every stored date outside the years. Each correction is a
    save with its own history row (reason `repair_out_of_range_dates`, the actor named) and, for a
    record of a case, a `record_repaired` event on the case naming the field and the stored value."""
    if not policy.can_repair_records(actor):
        raise Forbidden(_("記録を修正する権限がありません。"))
    now = timezone.now()
    found: list[DateRepair] = []
    for model, field in _repairable_fields():
        for pk, stored in _out_of_range(model, field):
            found.append(DateRepair(model._meta.label_lower, pk, field.name, stored or "", None))
    if not apply or not found:
        return found
    repaired = []
    with transaction.atomic():
        by_object: dict[tuple[str, int], list[DateRepair]] = {}
        for item in found:
            by_object.setdefault((item.model, item.pk), []).append(item)
        for (label, pk), items in by_object.items():
            model = django_apps.get_model(label)
            obj = model._default_manager.select_for_update().get(pk=pk)
            for item in items:
                value = _corrected(obj, model._meta.get_field(item.field), now)
                setattr(obj, item.field, value)
                repaired.append(DateRepair(item.model, item.pk, item.field, item.stored, value))
            reason = f"{REPAIR_REASON}: " + ", ".join(f"{i.field}={i.stored}" for i in items)
            save_with_history(obj, actor=actor, reason=reason[:100], update_fields=[i.field for i in items])
            for case in _cases_of(obj):
                events.record_repaired(
                    case=case,
                    actor=actor,
                    object_type=model._meta.model_name,
                    object_id=pk,
                    fields={i.field: i.stored for i in items},
                    reason=REPAIR_REASON,
                )
    return repaired
