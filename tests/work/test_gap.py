"""Issue 18 item 5: はざま means what it says. It ends when someone takes the case on (a referral
accepted, a lead worker named) with a `gap_cleared` event and its L3 escalation resolved; an
acknowledgement's note is on the case's timeline; the dashboard's table agrees with its tiles."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from referral_engine.cases.choices import EventKind
from referral_engine.cases.models import Case, CaseEvent
from referral_engine.cases.services.case_state import case_lead_change
from referral_engine.cases.services.referrals import referral_create, referral_transition
from referral_engine.timers.models import Escalation
from referral_engine.timers.selectors import dashboard_data
from referral_engine.timers.services import escalation_acknowledge

pytestmark = pytest.mark.django_db

TWO = [
    {"to_department": "health_promotion", "basis": "internal_use", "reason": "訪問"},
    {"to_department": "longevity_support", "basis": "internal_use", "reason": "介護"},
]


@pytest.fixture
def gap_case(open_case, users, fresh):
    """Declined by health and by longevity: the runaround rule makes it はざま (L3 to the desk)."""
    case = open_case("desk_welfare", referrals=TWO)
    for referral in case.referrals.all():
        worker = "worker_health" if referral.to_department.code == "health_promotion" else "worker_longevity"
        referral_transition(referral_id=referral.pk, name="decline", actor=fresh(users[worker]), reason="対象外")
    case.refresh_from_db()
    assert case.is_gap
    assert Escalation.objects.get(case=case, rule="runaround").state == "open"
    return case


def test_accepting_a_referral_clears_gap_and_resolves_its_escalation(gap_case, users, fresh):
    referral = referral_create(
        case_id=gap_case.pk,
        actor=fresh(users["chief_welfare"]),
        to_department="shakyo",
        basis="support_meeting",
        reason="サロン",
        justification="支援会議で合意",
    )
    referral_transition(referral_id=referral.pk, name="accept", actor=fresh(users["worker_shakyo"]))

    case = Case.objects.get(pk=gap_case.pk)
    assert case.is_gap is False
    assert case.history.filter(history_change_reason="gap_cleared: accept").exists()
    event = CaseEvent.objects.get(case=case, kind=EventKind.GAP_CLEARED)
    assert event.data == {"how": "accept"} and event.department.code == "shakyo"
    escalation = Escalation.objects.get(case=case, rule="runaround")
    assert escalation.state == "resolved" and escalation.resolved_at is not None
    assert CaseEvent.objects.filter(case=case, kind=EventKind.ESCALATION, name="resolved").exists()
    # The dashboard's はざま list no longer shows it.
    data = dashboard_data(user=fresh(users["chief_welfare"]))
    assert gap_case.pk not in [c["id"] for c in data["gap_cases"]]


def test_naming_a_lead_worker_clears_gap(gap_case, users, fresh):
    case_lead_change(
        case_id=gap_case.pk, actor=fresh(users["chief_welfare"]), lead_worker_id=users["worker_welfare"].pk
    )
    case = Case.objects.get(pk=gap_case.pk)
    assert case.is_gap is False
    assert CaseEvent.objects.get(case=case, kind=EventKind.GAP_CLEARED).data == {"how": "lead"}
    assert Escalation.objects.get(case=case, rule="runaround").state == "resolved"


def test_changing_the_lead_department_without_a_worker_leaves_it_gap(gap_case, users, fresh):
    case_lead_change(case_id=gap_case.pk, actor=fresh(users["chief_welfare"]), lead_department="health_promotion")
    assert Case.objects.get(pk=gap_case.pk).is_gap is True
    assert not CaseEvent.objects.filter(case=gap_case, kind=EventKind.GAP_CLEARED).exists()


def test_the_acknowledgement_note_is_on_the_case_timeline(gap_case, users, fresh, client):
    escalation = Escalation.objects.get(case=gap_case, rule="runaround")
    escalation_acknowledge(
        escalation_id=escalation.pk, actor=fresh(users["chief_welfare"]), note="明日訪問して様子を見る"
    )
    event = CaseEvent.objects.get(case=gap_case, kind=EventKind.ESCALATION, name="acknowledged")
    assert event.reason == "明日訪問して様子を見る"
    client.force_login(users["worker_welfare"])
    assert "明日訪問して様子を見る" in client.get(f"/cases/{gap_case.pk}/").content.decode()


def test_the_dashboard_says_what_the_gap_list_is(gap_case, users, client):
    client.force_login(users["chief_welfare"])
    page = client.get("/dashboard/").content.decode()
    assert "誰も受け持っていない" not in page
    assert "まだ引き受け手が決まっていないもの" in page


@pytest.fixture
def figures_cached(settings):
    settings.DASHBOARD_FIGURES_SECONDS = 60
    cache.clear()
    yield
    cache.clear()


def _desk_row(data):
    return next(d for d in data["departments"] if d["code"] == "social_welfare")


def test_after_an_acknowledgement_the_table_agrees_with_the_tile(
    figures_cached, gap_case, users, fresh, django_capture_on_commit_callbacks
):
    before = dashboard_data(user=fresh(users["chief_welfare"]))
    assert before["totals"]["open_escalations"] == _desk_row(before)["open_escalations"] == 1
    escalation = Escalation.objects.get(case=gap_case, rule="runaround")
    with django_capture_on_commit_callbacks(execute=True):
        escalation_acknowledge(escalation_id=escalation.pk, actor=fresh(users["chief_welfare"]), note="確認")
    after = dashboard_data(user=fresh(users["chief_welfare"]))
    assert after["totals"]["open_escalations"] == _desk_row(after)["open_escalations"] == 0
    assert after["figures_at"] > before["figures_at"]


def test_after_gap_clears_the_table_agrees_with_the_tile(
    figures_cached, gap_case, users, fresh, django_capture_on_commit_callbacks
):
    before = dashboard_data(user=fresh(users["chief_welfare"]))
    assert before["totals"]["gap_cases"] == _desk_row(before)["gap_cases"] == 1
    with django_capture_on_commit_callbacks(execute=True):
        case_lead_change(
            case_id=gap_case.pk, actor=fresh(users["chief_welfare"]), lead_worker_id=users["worker_welfare"].pk
        )
    after = dashboard_data(user=fresh(users["chief_welfare"]))
    assert after["totals"]["gap_cases"] == _desk_row(after)["gap_cases"] == 0
