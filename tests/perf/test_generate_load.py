"""The load generator makes data the app itself would have made: every state, channel, risk and
window; consistent fields; history rows; the grants the grants module would write; clocks the
timers services would keep; and nothing left for the sweep unless asked for."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db.models import Count, Max

pytestmark = pytest.mark.slow


def test_every_state_channel_risk_and_window_appears(load):
    from referral_engine.accounts.models import Department
    from referral_engine.cases.choices import CaseState, Channel, ReferralState, Risk
    from referral_engine.cases.models import Case, Referral

    load(30)

    assert set(Case.objects.values_list("state", flat=True)) == set(CaseState.values)
    assert set(Case.objects.values_list("channel", flat=True)) == set(Channel.values)
    assert set(Case.objects.values_list("risk", flat=True)) == set(Risk.values)
    assert set(Case.objects.values_list("intake_department__code", flat=True)) == set(
        Department.objects.values_list("code", flat=True)
    )
    assert set(Referral.objects.values_list("state", flat=True)) == set(ReferralState.values)


def test_fields_are_consistent_with_the_state(load):
    from referral_engine.cases.models import Case, CaseNumberSequence, Referral
    from referral_engine.workflow import registry as workflow_registry

    load(120)

    for case in Case.objects.all():
        if case.state == "closed":
            assert case.closure_reason and case.closed_at, case.number
            assert not case.referrals.filter(state__in=["requested", "accepted"]).exists(), case.number
        else:
            assert not case.closure_reason and case.closed_at is None, case.number
        if case.state == "on_hold":
            assert case.hold_started_at and case.held_from_state, case.number
        if case.state not in ("closed", "on_hold"):
            assert case.stall_due_at is not None, case.number
        assert case.last_touched_at >= case.created_at
    for referral in Referral.objects.select_related("to_department"):
        workflow = workflow_registry.get(referral.to_department.code)
        assert referral.from_department_id != referral.to_department_id
        if referral.state == "requested":
            assert referral.stage == "" and referral.due_at is not None
        if referral.state == "accepted":
            assert referral.stage in workflow.stage_codes
        if referral.state == "completed":
            assert workflow.is_final(referral.stage)
        if referral.state in ("declined", "returned"):
            assert referral.response_reason
        if referral.basis == "consent":
            assert referral.consent is not None and referral.to_department.code in referral.consent.recipients
        if referral.basis == "internal_use":
            assert not referral.to_department.is_external and not referral.from_department.is_external
    numbers = Case.objects.values("fiscal_year").annotate(n=Count("id"))
    sequences = dict(CaseNumberSequence.objects.values_list("fiscal_year", "last"))
    for row in numbers:
        assert sequences[row["fiscal_year"]] == row["n"]
    assert Case.objects.values("number").distinct().count() == Case.objects.count()


def test_every_row_has_its_history_with_user_and_reason(load):
    from referral_engine.cases.models import Activity, Case, Referral

    load(40)

    for model in (Case, Referral, Activity):
        history = model.history.model
        created = dict(history.objects.filter(history_type="+").values_list("id", "history_user_id"))
        assert set(created) == set(model.objects.values_list("id", flat=True))
        assert all(created.values()), f"{model.__name__}: a history row without a user"
        assert not history.objects.filter(history_change_reason="").exists()
    case = Case.objects.filter(state="closed").first()
    last = case.history.order_by("-history_date", "-history_id").first()
    assert last.state == "closed" and last.closed_at == case.closed_at


def test_an_intake_with_a_referral_leaves_the_rows_the_intake_service_leaves(load):
    """`case_open` with a referral saves the case once and starts the referral's handoff clock at the
    intake's moment (no second case history row, no clock moved): the generator's intakes with a
    referral do the same."""
    from referral_engine.accounts.models import User
    from referral_engine.cases.models import Case
    from referral_engine.cases.services.intake import case_open
    from referral_engine.timers.models import Timer
    from referral_engine.timers.policies import Target

    load(60)
    opened = case_open(
        actor=User.objects.get(username="worker_welfare"),
        channel="phone",
        summary="ひとり暮らしで話し相手がいない",
        person={"family_name": "津久見", "given_name": "花子", "family_name_kana": "ツクミ",
                "given_name_kana": "ハナコ", "birth_date": "1944-05-03", "district": "kawakami"},
        confirm_new_person=True,
        referrals=[{"to_department": "health_promotion", "basis": "internal_use", "reason": "訪問をお願いします。"}],
    )  # fmt: skip
    handoff_started = dict(Timer.objects.filter(target=Target.REFERRAL).values_list("referral_id", "started_at"))
    service_rows = list(opened.history.values_list("history_type", "history_change_reason"))
    assert handoff_started[opened.referrals.get().pk] == opened.history.earliest("history_date").last_touched_at

    with_referral_at_intake = 0
    for case in Case.objects.exclude(pk=opened.pk).prefetch_related("referrals"):
        opening = case.history.earliest("history_date")
        if not any(handoff_started.get(r.pk) == opening.last_touched_at for r in case.referrals.all()):
            continue
        with_referral_at_intake += 1
        rows = case.history.filter(history_date=opening.history_date)
        assert list(rows.values_list("history_type", "history_change_reason")) == service_rows, case.number
    assert with_referral_at_intake > 0


def test_grants_are_what_the_grants_module_would_write(load):
    """Reconciling with the grants module itself changes nothing."""
    from referral_engine.access import grants
    from referral_engine.access.models import CaseGroupObjectPermission, ReferralGroupObjectPermission
    from referral_engine.cases.models import Case

    load(60)

    def snapshot(case):
        rows = set(
            CaseGroupObjectPermission.objects.filter(content_object=case).values_list("group_id", "permission_id")
        )
        rows |= {
            ("r", *r)
            for r in ReferralGroupObjectPermission.objects.filter(content_object__case=case).values_list(
                "content_object_id", "group_id", "permission_id"
            )
        }
        return rows

    for case in Case.objects.filter(referrals__isnull=False).distinct()[:25]:
        before = snapshot(case)
        grants.case_grants_sync(case=case)
        assert snapshot(case) == before, case.number


def test_clocks_are_what_the_timers_services_keep(load, now):
    """The services would not move any clock, and the sweep at `now` finds nothing to fire."""
    from referral_engine.cases.models import Case, Referral
    from referral_engine.timers.models import Timer
    from referral_engine.timers.services import timers_case_changed, timers_referral_changed
    from referral_engine.timers.sweep import timers_sweep_due

    load(80)

    for case in Case.objects.exclude(state__in=["closed", "on_hold"]):
        assert timers_case_changed(case=case, now=now) == [], case.number
    for referral in Referral.objects.filter(state="requested").select_related("case", "to_department"):
        assert timers_referral_changed(referral=referral, now=now) == [], referral.pk
    open_before = Timer.objects.filter(is_open=True).count()
    result = timers_sweep_due(now=now)
    assert result.fired == 0 and result.claimed == 0
    assert Timer.objects.filter(is_open=True).count() == open_before


def test_due_leaves_that_many_first_levels_for_the_sweep(load, now):
    from referral_engine.timers.sweep import timers_sweep_due

    load(30)
    load(25, seed=9, due=25)

    result = timers_sweep_due(now=now)
    assert result.fired == 25
    assert dict(result.by_level) == {1: 25}


def test_appending_keeps_ids_numbers_and_sequences_going(load):
    from referral_engine.cases.models import Case, CaseNumberSequence
    from referral_engine.cases.numbering import case_number_format

    load(20)
    first = Case.objects.aggregate(m=Max("id"))["m"]
    load(20, seed=8)

    assert Case.objects.count() == 40
    assert Case.objects.filter(id__gt=first).count() == 20
    for fiscal_year, last in CaseNumberSequence.objects.values_list("fiscal_year", "last"):
        assert Case.objects.filter(number=case_number_format(fiscal_year, last)).exists()
        assert not Case.objects.filter(number=case_number_format(fiscal_year, last + 1)).exists()


def test_the_command_prints_a_summary(db, capsys):
    call_command("generate_load", "--cases", "5", "--seed", "3", "--batch", "2", "--years", "1")
    out = capsys.readouterr()
    assert "generate_load: 5 cases" in out.out
    assert "cases/s" in out.err  # the progress bar
