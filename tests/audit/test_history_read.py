"""The case history from one query (issue 23, referral_engine/audit/history_read.py) returns exactly
what the reader it replaced returned (tests/audit/oracle_timeline.py, the old code kept verbatim):
same entries, same order, same diffs, same users — on generated cases (the bench's generator: every
state, channel, referral, consent, escalation, slip) and on cases built through the services with
person edits (sensitive flags too), a second case of the same person, a merge, stage records and a
withdrawn consent, read by an auditor and by caseworkers who see less of the person. And it reads
the timeline in one statement whatever the number of history models."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.audit import oracle_timeline

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 10, 10, 0, tzinfo=dt.UTC)


def _flat(entry) -> tuple:
    return (
        entry.at,
        entry.source,
        entry.kind,
        entry.kind_label,
        entry.object_type,
        entry.object_label,
        entry.object_id,
        entry.summary,
        entry.user_id,
        entry.username,
        entry.user_display_name,
        entry.user_label,
        entry.reason,
        entry.reason_label,
        entry.case_id,
        entry.case_number,
        json.dumps(entry.data, sort_keys=True, default=str),
        tuple((c.field, c.label, c.old, c.new, repr(c.old_value), repr(c.new_value)) for c in entry.changes),
    )


def _assert_same(case, reader) -> int:
    from referral_engine.audit.history_read import case_history
    from referral_engine.cases.models import Case

    fresh_case = Case.objects.select_related("person").get(pk=case.pk)
    old = [_flat(e) for e in oracle_timeline.case_history(case=fresh_case, reader=reader)]
    fresh_case = Case.objects.select_related("person").get(pk=case.pk)
    new = [_flat(e) for e in case_history(case=fresh_case, reader=reader)]
    for i, (a, b) in enumerate(zip(old, new, strict=False)):
        assert a == b, f"case {case.pk} entry {i} differs:\nold {a}\nnew {b}"
    assert len(old) == len(new), f"case {case.pk}: {len(old)} entries before, {len(new)} now"
    return len(new)


@pytest.fixture
def built(open_case, users, fresh):
    """Cases through the services: every kind of change a case's objects record."""
    from referral_engine.cases.services.case_state import case_transition
    from referral_engine.cases.services.intake import case_open
    from referral_engine.cases.services.merge import person_merge
    from referral_engine.cases.services.persons import person_update
    from referral_engine.cases.services.records import (
        activity_add,
        consent_record,
        consent_withdraw,
        stage_record_update,
    )
    from referral_engine.cases.services.referrals import referral_transition

    to_health = [{"to_department": "health_promotion", "basis": "internal_use", "reason": "訪問を"}]
    first = open_case(referrals=to_health, risk="urgent")
    referral = first.referrals.get()
    referral_transition(referral_id=referral.pk, name="accept", actor=fresh(users["worker_health"]))
    stage_record_update(referral_id=referral.pk, actor=fresh(users["worker_health"]), data={"visited_by": "保健師"})
    stage_record_update(referral_id=referral.pk, actor=fresh(users["worker_health"]), data={"visited_by": "看護師"})
    activity_add(case_id=first.pk, actor=fresh(users["worker_health"]), kind="visit", body="訪問", sensitive=True)
    consent = consent_record(
        case_id=first.pk, actor=fresh(users["worker_welfare"]), recipients=["shakyo"], purposes="支援", method="oral"
    )
    consent_withdraw(consent_id=consent.pk, actor=fresh(users["worker_welfare"]), note="本人の申し出")
    person_update(
        person_id=first.person_id,
        actor=fresh(users["worker_welfare"]),
        changes={"address": "津久見市青江1-1", "flags": ["lives_alone", "hikikomori"]},
        reason="転居",
    )
    case_transition(case_id=first.pk, name="start_assessment", actor=fresh(users["worker_welfare"]), reason="面談")

    # A second case of the same person: its history shows the person from its opening on only.
    second = case_open(
        actor=fresh(users["worker_welfare"]), person_id=first.person_id, summary="再相談", needs=["poverty", "care"]
    )
    person_update(
        person_id=first.person_id,
        actor=fresh(users["worker_welfare"]),
        changes={"phone": "0972-11-2222", "flags": ["lives_alone", "hikikomori", "needs_care"]},
        reason="電話番号の変更",
    )
    # Another person merged into the first one: the merged case's person rows and the merge itself.
    other = open_case(referrals=to_health)
    person_merge(person_id=other.person_id, into_id=first.person_id, actor=fresh(users["chief_welfare"]), reason="同一")
    return [first, second, other]


