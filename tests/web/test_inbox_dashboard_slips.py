"""The inbox (deadline badges, accept / decline / return), the supervisor dashboard (escalation
acknowledge, charts), the connector's slips (status only) and the notifications list."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from referral_engine.cases.models import Case, CommunitySlip, Referral
from referral_engine.notifications.models import Notification
from referral_engine.timers.models import Escalation, Timer
from referral_engine.timers.sweep import timers_sweep_due

pytestmark = pytest.mark.django_db


def test_inbox_lists_pending_handoffs_with_deadline_badges(as_user, open_case):
    overdue = open_case(
        referrals=[{"to_department": "health_promotion", "basis": "internal_use", "reason": "期限切れの依頼"}]
    )
    soon = open_case(
        referrals=[{"to_department": "health_promotion", "basis": "internal_use", "reason": "期限間近の依頼"}]
    )
    urgent = open_case(
        risk="urgent",
        referrals=[{"to_department": "health_promotion", "basis": "internal_use", "reason": "緊急の依頼"}],
    )
    now = timezone.now()
    # Test data: move the deadlines (the timers module owns them in real life).
    Referral.objects.filter(case=overdue).update(due_at=now - timedelta(hours=1))
    Referral.objects.filter(case=soon).update(due_at=now + timedelta(hours=5))
    Referral.objects.filter(case=urgent).update(due_at=now + timedelta(days=3))

    html = as_user("worker_health").get("/inbox/").content.decode()
    cards = {c: html.split(f">{c.number}</a>")[1].split("</article>")[0] for c in (overdue, soon, urgent)}
    assert "badge-overdue" in cards[overdue] and "期限超過" in cards[overdue]
    assert "badge-soon" in cards[soon] and "期限間近" in cards[soon]
    assert "badge-urgent" in cards[urgent] and "badge-soon" not in cards[urgent]
    assert "受理する" in html and "辞退する" in html


def test_accept_and_decline_from_the_inbox_return_to_the_inbox(as_user, referred_case):
    health = referred_case.referrals.get(to_department__code="health_promotion")
    client = as_user("worker_health")
    response = client.post(f"/referrals/{health.pk}/transition/", {"name": "accept", "next": "/inbox/"})
    assert response.status_code == 302 and response["Location"] == "/inbox/"
    html = client.get("/inbox/").content.decode()
    assert "部署で対応中" in html and "家庭訪問を実施した" in html and "差し戻す" in html

    longevity = referred_case.referrals.get(to_department__code="longevity_support")
    response = as_user("worker_longevity").post(
        f"/referrals/{longevity.pk}/transition/", {"name": "decline", "reason": "介護の対象外", "next": "/inbox/"}
    )
    assert response["Location"] == "/inbox/"
    longevity.refresh_from_db()
    assert longevity.state == "declined" and longevity.response_reason == "介護の対象外"


def test_next_never_leaves_the_site(as_user, referred_case):
    health = referred_case.referrals.get(to_department__code="health_promotion")
    response = as_user("worker_health").post(
        f"/referrals/{health.pk}/transition/", {"name": "accept", "next": "https://evil.example/"}
    )
    assert response["Location"].startswith(f"/cases/{referred_case.pk}/")


def test_return_needs_a_reason_and_is_shown_in_the_inbox_of_the_receiver(as_user, referred_case):
    health = referred_case.referrals.get(to_department__code="health_promotion")
    client = as_user("worker_health")
    client.post(f"/referrals/{health.pk}/transition/", {"name": "accept"})
    client.post(f"/referrals/{health.pk}/transition/", {"name": "return", "reason": "", "next": "/inbox/"})
    health.refresh_from_db()
    assert health.state == "accepted"
    client.post(
        f"/referrals/{health.pk}/transition/", {"name": "return", "reason": "医療機関の対応が先", "next": "/inbox/"}
    )
    health.refresh_from_db()
    assert health.state == "returned"


def test_dashboard_shows_overdue_handoffs_charts_and_lets_the_supervisor_acknowledge(as_user, referred_case):
    health = referred_case.referrals.get(to_department__code="health_promotion")
    timer = Timer.objects.get(referral=health, is_open=True)
    timers_sweep_due(now=timer.due_at + timedelta(minutes=1))
    escalation = Escalation.objects.filter(referral=health).order_by("-level").first()
    assert escalation is not None

    client = as_user("chief_welfare")
    html = client.get("/dashboard/").content.decode()
    assert "未確認のエスカレーション" in html and referred_case.number in html
    assert html.count('<svg class="chart"') >= 1  # escalations per week (acceptance needs an acceptance)
    assert 'role="img"' in html

    response = client.post(f"/escalations/{escalation.pk}/acknowledge/", {"note": ""})
    assert response.status_code == 400
    assert 'id="id_note-errors"' in response.content.decode()
    response = client.post(f"/escalations/{escalation.pk}/acknowledge/", {"note": "本日中に連絡します"})
    assert response.status_code == 302
    escalation.refresh_from_db()
    assert escalation.state == "acknowledged" and escalation.note == "本日中に連絡します"


def test_dashboard_acceptance_chart_after_an_acceptance(as_user, referred_case):
    health = referred_case.referrals.get(to_department__code="health_promotion")
    as_user("worker_health").post(f"/referrals/{health.pk}/transition/", {"name": "accept"})
    html = as_user("chief_welfare").get("/dashboard/").content.decode()
    assert html.count('<svg class="chart') == 2  # the acceptance chart is the labelled kind (labels above bars)
    assert "健康推進課" in html.split('id="h-chart-accept"')[1].split("</section>")[0]


def test_a_connector_sends_a_slip_and_sees_only_its_status(as_user, users):
    client = as_user("minsei_kawakami")
    page = client.get("/slips/").content.decode()
    assert 'name="concern"' in page and 'type="hidden" name="district"' in page  # one district: no choice
    response = client.post(
        "/slips/",
        {
            "concern": "郵便受けがあふれている",
            "urgency": "urgent",
            "name": "保戸 太郎",
            "name_kana": "ほと たろう",
            "address_note": "公民館の裏",
            "person_agreed_to_contact": "",
            "district": "kawakami",
        },
    )
    assert response.status_code == 302
    slip = CommunitySlip.objects.get()
    assert slip.case.channel == "community" and slip.case.risk == "urgent"
    html = client.get("/slips/").content.decode()
    assert f"受付番号 {slip.pk}" in html and "受付済み" in html
    assert "郵便受けがあふれている" not in html and "保戸 太郎" not in html  # status only, never contents
    assert client.get(f"/cases/{slip.case_id}/").status_code == 404

    # Accepted somewhere: the connector sees "connected", still nothing else.
    from referral_engine.cases.services.referrals import referral_create, referral_transition

    desk = users["chief_welfare"]
    referral_create(
        case_id=slip.case_id,
        actor=desk,
        to_department="longevity_support",
        basis="vital_interest",
        reason="見守り",
        justification="安否確認が必要",
    )
    referral = Case.objects.get(pk=slip.case_id).referrals.get()
    referral_transition(referral_id=referral.pk, name="accept", actor=users["worker_longevity"])
    html = client.get("/slips/").content.decode()
    assert "つながりました" in html.split('class="slip-list"')[1].split("</ul>")[0]


def test_slip_form_errors_are_shown_big_and_kept(as_user):
    response = as_user("minsei_kawakami").post("/slips/", {"concern": "", "name": "名前は残る", "urgency": "normal"})
    html = response.content.decode()
    assert response.status_code == 400
    assert 'id="id_concern-errors"' in html and 'value="名前は残る"' in html
    assert CommunitySlip.objects.count() == 0


def test_notifications_list_unread_count_and_mark_read(as_user, referred_case, users):
    longevity = referred_case.referrals.get(to_department__code="longevity_support")
    as_user("worker_longevity").post(f"/referrals/{longevity.pk}/transition/", {"name": "decline", "reason": "対象外"})
    client = as_user("desk_welfare")
    unread = Notification.objects.filter(recipient=users["desk_welfare"], read_at__isnull=True)
    count = unread.count()
    assert count >= 1
    html = client.get("/notifications/").content.decode()
    assert "が辞退しました" in html
    assert f'{count}<span class="visually-hidden">件</span>' in html  # the header badge
    notification = unread.filter(kind="referral_decline").first()
    assert notification.get_absolute_url() == f"/cases/{referred_case.pk}/"  # built when shown, not stored
    assert f'value="/cases/{referred_case.pk}/"' in html
    response = client.post(
        "/notifications/read/", {"notification_id": notification.pk, "url": notification.get_absolute_url()}
    )
    assert response["Location"] == notification.get_absolute_url()
    notification.refresh_from_db()
    assert notification.read_at is not None
    client.post("/notifications/read/", {})
    assert not unread.exists()


def test_opening_a_notification_never_redirects_off_site(as_user, referred_case, users):
    # The handoff request is told to the receiving department's supervisors (issue 10).
    notification = Notification.objects.filter(recipient=users["chief_health"]).first()
    response = as_user("chief_health").post(
        "/notifications/read/", {"notification_id": notification.pk, "url": "https://evil.example/"}
    )
    assert response["Location"] == "/notifications/"
