"""The merged per-case timeline: events and field-level changes with Japanese labels, display values,
who, when and why, in order, in a bounded number of queries."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def journey(open_case, users, fresh):
    from referral_engine.cases.services.case_state import case_transition
    from referral_engine.cases.services.records import activity_add
    from referral_engine.cases.services.referrals import referral_transition

    case = open_case(referrals=[{"to_department": "health_promotion", "basis": "internal_use", "reason": "訪問を"}])
    referral = case.referrals.get()
    referral_transition(referral_id=referral.pk, name="accept", actor=fresh(users["worker_health"]))
    activity_add(
        case_id=case.pk, actor=fresh(users["worker_health"]), kind="visit", body="訪問しました", sensitive=True
    )
    case_transition(case_id=case.pk, name="start_assessment", actor=fresh(users["worker_welfare"]), reason="面談済み")
    return case


def test_case_transition_shows_old_and_new_state_with_japanese_label_user_and_reason(journey, users):
    from referral_engine.audit.history_read import case_history

    entries = case_history(case=journey, reader=users["auditor"])
    change = next(
        e
        for e in entries
        if e.kind == "changed" and e.object_type == "case" and any(c.field == "state" for c in e.changes)
    )
    state = next(c for c in change.changes if c.field == "state")
    assert (state.label, state.old, state.new) == ("状態", "受付", "アセスメント")
    assert change.username == "au_worker_welfare"
    assert change.user_display_name == "福祉 一郎"
    assert change.user_label == "福祉 一郎 (au_worker_welfare)"
    assert change.reason == "start_assessment: 面談済み"
    assert change.reason_label == "アセスメント開始: 面談済み"  # in words for the auditor (issue 16)

    event = next(e for e in entries if e.source == "event" and e.kind == "case_transition")
    assert event.summary == "アセスメント開始: 受付 → アセスメント"
    assert event.reason == "面談済み"
    assert event.username == "au_worker_welfare"


def test_referral_accept_shows_state_and_responder_as_display_values(journey, users):
    from referral_engine.audit.history_read import case_history

    entries = case_history(case=journey, reader=users["auditor"])
    accepted = next(
        e
        for e in entries
        if e.source == "history" and e.object_type == "referral" and any(c.new == "受理" for c in e.changes)
    )
    changes = {c.label: (c.old, c.new) for c in accepted.changes}
    assert changes["状態"] == ("依頼中", "受理")
    assert changes["回答者"][0] == ""
    assert changes["回答者"][1] == f"健康 次郎 (au_worker_health) (#{users['worker_health'].pk})"
    assert accepted.object_label.endswith("→ 健康推進課")
    assert accepted.username == "au_worker_health"


def test_created_objects_show_their_initial_values(journey, users):
    from referral_engine.audit.history_read import case_history

    entries = case_history(case=journey, reader=users["auditor"])
    person = next(e for e in entries if e.object_type == "person" and e.kind == "created")
    values = {c.label: c.new for c in person.changes}
    assert values["氏"] == "津久見"
    assert values["生年月日"] == "1944-05-03"
    assert values["地区"].startswith("川上地区")
    opened = next(e for e in entries if e.object_type == "case" and e.kind == "created")
    values = {c.label: c.new for c in opened.changes}
    assert values["相談分野"] == "孤独・孤立"
    assert values["経路"] == "窓口"
    activity = next(e for e in entries if e.object_type == "activity" and e.kind == "created")
    assert {c.label: c.new for c in activity.changes}["要配慮"] == "はい"


def test_entries_are_in_time_order_and_cover_every_kind_of_record(journey, users):
    from referral_engine.audit.history_read import case_history

    entries = case_history(case=journey, reader=users["auditor"])
    assert [e.at for e in entries] == sorted(e.at for e in entries)
    assert {e.object_type for e in entries if e.source == "history"} >= {"case", "person", "referral", "activity"}
    assert {e.kind for e in entries if e.source == "event"} >= {
        "case_opened",
        "referral_requested",
        "disclosure",
        "referral_transition",
        "activity",
        "case_transition",
    }


def test_a_no_op_row_from_before_is_not_shown(journey, users):
    """Rows recorded without a change (e.g. history written before no-op saves were skipped) are left
    out of the view: nothing changed."""
    from django.db.models.signals import pre_save

    from referral_engine.audit.history import history_skip_unchanged
    from referral_engine.audit.history_read import case_history
    from referral_engine.cases.models import Case

    before = len(case_history(case=journey, reader=users["auditor"]))
    case = Case.objects.get(pk=journey.pk)
    rows = case.history.count()
    pre_save.disconnect(dispatch_uid="audit.history_skip_unchanged")
    try:
        case.save()
    finally:
        pre_save.connect(history_skip_unchanged, dispatch_uid="audit.history_skip_unchanged")
    assert case.history.count() == rows + 1
    assert len(case_history(case=journey, reader=users["auditor"])) == before


def test_queries_do_not_grow_with_the_case(open_case, users, fresh):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from referral_engine.audit.history_read import case_history
    from referral_engine.cases.services.records import activity_add

    small = open_case()
    activity_add(case_id=small.pk, actor=fresh(users["worker_welfare"]), kind="note", body="1")
    big = open_case(referrals=[{"to_department": "health_promotion", "basis": "internal_use", "reason": "訪問"}])
    for i in range(12):
        activity_add(case_id=big.pk, actor=fresh(users["worker_welfare"]), kind="note", body=f"記録{i}")

    with CaptureQueriesContext(connection) as few:
        case_history(case=small, reader=users["auditor"])
    with CaptureQueriesContext(connection) as many:
        entries = case_history(case=big, reader=users["auditor"])
    assert len(entries) > 40
    assert len(many) <= len(few) + 2  # the referral's department and its requester, at most
    from referral_engine.audit.history_read import PORTABLE_EXTRA_STATEMENTS

    portable = 0 if connection.vendor == "postgresql" else PORTABLE_EXTRA_STATEMENTS  # SQLite: per table
    assert len(many) <= 8 + portable  # the timeline in one statement (issue 23): 5 or 6 today


def test_user_changes_lists_what_a_user_changed_with_diffs(journey, users):
    from referral_engine.audit.timeline import user_changes

    entries = user_changes(user_id=users["worker_welfare"].pk)
    assert entries, "the worker opened the case and moved it"
    assert all(e.user_id == users["worker_welfare"].pk for e in entries)
    assert [e.at for e in entries] == sorted((e.at for e in entries), reverse=True)
    state = next(e for e in entries if e.kind == "changed" and any(c.field == "state" for c in e.changes))
    assert {c.field: (c.old, c.new) for c in state.changes}["state"] == ("受付", "アセスメント")
    assert state.case_id == journey.pk
    assert not any(e.user_id == users["worker_health"].pk for e in entries)
