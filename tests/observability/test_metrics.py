"""/metrics (issue 22, item 2): who may read it, and the named metrics moving with the work — an intake,
a sweep, a delivery, a queued task, the heartbeats of a worker and of beat."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "metrics-token-for-tests-" + "x" * 20


@pytest.fixture(autouse=True)
def _metrics_settings(settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_IPS = []


def scrape(**headers) -> dict[tuple[str, frozenset], float]:
    response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}", **headers)
    assert response.status_code == 200, response.content
    values = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            values[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return values


def value(samples, name: str, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


# --- access ------------------------------------------------------------------------------------------


def test_metrics_refuse_without_the_token_or_an_allowed_address(settings):
    anonymous = Client().get("/metrics")
    assert anonymous.status_code == 403
    assert anonymous.json()["error"] == "forbidden" and "referral_engine" not in anonymous.content.decode()
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert Client().get("/metrics", HTTP_AUTHORIZATION=TOKEN).status_code == 403  # not as a bearer token
    settings.METRICS_TOKEN = ""
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 403  # no token, no access


def test_metrics_with_the_bearer_token_are_prometheus_text():
    response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    body = response.content.decode()
    for name in (
        "referral_engine_http_request_duration_seconds",
        "referral_engine_outbox_pending",
        "referral_engine_sweep_lag_seconds",
        "referral_engine_escalations_open",
        "referral_engine_celery_queue_depth",
        "referral_engine_celery_workers_up",
        "referral_engine_celery_beat_up",
    ):
        assert f"# TYPE {name} " in body, name


def test_an_allowed_address_or_network_reads_without_a_token(settings):
    settings.METRICS_ALLOWED_IPS = ["10.20.0.0/16", "192.0.2.7"]
    assert Client(REMOTE_ADDR="10.20.3.4").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="192.0.2.7").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="10.21.0.1").get("/metrics").status_code == 403
    assert Client(REMOTE_ADDR="127.0.0.1").get("/metrics").status_code == 403  # loopback is not implied


def test_a_part_that_cannot_be_read_is_reported_not_a_500(monkeypatch):
    from referral_engine.observability.metrics import EngineCollector

    def broken(self):
        raise RuntimeError("database gone")
        yield  # pragma: no cover

    monkeypatch.setattr(EngineCollector, "_outbox", broken)
    samples = scrape()
    assert value(samples, "referral_engine_scrape_error", part="outbox") == 1
    assert value(samples, "referral_engine_scrape_error", part="sweep") == 0
    assert ("referral_engine_sweep_lag_seconds", frozenset()) in samples


# --- the metrics move with the work -------------------------------------------------------------------


INTAKE = {
    "summary": "一人暮らし。",
    "needs": ["isolation"],
    "risk": "high",
    "channel": "phone",
    "person": {
        "family_name": "保戸島",
        "given_name": "梅",
        "family_name_kana": "ホトジマ",
        "given_name_kana": "ウメ",
        "birth_date": "1938-03-03",
        "district": "kawakami",
    },
    "referrals": [{"to_department": "health_promotion", "basis": "internal_use", "reason": "訪問"}],
}


def test_intake_sweep_and_delivery_move_the_named_metrics(users, django_capture_on_commit_callbacks):
    from referral_engine.cases.models import Case
    from referral_engine.notifications.delivery import notifications_deliver_pending
    from referral_engine.timers.models import Timer
    from referral_engine.timers.sweep import timers_sweep_due

    intake_count = ("referral_engine_http_request_duration_seconds_count", "api-cases", "POST", "201")
    before = scrape()
    assert value(before, "referral_engine_sweep_lag_seconds") == float("inf")  # never swept yet

    # An intake through the API: its latency is observed under the route's name; its handoff queues mail.
    client = Client()
    client.force_login(users["desk_welfare"])
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post("/api/v1/cases/", INTAKE, content_type="application/json")
    assert response.status_code == 201, response.content
    after_intake = scrape()
    name, view, method, status = intake_count
    assert value(after_intake, name, view=view, method=method, status=status) == (
        value(before, name, view=view, method=method, status=status) + 1
    )
    pending = value(after_intake, "referral_engine_outbox_pending")
    assert pending > value(before, "referral_engine_outbox_pending")
    assert value(after_intake, "referral_engine_outbox_oldest_pending_age_seconds") >= 0

    # A sweep past the first deadline: the lag is back to zero and what it fired is open.
    case = Case.objects.get(pk=response.json()["id"])
    timer = Timer.objects.filter(referral__case=case, is_open=True).order_by("due_at").first()
    timers_sweep_due(now=timer.due_at + timedelta(minutes=1))
    after_sweep = scrape()
    assert value(after_sweep, "referral_engine_sweep_lag_seconds") < 60
    assert value(after_sweep, "referral_engine_sweep_last_success_timestamp_seconds") > 0

    def open_escalations(samples) -> float:
        return sum(value(samples, "referral_engine_escalations_open", level=str(n)) for n in (1, 2, 3))

    assert open_escalations(after_sweep) > open_escalations(after_intake)

    # Delivery empties the outbox.
    assert value(after_sweep, "referral_engine_outbox_pending") >= pending
    notifications_deliver_pending()
    assert value(scrape(), "referral_engine_outbox_pending") == 0


def test_queue_depth_counts_the_tasks_waiting_in_the_broker():
    from kombu import Connection

    from referral_engine.celery import app
    from referral_engine.observability.metrics import queue_depth

    class MemoryBroker:
        """The app pointed at kombu's in-memory transport for this test only."""

        def __init__(self):
            self.connection = Connection("memory://")

        def connection_for_read(self):
            return Connection("memory://")

    broker = MemoryBroker()
    queue = "metrics-test-queue"
    assert queue_depth(broker, queue) == 0  # nobody declared it yet
    with broker.connection as connection:
        producer = connection.Producer()
        for n in range(3):
            producer.publish({"n": n}, routing_key=queue, declare=[connection.SimpleQueue(queue).queue])
    assert queue_depth(broker, queue) == 3
    assert app.conf.task_default_queue == "celery"


