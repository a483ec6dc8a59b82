"""Celery interface of the outbox: thin, idempotent (see delivery.py), run by beat every 30 s and
kicked after a commit that queued mail."""

from celery import shared_task


@shared_task(name="notifications.deliver_pending", acks_late=True, ignore_result=True)
def deliver_pending() -> int:
    from referral_engine.notifications.delivery import notifications_deliver_pending

    return notifications_deliver_pending()


@shared_task(name="notifications.send_digests", acks_late=True, ignore_result=True)
def send_digests() -> int:
    """The morning digest for users who chose `daily_digest` (beat, 07:30 Asia/Tokyo); idempotent:
    at most one mail per user and day (notifications/digest.py)."""
    from referral_engine.notifications.digest import notifications_send_digests

    return notifications_send_digests()
