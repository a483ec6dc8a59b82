"""見守り依頼 (DESIGN §11.4): the city asks a district council to watch over a person, the district's
connectors report their visits, and a request nobody reports on reminds its requester.

A watch request is a disclosure to people outside the city (民生委員, 区長, 介護予防推進員), so it
carries a legal basis checked like a referral's (`_check_watch_basis`): never `internal_use`;
`consent` whose scope names the district (`district:<code>`), or `support_meeting`,
`vital_interest` or `disaster` with a written justification. Connectors see only the person's name,
address and what to watch, while the request is open and not past `until`
(`policy.can_view_watch_request`); the record stays after that. docs/community.md has the rules.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from referral_engine.access import policy
from referral_engine.accounts.models import District, User
from referral_engine.accounts.roles import Role
from referral_engine.accounts.system import system_user
from referral_engine.audit.history import save_with_history
from referral_engine.cases import events
from referral_engine.cases.choices import DISTRICT_SCOPE_PREFIX, Basis, WatchOutcome, WatchState
from referral_engine.cases.inputs import WatchInputs, clean_choice, clean_code
from referral_engine.cases.models import Case, Consent, WatchReport, WatchRequest
from referral_engine.cases.services.departments import department_members, lead_recipients, requesting_department
from referral_engine.cases.services.guards import access_case_for_write, access_watch_request_for_write, checks
from referral_engine.errors import Conflict, Forbidden, IllegalTransition, InvalidInput
from referral_engine.notifications.services import notifications_queue
from referral_engine.timers import services as timers

# Bases that let a watch request reach the district without consent, with a justification. Not
# `legal_duty`: no statute obliges the city to tell volunteers (docs/community.md).
WATCH_JUSTIFIED_BASES = (Basis.SUPPORT_MEETING, Basis.VITAL_INTEREST, Basis.DISASTER)
WATCH_URGENT_RULE = "watch_urgent"
MAX_WATCH_DAYS = 366  # a request lasts at most a year: ask again to go on


def _reminder_days() -> int:
    """Days without a report after which the requester is reminded (WATCH_REQUEST_REMINDER_DAYS)."""
    return int(getattr(settings, "WATCH_REQUEST_REMINDER_DAYS", 14))


def _district_scope(district: District) -> str:
    return f"{DISTRICT_SCOPE_PREFIX}{district.code}"


# --- Checks -------------------------------------------------------------------------------------


def _check_watch_basis(
    *, district: District, basis: str, justification: str, consent: Consent | None, case: Case
) -> None:
    if basis == Basis.INTERNAL_USE:
        raise InvalidInput(
            _("地区の見守り役は市の外の方です。「庁内利用」は根拠になりません。"),
            fields={"basis": [_("見守り依頼に庁内利用は使えません。")]},
        )
    if basis == Basis.CONSENT:
        if consent is None:
            raise InvalidInput(
                _("本人同意を根拠にするには、提供先にこの地区を含む同意の記録が必要です。"),
                fields={"basis": [_("この地区を含む同意の記録がありません。")]},
            )
        if not consent.is_active:
            raise InvalidInput(
                _("この同意は撤回されています。撤回された同意では新たな情報提供はできません。"),
                fields={"consent_id": [_("撤回済みの同意です。")]},
            )
        if consent.person_id != case.person_id or not consent.covers(_district_scope(district)):
            raise InvalidInput(
                _("同意の範囲に「%(d)s」が含まれていません。") % {"d": district.name},
                fields={"consent_id": [_("同意の範囲外の提供先です。")]},
            )
        return
    if basis not in WATCH_JUSTIFIED_BASES:
        raise InvalidInput(
            _("見守り依頼の根拠は、本人同意・支援会議・生命身体の保護・災害のいずれかです。"),
            fields={"basis": [_("この根拠では地区に情報を提供できません。")]},
        )
    if not justification:
        raise InvalidInput(
            _("この根拠で情報を提供するには、根拠の説明（記録）が必要です。"),
            fields={"justification": [_("根拠の説明を入力してください。")]},
        )


def _find_district_consent(case: Case, district: District, consent_id: Any) -> Consent | None:
    if consent_id:
        try:
            return Consent.objects.get(pk=int(consent_id), person_id=case.person_id)
        except (Consent.DoesNotExist, TypeError, ValueError):
            raise InvalidInput(
                _("同意の記録が見つかりません。"), fields={"consent_id": [_("存在しない同意です。")]}
            ) from None
    # The newest consent of the person that names the district (a withdrawn one is reported as such).
    covering = [
        c
        for c in Consent.objects.filter(person_id=case.person_id).order_by("-obtained_at", "-id")
        if c.covers(_district_scope(district))
    ]
    active = [c for c in covering if c.is_active]
    return (active or covering or [None])[0]


def _clean_date(value: Any, *, field: str) -> date:
    if isinstance(value, datetime):
        value = timezone.localdate(value) if timezone.is_aware(value) else value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value or ""))
    except ValueError:
        raise InvalidInput(
            _("日付が正しくありません。"), fields={field: [_("YYYY-MM-DD の形式で入力してください。")]}
        ) from None


def _clean_until(value: Any) -> date:
    until = _clean_date(value, field="until")
    today = timezone.localdate()
    if until < today or until > today + timedelta(days=MAX_WATCH_DAYS):
        raise InvalidInput(
            _("見守りの期限が正しくありません。"),
            fields={"until": [_("今日から1年以内の日付を入力してください。")]},
        )
    return until


def _clean_visited_on(value: Any, watch: WatchRequest) -> date:
    today = timezone.localdate()
    visited = today if value in (None, "") else _clean_date(value, field="visited_on")
    if visited > today or visited < timezone.localdate(watch.created_at) - timedelta(days=1):
        raise InvalidInput(
            _("訪問日が正しくありません。"),
            fields={"visited_on": [_("依頼の日から今日までの日付を入力してください。")]},
        )
    return visited


# --- Asking a district ----------------------------------------------------------------------------


@checks(policy.can_view_case, policy.can_request_watch)
@transaction.atomic
def watch_request_create(
    *,
    case_id: int,
    actor: User,
    district: str,
    what_to_watch: str,
    basis: str,
    until: Any,
    justification: str = "",
    consent_id: int | None = None,
) -> WatchRequest:
    """Ask a district council to watch over the case's person (staff with full view)."""
    case = access_case_for_write(case_id, actor)
    if not policy.can_request_watch(actor, case):
        raise Forbidden(_("見守りを依頼できるのは、ケースの全体を見られる職員です。"))
    return _watch_request_write(
        case=case,
        actor=actor,
        district=district,
        what_to_watch=what_to_watch,
        basis=basis,
        until=until,
        justification=justification,
        consent_id=consent_id,
    )


