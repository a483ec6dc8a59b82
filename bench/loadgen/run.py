"""Driving a load: batches, worker processes, the progress bar and the finishing steps.

Each batch is one transaction that writes every table of its cases (COPY on PostgreSQL,
`bulk_create` elsewhere). A batch's rows depend only on the seed and the batch number, and its ids
come from per-case slots, so batches can be built by several processes in any order and the data is
the same. On PostgreSQL `fast=True` is the bulk-load recipe pg_restore uses: secondary indexes are
dropped for the load and rebuilt after it (their definitions are kept in a file first, so
`--restore-indexes` can put them back after a crash), foreign-key triggers are skipped in the
loading sessions (`session_replication_role = replica`: the generator makes every reference by
construction, and `integrity_check` verifies the main ones after the load), and the tables are
vacuumed and analysed at the end, as a database that has been in use for years would be.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from django.conf import settings
from django.db import connection, connections, transaction
from django.utils import timezone

from bench.loadgen.simulate import CaseFactory, Rows, created_times, numbers_for, workflow_shapes
from bench.loadgen.tables import BulkCreateWriter, CopyWriter
from bench.loadgen.world import World, sequences_finish, world_prepare

DUE_MIN_AGE = timedelta(days=16)  # a due case was opened before its stall period could pass
DROPPED_INDEXES_FILE = Path(settings.BASE_DIR) / "var" / "loadgen-dropped-indexes.sql"


@dataclass
class Plan:
    cases: int
    seed: int
    batch: int
    now: datetime
    years: float
    due: int
    times: list[datetime] = field(default_factory=list)
    numbers: list[tuple[int, int]] = field(default_factory=list)
    due_indexes: frozenset[int] = frozenset()

    def batches(self) -> list[tuple[int, int, int]]:
        return [
            (k, start, min(start + self.batch, self.cases)) for k, start in enumerate(range(0, self.cases, self.batch))
        ]


@dataclass
class Report:
    cases: int = 0
    rows: Counter = field(default_factory=Counter)
    seconds_setup: float = 0.0
    seconds_load: float = 0.0
    seconds_indexes: float = 0.0
    seconds_vacuum: float = 0.0
    seconds_total: float = 0.0
    workers: int = 1
    writer: str = ""
    fast: bool = False

    @property
    def total_rows(self) -> int:
        return sum(n for table, n in self.rows.items() if not table.startswith(":"))

    def lines(self) -> list[str]:
        out = [
            f"generate_load: {self.cases} cases, {self.total_rows} rows in {self.seconds_total:.1f} s "
            f"({self.cases / max(self.seconds_total, 1e-9):.0f} cases/s overall; writer {self.writer}, "
            f"workers {self.workers}, fast {'on' if self.fast else 'off'})",
            f"  set-up {self.seconds_setup:.1f} s, load {self.seconds_load:.1f} s "
            f"({self.total_rows / max(self.seconds_load, 1e-9):.0f} rows/s), index rebuild {self.seconds_indexes:.1f} s, "
            f"vacuum/analyse {self.seconds_vacuum:.1f} s; in the batches {self.rows[':build_ms'] / 1000:.1f} s "
            f"building rows, {self.rows[':write_ms'] / 1000:.1f} s writing them (summed over workers)",
        ]
        tables = sorted(((t, n) for t, n in self.rows.items() if not t.startswith(":")), key=lambda kv: -kv[1])
        out += [f"  {table:<42} {n:>12}" for table, n in tables]
        return out


class Progress:
    """A progress bar on stderr: a redrawn line on a terminal, a line every few seconds otherwise."""

    def __init__(self, total: int, stream: TextIO | None = None, every: float = 5.0) -> None:
        self.total = total
        self.stream = stream or sys.stderr
        self.started = time.monotonic()
        self.done = 0
        self.rows = 0
        self.tty = self.stream.isatty()
        self.every = 0.2 if self.tty else every
        self.last = 0.0

    def advance(self, cases: int, rows: int) -> None:
        self.done += cases
        self.rows += rows
        now = time.monotonic()
        if now - self.last < self.every and self.done < self.total:
            return
        self.last = now
        elapsed = now - self.started
        rate = self.done / elapsed if elapsed else 0.0
        eta = (self.total - self.done) / rate if rate else 0.0
        width = 30
        filled = int(width * self.done / max(self.total, 1))
        line = (
            f"[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} cases "
            f"{100 * self.done / max(self.total, 1):5.1f}% | {rate:,.0f} cases/s, {self.rows / max(elapsed, 1e-9):,.0f} rows/s "
            f"| elapsed {_clock(elapsed)}, ETA {_clock(eta)}"
        )
        self.stream.write(("\r" + line) if self.tty else line + "\n")
        if self.tty and self.done >= self.total:
            self.stream.write("\n")
        self.stream.flush()


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600:d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


# --- Building and writing one batch ---------------------------------------------------------------

_state: dict[str, Any] = {}


def _writer():
    return CopyWriter(connection.cursor()) if connection.vendor == "postgresql" else BulkCreateWriter()


def _session_setup(fast: bool) -> None:
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")  # a crash loses the last batches, nothing else
        if fast:
            cursor.execute("SET session_replication_role = replica")


def _session_reset(fast: bool) -> None:
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        if fast:  # only a superuser may set it, or reset it: the app's role (issue 16) never does either
            cursor.execute("RESET session_replication_role")
        cursor.execute("RESET synchronous_commit")


def batch_build_and_write(k: int, start: int, end: int) -> tuple[int, int, dict[str, int]]:
    """Build the cases [start, end) of batch k and write them in one transaction. The counts carry
    two extra keys, `:build_ms` and `:write_ms`, the time spent on each side."""
    started = time.monotonic()
    plan: Plan = _state["plan"]
    factory: CaseFactory = _state["factory"]
    rows: Rows = factory.rows
    factory.start_batch(plan.seed * 1_000_003 + k)
    for index in range(start, end):
        fiscal_year, seq = plan.numbers[index]
        factory.build(
            index=index,
            created=plan.times[index],
            fiscal_year=fiscal_year,
            seq=seq,
            due=index in plan.due_indexes,
        )
    counts: dict[str, int] = {}
    built = time.monotonic()
    with transaction.atomic():
        writer = _writer()
        for table in rows.tables():
            batch_rows = table.take()
            if batch_rows:
                counts[table.db_table] = writer.write(table, batch_rows)
    rows_written = sum(counts.values())
    counts[":build_ms"] = int((built - started) * 1000)
    counts[":write_ms"] = int((time.monotonic() - built) * 1000)
    return end - start, rows_written, counts


def _worker_init(fast: bool) -> None:
    connections.close_all()  # never share the parent's socket
    _session_setup(fast)


def _worker_run(args: tuple[int, int, int]) -> tuple[int, int, dict[str, int]]:
    return batch_build_and_write(*args)


# --- PostgreSQL bulk-load helpers -------------------------------------------------------------------


def secondary_indexes(tables: list[str]) -> list[tuple[str, str, str]]:
    """(table, index, definition) of every index that is neither a primary key nor a constraint's."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname, ic.relname, pg_get_indexdef(i.indexrelid)
              FROM pg_index i
              JOIN pg_class c ON c.oid = i.indrelid
              JOIN pg_class ic ON ic.oid = i.indexrelid
              JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = current_schema()
               AND c.relname = ANY(%s)
               AND NOT i.indisprimary
               AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
             ORDER BY c.relname, ic.relname
            """,
            [tables],
        )
        return list(cursor.fetchall())


def indexes_drop(indexes: list[tuple[str, str, str]]) -> None:
    DROPPED_INDEXES_FILE.parent.mkdir(parents=True, exist_ok=True)
    DROPPED_INDEXES_FILE.write_text("".join(f"{definition};\n" for _t, _i, definition in indexes), encoding="utf-8")
    with connection.cursor() as cursor:
        for _table, index, _definition in indexes:
            cursor.execute(f'DROP INDEX IF EXISTS "{index}"')


def indexes_restore(definitions: list[str] | None = None, *, parallel: int = 2, log: TextIO | None = None) -> int:
    """Re-create dropped indexes (from the file when none are given), `parallel` at a time."""
    if definitions is None:
        if not DROPPED_INDEXES_FILE.exists():
            return 0
        definitions = [d.strip() for d in DROPPED_INDEXES_FILE.read_text(encoding="utf-8").split(";\n") if d.strip()]
    definitions = [d.replace("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ", 1) for d in definitions]
    pending = list(definitions)
    lock = threading.Lock()
    errors: list[BaseException] = []
    params = connection.get_connection_params()

    def work() -> None:
        import psycopg

        with psycopg.connect(**params, autocommit=True) as conn:
            conn.execute("SET maintenance_work_mem = '1GB'")
            while True:
                with lock:
                    if not pending or errors:
                        return
                    sql = pending.pop()
                try:
                    started = time.monotonic()
                    conn.execute(sql)
                    if log:
                        log.write(f"  index rebuilt in {time.monotonic() - started:5.1f} s: {sql[:110]}\n")
                        log.flush()
                except BaseException as exc:  # noqa: BLE001 - reported after the other threads stop
                    with lock:
                        errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(max(1, parallel))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    DROPPED_INDEXES_FILE.unlink(missing_ok=True)
    return len(definitions)


def setbacks_fill() -> None:
    """`Referral.setback_open` from its definition — cases/0010's own FILL statement: the load writes a
    batch table by table (every referral, then every event, whatever their times) and with the triggers
    off when fast, so the triggers that keep the flag cannot have kept it."""
    migration = importlib.import_module("referral_engine.cases.migrations.0010_referral_setback_open")
    with connection.cursor() as cursor:
        cursor.execute(migration.FILL)


def vacuum_analyze(tables: list[str], *, full_vacuum: bool) -> None:
    params = connection.get_connection_params()
    import psycopg

    with psycopg.connect(**params, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '1GB'")
        for table in tables:
            conn.execute(f'{"VACUUM (ANALYZE)" if full_vacuum else "ANALYZE"} "{table}"')
        # And the world's tables (users, memberships, departments …): without statistics the planner
        # took 36 users for 532 and joined my work's assigned referrals user by user (85 ms at 1M).
        others = conn.execute(
            "SELECT relname FROM pg_stat_user_tables WHERE schemaname = 'public' AND NOT relname = ANY(%s)",
            [list(tables)],
        ).fetchall()
        for (table,) in others:
            conn.execute(f'ANALYZE "{table}"')


def integrity_check() -> list[str]:
    """Orphans in the references the load made without foreign-key triggers (should be none)."""
    checks = {
        "case.person": "SELECT count(*) FROM cases_case c LEFT JOIN cases_person p ON p.id = c.person_id WHERE p.id IS NULL",
        "referral.case": "SELECT count(*) FROM cases_referral r LEFT JOIN cases_case c ON c.id = r.case_id WHERE c.id IS NULL",
        "event.case": "SELECT count(*) FROM cases_caseevent e LEFT JOIN cases_case c ON c.id = e.case_id WHERE c.id IS NULL",
        "activity.case": "SELECT count(*) FROM cases_activity a LEFT JOIN cases_case c ON c.id = a.case_id WHERE c.id IS NULL",
        "timer.case": "SELECT count(*) FROM timers_timer t LEFT JOIN cases_case c ON c.id = t.case_id WHERE c.id IS NULL",
        "grant.case": "SELECT count(*) FROM access_casegroupobjectpermission g LEFT JOIN cases_case c "
        "ON c.id = g.content_object_id WHERE c.id IS NULL",
        "referral.consent": "SELECT count(*) FROM cases_referral r LEFT JOIN cases_consent k ON k.id = r.consent_id "
        "WHERE r.consent_id IS NOT NULL AND k.id IS NULL",
    }
    problems = []
    with connection.cursor() as cursor:
        for name, sql in checks.items():
            cursor.execute(sql)
            (n,) = cursor.fetchone()
            if n:
                problems.append(f"{name}: {n} orphan(s)")
    return problems


# --- The run ----------------------------------------------------------------------------------------


def generate(
    *,
    cases: int,
    seed: int = 1,
    batch: int = 2000,
    workers: int = 1,
    years: float = 5.0,
    due: int = 0,
    fast: bool = False,
    now: datetime | None = None,
    demo_password: str | None = None,
    progress: TextIO | None = None,
) -> Report:
    """Generate `cases` cases with everything that belongs to them (see the package docstring)."""
    started = time.monotonic()
    report = Report()
    now = now or timezone.now()
    postgres = connection.vendor == "postgresql"
    if not postgres:
        workers, fast = 1, False
    if connection.in_atomic_block:
        workers, fast = 1, False  # inside a caller's transaction (tests): one process, no DDL
    report.workers, report.fast = workers, fast
    report.writer = "COPY (psycopg)" if postgres else "bulk_create"
    due = min(max(due, 0), cases)

    first_year = (now - timedelta(days=365.25 * years)).year - 1
    world = world_prepare(cases=cases, seed=seed, years=range(first_year, now.year + 3), demo_password=demo_password)
    plan = Plan(cases=cases, seed=seed, batch=max(1, batch), now=now, years=years, due=due)
    latest = now - DUE_MIN_AGE if due and due >= cases else None
    plan.times = created_times(cases, seed=seed, now=latest or now, years=years, closed=world.closed)
    plan.numbers, last_numbers = numbers_for(plan.times, world.case_numbers)
    if due:
        eligible = [i for i, t in enumerate(plan.times) if t <= now - DUE_MIN_AGE]
        plan.due_indexes = frozenset(eligible[-due:])
    rows = Rows()
    tables = [t.db_table for t in rows.tables()]
    first_day = timezone.localdate(plan.times[0]) if plan.times else timezone.localdate(now)
    factory = CaseFactory(world, rows, now=now, shapes=workflow_shapes(), first_day=first_day)
    _state.update(plan=plan, factory=factory, world=world)
    report.seconds_setup = time.monotonic() - started

    dropped: list[tuple[str, str, str]] = []
    if fast:
        dropped = secondary_indexes(tables)
        indexes_drop(dropped)
    bar = Progress(cases, progress)
    load_started = time.monotonic()
    try:
        if workers <= 1:
            _session_setup(fast)
            try:
                for k, start, end in plan.batches():
                    n_cases, n_rows, counts = batch_build_and_write(k, start, end)
                    report.rows.update(counts)
                    bar.advance(n_cases, n_rows)
            finally:
                _session_reset(fast)
        else:
            connections.close_all()
            context = multiprocessing.get_context("fork")
            with context.Pool(workers, initializer=_worker_init, initargs=(fast,)) as pool:
                for n_cases, n_rows, counts in pool.imap_unordered(_worker_run, plan.batches()):
                    report.rows.update(counts)
                    bar.advance(n_cases, n_rows)
        report.seconds_load = time.monotonic() - load_started
    finally:
        if dropped:
            index_started = time.monotonic()
            indexes_restore([d for _t, _i, d in dropped], parallel=2, log=progress)
            report.seconds_indexes = time.monotonic() - index_started
    report.cases = cases
    sequences_finish(world, last_numbers)
    setbacks_fill()
    if postgres and not connection.in_atomic_block:
        vacuum_started = time.monotonic()
        vacuum_analyze(tables, full_vacuum=fast)
        report.seconds_vacuum = time.monotonic() - vacuum_started
        if fast:
            problems = integrity_check()
            if problems:
                raise RuntimeError("integrity check after the load: " + "; ".join(problems))
    report.seconds_total = time.monotonic() - started
    return report


def default_workers() -> int:
    return max(1, min(2, os.cpu_count() or 1))


__all__ = ["World", "generate", "indexes_restore"]
