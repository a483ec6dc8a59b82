"""History rows and timeline events written by each user-facing action; none for a save that changed
nothing; the sticky history attributes never survive a save."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def _domain(delta: dict[str, int]) -> dict[str, int]:
    """The deltas of the case domain and the timeline. Timer rows belong to the timers' design and
    are covered by `test_no_history_row_repeats_its_predecessor` instead."""
    return {k: v for k, v in delta.items() if not k.startswith("timers.Timer")}


# --- Each action: exact history rows and events ------------------------------------------------


def test_case_open_writes_person_case_and_one_event(open_case, delta):
    with delta() as d:
        open_case()
    assert _domain(d.value) == {"cases.Person": 1, "cases.Case": 1, "events": 1}


def test_case_open_with_referral_note_and_consent(open_case, delta):
    with delta() as d:
        open_case(
            referrals=[{"to_department": "health_promotion", "basis": "internal_use", "reason": "訪問を"}],
            first_note="初回の記録",
            consent={"recipients": ["shakyo"], "purposes": "支援のため", "method": "written"},
        )
    # case: opened (the intake's referral is made at the moment the case was opened, so touching the
    # case changes nothing and writes no second row); events: opened, consent, activity, request,
    # disclosure.
    assert _domain(d.value) == {
        "cases.Person": 1,
        "cases.Case": 1,
        "cases.Consent": 1,
        "cases.Activity": 1,
        "cases.Referral": 1,
        "events": 5,
    }


def test_referral_create_writes_referral_case_touch_request_and_disclosure(open_case, delta, users, fresh):
    from referral_engine.cases.services.referrals import referral_create

    case = open_case()
    with delta() as d:
        referral_create(
            case_id=case.pk,
            actor=fresh(users["worker_welfare"]),
            to_department="health_promotion",
            basis="internal_use",
            reason="訪問をお願いします",
        )
    assert _domain(d.value) == {"cases.Referral": 1, "cases.Case": 1, "events": 2}


@pytest.mark.parametrize("name", ["accept", "decline"])
def test_referral_accept_or_decline_writes_referral_case_and_one_event(name, open_case, delta, users, fresh):
    from referral_engine.cases.services.referrals import referral_create, referral_transition

    case = open_case()
    referral = referral_create(
        case_id=case.pk,
        actor=fresh(users["worker_welfare"]),
        to_department="health_promotion",
        basis="internal_use",
        reason="訪問を",
    )
    with delta() as d:
        referral_transition(referral_id=referral.pk, name=name, actor=fresh(users["worker_health"]), reason="理由")
    assert _domain(d.value) == {"cases.Referral": 1, "cases.Case": 1, "events": 1}
    referral.refresh_from_db()
    last = referral.history.first()
    assert last.history_user_id == users["worker_health"].pk
    assert last.history_change_reason == f"{name}: 理由"


def test_activity_add_writes_activity_case_touch_and_one_event(open_case, delta, users, fresh):
    from referral_engine.cases.services.records import activity_add

    case = open_case()
    with delta() as d:
        activity_add(case_id=case.pk, actor=fresh(users["worker_welfare"]), kind="call", body="電話で様子を確認")
    assert _domain(d.value) == {"cases.Activity": 1, "cases.Case": 1, "events": 1}


def test_case_transition_writes_one_case_row_and_one_event(open_case, delta, users, fresh):
    from referral_engine.cases.services.case_state import case_transition

    case = open_case()
    with delta() as d:
        case_transition(case_id=case.pk, name="start_assessment", actor=fresh(users["worker_welfare"]), reason="面談")
    assert _domain(d.value) == {"cases.Case": 1, "events": 1}
    row = case.history.first()
    assert (row.state, row.history_user_id, row.history_change_reason) == (
        "assessing",
        users["worker_welfare"].pk,
        "start_assessment: 面談",
    )


def test_no_history_row_repeats_its_predecessor(open_case, users, fresh):
    """Over a whole journey, no history row of any model equals the one before it (no-op saves)."""
    from referral_engine.audit.append_only import history_models
    from referral_engine.cases.services.case_state import case_transition
    from referral_engine.cases.services.records import activity_add
    from referral_engine.cases.services.referrals import referral_create, referral_transition

    case = open_case(referrals=[{"to_department": "health_promotion", "basis": "internal_use", "reason": "訪問"}])
    referral = case.referrals.get()
    referral_transition(referral_id=referral.pk, name="accept", actor=fresh(users["worker_health"]))
    activity_add(case_id=case.pk, actor=fresh(users["worker_welfare"]), kind="visit", body="訪問")
    case_transition(case_id=case.pk, name="start_assessment", actor=fresh(users["worker_welfare"]))
    second = referral_create(
        case_id=case.pk,
        actor=fresh(users["worker_welfare"]),
        to_department="longevity_support",
        basis="internal_use",
        reason="介護",
    )
    referral_transition(referral_id=second.pk, name="decline", actor=fresh(users["worker_longevity"]), reason="対象外")

    for history_model in history_models():
        fields = [f.attname for f in history_model.tracked_fields]
        previous: dict = {}
        for row in history_model.objects.order_by("id", "history_date", "history_id").values(
            "id", "history_type", *fields
        ):
            values = {f: row[f] for f in fields}
            if row["history_type"] == "~" and previous.get(row["id"]) == values:
                pytest.fail(f"{history_model.__name__} #{row['id']}: a history row that changed nothing")
            previous[row["id"]] = values


# --- No-op saves --------------------------------------------------------------------------------


def test_full_save_that_changed_nothing_writes_no_history(open_case, users):
    from referral_engine.audit.history import save_with_history

    case = open_case()
    before = case.history.count()
    assert save_with_history(case, actor=users["worker_welfare"], reason="nothing") is True
    case.save()
    case.refresh_from_db()
    case.save()
    assert case.history.count() == before


def test_a_changed_save_writes_one_row_and_the_next_noop_none(open_case, users):
    from referral_engine.audit.history import save_with_history

    case = open_case()
    before = case.history.count()
    case.summary = "状況が変わった"
    save_with_history(case, actor=users["worker_welfare"], reason="summary")
    save_with_history(case, actor=users["worker_welfare"], reason="again")
    assert case.history.count() == before + 1
    assert case.history.first().history_change_reason == "summary"


def test_empty_update_fields_saves_nothing(open_case, users):
    from referral_engine.audit.history import save_with_history

    case = open_case()
    before = case.history.count()
    case.summary = "not saved"
    assert save_with_history(case, actor=users["worker_welfare"], reason="x", update_fields=[]) is False
    case.refresh_from_db()
    assert case.summary != "not saved"
    assert case.history.count() == before


def test_only_excluded_fields_changed_writes_no_history(open_case):
    """updated_at is excluded from history: touching it alone is not a change worth a row."""
    case = open_case()
    before = case.history.count()
    case.save(update_fields=["updated_at"])
    assert case.history.count() == before


def test_noop_save_of_a_master_data_model(org, users):
    from referral_engine.audit.history import save_with_history

    department = org["health_promotion"]
    before = department.history.count()
    save_with_history(department, actor=users["admin"], reason="noop")
    department.email = "kenko@city.tsukumi.example"
    save_with_history(department, actor=users["admin"], reason="email")
    assert department.history.count() == before + 1


def test_history_attributes_do_not_stick(open_case, users):
    from referral_engine.audit.history import save_with_history

    case = open_case()
    case.summary = "一度目"
    save_with_history(case, actor=users["worker_welfare"], reason="first")
    assert not hasattr(case, "_history_user") and not hasattr(case, "_change_reason")
    assert "skip_history_when_saving" not in case.__dict__
    case.summary = "二度目"
    case.save()
    row = case.history.first()
    assert row.history_change_reason is None
    assert row.history_user_id is None  # no request, no actor: not the previous save's user


def test_a_failed_save_does_not_leave_history_switched_off(open_case):
    """The skip flag is ours for one save: if that save fails after pre_save, the next real change is
    still recorded."""
    from referral_engine.audit.history import history_skip_unchanged

    case = open_case()
    before = case.history.count()
    history_skip_unchanged(type(case), case)  # the pre_save of a no-op save that then failed
    assert case.__dict__.get("skip_history_when_saving") is True
    case.summary = "本当の変更"
    case.save()
    assert case.history.count() == before + 1
    assert "skip_history_when_saving" not in case.__dict__


def test_a_skip_flag_set_by_someone_else_is_respected(open_case):
    case = open_case()
    before = case.history.count()
    case.skip_history_when_saving = True
    case.summary = "履歴なしで保存"
    case.save()
    assert case.history.count() == before
    assert case.skip_history_when_saving is True
