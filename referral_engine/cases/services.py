"""Every write to persons, cases, referrals, consents, activities and slips (CONVENTIONS 1–2, 6).

The UI, the API, the admin actions and the timers all call these functions, so they behave the same:
each one checks the policy, locks what it changes, runs the FSM transition in memory, saves only the
changed fields through `save_with_history` (acting user + reason), writes the append-only timeline
event, reconciles grants and timers, and queues notifications in the same transaction.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Model, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django_fsm import can_proceed, has_transition_perm

from referral_engine import workflow_registry
from referral_engine.access import grants, policy
from referral_engine.accounts.models import Department, District, User
from referral_engine.accounts.roles import DESK_DEPARTMENT_CODE, Role
from referral_engine.audit.history import save_with_history
from referral_engine.cases import locks, normalize
from referral_engine.cases.choices import (
    JUSTIFIED_BASES,
    ActivityKind,
    Basis,
    Channel,
    ClosureReason,
    ConsentMethod,
    EventKind,
    Need,
    ReferralState,
    Risk,
    SlipUrgency,
)
from referral_engine.cases.models import (
    Activity,
    Case,
    CaseEvent,
    CaseNumberSequence,
    CommunitySlip,
    Consent,
    IntakeToken,
    Person,
    Referral,
    StageRecord,
)
from referral_engine.errors import Conflict, Forbidden, IllegalTransition, InvalidInput, NotFound, PossibleDuplicate
from referral_engine.notifications.services import notifications_queue
from referral_engine.timers import services as timers

HANDOFF_TRANSITIONS = ("accept", "decline", "return", "cancel", "complete")
CASE_TRANSITIONS = ("start_assessment", "start_support", "start_monitoring", "hold", "resume", "close", "reopen")
REASON_REQUIRED = {"decline", "return", "hold"}
MAX_TEXT = 10_000


# --- Small shared pieces ------------------------------------------------------------------------


def _method_name(name: str) -> str:
    """Public transition names are the contract (`return`); the Python method is `return_`."""
    return "return_" if name == "return" else name


def public_name(method_name: str) -> str:
    return method_name.rstrip("_")


def _changed_fields(obj: Model, before: dict[str, Any]) -> list[str]:
    return [f.name for f in obj._meta.concrete_fields if before.get(f.attname) != getattr(obj, f.attname)]


def _snapshot(obj: Model) -> dict[str, Any]:
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


def _event(**fields: Any) -> CaseEvent:
    """Write one timeline row (see `_event_row` for the fields)."""
    event = _event_row(**fields)
    event.save(force_insert=True)
    return event


def _event_row(
    *,
    case: Case,
    kind: str,
    actor: Any,
    name: str = "",
    referral: Referral | None = None,
    from_state: str = "",
    to_state: str = "",
    reason: str = "",
    department: Department | None = None,
    data: dict[str, Any] | None = None,
) -> CaseEvent:
    """A timeline row, not yet saved (`_event` saves one; `bulk_create` several)."""
    return CaseEvent(
        case=case,
        referral=referral,
        kind=kind,
        name=name,
        from_state=from_state,
        to_state=to_state,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        department=department,
        reason=reason,
        data=data or {},
    )


def _clean_text(value: Any, *, field: str, required: bool = False, max_length: int = MAX_TEXT) -> str:
    text = "" if value is None else str(value)
    # Control characters (except newline and tab) and lone surrogates never belong in a record.
    text = "".join(
        ch for ch in text if ch in "\n\t" or (ch >= " " and ch != "\x7f" and not "\ud800" <= ch <= "\udfff")
    ).strip()
    if required and not text:
        raise InvalidInput(_("入力してください。"), fields={field: [_("この項目は必須です。")]})
    if len(text) > max_length:
        raise InvalidInput(
            _("長すぎます。"), fields={field: [_("%(n)d文字以内で入力してください。") % {"n": max_length}]}
        )
    return text


def _require_reason(name: str, reason: str) -> None:
    """Decline, return and hold say why. Checked after the permission: a 403 comes before a 400."""
    if name in REASON_REQUIRED and not reason:
        raise InvalidInput(_("理由を入力してください。"), fields={"reason": [_("この項目は必須です。")]})


def _choice(value: Any, choices: type, *, field: str, default: str | None = None) -> str:
    if value in (None, "") and default is not None:
        return default
    if value not in choices.values:
        raise InvalidInput(_("選択肢にない値です。"), fields={field: [_("「%(v)s」は選べません。") % {"v": value}]})
    return value


def _code(value: Any) -> str:
    """A code as typed by a client, safe to compare in the database (PostgreSQL text holds no NUL)."""
    return str(value or "").replace("\x00", "")[:100]


def _department(code: Any, *, field: str) -> Department:
    department = Department.objects.filter(code=_code(code), is_active=True).first()
    if department is None:
        raise InvalidInput(
            _("部署が見つかりません。"), fields={field: [_("「%(v)s」という部署はありません。") % {"v": code}]}
        )
    return department


def actor_department(actor: Any, department_code: str | None = None) -> Department:
    """The window the actor works at: their (chosen) department."""
    p = policy.principal(actor)
    if not p.department_ids:
        raise Forbidden(_("部署に所属していないため、この操作はできません。"))
    qs = Department.objects.filter(pk__in=p.department_ids)
    if department_code:
        department = qs.filter(code=_code(department_code)).first()
        if department is None:
            raise Forbidden(_("所属していない部署の窓口としては受け付けできません。"))
        return department
    return qs.order_by("pk").first()


def fiscal_year_of(moment: datetime) -> int:
    local = timezone.localtime(moment)
    return local.year if local.month >= 4 else local.year - 1


def case_number_format(fiscal_year: int, seq: int) -> str:
    """令和 year of the April–March fiscal year: FY2026 → R8-000123."""
    return f"R{fiscal_year - 2018}-{seq:06d}"


def _next_case_number(moment: datetime) -> tuple[int, str]:
    """The next number of the fiscal year. The UPDATE locks the year's row until the intake commits,
    so intakes take their numbers one after the other (no duplicates; a rolled-back intake's number
    is reused by the next). One statement, two in the first intake of a year."""
    fiscal_year = fiscal_year_of(moment)
    table = connection.ops.quote_name(CaseNumberSequence._meta.db_table)
    sql = f"UPDATE {table} SET last = last + 1 WHERE fiscal_year = %s RETURNING last"  # noqa: S608 - our table name
    with connection.cursor() as cursor:
        cursor.execute(sql, [fiscal_year])
        row = cursor.fetchone()
        if row is None:
            CaseNumberSequence.objects.bulk_create([CaseNumberSequence(fiscal_year=fiscal_year)], ignore_conflicts=True)
            cursor.execute(sql, [fiscal_year])
            row = cursor.fetchone()
    return fiscal_year, case_number_format(fiscal_year, row[0])


def _touch(case: Case, at: datetime) -> list[str]:
    """Any activity or transition touches the case: the stall clock starts again."""
    case.last_touched_at = at
    return ["last_touched_at", *timers.timers_case_changed(case=case)]


def _lead_recipients(case: Case) -> list[User]:
    """The case's lead: the lead worker, or else the lead department's supervisors."""
    if case.lead_worker_id:
        return [case.lead_worker]
    return list(
        User.objects.filter(
            memberships__department_id=case.lead_department_id,
            memberships__role=Role.SUPERVISOR,
            memberships__ended_at__isnull=True,
            is_active=True,
        ).distinct()
    )


def _department_members(department_id: int, roles: Iterable[str]) -> list[User]:
    return list(
        User.objects.filter(
            memberships__department_id=department_id,
            memberships__role__in=list(roles),
            memberships__ended_at__isnull=True,
            is_active=True,
        ).distinct()
    )


# --- Persons ------------------------------------------------------------------------------------

PERSON_FIELDS = ("family_name", "given_name", "family_name_kana", "given_name_kana", "birth_date", "sex")


@dataclass(frozen=True)
class PersonInput:
    family_name: str
    given_name: str
    family_name_kana: str
    given_name_kana: str
    birth_date: date | None
    sex: str
    address: str
    district: District | None
    phone: str
    flags: list[str]


def _parse_birth_date(value: Any) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        parsed = value
    else:
        try:
            parsed = date.fromisoformat(str(value))
        except ValueError:
            raise InvalidInput(
                _("日付が正しくありません。"), fields={"birth_date": [_("YYYY-MM-DD の形式で入力してください。")]}
            ) from None
    if parsed > timezone.localdate() or parsed.year < 1880:
        raise InvalidInput(_("日付が正しくありません。"), fields={"birth_date": [_("ありえない生年月日です。")]})
    return parsed


def person_input(data: dict[str, Any]) -> PersonInput:
    from referral_engine.cases.choices import PersonFlag, Sex

    if not isinstance(data, dict):
        raise InvalidInput(
            _("本人の情報が正しくありません。"), fields={"person": [_("オブジェクトで指定してください。")]}
        )
    district = None
    if data.get("district"):
        district = District.objects.filter(code=_code(data["district"])).first()
        if district is None:
            raise InvalidInput(
                _("地区が見つかりません。"),
                fields={"district": [_("「%(v)s」という地区はありません。") % {"v": data["district"]}]},
            )
    flags = data.get("flags") or []
    if not isinstance(flags, list) or any(f not in PersonFlag.values for f in flags):
        raise InvalidInput(_("特記事項が正しくありません。"), fields={"flags": [_("選択肢にない値があります。")]})
    return PersonInput(
        family_name=_clean_text(data.get("family_name"), field="family_name", required=True, max_length=50),
        given_name=_clean_text(data.get("given_name"), field="given_name", max_length=50),
        family_name_kana=normalize.to_katakana(
            _clean_text(data.get("family_name_kana"), field="family_name_kana", max_length=100)
        ),
        given_name_kana=normalize.to_katakana(
            _clean_text(data.get("given_name_kana"), field="given_name_kana", max_length=100)
        ),
        birth_date=_parse_birth_date(data.get("birth_date")),
        sex=_choice(data.get("sex") or "", Sex, field="sex", default=""),
        address=_clean_text(data.get("address"), field="address", max_length=200),
        district=district,
        phone=_clean_text(data.get("phone"), field="phone", max_length=30),
        flags=sorted(set(flags)),
    )


def person_duplicate_candidates(person: PersonInput, *, limit: int = 10) -> list[Person]:
    """Same normalised kana, kanji name or phone, and a birth date that does not contradict.
    A different birth date is not a match. Staff decide; nothing is merged."""
    kana = normalize.kana_key(person.family_name_kana, person.given_name_kana)
    name = normalize.name_key(person.family_name, person.given_name)
    phone = normalize.phone_key(person.phone)
    match = Q(name_key=name)
    if kana:
        match |= Q(kana_key=kana)
    if len(phone) >= 6:
        match |= Q(phone_key=phone)
    query = match
    if person.birth_date:
        query &= Q(birth_date=person.birth_date) | Q(birth_date__isnull=True)
    return list(Person.objects.filter(query).select_related("district").order_by("id")[:limit])


def person_candidate_payload(person: Person) -> dict[str, Any]:
    """What a duplicate warning shows: identifying, never sensitive."""
    return {
        "id": person.pk,
        "name": person.full_name,
        "kana": person.full_name_kana,
        "birth_date": person.birth_date.isoformat() if person.birth_date else None,
        "district": person.district.code if person.district_id else None,
        "address": person.address,
    }


def _person_create(data: PersonInput, *, actor: Any) -> Person:
    person = Person(
        family_name=data.family_name,
        given_name=data.given_name,
        family_name_kana=data.family_name_kana,
        given_name_kana=data.given_name_kana,
        birth_date=data.birth_date,
        sex=data.sex,
        address=data.address,
        district=data.district,
        phone=data.phone,
        flags=data.flags,
        kana_key=normalize.kana_key(data.family_name_kana, data.given_name_kana),
        name_key=normalize.name_key(data.family_name, data.given_name),
        phone_key=normalize.phone_key(data.phone),
    )
    save_with_history(person, actor=actor, reason="person_create")
    return person


# --- Intake -------------------------------------------------------------------------------------


def _request_hash(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _validate_needs(needs: Any) -> list[str]:
    if needs in (None, ""):
        return []
    if not isinstance(needs, list | tuple) or any(n not in Need.values for n in needs):
        raise InvalidInput(_("相談分野が正しくありません。"), fields={"needs": [_("選択肢にない値があります。")]})
    return sorted(set(needs), key=Need.values.index)


@transaction.atomic
def case_open(
    *,
    actor: Any,
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
        idempotency_key = _clean_text(idempotency_key, field="idempotency_key", max_length=100)
        previous = IntakeToken.objects.filter(user=actor, key=idempotency_key).select_related("case").first()
        if previous is not None:
            if previous.request_hash != _request_hash(request_payload):
                raise Conflict(_("同じ Idempotency-Key で異なる内容が送られました。"))
            return previous.case

    channel = _choice(channel, Channel, field="channel", default=Channel.COUNTER)
    risk = _choice(risk, Risk, field="risk", default=Risk.NORMAL)
    summary = _clean_text(summary, field="summary", required=True)
    need_codes = _validate_needs(needs)
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
    fiscal_year, number = _next_case_number(now)
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
    _event(
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


# --- Referrals ----------------------------------------------------------------------------------


def _check_basis(
    *,
    case: Case,
    from_department: Department,
    to_department: Department,
    basis: str,
    justification: str,
    consent: Consent | None,
) -> None:
    """DESIGN §4: every referral is a disclosure and needs a legal basis that fits it."""
    external = from_department.is_external or to_department.is_external
    if basis == Basis.INTERNAL_USE and external:
        raise InvalidInput(
            _(
                "社会福祉協議会など外部団体との間では「庁内利用」は根拠になりません。本人同意か、支援会議・生命身体の保護・災害・法令の根拠を記録してください。"
            ),
            fields={"basis": [_("外部団体との情報提供に庁内利用は使えません。")]},
        )
    if basis == Basis.CONSENT:
        if consent is None:
            raise InvalidInput(
                _("本人同意を根拠にするには、提供先を含む有効な同意の記録が必要です。"),
                fields={"basis": [_("有効な同意の記録がありません。")]},
            )
        if not consent.is_active:
            raise InvalidInput(
                _("この同意は撤回されています。撤回された同意では新たな情報提供はできません。"),
                fields={"consent_id": [_("撤回済みの同意です。")]},
            )
        if consent.person_id != case.person_id or to_department.code not in consent.recipients:
            raise InvalidInput(
                _("同意の範囲に「%(d)s」が含まれていません。") % {"d": to_department.name_ja},
                fields={"consent_id": [_("同意の範囲外の提供先です。")]},
            )
    if basis in JUSTIFIED_BASES and not justification:
        raise InvalidInput(
            _("この根拠で情報を提供するには、根拠の説明（記録）が必要です。"),
            fields={"justification": [_("根拠の説明を入力してください。")]},
        )


def _find_consent(case: Case, to_department: Department, consent_id: Any) -> Consent | None:
    if consent_id:
        try:
            return Consent.objects.get(pk=int(consent_id), person_id=case.person_id)
        except (Consent.DoesNotExist, TypeError, ValueError):
            raise InvalidInput(
                _("同意の記録が見つかりません。"), fields={"consent_id": [_("存在しない同意です。")]}
            ) from None
    # The newest consent of the person that covers this recipient (withdrawn ones are reported).
    candidates = list(Consent.objects.filter(person_id=case.person_id).order_by("-obtained_at", "-id"))
    covering = [c for c in candidates if to_department.code in c.recipients]
    active = [c for c in covering if c.is_active]
    return (active or covering or [None])[0]


def _referral_create(
    *,
    case_id: int,
    actor: Any,
    to_department: str,
    basis: str,
    reason: str,
    justification: str = "",
    urgent: bool = False,
    consent_id: int | None = None,
    previous_id: int | None = None,
    from_department_code: str | None = None,
    _case: Case | None = None,
    _from_department: Department | None = None,
    _now: datetime | None = None,
    _requested: set[int] | None = None,
) -> Referral:
    case = _case or _case_for_write(case_id, actor)
    # In an intake (`_requested` given) the opener refers from their own window, which the intake
    # itself authorised; elsewhere the actor must be able to work the case.
    if _from_department is None and _requested is None and not policy.can_refer(actor, case):
        raise Forbidden(_("このケースをつなぐ権限がありません。"))
    if not case.is_open:
        raise Conflict(_("終結したケースはつなげません。再開してから依頼してください。"))
    target = _department(to_department, field="to_department")
    basis = _choice(basis, Basis, field="basis")
    reason = _clean_text(reason, field="reason", required=True)
    justification = _clean_text(justification, field="justification")
    source = _from_department or _requesting_department(actor, case, from_department_code)
    if target.pk == source.pk:
        raise InvalidInput(_("自分の部署にはつなげません。"), fields={"to_department": [_("依頼元と同じ部署です。")]})
    if (
        target.pk in _requested
        if _requested is not None
        else case.referrals.filter(
            to_department=target, state__in=[ReferralState.REQUESTED, ReferralState.ACCEPTED]
        ).exists()
    ):
        raise InvalidInput(
            _("「%(d)s」へのつなぎは既に進行中です。") % {"d": target.name_ja},
            fields={"to_department": [_("進行中のつなぎがあります。")]},
        )
    consent = _find_consent(case, target, consent_id) if basis == Basis.CONSENT or consent_id else None
    _check_basis(
        case=case,
        from_department=source,
        to_department=target,
        basis=basis,
        justification=justification,
        consent=consent,
    )
    previous = None
    if previous_id:
        previous = case.referrals.filter(pk=previous_id).first()
        if previous is None:
            raise InvalidInput(
                _("前回のつなぎが見つかりません。"), fields={"previous_id": [_("このケースのつなぎではありません。")]}
            )

    now = _now or timezone.now()  # an intake's referrals are made at the moment the case was opened
    referral = Referral(
        case=case,
        from_department=source,
        to_department=target,
        requested_by=actor,
        reason=reason,
        basis=basis,
        justification=justification,
        consent=consent if basis == Basis.CONSENT else None,
        urgent=bool(urgent),
        previous=previous,
    )
    referral.created_at = now
    if _requested is not None:
        _requested.add(target.pk)
    timers.timers_referral_changed(referral=referral)
    save_with_history(referral, actor=actor, reason=f"referral_request: {basis}")
    # The request and the disclosure it is: two timeline rows, one INSERT.
    CaseEvent.objects.bulk_create(
        [
            _event_row(
                case=case,
                referral=referral,
                kind=EventKind.REFERRAL_REQUESTED,
                actor=actor,
                name="request",
                to_state=referral.state,
                department=source,
                reason=reason,
                data={"to": target.code, "from": source.code, "basis": basis, "urgent": referral.urgent},
            ),
            _event_row(
                case=case,
                referral=referral,
                kind=EventKind.DISCLOSURE,
                actor=actor,
                name=basis,
                department=source,
                reason=justification,
                data={"to": target.code, "basis": basis, "consent_id": referral.consent_id},
            ),
        ]
    )
    grants.case_grants_sync(case=case, renew=[target])
    if case.last_touched_at != now:  # at intake the case was touched at this very moment: nothing moves
        save_with_history(case, actor=actor, reason="referral_request", update_fields=_touch(case, now), changed=True)
    notifications_queue(
        # The receiving department is told through its supervisors, who assign it; its caseworkers see
        # the handoff waiting in their inbox. A row per caseworker grew intake with the staff (issue 10).
        recipients=_department_members(target.pk, (Role.SUPERVISOR,)),
        kind="referral_requested",
        title=_("つなぎの依頼: %(n)s（%(f)s から）") % {"n": case.number, "f": source.name_ja},
        body=_("受理期限: %(d)s")
        % {"d": timezone.localtime(referral.due_at).strftime("%Y-%m-%d %H:%M") if referral.due_at else "-"},
        case_id=case.pk,
        referral_id=referral.pk,
        url=f"/cases/{case.pk}/",
    )
    return referral


referral_create = transaction.atomic(_referral_create)


def _requesting_department(actor: Any, case: Case, code: str | None) -> Department:
    """The actor's department that asks: the one involved in the case, preferring the lead."""
    p = policy.principal(actor)
    if code:
        return actor_department(actor, code)
    ids = p.department_ids
    if case.lead_department_id in ids:
        return case.lead_department
    involved = case.referrals.filter(to_department_id__in=ids, state=ReferralState.ACCEPTED).first()
    if involved:
        return involved.to_department
    if case.intake_department_id in ids:
        return case.intake_department
    return actor_department(actor)


