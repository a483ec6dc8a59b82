"""Triage at a glance (issue 18 item 4): what an inbox card or a list row says about a case without
opening it — urgency, 主訴 (its first line), needs, the person's age band and district, the deadline
with a badge, the requester — and the case list's sort and filter parameters, validated.

Everything here works on rows already read with their related objects (`select_related`): no query
per row. The office-day count of a deadline reads the per-process closed-day cache."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from referral_engine.cases import selectors, triage
from referral_engine.cases.choices import Need, ReferralState, Risk
from referral_engine.timers import calendar
from referral_engine.web.upkeep_panels import AGE_BAND_LABELS
from referral_engine.workflow import registry as workflow_registry

SUMMARY_LINE_CHARS = 60

SORT_LABELS = {
    "": gettext_lazy("新しい順"),
    "urgency": gettext_lazy("緊急度の高い順"),
    "deadline": gettext_lazy("期限の近い順"),
    "stage": gettext_lazy("状態の順"),
    "assignee": gettext_lazy("担当者順（未定を先に）"),
}
INBOX_SORT_LABELS = {
    "": gettext_lazy("緊急のつなぎを先に、期限の近い順"),
    "urgency": gettext_lazy("緊急度の高い順"),
    "deadline": gettext_lazy("期限の近い順"),
}
DUE_LABELS = {
    "overdue": gettext_lazy("期限超過"),
    "today": gettext_lazy("今日まで"),
    "week": gettext_lazy("7日以内"),
}


def summary_line(text: str) -> str:
    """主訴 at a glance: its first non-blank line, cut to fit a card."""
    for line in (text or "").splitlines():
        line = line.strip()
        if line:
            return line if len(line) <= SUMMARY_LINE_CHARS else line[: SUMMARY_LINE_CHARS - 1] + "…"
    return ""


@dataclass(frozen=True)
class DeadlineBadge:
    """A deadline and its badge: `kind` is overdue / today / days (css class `due-<kind>`)."""

    at: datetime
    kind: str
    text: str

    @property
    def css(self) -> str:
        return f"due-{self.kind}"


def deadline_badge(at: datetime | None, now: datetime) -> DeadlineBadge | None:
    """期限超過 (with how many office days), 今日まで, or あと N 開庁日 (office days after today up to the
    deadline's day, by the office calendar)."""
    if at is None:
        return None
    today = timezone.localdate(now)
    day = timezone.localdate(at)
    if at <= now:
        late = calendar.office_days_between(day, today)
        text = _("期限超過") if late == 0 else _("%(n)s開庁日超過") % {"n": late}
        return DeadlineBadge(at, "overdue", text)
    if day <= today:
        return DeadlineBadge(at, "today", _("今日まで"))
    left = calendar.office_days_between(today, day)
    if left == 0:  # due on a closed day after today: the next office day is already late
        return DeadlineBadge(at, "today", _("次の開庁日まで"))
    return DeadlineBadge(at, "days", _("あと%(n)s開庁日") % {"n": left})


def referral_deadline(referral: Any) -> datetime | None:
    """The clock a referral runs on now: waiting → 受理期限, accepted → 段階の期限."""
    if referral.state == ReferralState.REQUESTED:
        return referral.due_at
    if referral.state == ReferralState.ACCEPTED:
        return referral.stage_due_at
    return None


def _needs(codes: Any) -> list[tuple[str, str]]:
    labels = dict(Need.choices)
    return [(code, labels.get(code, code)) for code in (codes or [])]


def case_facts(case: Any, today: Any = None) -> dict[str, Any]:
    """What a row says of the case and its person (the person's district and birth date are identity
    fields everyone who sees the case sees; the age goes out as a band, not the date)."""
    person = case.person
    band = selectors.age_band(person.birth_date, today)
    return {
        "summary_line": summary_line(case.summary),
        "needs": _needs(case.needs),
        "age_band": AGE_BAND_LABELS.get(band, band),
        "district": person.district.name if person.district_id else "",
    }


def case_row(case: Any, now: datetime) -> dict[str, Any]:
    """A case list row: the case, its facts and its deadline (`next_due_at` from
    `triage.cases_with_deadline`)."""
    return {
        "case": case,
        **case_facts(case, timezone.localdate(now)),
        "deadline": deadline_badge(getattr(case, "next_due_at", None), now),
    }


def referral_facts(referral: Any, now: datetime) -> dict[str, Any]:
    """An inbox card's or a work row's triage facts of a referral (its case and person read with it)."""
    return {
        **case_facts(referral.case, timezone.localdate(now)),
        "deadline": deadline_badge(referral_deadline(referral), now),
    }


# --- The case list's parameters -------------------------------------------------------------------


@dataclass
class CaseListParams:
    """`?sort=`, `?stage=`, `?assignee=` and `?due=`, checked against what the page offers. A value
    that is not offered is dropped and named in `ignored` (the page says so): never an error page."""

    sort: str = ""
    stage: str = ""
    assignee: str = ""
    due: str = ""
    ignored: list[str] = field(default_factory=list)
    stage_options: list[tuple[str, str]] = field(default_factory=list)
    assignee_options: list[tuple[str, str]] = field(default_factory=list)
    stage_key: tuple[str, str] | None = None
    assignee_user: Any = None


def case_list_params(params: Any, user: Any, department_names: dict[str, str]) -> CaseListParams:
    out = CaseListParams()
    stages = {}
    for value, department, code in triage.stage_choices():
        workflow_label = workflow_registry.get(department).stage_label(code)
        stages[value] = (department, code)
        out.stage_options.append((value, f"{department_names.get(department, department)}: {workflow_label}"))
    workers = {u.username: u for u in triage.assignee_choices(user)}
    out.assignee_options = [("me", _("自分")), ("none", _("担当者なし"))] + [
        (name, str(u)) for name, u in workers.items() if u.pk != user.pk
    ]

    def take(name: str, allowed) -> str:
        value = params.get(name, "")
        if not isinstance(value, str) or value == "":
            return ""
        if value not in allowed:
            out.ignored.append(name)
            return ""
        return value

    out.sort = take("sort", triage.SORTS)
    out.due = take("due", triage.DUE_FILTERS)
    out.stage = take("stage", stages)
    out.stage_key = stages.get(out.stage)
    out.assignee = take("assignee", {"me", "none", *workers})
    if out.assignee == "me":
        out.assignee_user = user
    elif out.assignee not in ("", "none"):
        out.assignee_user = workers[out.assignee]
    return out


def inbox_params(params: Any) -> dict[str, Any]:
    """`/inbox/`'s `?sort=` (urgency / deadline), `?risk=` (the case's 緊急度) and `?assignee=` (me /
    none), checked like the case list's: a value not offered is dropped and named in `ignored`."""
    allowed = {
        "sort": triage.INBOX_SORTS,
        "risk": tuple(Risk.values),
        "assignee": ("me", "none"),
    }
    out: dict[str, Any] = {"ignored": []}
    for name, values in allowed.items():
        value = params.get(name, "")
        if value and value not in values:
            out["ignored"].append(name)
            value = ""
        out[name] = value
    return out
