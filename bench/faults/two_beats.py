#!/usr/bin/env python
"""Fault: two beats running at once (issue 11 §2) — a second beat started by mistake, or an old one
that never died during a deploy.

    .venv/bin/python bench/faults/two_beats.py               # 1,000 due timers
    .venv/bin/python bench/faults/two_beats.py --timers 200  # the bounded CI form

Two workers (two processes each) and two beats with their own schedule files, started together, so
both beats send `timers.sweep` and `notifications.deliver_pending` at the same moments and the
sweeps run concurrently on different workers. Waits for both beats' first sweep (a minute) and the
outbox to drain. Checks: both beats sent sweeps and at least two sweeps ran, every overdue handoff
escalated exactly once, and every notification was mailed exactly once across both workers.
"""

from __future__ import annotations

import argparse
import re
import time

from stack import Check, Stack, delivery_counts, escalation_evidence, finish, make_overdue_handoffs, say, wait_until


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--timers", type=int, default=1000)
    args = parser.parse_args()
    started = time.monotonic()
    check = Check()

    stack = Stack("two_beats", redis_db=4)
    stack.pg_start()
    stack.redis_start()
    stack.fresh_database()
    stack.django()
    ids = make_overdue_handoffs(args.timers)
    queued_before = delivery_counts()

    stack.start_worker("worker-a", concurrency=2)
    stack.start_worker("worker-b", concurrency=2)
    stack.start_beat("beat-a")
    stack.start_beat("beat-b")
    say("two beats started; their first timers.sweep is due a minute from now")

    def sweeps_sent() -> list[int]:
        return [len(re.findall(r"Sending due task sweep-timers", stack.log_text(b))) for b in ("beat-a", "beat-b")]

    def sweeps_run() -> int:
        return sum(
            len(re.findall(r"Task timers\.sweep\[[^]]+\] succeeded", stack.log_text(w)))
            for w in ("worker-a", "worker-b")
        )

    wait_until("both beats sent a sweep and two sweeps ran", lambda: min(sweeps_sent()) >= 1 and sweeps_run() >= 2, 150)
    wait_until("every handoff escalated", lambda: escalation_evidence(ids)["timers still due"] == 0, 120)
    wait_until("outbox drained", lambda: delivery_counts().get("pending", 0) == 0, 120)
    sent_by_beat = sweeps_sent()
    print(f"  timers.sweep sent by beat-a / beat-b: {sent_by_beat}; sweeps run by the workers: {sweeps_run()}")
    for w in ("worker-a", "worker-b"):
        runs = re.findall(r"Task timers\.sweep\[[^]]+\] succeeded in [0-9.]+s: (\{.*\})", stack.log_text(w))
        for r in runs:
            print(f"  {w}: {r[:200]}")
    check(min(sent_by_beat) >= 1, "both beats sent timers.sweep")
    check(sweeps_run() >= 2, "at least two sweeps ran")
    evidence = escalation_evidence(ids)
    for k, v in evidence.items():
        print(f"  {k:<40}{v}")
    check(evidence["escalations"] == len(ids), f"escalations {evidence['escalations']} == overdue handoffs {len(ids)}")
    check(evidence["duplicate (object, rule, cycle, level)"] == 0, "no duplicate escalation")
    check(evidence["timeline escalation events"] == len(ids), "one timeline event per escalation")
    delivery = delivery_counts()
    sent = stack.message_ids("worker-a", "worker-b")
    print(f"  outbox before: {queued_before}; now: {delivery}; mails in the workers' logs: {len(sent)}")
    check(delivery.get("pending", 0) == 0, "outbox drained")
    check(
        len(sent) == delivery.get("sent", 0),
        f"mails {len(sent)} == notifications marked sent {delivery.get('sent', 0)}",
    )
    check(all(v == 1 for v in sent.values()), "each notification mailed exactly once across both workers")
    finish(check, started)


if __name__ == "__main__":
    main()
