"""Triage at a glance (issue 18 item 4): what inbox cards and list rows say, the deadline's badge in
office days, the case list's sort and filters (bad values dropped and named, never a 500), and a stage
move's note on the timeline."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from django.utils import timezone

from referral_engine.cases.models import Case, CaseEvent, Referral
from referral_engine.cases.services.referrals import referral_transition
from referral_engine.timers import calendar
from referral_engine.timers.calendar import office_tz
from referral_engine.web.triage import deadline_badge, summary_line

pytestmark = pytest.mark.django_db

TO_HEALTH = {"to_department": "health_promotion", "basis": "internal_use", "reason": "訪問をお願いします"}


def _rows(html: str) -> list[str]:
    body = html.split("<tbody>")[1].split("</tbody>")[0]
    return body.split("<tr")[1:]


def _order(html: str, cases) -> list[str]:
    """The case numbers of `cases` in the order the table lists them."""
    numbers = {c.number for c in cases}
    found = []
    for row in _rows(html):
        for number in numbers:
            if f">{number}</a>" in row:
                found.append(number)
    return found


# --- The pieces ------------------------------------------------------------------------------------


def test_summary_line_is_the_first_non_blank_line_cut_to_fit():
    assert summary_line("\n  食事がとれていない。 \n二行目") == "食事がとれていない。"
    assert summary_line("あ" * 100) == "あ" * 59 + "…"
    assert summary_line("") == ""


def test_deadline_badge_counts_office_days_and_says_today_and_overdue():
    tz = office_tz()
    closed: frozenset[date] = frozenset()
    calendar.invalidate_cache()
    friday_noon = datetime(2026, 12, 4, 12, 0, tzinfo=tz)  # a Friday
    # Due Monday 17:15: Saturday and Sunday are closed, so one office day is left.
    assert calendar.office_days_between(date(2026, 12, 4), date(2026, 12, 7), closed) == 1
    assert deadline_badge(datetime(2026, 12, 7, 17, 15, tzinfo=tz), friday_noon).text == "あと1開庁日"
    assert deadline_badge(datetime(2026, 12, 9, 17, 15, tzinfo=tz), friday_noon).text == "あと3開庁日"
    today = deadline_badge(datetime(2026, 12, 4, 17, 15, tzinfo=tz), friday_noon)
    assert (today.kind, today.text) == ("today", "今日まで")
    late = deadline_badge(datetime(2026, 12, 4, 11, 0, tzinfo=tz), friday_noon)
    assert (late.kind, late.text) == ("overdue", "期限超過")
    # Due Wednesday, seen on Friday: two office days late (Thursday, Friday).
    assert deadline_badge(datetime(2026, 12, 2, 17, 15, tzinfo=tz), friday_noon).text == "2開庁日超過"
    assert deadline_badge(None, friday_noon) is None


# --- Inbox cards and list rows ---------------------------------------------------------------------


def test_inbox_card_shows_what_triage_needs(as_user, open_case):
    case = open_case(
        risk="high",
        summary="食事がとれていないと近所から連絡。\n詳しい経緯は二行目に。",
        needs=["isolation", "care"],
        referrals=[TO_HEALTH],
    )
    html = as_user("worker_health").get("/inbox/").content.decode()
    card = html.split(f">{case.number}</a>")[1].split("</article>")[0]
    assert "食事がとれていないと近所から連絡。" in card and "二行目" not in card
    assert "孤独・孤立" in card and "介護" in card
    assert "80歳以上" in card and "川上" in card  # born 1944, district kawakami (the fixture's person)
    assert "risk-high" in card
    assert 'class="due due-' in card  # the deadline's badge
    assert "総合相談" in card or "福祉" in card  # the requester's department


def test_case_list_rows_show_triage_facts_and_labels_for_the_phone_cards(as_user, open_case):
    case = open_case(summary="家賃の滞納が続いている。\n二行目", needs=["poverty"], referrals=[TO_HEALTH])
    html = as_user("desk_welfare").get("/cases/").content.decode()
    row = next(r for r in _rows(html) if f">{case.number}</a>" in r)
    assert "家賃の滞納が続いている。" in row and "二行目" not in row
    assert "生活困窮" in row and "80歳以上" in row
    assert 'data-label="期限"' in row and 'class="due due-' in row
    assert "担当者なし" in row


# --- Sort and filter -------------------------------------------------------------------------------


def test_case_list_sorts_by_urgency_and_by_deadline(as_user, open_case):
    low = open_case(risk="low", referrals=[TO_HEALTH])
    urgent = open_case(risk="urgent", referrals=[TO_HEALTH])
    normal = open_case(risk="normal", referrals=[TO_HEALTH])
    now = timezone.now()
    # Test data: move the deadlines (the timers module owns them in real life).
    Referral.objects.filter(case=low).update(due_at=now + timedelta(hours=1))
    Referral.objects.filter(case=urgent).update(due_at=now + timedelta(days=3))
    Referral.objects.filter(case=normal).update(due_at=now + timedelta(days=1))
    # The case's own stall clock is a deadline too (an urgent case's is short): out of the way here.
    Case.objects.filter(pk__in=[low.pk, urgent.pk, normal.pk]).update(stall_due_at=now + timedelta(days=30))
    client = as_user("desk_welfare")
    cases = [low, urgent, normal]

    html = client.get("/cases/", {"sort": "urgency"}).content.decode()
    assert _order(html, cases) == [urgent.number, normal.number, low.number]
    html = client.get("/cases/", {"sort": "deadline"}).content.decode()
    assert _order(html, cases) == [low.number, normal.number, urgent.number]
    html = client.get("/cases/", {"due": "today"}).content.decode()
    assert _order(html, cases) == [low.number]


def test_case_list_filters_by_stage_and_assignee(as_user, open_case, users, fresh):
    visited = open_case(referrals=[TO_HEALTH])
    waiting = open_case(referrals=[TO_HEALTH])
    referral = visited.referrals.get()
    referral_transition(referral_id=referral.pk, name="accept", actor=fresh(users["worker_health"]))
    referral_transition(referral_id=referral.pk, name="record_home_visit", actor=fresh(users["worker_health"]))
    client = as_user("worker_health")
    cases = [visited, waiting]

    html = client.get("/cases/", {"stage": "health_promotion:home_visited"}).content.decode()
    assert _order(html, cases) == [visited.number]
    html = client.get("/cases/", {"assignee": "me"}).content.decode()
    assert _order(html, cases) == [visited.number]  # accepting assigned it to worker_health
    html = client.get("/cases/", {"assignee": "none"}).content.decode()
    assert _order(html, cases) == [waiting.number]
    # A supervisor of the department picks the worker by name.
    html = as_user("chief_health").get("/cases/", {"assignee": "worker_health"}).content.decode()
    assert _order(html, cases) == [visited.number]


@pytest.mark.parametrize(
    "params",
    [
        {"sort": "password"},
        {"sort": "-id"},
        {"stage": "home_visited"},  # without its department
        {"stage": "nowhere:nothing"},
        {"assignee": "somebody_else"},
        {"assignee": "worker_welfare"},  # not of the user's departments
        {"due": "yesterday"},
        {"sort": "x" * 5000},
    ],
)
def test_bad_sort_and_filter_values_are_dropped_and_named(as_user, open_case, params):
    case = open_case(referrals=[TO_HEALTH])
    response = as_user("worker_health").get("/cases/", params)
    assert response.status_code == 200
    html = response.content.decode()
    notice = html.split('id="ignored-params"')[1].split("</p>")[0]
    assert f"<code>{next(iter(params))}</code>" in notice
    assert f">{case.number}</a>" in html  # the list is shown as without the bad value


# --- A stage move asks for a note --------------------------------------------------------------------


def test_stage_move_is_a_second_press_with_an_optional_note_that_lands_on_the_timeline(
    as_user, open_case, users, fresh
):
    case = open_case(referrals=[TO_HEALTH])
    referral = case.referrals.get()
    referral_transition(referral_id=referral.pk, name="accept", actor=fresh(users["worker_health"]))
    client = as_user("worker_health")
    html = client.get(f"/cases/{case.pk}/").content.decode()
    block = html.split('class="action-details stage-move"')[1].split("</details>")[0]
    assert "家庭訪問を実施した…</summary>" in block and "家庭訪問を実施した（確定）" in block
    assert 'name="reason"' in block and "required" not in block.split('name="reason"')[1].split(">")[0]

    client.post(f"/referrals/{referral.pk}/transition/", {"name": "record_home_visit", "reason": "娘さんも同席。"})
    event = CaseEvent.objects.get(case=case, kind="stage_transition", name="record_home_visit")
    assert event.reason == "娘さんも同席。"
    assert "娘さんも同席。" in client.get(f"/cases/{case.pk}/").content.decode().split('id="timeline"')[1]


@pytest.mark.parametrize("sort", ["", "urgency", "deadline", "stage", "assignee"])
def test_every_sort_works_with_the_department_filter(as_user, open_case, sort):
    """The department filter makes the query DISTINCT; each order must still be valid SQL with it."""
    case = open_case(referrals=[TO_HEALTH])
    response = as_user("desk_welfare").get("/cases/", {"department": "health_promotion", "sort": sort, "due": "week"})
    assert response.status_code == 200
    assert f">{case.number}</a>" in response.content.decode()


# --- The inbox's sort and filters --------------------------------------------------------------------


def _card_order(html: str, cases) -> list[str]:
    section = html.split('id="pending"')[1].split("</section>")[0]
    positions = sorted((section.index(f">{c.number}</a>"), c.number) for c in cases if f">{c.number}</a>" in section)
    return [number for _, number in positions]


def test_inbox_sorts_by_urgency_or_deadline_and_filters_by_urgency_and_worker(as_user, open_case):
    low = open_case(risk="low", referrals=[TO_HEALTH])
    high = open_case(risk="high", referrals=[TO_HEALTH])
    now = timezone.now()
    Referral.objects.filter(case=low).update(due_at=now + timedelta(hours=2))
    Referral.objects.filter(case=high).update(due_at=now + timedelta(days=2))
    client = as_user("worker_health")
    cases = [low, high]

    assert _card_order(client.get("/inbox/", {"sort": "urgency"}).content.decode(), cases) == [high.number, low.number]
    assert _card_order(client.get("/inbox/", {"sort": "deadline"}).content.decode(), cases) == [low.number, high.number]
    assert _card_order(client.get("/inbox/", {"risk": "high"}).content.decode(), cases) == [high.number]
    assert _card_order(client.get("/inbox/", {"assignee": "me"}).content.decode(), cases) == []
    assert _card_order(client.get("/inbox/", {"assignee": "none"}).content.decode(), cases) == [low.number, high.number]


@pytest.mark.parametrize("params", [{"sort": "stage"}, {"risk": "extreme"}, {"assignee": "worker_welfare"}])
def test_inbox_drops_and_names_bad_values(as_user, open_case, params):
    case = open_case(referrals=[TO_HEALTH])
    response = as_user("worker_health").get("/inbox/", params)
    assert response.status_code == 200
    html = response.content.decode()
    assert f"<code>{next(iter(params))}</code>" in html.split('id="ignored-params"')[1].split("</p>")[0]
    assert f">{case.number}</a>" in html
