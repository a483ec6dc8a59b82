"""Celery interface of the timers: thin, takes no arguments, safe to run twice at once."""

from celery import shared_task


@shared_task(name="timers.sweep", acks_late=True, ignore_result=True)
def sweep() -> dict:
    # acks_late: a worker killed mid-sweep leaves the message to be redelivered; the sweep is
    # idempotent (skip-locked claims, one transaction per batch, a unique constraint per level).
    from referral_engine.timers.sweep import timers_sweep_due

    return timers_sweep_due().as_dict()
