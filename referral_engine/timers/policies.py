"""The deadline rules (DESIGN §7): their codes, their defaults and how a running clock reads them.

Rows of `EscalationPolicy` are the source of truth and are edited in the admin; `seed_policies`
writes the defaults below. A rule without a row falls back to its default, so a fresh database
still escalates; a row with `is_active=False` switches the rule off.

The rules are cached per process, like the closed days (`timers.calendar`): every intake asks for
them three times and a transition twice, and they change a few times a year. Every ORM write to
`EscalationPolicy` leaves a history row, so the largest history id (and the row count, for deletes
without history) is the table's version: a process re-reads the rules when it changes (checked at
most every `VERSION_CHECK_SECONDS`), and the process that saves or deletes a rule drops its cache at
once (`post_save` / `post_delete`, connected below). The admin's save also recomputes the open
clocks of the rule after commit, in the saving process, with the new rule.
"""

from __future__ import annotations

import threading
import time as _time
from dataclasses import dataclass

from django.db.models.signals import post_delete, post_save

from referral_engine.timers.calendar import Duration
from referral_engine.timers.models import EscalationPolicy
from referral_engine.workflow import registry as workflow_registry

Target = EscalationPolicy.Target

HANDOFF = "handoff"
HANDOFF_URGENT = "handoff_urgent"
RUNAROUND = "runaround"
# A follow-up (予定) still open after its day: L1 to its assignee at once, L2 to their department's
# supervisors `office_days` later (issue 18; the clock starts when the day has passed).
FOLLOWUP = "followup"


@dataclass(frozen=True)
class Rule:
    rule: str
    name: str
    target: str
    duration: Duration
    l1_percent: int = 50
    l3_office_days: int = 2
    is_active: bool = True

    @classmethod
    def from_policy(cls, policy: EscalationPolicy) -> Rule:
        return cls(
            rule=policy.rule,
            name=policy.name,
            target=policy.target,
            duration=Duration(office_days=policy.office_days, calendar_days=policy.calendar_days, hours=policy.hours),
            l1_percent=policy.l1_percent,
            l3_office_days=policy.l3_office_days,
            is_active=policy.is_active,
        )

    def policy_fields(self) -> dict:
        return {
            "name": self.name,
            "target": self.target,
            "office_days": self.duration.office_days,
            "calendar_days": self.duration.calendar_days,
            "hours": self.duration.hours,
            "l1_percent": self.l1_percent,
            "l3_office_days": self.l3_office_days,
        }


STALL_DAYS = {"urgent": 1, "high": 3, "normal": 14, "low": 14}
STALL_LABELS = {"urgent": "緊急", "high": "高", "normal": "通常", "low": "低"}


def stall_rule_code(risk: str) -> str:
    return f"stall_{risk}"


def stage_rule_code(department_code: str, timer_code: str) -> str:
    return f"stage:{department_code}:{timer_code}"


def default_rules() -> dict[str, Rule]:
    """DESIGN §7's defaults and one rule per timer of every registered department workflow."""
    rules = [
        Rule(HANDOFF, "つなぎの受理（2開庁日）", Target.REFERRAL, Duration(office_days=2)),
        Rule(HANDOFF_URGENT, "緊急つなぎの受理（4時間）", Target.REFERRAL, Duration(hours=4)),
    ]
    rules.append(
        Rule(
            FOLLOWUP,
            "予定の期限超過（L1 担当者へ・2開庁日後に L2 係長へ）",
            Target.FOLLOWUP,
            Duration(office_days=2),
            l3_office_days=0,
        )
    )
    for risk, days in STALL_DAYS.items():
        rules.append(
            Rule(
                stall_rule_code(risk),
                f"ケースの停滞（リスク{STALL_LABELS[risk]}: {days}日）",
                Target.CASE,
                Duration(calendar_days=days),
            )
        )
    for workflow in workflow_registry.all_workflows():
        for timer in workflow.timers:
            rules.append(
                Rule(
                    stage_rule_code(workflow.department_code, timer.code),
                    f"{workflow.title_ja or workflow.department_code}: {timer.label_ja}",
                    Target.STAGE,
                    Duration(office_days=timer.office_days, hours=timer.hours),
                )
            )
    return {r.rule: r for r in rules}


VERSION_CHECK_SECONDS = 5.0


class _RuleCache:
    """Every rule by code (the rows, else the defaults), with the version it was read at."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: dict[str, Rule] | None = None
        self._version: tuple[int, int] | None = None
        self._checked_at = 0.0

    def invalidate(self) -> None:
        with self._lock:
            self._rules, self._version, self._checked_at = None, None, 0.0

    def get(self) -> dict[str, Rule]:
        now = _time.monotonic()
        with self._lock:
            if self._rules is not None and now - self._checked_at < VERSION_CHECK_SECONDS:
                return self._rules
        version = _table_version()
        with self._lock:
            if self._rules is not None and version == self._version:
                self._checked_at = now
                return self._rules
        rules = default_rules()
        rules.update({p.rule: Rule.from_policy(p) for p in EscalationPolicy.objects.all()})
        with self._lock:
            self._rules, self._version, self._checked_at = rules, version, now
        return rules


def _table_version() -> tuple[int, int]:
    from django.db.models import Count, Max

    found = EscalationPolicy.history.aggregate(v=Max("history_id"), n=Count("history_id"))
    return (found["v"] or 0, found["n"])


_cache = _RuleCache()


def invalidate_cache(**kwargs) -> None:
    """Drop this process's rules (a rule was saved or deleted here; tests between cases)."""
    _cache.invalidate()


post_save.connect(invalidate_cache, sender=EscalationPolicy, dispatch_uid="timers.policies.invalidate_save")
post_delete.connect(invalidate_cache, sender=EscalationPolicy, dispatch_uid="timers.policies.invalidate_delete")


def rules_for(codes: list[str]) -> dict[str, Rule]:
    """The active rules among `codes` (from the process cache: no query most of the time)."""
    if not codes:
        return {}
    rules = _cache.get()
    return {code: rules[code] for code in codes if code in rules and rules[code].is_active}
