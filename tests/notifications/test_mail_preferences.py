"""Each user's mail preference (issue 18, item 7): `immediate` mails as before, `off` mails nothing
(the notification stays in the app), `daily_digest` holds the rows for one morning mail per user and
day that lists each once; urgent notifications still go at once (notifications/digest.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.utils import timezone

from referral_engine.notifications.delivery import notifications_deliver_pending
from referral_engine.notifications.digest import notifications_send_digests
from referral_engine.notifications.models import MailDigest, Notification
from referral_engine.notifications.selectors import notifications_for
from referral_engine.notifications.services import notifications_queue
from tests.notifications.test_mail_without_personal_data import (  # noqa: F401 - the fixture
    _drive_every_journey_that_notifies,
    _leaks,
    timed,
)


@pytest.fixture
def prefer(users):
    def _prefer(username: str, preference: str):
        user = users[username]
        user.mail_preference = preference
        user.save(update_fields=["mail_preference"])
        return user

    return _prefer


@pytest.fixture
def queue(users, django_capture_on_commit_callbacks):
    def _queue(username: str, kind: str = "referral_accept", **kwargs):
        return notifications_queue(recipients=[users[username]], kind=kind, title="テスト通知", body="本文", **kwargs)

    return _queue


def test_immediate_mails_each_notification_as_before(prefer, queue):
    prefer("chief_health", "immediate")
    queue("chief_health")
    queue("chief_health")

    assert notifications_deliver_pending() == 2
    assert len(mail.outbox) == 2
    assert notifications_send_digests() == 0
    assert len(mail.outbox) == 2
    assert set(Notification.objects.values_list("delivery", flat=True)) == {"sent"}


def test_off_sends_no_mail_not_even_urgent_but_the_app_still_shows_them(prefer, queue, users):
    prefer("chief_health", "off")
    queue("chief_health")
    queue("chief_health", kind="escalation_l3")

    assert notifications_deliver_pending() == 0
    assert notifications_send_digests() == 0
    assert mail.outbox == []
    assert set(Notification.objects.values_list("delivery", flat=True)) == {"skipped"}
    assert notifications_for(users["chief_health"]).count() == 2


def test_daily_digest_sends_one_mail_per_user_listing_each_notification_once(prefer, queue, users, open_case):
    prefer("chief_health", "daily_digest")
    prefer("chief_bosai", "daily_digest")
    case = open_case("desk_welfare")
    for _ in range(3):
        queue("chief_health", case_id=case.pk)
    queue("chief_health", kind="referral_decline", case_id=case.pk)
    queue("chief_bosai")

    assert notifications_deliver_pending() == 0  # held for the digest, not mailed one by one
    assert mail.outbox == []
    assert set(Notification.objects.values_list("delivery", flat=True)) == {"digest"}

    assert notifications_send_digests() == 2
    assert sorted(m.to[0] for m in mail.outbox) == [users["chief_bosai"].email, users["chief_health"].email]
    health = next(m for m in mail.outbox if m.to == [users["chief_health"].email])
    assert "4件" in health.subject
    assert "つなぎが受理されました: 3件" in health.body
    assert "つなぎが辞退されました: 1件" in health.body
    assert f"{case.number} {settings.SITE_URL}/cases/{case.pk}/" in health.body
    assert health.body.count(f"/cases/{case.pk}/") == 1  # one link per case, however many notifications
    assert "本文" not in health.body and "テスト通知" not in health.body  # never the in-app texts
    assert set(Notification.objects.values_list("delivery", flat=True)) == {"digested"}
    assert MailDigest.objects.get(recipient=users["chief_health"]).count == 4

    # A re-run the same day sends nothing twice, even with a new notification waiting.
    queue("chief_health")
    notifications_deliver_pending()
    assert notifications_send_digests() == 0
    assert len(mail.outbox) == 2
    waiting = Notification.objects.get(delivery="digest")
    # The next morning lists only that one.
    assert notifications_send_digests(now=timezone.now() + timedelta(days=1)) == 1
    assert len(mail.outbox) == 3 and "1件" in mail.outbox[-1].subject
    waiting.refresh_from_db()
    assert waiting.delivery == "digested"


def test_urgent_notifications_reach_a_digest_reader_at_once(prefer, queue, users, open_case):
    prefer("chief_health", "daily_digest")
    case = open_case(
        "desk_welfare",
        referrals=[{"to_department": "health_promotion", "basis": "internal_use", "reason": "至急", "urgent": True}],
    )
    mail.outbox.clear()
    Notification.objects.all().delete()
    referral = case.referrals.get()
    assert referral.urgent
    queue("chief_health", kind="referral_requested", case_id=case.pk, referral_id=referral.pk)
    queue("chief_health", kind="escalation_l2", case_id=case.pk)
    queue("chief_health", kind="escalation_l1", case_id=case.pk)

    assert notifications_deliver_pending() == 2
    assert len(mail.outbox) == 2
    assert Notification.objects.get(kind="escalation_l1").delivery == "digest"


def test_a_failed_digest_leaves_the_rows_waiting_and_sends_later(prefer, queue, monkeypatch):
    prefer("chief_health", "daily_digest")
    queue("chief_health")
    notifications_deliver_pending()

    def broken(self, *args, **kwargs):
        raise ConnectionRefusedError("smtp down")

    monkeypatch.setattr("django.core.mail.EmailMessage.send", broken)
    assert notifications_send_digests() == 0
    assert Notification.objects.get().delivery == "digest"
    assert not MailDigest.objects.exists()
    monkeypatch.undo()
    assert notifications_send_digests() == 1
    assert Notification.objects.get().delivery == "digested"


def test_turning_mail_off_skips_rows_already_waiting(prefer, queue):
    prefer("chief_health", "daily_digest")
    queue("chief_health")
    notifications_deliver_pending()
    prefer("chief_health", "off")

    assert notifications_send_digests() == 0
    assert mail.outbox == []
    assert Notification.objects.get().delivery == "skipped"


def test_the_digest_task_is_on_the_beat_schedule_at_half_past_seven_tokyo():
    entry = next(e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "notifications.send_digests")
    assert entry["schedule"].hour == {7} and entry["schedule"].minute == {30}
    assert settings.CELERY_TIMEZONE == "Asia/Tokyo"


def test_no_digest_carries_a_name_a_reason_or_a_note(timed, users, fresh, org):  # noqa: F811 - the fixture
    from referral_engine.accounts.models import User

    User.objects.update(mail_preference="daily_digest")
    _drive_every_journey_that_notifies(users, fresh, org)
    mail.outbox.clear()
    notifications_deliver_pending()
    urgent_mails = len(mail.outbox)

    assert notifications_send_digests() > 0
    digests = mail.outbox[urgent_mails:]
    assert digests and Notification.objects.filter(delivery="digested").exists()
    for message in mail.outbox:
        assert _leaks(message.message().as_string()) == [], message.body
