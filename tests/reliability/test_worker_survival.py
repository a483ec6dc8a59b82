"""Issue 16 §5: the Celery worker survives a Redis outage by itself, and a worker that stops answering
while Redis is up is restarted (its compose health check stops it, the restart policy starts a new one).
The outage itself is bench/faults/redis_outage.py (the same worker process drains the outbox)."""

from __future__ import annotations

import signal
import types

import pytest


def test_the_worker_retries_the_broker_forever():
    from referral_engine.celery import app

    assert app.conf.broker_connection_max_retries is None
    assert app.conf.broker_connection_retry_on_startup is True


def test_a_channel_whose_connection_was_closed_raises_a_recoverable_connection_error():
    """kombu 5.7: acknowledging on a channel whose connection the consumer already closed failed with an
    AttributeError ('NoneType' object has no attribute 'hostname'), which Celery treats as fatal."""
    from kombu.transport import redis as kombu_redis

    import referral_engine.celery  # noqa: F401 - installs the guard

    closed = types.SimpleNamespace(connection=types.SimpleNamespace(client=None))
    with pytest.raises(Exception) as info:
        kombu_redis.Channel._connparams(closed)
    assert not isinstance(info.value, AttributeError)
    assert isinstance(info.value, kombu_redis.Transport.connection_errors)


class _App:
    def __init__(self, *, broker: bool, answers: bool):
        self.broker, self.answers = broker, answers
        self.control = types.SimpleNamespace(
            ping=lambda destination, timeout: [{destination[0]: "pong"}] if self.answers else []
        )

    def connection_for_write(self):
        app = self

        class _Conn:
            def __enter__(self):
                return self

            def __exit__(self, *exc):
                return False

            def ensure_connection(self, **kwargs):
                if not app.broker:
                    raise ConnectionRefusedError("redis down")

        return _Conn()


@pytest.fixture
def probe(tmp_path, monkeypatch):
    from referral_engine.observability import worker_probe

    monkeypatch.setattr(worker_probe, "STATE", tmp_path / "probe-state")
    return worker_probe


def test_the_probe_stops_a_worker_that_stops_answering_while_the_broker_is_up(probe):
    kills = []

    def run(app):
        return probe.probe(
            app, name="celery@host", kill=lambda pid, sig: kills.append((pid, sig)), pid1_is_worker=lambda: True
        )[0]

    silent = _App(broker=True, answers=False)
    assert [run(silent) for _ in range(probe.RESTART_AFTER - 1)] == [1] * (probe.RESTART_AFTER - 1)
    assert kills == []  # a slow ping or two is not a dead worker
    assert run(silent) == 1
    assert kills == [(1, signal.SIGTERM)]  # warm shutdown; compose's restart policy starts a new worker
    for _ in range(probe.RESTART_AFTER):
        run(silent)
    assert kills[-1] == (1, signal.SIGQUIT)  # still there: cold shutdown

    assert run(_App(broker=True, answers=True)) == 0  # a reply resets the count
    kills.clear()
    run(silent)
    assert kills == []


def test_the_probe_leaves_the_worker_alone_while_the_broker_is_down(probe):
    kills = []
    down = _App(broker=False, answers=False)
    for _ in range(3 * probe.RESTART_AFTER):
        status, message = probe.probe(
            down, name="celery@host", kill=lambda *a: kills.append(a), pid1_is_worker=lambda: True
        )
        assert status == 1 and "broker unreachable" in message
    assert kills == []  # it reconnects by itself once Redis is back


def test_the_probe_never_signals_when_pid_1_is_not_a_celery_worker(probe):
    kills = []
    silent = _App(broker=True, answers=False)
    for _ in range(3 * probe.RESTART_AFTER):
        probe.probe(silent, name="celery@host", kill=lambda *a: kills.append(a), pid1_is_worker=lambda: False)
    assert kills == []
    assert probe._pid1_is_celery_worker() is False  # this machine's PID 1 (a test never runs as a container's worker)