def _watch_request_write(
    *,
    case: Case,
    actor: User,
    district: Any,
    what_to_watch: Any,
    basis: Any,
    until: Any,
    justification: Any = "",
    consent_id: Any = None,
) -> WatchRequest:
    """Write a watch request the caller has authorised: check what it discloses and to whom, save it
    with its two timeline rows, and tell the district's connectors (no name in the message)."""
    if not case.is_open:
        raise Conflict(_("終結したケースでは見守りを依頼できません。"))
    target = District.objects.filter(code=clean_code(district), is_active=True).first()
    if target is None:
        raise InvalidInput(_("地区が見つかりません。"), fields={"district": [_("地区を選んでください。")]})
    what_to_watch = WatchInputs.what_to_watch.clean(what_to_watch)
    basis = clean_choice(basis, Basis, field="basis")
    justification = WatchInputs.justification.clean(justification)
    until = _clean_until(until)
    consent = _find_district_consent(case, target, consent_id) if basis == Basis.CONSENT or consent_id else None
    _check_watch_basis(district=target, basis=basis, justification=justification, consent=consent, case=case)
    now = timezone.now()
    watch = WatchRequest(
        case=case,
        district=target,
        department=requesting_department(actor, case, None),
        requested_by=actor,
        what_to_watch=what_to_watch,
        until=until,
        basis=basis,
        justification=justification,
        consent=consent if basis == Basis.CONSENT else None,
        remind_at=now + timedelta(days=_reminder_days()),
    )
    save_with_history(watch, actor=actor, reason=f"watch_request: {basis}")
    events.watch_requested(watch=watch, actor=actor)
    connectors = User.objects.filter(
        memberships__district=target,
        memberships__role=Role.CONNECTOR,
        memberships__ended_at__isnull=True,
        is_active=True,
    ).distinct()
    notifications_queue(
        recipients=list(connectors),
        kind="watch_requested",
        title=_("見守りのお願いが届きました（%(d)s）") % {"d": target.name},
    )
    return watch