def _case_for_write(case_id: int, actor: Any) -> Case:
    try:
        case = locks.case_for_update(int(case_id))
    except (Case.DoesNotExist, TypeError, ValueError):
        raise NotFound(_("ケースが見つかりません。")) from None
    if not policy.can_view_case(actor, case):
        raise NotFound(_("ケースが見つかりません。"))
    return case


def referral_available_transitions(referral: Referral, user: Any) -> list[str]:
    """Names the user may run now: handoff names, then the department's stage transitions."""
    names = [public_name(t.name) for t in referral.get_available_user_state_transitions(user)]
    workflow = workflow_registry.get(referral.to_department.code)
    if workflow is not None and referral.state == ReferralState.ACCEPTED:
        proxy = _as_workflow(referral, workflow)
        try:
            names += [t.name for t in proxy.get_available_user_stage_transitions(user)]
        finally:
            proxy.__class__ = Referral
    return names


def _as_workflow(referral: Referral, workflow: workflow_registry.Workflow) -> Referral:
    referral.__class__ = workflow.model
    return referral


def _referral_method(referral: Referral, name: str):
    """The bound transition method for a public name, or None when the name is unknown."""
    if name in HANDOFF_TRANSITIONS:
        return getattr(referral, _method_name(name))
    workflow = workflow_registry.get(referral.to_department.code)
    if workflow is None or name not in workflow.transition_names():
        return None
    _as_workflow(referral, workflow)
    return getattr(referral, name)


