"""CPU per operation in one process, without gunicorn and without concurrency: the three operations
compared with Request Tracker and a near no-op request, each through Django's full middleware and
DRF's token authentication (Django's test client, `Authorization: Token …`), on a database
`generate_load` filled (issue 23: on a shared machine the CPU time of one process, `time.process_time`,
moves far less with the load than a rate does). Prints one JSON object: per operation the process
CPU ms and wall ms per operation (median of `--rounds` rounds of `--ops`) and its statements.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/<db> .venv/bin/python bench/ops_inprocess.py [--ops 100]
        [--cprofile DIR]   # and cProfile's stats of each operation's timed rounds in DIR/<operation>.pstats
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ops", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--user", default="worker_welfare")
    parser.add_argument("--cprofile", metavar="DIR", help="write DIR/<operation>.pstats of the timed rounds")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "referral_engine.settings.base")
    os.environ.setdefault("DEBUG", "False")
    os.environ.setdefault("API_WRITE_THROTTLE", "10000000/minute")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("SECRET_KEY", "bench-in-process")
    import logging

    import django

    django.setup()
    logging.disable(logging.INFO)
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from referral_engine.accounts.models import User
    from referral_engine.accounts.tokens import api_token_issue

    key = api_token_issue(user=User.objects.get(username=args.user))[1]
    client = Client(HTTP_AUTHORIZATION=f"Token {key}", HTTP_HOST="127.0.0.1")
    stamp = int(time.time())

    def intake(i: int) -> int:
        body = {
            "person": {"family_name": "鈴木", "given_name": f"一郎{stamp}{i}", "family_name_kana": "スズキ",
                       "given_name_kana": "イチロウ", "birth_date": "1948-03-04", "district": "aoe",
                       "address": "津久見市 2-3", "phone": ""},
            "confirm_new_person": True, "channel": "phone", "summary": "ひとり暮らしで話し相手がいない",
            "needs": ["isolation"], "risk": "normal",
        }  # fmt: skip
        r = client.post("/api/v1/cases/", body, content_type="application/json")
        assert r.status_code == 201, r.content[:300]
        return r.json()["id"]

    results: dict[str, dict[str, float]] = {}

    def timed(name: str, op, items: list) -> list:
        out, cpu, wall = [], [], []
        statements = 0
        profiler = cProfile.Profile(time.process_time) if args.cprofile else None  # CPU, not wall
        if profiler:
            profiler.enable()
        for round_ in range(args.rounds):
            batch = []
            c0, w0 = time.process_time(), time.perf_counter()
            for index, x in enumerate(items[round_]):
                if round_ == args.rounds - 1 and index == 0:
                    with CaptureQueriesContext(connection) as ctx:
                        batch.append(op(x))
                    statements = len(ctx.captured_queries)
                else:
                    batch.append(op(x))
            cpu.append((time.process_time() - c0) * 1000 / len(items[round_]))
            wall.append((time.perf_counter() - w0) * 1000 / len(items[round_]))
            out.append(batch)
        if profiler:
            profiler.disable()
            Path(args.cprofile).mkdir(parents=True, exist_ok=True)
            profiler.dump_stats(Path(args.cprofile) / f"{name.split(' (')[0].replace(' ', '-')}.pstats")
        results[name] = {
            "cpu_ms": round(statistics.median(cpu), 2),
            "wall_ms": round(statistics.median(wall), 2),
            "statements": statements,
        }
        return out

    def transition(case_id: int) -> None:
        r = client.post(
            f"/api/v1/cases/{case_id}/transitions/start_assessment/",
            {"reason": "聞き取り開始"},
            content_type="application/json",
        )
        assert r.status_code in (200, 409), r.content[:300]

    def history(case_id: int) -> None:
        assert client.get(f"/api/v1/cases/{case_id}/history/").status_code == 200

    def noop(_i: int) -> None:
        assert client.get("/api/v1/").status_code == 200

    for i in range(5):  # warm the per-process caches
        transition(intake(-1 - i))
    n = args.ops
    created = timed("create", intake, [list(range(r * n, (r + 1) * n)) for r in range(args.rounds)])
    timed("status change", transition, [ids[:] for ids in created])
    timed("history read", history, [ids[:] for ids in created])
    timed("no-op (GET /api/v1/)", noop, [list(range(n)) for _ in range(args.rounds)])
    results["loadavg"] = Path("/proc/loadavg").read_text().split()[:3]
    print(json.dumps(results, ensure_ascii=False))


if __name__ == "__main__":
    main()
