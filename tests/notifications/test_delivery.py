"""The outbox: delivered once, retried with backoff, failures kept visible; the in-app inbox."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from referral_engine.notifications import delivery
from referral_engine.notifications.delivery import notifications_deliver_pending, notifications_retry
from referral_engine.notifications.models import Notification
from referral_engine.notifications.selectors import notifications_for, notifications_unread_count
from referral_engine.notifications.services import notifications_mark_read, notifications_queue


@pytest.fixture
def queued(users, django_capture_on_commit_callbacks):
    def _queue(*names):
        return notifications_queue(recipients=[users[n] for n in names], kind="test", title="テスト通知", body="本文")

    return _queue


def test_delivery_sends_once_with_a_stable_message_id(queued):
    rows = queued("chief_health", "worker_health")

    assert notifications_deliver_pending() == 2
    assert notifications_deliver_pending() == 0
    assert len(mail.outbox) == 2
    assert {m.extra_headers["Message-ID"] for m in mail.outbox} == {delivery.message_id(n) for n in rows}
    assert set(Notification.objects.values_list("delivery", flat=True)) == {"sent"}


def test_a_failing_backend_retries_with_backoff_then_fails_visibly(queued, monkeypatch):
    (row,) = queued("chief_health")

    def broken(self, *args, **kwargs):
        raise ConnectionRefusedError("smtp down")

    monkeypatch.setattr("django.core.mail.EmailMessage.send", broken)
    now = timezone.now()
    assert notifications_deliver_pending() == 0
    row.refresh_from_db()
    assert (row.delivery, row.attempts) == ("pending", 1)
    assert "smtp down" in row.last_error
    assert row.next_attempt_at - now >= delivery.backoff(1) - timedelta(seconds=5)
    assert notifications_deliver_pending() == 0  # not due yet: no second attempt
    row.refresh_from_db()
    assert row.attempts == 1

    for _ in range(delivery.MAX_ATTEMPTS):
        notifications_deliver_pending(now=timezone.now() + timedelta(days=1))
    row.refresh_from_db()
    assert (row.delivery, row.attempts, row.next_attempt_at) == ("failed", delivery.MAX_ATTEMPTS, None)

    monkeypatch.undo()
    assert notifications_retry(notification_ids=[row.pk]) == 1
    assert notifications_deliver_pending() == 1
    row.refresh_from_db()
    assert (row.delivery, row.last_error) == ("sent", "")


def test_backoff_doubles_and_is_capped():
    assert [delivery.backoff(n).total_seconds() for n in (1, 2, 3)] == [60, 120, 240]
    assert delivery.backoff(20) == delivery.MAX_BACKOFF


def test_users_without_email_are_not_mailed(users, django_capture_on_commit_callbacks):
    user = users["chief_health"]
    user.email = ""
    user.save(update_fields=["email"])
    (row,) = notifications_queue(recipients=[user], kind="test", title="t")
    assert row.delivery == "skipped"
    assert notifications_deliver_pending() == 0


def test_inbox_and_unread_count(queued, users):
    queued("chief_health")
    queued("chief_health")
    user = users["chief_health"]
    assert notifications_unread_count(user) == 2
    assert notifications_for(user).count() == 2
    notifications_mark_read(user=user, notification_ids=[notifications_for(user).first().pk])
    assert notifications_unread_count(user) == 1
    assert notifications_for(user, unread_only=True).count() == 1
    assert notifications_unread_count(users["chief_bosai"]) == 0


def test_admin_lists_failures_read_only(queued, users, client):
    (row,) = queued("chief_health")
    Notification.objects.filter(pk=row.pk).update(delivery="failed", last_error="SMTPError: 550")
    admin = users["admin"]
    client.force_login(admin)

    listing = client.get("/admin/notifications/notification/?delivery__exact=failed")
    detail = client.get(f"/admin/notifications/notification/{row.pk}/change/")

    assert listing.status_code == 200 and "テスト通知" in listing.content.decode()
    assert detail.status_code == 200 and "SMTPError: 550" in detail.content.decode()
    assert client.get("/admin/notifications/notification/add/").status_code == 403


def test_one_delivery_kick_per_transaction(users, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        for _ in range(5):
            notifications_queue(recipients=[users["chief_health"]], kind="test", title="t")
    assert len(callbacks) == 1


class _Killed(BaseException):
    """Stands for SIGKILL: not an Exception, so nothing in the delivery loop catches it."""


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_each_message_is_marked_sent_as_it_goes_so_a_kill_mid_batch_resends_at_most_one(
    users, monkeypatch, owner_connection
):
    """Issue 16: a worker killed in the middle of a batch. Every mail handed to SMTP before the one in
    flight is already committed as sent (seen from another connection); the next run sends the rest,
    and only the mail in flight at the kill goes out twice."""
    recipients = [users[name] for name in ("chief_health", "worker_health", "chief_welfare", "worker_welfare")]
    rows = [
        row
        for n in range(3)
        for row in notifications_queue(recipients=recipients, kind="test", title=f"テスト通知 {n}")
    ]
    assert len(rows) == 12
    handed: list[str] = []
    real_send = mail.EmailMessage.send

    def send_then_die_on_the_fifth(self, *args, **kwargs):
        handed.append(self.extra_headers["Message-ID"])
        result = real_send(self, *args, **kwargs)
        if len(handed) == 5:
            raise _Killed  # handed to SMTP, killed before the commit
        return result

    monkeypatch.setattr(mail.EmailMessage, "send", send_then_die_on_the_fifth)
    with pytest.raises(_Killed):
        notifications_deliver_pending(batch=100)

    committed = dict(
        owner_connection.execute(
            "SELECT delivery, count(*) FROM notifications_notification WHERE id = ANY(%s) GROUP BY delivery",
            [[n.pk for n in rows]],
        ).fetchall()
    )
    assert committed == {"sent": 4, "pending": 8}  # the four before the one in flight

    monkeypatch.undo()
    assert notifications_deliver_pending() == 8
    sent_ids = handed + [m.extra_headers["Message-ID"] for m in mail.outbox[len(handed) :]]
    duplicates = {mid: sent_ids.count(mid) for mid in sent_ids if sent_ids.count(mid) > 1}
    assert len(duplicates) == 1 and list(duplicates.values()) == [2]  # the one in flight, twice
    assert set(sent_ids) == {delivery.message_id(n) for n in rows}
    assert set(Notification.objects.filter(pk__in=[n.pk for n in rows]).values_list("delivery", flat=True)) == {"sent"}


def test_one_failing_message_does_not_hold_back_the_others(queued, monkeypatch):
    rows = queued("chief_health", "worker_health", "chief_welfare")
    real_send = mail.EmailMessage.send
    failing = delivery.message_id(rows[1])

    def refuse_one(self, *args, **kwargs):
        if self.extra_headers["Message-ID"] == failing:
            raise ConnectionRefusedError("550 mailbox unavailable")
        return real_send(self, *args, **kwargs)

    monkeypatch.setattr(mail.EmailMessage, "send", refuse_one)
    assert notifications_deliver_pending(now=timezone.now() + timedelta(days=1)) == 2  # each row tried once
    states = dict(Notification.objects.filter(pk__in=[n.pk for n in rows]).values_list("id", "delivery"))
    assert states == {rows[0].pk: "sent", rows[1].pk: "pending", rows[2].pk: "sent"}