@transaction.atomic
def referral_transition(
    *,
    referral_id: int,
    name: str,
    actor: Any,
    reason: str = "",
    system: bool = False,
) -> Referral:
    """Run a handoff (`accept`, `decline`, `return`, `cancel`, `complete`) or a stage transition."""
    try:
        referral = locks.referral_for_update(int(referral_id))
    except (Referral.DoesNotExist, TypeError, ValueError):
        raise NotFound(_("つなぎが見つかりません。")) from None
    if not system and not policy.can_view_referral(actor, referral):
        raise NotFound(_("つなぎが見つかりません。"))
    reason = _clean_text(reason, field="reason")
    before = _snapshot(referral)
    before_state, before_stage = referral.state, referral.stage
    method = _referral_method(referral, str(name))
    try:
        if method is None or not can_proceed(method):
            referral.__class__ = Referral
            allowed = referral_available_transitions(referral, actor) if not system else []
            raise IllegalTransition(
                _("「%(n)s」は現在の状態（%(s)s）ではできません。") % {"n": name, "s": referral.get_state_display()},
                allowed=allowed,
            )
        if not system and not has_transition_perm(method, actor):
            raise Forbidden(_("この操作の権限がありません。"))
        _require_reason(name, reason)
        now = timezone.now()
        kwargs: dict[str, Any] = {"at": now, "actor": actor, "reason": reason}
        if name == "accept":
            workflow = workflow_registry.get(referral.to_department.code)
            kwargs["initial_stage"] = workflow.initial_stage if workflow else ""
        method(**kwargs)
    finally:
        referral.__class__ = Referral  # history is recorded for the concrete model only

    is_stage = name not in HANDOFF_TRANSITIONS
    changed = _changed_fields(referral, before)
    changed += timers.timers_referral_changed(referral=referral, actor=actor)
    save_with_history(referral, actor=actor, reason=f"{name}: {reason}".strip(": "), update_fields=changed)
    case = locks.case_for_update(referral.case_id)
    _event(
        case=case,
        referral=referral,
        kind=EventKind.STAGE_TRANSITION if is_stage else EventKind.REFERRAL_TRANSITION,
        actor=actor,
        name=name,
        from_state=before_stage if is_stage else before_state,
        to_state=referral.stage if is_stage else referral.state,
        department=referral.to_department,
        reason=reason,
        data={"to": referral.to_department.code, "stage": referral.stage},
    )
    if not is_stage:
        grants.case_grants_sync(case=case, renew=[referral.to_department] if name == "accept" else ())
    timers.timers_object_resolved(case=case, referral=referral, actor=actor)
    save_with_history(case, actor=actor, reason=f"referral {name}", update_fields=_touch(case, timezone.now()))
    _referral_feedback(referral=referral, case=case, name=name, reason=reason)
    if name in ("decline", "return"):
        timers.timers_runaround_check(case=case, actor=actor)
    return referral


