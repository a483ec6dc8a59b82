"""The measurements of one data size (run by bench/run.py in its own process, against the bench database).

  .venv/bin/python bench/measure.py --size 10000 --out var/bench/<run>/10000.json

Everything here is bounded in count and in time, and talks to 127.0.0.1 only:
  1. pages in process (Django's test client) and through gunicorn (2 sync workers) on loopback;
  2. the timer sweep with nothing due;
  3. intake under wrk, pgbench with the same row writes, our side of the Request Tracker comparison;
  4. EXPLAIN (ANALYZE, BUFFERS) of the overdue and visible-cases queries and of each page's slowest queries;
  5. peak RSS of a gunicorn worker once the workers have served 10,000 requests;
  6. the sweep with 10,000 due (10,000 more cases are generated for it: it comes last).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from httptiming import Http, percentile, run_concurrently  # noqa: E402

PAGE_REQUESTS = int(os.environ.get("BENCH_PAGE_REQUESTS", "40"))
PAGE_SECONDS = float(os.environ.get("BENCH_PAGE_SECONDS", "120"))
WRK_SECONDS = int(os.environ.get("BENCH_WRK_SECONDS", "30"))
PEER_OPS = int(os.environ.get("BENCH_PEER_OPS", "320"))
PEER_CLIENTS = 4
RSS_REQUESTS = 10_000
DUE = int(os.environ.get("BENCH_DUE", "10000"))
# Only these pages (names as in page_targets), and nothing else: a re-measure on an existing database.
ONLY_PAGES = {p.strip() for p in os.environ.get("BENCH_ONLY_PAGES", "").split(",") if p.strip()}
PYTHON = str(ROOT / ".venv" / "bin" / "python")


def log(message: str) -> None:
    sys.stderr.write(f"[measure {time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()


def ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


# --- The pages ------------------------------------------------------------------------------------


def page_targets() -> list[dict[str, Any]]:
    """(name, user, paths) of each page measured; detail pages cycle through sampled cases."""
    from django.db.models import Max

    from referral_engine.cases.models import Case

    rng = random.Random(42)
    top = Case.objects.aggregate(m=Max("id"))["m"] or 1

    def sample(qs, n: int = 30) -> list[int]:
        ids: list[int] = []
        for _ in range(20):  # bounded: random id windows, no ORDER BY random() on a million rows
            start = rng.randrange(1, max(2, top))
            ids += list(qs.filter(id__gte=start).order_by("id").values_list("id", flat=True)[: n // 3])
            if len(ids) >= n:
                break
        return ids[:n] or list(qs.order_by("-id").values_list("id", flat=True)[:n])

    welfare = sample(Case.objects.filter(lead_department__code="social_welfare"))
    anything = sample(Case.objects.all())
    searches = search_queries(Case.objects.filter(pk__in=anything[:12]).select_related("person"))
    return [
        {"name": "inbox", "user": "worker_health", "paths": ["/inbox/"]},
        {"name": "case detail", "user": "worker_welfare", "paths": [f"/cases/{i}/" for i in welfare]},
        {"name": "dashboard", "user": "chief_welfare", "paths": ["/dashboard/"]},
        {"name": "visible cases", "user": "worker_health", "paths": ["/cases/"]},
        {"name": "search", "user": "worker_health", "paths": [f"/cases/?{urlencode({'q': q})}" for q in searches]},
        {"name": "auditor timeline", "user": "auditor", "paths": [f"/audit/cases/{i}/" for i in anything]},
    ]


def search_queries(cases) -> list[str]:
    """What a worker types into the case list's search (issue 18, item 6), taken from sampled cases:
    two characters of a given name in kana (hiragana, as typed at a counter), the family name in
    kanji, the last six digits of a case number, and the number without its zeros (R8-4)."""
    from referral_engine.cases.normalize import to_katakana

    hira = {code + 0x60: code for code in range(ord("ぁ"), ord("ゖ") + 1)}
    queries: list[str] = []
    for case in cases:
        person = case.person
        kana = to_katakana(person.given_name_kana)
        era, seq = case.number.split("-")
        queries += [
            kana[-2:].translate(hira) if len(kana) >= 2 else person.family_name_kana[:2],
            person.family_name[:2] if len(person.family_name) >= 2 else person.family_name_kana[:3],
            seq,
            f"{era}-{int(seq)}",
        ]
    return [q for q in queries if len(q.strip()) >= 2] or ["タナ"]


def sessions_for(usernames: set[str]) -> dict[str, str]:
    """A logged-in session per user (as a browser would hold after logging in once)."""
    from django.test import Client

    from referral_engine.accounts.models import User

    out = {}
    for username in usernames:
        client = Client()
        client.force_login(User.objects.get(username=username))
        out[username] = client.cookies["sessionid"].value
    return out


def pages_in_process(targets: list[dict[str, Any]]) -> dict[str, Any]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from referral_engine.accounts.models import User

    results = {}
    slow_queries = {}
    for target in targets:
        client = Client(HTTP_HOST="127.0.0.1", HTTP_ACCEPT_LANGUAGE="ja")
        client.force_login(User.objects.get(username=target["user"]))
        paths = target["paths"]
        for path in paths[:3]:  # warm the per-process caches and the database's
            client.get(path)
        latencies, statuses = [], set()
        deadline = time.monotonic() + PAGE_SECONDS
        for i in range(PAGE_REQUESTS):
            if time.monotonic() > deadline:
                break
            path = paths[i % len(paths)]
            started = time.perf_counter()
            response = client.get(path)
            latencies.append(time.perf_counter() - started)
            statuses.add(response.status_code)
        with CaptureQueriesContext(connection) as ctx:
            client.get(paths[0])
        slow = sorted(ctx.captured_queries, key=lambda q: -float(q["time"]))[:3]
        slow_queries[target["name"]] = [q["sql"] for q in slow if q["sql"].lstrip().upper().startswith("SELECT")]
        results[target["name"]] = {
            "user": target["user"],
            "requests": len(latencies),
            "statuses": sorted(statuses),
            "queries": len(ctx.captured_queries),
            "p50_ms": ms(percentile(latencies, 50)),
            "p95_ms": ms(percentile(latencies, 95)),
        }
        log(
            f"in process  {target['name']:<18} p50 {results[target['name']]['p50_ms']} ms, p95 {results[target['name']]['p95_ms']} ms"
        )
    return {"pages": results, "slow_queries": slow_queries}


def pages_http(targets, sessions: dict[str, str], port: int, counter: list[int]) -> dict[str, Any]:
    results = {}
    for target in targets:
        http = Http("127.0.0.1", port, {"Cookie": f"sessionid={sessions[target['user']]}", "Accept-Language": "ja"})
        paths = target["paths"]
        for path in paths[:3]:
            http.request("GET", path)
            counter[0] += 1
        latencies, statuses = [], set()
        deadline = time.monotonic() + PAGE_SECONDS
        for i in range(PAGE_REQUESTS):
            if time.monotonic() > deadline:
                break
            response = http.request("GET", paths[i % len(paths)])
            counter[0] += 1
            latencies.append(response.seconds)
            statuses.add(response.status)
        results[target["name"]] = {
            "user": target["user"],
            "requests": len(latencies),
            "statuses": sorted(statuses),
            "p50_ms": ms(percentile(latencies, 50)),
            "p95_ms": ms(percentile(latencies, 95)),
        }
        log(
            f"gunicorn    {target['name']:<18} p50 {results[target['name']]['p50_ms']} ms, p95 {results[target['name']]['p95_ms']} ms"
        )
    return results


# --- gunicorn -------------------------------------------------------------------------------------


class Gunicorn:
    def __init__(self, port: int, log_dir: Path) -> None:
        self.port = port
        self.log_dir = log_dir
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Gunicorn:
        log(f"starting gunicorn (2 sync workers) on 127.0.0.1:{self.port}")
        self.proc = subprocess.Popen(
            [
                str(ROOT / ".venv" / "bin" / "gunicorn"),
                "referral_engine.wsgi:application",
                "--workers",
                "2",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--timeout",
                "120",
                "--max-requests",
                "0",
                "--log-level",
                "warning",
            ],  # fmt: skip
            cwd=ROOT,
            stdout=open(self.log_dir / f"gunicorn-{self.port}.log", "ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        http = Http("127.0.0.1", self.port)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if http.request("GET", "/healthz").status in (200, 503):
                    return self
            except OSError:
                time.sleep(0.5)
        raise RuntimeError("gunicorn did not answer within 60 s")

    def worker_pids(self) -> list[int]:
        assert self.proc is not None
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        return [int(p) for p in children.read_text().split()] if children.exists() else []

    def peak_rss_mb(self) -> dict[int, float]:
        out = {}
        for pid in self.worker_pids():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    out[pid] = round(int(line.split()[1]) / 1024, 1)
        return out

    def __exit__(self, *exc) -> None:
        if self.proc is None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


# --- The fiscal-year report ----------------------------------------------------------------------

REPORT_RUNS = int(os.environ.get("BENCH_REPORT_RUNS", "5"))


def report_timing() -> dict[str, Any]:
    """The fiscal-year report's figures (issue 21: ≤ 2 s at 1M cases) for the year of the newest case,
    counted afresh each run (the per-scope cache is what a second look reads; this is the first look):
    the whole desk (the auditor's scope) and one department (chief_health's)."""
    from referral_engine.access import policy
    from referral_engine.accounts.models import User
    from referral_engine.cases.models import Case
    from referral_engine.reports.periods import FiscalYear
    from referral_engine.reports.selectors import report_figures

    newest = Case.objects.order_by("-created_at").values_list("created_at", flat=True).first()
    fy = FiscalYear.of(newest) if newest else FiscalYear.current()
    out: dict[str, Any] = {"fiscal_year": fy.year}
    for label, username in (("whole desk", "auditor"), ("one department", "chief_health")):
        scope = policy.report_scope(User.objects.get(username=username))
        durations = []
        for _ in range(REPORT_RUNS):
            started = time.perf_counter()
            report_figures(scope=scope, fy=fy, now=timezone_now())
            durations.append(time.perf_counter() - started)
        out[label] = {"runs": len(durations), "p50_ms": ms(percentile(durations, 50)), "max_ms": ms(max(durations))}
        log(f"report      {label:<18} FY{fy.year} p50 {out[label]['p50_ms']} ms, max {out[label]['max_ms']} ms")
    return out


def timezone_now():
    """A `now` makes report_figures count afresh (it never caches a report for a given moment)."""
    from django.utils import timezone

    return timezone.now()


# --- Disaster mode -------------------------------------------------------------------------------

DISASTER_FLAGGED = int(os.environ.get("BENCH_DISASTER_FLAGGED", "10000"))


def disaster_timing() -> dict[str, Any]:
    """Issue 20's budget: with 10,000 people flagged 避難行動要支援者, opening a disaster over every district
    (≤ 2 s: the checks, their history rows, the staff announcement) and the board (≤ 150 ms p95, the
    supervisor's whole city and a connector's district). The event is closed afterwards."""
    from django.db import connection

    from referral_engine.accounts.models import District, User
    from referral_engine.cases.models import Person
    from referral_engine.disasters import selectors as disaster_selectors
    from referral_engine.disasters.services import disaster_close, disaster_open

    ids = list(
        Person.objects.filter(district__isnull=False).order_by("id").values_list("id", flat=True)[:DISASTER_FLAGGED]
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE cases_person SET flags = flags || '[\"evacuation_support\"]'::jsonb "
            "WHERE id = ANY(%s) AND NOT flags @> '[\"evacuation_support\"]'::jsonb",
            [ids],
        )
    chief, minsei = User.objects.get(username="chief_bosai"), User.objects.get(username="minsei_kawakami")
    codes = list(District.objects.filter(is_active=True).values_list("code", flat=True))
    started = time.perf_counter()
    disaster = disaster_open(actor=chief, name="bench", kind="earthquake", district_codes=codes)
    open_ms = ms(time.perf_counter() - started)
    out: dict[str, Any] = {"flagged": len(ids), "checks": disaster.checks.count(), "open_ms": open_ms}
    for label, user in (("city", chief), ("connector", minsei)):
        durations = []
        for _ in range(20):
            fresh = User.objects.get(pk=user.pk)  # the policy's per-user caches start empty, as per request
            started = time.perf_counter()
            disaster_selectors.board(fresh, disaster_selectors.disaster_get(fresh, disaster.pk))
            durations.append(time.perf_counter() - started)
        out[f"board_{label}"] = {"p50_ms": ms(percentile(durations, 50)), "p95_ms": ms(percentile(durations, 95))}
    disaster_close(actor=chief, disaster_id=disaster.pk)
    log(
        f"disaster    open {out['checks']} checks in {open_ms} ms; board p95 city {out['board_city']['p95_ms']} ms, "
        f"connector {out['board_connector']['p95_ms']} ms"
    )
    return out


# --- Sweep ----------------------------------------------------------------------------------------


def sweep_idle() -> dict[str, Any]:
    from referral_engine.timers.sweep import timers_sweep_due

    drained = timers_sweep_due()  # what fell due since the data was generated (not timed)
    durations, fired = [], 0
    for _ in range(20):
        started = time.perf_counter()
        result = timers_sweep_due()
        durations.append(time.perf_counter() - started)
        fired += result.fired
    out = {
        "drained_first": drained.fired,
        "runs": len(durations),
        "fired": fired,
        "p50_ms": ms(percentile(durations, 50)),
        "p95_ms": ms(percentile(durations, 95)),
    }
    log(f"sweep idle  p50 {out['p50_ms']} ms, p95 {out['p95_ms']} ms (drained {drained.fired} first)")
    return out


def sweep_due(env: dict[str, str]) -> dict[str, Any]:
    log(f"generating {DUE} more cases with a due stall clock")
    # The production settings have no generate_load (bench.loadgen is a dev-only app): the generator
    # runs with the local settings, DEBUG off.
    generator_env = {
        **env,
        "DJANGO_SETTINGS_MODULE": env.get("BENCH_GENERATOR_SETTINGS", "referral_engine.settings.local"),
        "DEBUG": "False",
    }
    started = time.monotonic()
    subprocess.run(
        [PYTHON, "manage.py", "generate_load", "--cases", str(DUE), "--due", str(DUE), "--seed", "99",
         "--workers", "2", "--batch", "1000"],  # fmt: skip
        cwd=ROOT, env=generator_env, check=True, capture_output=True, timeout=7200,
    )  # fmt: skip
    generated = time.monotonic() - started
    started = time.perf_counter()
    out = subprocess.run(
        [PYTHON, "manage.py", "sweep_timers", "--json"], cwd=ROOT, env=env, check=True, capture_output=True,
        text=True, timeout=3600,
    )  # fmt: skip
    wall = time.perf_counter() - started
    result = json.loads(out.stdout.strip().splitlines()[-1])
    log(f"sweep due   fired {result.get('fired')} in {result.get('duration_ms')} ms (process {wall:.1f} s)")
    return {"generated_s": round(generated, 1), "process_s": round(wall, 2), **result}


# --- Intake, pgbench, the peer operations ---------------------------------------------------------


def token_for(port: int, username: str, password: str) -> str:
    response = Http("127.0.0.1", port).request(
        "POST", "/api/v1/auth/token/", {"username": username, "password": password}
    )
    if response.status != 200:
        raise RuntimeError(f"token for {username}: HTTP {response.status} {response.body[:200]!r}")
    return response.json()["token"]


def wrk(script: str, port: int, args: list[str], seconds: int, connections: int = 4) -> dict[str, Any]:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s", "-s", str(ROOT / "bench" / "wrk" / script),
         f"http://127.0.0.1:{port}", "--", *args],  # fmt: skip
        capture_output=True, text=True, timeout=seconds + 120, check=True,
    )  # fmt: skip
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("{")][-1]
    return json.loads(line)


def intake_wrk(port: int, token: str, counter: list[int]) -> dict[str, Any]:
    result = wrk("intake.lua", port, [token], WRK_SECONDS)
    counter[0] += result["requests"]
    seconds = result["duration_us"] / 1e6
    ok = result["requests"] - result["non2xx"]
    out = {
        "requests": result["requests"],
        "non2xx": result["non2xx"],
        "errors": result["connect_errors"] + result["read_errors"] + result["write_errors"] + result["timeouts"],
        "cases_per_s": round(ok / seconds, 1),
        "p50_ms": round(result["p50_us"] / 1000, 1),
        "p95_ms": round(result["p95_us"] / 1000, 1),
        "p99_ms": round(result["p99_us"] / 1000, 1),
        "seconds": round(seconds, 1),
    }
    log(f"intake      {out['cases_per_s']} cases/s, p95 {out['p95_ms']} ms ({out['non2xx']} non-2xx)")
    return out


def intake_writes(username: str) -> tuple[dict[str, tuple[int, int]], int]:
    """Rows inserted/updated per table by one real intake through the API (rolled back)."""
    from django.db import connection, transaction
    from django.test import Client

    from referral_engine.accounts.models import User
    from referral_engine.accounts.tokens import api_token_issue

    user = User.objects.get(username=username)
    _token, key = api_token_issue(user=user)
    client = Client(HTTP_HOST="127.0.0.1")
    body = {
        "person": {"family_name": "佐藤", "given_name": "花子", "family_name_kana": "サトウ", "given_name_kana": "ハナコ",
                   "birth_date": "1950-01-02", "district": "kawakami", "address": "津久見市 1-2", "phone": ""},
        "confirm_new_person": True, "channel": "counter", "summary": "一人暮らしで外出が減っている", "needs": ["isolation", "health"],
        "risk": "normal",
        "referrals": [{"to_department": "health_promotion", "basis": "internal_use", "reason": "保健師の訪問をお願いします。"}],
    }  # fmt: skip
    with transaction.atomic():
        response = client.post(
            "/api/v1/cases/", data=json.dumps(body), content_type="application/json",
            HTTP_AUTHORIZATION=f"Token {key}",
        )  # fmt: skip
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT relname, n_tup_ins, n_tup_upd FROM pg_stat_xact_user_tables WHERE n_tup_ins + n_tup_upd > 0"
            )
            writes = {name: (ins, upd) for name, ins, upd in cursor.fetchall()}
        transaction.set_rollback(True)
    if response.status_code != 201:
        raise RuntimeError(f"intake for the write count: HTTP {response.status_code} {response.content[:300]!r}")
    writes.pop("accounts_apitoken", None)  # made by this measurement, not by the intake
    return writes, response.status_code


def pgbench_limit(username: str, env: dict[str, str], work_dir: Path) -> dict[str, Any]:
    from django.db import connection
    from pgbench_intake import TABLES_WRITTEN_BY_THE_SCRIPT, Ids, script, script_writes

    from referral_engine.accounts.models import Department, Membership, User
    from referral_engine.accounts.roles import Role
    from referral_engine.cases.models import Case

    writes, _ = intake_writes(username)
    user = User.objects.get(username=username)
    welfare = Department.objects.get(code="social_welfare")
    health = Department.objects.get(code="health_promotion")
    from django.contrib.auth.models import Permission

    perms = {
        (p.content_type.model, p.codename): p.pk
        for p in Permission.objects.filter(content_type__app_label="cases").select_related("content_type")
    }
    recipients = list(
        Membership.objects.filter(
            department=health, role=Role.SUPERVISOR, ended_at__isnull=True, user__is_active=True
        ).values_list("user_id", flat=True)
    )
    ids = Ids(
        actor=user.pk,
        dept=welfare.pk,
        to_dept=health.pk,
        district=Case.objects.filter(person__district__isnull=False).values_list("person__district_id", flat=True)[0],
        group_dept=welfare.group_id,
        group_to=health.group_id,
        perm_case={c: perms[("case", c)] for c in ("view_case_full", "view_case_limited", "work_case")},
        perm_referral={c: perms[("referral", c)] for c in ("view_referral", "respond_referral", "work_referral")},
        recipient_ids=recipients,
    )
    text = script(ids, writes)
    with connection.cursor() as cursor:  # pgbench's own fiscal year row exists before any run, as the app's does
        cursor.execute(
            "INSERT INTO cases_casenumbersequence (fiscal_year, last) VALUES (9999, 0) ON CONFLICT DO NOTHING"
        )
    path = work_dir / "pgbench-intake.sql"
    path.write_text(text, encoding="utf-8")
    settings = connection.settings_dict
    dsn = [
        "-h",
        settings["HOST"] or "127.0.0.1",
        "-p",
        str(settings["PORT"] or 5432),
        "-U",
        settings["USER"] or "postgres",
    ]
    script_rows = script_writes(text, dsn_args=[*dsn, settings["NAME"]])
    intake_rows = dict(writes)
    same = script_rows == intake_rows
    unknown = sorted(set(intake_rows) - TABLES_WRITTEN_BY_THE_SCRIPT)
    log(f"pgbench     script writes the same rows as an intake: {same}")
    out = subprocess.run(
        ["pgbench", *dsn, "-n", "-c", "2", "-j", "2", "-T", str(WRK_SECONDS), "-f", str(path), settings["NAME"]],
        capture_output=True, text=True, timeout=WRK_SECONDS + 120, check=True,
    )  # fmt: skip
    tps = float(re.search(r"tps = ([0-9.]+)", out.stdout).group(1))
    latency = re.search(r"latency average = ([0-9.]+) ms", out.stdout)
    log(f"pgbench     {tps:.1f} tps")
    return {
        "tps": round(tps, 1),
        "latency_avg_ms": float(latency.group(1)) if latency else None,
        "clients": 2,
        "seconds": WRK_SECONDS,
        "same_rows": same,
        "tables_the_script_does_not_know": unknown,
        "intake_rows": {t: list(v) for t, v in sorted(intake_rows.items())},
        "script_rows": {t: list(v) for t, v in sorted(script_rows.items())},
        "rows_per_intake": sum(i + u for i, u in intake_rows.values()),
        "script": str(path.relative_to(ROOT)),
    }


def peer_ours(port: int, token: str, counter: list[int]) -> dict[str, Any]:
    """Our side of the Request Tracker comparison: intake, a case transition, the history read,
    PEER_OPS of each with 4 concurrent clients."""
    http = Http("127.0.0.1", port, {"Authorization": f"Token {token}"})
    created: list[int] = [0] * PEER_OPS

    def intake(i: int):
        body = {
            "person": {"family_name": "鈴木", "given_name": f"一郎{i}", "family_name_kana": "スズキ",
                       "given_name_kana": "イチロウ", "birth_date": "1948-03-04", "district": "aoe",
                       "address": "津久見市 2-3", "phone": ""},
            "confirm_new_person": True, "channel": "phone", "summary": "ひとり暮らしで話し相手がいない", "needs": ["isolation"],
            "risk": "normal",
        }  # fmt: skip
        r = http.request("POST", "/api/v1/cases/", body)
        if r.status == 201:
            created[i] = r.json()["id"]
        return r.status == 201, r.seconds, f"HTTP {r.status} {r.body[:120]!r}"

    def transition(i: int):
        r = http.request(
            "POST", f"/api/v1/cases/{created[i]}/transitions/start_assessment/", {"reason": "聞き取り開始"}
        )
        return r.status == 200, r.seconds, f"HTTP {r.status} {r.body[:120]!r}"

    def history(i: int):
        r = http.request("GET", f"/api/v1/cases/{created[i]}/history/")
        return r.status == 200, r.seconds, f"HTTP {r.status} {r.body[:120]!r}"

    out = {}
    for name, op in (("create", intake), ("status change", transition), ("history read", history)):
        run = run_concurrently(name, op, total=PEER_OPS, clients=PEER_CLIENTS, max_seconds=600)
        counter[0] += run.ops + len(run.failures)
        out[name] = run.summary()
        log(
            f"ours        {name:<14} {out[name]['ops_per_s']} /s, p95 {out[name]['p95_ms']} ms, {out[name]['failures']} failed"
        )
    return out


# --- EXPLAIN --------------------------------------------------------------------------------------


INDEX_RE = re.compile(r"(?:Index Only Scan|Index Scan|Bitmap Index Scan)(?: Backward)? (?:using|on) (\S+)")


def explain(sql: str) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
        return "\n".join(row[0] for row in cursor.fetchall())


def explains(slow_queries: dict[str, list[str]], work_dir: Path, size: int) -> dict[str, Any]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from referral_engine.accounts.models import User
    from referral_engine.cases.models import Referral
    from referral_engine.cases.selectors import cases_visible_to
    from referral_engine.timers.models import Timer

    now = timezone.now()
    worker = User.objects.get(username="worker_health")
    queries: dict[str, Any] = {
        "overdue timers (the sweep's claim)": Timer.objects.filter(is_open=True, next_fire_at__lte=now)
        .order_by("next_fire_at", "id")
        .values_list("case_id", flat=True)[:500],
        "overdue handoffs (dashboard)": Referral.objects.filter(
            state="requested", due_at__isnull=False, due_at__lte=now
        )
        .order_by("due_at", "id")
        .values("id", "case_id", "due_at")[:50],
        "visible cases, first page (worker_health)": cases_visible_to(worker)[:50],
    }
    texts, indexes = {}, {}
    for name, qs in queries.items():
        with CaptureQueriesContext(connection) as ctx:
            list(qs)
        texts[name] = explain(ctx.captured_queries[-1]["sql"])
        indexes[name] = sorted(set(INDEX_RE.findall(texts[name])))
    with CaptureQueriesContext(connection) as ctx:
        cases_visible_to(worker).count()
    texts["visible cases, count for the paginator (worker_health)"] = explain(ctx.captured_queries[-1]["sql"])
    indexes["visible cases, count for the paginator (worker_health)"] = sorted(
        set(INDEX_RE.findall(texts["visible cases, count for the paginator (worker_health)"]))
    )
    for page, sqls in slow_queries.items():
        for n, sql in enumerate(sqls[:2], 1):
            key = f"page {page}: slowest query {n}"
            texts[key] = "-- " + sql[:3000] + "\n" + explain(sql)
    path = work_dir / f"explain-{size}.txt"
    path.write_text("\n\n".join(f"== {k}\n{v}" for k, v in texts.items()), encoding="utf-8")
    timings = {k: _execution_ms(v) for k, v in texts.items()}
    log(f"explain     written to {path}")
    return {"file": str(path.relative_to(ROOT)), "indexes": indexes, "execution_ms": timings}


def _execution_ms(text: str) -> float | None:
    found = re.search(r"Execution Time: ([0-9.]+) ms", text)
    return float(found.group(1)) if found else None


def drive_to(port: int, sessionid: str, counter: list[int]) -> dict[str, Any]:
    """More GETs (the API's referral inbox, a page a caseworker's client polls) until the workers
    have served RSS_REQUESTS in all: at most 30 rounds of 30 s."""
    rounds = []
    for _ in range(30):
        if counter[0] >= RSS_REQUESTS:
            break
        result = wrk("get.lua", port, ["/api/v1/referrals/?inbox=true", sessionid], 30)
        counter[0] += result["requests"]
        rounds.append(result)
    return {"rounds": len(rounds), "requests_total": counter[0]}


# --- Main -------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--port", type=int, default=8093)
    args = parser.parse_args()
    out_path = Path(args.out)
    work_dir = out_path.parent
    os.chdir(ROOT)
    import django

    django.setup()
    from django.conf import settings

    env = dict(os.environ)
    results: dict[str, Any] = {"size": args.size}
    targets = [t for t in page_targets() if not ONLY_PAGES or t["name"] in ONLY_PAGES]
    in_process = pages_in_process(targets)
    results["in_process"] = in_process["pages"]
    if ONLY_PAGES:  # e.g. BENCH_ONLY_PAGES=search: those pages in process and through gunicorn, nothing else
        results["explain"] = explains(in_process["slow_queries"], work_dir, args.size)
        sessions = sessions_for({t["user"] for t in targets})
        with Gunicorn(args.port, work_dir) as server:
            results["gunicorn"] = pages_http(targets, sessions, args.port, [0])
            results["rss_mb"] = server.peak_rss_mb()
        out_path.write_text(json.dumps(results, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
        log(f"results in {out_path}")
        return
    results["sweep_idle"] = sweep_idle()
    results["report"] = report_timing()
    results["disaster"] = disaster_timing()
    # Before the intake and pgbench phases add rows of their own to health's inbox.
    results["explain"] = explains(in_process["slow_queries"], work_dir, args.size)
    counter = [0]
    sessions = sessions_for({t["user"] for t in targets} | {"worker_health"})
    with Gunicorn(args.port, work_dir) as server:
        results["gunicorn"] = pages_http(targets, sessions, args.port, counter)
        token = token_for(args.port, "worker_welfare", settings.DEMO_PASSWORD)
        results["intake"] = intake_wrk(args.port, token, counter)
        results["pgbench"] = pgbench_limit("worker_welfare", env, work_dir)
        results["peer_ours"] = peer_ours(args.port, token, counter)
        results["drive"] = drive_to(args.port, sessions["worker_health"], counter)
        results["rss_mb"] = server.peak_rss_mb()
        results["requests_served"] = counter[0]
        log(f"rss         peak {results['rss_mb']} MB after {counter[0]} requests")
    results["sweep_due"] = sweep_due(env)
    out_path.write_text(json.dumps(results, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    log(f"results in {out_path}")


if __name__ == "__main__":
    main()
