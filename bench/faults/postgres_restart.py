#!/usr/bin/env python
"""Fault: PostgreSQL restarted under load (issue 11 §2).

    .venv/bin/python bench/faults/postgres_restart.py                # 30 s, 20 clients
    .venv/bin/python bench/faults/postgres_restart.py --duration 15  # the bounded CI form

gunicorn (2 workers) and a worker against the dedicated PostgreSQL. Clients send intakes (each with
an Idempotency-Key) and reads; the database is restarted twice meanwhile: `pg_ctl restart -m fast`
(a clean restart: sessions terminated) and `-m immediate` (a crash: no shutdown checkpoint).
Checks: every answer is a success or a 503 with Retry-After and no traceback (JSON in the API's
error shape); afterwards each refused intake, sent again with its key as a client should, succeeds
exactly once; and no half-made case remains (each case has its person, opening event, history,
referral with its two timeline events, and clocks; no person without a case).
"""

from __future__ import annotations

import argparse
import threading
import time
import uuid

from stack import Api, Check, Stack, Tally, counts, finish, say


def integrity_problems() -> dict[str, int]:
    from django.db.models import Count, Q

    from referral_engine.cases.models import Case, CaseEvent, IntakeToken, Person, Referral
    from referral_engine.timers.models import Timer

    cases = Case.objects.annotate(
        opened=Count("events", filter=Q(events__kind="case_opened"), distinct=True),
        refs=Count("referrals", distinct=True),
    )
    referral_events = Referral.objects.annotate(n=Count("events", distinct=True))
    case_ids = set(Case.objects.values_list("pk", flat=True))
    return {
        "cases without their opening event": cases.filter(opened=0).count(),
        "cases without history": Case.objects.exclude(pk__in=Case.history.values("id")).count(),
        "cases without their referral": cases.filter(refs=0).count(),
        "referrals without request + disclosure events": referral_events.filter(n__lt=2).count(),
        "referrals without a clock": Referral.objects.exclude(pk__in=Timer.objects.values("referral_id")).count(),
        "persons without a case": Person.objects.annotate(n=Count("cases")).filter(n=0).count(),
        "intake keys without a case": IntakeToken.objects.exclude(case_id__in=case_ids).count(),
        "events of missing cases": CaseEvent.objects.exclude(case_id__in=case_ids).count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=20)
    args = parser.parse_args()
    started = time.monotonic()
    check = Check()

    stack = Stack("postgres_restart", redis_db=5)
    stack.pg_start()
    stack.redis_start()
    stack.fresh_database()
    stack.django()
    url = stack.start_web(workers=2)
    stack.start_worker(concurrency=2)
    stack.supervise("worker", lambda: stack.start_worker(concurrency=2))
    tally = Tally()
    api = Api(url, tally, Api.obtain_tokens(url, ["desk_welfare"]))
    from django.db import connections

    before = counts()
    connections.close_all()
    keys: dict[str, int] = {}
    lock = threading.Lock()
    deadline = time.monotonic() + args.duration

    def client(n: int) -> None:
        while time.monotonic() < deadline:
            key = uuid.uuid4().hex
            status, payload = api.intake("desk_welfare", "health_promotion", key=key)
            with lock:
                keys[key] = status
            if status == 201 and n % 3 == 0:
                api.read("desk_welfare", payload["id"])

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(args.clients)]
    for t in threads:
        t.start()
    restarts = []
    for at, mode in ((0.3, "fast"), (0.65, "immediate")):
        time.sleep(max(0.0, deadline - args.duration * (1 - at) - time.monotonic()))
        seconds = stack.pg_ctl("restart", mode=mode)
        restarts.append((mode, seconds))
        say(f"PostgreSQL restarted (-m {mode}) in {seconds:.1f} s")
    for t in threads:
        t.join(timeout=args.duration + 120)

    print(tally.table())
    statuses = tally.statuses()
    print(f"  statuses: {dict(sorted(statuses.items()))}")
    refused = [c for c in tally.calls if c.status == 503]
    other = [c for c in tally.calls if c.status >= 500 and c.status != 503 or c.status == 0]
    check(not other, f"no 5xx other than 503, no dropped connection ({len(other)})")
    for c in other[:5]:
        print(f"    {c.op} {c.status} {c.body[:300]!r}")
    check(all(c.retry_after for c in refused), f"every 503 carries Retry-After ({len(refused)} refused)")
    leaky = [c for c in refused if any(w in c.body for w in ("Traceback", "psycopg", "OperationalError", 'File "'))]
    check(not leaky, "no 503 body shows a traceback or a driver error")
    check(all('"service_unavailable"' in c.body for c in refused), "each 503 is the API's JSON error shape")
    check(len(refused) > 0, f"the restarts were felt: {len(refused)} requests refused with 503")

    say("sending every refused intake again with its Idempotency-Key")
    retry_tally = Tally()
    retry_api = Api(url, retry_tally, api.tokens)
    failed_keys = [k for k, s in keys.items() if s != 201]
    for key in failed_keys:
        status, _payload = retry_api.intake("desk_welfare", "health_promotion", key=key, op="retry")
        keys[key] = status
    print(f"  retries: {dict(retry_tally.statuses())} (200 = it had been saved before the failure)")
    check(all(s in (200, 201) for s in keys.values()), f"every intake succeeded in the end ({len(keys)})")

    after = counts()
    created = after["cases"] - before["cases"]
    check(created == len(keys), f"cases created {created} == distinct intakes {len(keys)} (none lost, none twice)")
    problems = integrity_problems()
    for k, v in problems.items():
        print(f"  {k:<48}{v}")
    check(not any(problems.values()), "no half-made case")
    finish(check, started)


if __name__ == "__main__":
    main()
