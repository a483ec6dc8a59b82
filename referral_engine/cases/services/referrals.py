"""Referrals (つなぎ): making one (a disclosure with its legal basis, DESIGN §4), running its handoff
(`accept`, `decline`, `return`, `cancel`, `complete`) and the receiving department's stage
transitions, telling the referring side the outcome, and naming the worker who takes it on."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_fsm import can_proceed, has_transition_perm

from referral_engine.access import grants, policy
from referral_engine.accounts.models import Department, User
from referral_engine.accounts.roles import Role
from referral_engine.audit.history import save_with_history
from referral_engine.cases import events, locks
from referral_engine.cases.choices import JUSTIFIED_BASES, Basis, ReferralState
from referral_engine.cases.inputs import ReferralInputs, TransitionInputs, clean_choice, require_reason
from referral_engine.cases.models import Case, Consent, Referral
from referral_engine.cases.services.changes import case_touch, changed_fields, gap_clear, snapshot
from referral_engine.cases.services.departments import (
    department_by_code,
    department_members,
    department_worker,
    lead_recipients,
    requesting_department,
)
from referral_engine.cases.services.evacuation_plans import _evacuation_plan_sync
from referral_engine.cases.services.guards import access_case_for_write, access_referral_for_write, checks, unchecked
from referral_engine.cases.services.watch import _watch_handover
from referral_engine.errors import Conflict, Forbidden, IllegalTransition, InvalidInput
from referral_engine.notifications.services import notifications_queue
from referral_engine.timers import services as timers
from referral_engine.workflow import Workflow, as_workflow
from referral_engine.workflow import registry as workflow_registry

HANDOFF_TRANSITIONS = ("accept", "decline", "return", "cancel", "complete")


def _method_name(name: str) -> str:
    """Public transition names are the contract (`return`); the Python method is `return_`."""
    return "return_" if name == "return" else name


def _public_name(method_name: str) -> str:
    return method_name.rstrip("_")


# --- Making a referral --------------------------------------------------------------------------


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
        if consent.case_id != case.pk or not consent.covers(to_department.code):
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
            # A case's consents are its own (policy.case_consents_q): another case's consent of the
            # same person is not found from here.
            return Consent.objects.filter(policy.case_consents_q(case)).get(pk=int(consent_id))
        except (Consent.DoesNotExist, TypeError, ValueError):
            raise InvalidInput(
                _("同意の記録が見つかりません。"), fields={"consent_id": [_("存在しない同意です。")]}
            ) from None
    # The newest consent of the case that covers this recipient (withdrawn ones are reported).
    candidates = list(Consent.objects.filter(policy.case_consents_q(case)).order_by("-obtained_at", "-id"))
    covering = [c for c in candidates if c.covers(to_department.code)]
    active = [c for c in covering if c.is_active]
    return (active or covering or [None])[0]


@checks(policy.can_view_case, policy.can_refer)
@transaction.atomic
def referral_create(
    *,
    case_id: int,
    actor: User,
    to_department: str,
    basis: str,
    reason: str,
    justification: str = "",
    urgent: bool = False,
    consent_id: int | None = None,
    previous_id: int | None = None,
    from_department_code: str | None = None,
) -> Referral:
    """Refer an open case to another department, from the actor's department that works it."""
    case = access_case_for_write(case_id, actor)
    if not policy.can_refer(actor, case):
        raise Forbidden(_("このケースをつなぐ権限がありません。"))
    return _referral_write(
        case=case,
        actor=actor,
        source=lambda: requesting_department(actor, case, from_department_code),
        to_department=to_department,
        basis=basis,
        reason=reason,
        justification=justification,
        urgent=urgent,
        consent_id=consent_id,
        previous_id=previous_id,
    )