def _referral_feedback(*, referral: Referral, case: Case, name: str, reason: str) -> None:
    """The referring side always learns the outcome (DESIGN §3.2): accept, decline, return, complete."""
    if name not in ("accept", "decline", "return", "complete"):
        return
    titles = {
        "accept": _("%(d)s が受理しました: %(n)s"),
        "decline": _("%(d)s が辞退しました: %(n)s"),
        "return": _("%(d)s から差し戻されました: %(n)s"),
        "complete": _("%(d)s が対応を完了しました: %(n)s"),
    }
    recipients = [referral.requested_by, *_lead_recipients(case)]
    body = _("理由: %(r)s") % {"r": reason} if reason else ""
    notifications_queue(
        recipients=recipients,
        kind=f"referral_{name}",
        title=titles[name] % {"d": referral.to_department.name_ja, "n": case.number},
        body=body,
        case_id=case.pk,
        referral_id=referral.pk,
        url=f"/cases/{case.pk}/",
    )


@transaction.atomic
def referral_assign(*, referral_id: int, actor: Any, worker_id: int | None) -> Referral:
    """The receiving department's supervisor names the worker who takes the referral on."""
    referral = locks.referral_for_update(int(referral_id))
    if not policy.can_view_referral(actor, referral):
        raise NotFound(_("つなぎが見つかりません。"))
    if not policy.can_assign(actor, referral):
        raise Forbidden(_("担当者を割り当てられるのは依頼先の係長・班長です。"))
    worker = None
    if worker_id:
        worker = _department_members(referral.to_department_id, (Role.CASEWORKER, Role.SUPERVISOR))
        worker = next((u for u in worker if u.pk == int(worker_id)), None)
        if worker is None:
            raise InvalidInput(
                _("担当者が見つかりません。"), fields={"worker_id": [_("依頼先部署の職員を選んでください。")]}
            )
    before = _snapshot(referral)
    referral.assigned_worker = worker
    save_with_history(referral, actor=actor, reason="assign", update_fields=_changed_fields(referral, before))
    grants.case_grants_sync(case=referral.case)
    return referral


