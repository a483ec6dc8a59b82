"""Celery interface of the community reminders: thin, takes no arguments, safe to run twice at once
(rows are claimed with SKIP LOCKED and each reminder clears its own due time)."""

from celery import shared_task

from referral_engine.accounts.system import system_user
from referral_engine.cases.services.evacuation_plans import evacuation_plan_reminders_send
from referral_engine.cases.services.watch import watch_reminders_send


@shared_task(name="cases.community_reminders", ignore_result=True)
def community_reminders() -> dict:
    actor = system_user()
    return {
        "watch_requests": watch_reminders_send(actor=actor),
        "plan_review": evacuation_plan_reminders_send(actor=actor),
    }
