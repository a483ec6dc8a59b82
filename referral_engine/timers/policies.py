"""The deadline rules (DESIGN §7): their codes, their defaults and how a running clock reads them.

Rows of `EscalationPolicy` are the source of truth and are edited in the admin; `seed_policies`
writes the defaults below. A rule without a row falls back to its default, so a fresh database
still escalates; a row with `is_active=False` switches the rule off.
"""

from __future__ import annotations

from dataclasses import dataclass

from referral_engine.timers.calendar import Duration
from referral_engine.timers.models import EscalationPolicy

Target = EscalationPolicy.Target

HANDOFF = "handoff"
HANDOFF_URGENT = "handoff_urgent"
RUNAROUND = "runaround"


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
    from referral_engine import workflow_registry

    rules = [
        Rule(HANDOFF, "つなぎの受理（2開庁日）", Target.REFERRAL, Duration(office_days=2)),
        Rule(HANDOFF_URGENT, "緊急つなぎの受理（4時間）", Target.REFERRAL, Duration(hours=4)),
    ]
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


def rules_for(codes: list[str]) -> dict[str, Rule]:
    """The active rules among `codes` (one query)."""
    if not codes:
        return {}
    found = {p.rule: Rule.from_policy(p) for p in EscalationPolicy.objects.filter(rule__in=codes)}
    missing = [c for c in codes if c not in found]
    if missing:
        defaults = default_rules()
        found.update({c: defaults[c] for c in missing if c in defaults})
    return {code: rule for code, rule in found.items() if rule.is_active}
