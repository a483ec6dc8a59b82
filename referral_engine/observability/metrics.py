"""Prometheus metrics (issue 22, item 2): `/metrics` in the text format.

Two kinds:

- measured in the web processes: `referral_engine_http_request_duration_seconds` (a histogram per
  view — the URL pattern's name, never the raw path — method and status), observed by
  `RequestObservabilityMiddleware`. Under gunicorn each worker is a process: prometheus_client's
  multiprocess mode (`PROMETHEUS_MULTIPROC_DIR`, set and emptied at start by gunicorn.conf.py) adds
  them up across workers.
- read at scrape time from the database and the broker (`EngineCollector`), so every web process gives
  the same answer: the outbox backlog, the sweep's lag, open escalations by level, the Celery queue
  depth and the heartbeats the Celery worker(s) and beat write (observability.heartbeat).

A part that cannot be read (database or broker down) is left out and `referral_engine_scrape_error`
says which: a scrape never fails with a 500.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import REGISTRY, Collector

logger = logging.getLogger(__name__)

REQUEST_LATENCY = Histogram(
    "referral_engine_http_request_duration_seconds",
    "Time to answer an HTTP request, by view (URL pattern name), method and status.",
    ["view", "method", "status"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def observe_request(*, view: str, method: str, status: int, seconds: float) -> None:
    REQUEST_LATENCY.labels(
        view=view, method=method if method in KNOWN_METHODS else "OTHER", status=str(status)
    ).observe(seconds)


def queue_depth(app: Any, queue: str) -> int:
    """Messages waiting in a broker queue (Redis: the list lengths over its priorities; the filesystem
    transport: its files). A queue nobody declared yet holds nothing."""
    from amqp.exceptions import NotFound
    from kombu.exceptions import ChannelError

    with app.connection_for_read() as connection:
        connection.ensure_connection(max_retries=1, timeout=2)
        try:
            return int(connection.default_channel.queue_declare(queue=queue, passive=True).message_count)
        except (ChannelError, NotFound):
            return 0


class EngineCollector(Collector):
    """Gauges read at scrape time. Each part fails on its own (see `referral_engine_scrape_error`)."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        errors = GaugeMetricFamily(
            "referral_engine_scrape_error", "1 when a part of the metrics could not be read.", labels=["part"]
        )
        for part, collect in (
            ("outbox", self._outbox),
            ("sweep", self._sweep),
            ("escalations", self._escalations),
            ("celery_queue", self._queue),
            ("heartbeats", self._heartbeats),
        ):
            try:
                yield from collect()
                errors.add_metric([part], 0)
            except Exception:
                logger.warning("metrics: could not read %s", part, exc_info=True)
                errors.add_metric([part], 1)
        yield errors

    def _outbox(self) -> Iterator[GaugeMetricFamily]:
        from referral_engine.notifications.models import Notification

        pending = Notification.objects.filter(delivery=Notification.Delivery.PENDING).aggregate(
            n=Count("id"), oldest=Min("created_at")
        )
        yield GaugeMetricFamily(
            "referral_engine_outbox_pending", "Notifications waiting in the outbox for mail delivery.", pending["n"]
        )
        age = (timezone.now() - pending["oldest"]).total_seconds() if pending["oldest"] else 0.0
        yield GaugeMetricFamily(
            "referral_engine_outbox_oldest_pending_age_seconds",
            "Age of the oldest notification still waiting for delivery (0 when none waits).",
            max(age, 0.0),
        )
        failed = Notification.objects.filter(delivery=Notification.Delivery.FAILED).count()
        yield GaugeMetricFamily(
            "referral_engine_outbox_failed", "Notifications whose delivery gave up after every retry.", failed
        )

    def _sweep(self) -> Iterator[GaugeMetricFamily]:
        from referral_engine.timers.models import SweepStatus

        status = SweepStatus.objects.filter(name="timers").first()
        last = status.last_success_at if status is not None else None
        lag = (timezone.now() - last).total_seconds() if last else math.inf
        yield GaugeMetricFamily(
            "referral_engine_sweep_lag_seconds",
            "Seconds since the last successful timer sweep (+Inf: never swept).",
            max(lag, 0.0),
        )
        yield GaugeMetricFamily(
            "referral_engine_sweep_last_success_timestamp_seconds",
            "Unix time of the last successful timer sweep (0: never).",
            last.timestamp() if last else 0.0,
        )

    def _escalations(self) -> Iterator[GaugeMetricFamily]:
        from referral_engine.timers.models import Escalation

        counts = dict.fromkeys(Escalation.Level.values, 0)
        for row in Escalation.objects.filter(state=Escalation.State.OPEN).values("level").annotate(n=Count("id")):
            counts[row["level"]] = row["n"]
        family = GaugeMetricFamily(
            "referral_engine_escalations_open", "Open (unacknowledged) escalations by level.", labels=["level"]
        )
        for level, n in sorted(counts.items()):
            family.add_metric([str(level)], n)
        yield family

    def _queue(self) -> Iterator[GaugeMetricFamily]:
        from referral_engine.celery import app

        queue = app.conf.task_default_queue
        family = GaugeMetricFamily(
            "referral_engine_celery_queue_depth", "Tasks waiting in the Celery broker queue.", labels=["queue"]
        )
        family.add_metric([queue], queue_depth(app, queue))
        yield family

    def _heartbeats(self) -> Iterator[GaugeMetricFamily]:
        from referral_engine.observability.heartbeat import HEARTBEAT_SECONDS
        from referral_engine.observability.models import Heartbeat

        now = timezone.now()
        fresh_within = 3 * HEARTBEAT_SECONDS
        workers = GaugeMetricFamily(
            "referral_engine_celery_worker_last_heartbeat_timestamp_seconds",
            "Unix time of each Celery worker's last heartbeat.",
            labels=["worker"],
        )
        beat = GaugeMetricFamily(
            "referral_engine_celery_beat_last_heartbeat_timestamp_seconds",
            "Unix time of Celery beat's last heartbeat (0: never).",
        )
        up = 0
        beat_at = 0.0
        for row in Heartbeat.objects.all():
            if row.kind == "beat":
                beat_at = max(beat_at, row.at.timestamp())
            else:
                workers.add_metric([row.name.removeprefix("worker:")], row.at.timestamp())
                up += (now - row.at).total_seconds() <= fresh_within
        beat.add_metric([], beat_at)
        yield workers
        yield GaugeMetricFamily(
            "referral_engine_celery_workers_up",
            f"Celery workers whose last heartbeat is at most {fresh_within} s old.",
            up,
        )
        yield beat
        yield GaugeMetricFamily(
            "referral_engine_celery_beat_up",
            f"1 when beat's last heartbeat is at most {fresh_within} s old.",
            int(beat_at > 0 and now.timestamp() - beat_at <= fresh_within),
        )


def metrics_text() -> bytes:
    """The whole exposition: the request histograms (summed over gunicorn's workers in multiprocess
    mode) and the engine's gauges."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        measured = CollectorRegistry()
        MultiProcessCollector(measured)
    else:
        measured = REGISTRY
    engine = CollectorRegistry(auto_describe=False)
    engine.register(EngineCollector())
    return generate_latest(measured) + generate_latest(engine)


def access_allowed(request: Any) -> bool:
    """`Authorization: Bearer <METRICS_TOKEN>`, or a client address in METRICS_ALLOWED_IPS (addresses or
    networks). Without either setting nobody may read the metrics."""
    import hmac
    import ipaddress

    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer ") and hmac.compare_digest(header[7:].strip().encode(), token.encode()):
        return True
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    for allowed in settings.METRICS_ALLOWED_IPS:
        try:
            if address in ipaddress.ip_network(allowed, strict=False):
                return True
        except ValueError:
            continue
    return False
