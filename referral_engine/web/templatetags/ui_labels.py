"""Labels for codes that reach templates as plain strings (the dashboard's dict rows)."""

from django import template
from django.utils import translation
from django.utils.translation import gettext as _

from referral_engine.cases.choices import CaseState, Risk
from referral_engine.workflow import registry as workflow_registry

register = template.Library()


@register.filter
def case_state_label(code: str) -> str:
    return str(dict(CaseState.choices).get(code, code))


@register.filter
def risk_label(code: str) -> str:
    return str(dict(Risk.choices).get(code, code))


@register.filter
def rule_label(rule: str) -> str:
    """An escalation rule code in words: handoff, handoff_urgent, stall_<risk>, stage:<dept>:<timer>."""
    rule = rule or ""
    if rule == "handoff":
        return _("つなぎの受理期限")
    if rule == "handoff_urgent":
        return _("緊急つなぎの受理期限（4時間）")
    if rule == "runaround":
        return _("たらい回し（辞退・差し戻しが2回）")
    if rule.startswith("stall_"):
        return _("ケースの停滞（リスク: %(r)s）") % {"r": risk_label(rule.removeprefix("stall_"))}
    if rule.startswith("stage:"):
        _prefix, department, timer_code = (rule.split(":", 2) + ["", ""])[:3]
        workflow = workflow_registry.get(department)
        timer = next((t for t in workflow.timers if t.code == timer_code), None) if workflow else None
        return timer.label if timer else rule
    return rule


@register.filter
def dept(department) -> str:
    """A department's name in the active language (its English name when the UI is English)."""
    if department is None or department == "":
        return ""
    english = (translation.get_language() or "ja").startswith("en")
    return (getattr(department, "name_en", "") if english else "") or str(department)