@transaction.atomic
def stage_record_update(*, referral_id: int, actor: Any, data: dict[str, Any]) -> StageRecord:
    """Validate and store the department's structured record (its workflow declares the form)."""
    referral = locks.referral_for_update(int(referral_id))
    if not policy.can_view_referral(actor, referral):
        raise NotFound(_("つなぎが見つかりません。"))
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
        _event(
            case=case,
            referral=referral,
            kind=EventKind.STAGE_DATA,
            actor=actor,
            name="record",
            department=referral.to_department,
            data={"fields": changed},
        )
        save_with_history(case, actor=actor, reason="stage_record_update", update_fields=_touch(case, timezone.now()))
    return record


# --- Case transitions ---------------------------------------------------------------------------


def case_available_transitions(case: Case, user: Any) -> list[str]:
    return [t.name for t in case.get_available_user_state_transitions(user)]


@transaction.atomic
def case_transition(
    *,
    case_id: int,
    name: str,
    actor: Any,
    reason: str = "",
    closure_reason: str = "",
    system: bool = False,
) -> Case:
    case = _case_for_write(case_id, actor) if not system else locks.case_for_update(int(case_id))
    reason = _clean_text(reason, field="reason")
    method = getattr(case, name, None) if name in CASE_TRANSITIONS else None
    if method is None or not can_proceed(method):
        raise IllegalTransition(
            _("「%(n)s」は現在の状態（%(s)s）ではできません。") % {"n": name, "s": case.get_state_display()},
            allowed=case_available_transitions(case, actor) if not system else [],
        )
    if not system and not has_transition_perm(method, actor):
        raise Forbidden(_("この操作の権限がありません。"))
    _require_reason(name, reason)
    now = timezone.now()
    if name == "close":
        closure_reason = _choice(closure_reason, ClosureReason, field="closure_reason")
        open_referrals = case.referrals.filter(state__in=[ReferralState.REQUESTED, ReferralState.ACCEPTED]).count()
        if open_referrals:
            raise IllegalTransition(
                _("進行中のつなぎが%(n)d件あります。完了・取消してから終結してください。") % {"n": open_referrals},
                allowed=[n for n in case_available_transitions(case, actor) if n != "close"],
            )
    before = _snapshot(case)
    before_state = case.state
    method(at=now, closure_reason=closure_reason, reason=reason)
    changed = _changed_fields(case, before) + _touch(case, now)
    save_with_history(
        case,
        actor=actor,
        reason=f"{name}: {reason}".strip(": "),
        update_fields=changed,
        changed=case.state != before_state or case.last_touched_at != before["last_touched_at"],
    )
    _event(
        case=case,
        kind=EventKind.CASE_TRANSITION,
        actor=actor,
        name=name,
        from_state=before_state,
        to_state=case.state,
        reason=reason,
        data={"closure_reason": closure_reason} if closure_reason else {},
    )
    # No timers_object_resolved(case=...) here: `_touch` above already brought the case's clocks in
    # line with its new state (stall clock restarted, paused or stopped; all clocks stopped on close).
    return case


