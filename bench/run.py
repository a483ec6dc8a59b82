"""`make bench`: the benchmark of issue 10, printed as one table.

For each size in BENCH_SIZES (default "10000,1000000"; "2000,20000" for a quick run) on a dedicated
database (BENCH_DB, default referral_engine_bench, dropped and re-created for each size):
generate the data (`generate_load --fast`), then bench/measure.py (pages in process and through
gunicorn, sweeps, intake under wrk, pgbench, EXPLAIN, RSS). Request Tracker 5 is set up once by
bench/rt/setup.sh and measured by bench/peer_rt.py in the same run (BENCH_SKIP_RT=1 skips it).

Results, EXPLAIN texts, logs and the table (also as Markdown) go to var/bench/<UTC time>/.
Loopback only; every loop and wait is bounded.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")
SIZES = [int(s) for s in os.environ.get("BENCH_SIZES", "10000,1000000").split(",") if s.strip()]
DB = os.environ.get("BENCH_DB", "referral_engine_bench")
PG = ["-h", "127.0.0.1", "-p", "5432", "-U", "postgres"]
RT_PORT = int(os.environ.get("RT_PORT", "8091"))
APP_PORT = int(os.environ.get("BENCH_PORT", "8093"))
REDIS_DB = os.environ.get("BENCH_REDIS_DB", "13")
# generate_load is a command of the dev-only app bench.loadgen: the local settings install it, production does not.
GENERATOR_SETTINGS = "referral_engine.settings.local"
REUSE = os.environ.get("BENCH_REUSE") == "1"  # measure BENCH_DB as it is (see reused)

TARGETS = {
    "inbox": "p95 ≤ 150 ms",
    "visible cases": "p95 ≤ 150 ms",
    "search": "p95 ≤ 150 ms at 1M",
    "dashboard": "p95 ≤ 300 ms",
    "sweep_idle": "≤ 20 ms",
    "sweep_due": "≤ 10 s",
    "intake": "≥ 100 /s, p95 ≤ 250 ms",
    "pgbench": "intake ≥ 25 %",
    "generate": "1M ≤ 30 min",
    "ratio": "≤ 2",
    "report": "≤ 2000 ms",
    "disaster_open": "≤ 2000 ms",
    "disaster_board": "p95 ≤ 150 ms",
    # Issue 23 item 7: the staff home, the report page (figures kept as in production) and the board page
    # at 10,000 checks, in process and through gunicorn.
    "my work": "p95 ≤ 150 ms",
    "report page": "p95 ≤ 300 ms",
    "disaster board page": "p95 ≤ 300 ms",
}


def log(message: str) -> None:
    sys.stderr.write(f"[bench {time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()


def sh(args: list[str], *, env: dict[str, str] | None = None, timeout: float = 600, check: bool = True, **kw):
    return subprocess.run(args, cwd=ROOT, env=env, timeout=timeout, check=check, capture_output=True, text=True, **kw)


def machine() -> dict[str, Any]:
    memory = next(
        (
            int(line.split()[1]) // 1024
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        ),
        0,
    )
    pg = sh(["psql", *PG, "-Atc", "show server_version"], check=False).stdout.strip()
    commit = sh(["git", "rev-parse", "--short", "HEAD"], check=False).stdout.strip()
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "memory_mb": memory,
        "postgresql": pg,
        "python": platform.python_version(),
        "commit": commit,
        "loadavg_start": Path("/proc/loadavg").read_text().split()[:3],
    }


def env_for(settings: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE=settings,
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{DB}",
        SECRET_KEY=BENCH_SECRET,
        SECURE_SSL_REDIRECT="False",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        # The per-user write throttle (600/min by default) would cap one user's intakes at 10/s.
        API_WRITE_THROTTLE="10000000/minute",
        REDIS_URL=f"redis://127.0.0.1:6379/{REDIS_DB}",
        LOG_LEVEL="WARNING",
        CONN_MAX_AGE="60",
    )
    return env


def generator_env() -> dict[str, str]:
    """The generator's environment: the local settings with DEBUG off (no debug cursor on the load)."""
    return env_for(GENERATOR_SETTINGS) | {"DEBUG": "False"}


BENCH_SECRET = secrets.token_urlsafe(48)


