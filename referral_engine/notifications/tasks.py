from celery import shared_task


@shared_task(name="notifications.deliver_pending")
def deliver_pending() -> int:
    from referral_engine.notifications.delivery import notifications_deliver_pending

    return notifications_deliver_pending()
