"""Issue 15, items 2 and 4: escalations are recorded by one path (`timers.firing.escalations_fire`),
taken by the sweep and by the immediate rule alike, with one recipients function; the timers keep no
hidden state (no post_save receiver, nothing stashed on an instance); no URL is written by a service.

The runaround's `gap_flagged` event is asserted here through the one firing path, for both ways in:
the sweep (a handoff's L3) and the immediate rule (the second decline)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.db.models.signals import post_save

import referral_engine
from referral_engine.cases.models import Case, CaseEvent, Referral
from referral_engine.notifications.models import Notification
from referral_engine.timers import firing
from referral_engine.timers.models import Escalation, Timer
from referral_engine.timers.sweep import timers_sweep_due

TO_HEALTH = {"to_department": "health_promotion", "basis": "internal_use", "reason": "家庭訪問の依頼"}
TO_LONGEVITY = {"to_department": "longevity_support", "basis": "internal_use", "reason": "介護の確認"}


def _decline(world, referral: Referral, username: str) -> None:
    from referral_engine.cases.services.referrals import referral_transition

    referral_transition(
        referral_id=referral.pk, name="decline", actor=world["fresh"](world["users"][username]), reason="対象外"
    )


def _fire_by_sweep(world) -> tuple[Case, str]:
    case = world["open_case"](referrals=[TO_HEALTH])
    timer = Timer.objects.get(object_key=f"referral:{case.referrals.get().pk}", rule__startswith="handoff")
    assert timers_sweep_due(now=timer.l3_at).by_level == {3: 1}
    return case, timer.rule


def _fire_at_once(world) -> tuple[Case, str]:
    case = world["open_case"](referrals=[TO_HEALTH, TO_LONGEVITY])
    _decline(world, case.referrals.get(to_department__code="health_promotion"), "worker_health")
    _decline(world, case.referrals.get(to_department__code="longevity_support"), "worker_longevity")
    return case, "runaround"


@pytest.fixture
def through_the_path(monkeypatch):
    """Records each batch that reaches the one path's writer (`firing._escalations_create`, looked up
    by `escalations_fire` when it runs): a second writer elsewhere would leave this list empty."""
    batches: list[list[tuple[str, int]]] = []
    create = firing._escalations_create

    def spy(firings, **kwargs):
        batches.append([(f.rule, f.level) for f in firings])
        return create(firings, **kwargs)

    monkeypatch.setattr(firing, "_escalations_create", spy)
    return batches


@pytest.mark.parametrize("fire", [_fire_by_sweep, _fire_at_once], ids=["sweep", "immediate"])
def test_an_l3_flags_the_gap_through_the_one_firing_path(timers_world, through_the_path, fire):
    case, rule = fire(timers_world)

    assert [batch for batch in through_the_path if batch] == [[(rule, 3)]]
    case.refresh_from_db()
    escalation = Escalation.objects.get(case=case, level=3)
    assert case.is_gap and escalation.rule == rule
    # The evidence, the same whichever way the level fired.
    created = escalation.history.get()
    assert (created.history_type, created.history_change_reason, created.history_user.username) == (
        "+",
        f"L3 {rule}",
        "system",
    )
    flagged = case.history.filter(history_change_reason=f"はざま: L3 {rule}").get()
    assert flagged.is_gap and flagged.history_user.username == "system"
    fired, gap = CaseEvent.objects.filter(case=case, kind__in=["escalation", "gap_flagged"]).order_by("id")
    assert (fired.kind, fired.name, fired.actor.username, fired.data["escalation_id"]) == (
        "escalation",
        "L3",
        "system",
        escalation.pk,
    )
    assert (gap.kind, gap.name, gap.actor.username, gap.data) == (
        "gap_flagged",
        "gap",
        "system",
        {"escalation_id": escalation.pk, "rule": rule},
    )
    assert gap.reason == fired.reason.split("（期限")[0]  # the rule's name
    told = Notification.objects.filter(escalation_id=escalation.pk)
    assert set(told.values_list("recipient__username", "kind", "case_id")) == {
        ("chief_welfare", "escalation_l3", case.pk)  # L3 and the runaround: the desk supervisors
    }


def test_a_level_fires_once_whichever_path_asks_again(timers_world):
    """The immediate rule's single firing meets the sweep's "at most once": asking the one path again
    for a recorded (object, rule, cycle, level) records nothing more."""
    from django.utils import timezone

    from referral_engine.accounts.system import system_user

    case, _rule = _fire_at_once(timers_world)
    runaround = Escalation.objects.get(case=case, rule="runaround")
    again = firing.Firing(
        case=case,
        referral=None,
        object_key=runaround.object_key,
        rule="runaround",
        rule_name="たらい回し",
        target="case",
        cycle=1,
        level=3,
        department_id=runaround.department_id,
        due_at=runaround.due_at,
    )
    events_before = CaseEvent.objects.filter(case=case).count()

    assert firing.escalations_fire([again], now=timezone.now(), system=system_user()) == []
    assert Escalation.objects.filter(case=case).count() == 1
    assert CaseEvent.objects.filter(case=case).count() == events_before


def test_an_immediate_rule_may_name_its_own_recipients(timers_world):
    from django.utils import timezone

    from referral_engine.accounts.system import system_user
    from referral_engine.timers.services import escalation_fire

    users = timers_world["users"]
    case = timers_world["open_case"]()
    now = timezone.now()
    escalation = escalation_fire(
        case=case,
        referral=None,
        object_key=f"case:{case.pk}",
        rule="watch_urgent",
        rule_name="見守りの緊急報告",
        target="case",
        cycle=1,
        level=2,
        department_id=case.lead_department_id,
        due_at=now,
        now=now,
        system=system_user(),
        recipients=[users["chief_bosai"]],
    )

    assert escalation is not None and escalation.level == 2
    assert set(
        Notification.objects.filter(escalation_id=escalation.pk).values_list("recipient__username", flat=True)
    ) == {"chief_bosai"}
    assert not Case.objects.get(pk=case.pk).is_gap  # only an L3 makes はざま


# --- No hidden state -------------------------------------------------------------------------------


def test_no_timers_receiver_listens_to_case_or_referral_saves():
    for model in (Case, Referral):
        sync, async_ = post_save._live_receivers(model)
        modules = {getattr(r, "__module__", "") for r in [*sync, *async_]}
        assert not {m for m in modules if m.startswith("referral_engine.timers")}, (model, modules)


def test_a_new_case_gets_its_clock_only_when_the_service_asks(timers_world):
    """The clocks of a new row are written by the explicit call after the INSERT, and by nothing
    else: a save without `timers_start_new` leaves no clock behind."""
    from referral_engine.audit.history import save_with_history
    from referral_engine.timers.services import timers_case_changed, timers_plan_new, timers_start_new

    template = timers_world["open_case"]()
    case = Case.objects.get(pk=template.pk)
    case.pk = case.id = None
    case.number = case.number + "X"

    with pytest.raises(ValueError, match="not saved yet"):
        timers_case_changed(case=case)
    clocks = timers_plan_new(case)
    assert case.stall_due_at is not None  # goes in with the INSERT
    assert "_timers_pending_sync" not in case.__dict__
    save_with_history(case, actor=None, reason="test")
    assert not Timer.objects.filter(case=case).exists()

    timers_start_new(case, clocks)

    timer = Timer.objects.get(case=case)
    assert (timer.is_open, timer.due_at, timer.object_key) == (True, case.stall_due_at, f"case:{case.pk}")


# --- URLs at the edge ------------------------------------------------------------------------------

ENGINE = Path(referral_engine.__file__).resolve().parent


def test_no_service_or_timer_writes_a_url():
    """Services, timers and the outbox keep what a notification is about; its link is built when it
    is shown or mailed (`Notification.get_absolute_url`)."""
    found = []
    for folder in ("cases", "timers", "notifications", "access", "accounts", "audit"):
        for path in (ENGINE / folder).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.keyword) and node.arg == "url":
                    found.append(f"{path.relative_to(ENGINE)}:{node.value.lineno}")
    assert found == []


def test_every_notification_links_to_what_it_is_about(timers_world):
    case = timers_world["open_case"](referrals=[TO_HEALTH])
    about_the_case = Notification.objects.filter(case_id=case.pk)
    assert about_the_case.exists()
    assert {n.get_absolute_url() for n in about_the_case} == {f"/cases/{case.pk}/"}
    assert Notification(kind="assignments_released").get_absolute_url() == "/cases/"
    assert Notification(kind="something_new").get_absolute_url() == "/notifications/"
