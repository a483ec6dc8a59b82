"""Button and timeline labels for transition names. The case and handoff machines are the core's
(their names are contracts, DESIGN §3.1–3.2); stage transitions are labelled by their workflow."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import translation
from django.utils.translation import gettext as gettext_now
from django.utils.translation import gettext_lazy as _

from referral_engine.cases.choices import (
    ActivityKind,
    Basis,
    CaseState,
    EventKind,
    ReferralState,
    WatchOutcome,
    WatchState,
)
from referral_engine.cases.inputs import REASON_REQUIRED  # the services require these; the form says so
from referral_engine.workflow import registry as workflow_registry

CASE_TRANSITION_LABELS = {
    "start_assessment": _("アセスメントを始める"),
    "start_support": _("支援を始める"),
    "start_monitoring": _("モニタリングへ移る"),
    "hold": _("中断・保留にする"),
    "resume": _("再開する"),
    "close": _("終結する"),
    "reopen": _("終結を取り消して再開する"),
}

HANDOFF_LABELS = {
    "accept": _("受理する"),
    "decline": _("辞退する"),
    "return": _("差し戻す"),
    "cancel": _("依頼を取り消す"),
    "complete": _("対応完了にする"),
}

# Event names that are not transitions.
EVENT_NAME_LABELS = {
    "open": _("ケースを受け付けた"),
    "request": _("つなぎを依頼した"),
    "record": _("記録した"),
    "withdraw": _("同意を撤回した"),
    "lead": _("主担当を変更した"),
    "reassess": _("緊急度・相談分野・主訴を見直した"),
    "merge": _("本人の記録を統合した"),
    "slip_link": _("つなぎ票の本人を登録済みの本人に統合した"),
    "linked": _("つなぎ票を確認した（登録済みの本人）"),
    "new": _("つなぎ票を確認した（新しい本人）"),
    "assign": _("担当者を割り当てた"),
    "unassign": _("担当者の割り当てを外した"),
    "followup_created": _("予定を立てた"),
    "followup_done": _("予定を終えた"),
}

ESCALATION_NAME_LABELS = {
    "L1": _("L1 注意（期限の半分が経過）"),
    "L2": _("L2 期限超過"),
    "L3": _("L3 はざま（社会福祉課の係長へ）"),
    "acknowledged": _("係長・班長が確認した"),
    "resolved": _("解消した"),
    "gap": _("はざまと判定した"),
    "gap_cleared": _("はざまが解消した（引き受け手が決まった）"),
}

# What a success message says after each transition (issue 18, item 8): what happened, in a sentence,
# rather than 「「受理する」を実行しました。」.
CASE_DONE_MESSAGES = {
    "start_assessment": _("アセスメントを始めました。"),
    "start_support": _("支援を始めました。"),
    "start_monitoring": _("モニタリングに移りました。見直しの予定を立てました。"),
    "hold": _("ケースを中断・保留にしました。"),
    "resume": _("ケースを再開しました。"),
    "close": _("ケースを終結しました。"),
    "reopen": _("終結を取り消し、ケースを再開しました。"),
}

HANDOFF_DONE_MESSAGES = {
    "accept": _("%(department)sとして受理しました。"),
    "decline": _("%(department)sとして辞退しました。依頼元に理由を伝えます。"),
    "return": _("依頼元に差し戻しました。依頼元に理由を伝えます。"),
    "cancel": _("つなぎの依頼を取り消しました。"),
    "complete": _("%(department)sの対応を完了にしました。依頼元に知らせます。"),
}


def case_done_message(name: str) -> str:
    message = CASE_DONE_MESSAGES.get(name)
    if message is None:
        return gettext_now("「%(a)s」を記録しました。") % {"a": case_action(name).label}
    return str(message)


def referral_done_message(name: str, *, department, workflow: workflow_registry.Workflow | None) -> str:
    """The handoff in the department's name (「長寿支援課として受理しました。」); a stage move names the
    stage it reached (「段階を「訪問調整」に進めました。」)."""
    if name in HANDOFF_DONE_MESSAGES:
        english = (translation.get_language() or "ja").startswith("en")
        where = (getattr(department, "name_en", "") if english else "") or str(department)
        return str(HANDOFF_DONE_MESSAGES[name]) % {"department": where}
    info = workflow.transition_info(name) if workflow else None
    if info is not None:
        return gettext_now("段階を「%(stage)s」に進めました。") % {"stage": workflow.stage_label(info.target)}
    return gettext_now("「%(a)s」を記録しました。") % {"a": referral_action(name, workflow).label}


REASON_OFFERED = frozenset({"decline", "return", "hold", "cancel", "close", "reopen", "resume"})
# Buttons that deserve the danger colour: they end or refuse something.
DANGER = frozenset({"decline", "return", "cancel", "close"})


@dataclass(frozen=True)
class Action:
    """One button: the transition name, its label, and whether it asks for a reason."""

    name: str
    label: str
    reason_required: bool
    reason_offered: bool
    danger: bool
    closure: bool = False


def case_action(name: str) -> Action:
    return Action(
        name=name,
        label=str(CASE_TRANSITION_LABELS.get(name, name)),
        reason_required=name in REASON_REQUIRED,
        reason_offered=name in REASON_OFFERED,
        danger=name in DANGER,
        closure=name == "close",
    )


def referral_action(name: str, workflow: workflow_registry.Workflow | None) -> Action:
    if name in HANDOFF_LABELS:
        label = str(HANDOFF_LABELS[name])
    else:
        label = workflow.transition_label(name) if workflow else name
    return Action(
        name=name,
        label=label,
        reason_required=name in REASON_REQUIRED,
        reason_offered=name in REASON_OFFERED,
        danger=name in DANGER,
    )


def referral_actions(names: list[str], workflow) -> tuple[list[Action], list[Action]]:
    """(handoff buttons, stage buttons); stage buttons in the order of the stage they lead to, so
    the usual next step comes first and "end" comes last."""
    order: dict[str, tuple[int, str]] = {}
    if workflow:
        codes = list(workflow.stage_codes)
        order = {
            info.name: (codes.index(info.target) if info.target in codes else len(codes), info.name)
            for info in workflow.transition_infos()
        }
    actions = [referral_action(n, workflow) for n in names]
    handoff = [a for a in actions if is_handoff(a.name)]
    stage = sorted((a for a in actions if not is_handoff(a.name)), key=lambda a: order.get(a.name, (999, a.name)))
    return handoff, stage


def is_handoff(name: str) -> bool:
    return name in HANDOFF_LABELS


def event_title(event) -> str:
    """What happened, in words: 「受理する」 for a referral accept, the stage transition's label…"""
    name = event.name
    if event.kind == EventKind.CASE_TRANSITION:
        return str(CASE_TRANSITION_LABELS.get(name, name))
    if event.kind == EventKind.REFERRAL_TRANSITION:
        return str(HANDOFF_LABELS.get(name, name))
    if event.kind == EventKind.STAGE_TRANSITION:
        workflow = _workflow_of(event)
        return workflow.transition_label(name) if workflow else name
    if event.kind == EventKind.ACTIVITY:
        text = str(dict(ActivityKind.choices).get(name, name))
        return f"{text}（{_('要配慮')}）" if (event.data or {}).get("sensitive") else text
    if event.kind == EventKind.DISCLOSURE:
        return str(dict(Basis.choices).get(name, name))
    if event.kind in (EventKind.ESCALATION, EventKind.GAP_FLAGGED, EventKind.GAP_CLEARED):
        return str(ESCALATION_NAME_LABELS.get(name, name))
    if event.kind == EventKind.WATCH_REPORT:
        district = (event.data or {}).get("district", "")
        return f"{WatchOutcome(name).label if name in WatchOutcome.values else name}（{district}）"
    if event.kind in (EventKind.WATCH_REQUESTED, EventKind.WATCH_CLOSED):
        return str((event.data or {}).get("district", ""))
    if name in EVENT_NAME_LABELS:
        return str(EVENT_NAME_LABELS[name])
    return ""


def _workflow_of(event):
    referral = event.referral
    if referral is None:
        return None
    return workflow_registry.get(referral.to_department.code)


def state_label(event, code: str) -> str:
    """A from/to state of a timeline event, labelled by the machine it belongs to."""
    if not code:
        return ""
    if event.kind in (EventKind.CASE_TRANSITION, EventKind.CASE_OPENED):
        return str(dict(CaseState.choices).get(code, code))
    if event.kind in (EventKind.REFERRAL_TRANSITION, EventKind.REFERRAL_REQUESTED):
        return str(dict(ReferralState.choices).get(code, code))
    if event.kind == EventKind.STAGE_TRANSITION:
        workflow = _workflow_of(event)
        return workflow.stage_label(code) if workflow else code
    if event.kind in (EventKind.WATCH_REQUESTED, EventKind.WATCH_CLOSED):
        return str(dict(WatchState.choices).get(code, code))
    return code
