#!/usr/bin/env python
"""Fault: Redis stops in the middle of a burst of intakes (issue 11 §2).

    .venv/bin/python bench/faults/redis_outage.py               # 200 intakes, 20 clients
    .venv/bin/python bench/faults/redis_outage.py --intakes 60  # the bounded CI form

gunicorn (2 workers), a Celery worker and beat on the production settings against the dedicated
PostgreSQL and Redis. A burst of intakes (each with one referral, so each queues notifications in the
outbox) runs; Redis is stopped once a quarter of them are done and started again once three
quarters are, while the burst goes on. Checks: zero 5xx, every intake answered 201, as many cases as
intakes, and once Redis is back every notification is delivered by the worker, each exactly once —
by the same worker process: nobody restarts anything (issue 16 §5: the worker reconnects by itself).
"""

from __future__ import annotations

import argparse
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from stack import Api, Check, Stack, Tally, counts, delivery_counts, finish, say, wait_until


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--intakes", type=int, default=200)
    parser.add_argument("--clients", type=int, default=20)
    args = parser.parse_args()
    started = time.monotonic()
    check = Check()

    stack = Stack("redis_outage", redis_db=2)
    stack.pg_start()
    stack.redis_start()
    stack.fresh_database()
    stack.django()
    url = stack.start_web(workers=2)
    worker = stack.start_worker(concurrency=2)  # no supervisor: it must survive the outage itself
    beat = stack.start_beat()
    tally = Tally()
    api = Api(url, tally, Api.obtain_tokens(url, ["desk_welfare"]))
    before = counts()

    done = 0
    lock = threading.Lock()
    outage = {"stopped_at": None, "started_at": None, "during": 0}

    def one(n: int) -> None:
        nonlocal done
        with lock:
            phase = "up" if not outage["stopped_at"] else "down" if not outage["started_at"] else "back"
        status, _payload = api.intake("desk_welfare", "health_promotion", op=f"intake, Redis {phase}")
        with lock:
            done += 1
            if outage["stopped_at"] and not outage["started_at"]:
                outage["during"] += 1
            if done == args.intakes // 4 and not outage["stopped_at"]:
                stack.redis_stop()
                outage["stopped_at"] = time.monotonic()
                say(f"Redis STOPPED after {done} intakes")
            elif done == 3 * args.intakes // 4 and not outage["started_at"]:
                stack.redis_start()
                outage["started_at"] = time.monotonic()
                say(f"Redis STARTED again after {done} intakes")

    say(f"burst: {args.intakes} intakes from {args.clients} clients")
    with ThreadPoolExecutor(args.clients) as pool:
        list(pool.map(one, range(args.intakes)))
    if not stack.redis_ping():
        stack.redis_start()
    print(tally.table())
    print(f"  statuses: {dict(tally.statuses())}")
    print(
        f"  Redis was down {outage['started_at'] - outage['stopped_at']:.1f} s; {outage['during']} intakes answered meanwhile"
    )
    during = list(tally.calls)[args.intakes // 4 : 3 * args.intakes // 4]
    if during:
        slowest = max(c.seconds for c in during)
        print(f"  slowest intake while Redis was down: {slowest * 1000:.0f} ms")

    check(not tally.server_errors(), f"zero 5xx ({len(tally.server_errors())})")
    for c in tally.server_errors()[:5]:
        print(f"    {c.status} {c.body[:300]!r}")
    check(tally.ok() == args.intakes, f"every intake answered 201 ({tally.ok()}/{args.intakes})")
    after = counts()
    check(
        after["cases"] - before["cases"] == tally.ok(),
        f"cases created {after['cases'] - before['cases']} == intakes {tally.ok()}",
    )
    # A handoff request tells the receiving department's supervisors (docs/timers.md "Who is told").
    from referral_engine.accounts.models import User

    receivers = (
        User.objects.filter(
            memberships__department__code="health_promotion",
            memberships__role="supervisor",
            memberships__ended_at__isnull=True,
            is_active=True,
        )
        .distinct()
        .count()
    )
    queued = after["notifications"] - before["notifications"]
    expected = receivers * tally.ok()
    check(
        receivers > 0 and queued == expected,
        f"notifications queued in the outbox {queued} == {receivers} per intake ({expected})",
    )

    say("waiting for delivery now that Redis is back (beat sends deliver_pending every 30 s)")
    t0 = time.monotonic()
    drained = wait_until("outbox drained", lambda: delivery_counts().get("pending", 0) == 0, 150)
    delivery = delivery_counts()
    print(f"  outbox drained {time.monotonic() - t0:.0f} s after the burst: {delivery}")
    check(drained and delivery.get("sent", 0) == after["notifications"], f"every notification delivered: {delivery}")
    check(worker.poll() is None, f"the worker survived the outage: the same process, never restarted ({worker.pid})")
    check(beat.poll() is None, "beat survived the outage too")
    reconnects = stack.log_text("worker").count("Connected to redis://")
    print(f"  the worker connected to Redis {reconnects} time(s) (once at start, then after the outage)")
    sent = stack.message_ids("worker")
    check(
        len(sent) == delivery.get("sent", 0), f"mails in the worker's log {len(sent)} == sent {delivery.get('sent', 0)}"
    )
    check(all(v == 1 for v in sent.values()), "each notification mailed exactly once")
    finish(check, started)


if __name__ == "__main__":
    main()