def ensure_tools() -> None:
    if shutil.which("wrk") is None:
        log("installing wrk (Debian)")
        sh(
            ["apt-get", "install", "-y", "-q", "wrk"],
            timeout=900,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
    for tool in ("pgbench", "psql", "wrk"):
        if shutil.which(tool) is None:
            raise SystemExit(f"bench: {tool} is missing")


def database_fresh() -> None:
    sh(["dropdb", *PG, "--if-exists", DB])
    sh(["createdb", *PG, DB])
    sh(
        [PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"],
        env=env_for("referral_engine.settings.base"),
        timeout=900,
    )


def generate(size: int, out_dir: Path) -> dict[str, Any]:
    log(f"generate_load --cases {size} --fast --workers 2")
    started = time.monotonic()
    result = sh(
        [PYTHON, "manage.py", "generate_load", "--cases", str(size), "--fast", "--workers", "2", "--batch", "2000"],
        env=generator_env(),
        timeout=4 * 3600,
    )
    seconds = time.monotonic() - started
    (out_dir / f"generate-{size}.log").write_text(result.stdout + result.stderr, encoding="utf-8")
    summary = [line for line in result.stdout.splitlines() if line.strip()]
    rows = int(summary[0].split(" cases, ")[1].split(" rows")[0]) if summary else 0
    size_mb = int(sh(["psql", *PG, "-Atc", f"select pg_database_size('{DB}') / 1048576"]).stdout.strip() or 0)
    log(f"generated {size} cases ({rows} rows) in {seconds:.0f} s; database {size_mb} MB")
    return {"seconds": round(seconds, 1), "rows": rows, "summary": summary[:3], "database_mb": size_mb}


def reused(size: int) -> dict[str, Any]:
    """`BENCH_REUSE=1`: measure the database as `BENCH_DB` holds it, generated beforehand by
    `generate_load --cases <size> --fast --workers 2 --batch 2000` (the generator's minutes then come
    from `BENCH_GENERATE_SECONDS`, when given). Only a database that has not been measured yet gives
    the same figures: the measurement adds intakes and fires the sweep."""
    cases = int(sh(["psql", *PG, "-d", DB, "-Atc", "select count(*) from cases_case"]).stdout.strip() or 0)
    if abs(cases - size) > size // 100:
        raise SystemExit(f"bench: BENCH_REUSE: {DB} holds {cases} cases, not {size}")
    size_mb = int(sh(["psql", *PG, "-Atc", f"select pg_database_size('{DB}') / 1048576"]).stdout.strip() or 0)
    seconds = os.environ.get("BENCH_GENERATE_SECONDS")
    log(f"reusing {DB}: {cases} cases, {size_mb} MB")
    return {"seconds": float(seconds) if seconds else None, "rows": None, "reused": True, "database_mb": size_mb}


def rt_peer(out_dir: Path) -> dict[str, Any]:
    if os.environ.get("BENCH_SKIP_RT") == "1":
        return {"skipped": "BENCH_SKIP_RT=1"}
    setup = ROOT / "bench" / "rt" / "setup.sh"
    try:
        sh(["bash", str(setup), "start"], timeout=1800, env={**os.environ, "RT_PORT": str(RT_PORT)})
    except subprocess.CalledProcessError as exc:
        return {"error": f"{setup.relative_to(ROOT)} start failed (exit {exc.returncode}): {exc.stderr[-800:]}"}
    try:
        path = out_dir / "rt.json"
        sh([PYTHON, "bench/peer_rt.py", "--port", str(RT_PORT), "--out", str(path)], timeout=3600)
        return json.loads(path.read_text())
    except subprocess.CalledProcessError as exc:
        return {"error": f"bench/peer_rt.py failed (exit {exc.returncode}): {exc.stderr[-800:]}"}
    finally:
        sh(["bash", str(setup), "stop"], check=False, timeout=120)


# --- The table ------------------------------------------------------------------------------------


def fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        text = f"{value:,.1f}" if value < 100 else f"{value:,.0f}"
    else:
        text = f"{value:,}" if isinstance(value, int) else str(value)
    return f"{text}{unit}"


def table(results: dict[int, dict[str, Any]], rt: dict[str, Any]) -> list[list[str]]:
    sizes = sorted(results)
    rows: list[list[str]] = []

    def add(metric: str, getter, unit: str = "", target: str = "", ratio: bool = True) -> None:
        values = []
        for size in sizes:
            try:
                values.append(getter(results[size]))
            except (KeyError, TypeError, IndexError):
                values.append(None)
        ratio_text = "—"
        if ratio and len(values) > 1 and all(isinstance(v, int | float) and v for v in (values[0], values[-1])):
            ratio_text = f"{values[-1] / values[0]:.2f}"
        rows.append([metric, *[fmt(v, unit) for v in values], ratio_text, target])

    def pair(section: str, name: str):
        def get(r):
            d = r[section][name]
            return f"{fmt(d['p50_ms'])} / {fmt(d['p95_ms'])}"

        return get

    add(
        "generate_load (fast, 2 workers): minutes",
        lambda r: round(r["generate"]["seconds"] / 60, 1),
        target=TARGETS["generate"],
    )
    add("  rows written", lambda r: r["generate"]["rows"], ratio=False)
    add("  database size", lambda r: r["generate"]["database_mb"], " MB", ratio=False)
    for page in (
        "inbox",
        "case detail",
        "dashboard",
        "visible cases",
        "search",
        "auditor timeline",
        "my work",
        "report page",
        "disaster board page",
    ):
        target = TARGETS.get(page, "")
        add(f"{page}: in process p50 / p95 ms", pair("in_process", page), target=target, ratio=False)
        add(f"{page}: gunicorn p50 / p95 ms", pair("gunicorn", page), target=target, ratio=False)
        add(
            f"  {page} 1M/10k ratio of p95 (gunicorn)",
            lambda r, p=page: r["gunicorn"][p]["p95_ms"],
            " ms",
            target=TARGETS["ratio"],
        )
    for scope in ("whole desk", "one department"):
        add(
            f"fiscal-year report, {scope}: p50 / max ms",
            lambda r, s=scope: f"{fmt(r['report'][s]['p50_ms'])} / {fmt(r['report'][s]['max_ms'])}",
            target=TARGETS["report"],
            ratio=False,
        )
    add(
        "disaster: open over every district, ms (checks)",
        lambda r: f"{fmt(r['disaster']['open_ms'])} ({r['disaster']['checks']:,})",
        target=TARGETS["disaster_open"],
        ratio=False,
    )
    for who in ("city", "connector"):
        add(
            f"disaster board ({who}): p50 / p95 ms",
            lambda r, w=who: (
                f"{fmt(r['disaster'][f'board_{w}']['p50_ms'])} / {fmt(r['disaster'][f'board_{w}']['p95_ms'])}"
            ),
            target=TARGETS["disaster_board"],
            ratio=False,
        )
    add(
        "sweep, nothing due: p50 / p95 ms",
        lambda r: f"{fmt(r['sweep_idle']['p50_ms'])} / {fmt(r['sweep_idle']['p95_ms'])}",
        target=TARGETS["sweep_idle"],
        ratio=False,
    )
    add("  sweep nothing due p95", lambda r: r["sweep_idle"]["p95_ms"], " ms", target=TARGETS["ratio"])
    add(
        "sweep, 10,000 due: seconds (fired)",
        lambda r: f"{r['sweep_due']['duration_ms'] / 1000:.1f} ({r['sweep_due']['fired']})",
        target=TARGETS["sweep_due"],
        ratio=False,
    )
    add("intake via gunicorn (wrk -c4): cases/s", lambda r: r["intake"]["cases_per_s"], target=TARGETS["intake"])
    add("  intake p50 / p95 ms", lambda r: f"{fmt(r['intake']['p50_ms'])} / {fmt(r['intake']['p95_ms'])}", ratio=False)
    add("pgbench, same row writes (-c2): tps", lambda r: r["pgbench"]["tps"])
    add(
        "  rows per intake (pgbench script = intake?)",
        lambda r: f"{r['pgbench']['rows_per_intake']} ({'yes' if r['pgbench']['same_rows'] else 'NO'})",
        ratio=False,
    )
    add(
        "  intake as a fraction of pgbench",
        lambda r: f"{100 * r['intake']['cases_per_s'] / r['pgbench']['tps']:.0f} %",
        target=TARGETS["pgbench"],
        ratio=False,
    )
    for op in ("create", "status change", "history read"):
        add(
            f"ours, {op} (4 clients): /s (p95 ms)",
            lambda r, o=op: f"{fmt(r['peer_ours'][o]['ops_per_s'])} ({fmt(r['peer_ours'][o]['p95_ms'])})",
            ratio=False,
        )
        if "error" in rt or "skipped" in rt:
            rows.append([f"RT 5, {op}", *["—"] * len(sizes), "—", rt.get("error", rt.get("skipped", ""))[:60]])
            continue
        rows.append(
            [
                f"RT 5, {op} (4 clients): /s (p95 ms)",
                *[f"{fmt(rt[op]['ops_per_s'])} ({fmt(rt[op]['p95_ms'])})"] * len(sizes),
                "—",
                "measured once",
            ]
        )
        want = {"create": "≥ 10×", "status change": "≥ 3×", "history read": "≥ 2×"}[op]
        add(
            f"  ours ÷ RT, {op} (p95 ours ≤ RT?)",
            lambda r, o=op: (
                f"{r['peer_ours'][o]['ops_per_s'] / rt[o]['ops_per_s']:.1f}× ({'yes' if r['peer_ours'][o]['p95_ms'] <= rt[o]['p95_ms'] else 'no'})"
            ),
            target=want,
            ratio=False,
        )
    add(
        "EXPLAIN overdue timers: index",
        lambda r: ", ".join(r["explain"]["indexes"]["overdue timers (the sweep's claim)"]) or "seq scan",
        ratio=False,
    )
    add(
        "EXPLAIN overdue handoffs: index",
        lambda r: ", ".join(r["explain"]["indexes"]["overdue handoffs (dashboard)"]) or "seq scan",
        ratio=False,
    )
    add(
        "EXPLAIN visible cases page: indexes",
        lambda r: short_indexes(r["explain"]["indexes"]["visible cases, first page (worker_health)"]),
        ratio=False,
    )
    add(
        "EXPLAIN visible cases page: ms",
        lambda r: r["explain"]["execution_ms"]["visible cases, first page (worker_health)"],
        " ms",
    )
    add(
        "EXPLAIN visible cases count: ms",
        lambda r: r["explain"]["execution_ms"]["visible cases, count for the paginator (worker_health)"],
        " ms",
    )
    add(
        "gunicorn worker peak RSS (after N requests)",
        lambda r: f"{max(r['rss_mb'].values()):.0f} MB ({r['requests_served']:,})",
        ratio=False,
    )
    return rows


def short_indexes(names: list[str]) -> str:
    """The indexes on the case and grant tables (the joins' primary keys are in the EXPLAIN file)."""
    wanted = [n for n in names if n.startswith(("cases_case", "access_", "case_"))]
    return ", ".join(n if len(n) <= 40 else n[:37] + "…" for n in wanted) or "seq scan"


def render(header: list[str], rows: list[list[str]], *, markdown: bool) -> str:
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
        lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
        return "\n".join(lines)
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    out = [line, "| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |", line]
    out += ["| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths)) + " |" for row in rows]
    out.append(line)
    return "\n".join(out)


def main() -> None:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    out_dir = ROOT / "var" / "bench" / stamp
    out_dir.mkdir(parents=True, exist_ok=True)
    ensure_tools()
    facts = machine()
    log(f"sizes {SIZES}, database {DB}, results in {out_dir.relative_to(ROOT)}")
    rt = rt_peer(out_dir)
    results: dict[int, dict[str, Any]] = {}
    for size in SIZES:
        if REUSE:
            generated = reused(size)
        else:
            database_fresh()
            generated = generate(size, out_dir)
        path = out_dir / f"{size}.json"
        log(f"measuring {size}")
        measured = sh(
            [PYTHON, "bench/measure.py", "--size", str(size), "--out", str(path), "--port", str(APP_PORT)],
            env=env_for("referral_engine.settings.production") | {"BENCH_GENERATOR_SETTINGS": GENERATOR_SETTINGS},
            timeout=6 * 3600,
            check=False,
        )
        (out_dir / f"measure-{size}.log").write_text(measured.stdout + measured.stderr, encoding="utf-8")
        if measured.returncode != 0:
            log(f"measure.py failed for {size}: {measured.stderr[-1500:]}")
            results[size] = {"generate": generated, "error": measured.stderr[-1500:]}
            continue
        results[size] = {**json.loads(path.read_text()), "generate": generated}
    sh(["redis-cli", "-n", REDIS_DB, "FLUSHDB"], check=False)
    facts["loadavg_end"] = Path("/proc/loadavg").read_text().split()[:3]
    header = ["metric", *[f"{s:,} cases" for s in sorted(results)], f"{max(SIZES):,}/{min(SIZES):,}", "target"]
    rows = table(results, rt)
    text = render(header, rows, markdown=False)
    title = (
        f"referral engine benchmark — {facts['date']} — {facts['nproc']} CPU, {facts['memory_mb']:,} MB, "
        f"PostgreSQL {facts['postgresql']}, commit {facts['commit']}, load average {' '.join(facts['loadavg_start'])} → "
        f"{' '.join(facts['loadavg_end'])}"
    )
    print(title)
    print(text)
    (out_dir / "table.md").write_text(title + "\n\n" + render(header, rows, markdown=True) + "\n", encoding="utf-8")
    (out_dir / "results.json").write_text(
        json.dumps({"machine": facts, "rt": rt, "sizes": results}, ensure_ascii=False, indent=2, default=str),
        encoding="utf-8",
    )
    log(f"written {out_dir.relative_to(ROOT)}/table.md and results.json")


if __name__ == "__main__":
    main()
