"""Every public service checks its policy rule first, and none can be told to skip it (issue 15).

The use-case modules of `referral_engine.cases.services` declare, on each public function, the rules
it checks (`@checks(...)`) or why it needs none (`@unchecked(...)`). Here each declaration is held
to the code: the rule is called in the function's body, an actor the rule refuses gets a 403 or a
404 and nothing is written, and with that one rule forced to allow the refusal is gone (so it was
that rule that refused). No public function takes a private keyword or a `system` switch, and no
module outside the package reaches the unchecked writers.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from referral_engine.access import policy
from referral_engine.cases import services
from referral_engine.errors import DomainError, Forbidden, NotFound

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "referral_engine.cases.services"
USE_CASES = {
    "intake",
    "persons",
    "referrals",
    "case_state",
    "records",
    "slips",
    "reassessment",
    "merge",
    "households",
    "followups",
    "watch",
    "evacuation_plans",
    "person_choice",
}
BUILDING_BLOCKS = {"guards", "departments", "changes"}  # called by the services only, after their checks


def _modules() -> dict[str, object]:
    return {m.name: importlib.import_module(f"{PACKAGE}.{m.name}") for m in pkgutil.iter_modules(services.__path__)}


def _public_functions(module) -> dict[str, Callable]:
    return {
        name: fn
        for name, fn in vars(module).items()
        if inspect.isfunction(fn) and fn.__module__ == module.__name__ and not name.startswith("_")
    }


def _checked() -> dict[str, Callable]:
    found = {}
    for name, module in _modules().items():
        for fn_name, fn in _public_functions(module).items():
            if hasattr(fn, "policy_rules"):
                found[f"{name}.{fn_name}"] = fn
    return found


def _names_used(fn: Callable) -> set[str]:
    """The names the function's body uses (not its decorators, which name the rules it declares)."""
    (definition,) = ast.parse(textwrap.dedent(inspect.getsource(inspect.unwrap(fn)))).body
    names = set()
    for node in (n for statement in definition.body for n in ast.walk(statement)):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
    return names


# --- The declarations --------------------------------------------------------------------------


def test_every_module_of_the_package_is_a_use_case_or_a_building_block():
    assert set(_modules()) == USE_CASES | BUILDING_BLOCKS


def test_every_public_function_of_a_use_case_declares_its_check():
    undeclared = [
        f"{name}.{fn_name}"
        for name, module in _modules().items()
        if name in USE_CASES
        for fn_name, fn in _public_functions(module).items()
        if not getattr(fn, "policy_rules", None) and not getattr(fn, "unchecked_because", "")
    ]
    assert undeclared == []


def test_no_public_function_takes_a_private_keyword_or_a_system_switch():
    offending = [
        f"{name}.{fn_name}({param})"
        for name, module in _modules().items()
        for fn_name, fn in _public_functions(module).items()
        for param in inspect.signature(fn).parameters
        if param.startswith("_") or param == "system"
    ]
    assert offending == []


def test_each_declared_rule_is_called_by_the_function_or_its_access_helper():
    missing = []
    for qualified, fn in _checked().items():
        used = _names_used(fn)
        helpers = {
            name: obj
            for name, obj in vars(inspect.getmodule(inspect.unwrap(fn))).items()
            if name.startswith("access_") and name in used and inspect.isfunction(obj)
        }
        for rule in fn.policy_rules:
            if rule.__name__ not in used and not any(rule.__name__ in _names_used(h) for h in helpers.values()):
                missing.append(f"{qualified}: {rule.__name__}")
    assert missing == []