def test_worker_and_beat_heartbeats_are_exported(monkeypatch, tmp_path):
    from referral_engine.celery import app
    from referral_engine.observability.heartbeat import HeartbeatScheduler, WorkerHeartbeat

    before = scrape()
    assert value(before, "referral_engine_celery_workers_up") == 0
    assert value(before, "referral_engine_celery_beat_up") == 0

    class FakeTimer:
        def __init__(self):
            self.calls = []

        def call_repeatedly(self, seconds, fn, priority=0):
            self.calls.append((seconds, fn))
            return type("Ref", (), {"cancel": lambda self: None})()

    class FakeWorker:
        hostname = "celery@host-a"
        timer = FakeTimer()

    worker = FakeWorker()
    step = WorkerHeartbeat(worker)
    step.start(worker)
    assert worker.timer.calls and worker.timer.calls[0][0] == 30
    monkeypatch.setitem(app.conf, "beat_schedule", {})  # the heartbeat alone, no task sent
    scheduler = HeartbeatScheduler(app=app, schedule_filename=str(tmp_path / "schedule"))
    assert scheduler.tick() <= 30
    samples = scrape()
    assert value(samples, "referral_engine_celery_workers_up") == 1
    assert value(samples, "referral_engine_celery_worker_last_heartbeat_timestamp_seconds", worker="celery@host-a") > (
        time.time() - 60
    )
    assert value(samples, "referral_engine_celery_beat_up") == 1
    step.stop(worker)
    scheduler.close()


# --- gunicorn's workers add up ---------------------------------------------------------------------------


@pytest.mark.slow
def test_under_gunicorn_the_workers_counts_add_up_and_the_directory_is_emptied_at_start(tmp_path):
    multiproc = tmp_path / "prometheus"
    multiproc.mkdir()
    stale = multiproc / "histogram_999999.db"
    stale.write_bytes(b"stale numbers of a previous run")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "REDIS_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="referral_engine.settings.local",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        PROMETHEUS_MULTIPROC_DIR=str(multiproc),
        METRICS_ALLOWED_IPS="127.0.0.1",
        LOG_LEVEL="WARNING",
    )
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or "gunicorn"
    process = subprocess.Popen(
        [gunicorn, "referral_engine.wsgi:application", "--bind", f"127.0.0.1:{port}", "--workers", "2"]
        + ["--config", "gunicorn.conf.py"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    import requests

    try:
        for _ in range(100):
            try:
                requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
                break
            except (requests.ConnectionError, requests.Timeout):
                time.sleep(0.3)
        assert not stale.exists()
        for _ in range(20):
            requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
        body = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    finally:
        process.terminate()
        process.wait(timeout=30)
    counts = [
        sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
        if sample.name == "referral_engine_http_request_duration_seconds_count" and sample.labels["view"] == "healthz"
    ]
    assert sum(counts) >= 21  # the twenty and the probes before them, whichever worker answered each
    assert len(list(multiproc.glob("*.db"))) >= 1
