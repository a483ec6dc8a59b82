"""Celery interface of the outbox: thin, idempotent (see delivery.py), run by beat every 30 s and
kicked after a commit that queued mail."""

from celery import shared_task


@shared_task(name="notifications.deliver_pending", acks_late=True, ignore_result=True)
def deliver_pending() -> int:
    from referral_engine.notifications.delivery import notifications_deliver_pending

    return notifications_deliver_pending()