def test_nothing_outside_the_package_imports_its_writers_or_building_blocks():
    """The unchecked writers (`_*`) and the building blocks are the package's own: a caller from
    outside goes through a public function, which checks first."""
    offending = []
    for folder in ("referral_engine", "workflows", "bench", "tests"):
        for path in (ROOT / folder).rglob("*.py"):
            if "cases/services" in path.as_posix() or "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(PACKAGE):
                    module = node.module.removeprefix(PACKAGE).lstrip(".")
                    names = [a.name for a in node.names]
                    if module in BUILDING_BLOCKS or (module == "" and set(names) & BUILDING_BLOCKS):
                        offending.append(f"{path.relative_to(ROOT)}: {node.module}")
                    offending += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.startswith("_")]
                elif isinstance(node, ast.Import):
                    offending += [
                        f"{path.relative_to(ROOT)}: {a.name}" for a in node.names if a.name.startswith(PACKAGE + ".")
                    ]
    assert offending == []


def test_no_engine_module_is_over_800_lines():
    # The load generator leaves the production package (issue 15, item 6); migrations are generated.
    long = [
        f"{path.relative_to(ROOT)}: {n}"
        for path in (ROOT / "referral_engine").rglob("*.py")
        if "migrations" not in path.parts and "loadgen" not in path.parts
        and (n := len(path.read_text(encoding="utf-8").splitlines())) > 800
    ]  # fmt: skip
    assert long == []


# --- The rules, enforced ------------------------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    """`call(world, actor)` as `user`, who `rule` refuses: `error` is raised and nothing is written."""

    rule: Callable
    user: str
    error: type[DomainError]
    call: Callable


