"""What an auditor reads instead of internal codes (issue 16 item 6): roles, departments, actions,
object kinds, routes, search filters and change reasons in Japanese (English when the UI is), and
case numbers (R8-000123) instead of case ids. Every auditor screen and CSV goes through here; the
stored rows keep their codes (they are the contract of the API and of the append-only tables).

Labels for a batch of access-log rows cost two queries (departments, the batch's case numbers),
whatever the batch's size.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from referral_engine.accounts.models import Department, District
from referral_engine.accounts.roles import Role
from referral_engine.audit.models import AccessLog
from referral_engine.cases import choices
from referral_engine.cases.models import Case
from referral_engine.timers.models import Escalation, EscalationPolicy
from referral_engine.workflow import registry as workflow_registry

OBJECT_TYPES = {
    "case": gettext_lazy("ケース"),
    "person": gettext_lazy("本人"),
    "referral": gettext_lazy("つなぎ"),
    "activity": gettext_lazy("支援記録"),
    "consent": gettext_lazy("同意"),
    "stagerecord": gettext_lazy("部署の記録"),
    "communityslip": gettext_lazy("つなぎ票"),
    "escalation": gettext_lazy("エスカレーション"),
    "access_log": gettext_lazy("アクセスログ"),
    "case_list": gettext_lazy("ケース一覧"),
    "case_history": gettext_lazy("ケースの履歴"),
    "user": gettext_lazy("利用者"),
    "user_access_log": gettext_lazy("利用者のアクセス"),
    "user_changes": gettext_lazy("利用者の変更履歴"),
    "report": gettext_lazy("年度報告"),
    "denied_summary": gettext_lazy("拒否（件数のまとめ）"),
    "denied": gettext_lazy("拒否の記録"),
}
VIA = {"ui": gettext_lazy("画面"), "api": gettext_lazy("API"), "admin": gettext_lazy("管理画面")}
FILTER_KEYS = {
    "q": gettext_lazy("検索語"),
    "term": gettext_lazy("検索語"),
    "state": gettext_lazy("状態"),
    "risk": gettext_lazy("緊急度"),
    "department": gettext_lazy("部署"),
    "stalled": gettext_lazy("停滞"),
    "since": gettext_lazy("から"),
    "until": gettext_lazy("まで"),
    "user": gettext_lazy("利用者"),
    "action": gettext_lazy("操作"),
    "case": gettext_lazy("ケース"),
    "object_type": gettext_lazy("対象の種類"),
    "year": gettext_lazy("年度"),
    "format": gettext_lazy("形式"),
    "publication": gettext_lazy("公表用"),
    "inbox": gettext_lazy("受信箱"),
    "minute": gettext_lazy("分"),
    "suppressed": gettext_lazy("件数"),
}
TERM_KINDS = {
    "kana": gettext_lazy("カナ"),
    "name": gettext_lazy("氏名"),
    "phone": gettext_lazy("電話番号"),
    "number": gettext_lazy("ケース番号"),
}
LEVELS = {f"L{value}": label for value, label in Escalation.Level.choices}
# The built-in rules' names when the policy table has no row for them (it is editable in the admin).
RULES = {
    "handoff": gettext_lazy("受理期限"),
    "handoff_urgent": gettext_lazy("緊急の受理期限"),
    "runaround": gettext_lazy("たらい回し"),
    "stall_urgent": gettext_lazy("停滞（緊急）"),
    "stall_high": gettext_lazy("停滞（高）"),
    "stall_normal": gettext_lazy("停滞（通常）"),
    "stall_low": gettext_lazy("停滞（低）"),
    "followup": gettext_lazy("予定の期限"),
}


_CODE_LIKE = re.compile(r"^[a-z][a-z0-9_]*$")


def _choices(*enums: Any) -> dict[str, str]:
    found: dict[str, str] = {}
    for enum in enums:
        found.update({str(k): str(v) for k, v in enum.choices})
    return found


def role_label(codes: str) -> str:
    names = dict(Role.choices)
    return "、".join(str(names.get(c, c)) for c in codes.split(",") if c)


# (language, registered workflows) → (values, transitions, stages) of the last build, per language.
_STATIC_LABELS: dict[str, tuple[tuple[Any, ...], tuple[dict[str, str], dict[str, str], dict[str, str]]]] = {}


def _static_labels() -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """The Labeller's fixed tables for the active language, rebuilt when the workflows registered
    change (tests register throwaway ones). Shared between Labellers: nobody writes into them."""
    workflows = tuple(workflow_registry.all_workflows())
    language = translation.get_language() or ""
    cached = _STATIC_LABELS.get(language)
    if (
        cached is not None
        and len(cached[0]) == len(workflows)
        and all(a is b for a, b in zip(cached[0], workflows, strict=True))
    ):
        return cached[1]
    values = _choices(
        choices.CaseState,
        choices.ReferralState,
        choices.Risk,
        choices.Basis,
        choices.Channel,
        choices.ClosureReason,
        choices.ActivityKind,
        choices.ConsentMethod,
        choices.Need,
        choices.EventKind,
        AccessLog.Action,
        Role,
    )
    transitions = _transition_labels(workflows)
    stages: dict[str, str] = {}
    for workflow in workflows:
        for stage in getattr(workflow, "stages", ()):
            code = getattr(stage, "code", None) or getattr(stage, "name", None)
            if code:
                stages.setdefault(str(code), str(workflow.stage_label(code)))
    tables = (values, transitions, stages)
    _STATIC_LABELS[language] = (workflows, tables)
    return tables


def _transition_labels(workflows: tuple[Any, ...]) -> dict[str, str]:
    found = {
        "open": str(_("受付")),
        "start_assessment": str(_("アセスメント開始")),
        "start_support": str(_("支援開始")),
        "start_monitoring": str(_("モニタリング開始")),
        "hold": str(_("保留")),
        "resume": str(_("再開")),
        "close": str(_("終結")),
        "reopen": str(_("再開（終結から）")),
        "request": str(_("つなぎ依頼")),
        "accept": str(_("受理")),
        "decline": str(_("辞退")),
        "return": str(_("差し戻し")),
        "cancel": str(_("取消")),
        "complete": str(_("完了")),
        "record": str(_("部署の記録")),
        "assign": str(_("担当者の割当")),
        "acknowledge": str(_("確認")),
    }
    for workflow in workflows:
        for info in workflow.transition_infos():
            found.setdefault(info.name, str(info.label))
    return found


class Labeller:
    """Codes → labels, reading the master data once (departments, districts, escalation rules)."""

    # The master data is read on first use only: most timelines need none of it (query budgets).
    @functools.cached_property
    def departments(self) -> dict[str, str]:
        return dict(Department.objects.values_list("code", "name_ja"))

    @functools.cached_property
    def districts(self) -> dict[str, str]:
        return dict(District.objects.values_list("code", "name"))

    @functools.cached_property
    def rules(self) -> dict[str, str]:
        return dict(EscalationPolicy.objects.values_list("rule", "name"))

    @functools.cached_property
    def stage_timers(self) -> dict[str, str]:
        found = {}
        for workflow in workflow_registry.all_workflows():
            for timer in getattr(workflow, "timers", ()) or ():
                department = self.departments.get(workflow.department_code, workflow.department_code)
                found[workflow.timer_rule(timer)] = f"{department}: {timer.label_ja}"
        return found

    def __init__(self) -> None:
        # The code → label tables depend only on the language and the registered workflows: built
        # once per (language, workflows) and shared, read-only (issue 23: they were most of a
        # history read's Python time).
        self.values, self.transitions, self.stages = _static_labels()

    # --- single codes ---

    def department(self, codes: str) -> str:
        return "、".join(self.departments.get(c, c) for c in codes.split(",") if c)

    def rule(self, code: str) -> str:
        if not code:
            return ""
        if code in self.rules:
            return self.rules[code]
        if code in RULES:
            return str(RULES[code])
        if code in self.stage_timers:
            return self.stage_timers[code]
        if code.startswith("stage:"):
            parts = code.split(":")
            if len(parts) == 3:
                return f"{self.departments.get(parts[1], parts[1])}: {self.stages.get(parts[2], parts[2])}"
        return code

    def codes_in(self, text: str) -> str:
        """Department codes inside a text made by `str()` of a record (a consent's recipients)."""
        if not re.search(r"[a-z]_[a-z]|shakyo", text):
            return text
        return re.sub(r"[a-z][a-z_]+", lambda m: self.departments.get(m.group(0), m.group(0)), text)

    def value(self, code: Any) -> str:
        text = str(code)
        if text in self.values:
            return self.values[text]
        if not _CODE_LIKE.match(text):  # free text or a number: nothing to look up
            return text
        if text in self.departments:
            return self.departments[text]
        return self.districts.get(text, text)

    def transition(self, name: str) -> str:
        return self.transitions.get(name) or self.values.get(name, name)

    # --- composite texts ---

    def query(self, text: str) -> str:
        """A stored search: its filters as 「部署=社会福祉協議会、操作=閲覧」, fingerprints as 「カナ(6字):…」."""
        if not text:
            return ""
        try:
            data = json.loads(text)
        except ValueError:
            return self.fingerprint(text)
        if not isinstance(data, dict):
            return text
        parts = []
        for key, value in sorted(data.items()):
            label = str(FILTER_KEYS.get(key, key))
            shown = self.fingerprint(value) if key in ("q", "term") else self.value(value)
            parts.append(f"{label}={shown}")
        return "、".join(parts)

    @staticmethod
    def fingerprint(value: Any) -> str:
        text = str(value)
        kind, _sep, rest = text.partition(":")
        if kind in TERM_KINDS and rest:
            if kind == "number":
                return f"{TERM_KINDS[kind]}: {rest}"
            length, _sep, digest = rest.partition(":")
            return f"{TERM_KINDS[kind]}（{length}字）: {digest}"
        return text

    _LEVEL_RULE = re.compile(r"^(?P<prefix>.*?)\bL(?P<level>[123]) (?P<rule>[\w:.-]+)$")
    _CODE_REASONS = {
        "person_create": gettext_lazy("本人の登録"),
        "case_open": gettext_lazy("受付"),
        "referral_request": gettext_lazy("つなぎ依頼"),
        "activity_add": gettext_lazy("支援記録の追加"),
        "consent_record": gettext_lazy("同意の記録"),
        "consent_withdraw": gettext_lazy("同意の撤回"),
        "stage_record_update": gettext_lazy("部署の記録の更新"),
        "lead_changed": gettext_lazy("主担当の変更"),
        "assign": gettext_lazy("担当者の割当"),
        "acknowledge": gettext_lazy("確認"),
        "slip_submit": gettext_lazy("つなぎ票の提出"),
        "admin": gettext_lazy("管理画面での変更"),
        "membership_start": gettext_lazy("所属の開始"),
        "membership_end": gettext_lazy("所属の終了"),
        "lead_released": gettext_lazy("主担当の解除"),
        "assign_released": gettext_lazy("担当の解除"),
        "resolved": gettext_lazy("解消"),
        "stop": gettext_lazy("停止"),
        "start": gettext_lazy("開始"),
        "timers": gettext_lazy("期限の再計算"),
        "repair_out_of_range_dates": gettext_lazy("範囲外の日付の修正"),
        "seed_policies": gettext_lazy("規則の初期設定"),
        "seed_calendar": gettext_lazy("閉庁日の初期設定"),
    }

    def reason(self, text: str) -> str:
        """A change reason as written by the services (`referral_request: internal_use`,
        `L3 runaround`, `case in_support`, `hold: 本人の希望`) in words; free text stays as typed."""
        if not text:
            return ""
        level_rule = self._LEVEL_RULE.match(text)
        if level_rule:
            prefix = level_rule["prefix"].strip()
            level = LEVELS.get(f"L{level_rule['level']}", f"L{level_rule['level']}")
            shown = f"{level} {self.rule(level_rule['rule'])}"
            return f"{prefix} {shown}".strip()
        head, sep, rest = text.partition(":")
        if sep and (head in self._CODE_REASONS or head in self.transitions):
            label = self._CODE_REASONS.get(head) or self.transition(head)
            rest = rest.strip()
            if not rest:
                return str(label)
            shown = self.reason(rest)
            return f"{label}: {self.value(rest) if shown == rest else shown}"
        if text in self._CODE_REASONS:
            return str(self._CODE_REASONS[text])
        words = text.split(" ")
        if len(words) == 2 and words[0] in ("case", "referral"):
            noun = OBJECT_TYPES[words[0]]
            state, _slash, stage = words[1].partition("/")
            shown = self.value(state) + (f"／{self.stages.get(stage, stage)}" if stage and stage != "-" else "")
            return f"{noun}: {shown}"
        if len(words) == 2 and words[0] == "referral":
            return f"{OBJECT_TYPES['referral']}: {self.transition(words[1])}"
        if text in self.transitions:
            return self.transition(text)
        return text


# --- The access log -----------------------------------------------------------------------------


def object_type_label(code: str) -> str:
    return str(OBJECT_TYPES.get(code, code))


def access_logs_labelled(logs: Iterable[AccessLog], labeller: Labeller | None = None) -> list[AccessLog]:
    """The rows with `role_label`, `department_label`, `action_label`, `object_label`, `case_number`,
    `via_label` and `query_label` set (two queries for the batch)."""
    logs = list(logs)
    labeller = labeller or Labeller()
    case_ids = {log.case_id for log in logs if log.case_id} | {
        log.object_id for log in logs if log.object_type == "case" and log.object_id
    }
    numbers = dict(Case.objects.filter(pk__in=case_ids).values_list("pk", "number")) if case_ids else {}
    actions = dict(AccessLog.Action.choices)
    for log in logs:
        log.role_label = role_label(log.role)
        log.department_label = labeller.department(log.department)
        log.action_label = str(actions.get(log.action, log.action))
        log.case_number = numbers.get(log.case_id, "") if log.case_id else ""
        kind = object_type_label(log.object_type)
        if log.object_type == "case" and log.object_id:
            log.object_label = (
                f"{kind} {numbers.get(log.object_id) or _('（存在しないID %(id)s）') % {'id': log.object_id}}"
            )
        elif log.object_id:
            log.object_label = f"{kind} #{log.object_id}"
        else:
            log.object_label = kind
        log.via_label = str(VIA.get(log.via, log.via))
        log.query_label = labeller.query(log.query)
    return logs


def access_logs_labelled_stream(logs: Iterable[AccessLog], batch: int = 2000) -> Iterator[AccessLog]:
    """For a CSV that streams: labelled a batch at a time."""
    labeller = Labeller()
    chunk: list[AccessLog] = []
    for log in logs:
        chunk.append(log)
        if len(chunk) >= batch:
            yield from access_logs_labelled(chunk, labeller)
            chunk = []
    if chunk:
        yield from access_logs_labelled(chunk, labeller)
