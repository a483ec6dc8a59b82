"""The sweep under concurrency, on PostgreSQL (row locks are real there) and with a real Redis and
real Celery worker processes: two sweeps at once fire each level once; a worker killed mid-batch
leaves nothing half-done and the next sweep finishes the work; a case service holding a case never
deadlocks with the sweep."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from referral_engine.audit.history import save_with_history
from referral_engine.cases.models import Case, CaseEvent, Referral
from referral_engine.notifications.models import Notification
from referral_engine.timers.models import Escalation, SweepStatus, Timer
from referral_engine.timers.services import timers_referral_changed
from referral_engine.timers.sweep import timers_sweep_due

ROOT = Path(__file__).resolve().parents[2]
DEPARTMENTS = ("health_promotion", "longevity_support", "disaster_prevention")


@pytest.fixture
def world(transactional_db):
    """The organisation, users, calendar and rules, committed (other connections must see them)."""
    from referral_engine.accounts.demo import demo_users_ensure
    from referral_engine.timers import calendar
    from referral_engine.timers.services import timers_calendar_seed, timers_policies_seed

    users = {u.username: u for u in demo_users_ensure(password="pw-for-tests")}
    year = timezone.localdate().year
    timers_calendar_seed(years=range(year - 1, year + 2))
    timers_policies_seed()
    calendar.invalidate_cache()
    return users


def _open_overdue_handoffs(users, cases: int) -> list[int]:
    """Open `cases` cases through the case services, each referred to three departments, then move
    each request ten days into the past (time travel for the test) and let the timers service
    restart the clock from there: every handoff is overdue now."""
    from referral_engine.accounts.models import User
    from referral_engine.cases.services.intake import case_open

    referral_ids = []
    for i in range(cases):
        actor = User.objects.get(pk=users["desk_welfare"].pk)
        case = case_open(
            actor=actor,
            person={
                "family_name": "保戸",
                "given_name": f"太郎{i}",
                "family_name_kana": "ホト",
                "given_name_kana": f"タロウ{i}",
            },
            confirm_new_person=True,
            summary="見守りで気になる",
            referrals=[{"to_department": d, "basis": "internal_use", "reason": "訪問の依頼"} for d in DEPARTMENTS],
        )
        referral_ids += list(case.referrals.values_list("pk", flat=True))
    past = timezone.now() - timedelta(days=10)
    Referral.objects.filter(pk__in=referral_ids).update(created_at=past)
    for pk in referral_ids:
        with transaction.atomic():
            referral = (
                Referral.objects.select_for_update(of=("self",)).select_related("case", "to_department").get(pk=pk)
            )
            save_with_history(
                referral,
                actor=None,
                reason="test: ten days ago",
                update_fields=timers_referral_changed(referral=referral),
            )
    assert Timer.objects.filter(
        referral_id__in=referral_ids, is_open=True, next_fire_at__lte=timezone.now()
    ).count() == len(referral_ids)
    return referral_ids


def _assert_each_fired_once(referral_ids: list[int]) -> None:
    keys = [f"referral:{pk}" for pk in referral_ids]
    rows = list(Escalation.objects.filter(object_key__in=keys).values_list("object_key", "level"))
    assert sorted(k for k, _ in rows) == sorted(keys), "each overdue handoff escalates exactly once"
    assert CaseEvent.objects.filter(referral_id__in=referral_ids, kind="escalation").count() == len(referral_ids)
    assert not Timer.objects.filter(referral_id__in=referral_ids, next_fire_at__lte=timezone.now()).exists()


@pytest.mark.postgres
def test_two_sweeps_at_once_fire_each_level_once(world):
    referral_ids = _open_overdue_handoffs(world, cases=10)
    now = timezone.now()
    barrier = threading.Barrier(4)
    results, errors = [], []

    def sweeper():
        try:
            barrier.wait()
            results.append(timers_sweep_due(now=now, batch=7))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sweeper) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    assert not errors
    assert sum(r.fired for r in results) == Escalation.objects.count() >= len(referral_ids)
    _assert_each_fired_once(referral_ids)


@pytest.mark.postgres
def test_a_case_service_holding_the_case_is_passed_over_not_waited_for(world):
    (referral_id, *_rest) = _open_overdue_handoffs(world, cases=1)
    case_id = Referral.objects.get(pk=referral_id).case_id
    holding, release = threading.Event(), threading.Event()

    def case_service():
        try:
            with transaction.atomic():
                Case.objects.select_for_update().get(pk=case_id)
                holding.set()
                release.wait(30)
        finally:
            connections.close_all()

    thread = threading.Thread(target=case_service)
    thread.start()
    assert holding.wait(10)
    try:
        started = time.monotonic()
        blocked = timers_sweep_due()
        assert time.monotonic() - started < 5
        assert blocked.fired == 0 and blocked.left_locked >= 1
    finally:
        release.set()
        thread.join(10)
    assert timers_sweep_due().fired == 3


# --- Real Redis, real Celery workers ------------------------------------------------------------


class Worker:
    """`celery -A referral_engine worker --pool solo` on its own queue, against the test database."""

    def __init__(self, queue: str, name: str) -> None:
        settings_dict = connection.settings_dict
        database_url = (
            f"postgres://{settings_dict['USER']}@{settings_dict['HOST'] or '127.0.0.1'}:{settings_dict['PORT'] or 5432}"
            f"/{settings_dict['NAME']}?application_name={name}"
        )
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "referral_engine.settings.test",
            "DATABASE_URL": database_url,
            "REDIS_URL": os.environ.get("REDIS_URL") or _redis_url(),
        }
        if settings_dict.get("PASSWORD"):
            env["PGPASSWORD"] = settings_dict["PASSWORD"]
        self.name = name
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "referral_engine",
                "worker",
                "--pool",
                "solo",
                "-Q",
                queue,
                "-n",
                f"{name}@%h",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-l",
                "warning",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


def _redis_url() -> str:
    from django.conf import settings

    return settings.REDIS_URL


@pytest.fixture
def workers():
    started: list[Worker] = []
    queue = f"timers-test-{uuid.uuid4().hex[:8]}"

    def start(name: str) -> Worker:
        worker = Worker(queue, f"{name}-{uuid.uuid4().hex[:6]}")
        started.append(worker)
        return worker

    start.queue = queue
    yield start
    for worker in started:
        worker.stop()
    _wait_backends_gone([w.name for w in started])


def _wait_backends_gone(names: list[str], timeout: float = 10) -> None:
    """The test database is dropped at the end: the workers' sessions must be gone."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = ANY(%s)", [names])
            if cursor.fetchone()[0] == 0:
                return
        time.sleep(0.1)


