"""One case's life, played forward in time, and every row the services would have written for it.

A case is planned first (its person, window, channel, risk, the state it has reached by `now`, its
transitions, referrals with their handoff and stage paths, consents and activities, each with a time),
then replayed in time order through the same bookkeeping the services do: every touch moves
`last_touched_at` and restarts the stall clock, every save leaves a history row with the acting user
and a reason, every change leaves a timeline event. The clocks are then scheduled with the office
calendar and the editable rules, and every level that fell due before `now` is fired as the sweep
(running every minute) would have fired it. Grants come last, from the final states, through the
grants module's own rules (`grants.grants_desired_for`).

Every table's rows go to `Rows` (see `bench.loadgen.tables`); ids of rows that other rows
point at are chosen here from per-case slots, so batches can be built in separate processes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from django.utils import timezone

from bench.loadgen import vocabulary as vocab
from bench.loadgen.tables import Table, history_table
from bench.loadgen.world import Dept, Staff, World
from referral_engine.access import grants
from referral_engine.accounts.roles import Role
from referral_engine.audit.models import AccessLog
from referral_engine.cases import normalize
from referral_engine.cases.choices import (
    JUSTIFIED_BASES,
    ActivityKind,
    Basis,
    CaseState,
    Channel,
    ClosureReason,
    ConsentMethod,
    EventKind,
    Need,
    PersonFlag,
    ReferralState,
    Risk,
    Sex,
    SlipUrgency,
)
from referral_engine.cases.models import Activity, Case, CaseEvent, CommunitySlip, Consent, Person, Referral
from referral_engine.cases.numbering import case_number_format, fiscal_year_of
from referral_engine.timers import calendar
from referral_engine.timers.models import Escalation, Timer
from referral_engine.timers.policies import HANDOFF, HANDOFF_URGENT, RUNAROUND, STALL_DAYS, Rule, Target

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)

# Id slots per case for rows other rows point at (gaps are harmless; sequences are set after the load).
MAX_REFERRALS = 4
MAX_ACTIVITIES = 16
TIMER_SLOTS = 1 + 2 * MAX_REFERRALS  # stall clock, and per referral its handoff and stage clocks
ESCALATION_SLOTS = 3 * TIMER_SLOTS + 1  # three levels per clock, and the runaround rule
LIVE = (Escalation.State.OPEN, Escalation.State.ACKNOWLEDGED)

CASE_STATES = [s.value for s in CaseState]
CHANNELS = [c.value for c in Channel]
RISKS = [r.value for r in Risk]
NEEDS = [n.value for n in Need]
REFERRAL_STATES = [s.value for s in ReferralState]
SENSITIVE_FLAGS = [PersonFlag.DISABILITY, PersonFlag.HIKIKOMORI, PersonFlag.MENTAL_ILLNESS, PersonFlag.LIVELIHOOD]


def _w(rng: random.Random, choices: list, weights: list) -> Any:
    return rng.choices(choices, weights)[0]


def _exp_days(rng: random.Random, mean_days: float) -> timedelta:
    return timedelta(days=rng.expovariate(1 / mean_days))


# --- Tables ------------------------------------------------------------------------------------------


PERSON_COLUMNS = (
    "id", "created_at", "updated_at", "family_name", "given_name", "family_name_kana", "given_name_kana",
    "birth_date", "sex", "address", "district_id", "phone", "flags", "kana_key", "name_key", "phone_key",
)  # fmt: skip
CASE_COLUMNS = (
    "id", "created_at", "updated_at", "number", "fiscal_year", "person_id", "intake_department_id", "channel",
    "referrer_id", "opened_by_id", "summary", "needs", "risk", "lead_department_id", "lead_worker_id", "state",
    "closure_reason", "closed_at", "hold_started_at", "held_from_state", "on_hold_seconds", "is_gap",
    "last_touched_at", "stall_due_at", "person_kana_key", "person_name_key",
)  # fmt: skip
REFERRAL_COLUMNS = (
    "id", "created_at", "updated_at", "case_id", "from_department_id", "to_department_id", "requested_by_id",
    "reason", "basis", "justification", "consent_id", "urgent", "previous_id", "state", "stage", "due_at",
    "stage_due_at", "responded_by_id", "responded_at", "response_reason", "completed_at", "assigned_worker_id",
)  # fmt: skip
ACTIVITY_COLUMNS = (
    "id", "created_at", "updated_at", "case_id", "kind", "author_id", "department_id", "occurred_at", "body",
    "sensitive",
)  # fmt: skip
CONSENT_COLUMNS = (
    "id", "created_at", "updated_at", "person_id", "case_id", "recipients", "purposes", "method", "obtained_by_id",
    "obtained_at", "withdrawn_at", "withdrawn_by_id", "note",
)  # fmt: skip
EVENT_COLUMNS = (
    "case_id", "referral_id", "kind", "name", "from_state", "to_state", "actor_id", "department_id", "reason",
    "data", "created_at",
)  # fmt: skip
TIMER_COLUMNS = (
    "id", "object_key", "rule", "target", "case_id", "referral_id", "department_id", "stage", "cycle",
    "started_at", "hold_baseline_seconds", "due_at", "l1_at", "l3_at", "fired_level", "next_fire_at", "is_open",
    "closed_at", "created_at", "updated_at",
)  # fmt: skip
ESCALATION_COLUMNS = (
    "id", "object_key", "rule", "cycle", "level", "case_id", "referral_id", "department_id", "due_at", "fired_at",
    "state", "acknowledged_by_id", "acknowledged_at", "note", "resolved_at",
)  # fmt: skip
SLIP_COLUMNS = (
    "id", "created_at", "updated_at", "connector_id", "district_id", "name", "name_kana", "address_note",
    "concern", "urgency", "person_agreed_to_contact", "case_id",
)  # fmt: skip
ACCESS_COLUMNS = (
    "user_id", "username", "role", "department", "at", "action", "object_type", "object_id", "case_id", "query",
    "path", "via", "ip_address",
)  # fmt: skip
PERM_COLUMNS_GROUP = ("content_object_id", "group_id", "permission_id")
PERM_COLUMNS_USER = ("content_object_id", "user_id", "permission_id")


class Rows:
    """The tables of one batch, in an order that satisfies foreign keys when written one by one."""

    def __init__(self) -> None:
        from referral_engine.access.models import (
            CaseGroupObjectPermission,
            CaseUserObjectPermission,
            ReferralGroupObjectPermission,
            ReferralUserObjectPermission,
        )

        self.person = Table(Person, PERSON_COLUMNS)
        self.case = Table(Case, CASE_COLUMNS)
        self.consent = Table(Consent, CONSENT_COLUMNS)
        self.referral = Table(Referral, REFERRAL_COLUMNS)
        self.activity = Table(Activity, ACTIVITY_COLUMNS)
        self.slip = Table(CommunitySlip, SLIP_COLUMNS)
        self.timer = Table(Timer, TIMER_COLUMNS)
        self.escalation = Table(Escalation, ESCALATION_COLUMNS)
        self.event = Table(CaseEvent, EVENT_COLUMNS)
        self.access = Table(AccessLog, ACCESS_COLUMNS)
        self.case_group = Table(CaseGroupObjectPermission, PERM_COLUMNS_GROUP)
        self.case_user = Table(CaseUserObjectPermission, PERM_COLUMNS_USER)
        self.referral_group = Table(ReferralGroupObjectPermission, PERM_COLUMNS_GROUP)
        self.referral_user = Table(ReferralUserObjectPermission, PERM_COLUMNS_USER)
        self.h_person = history_table(Person, PERSON_COLUMNS)
        self.h_case = history_table(Case, CASE_COLUMNS)
        self.h_consent = history_table(Consent, CONSENT_COLUMNS)
        self.h_referral = history_table(Referral, REFERRAL_COLUMNS)
        self.h_activity = history_table(Activity, ACTIVITY_COLUMNS)
        self.h_slip = history_table(CommunitySlip, SLIP_COLUMNS)
        self.h_timer = history_table(Timer, TIMER_COLUMNS)
        self.h_escalation = history_table(Escalation, ESCALATION_COLUMNS)

    def tables(self) -> list[Table]:
        return [
            self.person, self.case, self.consent, self.referral, self.activity, self.slip, self.timer,
            self.escalation, self.event, self.access, self.case_group, self.case_user, self.referral_group,
            self.referral_user, self.h_person, self.h_case, self.h_consent, self.h_referral, self.h_activity,
            self.h_slip, self.h_timer, self.h_escalation,
        ]  # fmt: skip

    def count(self) -> int:
        return sum(len(t.rows) for t in self.tables())


def _row(table: Table, values: dict[str, Any]) -> tuple:
    return tuple([values[c] for c in table.columns])


def _history(table: Table, values: dict[str, Any], at: datetime, reason: str, kind: str, user_id: int | None):
    columns = table.columns
    row = [values[c] for c in columns[:-4]]
    row += (at, reason, kind, user_id)
    table.rows.append(tuple(row))


# --- Workflow shapes (plain data, read once per process) -------------------------------------------


@dataclass(frozen=True)
class Shape:
    """A department workflow as the generator needs it: how to walk to each stage."""

    initial: str
    finals: tuple[str, ...]
    working: tuple[str, ...]  # non-final stages, in the order a worker meets them
    paths: dict[str, list[tuple[str, str, str]]]  # stage -> [(transition, from, to)] from the initial stage
    timers: dict[str, list[str]]  # stage -> rule codes of its clocks


def workflow_shapes() -> dict[str, Shape]:
    from referral_engine.timers.policies import stage_rule_code
    from referral_engine.workflow import registry as workflow_registry

    shapes = {}
    for wf in workflow_registry.all_workflows():
        edges: dict[str, list[tuple[str, str]]] = {}
        for info in wf.transition_infos():
            for source in info.sources:
                edges.setdefault(source, []).append((info.name, info.target))
        paths: dict[str, list[tuple[str, str, str]]] = {wf.initial_stage: []}
        queue = [wf.initial_stage]
        while queue:  # breadth first: the shortest walk to each stage
            stage = queue.pop(0)
            for name, target in edges.get(stage, []):
                if target not in paths:
                    paths[target] = [*paths[stage], (name, stage, target)]
                    queue.append(target)
        order = list(wf.stage_codes)
        finals = tuple(s for s in order if s in wf.final_stages and s in paths)
        working = tuple(s for s in order if s not in wf.final_stages and s in paths)
        timers: dict[str, list[str]] = {}
        for t in wf.timers:
            timers.setdefault(t.stage, []).append(stage_rule_code(wf.department_code, t.code))
        shapes[wf.department_code] = Shape(wf.initial_stage, finals, working, paths, timers)
    return shapes


# --- Plans -------------------------------------------------------------------------------------------


@dataclass
class Step:
    """One thing that happened to the case, replayed in time order."""

    at: datetime
    kind: str  # transition, request, respond, stage, final, activity, lead, withdraw, escalation
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass
class ReferralPlan:
    id: int
    slot: int
    to: Dept
    frm: Dept
    requested_by: Staff
    created_at: datetime
    basis: str
    justification: str
    reason: str
    urgent: bool
    state: str
    consent_id: int | None = None
    previous_id: int | None = None
    responder: Staff | None = None
    responded_at: datetime | None = None
    response_reason: str = ""
    stage_steps: list[tuple[datetime, str, str, str]] = field(default_factory=list)
    final_at: datetime | None = None  # complete or return
    assigned: Staff | None = None
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def bounced_at(self) -> datetime | None:
        return self.final_at if self.state == "returned" else self.responded_at


@dataclass
class Clock:
    """A Timer row as the case services and the sweep would have left it by `now`."""

    values: dict[str, Any]
    history: list[tuple[datetime, str]]  # (when, reason) of each save after the first
    escalations: list[dict[str, Any]]


class CaseFactory:
    """Builds every row of one case. Holds the per-process state: the world, the random source
    (seeded per batch, so a batch is the same whichever process builds it) and the batch's rows."""

    GAPS = {  # mean days before each case transition
        "start_assessment": 1.5,
        "start_support": 15,
        "start_monitoring": 90,
        "close": 120,
        "hold": 20,
        "resume": 25,
        "reopen": 60,
    }

    def __init__(self, world: World, rows: Rows, *, now: datetime, shapes: dict[str, Shape], first_day: date) -> None:
        self.w = world
        self.cal = calendar.OfficeDays(world.closed, first_day - 30 * DAY, timezone.localdate(now) + 3 * 366 * DAY)
        self.rows = rows
        self.now = now
        self.rng = random.Random(0)
        self.shapes = shapes
        self.persons: list[dict[str, Any]] = []
        self.today = timezone.localdate(now)
        self.ids = world.next_ids

    def start_batch(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.persons = []  # a second case of the same person stays within a batch

    # --- Small helpers ---------------------------------------------------------------------------
    def pick(self, people: list[Staff]) -> Staff:
        return people[self.rng.randrange(len(people))]

    def worker(self, dept_id: int) -> Staff:
        return self.pick(self.w.workers[dept_id])

    def chief(self, dept_id: int) -> Staff:
        return self.pick(self.w.supervisors[dept_id])

    def between(self, start: datetime, end: datetime) -> datetime:
        if end <= start:
            return start
        return start + (end - start) * self.rng.random()

    def event(self, case_id: int, at: datetime, kind: str, *, actor: int | None, name: str = "", referral_id=None,
              from_state: str = "", to_state: str = "", department_id=None, reason: str = "", data=None) -> None:  # fmt: skip
        self.rows.event.rows.append(
            (case_id, referral_id, kind, name, from_state, to_state, actor, department_id, reason, data or {}, at)
        )

    def schedule(self, started: datetime, rule: Rule) -> tuple[datetime, datetime | None, datetime | None]:
        """timers.services._schedule's arithmetic: (due, L1, L3) of a clock started at `started`."""
        due = self.cal.deadline_after(started, rule.duration)
        l1 = started + (due - started) * rule.l1_percent / 100 if 0 < rule.l1_percent < 100 else None
        l3 = self.cal.office_days_later(due, rule.l3_office_days) if rule.l3_office_days > 0 else None
        return due, l1, l3

    # --- The person ------------------------------------------------------------------------------
    def person(self, idx: int, created: datetime, district: tuple[int, str, str], actor: int, slip: bool):
        rng = self.rng
        if self.persons and not slip and rng.random() < 0.12:
            return self.persons[rng.randrange(len(self.persons))]  # a second case of the same person
        sex = Sex.FEMALE if rng.random() < 0.56 else Sex.MALE
        family, family_kana = vocab.FAMILY_NAMES[rng.randrange(len(vocab.FAMILY_NAMES))]
        given_pool = vocab.FEMALE_GIVEN_NAMES if sex == Sex.FEMALE else vocab.MALE_GIVEN_NAMES
        given, given_kana = given_pool[rng.randrange(len(given_pool))]
        u = rng.random()
        age = rng.randint(65, 98) if u < 0.6 else rng.randint(20, 64) if u < 0.95 else rng.randint(3, 19)
        birth = None if slip else self.today - timedelta(days=age * 365 + rng.randrange(365))
        phone = "" if slip or rng.random() < 0.2 else f"0972-{rng.randint(10, 99)}-{rng.randint(0, 9999):04d}"
        flags = []
        if age >= 65 and rng.random() < 0.45:
            flags.append(PersonFlag.LIVES_ALONE.value)
        if age >= 75 and rng.random() < 0.3:
            flags.append(PersonFlag.NEEDS_CARE.value)
        if rng.random() < 0.1:
            flags.append(SENSITIVE_FLAGS[rng.randrange(len(SENSITIVE_FLAGS))].value)
        if age >= 70 and rng.random() < 0.15:
            flags.append(PersonFlag.EVACUATION_SUPPORT.value)
        street = vocab.STREETS[rng.randrange(len(vocab.STREETS))]
        values = {
            "id": self.ids["person"] + idx,
            "created_at": created,
            "updated_at": created,
            "family_name": family,
            "given_name": given,
            "family_name_kana": family_kana,
            "given_name_kana": given_kana,
            "birth_date": birth,
            "sex": "" if slip else sex.value,
            "address": f"津久見市{district[2]} {street}{rng.randint(1, 30)}-{rng.randint(1, 20)}",
            "district_id": district[0],
            "phone": phone,
            "flags": sorted(flags),
            "kana_key": normalize.kana_key(family_kana, given_kana),
            "name_key": normalize.name_key(family, given),
            "phone_key": normalize.phone_key(phone),
        }
        self.rows.person.rows.append(_row(self.rows.person, values))
        _history(self.rows.h_person, values, created, "person_create", "+", actor)
        self.persons.append(values)
        return values

    # --- The case's own path ---------------------------------------------------------------------
    def target_state(self, index: int, created: datetime, due: bool) -> str:
        rng = self.rng
        if due:
            return _w(rng, ["assessing", "in_support", "monitoring"], [3, 5, 2])
        if index < len(CASE_STATES):
            return CASE_STATES[index]  # every state appears, however small the load
        age = (self.now - created).days
        if age < 3:
            weights = {"received": 50, "assessing": 45, "closed": 5}
        elif age < 30:
            weights = {"received": 4, "assessing": 44, "in_support": 35, "on_hold": 5, "closed": 12}
        elif age < 180:
            weights = {"assessing": 8, "in_support": 40, "monitoring": 20, "on_hold": 5, "closed": 27}
        elif age < 365:
            weights = {"in_support": 14, "monitoring": 20, "on_hold": 3, "closed": 63}
        else:
            weights = {"in_support": 3, "monitoring": 6, "on_hold": 1, "closed": 90}
        return _w(rng, list(weights), list(weights.values()))

    def transitions(self, target: str, *, due: bool) -> list[tuple[str, str, str]]:
        """(name, from, to) from `received` to `target`, with the odd hold, early close or reopen."""
        rng = self.rng
        steps: list[tuple[str, str, str]] = []
        if target == "received":
            return steps

        def go(name: str, frm: str, to: str) -> None:
            steps.append((name, frm, to))
            if not due and rng.random() < 0.04:
                steps.append(("hold", to, "on_hold"))
                steps.append(("resume", "on_hold", to))

        go("start_assessment", "received", "assessing")
        if target == "assessing":
            if not due and rng.random() < 0.05:  # closed once, reopened
                steps.append(("close", "assessing", "closed"))
                steps.append(("reopen", "closed", "assessing"))
            return steps
        if target == "closed" and rng.random() < 0.22:  # declined, moved away, handed over early
            steps.append(("close", "assessing", "closed"))
            return steps
        if target == "on_hold":
            held_from = _w(rng, ["assessing", "in_support", "monitoring"], [3, 5, 2])
            if held_from != "assessing":
                go("start_support", "assessing", "in_support")
            if held_from == "monitoring":
                go("start_monitoring", "in_support", "monitoring")
            steps.append(("hold", held_from, "on_hold"))
            return steps
        go("start_support", "assessing", "in_support")
        if target == "in_support":
            return steps
        if target == "closed" and rng.random() < 0.35:
            steps.append(("close", "in_support", "closed"))
        else:
            go("start_monitoring", "in_support", "monitoring")
            if target == "monitoring":
                return steps
            steps.append(("close", "monitoring", "closed"))
        if rng.random() < 0.03:  # reopened and closed again
            steps.append(("reopen", "closed", "assessing"))
            steps.append(("close", "assessing", "closed"))
        return steps

    def timed(self, steps: list[tuple[str, str, str]], created: datetime, end: datetime) -> list[tuple]:
        """Times for the steps: typical gaps, squeezed to fit between intake and `end`."""
        gaps = [max(0.01, self.rng.expovariate(1 / self.GAPS[name])) for name, _f, _t in steps]
        span_days = max(0.0, (end - created).total_seconds() / 86400 * 0.95 - 0.01 * len(steps))
        total = sum(gaps)
        scale = span_days / total if total > span_days and total > 0 else 1.0
        at = created
        out = []
        for (name, frm, to), gap in zip(steps, gaps):
            at = at + timedelta(days=gap * scale) + MINUTE
            out.append((at, name, frm, to))
        return out

    # --- One case ----------------------------------------------------------------------------------
    def build(self, *, index: int, created: datetime, fiscal_year: int, seq: int, due: bool = False) -> None:
        """Every row of the `index`-th case of the run. `due`: an open case whose stall clock passed
        its first level with no sweep since (for the sweep benchmark)."""
        w, rng, rows = self.w, self.rng, self.rows
        case_id = self.ids["case"] + index
        channel = CHANNELS[index] if index < len(CHANNELS) else _w(rng, CHANNELS, [35, 30, 10, 8, 10, 4, 3])
        district = w.districts[rng.randrange(len(w.districts))]
        slip = channel == Channel.COMMUNITY and bool(w.connectors.get(district[0]))
        if channel == Channel.COMMUNITY and not slip:
            channel = Channel.PHONE.value
        if slip:
            window, opener, lead_worker = w.desk, self.pick(w.connectors[district[0]]), None
        else:
            first = len(CHANNELS)  # after the channels' own coverage (a community slip is taken at the desk)
            if first <= index < first + len(w.departments):
                window = w.departments[index - first]
            else:
                weights = [{"social_welfare": 35, "health_promotion": 25, "longevity_support": 25}.get(d.code, 8)
                           for d in w.departments]  # fmt: skip
                window = _w(rng, w.departments, weights)
            u = rng.random()
            staff = w.front_desk if u < 0.5 else w.workers if u < 0.9 else w.supervisors
            opener = self.pick(staff[window.id])
            lead_worker = opener if opener.role in (Role.CASEWORKER, Role.SUPERVISOR) else None
        risk = RISKS[index] if index < len(RISKS) else _w(rng, RISKS, [3, 15, 62, 20])
        person = self.person(index, created, district, opener.id, slip)
        needs = {NEEDS[0] if rng.random() < 0.6 else NEEDS[rng.randrange(len(NEEDS))]}
        needs.update(rng.sample(NEEDS[:8], rng.randint(0, 2)))
        target = self.target_state(index, created, due)
        # A due case's last touch is between 55 % and 95 % of its stall period ago: planned to end there.
        horizon = self.now
        if due:
            horizon = self.now - timedelta(days=STALL_DAYS.get(risk, 14) * rng.uniform(0.55, 0.95))
        transitions = self.timed(self.transitions(target, due=due), created, horizon)
        first_close = next((t[0] for t in transitions if t[1] == "close"), None)
        closed_at = transitions[-1][0] if target == "closed" else None

        case = {
            "id": case_id,
            "created_at": created,
            "updated_at": created,
            "number": case_number_format(fiscal_year, seq),
            "fiscal_year": fiscal_year,
            "person_id": person["id"],
            # cases/0009's trigger copies these; --fast loads with triggers off (session_replication_role).
            "person_kana_key": person["kana_key"],
            "person_name_key": person["name_key"],
            "intake_department_id": window.id,
            "channel": channel,
            "referrer_id": opener.id if slip else None,
            "opened_by_id": opener.id,
            "summary": vocab.SUMMARIES[rng.randrange(len(vocab.SUMMARIES))],
            "needs": sorted(needs, key=NEEDS.index),
            "risk": risk,
            "lead_department_id": window.id,
            "lead_worker_id": lead_worker.id if lead_worker else None,
            "state": "received",
            "closure_reason": "",
            "closed_at": None,
            "hold_started_at": None,
            "held_from_state": "",
            "on_hold_seconds": 0,
            "is_gap": False,
            "last_touched_at": created,
            "stall_due_at": None,
            "_touches": 1,
        }
        steps = [Step(at, "transition", {"name": n, "from": f, "to": t}) for at, n, f, t in transitions]
        referrals = self.plan_referrals(index, case, window, opener, slip, first_close or horizon, closed_at, due)
        consent = self.plan_consent(index, case, referrals, opener)
        for r in referrals:
            steps.append(Step(r.created_at, "request", {"r": r}))
            if r.responded_at:
                name = {"cancelled": "cancel", "declined": "decline"}.get(r.state, "accept")
                steps.append(Step(r.responded_at, "respond", {"r": r, "name": name}))
            for at, name, frm, to in r.stage_steps:
                steps.append(Step(at, "stage", {"r": r, "name": name, "from": frm, "to": to}))
            if r.final_at:
                steps.append(
                    Step(r.final_at, "final", {"r": r, "name": "complete" if r.state == "completed" else "return"})
                )
        steps += self.plan_activities(case, target, referrals, closed_at, window, horizon, due)
        if case["lead_worker_id"] is None and transitions and rng.random() < 0.6:
            at = transitions[0][0] + MINUTE
            if at < (closed_at or horizon):
                steps.append(Step(at, "lead", {"worker": self.worker(window.id), "by": self.chief(window.id)}))
        if consent is not None and consent["withdrawn_at"]:
            steps.append(Step(consent["withdrawn_at"], "withdraw", {"consent": consent}))
        steps += self.runaround_steps(case, referrals, closed_at)
        for r in referrals:
            r.values = self.referral_values(r, case_id)
        referral_clocks = self.referral_clocks(case, referrals)
        for clock in referral_clocks:
            steps += [Step(e["fired_at"], "escalation", {"esc": e}) for e in clock.escalations]
        steps.sort(key=lambda s: s.at)

        # Intake: the case is born (the stall clock starts); the slip and the consent come with it.
        case["stall_due_at"] = self.stall_due(case, created)
        _history(rows.h_case, case, created, "case_open", "+", opener.id)
        self.event(case_id, created, EventKind.CASE_OPENED, actor=opener.id, name="open", to_state="received",
                   department_id=window.id, data={"channel": channel, "risk": risk})  # fmt: skip
        if slip:
            self.slip(index, case, person, opener, district)
        if consent is not None:
            self.consent_rows(case, consent)
        self.replay(index, case, steps)
        stall = self.stall_clock(index, case, closed_at, due)
        for clock in [stall, *referral_clocks]:
            if clock is None:
                continue
            self.timer_rows(clock)
        if stall is not None:
            for esc in stall.escalations:
                self.escalation_rows(case, esc)  # after the last touch: nothing later to replay
        self.grants(case, referrals)
        self.access_log(case, opener, referrals)
        rows.case.rows.append(_row(rows.case, case))
        for r in referrals:
            rows.referral.rows.append(_row(rows.referral, r.values))

    # --- Referrals -------------------------------------------------------------------------------
    def plan_referrals(self, index, case, window: Dept, opener: Staff, slip: bool, open_until, closed_at, due):
        rng, w = self.rng, self.w
        created = case["created_at"]
        end = closed_at or open_until
        forced = {1: ["requested", "accepted", "declined"], 2: ["completed", "returned", "cancelled"]}
        if index in forced and not due:
            states: list[str | None] = list(forced[index])
        else:
            weights = [60, 40, 0, 0] if case_target_is_new(created, self.now) else [25, 42, 23, 10]
            states = [None] * _w(rng, [0, 1, 2, 3], weights)
        others = [d for d in w.departments if d.id != window.id]
        rng.shuffle(others)
        requester = opener if not slip else self.worker(window.id)
        plans: list[ReferralPlan] = []
        for j, (state, to) in enumerate(zip(states, others[:MAX_REFERRALS])):
            urgent = case["risk"] == Risk.URGENT or rng.random() < 0.04
            # An intake's referrals are made at the intake's moment (cases.services.intake.case_open).
            at_intake = j == 0 and rng.random() < 0.4
            r0 = created if at_intake else self.between(created + MINUTE, end - 2 * HOUR)
            if state is None:
                if closed_at is not None:
                    state = _w(rng, ["completed", "declined", "returned", "cancelled"], [70, 12, 8, 10])
                elif due:
                    state = _w(rng, ["accepted", "completed", "declined", "cancelled"], [50, 30, 10, 10])
                elif self.now - r0 < timedelta(days=3):
                    # Asked for lately: most are still waiting (answers come within two office days).
                    state = _w(rng, ["requested", "accepted", "declined", "cancelled"], [60, 32, 5, 3])
                else:
                    # Asked for long ago: answered, apart from the odd one nobody took (はざま).
                    state = _w(rng, ["requested", "accepted", "completed", "declined", "returned", "cancelled"],
                               [0.5, 40, 32, 11, 6, 5])  # fmt: skip
            if state == "requested" and (index in forced or urgent):
                # Forced or urgent: asked for within the last hours (an urgent handoff is due in 4).
                back = timedelta(hours=rng.uniform(0, 6 if urgent else 70))
                r0 = max(created if at_intake else created + MINUTE * (1 + j), self.now - back)
            r0 = min(r0, end - MINUTE)
            if to.external or window.external:
                basis = Basis.CONSENT if rng.random() < 0.7 else _w(rng, list(JUSTIFIED_BASES), [50, 20, 15, 15])
            else:
                u = rng.random()
                basis = Basis.INTERNAL_USE if u < 0.9 else Basis.CONSENT if u < 0.97 else Basis.SUPPORT_MEETING
            reasons = vocab.REFERRAL_REASONS.get(to.code, ("対応をお願いします。",))
            plan = ReferralPlan(
                id=self.ids["referral"] + index * MAX_REFERRALS + j,
                slot=j,
                to=to,
                frm=window,
                requested_by=requester,
                created_at=r0,
                basis=str(basis),
                justification=vocab.JUSTIFICATIONS.get(str(basis), ""),
                reason=reasons[rng.randrange(len(reasons))],
                urgent=urgent,
                state=state,
            )
            self.plan_response(plan, end=end)
            plans.append(plan)
        for prev, nxt in zip(plans, plans[1:]):  # a referral after one that bounced is a re-referral
            if prev.bounced_at and nxt.created_at > prev.bounced_at:
                nxt.previous_id = prev.id
        return plans

    def plan_response(self, r: ReferralPlan, *, end: datetime) -> None:
        rng = self.rng
        if r.state == "requested":
            return
        wait = timedelta(hours=rng.uniform(0.2, 4)) if r.urgent else _exp_days(rng, 0.7)
        latest = max(r.created_at + MINUTE, end - 10 * MINUTE)
        r.responded_at = min(r.created_at + wait + MINUTE, self.between(r.created_at + MINUTE, latest))
        if r.state == "cancelled":
            r.response_reason = vocab.CANCEL_REASONS[rng.randrange(len(vocab.CANCEL_REASONS))]
            return
        r.responder = self.worker(r.to.id) if rng.random() < 0.8 else self.chief(r.to.id)
        if r.state == "declined":
            r.response_reason = vocab.DECLINE_REASONS[rng.randrange(len(vocab.DECLINE_REASONS))]
            return
        if rng.random() < 0.3:
            r.assigned = self.worker(r.to.id)
        shape = self.shapes.get(r.to.code)
        if shape is None or not shape.finals:
            if r.state == "completed":
                r.state = "accepted"  # `complete` needs a final stage
            return
        if r.state == "completed":
            stage = shape.finals[rng.randrange(len(shape.finals))]
        elif r.state == "returned":
            stage = shape.working[rng.randrange(min(2, len(shape.working)))]
        else:
            stage = shape.working[min(int(rng.expovariate(1.2)), len(shape.working) - 1)]
            # Nobody sits in a timed stage for years: a referral taken on long ago has moved on.
            limit = self.stage_days(shape, stage)
            if limit and (end - r.responded_at).days > 1.5 * limit:
                untimed = [s for s in shape.working if not shape.timers.get(s)]
                stage = untimed[rng.randrange(len(untimed))] if untimed else stage
        path = shape.paths[stage]
        extra = 1 if r.state in ("completed", "returned") else 0
        t0 = r.responded_at
        times = sorted(self.between(t0 + MINUTE, max(t0 + MINUTE, end - 5 * MINUTE)) for _ in range(len(path) + extra))
        times = [t + MINUTE * k for k, t in enumerate(times)]  # strictly after each other
        r.stage_steps = [(at, name, frm, to) for at, (name, frm, to) in zip(times, path)]
        if extra:
            r.final_at = times[-1]
            if r.state == "returned":
                r.response_reason = vocab.RETURN_REASONS[rng.randrange(len(vocab.RETURN_REASONS))]

    def stage_days(self, shape: Shape, stage: str) -> float:
        """Roughly how many calendar days the stage's clocks allow (0: the stage has none)."""
        days = 0.0
        for code in shape.timers.get(stage, []):
            rule = self.w.rules.get(code)
            if rule is not None:
                d = rule.duration
                days = max(days, d.office_days * 1.4 + d.calendar_days + d.hours / 24)
        return days

    def referral_values(self, r: ReferralPlan, case_id: int) -> dict[str, Any]:
        rule = self.w.rules.get(HANDOFF_URGENT if r.urgent else HANDOFF)
        return {
            "id": r.id,
            "created_at": r.created_at,
            "updated_at": r.created_at,
            "case_id": case_id,
            "from_department_id": r.frm.id,
            "to_department_id": r.to.id,
            "requested_by_id": r.requested_by.id,
            "reason": r.reason,
            "basis": r.basis,
            "justification": r.justification if r.basis in JUSTIFIED_BASES else "",
            "consent_id": r.consent_id,
            "urgent": r.urgent,
            "previous_id": r.previous_id,
            "state": "requested",
            "stage": "",
            "due_at": self.cal.deadline_after(r.created_at, rule.duration) if rule else None,
            "stage_due_at": None,
            "responded_by_id": None,
            "responded_at": None,
            "response_reason": "",
            "completed_at": None,
            "assigned_worker_id": None,
        }

    # --- Consents, activities, slips ---------------------------------------------------------------
    def plan_consent(self, index: int, case, referrals: list[ReferralPlan], opener: Staff) -> dict[str, Any] | None:
        rng = self.rng
        using = [r for r in referrals if r.basis == Basis.CONSENT]
        if not using and rng.random() > 0.08:
            return None
        if using:
            recipients = sorted({r.to.code for r in using})
        else:
            recipients = [self.w.departments[rng.randrange(len(self.w.departments))].code]
        created = case["created_at"]
        obtained = max(created, min([r.created_at for r in using], default=created + MINUTE) - MINUTE / 2)
        by = using[0].requested_by if using else opener
        if by.role == Role.CONNECTOR:
            by = self.worker(case["lead_department_id"])
        consent_id = self.ids["consent"] + index
        for r in using:
            r.consent_id = consent_id
        withdrawn = None
        if rng.random() < 0.04:
            last = max([r.created_at for r in using] + [obtained])
            if last + HOUR < self.now:
                withdrawn = self.between(last + MINUTE, self.now - MINUTE)
        return {
            "id": consent_id,
            "created_at": obtained,
            "updated_at": withdrawn or obtained,
            "person_id": case["person_id"],
            "case_id": case["id"],
            "recipients": recipients,
            "purposes": vocab.CONSENT_PURPOSES,
            "method": ConsentMethod.WRITTEN.value if rng.random() < 0.7 else ConsentMethod.ORAL.value,
            "obtained_by_id": by.id,
            "obtained_at": obtained,
            "withdrawn_at": withdrawn,
            "withdrawn_by_id": by.id if withdrawn else None,
            "note": "",
        }

    def consent_rows(self, case, consent: dict[str, Any]) -> None:
        rows = self.rows
        first = dict(consent, withdrawn_at=None, withdrawn_by_id=None, updated_at=consent["obtained_at"])
        _history(rows.h_consent, first, consent["obtained_at"], "consent_record", "+", consent["obtained_by_id"])
        self.event(case["id"], consent["obtained_at"], EventKind.CONSENT, actor=consent["obtained_by_id"],
                   name="record", data={"consent_id": consent["id"], "recipients": consent["recipients"],
                                        "method": consent["method"]})  # fmt: skip
        rows.consent.rows.append(_row(rows.consent, consent))

    def plan_activities(self, case, target, referrals, closed_at, window: Dept, horizon, due) -> list[Step]:
        rng = self.rng
        low, high = {
            "received": (0, 1),
            "assessing": (1, 2),
            "in_support": (1, 4),
            "monitoring": (2, 5),
            "on_hold": (1, 3),
            "closed": (1, 5),
        }[target]
        created = case["created_at"]
        end = closed_at or horizon
        times = [self.between(created + MINUTE, end - MINUTE) for _ in range(rng.randint(low, high))]
        if due:
            times.append(horizon)  # the last touch, long enough ago for the first level to be due
        elif target not in ("closed", "on_hold", "received"):
            # The desk keeps touching open cases: the last touch is recent (a few are stalled).
            touch = self.now - _exp_days(rng, 0.4 * STALL_DAYS.get(case["risk"], 14))
            if touch > created:
                times.append(touch)
        involved = [r.to for r in referrals if r.state in ("accepted", "completed")]
        steps = []
        for at in times[: MAX_ACTIVITIES - 1]:
            dept = involved[rng.randrange(len(involved))] if involved and rng.random() < 0.3 else window
            steps.append(Step(at, "activity", {"author": self.worker(dept.id)}))
        return steps

    def slip(self, index: int, case, person, connector: Staff, district) -> None:
        rows = self.rows
        values = {
            "id": self.ids["slip"] + index,
            "created_at": case["created_at"],
            "updated_at": case["created_at"],
            "connector_id": connector.id,
            "district_id": district[0],
            "name": f"{person['family_name']} {person['given_name']}",
            "name_kana": f"{person['family_name_kana']} {person['given_name_kana']}",
            "address_note": person["address"][:200],
            "concern": case["summary"],
            "urgency": SlipUrgency.URGENT.value if case["risk"] == Risk.URGENT else SlipUrgency.NORMAL.value,
            "person_agreed_to_contact": self.rng.random() < 0.5,
            "case_id": case["id"],
        }
        rows.slip.rows.append(_row(rows.slip, values))
        _history(rows.h_slip, values, case["created_at"], "slip_submit", "+", connector.id)

    # --- Replay ----------------------------------------------------------------------------------
    def stall_due(self, case, started: datetime) -> datetime | None:
        if case["state"] in (CaseState.CLOSED, CaseState.ON_HOLD):
            return None
        rule = self.w.rules.get(f"stall_{case['risk']}")
        return self.cal.deadline_after(started, rule.duration) if rule else None

    def touch(self, case, at: datetime, actor: int | None, reason: str) -> None:
        """Any activity or transition touches the case: the stall clock starts again."""
        case["last_touched_at"] = at
        case["updated_at"] = at
        case["stall_due_at"] = self.stall_due(case, at)
        case["_touches"] += 1
        _history(self.rows.h_case, case, at, reason, "~", actor)

    def replay(self, index: int, case, steps: list[Step]) -> None:
        rows, rng = self.rows, self.rng
        case_id = case["id"]
        act_base = self.ids["activity"] + index * MAX_ACTIVITIES
        n_activity = 0
        for step in steps:
            at, p, kind = step.at, step.payload, step.kind
            if kind == "transition":
                self.replay_transition(case, at, p["name"], p["from"], p["to"])
            elif kind == "activity":
                author: Staff = p["author"]
                sensitive = rng.random() < 0.15
                bodies = vocab.SENSITIVE_BODIES if sensitive else vocab.ACTIVITY_BODIES
                activity = {
                    "id": act_base + n_activity,
                    "created_at": at,
                    "updated_at": at,
                    "case_id": case_id,
                    "kind": ACTIVITY_KINDS[rng.randrange(len(ACTIVITY_KINDS))],
                    "author_id": author.id,
                    "department_id": author.department_id,
                    "occurred_at": at,
                    "body": bodies[rng.randrange(len(bodies))],
                    "sensitive": sensitive,
                }
                n_activity += 1
                rows.activity.rows.append(_row(rows.activity, activity))
                _history(rows.h_activity, activity, at, "activity_add", "+", author.id)
                self.event(case_id, at, EventKind.ACTIVITY, actor=author.id, name=activity["kind"],
                           department_id=author.department_id,
                           data={"activity_id": activity["id"], "sensitive": sensitive})  # fmt: skip
                self.touch(case, at, author.id, "activity_add")
            elif kind in ("request", "respond", "stage", "final"):
                self.replay_referral(case, at, kind, p)
            elif kind == "lead":
                worker: Staff = p["worker"]
                case["lead_worker_id"] = worker.id
                self.touch(case, at, p["by"].id, "lead_changed")
                dept = self.w.dept_by_id[case["lead_department_id"]]
                self.event(case_id, at, EventKind.LEAD_CHANGED, actor=p["by"].id, name="lead", department_id=dept.id,
                           data={"department": dept.code, "worker": worker.username})  # fmt: skip
            elif kind == "withdraw":
                consent = p["consent"]
                _history(rows.h_consent, consent, at, "consent_withdraw", "~", consent["withdrawn_by_id"])
                self.event(case_id, at, EventKind.CONSENT, actor=consent["withdrawn_by_id"], name="withdraw",
                           data={"consent_id": consent["id"]})  # fmt: skip
            elif kind == "escalation":
                self.escalation_rows(case, p["esc"])

    def replay_transition(self, case, at: datetime, name: str, frm: str, to: str) -> None:
        rng = self.rng
        actor = case["lead_worker_id"] or self.worker(case["lead_department_id"]).id
        reason, closure = "", ""
        if name == "hold":
            reason = vocab.HOLD_REASONS[rng.randrange(len(vocab.HOLD_REASONS))]
            case["held_from_state"], case["hold_started_at"] = frm, at
        elif name == "resume":
            held = case["hold_started_at"]
            case["on_hold_seconds"] += max(0, int((at - held).total_seconds())) if held else 0
            case["hold_started_at"], case["held_from_state"] = None, ""
        elif name == "close":
            closure = _w(rng, CLOSURE_REASONS, [55, 12, 8, 15, 10])
            case["closure_reason"], case["closed_at"] = closure, at
        elif name == "reopen":
            case["closure_reason"], case["closed_at"], case["held_from_state"] = "", None, ""
        else:
            reason = vocab.TRANSITION_REASONS[rng.randrange(len(vocab.TRANSITION_REASONS))]
        case["state"] = to
        self.touch(case, at, actor, f"{name}: {reason}".strip(": "))
        self.event(case["id"], at, EventKind.CASE_TRANSITION, actor=actor, name=name, from_state=frm, to_state=to,
                   reason=reason, data={"closure_reason": closure} if closure else {})  # fmt: skip

    def replay_referral(self, case, at: datetime, kind: str, p: dict[str, Any]) -> None:
        rows = self.rows
        r: ReferralPlan = p["r"]
        v = r.values
        case_id = case["id"]
        if kind == "request":
            _history(rows.h_referral, v, at, f"referral_request: {r.basis}", "+", r.requested_by.id)
            self.event(case_id, at, EventKind.REFERRAL_REQUESTED, actor=r.requested_by.id, name="request",
                       referral_id=r.id, to_state="requested", department_id=r.frm.id, reason=r.reason,
                       data={"to": r.to.code, "from": r.frm.code, "basis": r.basis, "urgent": r.urgent})  # fmt: skip
            self.event(case_id, at, EventKind.DISCLOSURE, actor=r.requested_by.id, name=r.basis, referral_id=r.id,
                       department_id=r.frm.id, reason=v["justification"],
                       data={"to": r.to.code, "basis": r.basis, "consent_id": r.consent_id})  # fmt: skip
            if case["last_touched_at"] != at:  # as the service: an intake's referral moves no clock, saves no case
                self.touch(case, at, r.requested_by.id, "referral_request")
            return
        v["updated_at"] = at
        if kind == "respond":
            name = p["name"]
            actor = r.responder.id if r.responder else r.requested_by.id
            from_state = "requested"
            if name == "cancel":
                v.update(state="cancelled", response_reason=r.response_reason)
            elif name == "decline":
                v.update(state="declined", responded_by_id=actor, responded_at=at, response_reason=r.response_reason)
            else:
                shape = self.shapes.get(r.to.code)
                v.update(state="accepted", responded_by_id=actor, responded_at=at, stage=shape.initial if shape else "")
                v["stage_due_at"] = self.stage_due(r, v["stage"], at)
            reason = "" if name == "accept" else r.response_reason
        elif kind == "stage":
            name = p["name"]
            actor = (r.assigned or r.responder or self.worker(r.to.id)).id
            v["stage"] = p["to"]
            v["stage_due_at"] = self.stage_due(r, p["to"], at)
            reason = ""
            _history(rows.h_referral, v, at, name, "~", actor)
            self.event(case_id, at, EventKind.STAGE_TRANSITION, actor=actor, name=name, referral_id=r.id,
                       from_state=p["from"], to_state=p["to"], department_id=r.to.id,
                       data={"to": r.to.code, "stage": p["to"]})  # fmt: skip
            self.touch(case, at, actor, f"referral {name}")
            return
        else:  # final: complete or return
            name = p["name"]
            actor = (r.assigned or r.responder or self.worker(r.to.id)).id
            from_state = "accepted"
            if name == "complete":
                v.update(state="completed", completed_at=at)
            else:
                v.update(state="returned", response_reason=r.response_reason)
            v["stage_due_at"] = None
            reason = r.response_reason if name == "return" else ""
        _history(rows.h_referral, v, at, f"{name}: {reason}".strip(": "), "~", actor)
        if kind == "respond" and name == "accept" and r.assigned:
            v["assigned_worker_id"] = r.assigned.id
            _history(rows.h_referral, v, at, "assign", "~", self.chief(r.to.id).id)
        self.event(case_id, at, EventKind.REFERRAL_TRANSITION, actor=actor, name=name, referral_id=r.id,
                   from_state=from_state, to_state=v["state"], department_id=r.to.id, reason=reason,
                   data={"to": r.to.code, "stage": v["stage"]})  # fmt: skip
        self.touch(case, at, actor, f"referral {name}")

    def stage_due(self, r: ReferralPlan, stage: str, at: datetime) -> datetime | None:
        shape = self.shapes.get(r.to.code)
        codes = shape.timers.get(stage, []) if shape else []
        dues = [self.cal.deadline_after(at, self.w.rules[c].duration) for c in codes if c in self.w.rules]
        return min(dues) if dues else None

    # --- Clocks and escalations ------------------------------------------------------------------
    def runaround_steps(self, case, referrals: list[ReferralPlan], closed_at) -> list[Step]:
        """たらい回し: the second decline or return escalates to the desk supervisor at once."""
        bounces = sorted(r.bounced_at for r in referrals if r.state in ("declined", "returned") and r.bounced_at)
        if len(bounces) < 2 or (closed_at and bounces[1] >= closed_at):
            return []
        at = bounces[1]
        esc = {
            "slot": ESCALATION_SLOTS - 1,
            "object_key": f"case:{case['id']}",
            "rule": RUNAROUND,
            "cycle": 1,
            "level": 3,
            "referral_id": None,
            "department_id": self.w.desk.id,
            "due_at": at,
            "fired_at": at,
            "rule_name": f"たらい回し（辞退・差し戻し {len(bounces)} 回）",
            "resolved_at": closed_at,
            "resolve_reason": "ケース終結",
        }
        return [Step(at, "escalation", {"esc": esc})]

    def clock(self, *, case, slot, object_key, rule: Rule, target, department_id, referral_id, stage, started,
              stop_at, stop_reason, cycle, leave_due=False) -> Clock:  # fmt: skip
        """The clock started at `started` (stopped at `stop_at`, or running), each level fired by the
        sweep once its time passed; `leave_due`: the first level is due and not yet fired."""
        due, l1, l3 = self.schedule(started, rule)
        times = {1: l1, 2: due, 3: l3}
        horizon = stop_at or self.now
        fired = [] if leave_due else [lvl for lvl in (1, 2, 3) if times[lvl] is not None and times[lvl] <= horizon]
        values = {
            "id": self.ids["timer"] + case["_index"] * TIMER_SLOTS + slot,
            "object_key": object_key,
            "rule": rule.rule,
            "target": target,
            "case_id": case["id"],
            "referral_id": referral_id,
            "department_id": department_id,
            "stage": stage,
            "cycle": cycle,
            "started_at": started,
            "hold_baseline_seconds": case["on_hold_seconds"],
            "due_at": due,
            "l1_at": l1,
            "l3_at": l3,
            "fired_level": 0,
            "next_fire_at": l1 or due,
            "is_open": True,
            "closed_at": None,
            "created_at": started,
            "updated_at": started,
        }
        history = []
        escalations = []
        for lvl in fired:
            at = min(times[lvl] + timedelta(seconds=self.rng.uniform(1, 59)), horizon)
            history.append((at, f"L{lvl} fired", lvl))
            escalations.append(
                {
                    "slot": slot * 3 + lvl - 1,
                    "object_key": object_key,
                    "rule": rule.rule,
                    "cycle": cycle,
                    "level": lvl,
                    "referral_id": referral_id,
                    "department_id": department_id,
                    "due_at": due,
                    "fired_at": at,
                    "rule_name": rule.name,
                    "resolved_at": stop_at,
                    "resolve_reason": stop_reason,
                }
            )
        if stop_at is not None:
            history.append((stop_at, f"stop: {stop_reason}", None))
        return Clock(values, history, escalations)

    def timer_rows(self, clock: Clock) -> None:
        """The Timer row and its history: started, each level fired, stopped."""
        rows, system = self.rows, self.w.system_id
        v = clock.values
        _history(rows.h_timer, v, v["started_at"], "start", "+", system)
        times = {1: v["l1_at"], 2: v["due_at"], 3: v["l3_at"]}
        for at, reason, lvl in clock.history:
            if lvl is not None:
                v["fired_level"] = lvl
                v["next_fire_at"] = next((times[x] for x in (1, 2, 3) if x > lvl and times[x] is not None), None)
            else:
                v.update(is_open=False, closed_at=at, next_fire_at=None)
            v["updated_at"] = at
            _history(rows.h_timer, v, at, reason[:500], "~", system)
        rows.timer.rows.append(_row(rows.timer, v))

    def stall_clock(self, index: int, case, closed_at, due: bool) -> Clock | None:
        rule = self.w.rules.get(f"stall_{case['risk']}")
        if rule is None:
            return None
        case["_index"] = index
        state = case["state"]
        running = state not in (CaseState.CLOSED, CaseState.ON_HOLD)
        stop_at = None if running else (closed_at or case["hold_started_at"] or case["last_touched_at"])
        clock = self.clock(
            case=case, slot=0, object_key=f"case:{case['id']}", rule=rule, target=Target.CASE,
            department_id=case["lead_department_id"], referral_id=None, stage="",
            started=case["last_touched_at"] if running else min(case["last_touched_at"], stop_at),
            stop_at=stop_at, stop_reason=f"case {state}", cycle=case["_touches"], leave_due=due,
        )  # fmt: skip
        case["stall_due_at"] = clock.values["due_at"] if running else None
        return clock

    def referral_clocks(self, case, referrals: list[ReferralPlan]) -> list[Clock]:
        """Each referral's handoff clock (stopped by the answer) and, while it is worked, the clock of
        its current stage; their fired levels are replayed with the case (L3 makes it はざま)."""
        clocks = []
        case["_index"] = case["id"] - self.ids["case"]
        for r in referrals:
            rule = self.w.rules.get(HANDOFF_URGENT if r.urgent else HANDOFF)
            if rule is not None:
                clocks.append(
                    self.clock(
                        case=case,
                        slot=1 + 2 * r.slot,
                        object_key=f"referral:{r.id}",
                        rule=rule,
                        target=Target.REFERRAL,
                        department_id=r.to.id,
                        referral_id=r.id,
                        stage="",
                        started=r.created_at,
                        stop_at=r.responded_at,
                        stop_reason=f"referral {r.state}",
                        cycle=1,
                    )  # fmt: skip
                )
            if r.state != "accepted":
                continue
            shape = self.shapes.get(r.to.code)
            stage = r.stage_steps[-1][3] if r.stage_steps else (shape.initial if shape else "")
            codes = [c for c in (shape.timers.get(stage, []) if shape else []) if c in self.w.rules]
            if codes:
                entered = r.stage_steps[-1][0] if r.stage_steps else r.responded_at
                clocks.append(
                    self.clock(
                        case=case,
                        slot=2 + 2 * r.slot,
                        object_key=f"referral:{r.id}",
                        rule=self.w.rules[codes[0]],
                        target=Target.STAGE,
                        department_id=r.to.id,
                        referral_id=r.id,
                        stage=stage,
                        started=entered,
                        stop_at=None,
                        stop_reason="",
                        cycle=1,
                    )  # fmt: skip
                )
        return clocks

    def escalation_rows(self, case, esc: dict[str, Any]) -> None:
        """One fired level: the escalation and its history, the timeline events, はざま at L3, and
        what became of it (acknowledged by a supervisor, resolved when its clock stopped)."""
        rows, rng, system = self.rows, self.rng, self.w.system_id
        case_id = case["id"]
        fired = esc["fired_at"]
        values = {
            "id": self.ids["escalation"] + (case_id - self.ids["case"]) * ESCALATION_SLOTS + esc["slot"],
            "object_key": esc["object_key"],
            "rule": esc["rule"],
            "cycle": esc["cycle"],
            "level": esc["level"],
            "case_id": case_id,
            "referral_id": esc["referral_id"],
            "department_id": esc["department_id"],
            "due_at": esc["due_at"],
            "fired_at": fired,
            "state": Escalation.State.OPEN.value,
            "acknowledged_by_id": None,
            "acknowledged_at": None,
            "note": "",
            "resolved_at": None,
        }
        _history(rows.h_escalation, values, fired, f"L{esc['level']} {esc['rule']}", "+", system)
        due_local = esc["due_at"].astimezone(self.cal.tz)
        data = {"escalation_id": values["id"], "rule": esc["rule"], "level": esc["level"]}
        self.event(case_id, fired, EventKind.ESCALATION, actor=system, name=f"L{esc['level']}",
                   referral_id=esc["referral_id"], department_id=esc["department_id"],
                   reason=f"{esc['rule_name']}（期限 {due_local:%Y-%m-%d %H:%M}）",
                   data={**data, "cycle": esc["cycle"], "due_at": esc["due_at"].isoformat()})  # fmt: skip
        if esc["level"] == 3 and not case["is_gap"]:
            case["is_gap"] = True
            case["updated_at"] = max(case["updated_at"], fired)
            _history(rows.h_case, case, fired, f"はざま: L3 {esc['rule']}", "~", system)
            self.event(case_id, fired, EventKind.GAP_FLAGGED, actor=system, name="gap", referral_id=esc["referral_id"],
                       reason=esc["rule_name"], data={"escalation_id": values["id"], "rule": esc["rule"]})  # fmt: skip
        end = esc["resolved_at"] or self.now
        if esc["level"] >= 2 and rng.random() < 0.4:
            ack_at = fired + timedelta(hours=rng.uniform(1, 30))
            if ack_at < end:
                chief = self.chief(esc["department_id"])
                note = vocab.ACK_NOTES[rng.randrange(len(vocab.ACK_NOTES))]
                values.update(state="acknowledged", acknowledged_by_id=chief.id, acknowledged_at=ack_at, note=note)
                _history(rows.h_escalation, values, ack_at, "acknowledge", "~", chief.id)
                self.event(case_id, ack_at, EventKind.ESCALATION, actor=chief.id, name="acknowledged",
                           referral_id=esc["referral_id"], department_id=esc["department_id"], data=data)  # fmt: skip
        if esc["resolved_at"]:
            values.update(state=Escalation.State.RESOLVED.value, resolved_at=esc["resolved_at"])
            reason = esc.get("resolve_reason") or "resolved"
            _history(rows.h_escalation, values, esc["resolved_at"], f"resolved: {reason}"[:500], "~", system)
            self.event(case_id, esc["resolved_at"], EventKind.ESCALATION, actor=system, name="resolved",
                       referral_id=esc["referral_id"], department_id=esc["department_id"], reason=reason,
                       data=data)  # fmt: skip
        rows.escalation.rows.append(_row(rows.escalation, values))

    # --- Grants and the access log -------------------------------------------------------------
    def grants(self, case, referrals: list[ReferralPlan]) -> None:
        """The grants module's own rules (`grants.grants_desired_for`) applied to stand-ins of the
        final case and referrals (departments are `Dept`s, which carry the group id): no query."""
        rows, w = self.rows, self.w
        dept = w.dept_by_id
        refs = [
            SimpleNamespace(
                from_department=r.frm,
                to_department=r.to,
                state=r.values["state"],
                assigned_worker_id=r.values["assigned_worker_id"],
            )
            for r in referrals
        ]
        stub = SimpleNamespace(
            lead_department=dept[case["lead_department_id"]],
            intake_department=dept[case["intake_department_id"]],
            lead_worker_id=case["lead_worker_id"],
        )
        desired = grants.grants_desired_for(stub, refs)
        case_id = case["id"]
        for owner, codes in desired.case_groups.items():
            rows.case_group.rows.extend((case_id, owner, w.case_perm[code]) for code in codes)
        for owner, codes in desired.case_users.items():
            rows.case_user.rows.extend((case_id, owner, w.case_perm[code]) for code in codes)
        for r, (r_groups, r_users) in zip(referrals, desired.referrals):
            for owner, codes in r_groups.items():
                rows.referral_group.rows.extend((r.id, owner, w.referral_perm[code]) for code in codes)
            for owner, codes in r_users.items():
                rows.referral_user.rows.extend((r.id, owner, w.referral_perm[code]) for code in codes)

    def access_log(self, case, opener: Staff, referrals: list[ReferralPlan]) -> None:
        """Views of the case by those who worked it (and now and then an auditor), a search at intake."""
        rows, rng, w = self.rows, self.rng, self.w
        case_id = case["id"]
        end = case["closed_at"] or self.now
        viewers: list[tuple[Staff, datetime]] = []
        if opener.role != Role.CONNECTOR:
            viewers.append((opener, case["created_at"] + MINUTE))
            if rng.random() < 0.4:
                term = vocab.SEARCH_TERMS[rng.randrange(len(vocab.SEARCH_TERMS))]
                at = case["created_at"] - MINUTE
                rows.access.rows.append(self._access(opener, at, "search", "person", None, None, term, "/cases/new/"))
        for r in referrals:
            if r.responder and r.responded_at:
                viewers.append((r.responder, r.responded_at))
        for _ in range(rng.randint(0, 2)):
            viewers.append((self.worker(case["lead_department_id"]), self.between(case["created_at"], end)))
        if w.auditors and rng.random() < 0.02:
            viewers.append((w.auditors[rng.randrange(len(w.auditors))], self.between(case["created_at"], self.now)))
        for staff, at in viewers:
            api = rng.random() < 0.2
            path = f"/api/v1/cases/{case_id}/" if api else f"/cases/{case_id}/"
            rows.access.rows.append(self._access(staff, at, "view", "case", case_id, case_id, "", path, api))

    def _access(self, staff: Staff, at, action, object_type, object_id, case_id, query, path, api=False) -> tuple:
        dept = self.w.dept_by_id.get(staff.department_id)
        return (
            staff.id, staff.username, staff.role, dept.code if dept else "", at, action, object_type, object_id,
            case_id, query, path, "api" if api else "ui", f"192.0.2.{1 + staff.id % 250}",
        )  # fmt: skip


ACTIVITY_KINDS = [k.value for k in ActivityKind]
CLOSURE_REASONS = [c.value for c in ClosureReason]


def case_target_is_new(created: datetime, now: datetime) -> bool:
    return (now - created) < timedelta(days=3)


def office_time(rng: random.Random, moment: datetime, closed: frozenset[date]) -> datetime:
    """Most intakes happen at the counter in office hours; phone and visits now and then outside."""
    local = timezone.localtime(moment, calendar.office_tz())
    if rng.random() < 0.12:
        return local
    day = local.date()
    while not calendar.is_office_day(day, closed):
        day -= DAY
    minutes = 8 * 60 + 30 + int(rng.random() * (8 * 60 + 45))
    return datetime(day.year, day.month, day.day, minutes // 60, minutes % 60, rng.randrange(60),
                    tzinfo=calendar.office_tz())  # fmt: skip


def created_times(n: int, *, seed: int, now: datetime, years: float, closed: frozenset[date]) -> list[datetime]:
    """The intake times of `n` cases spread over the last `years`, sorted (numbers follow them)."""
    rng = random.Random(seed * 7919 + 1)
    start = now - timedelta(days=365.25 * years)
    step = (now - start) / max(n, 1)
    times = [office_time(rng, start + step * (i + rng.random()), closed) for i in range(n)]
    times = [min(t, now - MINUTE) for t in times]
    times.sort()
    return times


def numbers_for(times: list[datetime], last: dict[int, int]) -> tuple[list[tuple[int, int]], dict[int, int]]:
    """(fiscal year, number) of each case in time order, after the last numbers already taken."""
    last = dict(last)
    out = []
    for t in times:
        fy = fiscal_year_of(t)
        last[fy] = last.get(fy, 0) + 1
        out.append((fy, last[fy]))
    return out, last