@transaction.atomic
def case_lead_change(
    *, case_id: int, actor: Any, lead_department: str | None = None, lead_worker_id: int | None = None
) -> Case:
    case = _case_for_write(case_id, actor)
    if not policy.can_reassign(actor, case):
        raise Forbidden(_("主担当を変更できるのは係長・班長です。"))
    before = _snapshot(case)
    department = _department(lead_department, field="lead_department") if lead_department else case.lead_department
    worker = None
    if lead_worker_id:
        worker = next(
            (
                u
                for u in _department_members(department.pk, (Role.CASEWORKER, Role.SUPERVISOR))
                if u.pk == int(lead_worker_id)
            ),
            None,
        )
        if worker is None:
            raise InvalidInput(
                _("担当者が見つかりません。"), fields={"lead_worker_id": [_("主担当部署の職員を選んでください。")]}
            )
    case.lead_department = department
    case.lead_worker = worker
    changed = _changed_fields(case, before)
    if not changed:
        return case
    save_with_history(case, actor=actor, reason="lead_changed", update_fields=changed + _touch(case, timezone.now()))
    _event(
        case=case,
        kind=EventKind.LEAD_CHANGED,
        actor=actor,
        name="lead",
        department=department,
        data={"department": department.code, "worker": worker.username if worker else None},
    )
    grants.case_grants_sync(case=case, renew=[department])
    return case