def _referral_write(
    *,
    case: Case,
    actor: User,
    source: Department | Callable[[], Department],
    to_department: Any,
    basis: Any,
    reason: Any,
    justification: Any = "",
    urgent: bool = False,
    consent_id: Any = None,
    previous_id: Any = None,
    now: datetime | None = None,
    requested: set[int] | None = None,
    grants_follow: bool = False,
) -> Referral:
    """Write a referral the caller has authorised: check what it sends (the receiving department,
    the legal basis and its consent), save it with its timeline rows and grants, and tell the
    receiving department. `source` is the asking department, or how to find it once the input is
    known to be valid. An intake passes the moment it opened the case as `now`, and `requested`,
    the departments it asked already (its case has no other referral to look up), and
    `grants_follow`: it writes the grants of the new case and its referrals once, at the end."""
    if not case.is_open:
        raise Conflict(_("終結したケースはつなげません。再開してから依頼してください。"))
    target = department_by_code(to_department, field="to_department")
    basis = clean_choice(basis, Basis, field="basis")
    reason = ReferralInputs.reason.clean(reason)
    justification = ReferralInputs.justification.clean(justification)
    source = source() if callable(source) else source
    if target.pk == source.pk:
        raise InvalidInput(_("自分の部署にはつなげません。"), fields={"to_department": [_("依頼元と同じ部署です。")]})
    if (
        target.pk in requested
        if requested is not None
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

    now = now or timezone.now()
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
    if requested is not None:
        requested.add(target.pk)
    clocks = timers.timers_plan_new(referral)  # due_at goes in with the INSERT
    save_with_history(referral, actor=actor, reason=f"referral_request: {basis}")
    timers.timers_start_new(referral, clocks)
    events.referral_requested(referral=referral, actor=actor)
    if not grants_follow:
        grants.case_grants_sync(case=case, renew=[target])
    if case.last_touched_at != now:  # at intake the case was touched at this very moment: nothing moves
        save_with_history(
            case, actor=actor, reason="referral_request", update_fields=case_touch(case, now), changed=True
        )
    notifications_queue(
        # The receiving department is told through its supervisors, who assign it; its caseworkers see
        # the handoff waiting in their inbox. A row per caseworker grew intake with the staff (issue 10).
        recipients=department_members(target.pk, (Role.SUPERVISOR,)),
        kind="referral_requested",
        title=_("つなぎの依頼: %(n)s（%(f)s から）") % {"n": case.number, "f": source.name_ja},
        body=_("受理期限: %(d)s")
        % {"d": timezone.localtime(referral.due_at).strftime("%Y-%m-%d %H:%M") if referral.due_at else "-"},
        case_id=case.pk,
        referral_id=referral.pk,
    )
    return referral


# --- Handoff and stage transitions --------------------------------------------------------------


@unchecked("an answer, not a write: the FSM lists only the transitions whose policy rule lets the user run them")
def referral_available_transitions(referral: Referral, user: User) -> list[str]:
    """Names the user may run now: handoff names, then the department's stage transitions."""
    names = [_public_name(t.name) for t in referral.get_available_user_state_transitions(user)]
    workflow = workflow_registry.get(referral.to_department.code)
    if workflow is not None and referral.state == ReferralState.ACCEPTED:
        with as_workflow(referral, workflow) as proxy:
            names += [t.name for t in proxy.get_available_user_stage_transitions(user)]
    return names


def _referral_method(referral: Referral, name: str, workflow: Workflow | None):
    """The bound transition method for a public name, or None when the name is unknown. A stage
    transition is found only on the workflow's proxy: call this inside `as_workflow`."""
    if name in HANDOFF_TRANSITIONS:
        return getattr(referral, _method_name(name))
    if workflow is None or name not in workflow.transition_names():
        return None
    return getattr(referral, name)


def _accept_assignee(referral: Referral, actor: User, assign_to: Any) -> User | None:
    """Who takes an accepted referral on (DESIGN §11.3): `assign_to` (a username) if given, which a
    caseworker may only name themselves with; otherwise a caseworker who accepts is assigned, and a
    supervisor who accepts leaves it to be assigned (they distribute the work)."""
    if assign_to:
        worker = department_worker(referral.to_department_id, username=assign_to, field="assign_to")
        if not policy.can_assign(actor, referral, worker):
            raise Forbidden(_("ほかの職員を担当者に指定できるのは依頼先の係長・班長です。"))
        return worker
    if policy.supervises_referral(actor, referral):
        return referral.assigned_worker
    return actor


@checks(policy.can_view_referral, has_transition_perm)
@transaction.atomic
def referral_transition(
    *, referral_id: int, name: str, actor: User, reason: str = "", assign_to: str | None = None
) -> Referral:
    """Run a handoff (`accept`, `decline`, `return`, `cancel`, `complete`) or a stage transition.
    `accept` assigns the referral (`assign_to`, else the accepting caseworker)."""
    referral = access_referral_for_write(referral_id, actor)
    reason = TransitionInputs.reason.clean(reason)
    name = str(name)
    if assign_to and name != "accept":
        raise InvalidInput(
            _("担当者の指定は受理のときだけできます。"), fields={"assign_to": [_("受理のときだけ指定できます。")]}
        )
    before = snapshot(referral)
    before_state, before_stage = referral.state, referral.stage
    workflow = workflow_registry.get(referral.to_department.code)
    # Handoffs run on the concrete model; stage transitions on the department's proxy.
    subject = nullcontext(referral) if name in HANDOFF_TRANSITIONS else as_workflow(referral, workflow)
    with subject as target:
        method = _referral_method(target, name, workflow)
        legal = method is not None and can_proceed(method)
        if legal:
            if not has_transition_perm(method, actor):
                raise Forbidden(_("この操作の権限がありません。"))
            require_reason(name, reason)
            kwargs: dict[str, Any] = {"at": timezone.now(), "actor": actor, "reason": reason}
            if name == "accept":
                kwargs["initial_stage"] = workflow.initial_stage if workflow else ""
                assignee = _accept_assignee(referral, actor, assign_to)
            method(**kwargs)
            if name == "accept":
                referral.assigned_worker = assignee
    if not legal:
        raise IllegalTransition(
            _("「%(n)s」は現在の状態（%(s)s）ではできません。") % {"n": name, "s": referral.get_state_display()},
            allowed=referral_available_transitions(referral, actor),
        )

    is_stage = name not in HANDOFF_TRANSITIONS
    changed = changed_fields(referral, before)
    changed += timers.timers_referral_changed(referral=referral, actor=actor)
    save_with_history(referral, actor=actor, reason=f"{name}: {reason}".strip(": "), update_fields=changed)
    case = locks.case_for_update(referral.case_id)
    if is_stage:
        events.stage_transition(
            case=case, referral=referral, actor=actor, name=name, from_stage=before_stage, reason=reason
        )
        if workflow is not None and referral.stage in workflow.watch_handover_stages:
            _watch_handover(referral=referral, case=case, actor=actor)  # 見守り依頼, or a request for one
        if workflow is not None and referral.stage in workflow.evacuation_plan_stages:
            _evacuation_plan_sync(referral=referral, case=case, actor=actor)  # 個別避難計画 that lives on
    else:
        events.referral_transition(
            case=case, referral=referral, actor=actor, name=name, from_state=before_state, reason=reason
        )
        grants.case_grants_sync(case=case, renew=[referral.to_department] if name == "accept" else ())
        if name == "accept":
            gap_clear(case, actor=actor, how="accept", department=referral.to_department)
    timers.timers_object_resolved(case=case, referral=referral, actor=actor)
    save_with_history(case, actor=actor, reason=f"referral {name}", update_fields=case_touch(case, timezone.now()))
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
    recipients = [referral.requested_by, *lead_recipients(case)]
    body = _("理由: %(r)s") % {"r": reason} if reason else ""
    notifications_queue(
        recipients=recipients,
        kind=f"referral_{name}",
        title=titles[name] % {"d": referral.to_department.name_ja, "n": case.number},
        body=body,
        case_id=case.pk,
        referral_id=referral.pk,
    )


# --- Assigning ----------------------------------------------------------------------------------


@checks(policy.can_view_referral, policy.can_assign)
@transaction.atomic
def referral_assign(
    *, referral_id: int, actor: User, worker_id: int | None = None, worker_username: str | None = None
) -> Referral:
    """Name the worker who takes the referral on (by id from the web form, by username from the API;
    neither: unassigned). The receiving department's supervisor names anyone; a caseworker of it
    takes an unassigned referral for themselves."""
    referral = access_referral_for_write(referral_id, actor)
    worker = None
    if worker_id or worker_username:
        worker = department_worker(
            referral.to_department_id,
            user_id=worker_id or None,
            username=None if worker_id else worker_username,
            field="worker_id" if worker_id else "worker",
        )
    if not policy.can_assign(actor, referral, worker):
        raise Forbidden(
            _("担当者を割り当てられるのは依頼先の係長・班長です（職員は未割当のつなぎを自分で引き受けられます）。")
        )
    before = snapshot(referral)
    referral.assigned_worker = worker
    changed = changed_fields(referral, before)
    if not changed:
        return referral
    save_with_history(referral, actor=actor, reason="assign", update_fields=changed)
    case = locks.case_for_update(referral.case_id)
    events.referral_assigned(case=case, referral=referral, actor=actor, worker=worker)
    grants.case_grants_sync(case=case)
    return referral
