"""Email delivery from the outbox (DESIGN §7, CONVENTIONS 6).

- Idempotent: a row is claimed with `SELECT … FOR UPDATE SKIP LOCKED` and marked sent in the same
  transaction, so two deliverers never send the same row and a sent row is never picked again. A
  crash between the SMTP hand-off and the commit sends it once more (at-least-once); the stable
  Message-ID (`<notification-<id>@…>`) lets mail systems drop that duplicate.
- Failures retry with exponential backoff (1 min, 2, 4 … capped at an hour) through
  `next_attempt_at`, which the beat-driven task reads: no Celery countdown. After MAX_ATTEMPTS the
  row is `failed`; the error stays on the row, visible (and retryable) in the admin.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.utils import timezone

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
    """Send every pending notification that is due; returns how many were sent."""
    sent = 0
    while True:
        with transaction.atomic():
            rows = list(
                Notification.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("recipient")
                .filter(delivery=Notification.Delivery.PENDING, next_attempt_at__lte=now or timezone.now())
                .order_by("next_attempt_at", "id")[:batch]
            )
            if rows:
                sent += _deliver(rows)
        if len(rows) < batch:
            return sent


def _deliver(rows: list[Notification]) -> int:
    sent = 0
    connection = get_connection(fail_silently=False)
    mails = notification_mails(rows)  # kind, case number, link: never the in-app title or body
    try:
        for n in rows:
            fields = ["attempts", "last_error", "delivery", "next_attempt_at", "delivered_at"]
            recipient = n.recipient
            if not recipient.is_active or not recipient.email:
                n.delivery = Notification.Delivery.SKIPPED
                n.save(update_fields=fields)
                continue
            n.attempts += 1
            try:
                EmailMessage(
                    subject=mails[n.pk].subject,
                    body=mails[n.pk].body,
                    from_email=settings.DEFAULT_FROM_EMAIL,
                    to=[recipient.email],
                    headers={"Message-ID": message_id(n)},
                    connection=connection,
                ).send()
            except Exception as exc:  # noqa: BLE001 - any mail failure is retried and recorded
                n.last_error = f"{type(exc).__name__}: {exc}"[:2000]
                if n.attempts >= MAX_ATTEMPTS:
                    n.delivery = Notification.Delivery.FAILED
                    n.next_attempt_at = None
                else:
                    n.next_attempt_at = timezone.now() + backoff(n.attempts)
            else:
                n.delivery = Notification.Delivery.SENT
                n.delivered_at = timezone.now()
                n.last_error = ""
                sent += 1
            n.save(update_fields=fields)
    finally:
        try:
            connection.close()
        except Exception:  # noqa: BLE001, S110 - closing a broken SMTP connection is best effort
            pass
    return sent


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
