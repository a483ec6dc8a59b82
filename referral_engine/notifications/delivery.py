"""Email delivery from the outbox: idempotent (a row is claimed with skip_locked and marked sent in
the same transaction), failures retry with backoff and stay visible in the admin."""

from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from referral_engine.notifications.models import Notification

MAX_ATTEMPTS = 8
BATCH = 100


def notifications_deliver_pending(*, batch: int = BATCH) -> int:
    sent = 0
    while True:
        with transaction.atomic():
            rows = list(
                Notification.objects.select_for_update(skip_locked=True)
                .select_related("recipient")
                .filter(delivery=Notification.Delivery.PENDING, next_attempt_at__lte=timezone.now())
                .order_by("next_attempt_at", "id")[:batch]
            )
            for n in rows:
                try:
                    send_mail(n.title, n.body or n.title, settings.DEFAULT_FROM_EMAIL, [n.recipient.email])
                except Exception as exc:  # noqa: BLE001 - any mail failure is retried and recorded
                    n.attempts += 1
                    n.last_error = f"{type(exc).__name__}: {exc}"[:2000]
                    if n.attempts >= MAX_ATTEMPTS:
                        n.delivery = Notification.Delivery.FAILED
                    else:
                        n.next_attempt_at = timezone.now() + timedelta(seconds=30 * 2**n.attempts)
                else:
                    n.attempts += 1
                    n.delivery = Notification.Delivery.SENT
                    n.delivered_at = timezone.now()
                    sent += 1
                n.save(update_fields=["attempts", "last_error", "delivery", "next_attempt_at", "delivered_at"])
        if len(rows) < batch:
            return sent
