"""The three operations compared with Request Tracker (intake, a case transition, the history read)
and a near no-op request, through gunicorn, with their CPU per operation and, on request, py-spy
flame graphs (issue 23, items 1 and 4). A subset of bench/measure.py that can be run on its own
against a database `generate_load` filled, so a change can be measured before and after in minutes:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/<db> .venv/bin/python bench/ops_profile.py \
        [--workers 2] [--worker-class sync|gthread] [--threads 4] [--ops 320] [--clients 4] \
        [--profile docs/perf --tag before] [--ops-only create,status,history,noop]

Prints one JSON object: per operation its rate, p50/p95, failures, and the CPU it cost per operation in
the gunicorn workers and in the database's backends (from /proc: user + system time, before and
after; the backends are the connections to this database, so run it on a database of its own), and
the load average at the start and the end. With `--profile DIR` each operation is sampled by
`py-spy record --subprocesses` on the gunicorn master (every worker) into DIR/<op>-<tag>.svg.
Loopback only (bench/httptiming.py)."""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.httptiming import Http, run_concurrently  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
LOG_DIR = ROOT / "var" / "bench" / "ops_profile"


def cpu_by_pid(pids: list[int]) -> dict[int, float]:
    out = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[pid] = (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime
    return out


def cpu_spent(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds between two readings: a process that appeared in between counts from zero."""
    return sum(after[pid] - before.get(pid, 0.0) for pid in after)


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def backend_pids(database: str) -> list[int]:
    out = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", database, "-At", "-v", f"db={database}"],
        input="select pid from pg_stat_activity where datname = :'db' and pid <> pg_backend_pid();\n",
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return [int(p) for p in out.stdout.split()]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8097)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-class", default="sync")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--ops", type=int, default=320)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--profile", default="")
    parser.add_argument("--tag", default="")
    parser.add_argument("--ops-only", default="create,status,history,noop")
    parser.add_argument("--user", default="worker_welfare")
    args = parser.parse_args()
    database = os.environ["DATABASE_URL"].rsplit("/", 1)[1]
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="referral_engine.settings.production",
        SECRET_KEY=env.get("SECRET_KEY") or secrets.token_urlsafe(48),
        SECURE_SSL_REDIRECT="False",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        API_WRITE_THROTTLE="10000000/minute",
        LOG_LEVEL="WARNING",
        CONN_MAX_AGE=env.get("CONN_MAX_AGE", "60"),
    )
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    loadavg_start = Path("/proc/loadavg").read_text().split()[:3]
    gunicorn = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "gunicorn"), "referral_engine.wsgi:application",
         "--workers", str(args.workers), "--worker-class", args.worker_class, "--threads", str(args.threads),
         "--bind", f"127.0.0.1:{args.port}", "--timeout", "120", "--max-requests", "0", "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=open(LOG_DIR / f"gunicorn-{args.port}.log", "ab"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        http = Http("127.0.0.1", args.port)
        deadline = time.monotonic() + 60
        while True:
            try:
                if http.request("GET", "/healthz").status in (200, 503):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        password = env.get("DEMO_PASSWORD") or _demo_password()
        token = http.request("POST", "/api/v1/auth/token/", {"username": args.user, "password": password}).json()[
            "token"
        ]
        api = Http("127.0.0.1", args.port, {"Authorization": f"Token {token}"})
        created: list[int] = [0] * args.ops

        def intake(i: int):
            body = {
                "person": {"family_name": "鈴木", "given_name": f"一郎{i}", "family_name_kana": "スズキ",
                           "given_name_kana": "イチロウ", "birth_date": "1948-03-04", "district": "aoe",
                           "address": "津久見市 2-3", "phone": ""},
                "confirm_new_person": True, "channel": "phone", "summary": "ひとり暮らしで話し相手がいない",
                "needs": ["isolation"], "risk": "normal",
            }  # fmt: skip
            r = api.request("POST", "/api/v1/cases/", body)
            if r.status == 201:
                created[i] = r.json()["id"]
            return r.status == 201, r.seconds, f"HTTP {r.status} {r.body[:120]!r}"

        def transition(i: int):
            r = api.request(
                "POST", f"/api/v1/cases/{created[i]}/transitions/start_assessment/", {"reason": "聞き取り開始"}
            )
            return r.status == 200, r.seconds, f"HTTP {r.status} {r.body[:120]!r}"

        def history(i: int):
            r = api.request("GET", f"/api/v1/cases/{created[i]}/history/")
            return r.status == 200, r.seconds, f"HTTP {r.status} {r.body[:120]!r}"

        def noop(i: int):
            r = api.request("GET", "/api/v1/")
            return r.status == 200, r.seconds, f"HTTP {r.status} {r.body[:120]!r}"

        wanted = set(args.ops_only.split(","))
        results: dict[str, Any] = {}
        for key, name, op in (
            ("create", "create", intake),
            ("status", "status change", transition),
            ("history", "history read", history),
            ("noop", "no-op (GET /api/v1/)", noop),
        ):
            if key not in wanted and not (key == "create" and wanted & {"status", "history"}):
                continue
            for i in range(3):  # warm every worker's per-process caches
                noop(i)
            workers = children(gunicorn.pid)
            backends = backend_pids(database)
            spy = None
            if args.profile and key in wanted:
                out = Path(args.profile) / f"{key}-{args.tag or 'run'}.svg"
                out.parent.mkdir(parents=True, exist_ok=True)  # py-spy writes into an existing directory only
                spy = subprocess.Popen(
                    [str(ROOT / ".venv" / "bin" / "py-spy"), "record", "--subprocesses", "--pid", str(gunicorn.pid),
                     "--rate", "250", "--output", str(out), "--format", "flamegraph"],
                    stdout=subprocess.DEVNULL, stderr=open(LOG_DIR / f"py-spy-{key}.log", "wb"),
                )  # fmt: skip
                time.sleep(1.5)
            app0, db0 = cpu_by_pid(workers), cpu_by_pid(backends)
            run = run_concurrently(name, op, total=args.ops, clients=args.clients, max_seconds=600)
            app1 = cpu_by_pid(children(gunicorn.pid))
            db1 = cpu_by_pid(sorted(set(backends) | set(backend_pids(database))))
            if spy is not None:
                spy.send_signal(signal.SIGINT)
                spy.wait(timeout=60)
            summary = run.summary()
            done = max(1, len(run.latencies))
            summary["cpu_ms_per_op_app"] = round(cpu_spent(app0, app1) * 1000 / done, 2)
            summary["cpu_ms_per_op_db"] = round(cpu_spent(db0, db1) * 1000 / done, 2)
            results[key] = summary
        results["config"] = {
            "workers": args.workers,
            "worker_class": args.worker_class,
            "threads": args.threads,
            "clients": args.clients,
            "ops": args.ops,
            "loadavg_start": loadavg_start,
            "loadavg_end": Path("/proc/loadavg").read_text().split()[:3],
            "db_pool": env.get("DATABASE_POOL", ""),
            "prepare_threshold": env.get("DATABASE_PREPARE_THRESHOLD", ""),
        }
        print(json.dumps(results, ensure_ascii=False))
    finally:
        os.killpg(gunicorn.pid, signal.SIGTERM)
        try:
            gunicorn.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(gunicorn.pid, signal.SIGKILL)


def _demo_password() -> str:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "referral_engine.settings.base")
    import django

    django.setup()
    from django.conf import settings

    return settings.DEMO_PASSWORD


if __name__ == "__main__":
    main()