# --- A department hands the person to the district (the shakyo's community_watch stage) -------------


def _watch_handover(*, referral: Any, case: Case, actor: User) -> WatchRequest | None:
    """A referral entered a stage its workflow declares as "handed to the district's watching-over"
    (`Workflow.watch_handover_stages`). Called by `referral_transition` after its checks. With the
    person's district known, an active consent naming that district, what to watch in the stage
    record (`watch_what_to_watch`, `watch_until`) and an actor who may ask, the watch request is made
    here; otherwise the case's lead and the referral's requester are asked to make one (the case page
    says so until a request is open). Nothing is done when the case already has an open request."""
    if case.watch_requests.filter(state=WatchState.OPEN).exists():
        return None
    record = getattr(referral, "stage_record", None)
    data = (record.data if record is not None else {}) or {}
    district = case.person.district
    if district is not None and data.get("watch_what_to_watch") and policy.can_request_watch(actor, case):
        consent = _find_district_consent(case, district, None)
        if consent is not None and consent.is_active:
            try:
                return _watch_request_write(
                    case=case,
                    actor=actor,
                    district=district.code,
                    what_to_watch=data["watch_what_to_watch"],
                    basis=Basis.CONSENT,
                    until=data.get("watch_until") or timezone.localdate() + timedelta(days=90),
                    consent_id=consent.pk,
                )
            except InvalidInput:
                pass  # nothing was written: ask for one instead
    notifications_queue(
        recipients=[referral.requested_by, *lead_recipients(case)],
        kind="watch_handover",
        title=_("地区の見守りへの引継ぎ: 見守り依頼を作成してください: %(n)s（%(d)s から）")
        % {"n": case.number, "d": referral.to_department.name_ja},
        case_id=case.pk,
        referral_id=referral.pk,
    )
    return None


# --- A connector's visit ------------------------------------------------------------------------


@checks(policy.can_view_watch_request, policy.can_report_watch)
@transaction.atomic
def watch_report_add(
    *, watch_request_id: int, actor: User, outcome: str, visited_on: Any = None, note: str = ""
) -> WatchReport:
    """A connector reports a visit: an event on the case, the requester told; `urgent` escalates at
    once to the supervisors of the case's lead department."""
    watch = access_watch_request_for_write(watch_request_id, actor)
    if not policy.can_report_watch(actor, watch):
        raise Forbidden(_("見守りの報告ができるのは、その地区のつなぎ役です。"))
    outcome = clean_choice(outcome, WatchOutcome, field="outcome")
    visited = _clean_visited_on(visited_on, watch)
    note = WatchInputs.note.clean(note)
    now = timezone.now()
    report = WatchReport(watch_request=watch, reporter=actor, visited_on=visited, outcome=outcome, note=note)
    save_with_history(report, actor=actor, reason=f"watch_report: {outcome}")
    watch.last_report_at = now
    watch.remind_at = now + timedelta(days=_reminder_days())
    save_with_history(watch, actor=actor, reason="watch_report", update_fields=["last_report_at", "remind_at"])
    case = watch.case
    events.watch_reported(report=report, actor=actor)
    # The message names the case number, the district and the outcome: never the person or the note.
    notifications_queue(
        recipients=[watch.requested_by],
        kind="watch_report",
        title=_("見守りの報告: %(n)s（%(d)s）%(o)s")
        % {"n": case.number, "d": watch.district.name, "o": WatchOutcome(outcome).label},
        case_id=case.pk,
    )
    if outcome == WatchOutcome.URGENT:
        _watch_escalate(watch=watch, report=report, case=case, now=now)
    return report


