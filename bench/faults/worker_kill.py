#!/usr/bin/env python
"""Fault: the Celery worker is killed with SIGKILL in the middle of a sweep (issue 11 §2), and in the
middle of a batch of mail (issue 16 §5).

    .venv/bin/python bench/faults/worker_kill.py                            # 2,000 due timers, 400 mails
    .venv/bin/python bench/faults/worker_kill.py --timers 400 --mails 100   # the bounded CI form

Opens cases through the case services with four referrals each, moves the requests ten days into
the past (every handoff clock overdue), starts a worker, sends `timers.sweep` and SIGKILLs the worker's
whole process group as soon as the first batch has committed. Then the worker is started again and
the next sweep runs (what beat does every minute). Checks: the kill left whole batches only (each
batch is one transaction), and afterwards every (object, rule, level) escalated exactly once, with its
timeline event, and no timer is still due.

Then the outbox: `--mails` notifications are queued in one transaction, a worker (one pool process)
delivers them and is SIGKILLed once a quarter of them are in its log (the console mail backend prints
each mail with its Message-ID; `slow_mail_settings` makes each take 50 ms, as an SMTP hand-over does,
so that the kill lands inside the batch); a new worker delivers the rest. Checks: every message mailed, and at
most one of them twice — the one in flight at the kill (delivery commits each message as it goes).
"""

from __future__ import annotations

import argparse
import time

from stack import FAULTS, Check, Stack, escalation_evidence, finish, make_overdue_handoffs, say, wait_until

# the mailer hands each message over in 50 ms, as SMTP does, so that the kill lands inside the batch
SLOW_MAIL = {"DJANGO_SETTINGS_MODULE": "slow_mail_settings", "PYTHONPATH": f"{FAULTS / 'support'}:{FAULTS.parents[1]}"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--timers", type=int, default=2000)
    parser.add_argument("--mails", type=int, default=400, help="the outbox batch killed mid-way (0: skip)")
    args = parser.parse_args()
    started = time.monotonic()
    check = Check()

    stack = Stack("worker_kill", redis_db=3)
    stack.pg_start()
    stack.redis_start()
    stack.fresh_database()
    stack.django()
    from django.conf import settings
    from django.db import connection

    from referral_engine.timers.models import Escalation
    from referral_engine.timers.tasks import sweep

    ids = make_overdue_handoffs(args.timers)
    keys = [f"referral:{pk}" for pk in ids]
    batch = settings.TIMER_SWEEP_BATCH

    stack.start_worker(concurrency=1)
    sweep.delay()
    wanted = "once a batch has committed and the next is half-way" if len(ids) > batch else "mid-batch"
    say(f"sent timers.sweep (batches of {batch}); killing the worker {wanted}")

    def batch_in_flight() -> bool:
        """An uncommitted INSERT into the escalation table: the sweep is firing a batch right now."""
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_locks l JOIN pg_class c ON l.relation = c.oid "
                "WHERE c.relname = 'timers_escalation' AND l.mode = 'RowExclusiveLock' AND l.pid <> pg_backend_pid()"
            )
            return cursor.fetchone()[0] > 0

    t0 = time.monotonic()
    fired, in_flight = 0, False
    while time.monotonic() - t0 < 300:
        fired = Escalation.objects.filter(object_key__in=keys).count()
        in_flight = batch_in_flight()
        if in_flight and (fired > 0 or len(ids) <= batch):
            break
        if fired == len(ids):
            break
        time.sleep(0.01)
    stack.kill("worker")
    killed_at = Escalation.objects.filter(object_key__in=keys).count()
    say(f"SIGKILL to the worker's process group: {killed_at} escalated and committed, batch in flight: {in_flight}")
    check(
        in_flight and killed_at < len(ids),
        f"the kill came mid-sweep, inside a batch ({killed_at} of {len(ids)} committed)",
    )
    check(killed_at % batch == 0, f"the batch in flight rolled back whole ({killed_at} is a multiple of {batch})")

    stack.start_worker(concurrency=1)
    sweep.delay()
    say("worker restarted; sent the next timers.sweep (beat's next tick)")
    wait_until("every handoff escalated", lambda: escalation_evidence(ids)["timers still due"] == 0, 300)
    time.sleep(2)
    evidence = escalation_evidence(ids)
    for k, v in evidence.items():
        print(f"  {k:<40}{v}")
    check(evidence["escalations"] == len(ids), f"escalations {evidence['escalations']} == overdue handoffs {len(ids)}")
    check(evidence["objects escalated"] == len(ids), "every handoff escalated")
    check(evidence["duplicate (object, rule, cycle, level)"] == 0, "no (object, rule, cycle, level) twice")
    check(evidence["timeline escalation events"] == len(ids), "one timeline event per escalation")
    check(evidence["timers still due"] == 0, "no timer left due")
    if args.mails:
        stack.stop("worker")
        mail_batch_killed(stack, check, args.mails)
    finish(check, started)


def mail_batch_killed(stack: Stack, check: Check, mails: int) -> None:
    """Issue 16 §5: a worker killed mid-batch re-sends at most one mail."""
    from django.db import transaction

    from referral_engine.accounts.models import User
    from referral_engine.notifications.models import Notification
    from referral_engine.notifications.services import notifications_queue
    from referral_engine.notifications.tasks import deliver_pending

    recipient = User.objects.filter(is_active=True).exclude(email="").order_by("id").first()
    with transaction.atomic():  # one delivery kick for the lot, sent to Redis on commit
        ids = [
            n.pk
            for i in range(mails)
            for n in notifications_queue(recipients=[recipient], kind="fault", title=f"fault mail {i}")
        ]
    ours = set(ids)
    say(f"queued {len(ids)} notifications; a worker delivers them and is killed a quarter of the way")
    stack.start_worker("mailer", concurrency=1, **SLOW_MAIL)
    deliver_pending.delay()

    def mailed(*logs: str) -> dict[int, int]:
        return {k: v for k, v in stack.message_ids(*logs).items() if k in ours}

    t0 = time.monotonic()
    while time.monotonic() - t0 < 120 and sum(mailed("mailer").values()) < max(1, mails // 4):
        time.sleep(0.01)
    stack.kill("mailer")
    in_log = sum(mailed("mailer").values())
    committed = Notification.objects.filter(pk__in=ids, delivery="sent").count()
    say(f"SIGKILL to the mailer: {in_log} mails in its log, {committed} marked sent")
    check(0 < in_log < mails, f"the kill came mid-batch ({in_log} of {mails} mailed)")
    check(
        in_log - committed <= 1,
        f"mailed but not marked sent at the kill: {in_log - committed} (at most the one in flight)",
    )

    stack.start_worker("mailer-restarted", concurrency=1)
    deliver_pending.delay()
    drained = wait_until(
        "the rest delivered", lambda: not Notification.objects.filter(pk__in=ids, delivery="pending").exists(), 120
    )
    time.sleep(1)
    sent = mailed("mailer", "mailer-restarted")
    duplicates = {k: v for k, v in sent.items() if v > 1}
    print(f"  mails {sum(sent.values())} for {len(ids)} notifications; sent twice: {sorted(duplicates)}")
    check(drained and set(sent) == ours, f"every notification mailed ({len(sent)} of {len(ids)})")
    check(
        len(duplicates) <= 1 and all(v == 2 for v in duplicates.values()),
        f"at most one mail sent twice after the kill ({len(duplicates)})",
    )


if __name__ == "__main__":
    main()