def _refusals() -> dict[str, list[Refusal]]:
    from referral_engine.accounts.models import Department
    from referral_engine.cases.services.case_state import assignments_release, case_lead_change, case_transition
    from referral_engine.cases.services.followups import followup_create, followup_done
    from referral_engine.cases.services.households import household_create, household_update
    from referral_engine.cases.services.intake import case_open
    from referral_engine.cases.services.merge import person_merge
    from referral_engine.cases.services.persons import person_update
    from referral_engine.cases.services.reassessment import case_reassess
    from referral_engine.cases.services.records import (
        activity_add,
        consent_record,
        consent_withdraw,
        records_dates_repair,
        stage_record_update,
    )
    from referral_engine.cases.services.referrals import referral_assign, referral_create, referral_transition
    from referral_engine.cases.services.slips import slip_confirm_new, slip_link, slip_submit
    from referral_engine.cases.services.watch import (
        watch_reminders_send,
        watch_report_add,
        watch_request_close,
        watch_request_create,
    )
    from tests.fixtures import NEW_PERSON

    def open_new(w, actor):
        person = {**NEW_PERSON, "given_name": "規則", "given_name_kana": "キソク"}
        return case_open(actor=actor, summary="相談", person=person, confirm_new_person=True)

    def refer(w, actor):
        return referral_create(
            case_id=w["case"].pk, actor=actor, to_department="longevity_support", basis="internal_use", reason="介護"
        )

    def accept(w, actor):
        return referral_transition(referral_id=w["requested"].pk, name="accept", actor=actor)

    def assign(w, actor):
        return referral_assign(referral_id=w["requested"].pk, actor=actor, worker_id=None)

    def start(w, actor):
        return case_transition(case_id=w["case"].pk, name="start_assessment", actor=actor)

    def lead(w, actor):
        return case_lead_change(case_id=w["case"].pk, actor=actor, lead_department="health_promotion")

    def note(w, actor):
        return activity_add(case_id=w["case"].pk, actor=actor, kind="note", body="電話で様子を聞いた")

    def consent(w, actor):
        return consent_record(
            case_id=w["case"].pk, actor=actor, recipients=["shakyo"], purposes="支援のため", method="oral"
        )

    def withdraw(w, actor):
        return consent_withdraw(consent_id=w["consent"].pk, actor=actor)

    def record(w, actor):
        return stage_record_update(referral_id=w["accepted"].pk, actor=actor, data={"visited_by": "保健師"})

    def release(w, actor):
        department = Department.objects.get(code="social_welfare")
        return assignments_release(user=w["worker"], department=department, actor=actor, reason="異動")

    def repair(w, actor):
        return records_dates_repair(actor=actor, apply=True)

    def plan(w, actor):
        from django.utils import timezone

        return followup_create(case_id=w["case"].pk, actor=actor, due_on=timezone.localdate(), note="電話する")

    def done(w, actor):
        return followup_done(followup_id=w["followup"].pk, actor=actor, note="電話した")

    def slip(w, actor):
        return slip_submit(actor=actor, concern="新聞がたまっている")

    def edit_person(w, actor):
        return person_update(
            person_id=w["case"].person_id, actor=actor, changes={"address": "津久見市青江1-1"}, reason="転居"
        )

    def reassess(w, actor):
        return case_reassess(case_id=w["case"].pk, actor=actor, risk="urgent", reason="急変")

    def merge(w, actor):
        into = w["accepted"].case.person_id
        return person_merge(person_id=w["case"].person_id, into_id=into, actor=actor, reason="同一人物")

    def link(w, actor):
        return slip_link(slip_id=w["slip"].pk, actor=actor, person_id=w["case"].person_id)

    def confirm_new(w, actor):
        return slip_confirm_new(slip_id=w["slip"].pk, actor=actor)

    def household_new(w, actor):
        members = [{"person_id": w["accepted"].case.person_id, "relation": "self"}]
        return household_create(actor=actor, members=members, reason="同居の確認")

    def household_edit(w, actor):
        members = [{"person_id": w["case"].person_id, "relation": "self", "without_work": True}]
        return household_update(household_id=w["household"].pk, actor=actor, members=members, reason="就労状況")

    def ask_watch(w, actor):
        return watch_request_create(
            case_id=w["case"].pk,
            actor=actor,
            district="kawakami",
            what_to_watch="夜に明かりがつくか",
            basis="vital_interest",
            justification="連絡がとれない",
            until=timezone.localdate() + timedelta(days=30),
        )

    def report_watch(w, actor):
        return watch_report_add(watch_request_id=w["watch"].pk, actor=actor, outcome="met")

    def close_watch(w, actor):
        return watch_request_close(watch_request_id=w["watch"].pk, actor=actor)

    def remind(w, actor):
        return watch_reminders_send(actor=actor)

    def remind_plans(w, actor):
        from referral_engine.cases.services.evacuation_plans import evacuation_plan_reminders_send

        return evacuation_plan_reminders_send(actor=actor)

    return {
        "watch.watch_request_create": [
            Refusal(policy.can_view_case, "worker_longevity", NotFound, ask_watch),
            Refusal(policy.can_request_watch, "auditor", Forbidden, ask_watch),
        ],
        "watch.watch_report_add": [
            Refusal(policy.can_view_watch_request, "minsei_aoe", NotFound, report_watch),
            Refusal(policy.can_report_watch, "worker_welfare", Forbidden, report_watch),
        ],
        "watch.watch_request_close": [
            Refusal(policy.can_view_watch_request, "worker_longevity", NotFound, close_watch),
            Refusal(policy.can_close_watch, "auditor", Forbidden, close_watch),
        ],
        "watch.watch_reminders_send": [Refusal(policy.can_run_community_reminders, "chief_welfare", Forbidden, remind)],
        "evacuation_plans.evacuation_plan_reminders_send": [
            Refusal(policy.can_run_community_reminders, "chief_bosai", Forbidden, remind_plans)
        ],
        "intake.case_open": [Refusal(policy.can_open_case, "auditor", Forbidden, open_new)],
        "referrals.referral_create": [
            Refusal(policy.can_view_case, "worker_longevity", NotFound, refer),
            Refusal(policy.can_refer, "auditor", Forbidden, refer),
        ],
        "referrals.referral_transition": [
            Refusal(policy.can_view_referral, "worker_longevity", NotFound, accept),
            Refusal(_fsm_has_transition_perm(), "auditor", Forbidden, accept),
        ],
        "referrals.referral_assign": [
            Refusal(policy.can_view_referral, "worker_longevity", NotFound, assign),
            Refusal(policy.can_assign, "auditor", Forbidden, assign),
        ],
        "case_state.case_transition": [
            Refusal(policy.can_view_case, "worker_longevity", NotFound, start),
            Refusal(_fsm_has_transition_perm(), "auditor", Forbidden, start),
        ],
        "case_state.case_lead_change": [
            Refusal(policy.can_view_case, "worker_longevity", NotFound, lead),
            Refusal(policy.can_reassign, "worker_welfare", Forbidden, lead),
        ],
        "case_state.assignments_release": [
            Refusal(policy.can_release_assignments, "chief_welfare", Forbidden, release)
        ],
        "records.activity_add": [
            Refusal(policy.can_view_case, "worker_longevity", NotFound, note),
            Refusal(policy.can_add_activity, "auditor", Forbidden, note),
        ],
        "records.consent_record": [
            Refusal(policy.can_view_case, "worker_longevity", NotFound, consent),
            Refusal(policy.can_manage_consent, "auditor", Forbidden, consent),
        ],
        "records.consent_withdraw": [
            Refusal(policy.can_view_case, "worker_longevity", NotFound, withdraw),
            Refusal(policy.can_manage_consent, "auditor", Forbidden, withdraw),
        ],
        "records.stage_record_update": [
            Refusal(policy.can_view_referral, "worker_longevity", NotFound, record),
            Refusal(policy.can_edit_stage_record, "auditor", Forbidden, record),
        ],
        "records.records_dates_repair": [Refusal(policy.can_repair_records, "chief_welfare", Forbidden, repair)],
        "slips.slip_submit": [Refusal(policy.can_submit_slip, "desk_welfare", Forbidden, slip)],
        "persons.person_update": [
            Refusal(policy.can_see_person, "worker_longevity", NotFound, edit_person),
            Refusal(policy.can_edit_person, "auditor", Forbidden, edit_person),
        ],
        "merge.person_merge": [
            Refusal(policy.sees_a_case_of, "worker_shakyo", NotFound, merge),
            Refusal(policy.can_merge_persons, "worker_welfare", Forbidden, merge),
        ],
        "slips.slip_link": [Refusal(policy.can_triage_slips, "worker_health", Forbidden, link)],
        "slips.slip_confirm_new": [Refusal(policy.can_triage_slips, "worker_health", Forbidden, confirm_new)],
        "households.household_create": [
            Refusal(policy.can_manage_household, "worker_shakyo", Forbidden, household_new)
        ],
        "households.household_update": [
            Refusal(policy.can_view_household, "worker_shakyo", NotFound, household_edit),
            Refusal(policy.can_manage_household, "auditor", Forbidden, household_edit),
        ],
        "reassessment.case_reassess": [
            Refusal(policy.can_view_case, "worker_longevity", NotFound, reassess),
            Refusal(policy.can_reassess, "auditor", Forbidden, reassess),
        ],
        "followups.followup_create": [
            Refusal(policy.can_view_case, "worker_longevity", NotFound, plan),
            Refusal(policy.can_add_followup, "auditor", Forbidden, plan),
        ],
        "followups.followup_done": [
            Refusal(policy.can_view_case, "worker_longevity", NotFound, done),
            Refusal(policy.can_complete_followup, "auditor", Forbidden, done),
        ],
    }


