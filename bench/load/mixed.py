#!/usr/bin/env python
"""Mixed load through gunicorn, then exact reconciliation (issue 11 §1).

    .venv/bin/python bench/load/mixed.py                      # 60 s, 50 concurrent clients
    .venv/bin/python bench/load/mixed.py --duration 15 --clients 20   # the bounded CI form

Production settings (SECURE_SSL_REDIRECT off on loopback), gunicorn with 2 workers, a real Celery
worker, a dedicated PostgreSQL and Redis (bench/faults/stack.py). N client threads run for the given
time, each picking the next call among: intake (a new person, a case and one referral), reading the
new case's referrals, accepting a pending referral as the receiving department's caseworker, adding a
note to an accepted case, and reading a case.

Before the load, one call of each kind is made alone and the rows it adds are measured (the
calibration). Afterwards every figure must equal the sum over successful calls of its calibrated
rows: cases, persons, referrals, accepted referrals, activities, timeline events, history rows (all
simple-history tables), access-log rows and notifications; every notification is delivered by the
worker, each exactly once (Message-IDs in the worker's mail log). Exit 1 on any 5xx or mismatch.
"""

from __future__ import annotations

import argparse
import random
import sys
import threading
import time
from collections import defaultdict, deque
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "faults"))

from stack import Api, Check, Failed, Stack, Tally, counts, delivery_counts, finish, say, wait_until

# Who does what: two windows, each referring to a department whose caseworker accepts and notes.
LANES = [
    {"desk": "desk_welfare", "to": "health_promotion", "worker": "worker_health"},
    {"desk": "desk_health", "to": "longevity_support", "worker": "worker_longevity"},
]
WEIGHTS = {"intake": 30, "accept": 20, "note": 25, "read": 25}