@transaction.atomic
def assignments_release(*, user: User, department: Department, actor: Any, reason: str) -> dict[str, int]:
    """異動・退職: the user stops being lead worker of the department's cases and assigned worker of
    its referrals, so their per-user grants go with the case, not with the person. Each change is a
    history row and a timeline event; the department's supervisors are told what needs a new worker."""
    cases = list(Case.objects.select_for_update().filter(lead_worker=user, lead_department=department).order_by("pk"))
    for case in cases:
        case.lead_worker = None
        save_with_history(case, actor=actor, reason=f"lead_released: {reason}", update_fields=["lead_worker"])
        _event(
            case=case,
            kind=EventKind.LEAD_CHANGED,
            actor=actor,
            name="lead",
            reason=reason,
            department=department,
            data={"department": department.code, "worker": None, "released": user.username},
        )
        grants.case_grants_sync(case=case)
    referrals = list(
        Referral.objects.select_for_update()
        .select_related("case")
        .filter(assigned_worker=user, to_department=department)
        .order_by("pk")
    )
    for referral in referrals:
        referral.assigned_worker = None
        save_with_history(referral, actor=actor, reason=f"assign_released: {reason}", update_fields=["assigned_worker"])
        grants.case_grants_sync(case=referral.case)
    released = {"cases": len(cases), "referrals": len(referrals)}
    if cases or referrals:
        notifications_queue(
            recipients=_department_members(department.pk, (Role.SUPERVISOR,)),
            kind="assignments_released",
            title=_("%(u)s さんの担当が外れました（主担当 %(c)d 件・つなぎ %(r)d 件）")
            % {"u": user.display_name or user.username, "c": len(cases), "r": len(referrals)},
            body=reason,
            url="/cases/",
        )
    return released


# --- Activities and consents --------------------------------------------------------------------


