"""Celery worker and beat write a heartbeat row every HEARTBEAT_SECONDS; /metrics reads them
(`referral_engine_celery_worker_last_heartbeat_timestamp_seconds`, `…_beat_…`, `…_workers_up`).

- the worker: a bootstep on the worker's own timer (main process, not a task: a full queue must not
  hide a live worker, and a dead pool must not look alive), added in referral_engine/celery.py;
- beat: the scheduler (`CELERY_BEAT_SCHEDULER`), which writes from its tick loop.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime

from celery import bootsteps
from celery.beat import PersistentScheduler

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 30


def heartbeat_write(*, name: str, kind: str, started_at: datetime) -> None:
    from django.db import connection
    from django.utils import timezone

    from referral_engine.observability.models import Heartbeat

    try:
        Heartbeat.objects.update_or_create(
            name=name[:200], defaults={"kind": kind, "at": timezone.now(), "started_at": started_at}
        )
    except Exception:
        logger.warning("heartbeat: could not write %s", name, exc_info=True)
    finally:
        # The worker's main process and beat serve no requests, so nothing else recycles their connection.
        # Inside a transaction (never in those processes; a test's) the connection is not ours to close.
        if not connection.in_atomic_block:
            connection.close_if_unusable_or_obsolete()


class WorkerHeartbeat(bootsteps.StartStopStep):
    requires = {"celery.worker.components:Timer"}

    def __init__(self, worker, **kwargs) -> None:
        super().__init__(worker, **kwargs)
        self.tref = None

    def start(self, worker) -> None:
        from django.utils import timezone

        name, started_at = f"worker:{worker.hostname}", timezone.now()

        def beat() -> None:
            heartbeat_write(name=name, kind="worker", started_at=started_at)

        beat()
        self.tref = worker.timer.call_repeatedly(HEARTBEAT_SECONDS, beat, priority=10)

    def stop(self, worker) -> None:
        if self.tref is not None:
            self.tref.cancel()
            self.tref = None


class HeartbeatScheduler(PersistentScheduler):
    """Celery's default scheduler (the schedule file the compose health check watches), plus a
    heartbeat at most every HEARTBEAT_SECONDS."""

    def __init__(self, *args, **kwargs) -> None:
        from django.utils import timezone

        self._heartbeat_started_at = timezone.now()
        self._last_heartbeat = 0.0
        super().__init__(*args, **kwargs)

    def tick(self, *args, **kwargs):
        now = time.monotonic()
        if now - self._last_heartbeat >= HEARTBEAT_SECONDS:
            self._last_heartbeat = now
            heartbeat_write(name="beat", kind="beat", started_at=self._heartbeat_started_at)
        return min(super().tick(*args, **kwargs), HEARTBEAT_SECONDS)