class World:
    """What the clients know: cases they opened, referrals waiting, cases accepted (thread-safe)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pending: dict[int, deque] = defaultdict(deque)  # lane → referral ids (each accepted once)
        self.accepted: dict[int, list[int]] = defaultdict(list)  # lane → case ids
        self.cases: dict[int, list[int]] = defaultdict(list)  # lane → case ids


def intake(api: Api, world: World, lane_no: int, op: str = "intake") -> bool:
    lane = LANES[lane_no]
    status, payload = api.intake(lane["desk"], lane["to"], op=f"{op}:{lane['desk']}")
    if status != 201:
        return False
    case_id = payload["id"]
    status, referrals = api.call(
        f"read-referrals:{lane['desk']}", lane["desk"], "GET", f"/api/v1/cases/{case_id}/referrals/"
    )
    with world.lock:
        world.cases[lane_no].append(case_id)
    if status == 200:
        items = referrals["results"] if isinstance(referrals, dict) and "results" in referrals else referrals
        with world.lock:
            world.pending[lane_no].extend(r["id"] for r in items)
    return True


def step(api: Api, world: World, rng: random.Random, lane_no: int) -> None:
    lane = LANES[lane_no]
    with world.lock:
        have_pending = bool(world.pending[lane_no])
        accepted = list(world.accepted[lane_no][-50:])
        cases = list(world.cases[lane_no][-50:])
    choices = {"intake": WEIGHTS["intake"]}
    if have_pending:
        choices["accept"] = WEIGHTS["accept"]
    if accepted:
        choices["note"] = WEIGHTS["note"]
    if cases:
        choices["read"] = WEIGHTS["read"]
    op = rng.choices(list(choices), weights=list(choices.values()))[0]
    if op == "intake":
        intake(api, world, lane_no)
    elif op == "accept":
        with world.lock:
            referral_id = world.pending[lane_no].popleft() if world.pending[lane_no] else None
        if referral_id is None:
            return
        status, payload = api.accept(lane["worker"], referral_id, op=f"accept:{lane['worker']}")
        if status == 200:
            with world.lock:
                world.accepted[lane_no].append(
                    payload["case"] if isinstance(payload["case"], int) else payload["case"]["id"]
                )
    elif op == "note":
        api.note(lane["worker"], rng.choice(accepted), op=f"note:{lane['worker']}")
    else:
        api.read(lane["desk"], rng.choice(cases), op=f"read:{lane['desk']}")


def calibrate(api: Api, world: World) -> dict[str, dict[str, int]]:
    """One call of each kind alone: the rows each adds (the per-call figures the load must sum to)."""
    deltas: dict[str, dict[str, int]] = {}

    def measure(label: str, fn) -> None:
        before = counts()
        if not fn():
            raise Failed(f"calibration call {label} failed: {api.tally.calls[-1]}")
        after = counts()
        deltas[label] = {k: after[k] - before[k] for k in after}

    for lane_no, lane in enumerate(LANES):
        # An intake and the read of its referrals are two calls: measure them apart.
        before = counts()
        status, payload = api.intake(lane["desk"], lane["to"], op=f"intake:{lane['desk']}")
        if status != 201:
            raise Failed(f"calibration intake: {status} {api.tally.calls[-1].body}")
        after = counts()
        deltas[f"intake:{lane['desk']}"] = {k: after[k] - before[k] for k in after}
        case_id = payload["id"]
        before = counts()
        status, referrals = api.call(
            f"read-referrals:{lane['desk']}", lane["desk"], "GET", f"/api/v1/cases/{case_id}/referrals/"
        )
        after = counts()
        deltas[f"read-referrals:{lane['desk']}"] = {k: after[k] - before[k] for k in after}
        items = referrals["results"] if isinstance(referrals, dict) and "results" in referrals else referrals
        referral_id = items[0]["id"]
        measure(
            f"accept:{lane['worker']}",
            lambda lane=lane, referral_id=referral_id: (
                api.accept(lane["worker"], referral_id, op=f"accept:{lane['worker']}")[0] == 200
            ),
        )
        measure(
            f"note:{lane['worker']}",
            lambda lane=lane, case_id=case_id: api.note(lane["worker"], case_id, op=f"note:{lane['worker']}")[0] == 201,
        )
        measure(
            f"read:{lane['desk']}",
            lambda lane=lane, case_id=case_id: api.read(lane["desk"], case_id, op=f"read:{lane['desk']}")[0] == 200,
        )
        with world.lock:
            world.cases[lane_no].append(case_id)
            world.accepted[lane_no].append(case_id)
    return deltas


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    started = time.monotonic()
    check = Check()

    stack = Stack("load", redis_db=1)
    stack.pg_start()
    stack.redis_start()
    stack.fresh_database()
    stack.django()
    url = stack.start_web(workers=2)
    stack.start_worker(concurrency=2)
    users = sorted({lane[k] for lane in LANES for k in ("desk", "worker")})
    tally = Tally()
    api = Api(url, tally, Api.obtain_tokens(url, users))
    world = World()

    say("calibration: one call of each kind, alone")
    deltas = calibrate(api, world)
    for label, delta in sorted(deltas.items()):
        print(f"  {label:<32}" + ", ".join(f"{k} +{v}" for k, v in delta.items() if v))
    wait_until("calibration mail delivered", lambda: delivery_counts().get("pending", 0) == 0, 60)
    calibration_calls = len(tally.calls)
    before = counts()

    say(f"load: {args.clients} clients for {args.duration:.0f} s")
    deadline = time.monotonic() + args.duration
    load_tally = Tally()
    load_api = Api(url, load_tally, api.tokens)

    def client(n: int) -> None:
        rng = random.Random(args.seed * 1000 + n)
        lane_no = n % len(LANES)
        while time.monotonic() < deadline:
            step(load_api, world, rng, lane_no)

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=args.duration + 120)
    elapsed = args.duration
    calls = load_tally.calls
    say(f"load done: {len(calls)} calls, {len(calls) / elapsed:.1f} calls/s")
    print(load_tally.table())
    print(f"  statuses: {dict(sorted(load_tally.statuses().items()))}")

    check(not load_tally.server_errors(), f"zero 5xx / connection errors ({len(load_tally.server_errors())})")
    for c in load_tally.server_errors()[:5]:
        print(f"    {c.op} {c.status} {c.body[:300]!r}")
    four = [c for c in calls if 400 <= c.status < 500]
    check(not four, f"zero 4xx ({len(four)})")
    for c in four[:5]:
        print(f"    {c.op} {c.status} {c.body[:300]!r}")

    say("waiting for the worker to deliver every notification")
    wait_until("outbox drained", lambda: delivery_counts().get("pending", 0) == 0, 180)
    after = counts()
    ok_by_label = defaultdict(int)
    for c in calls:
        if 200 <= c.status < 300:
            ok_by_label[c.op] += 1
    print(f"  successful calls: {dict(sorted(ok_by_label.items()))}")
    print(f"  {'figure':<18}{'expected':>10}{'found':>10}")
    for key in after:
        expected = sum(ok_by_label[label] * deltas[label][key] for label in ok_by_label)
        found = after[key] - before[key]
        print(f"  {key:<18}{expected:>10}{found:>10}")
        check(found == expected, f"{key}: {found} == {expected} computed from the successful calls")
    intakes = sum(v for k, v in ok_by_label.items() if k.startswith("intake:"))
    check(after["cases"] - before["cases"] == intakes, f"cases created == successful intakes ({intakes})")

    delivery = delivery_counts()
    check(delivery.get("pending", 0) == 0 and delivery.get("failed", 0) == 0, f"outbox drained: {delivery}")
    sent = stack.message_ids("worker")
    duplicates = {k: v for k, v in sent.items() if v > 1}
    check(
        len(sent) == delivery.get("sent", 0),
        f"mails sent {len(sent)} == notifications marked sent {delivery.get('sent', 0)}",
    )
    check(not duplicates, f"each notification mailed exactly once (duplicates: {len(duplicates)})")
    print(f"  (calibration made {calibration_calls} calls before the load; excluded from the figures)")
    finish(check, started)


if __name__ == "__main__":
    main()
