"""Email delivery from the outbox (DESIGN §7, CONVENTIONS 6).

- One transaction per message (issue 16): a row is claimed with `SELECT … FOR UPDATE SKIP LOCKED`,
  handed to SMTP and marked sent, and that commits before the next row is claimed. Two deliverers
  never send the same row, a sent row is never picked again, and a worker killed mid-batch leaves
  every message it had handed over already marked: only the one in flight (handed to SMTP, not yet
  committed) is sent once more (at-least-once, at most one duplicate per kill); the stable
  Message-ID (`<notification-<id>@…>`) lets mail systems drop that duplicate. One SMTP connection
  serves the whole run.
- Failures retry with exponential backoff (1 min, 2, 4 … capped at an hour) through
  `next_attempt_at`, which the beat-driven task reads: no Celery countdown. After MAX_ATTEMPTS the
  row is `failed`; the error stays on the row, visible (and retryable) in the admin.
- The recipient's mail preference is read here (digest.py): `off` skips the mail, `daily_digest`
  leaves the row for the morning digest unless it is urgent.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.utils import timezone

from referral_engine.notifications.digest import mail_hold
from referral_engine.notifications.mail import notification_mails
from referral_engine.notifications.models import Notification

MAX_ATTEMPTS = 8
BATCH = 100
MAX_BACKOFF = timedelta(hours=1)


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failure: 1, 2, 4, 8 … minutes, at most an hour."""
    return min(timedelta(seconds=30 * 2**attempts), MAX_BACKOFF)


def message_id(notification: Notification) -> str:
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or "localhost"
    return f"<notification-{notification.pk}@{domain}>"


def notifications_deliver_pending(*, batch: int = BATCH, now=None) -> int:
    """Send every pending notification that is due; returns how many were sent. Pages of `batch` ids
    are read without a lock; each row is then locked, sent and marked in a transaction of its own."""
    sent = 0
    seen: set[int] = set()  # each row at most once per run, even if a failure leaves it due
    connection = get_connection(fail_silently=False)
    try:
        while True:
            due = Notification.objects.filter(
                delivery=Notification.Delivery.PENDING, next_attempt_at__lte=now or timezone.now()
            ).exclude(pk__in=seen)
            page = list(due.order_by("next_attempt_at", "id").values_list("id", flat=True)[:batch])
            for notification_id in page:
                seen.add(notification_id)
                sent += _deliver_one(notification_id, connection=connection, now=now)
            if len(page) < batch:
                return sent
    finally:
        try:
            connection.close()
        except Exception:  # noqa: BLE001, S110 - closing a broken SMTP connection is best effort
            pass


@transaction.atomic
def _deliver_one(notification_id: int, *, connection, now=None) -> int:
    """Lock one due row (another deliverer holding it, or having sent it meanwhile: skip), send it and
    record the outcome; the commit on return is the sent-marker. Returns 1 if it was sent."""
    n = (
        Notification.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("recipient")
        .filter(pk=notification_id, delivery=Notification.Delivery.PENDING, next_attempt_at__lte=now or timezone.now())
        .first()
    )
    if n is None:
        return 0
    fields = ["attempts", "last_error", "delivery", "next_attempt_at", "delivered_at"]
    recipient = n.recipient
    if not recipient.is_active or not recipient.email:
        n.delivery = Notification.Delivery.SKIPPED
        n.save(update_fields=fields)
        return 0
    hold = mail_hold(n, recipient)  # the user's mail preference (digest.py): off, or wait for the digest
    if hold is not None:
        n.delivery = hold
        n.next_attempt_at = None
        n.save(update_fields=fields)
        return 0
    n.attempts += 1
    mail = notification_mails([n])[n.pk]  # kind, case number, link: never the in-app title or body
    try:
        EmailMessage(
            subject=mail.subject,
            body=mail.body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[recipient.email],
            headers={"Message-ID": message_id(n)},
            connection=connection,
        ).send()
    except Exception as exc:  # noqa: BLE001 - any mail failure is retried and recorded
        try:  # the next message opens a fresh SMTP connection
            connection.close()
        except Exception:  # noqa: BLE001, S110 - closing a broken SMTP connection is best effort
            pass
        n.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        if n.attempts >= MAX_ATTEMPTS:
            n.delivery = Notification.Delivery.FAILED
            n.next_attempt_at = None
        else:
            n.next_attempt_at = timezone.now() + backoff(n.attempts)
        n.save(update_fields=fields)
        return 0
    n.delivery = Notification.Delivery.SENT
    n.delivered_at = timezone.now()
    n.last_error = ""
    n.save(update_fields=fields)
    return 1


def notifications_retry(*, notification_ids) -> int:
    """Put failed (or waiting) notifications back in the queue now: the admin's retry action."""
    with transaction.atomic():
        rows = list(
            Notification.objects.select_for_update()
            .filter(pk__in=list(notification_ids))
            .exclude(delivery__in=[Notification.Delivery.SENT, Notification.Delivery.SKIPPED])
        )
        for n in rows:
            n.delivery = Notification.Delivery.PENDING
            n.attempts = 0
            n.next_attempt_at = timezone.now()
            n.save(update_fields=["delivery", "attempts", "next_attempt_at"])
    if rows:
        from referral_engine.notifications.services import kick_delivery

        transaction.on_commit(kick_delivery)
    return len(rows)