@transaction.atomic
def activity_add(
    *,
    case_id: int,
    actor: Any,
    kind: str,
    body: str,
    sensitive: bool = False,
    occurred_at: datetime | None = None,
    _case: Case | None = None,
) -> Activity:
    case = _case or _case_for_write(case_id, actor)
    if _case is None and not policy.can_add_activity(actor, case):
        raise Forbidden(_("支援記録を追加する権限がありません。"))
    kind = _choice(kind, ActivityKind, field="kind")
    body = _clean_text(body, field="body", required=True)
    now = timezone.now()
    if occurred_at is not None and occurred_at > now + timedelta(minutes=5):
        raise InvalidInput(_("未来の日時は記録できません。"), fields={"occurred_at": [_("未来の日時です。")]})
    department = (
        _requesting_department(actor, case, None) if policy.principal(actor).department_ids else case.intake_department
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
    _event(
        case=case,
        kind=EventKind.ACTIVITY,
        actor=actor,
        name=kind,
        department=department,
        data={"activity_id": activity.pk, "sensitive": activity.sensitive},
    )
    if _case is None:
        save_with_history(case, actor=actor, reason="activity_add", update_fields=_touch(case, now))
    timers.timers_object_resolved(case=case, actor=actor)
    return activity


@transaction.atomic
def consent_record(
    *,
    case_id: int,
    actor: Any,
    recipients: list[str],
    purposes: str,
    method: str,
    obtained_at: datetime | None = None,
    note: str = "",
    _case: Case | None = None,
) -> Consent:
    case = _case or _case_for_write(case_id, actor)
    if _case is None and not policy.can_manage_consent(actor, case):
        raise Forbidden(_("同意を記録する権限がありません。"))
    if not isinstance(recipients, list | tuple) or not recipients:
        raise InvalidInput(_("提供先を選んでください。"), fields={"recipients": [_("少なくとも1つ選んでください。")]})
    known = set(Department.objects.filter(code__in=[_code(r) for r in recipients]).values_list("code", flat=True))
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
        purposes=_clean_text(purposes, field="purposes", required=True),
        method=_choice(method, ConsentMethod, field="method"),
        obtained_by=actor,
        obtained_at=obtained_at or timezone.now(),
        note=_clean_text(note, field="note"),
    )
    save_with_history(consent, actor=actor, reason="consent_record")
    _event(
        case=case,
        kind=EventKind.CONSENT,
        actor=actor,
        name="record",
        data={"consent_id": consent.pk, "recipients": consent.recipients, "method": consent.method},
    )
    return consent


@transaction.atomic
def consent_withdraw(*, consent_id: int, actor: Any, note: str = "") -> Consent:
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
    consent.note = "\n".join(filter(None, [consent.note, _clean_text(note, field="note")]))
    save_with_history(
        consent, actor=actor, reason="consent_withdraw", update_fields=["withdrawn_at", "withdrawn_by", "note"]
    )
    _event(case=consent.case, kind=EventKind.CONSENT, actor=actor, name="withdraw", data={"consent_id": consent.pk})
    return consent


# --- Community slips ----------------------------------------------------------------------------


@transaction.atomic
def slip_submit(
    *,
    actor: Any,
    concern: str,
    district: str | None = None,
    name: str = "",
    name_kana: str = "",
    address_note: str = "",
    urgency: str = SlipUrgency.NORMAL,
    person_agreed_to_contact: bool = False,
) -> CommunitySlip:
    """A connector's つなぎ票 opens a case at the social_welfare desk (channel `community`)."""
    if not policy.can_submit_slip(actor):
        raise Forbidden(_("つなぎ票を出せるのは地区のつなぎ役です。"))
    p = policy.principal(actor)
    districts = District.objects.filter(pk__in=p.district_ids)
    chosen = districts.filter(code=_code(district)).first() if district else districts.order_by("pk").first()
    if chosen is None:
        raise InvalidInput(_("地区を確認してください。"), fields={"district": [_("あなたの地区を選んでください。")]})
    urgency = _choice(urgency, SlipUrgency, field="urgency", default=SlipUrgency.NORMAL)
    concern = _clean_text(concern, field="concern", required=True, max_length=4000)
    name = _clean_text(name, field="name", max_length=100)
    name_kana = normalize.to_katakana(_clean_text(name_kana, field="name_kana", max_length=100))
    address_note = _clean_text(address_note, field="address_note", max_length=200)
    family, _sep, given = (name or _("氏名不詳")).partition(" ")
    kana_family, _sep, kana_given = name_kana.partition(" ")
    person = _person_create(
        PersonInput(
            family_name=family[:50],
            given_name=given[:50],
            family_name_kana=kana_family,
            given_name_kana=kana_given,
            birth_date=None,
            sex="",
            address=address_note,
            district=chosen,
            phone="",
            flags=[],
        ),
        actor=actor,
    )
    case = case_open(
        actor=actor,
        channel=Channel.COMMUNITY,
        summary=concern,
        needs=[Need.ISOLATION],
        risk=Risk.URGENT if urgency == SlipUrgency.URGENT else Risk.NORMAL,
        person_id=person.pk,
        referrer=actor,
        _slip_district=chosen,
    )
    slip = CommunitySlip(
        connector=actor,
        district=chosen,
        name=name,
        name_kana=name_kana,
        address_note=address_note,
        concern=concern,
        urgency=urgency,
        person_agreed_to_contact=bool(person_agreed_to_contact),
        case=case,
    )
    save_with_history(slip, actor=actor, reason="slip_submit")
    desk = Department.objects.get(code=DESK_DEPARTMENT_CODE)
    notifications_queue(
        recipients=_department_members(desk.pk, (Role.FRONT_DESK, Role.CASEWORKER, Role.SUPERVISOR)),
        kind="slip_submitted",
        title=_("つなぎ票が届きました: %(n)s（%(d)s）") % {"n": case.number, "d": chosen.name},
        case_id=case.pk,
        url=f"/cases/{case.pk}/",
    )
    return slip
