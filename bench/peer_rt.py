"""Request Tracker 5's side of the peer comparison (issue 10): through its REST 2 API with a session
cookie from one login (RT checks a bcrypt password on every basic-auth request), 4 concurrent
clients, PEER_OPS tickets created, each moved new → open, and each one's history read.

  .venv/bin/python bench/peer_rt.py --port 8091 --out var/bench/<run>/rt.json

The history read asks for the fields our history endpoint returns (who, when, what changed), so the
two reads do comparable work.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from httptiming import Http, run_concurrently

PEER_OPS = int(os.environ.get("BENCH_PEER_OPS", "320"))
HISTORY_FIELDS = "Type,Field,OldValue,NewValue,Created,Creator,Description"


def login(port: int, user: str, password: str) -> str:
    http = Http("127.0.0.1", port)
    response = http.request(
        "POST",
        "/NoAuth/Login.html",
        f"user={user}&pass={password}".encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded", "Referer": f"http://127.0.0.1:{port}/"},
    )
    cookie = response.headers.get("set-cookie", "")
    if not cookie.startswith("RT_SID"):
        raise RuntimeError(f"RT login failed: HTTP {response.status}, no session cookie")
    return cookie.split(";", 1)[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8091)
    parser.add_argument("--out", required=True)
    parser.add_argument("--user", default="root")
    parser.add_argument("--password", default="password")  # RT's initial root password (a throwaway database)
    args = parser.parse_args()
    cookie = login(args.port, args.user, args.password)
    http = Http("127.0.0.1", args.port, {"Cookie": cookie, "Referer": f"http://127.0.0.1:{args.port}/"})
    tickets = [0] * PEER_OPS

    def create(i: int):
        body = {
            "Queue": "General",
            "Subject": f"一人暮らしで外出が減っている ({i})",
            "Requestor": f"resident{i}-{int(time.time())}@example.com",
            "Content": "ひとり暮らしで話し相手がいない。",
        }
        r = http.request("POST", "/REST/2.0/ticket", body)
        if r.status == 201:
            tickets[i] = int(r.json()["id"])
        return r.status == 201, r.seconds, f"HTTP {r.status} {r.body[:120]!r}"

    def status_change(i: int):
        r = http.request("PUT", f"/REST/2.0/ticket/{tickets[i]}", {"Status": "open"})
        ok = r.status == 200 and "Status changed" in r.body.decode("utf-8", "replace")
        return ok, r.seconds, f"HTTP {r.status} {r.body[:120]!r}"

    def history(i: int):
        r = http.request("GET", f"/REST/2.0/ticket/{tickets[i]}/history?fields={HISTORY_FIELDS}&per_page=100")
        return r.status == 200, r.seconds, f"HTTP {r.status} {r.body[:120]!r}"

    results = {}
    for name, op in (("create", create), ("status change", status_change), ("history read", history)):
        run = run_concurrently(name, op, total=PEER_OPS, clients=4, max_seconds=900)
        results[name] = run.summary()
        sys.stderr.write(
            f"[rt] {name:<14} {results[name]['ops_per_s']} /s, p95 {results[name]['p95_ms']} ms, "
            f"{results[name]['failures']} failed\n"
        )
    Path(args.out).write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