def test_new_reader_matches_the_old_on_cases_built_through_the_services(built, users):
    total = 0
    for reader in ("auditor", "worker_welfare"):
        for case in built:
            total += _assert_same(case, users[reader])
    assert total > 60


def test_new_reader_matches_the_old_for_a_reader_who_sees_less_of_the_person(built, users, fresh):
    """worker_longevity has no case of the person: the person's sensitive flags and record fields
    are filtered out of its changes, in both readers alike."""
    from referral_engine.access import policy

    reader = fresh(users["worker_longevity"])
    view = policy.person_view(reader, built[0].person)
    assert not view.everything  # the reader sees less than everything, so the filter is exercised
    assert _assert_same(built[0], reader) > 10


def test_new_reader_matches_the_old_on_generated_cases(users):
    from bench.loadgen.run import generate
    from referral_engine.cases.models import Case

    generate(cases=30, seed=11, batch=50, workers=1, years=2.0, due=5, now=NOW)
    cases = list(Case.objects.order_by("pk"))
    assert len(cases) >= 30
    total = sum(_assert_same(case, users["auditor"]) for case in cases)
    assert total > 30 * 20


def test_the_api_gives_the_same_json_as_the_serializer_did(built, users):
    """The API's plain dicts (history_read.entry_json) are what HistoryEntrySerializer made."""
    from rest_framework.renderers import JSONRenderer

    from referral_engine.audit.api import HistoryEntrySerializer
    from referral_engine.audit.history_read import case_history, entry_json

    entries = case_history(case=built[0], reader=users["auditor"])
    assert len(entries) > 10
    renderer = JSONRenderer()
    assert renderer.render([entry_json(e) for e in entries]) == renderer.render(
        HistoryEntrySerializer(entries, many=True).data
    )


@pytest.mark.postgres
def test_one_statement_reads_the_timeline_whatever_the_number_of_history_models(built, users):
    """On PostgreSQL: one statement touches the history tables and the events; besides it only the
    fixed small reads (whether the case is the person's first, users once, the referrals named in
    values; the departments and districts come with the timeline's statement) — none per history
    model; the old reader needed more."""
    from referral_engine.audit import history_read
    from referral_engine.cases.models import Case

    case = Case.objects.select_related("person").get(pk=built[0].pk)
    history_read.case_history(case=case, reader=users["auditor"])  # warm the per-process caches
    case = Case.objects.select_related("person").get(pk=built[0].pk)
    with CaptureQueriesContext(connection) as queries:
        history_read.case_history(case=case, reader=users["auditor"])
    statements = [q["sql"] for q in queries.captured_queries]
    timeline = [s for s in statements if "historical" in s or "caseevent" in s]
    assert len(timeline) == 1, timeline
    # every model, one statement (and the departments' and districts' branches)
    assert timeline[0].count("UNION ALL") == len(history_read._sources()) + 2
    user_reads = [s for s in statements if '"accounts_user"' in s.split("WHERE")[0]]
    assert len(user_reads) == 1, user_reads  # the users, once
    assert len(statements) <= 5, "\n".join(s[:300] for s in statements)

    case = Case.objects.select_related("person").get(pk=built[0].pk)
    with CaptureQueriesContext(connection) as old:
        oracle_timeline.case_history(case=case, reader=users["auditor"])
    assert len(statements) < len(old.captured_queries)
