"""Queue notifications in the caller's transaction (the outbox); delivery is a Celery task."""

import logging
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone

from referral_engine.notifications.models import Notification

logger = logging.getLogger(__name__)


def notifications_queue(
    *,
    recipients: Iterable[Any],
    kind: str,
    title: str,
    body: str = "",
    case_id: int | None = None,
    referral_id: int | None = None,
    escalation_id: int | None = None,
    url: str = "",
) -> list[Notification]:
    now = timezone.now()
    seen: set[int] = set()
    rows = []
    for user in recipients:
        if user is None or user.pk in seen or not user.is_active:
            continue
        seen.add(user.pk)
        rows.append(
            Notification(
                recipient=user,
                kind=kind,
                title=title[:200],
                body=body,
                case_id=case_id,
                referral_id=referral_id,
                escalation_id=escalation_id,
                url=url,
                next_attempt_at=now,
                delivery=Notification.Delivery.PENDING if user.email else Notification.Delivery.SKIPPED,
            )
        )
    created = Notification.objects.bulk_create(rows)
    if any(n.delivery == Notification.Delivery.PENDING for n in created) and not _kick_registered():
        transaction.on_commit(kick_delivery)
    return created


def _kick_registered() -> bool:
    """One delivery task per transaction, however many notifications it queues (a sweep queues
    hundreds). Django drops a rolled-back savepoint's callbacks from this list, so it stays exact."""
    connection = transaction.get_connection()
    return any(entry[1] is kick_delivery for entry in getattr(connection, "run_on_commit", ()))


def kick_delivery() -> None:
    from referral_engine.notifications.tasks import deliver_pending

    try:
        deliver_pending.delay()
    except Exception:  # broker down: the beat schedule retries from the outbox
        logger.warning("notifications: could not kick delivery; beat will deliver from the outbox", exc_info=True)


def notifications_mark_read(*, user: Any, notification_ids: Iterable[int] | None = None) -> int:
    qs = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if notification_ids is not None:
        qs = qs.filter(pk__in=list(notification_ids))
    return qs.update(read_at=timezone.now())
