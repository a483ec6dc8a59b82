"""The throwaway production-like stack the load and fault scripts run against.

Everything here is dedicated, so a fault injected into it disturbs nothing else on the machine (the
test suite, `make run`, other people's work on the shared PostgreSQL 5432 and Redis 6379):

- a PostgreSQL cluster of its own (initdb under $CHAOS_DIR, port $CHAOS_PG_PORT, default 5433) —
  stopping or restarting it is the "PostgreSQL restarted" fault;
- a Redis server of its own (port $CHAOS_REDIS_PORT, default 6391) — stopping it is the Redis fault;
- gunicorn (2 workers), Celery workers and beats on the production settings (SECURE_SSL_REDIRECT off
  on loopback), each in its own process group, logs under artifacts/chaos/.

One migrated and seeded template database per migration fingerprint; each scenario gets a fresh copy
(CREATE DATABASE … TEMPLATE, a second) named for it. `Stack.close()` — called on exit, on Ctrl-C and
on SIGTERM — stops every process it started and both dedicated servers, so nothing is left running.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".venv" / "bin"
FAULTS = Path(__file__).resolve().parent
PY = BIN / "python"
ARTIFACTS = ROOT / "artifacts" / "chaos"
CHAOS_DIR = Path(os.environ.get("CHAOS_DIR", "/tmp/referral-engine-chaos"))  # noqa: S108 - postgres must reach it
PG_PORT = int(os.environ.get("CHAOS_PG_PORT", "5433"))
REDIS_PORT = int(os.environ.get("CHAOS_REDIS_PORT", "6391"))
PASSWORD = os.environ.get("DEMO_PASSWORD", "tsukumi-demo")


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pg_bin() -> Path:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if not versions:
        raise SystemExit("PostgreSQL server binaries not found under /usr/lib/postgresql")
    return versions[-1].parent


def _as_postgres(argv: list[str]) -> list[str]:
    """initdb and pg_ctl refuse to run as root: run them as the postgres OS user then."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *argv]
    return argv


def migrations_fingerprint() -> str:
    digest = hashlib.sha256()
    for path in sorted(ROOT.glob("**/migrations/*.py")):
        if ".venv" in path.parts:
            continue
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


class Failed(Exception):
    """A check did not hold."""


@dataclass
class Check:
    results: list[tuple[bool, str]] = field(default_factory=list)

    def __call__(self, ok: bool, what: str) -> bool:
        self.results.append((bool(ok), what))
        print(f"  {'PASS' if ok else 'FAIL'}  {what}", flush=True)
        return bool(ok)

    @property
    def ok(self) -> bool:
        return all(ok for ok, _ in self.results)