def _send_sweep(queue: str) -> None:
    from referral_engine.timers.tasks import sweep

    sweep.apply_async(queue=queue)


def _runs() -> int:
    status = SweepStatus.objects.filter(name="timers").first()
    return status.runs if status else 0


def _wait_for_runs(count: int, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while _runs() < count:
        assert time.monotonic() < deadline, f"the workers finished {_runs()} of {count} sweeps"
        time.sleep(0.1)


@pytest.mark.postgres
@pytest.mark.redis
def test_an_overdue_handoff_escalates_once_when_two_workers_sweep_at_once(world, workers):
    referral_ids = _open_overdue_handoffs(world, cases=2)
    before = _runs()
    workers("sweep-a")
    workers("sweep-b")

    _send_sweep(workers.queue)
    _send_sweep(workers.queue)
    _wait_for_runs(before + 2)

    _assert_each_fired_once(referral_ids)
    assert Notification.objects.filter(escalation_id__isnull=False).exists()


@pytest.mark.postgres
@pytest.mark.redis
def test_a_worker_killed_mid_batch_leaves_nothing_half_done(world, workers):
    referral_ids = _open_overdue_handoffs(world, cases=15)
    victim = workers("victim")
    _send_sweep(workers.queue)

    # Wait until the victim is inside its batch transaction (claimed rows, nothing committed)…
    deadline = time.monotonic() + 60
    while True:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s AND state = 'idle in transaction'",
                [victim.name],
            )
            if cursor.fetchone()[0]:
                break
        assert time.monotonic() < deadline, "the worker never started its batch"
        time.sleep(0.002)
    # …and kill it there.
    victim.kill()
    _wait_backends_gone([victim.name])

    assert Escalation.objects.count() == 0
    assert CaseEvent.objects.filter(kind="escalation").count() == 0
    assert Notification.objects.filter(escalation_id__isnull=False).count() == 0
    assert not Case.objects.filter(is_gap=True).exists()
    assert not Timer.objects.filter(referral_id__in=referral_ids, fired_level__gt=0).exists()

    before = _runs()
    workers("next")
    _send_sweep(workers.queue)
    _wait_for_runs(before + 1)
    _assert_each_fired_once(referral_ids)