def _fsm_has_transition_perm():
    from django_fsm import has_transition_perm

    return has_transition_perm


REFUSALS = _refusals()


@pytest.fixture
def world(open_case, users, fresh):
    """A case of the social_welfare window with a requested referral to health, a consent, and a
    second case whose referral health accepted (for the stage record)."""
    from referral_engine.cases.services.records import consent_record
    from referral_engine.cases.services.referrals import referral_transition

    to_health = [{"to_department": "health_promotion", "basis": "internal_use", "reason": "訪問依頼"}]
    case = open_case("worker_welfare", referrals=to_health)
    accepted = open_case("worker_welfare", referrals=to_health).referrals.get()
    referral_transition(referral_id=accepted.pk, name="accept", actor=fresh(users["worker_health"]))
    consent = consent_record(
        case_id=case.pk, actor=fresh(users["worker_welfare"]), recipients=["shakyo"], purposes="支援", method="oral"
    )
    from referral_engine.cases.services.households import household_create
    from referral_engine.cases.services.slips import slip_submit

    slip = slip_submit(actor=fresh(users["minsei_kawakami"]), concern="新聞がたまっている", name="津久見 花子")
    household = household_create(
        actor=fresh(users["worker_welfare"]),
        members=[{"person_id": case.person_id, "relation": "self"}],
        reason="同居の確認",
    )

    from django.utils import timezone

    from referral_engine.cases.services.followups import followup_create

    followup = followup_create(case_id=case.pk, actor=fresh(users["worker_welfare"]), due_on=timezone.localdate())

    from referral_engine.cases.services.watch import watch_request_create

    watch = watch_request_create(
        case_id=case.pk,
        actor=fresh(users["worker_welfare"]),
        district="kawakami",
        what_to_watch="新聞がたまっていないか",
        basis="support_meeting",
        justification="支援会議で合意",
        until=timezone.localdate() + timedelta(days=30),
    )
    return {
        "watch": watch,
        "case": case,
        "followup": followup,
        "requested": case.referrals.get(),
        "accepted": accepted,
        "consent": consent,
        "worker": users["worker_welfare"],
        "slip": slip,
        "household": household,
    }