def _watch_escalate(*, watch: WatchRequest, report: WatchReport, case: Case, now: datetime) -> None:
    """`urgent`: an escalation to the lead department's supervisors at once, through the timers' one
    immediate firing function (its timeline event and notifications come with it). One per report:
    the report's id is the cycle of the (object, rule, cycle, level) that fires at most once."""
    timers.escalation_fire(
        case=case,
        referral=None,
        object_key=f"watch:{watch.pk}",
        rule=WATCH_URGENT_RULE,
        rule_name=_("見守りの緊急報告（%(d)s）") % {"d": watch.district.name},
        target="watch",
        cycle=report.pk,
        level=2,
        department_id=case.lead_department_id,
        due_at=now,
        now=now,
        system=system_user(),
        recipients=department_members(case.lead_department_id, (Role.SUPERVISOR,)),
    )


# --- Closing ------------------------------------------------------------------------------------


@checks(policy.can_view_watch_request, policy.can_close_watch)
@transaction.atomic
def watch_request_close(*, watch_request_id: int, actor: User, reason: str = "") -> WatchRequest:
    """End a request: it leaves the connectors' view at once (404 for them); the record stays."""
    watch = access_watch_request_for_write(watch_request_id, actor)
    if not policy.can_close_watch(actor, watch):
        raise Forbidden(_("見守り依頼を終了する権限がありません。"))
    if watch.state != WatchState.OPEN:
        raise IllegalTransition(_("この見守り依頼は終了しています。"), allowed=[])
    reason = WatchInputs.reason.clean(reason)
    watch.state = WatchState.CLOSED
    watch.closed_at = timezone.now()
    watch.closed_by = actor
    watch.remind_at = None
    save_with_history(
        watch,
        actor=actor,
        reason=f"watch_close: {reason}".strip(": "),
        update_fields=["state", "closed_at", "closed_by", "remind_at"],
    )
    events.watch_closed(watch=watch, actor=actor, reason=reason)
    return watch


# --- Reminders (beat) ---------------------------------------------------------------------------


@checks(policy.can_run_community_reminders)
def watch_reminders_send(*, actor: User, now: datetime | None = None, batch: int = 200) -> int:
    """Remind the requester of each open request that had no report for `_reminder_days()` (once per
    silent period: the next report starts a new one). Rows are claimed with SKIP LOCKED, so two runs
    at once remind each request once. Returns how many were reminded."""
    if not policy.can_run_community_reminders(actor):
        raise Forbidden(_("この処理はシステムだけが実行できます。"))
    now = now or timezone.now()
    reminded = 0
    with transaction.atomic():
        due = list(
            WatchRequest.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(state=WatchState.OPEN, remind_at__lte=now)
            .select_related("case", "district", "requested_by")
            .order_by("remind_at", "id")[:batch]
        )
        for watch in due:
            if watch.until >= timezone.localdate(now):
                notifications_queue(
                    recipients=[watch.requested_by],
                    kind="watch_silent",
                    title=_("見守りの報告が%(days)d日ありません: %(n)s（%(d)s）")
                    % {"days": _reminder_days(), "n": watch.case.number, "d": watch.district.name},
                    case_id=watch.case_id,
                )
                reminded += 1
            watch.remind_at = None
            save_with_history(watch, actor=actor, reason="watch_silent: reminded", update_fields=["remind_at"])
    return reminded