class Stack:
    def __init__(self, scenario: str, *, redis_db: int = 0) -> None:
        self.scenario = scenario
        self.database = f"chaos_{scenario}"
        self.redis_db = redis_db
        self.processes: dict[str, subprocess.Popen] = {}
        self.redis: subprocess.Popen | None = None
        self.pg_dir = CHAOS_DIR / "pg"
        self.pg_bin = _pg_bin()
        self.closed = False
        self.secret_key = secrets.token_urlsafe(48)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        CHAOS_DIR.mkdir(parents=True, exist_ok=True)
        atexit.register(self.close)
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._on_signal)

    # --- environment ----------------------------------------------------------------------------

    @property
    def database_url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{PG_PORT}/{self.database}"

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "REDIS_"))}
        env.update(
            DJANGO_SETTINGS_MODULE="referral_engine.settings.production",
            SECRET_KEY=self.secret_key,
            DATABASE_URL=self.database_url,
            REDIS_URL=f"redis://127.0.0.1:{REDIS_PORT}/{self.redis_db}",
            SECURE_SSL_REDIRECT="False",
            ALLOWED_HOSTS="127.0.0.1,localhost",
            EMAIL_URL="consolemail://",
            API_WRITE_THROTTLE="1000000/minute",
            DEMO_PASSWORD=PASSWORD,
            PYTHONUNBUFFERED="1",
            LOG_LEVEL="WARNING",
            PATH=f"{BIN}:{os.environ.get('PATH', '')}",
        )
        env.update(extra)
        return env

    def django(self):
        """Set this process up as a Django client of the scenario's database (the checks use the ORM)."""
        os.environ.update(self.env())
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        return django

    # --- dedicated PostgreSQL ---------------------------------------------------------------------

    def pg_ready(self) -> bool:
        return (
            subprocess.run(
                [str(self.pg_bin / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(PG_PORT)], check=False
            ).returncode
            == 0
        )

    def pg_start(self) -> None:
        if not (self.pg_dir / "PG_VERSION").exists():
            say(f"initdb a dedicated PostgreSQL cluster in {self.pg_dir}")
            if self.pg_dir.exists():
                shutil.rmtree(self.pg_dir)
            self.pg_dir.mkdir(parents=True)
            if os.geteuid() == 0:
                shutil.chown(self.pg_dir, "postgres", "postgres")
                shutil.chown(CHAOS_DIR, "postgres", "postgres")
            subprocess.run(
                _as_postgres(
                    [
                        str(self.pg_bin / "initdb"),
                        "-D",
                        str(self.pg_dir),
                        "-A",
                        "trust",
                        "-U",
                        "postgres",
                        "-E",
                        "UTF8",
                        "--locale=C.UTF-8",
                        "--no-sync",
                    ]
                ),
                check=True,
                stdout=subprocess.DEVNULL,
            )
        if self.pg_ready():
            return
        options = (
            f"-p {PG_PORT} -c listen_addresses=127.0.0.1 -k {self.pg_dir} -c max_connections=200 "
            "-c fsync=off -c full_page_writes=off -c shared_buffers=128MB"
        )
        subprocess.run(
            _as_postgres(
                [
                    str(self.pg_bin / "pg_ctl"),
                    "-D",
                    str(self.pg_dir),
                    "-l",
                    str(CHAOS_DIR / "postgres.log"),
                    "-o",
                    options,
                    "-w",
                    "-t",
                    "60",
                    "start",
                ]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        say(f"dedicated PostgreSQL up on 127.0.0.1:{PG_PORT}")

    def pg_ctl(self, action: str, mode: str = "fast") -> float:
        started = time.monotonic()
        subprocess.run(
            _as_postgres([str(self.pg_bin / "pg_ctl"), "-D", str(self.pg_dir), "-m", mode, "-w", "-t", "60", action]),
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return time.monotonic() - started

    def _psql(self, sql: str, database: str = "postgres") -> str:
        result = subprocess.run(
            ["psql", "-h", "127.0.0.1", "-p", str(PG_PORT), "-U", "postgres", "-d", database, "-v", "ON_ERROR_STOP=1"]
            + ["-qAtc", sql],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise Failed(f"psql failed: {sql}: {result.stderr.strip()}")
        return result.stdout.strip()

    def fresh_database(self) -> None:
        """A copy of the migrated, seeded template (built once per migration fingerprint)."""
        template = f"chaos_tpl_{migrations_fingerprint()}"
        # Names are ours (a hex fingerprint, the scenario's name): no user input reaches these statements.
        if self._psql(f"SELECT 1 FROM pg_database WHERE datname = '{template}'") != "1":  # noqa: S608
            for old in self._psql("SELECT datname FROM pg_database WHERE datname LIKE 'chaos_tpl_%'").split():
                self._psql(f"DROP DATABASE IF EXISTS {old} WITH (FORCE)")
            say(f"building template database {template}: migrate, seed_demo, calendar, rules")
            self._psql(f"CREATE DATABASE {template}_build")
            env = self.env(DATABASE_URL=f"postgres://postgres@127.0.0.1:{PG_PORT}/{template}_build")
            for argv in (
                ["migrate", "--noinput", "-v", "0"],
                ["seed_demo", "--force", "--no-cases"],
                ["seed_calendar"],
                ["seed_policies"],
            ):
                subprocess.run([str(PY), "manage.py", *argv], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
            self._psql(f"ALTER DATABASE {template}_build RENAME TO {template}")
        self._psql(f"DROP DATABASE IF EXISTS {self.database} WITH (FORCE)")
        self._psql(f"CREATE DATABASE {self.database} TEMPLATE {template}")
        say(f"database {self.database} (copy of {template}) on 127.0.0.1:{PG_PORT}")

    # --- dedicated Redis ----------------------------------------------------------------------------

    def redis_start(self) -> None:
        if self.redis is not None and self.redis.poll() is None:
            return
        self.redis = subprocess.Popen(
            ["redis-server", "--port", str(REDIS_PORT), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=open(ARTIFACTS / f"{self.scenario}-redis.log", "ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        for _ in range(100):
            if self.redis_ping():
                return
            time.sleep(0.05)
        raise Failed("dedicated Redis did not start")

    def redis_ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", REDIS_PORT), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def redis_stop(self) -> None:
        if self.redis is not None and self.redis.poll() is None:
            self.redis.terminate()
            self.redis.wait(timeout=10)
        self.redis = None

    # --- application processes ----------------------------------------------------------------------

    def start(self, name: str, argv: list[str], **env: str) -> subprocess.Popen:
        for old in ARTIFACTS.glob(f"{self.scenario}-{name}.*.log"):
            if not getattr(self, "_died", None):
                old.unlink()
        log = open(ARTIFACTS / f"{self.scenario}-{name}.log", "wb")
        proc = subprocess.Popen(
            argv, cwd=ROOT, env=self.env(**env), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.processes[name] = proc
        return proc

    def log_text(self, name: str) -> str:
        path = ARTIFACTS / f"{self.scenario}-{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def start_web(self, workers: int = 2) -> str:
        port = free_port()
        self.start(
            "web",
            [
                str(BIN / "gunicorn"),
                "referral_engine.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(workers),
                "--timeout",
                "30",
                "--backlog",
                "256",
                "--error-logfile",
                "-",
            ],
        )
        url = f"http://127.0.0.1:{port}"
        import requests

        for _ in range(120):
            try:
                if requests.get(f"{url}/accounts/login/", timeout=2).status_code == 200:
                    say(f"gunicorn ({workers} workers) on {url}")
                    return url
            except requests.RequestException:
                pass
            if self.processes["web"].poll() is not None:
                break
            time.sleep(0.5)
        print(self.log_text("web")[-3000:])
        raise Failed("gunicorn did not come up")

    def start_worker(self, name: str = "worker", concurrency: int = 2, **env: str) -> subprocess.Popen:
        proc = self.start(
            name,
            [
                str(BIN / "celery"),
                "-A",
                "referral_engine",
                "worker",
                "-l",
                "info",
                "-n",
                f"{self.scenario}-{name}@%h",
                "--concurrency",
                str(concurrency),
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            **env,
        )
        for _ in range(120):
            if "ready." in self.log_text(name):
                say(f"celery {name} ready (concurrency {concurrency})")
                return proc
            if proc.poll() is not None:
                break
            time.sleep(0.5)
        print(self.log_text(name)[-3000:])
        raise Failed(f"celery {name} did not start")

    def start_beat(self, name: str = "beat") -> subprocess.Popen:
        schedule = CHAOS_DIR / f"{self.scenario}-{name}-schedule"
        for leftover in CHAOS_DIR.glob(f"{schedule.name}*"):
            leftover.unlink()
        return self.start(
            name, [str(BIN / "celery"), "-A", "referral_engine", "beat", "-l", "info", "-s", str(schedule)]
        )

    def supervise(self, name: str, restart) -> None:
        """Restart `name` whenever it exits, as compose's `restart: unless-stopped` does in production.
        Each restart is counted in `self.restarts[name]` and reported by the scenario."""
        self.restarts = getattr(self, "restarts", Counter())

        def loop() -> None:
            while not self.closed:
                proc = self.processes.get(name)
                if proc is not None and proc.poll() is not None:
                    self.restarts[name] += 1
                    say(f"{name} exited (code {proc.returncode}); restarting it as the supervisor would")
                    (ARTIFACTS / f"{self.scenario}-{name}.log").rename(
                        ARTIFACTS / f"{self.scenario}-{name}.{self.restarts[name]}.log"
                    )
                    self._died.append(name)
                    try:
                        restart()
                    except Failed as exc:
                        say(f"restart of {name} failed: {exc}")
                time.sleep(1)

        self._died: list[str] = getattr(self, "_died", [])
        threading.Thread(target=loop, daemon=True).start()

    def all_logs(self, name: str) -> list[str]:
        return [
            p.stem.removeprefix(f"{self.scenario}-") for p in sorted(ARTIFACTS.glob(f"{self.scenario}-{name}*.log"))
        ]

    def stop(self, name: str, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
        proc = self.processes.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig)
            proc.wait(timeout=timeout)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=10)

    def kill(self, name: str) -> None:
        """SIGKILL the whole process group (the Celery main process and its pool children)."""
        proc = self.processes.pop(name)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for name in list(self.processes):
            self.stop(name, timeout=10)
        self.redis_stop()
        if self.pg_ready():
            try:
                self.pg_ctl("stop")
            except subprocess.CalledProcessError:
                pass

    def _on_signal(self, signum, frame) -> None:
        self.close()
        raise SystemExit(128 + signum)

    # --- waiting on the worker -----------------------------------------------------------------------

    def message_ids(self, *logs: str) -> Counter:
        """Message-IDs of the mails the workers sent (the console mail backend prints each one)."""
        import re

        found: Counter = Counter()
        for name in logs:
            found.update(re.findall(r"^Message-ID: <notification-(\d+)@", self.log_text(name), flags=re.M))
        return Counter({int(k): v for k, v in found.items()})


# --- HTTP clients ---------------------------------------------------------------------------------


@dataclass
class Call:
    op: str
    actor: str
    status: int
    seconds: float
    body: str = ""
    retry_after: str | None = None


class Tally:
    """Client-side record of every call: what succeeded is what the database must show."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: list[Call] = []

    def add(self, call: Call) -> None:
        with self.lock:
            self.calls.append(call)

    def ok(self, op: str | None = None, actor: str | None = None) -> int:
        return sum(
            1
            for c in self.calls
            if 200 <= c.status < 300 and (op is None or c.op == op) and (actor is None or c.actor == actor)
        )

    def statuses(self) -> Counter:
        return Counter(c.status for c in self.calls)

    def server_errors(self) -> list[Call]:
        return [c for c in self.calls if c.status >= 500 or c.status == 0]

    def table(self) -> str:
        by_op: dict[str, list[Call]] = defaultdict(list)
        for c in self.calls:
            by_op[c.op].append(c)
        lines = [f"  {'operation':<22}{'calls':>7}{'ok':>7}{'4xx':>6}{'5xx':>6}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}"]
        for op, calls in sorted(by_op.items()):
            times = sorted(c.seconds * 1000 for c in calls)
            p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
            lines.append(
                f"  {op:<22}{len(calls):>7}{sum(200 <= c.status < 300 for c in calls):>7}"
                f"{sum(400 <= c.status < 500 for c in calls):>6}{sum(c.status >= 500 or c.status == 0 for c in calls):>6}"
                f"{statistics.median(times):>9.0f}{p95:>9.0f}{times[-1]:>9.0f}"
            )
        return "\n".join(lines)


class Api:
    """One client of the REST API (DESIGN §8.1), token-authenticated, one keep-alive session per thread."""

    def __init__(self, base_url: str, tally: Tally, tokens: dict[str, str]) -> None:
        self.base_url = base_url
        self.tally = tally
        self.tokens = tokens
        self.local = threading.local()

    @staticmethod
    def obtain_tokens(base_url: str, usernames: list[str]) -> dict[str, str]:
        import requests

        tokens = {}
        for name in usernames:
            r = requests.post(
                f"{base_url}/api/v1/auth/token/", json={"username": name, "password": PASSWORD}, timeout=30
            )
            if r.status_code != 200:
                raise Failed(f"token for {name}: {r.status_code} {r.text[:300]}")
            tokens[name] = r.json()["token"]
        return tokens

    def _session(self):
        import requests

        if getattr(self.local, "session", None) is None:
            self.local.session = requests.Session()
        return self.local.session

    def call(self, op: str, actor: str, method: str, path: str, **kwargs) -> tuple[int, dict | None]:
        import requests

        headers = {"Authorization": f"Token {self.tokens[actor]}", **kwargs.pop("headers", {})}
        started = time.monotonic()
        try:
            r = self._session().request(method, f"{self.base_url}{path}", headers=headers, timeout=60, **kwargs)
            status, text, retry_after = r.status_code, r.text, r.headers.get("Retry-After")
        except requests.RequestException as exc:
            status, text, retry_after = 0, f"{type(exc).__name__}: {exc}", None
            self.local.session = None
        seconds = time.monotonic() - started
        self.tally.add(
            Call(op, actor, status, seconds, text[:2000] if status >= 400 or status == 0 else "", retry_after)
        )
        try:
            payload = json.loads(text) if text else None
        except ValueError:
            payload = None
        return status, payload

    def intake(
        self, actor: str, to_department: str, *, key: str | None = None, op: str = "intake"
    ) -> tuple[int, dict | None]:
        token = key or uuid.uuid4().hex  # a replay with the same key must send the same body
        kana = "".join("アイウエオカキクケコサシスセソタチツテトナニヌネノ"[int(c, 16) % 25] for c in token[:10])
        body = {
            "person": {
                "family_name": "負荷",
                "given_name": f"試験{token[:8]}",
                "family_name_kana": "フカ",
                "given_name_kana": kana,
                "birth_date": "1950-04-01",
                "district": "kawakami",
            },
            "confirm_new_person": True,
            "channel": "counter",
            "summary": "外出が減り、見守りが必要。𠮷野さん（近所）から相談。",
            "needs": ["isolation", "health"],
            "risk": "normal",
            "referrals": [{"to_department": to_department, "basis": "internal_use", "reason": "家庭訪問の依頼"}],
        }
        headers = {"Idempotency-Key": key} if key else {}
        return self.call(op, actor, "POST", "/api/v1/cases/", json=body, headers=headers)

    def accept(self, actor: str, referral_id: int, op: str = "accept") -> tuple[int, dict | None]:
        return self.call(op, actor, "POST", f"/api/v1/referrals/{referral_id}/transitions/accept/", json={})

    def note(self, actor: str, case_id: int, op: str = "note") -> tuple[int, dict | None]:
        body = {"kind": "call", "body": "電話で近況を確認。体調は安定。次回は訪問予定。", "sensitive": False}
        return self.call(op, actor, "POST", f"/api/v1/cases/{case_id}/activities/", json=body)

    def read(self, actor: str, case_id: int, op: str = "read") -> tuple[int, dict | None]:
        return self.call(op, actor, "GET", f"/api/v1/cases/{case_id}/")


def referral_ids_of(payload: dict | None) -> list[int]:
    """The referral ids an intake response carries (the representation may nest them)."""
    if not payload:
        return []
    referrals = payload.get("referrals") or []
    return [r["id"] if isinstance(r, dict) else int(r) for r in referrals]


def counts() -> dict[str, int]:
    """What the database holds now: the figures the scenarios reconcile (needs `Stack.django()`)."""
    from django.apps import apps

    from referral_engine.audit.models import AccessLog
    from referral_engine.cases.models import Activity, Case, CaseEvent, Person, Referral
    from referral_engine.notifications.models import Notification
    from referral_engine.timers.models import Escalation

    history = sum(m.objects.count() for m in apps.get_models() if m.__name__.startswith("Historical"))
    return {
        "persons": Person.objects.count(),
        "cases": Case.objects.count(),
        "referrals": Referral.objects.count(),
        "accepted": Referral.objects.filter(state="accepted").count(),
        "activities": Activity.objects.count(),
        "timeline events": CaseEvent.objects.count(),
        "history rows": history,
        "access-log rows": AccessLog.objects.count(),
        "notifications": Notification.objects.count(),
        "escalations": Escalation.objects.count(),
    }


def delivery_counts() -> dict[str, int]:
    from django.db.models import Count

    from referral_engine.notifications.models import Notification

    return dict(Notification.objects.values_list("delivery").annotate(n=Count("id")))


def wait_until(what: str, predicate, timeout: float, interval: float = 1.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    say(f"gave up waiting for: {what} ({timeout:.0f} s)")
    return False


def finish(check: Check, started: float) -> None:
    passed = sum(ok for ok, _ in check.results)
    print(f"\n{passed} passed, {len(check.results) - passed} failed  ({time.monotonic() - started:.0f} s)", flush=True)
    sys.exit(0 if check.ok else 1)


# --- Overdue handoffs for the timer scenarios --------------------------------------------------------

TIMER_DEPARTMENTS = ("health_promotion", "longevity_support", "disaster_prevention", "shakyo")


def make_overdue_handoffs(n: int) -> list[int]:
    """`n` referrals opened through the case services (four per case), each requested ten days ago:
    every handoff clock is overdue, so a sweep must escalate each exactly once. Returns referral ids."""
    from datetime import timedelta

    from django.db import transaction
    from django.utils import timezone

    from referral_engine.accounts.models import User
    from referral_engine.audit.history import save_with_history
    from referral_engine.cases.models import Referral
    from referral_engine.cases.services.intake import case_open
    from referral_engine.timers.models import Timer
    from referral_engine.timers.services import timers_referral_changed

    ids: list[int] = []
    cases = (n + len(TIMER_DEPARTMENTS) - 1) // len(TIMER_DEPARTMENTS)
    t0 = time.monotonic()
    for i in range(cases):
        departments = TIMER_DEPARTMENTS[: min(len(TIMER_DEPARTMENTS), n - len(ids))]
        case = case_open(
            actor=User.objects.get(username="desk_welfare"),
            person={
                "family_name": "期限",
                "given_name": f"太郎{i}",
                "family_name_kana": "キゲン",
                "given_name_kana": f"タロウ{i}",
            },
            confirm_new_person=True,
            summary="見守りで気になる",
            referrals=[
                {
                    "to_department": d,
                    "basis": "support_meeting" if d == "shakyo" else "internal_use",
                    "justification": "支援会議（社会福祉法106条の6）で共有" if d == "shakyo" else "",
                    "reason": "訪問の依頼",
                }
                for d in departments
            ],
        )
        ids += list(case.referrals.values_list("pk", flat=True))
    past = timezone.now() - timedelta(days=10)
    Referral.objects.filter(pk__in=ids).update(created_at=past)
    for pk in ids:
        with transaction.atomic():
            referral = (
                Referral.objects.select_for_update(of=("self",)).select_related("case", "to_department").get(pk=pk)
            )
            save_with_history(
                referral,
                actor=None,
                reason="chaos: requested ten days ago",
                update_fields=timers_referral_changed(referral=referral),
            )
    due = Timer.objects.filter(referral_id__in=ids, is_open=True, next_fire_at__lte=timezone.now()).count()
    say(
        f"{len(ids)} handoffs in {cases} cases, requested ten days ago: {due} timers due ({time.monotonic() - t0:.0f} s)"
    )
    if due != len(ids):
        raise Failed(f"expected {len(ids)} due timers, found {due}")
    return ids


def escalation_evidence(referral_ids: list[int]) -> dict[str, int]:
    """How the handoffs escalated: rows, distinct keys, duplicates, timeline events, timers still due."""
    from django.db.models import Count
    from django.utils import timezone

    from referral_engine.cases.models import CaseEvent
    from referral_engine.timers.models import Escalation, Timer

    keys = [f"referral:{pk}" for pk in referral_ids]
    rows = Escalation.objects.filter(object_key__in=keys)
    duplicates = rows.values("object_key", "rule", "cycle", "level").annotate(n=Count("id")).filter(n__gt=1).count()
    return {
        "escalations": rows.count(),
        "objects escalated": rows.values("object_key").distinct().count(),
        "duplicate (object, rule, cycle, level)": duplicates,
        "timeline escalation events": CaseEvent.objects.filter(referral_id__in=referral_ids, kind="escalation").count(),
        "timers still due": Timer.objects.filter(
            referral_id__in=referral_ids, is_open=True, next_fire_at__lte=timezone.now()
        ).count(),
    }