def _footprint() -> tuple[int, ...]:
    """Rows a write would leave: records, timeline, history, grants, outbox."""
    from referral_engine.access.models import CaseGroupObjectPermission
    from referral_engine.cases.models import (
        Activity,
        Case,
        CaseEvent,
        CommunitySlip,
        Consent,
        Household,
        HouseholdMember,
        Person,
        Referral,
        StageRecord,
        WatchReport,
        WatchRequest,
    )
    from referral_engine.notifications.models import Notification
    from referral_engine.timers.models import Escalation

    models = (
        Person,
        Case,
        Referral,
        CaseEvent,
        Activity,
        Consent,
        StageRecord,
        CommunitySlip,
        Household,
        HouseholdMember,
        WatchRequest,
        WatchReport,
        Escalation,
    )
    return (
        *(m.objects.count() for m in models),
        *(m.history.count() for m in models if hasattr(m, "history")),
        CaseGroupObjectPermission.objects.count(),
        Notification.objects.count(),
    )


def test_every_checked_function_has_a_refusal_for_each_of_its_rules():
    declared = {name: list(fn.policy_rules) for name, fn in _checked().items()}
    scenarios = {name: [r.rule for r in refusals] for name, refusals in REFUSALS.items()}
    assert declared == scenarios


@pytest.mark.parametrize(
    "name,refusal",
    [(name, r) for name, refusals in REFUSALS.items() for r in refusals],
    ids=[f"{name}-{r.rule.__name__}" for name, refusals in REFUSALS.items() for r in refusals],
)
def test_the_rule_refuses_and_nothing_is_written(world, users, fresh, monkeypatch, name, refusal):
    before = _footprint()
    with pytest.raises(refusal.error) as refused:
        refusal.call(world, fresh(users[refusal.user]))
    assert _footprint() == before

    # The same call with only this rule forced to allow is not refused the same way: the refusal
    # above was this rule's.
    fn = _checked()[name]
    home = inspect.unwrap(fn).__globals__
    if home.get(refusal.rule.__name__) is refusal.rule:
        monkeypatch.setitem(home, refusal.rule.__name__, lambda *args, **kwargs: True)
    else:
        monkeypatch.setattr(policy, refusal.rule.__name__, lambda *args, **kwargs: True)
    try:
        refusal.call(world, fresh(users[refusal.user]))
    except DomainError as exc:
        assert (type(exc), str(exc.message)) != (type(refused.value), str(refused.value.message))
