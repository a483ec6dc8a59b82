"""The worker's health check in compose (issue 16 §5): `python -m referral_engine.observability.worker_probe`.

A Docker health check only marks a container unhealthy; it restarts nothing. This probe closes the
loop with compose's `restart: unless-stopped`:

- the broker is unreachable: unhealthy (exit 1), and nothing else — the worker reconnects by itself
  when Redis is back (CELERY_BROKER_CONNECTION_MAX_RETRIES = None), restarting it would not help;
- the broker answers but the worker does not (`ping` to `celery@<hostname>`, the name compose gives it):
  unhealthy, counted in a file; after RESTART_AFTER misses in a row the probe asks the worker to stop
  (SIGTERM to PID 1, a warm shutdown), from twice as many a cold one (SIGQUIT), and the restart policy
  starts a new one. Only when PID 1 is a Celery worker: run on a host (`.ci/run`) it never signals;
- a reply resets the count (exit 0).
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import tempfile
from pathlib import Path

RESTART_AFTER = 3
PING_TIMEOUT_SECONDS = 5
STATE = Path(os.environ.get("WORKER_PROBE_STATE", Path(tempfile.gettempdir()) / "referral-engine-worker-probe"))


def _pid1_is_celery_worker() -> bool:
    try:
        argv = Path("/proc/1/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return any(part.endswith(b"celery") for part in argv) and b"worker" in argv


def _misses() -> int:
    try:
        return int(STATE.read_text(encoding="ascii").strip() or 0)
    except (OSError, ValueError):
        return 0


def _record(misses: int) -> None:
    STATE.write_text(str(misses), encoding="ascii")


def _broker_reachable(app) -> bool:
    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=3)
        return True
    except Exception:  # noqa: BLE001 - any failure means: not reachable now
        return False


def _worker_answers(app, name: str) -> bool:
    return bool(app.control.ping(destination=[name], timeout=PING_TIMEOUT_SECONDS))


def probe(app, *, name: str, kill=os.kill, pid1_is_worker=_pid1_is_celery_worker) -> tuple[int, str]:
    """One health check: (exit status, what it saw)."""
    if not _broker_reachable(app):
        return 1, "broker unreachable: the worker reconnects by itself once it is back"
    if _worker_answers(app, name):
        _record(0)
        return 0, f"{name} answered"
    misses = _misses() + 1
    _record(misses)
    if misses >= RESTART_AFTER and pid1_is_worker():
        sig = signal.SIGQUIT if misses >= 2 * RESTART_AFTER else signal.SIGTERM
        kill(1, sig)
        return 1, f"{name} did not answer {misses} times in a row: {sig.name} to the worker, compose restarts it"
    return 1, f"{name} did not answer ({misses} in a row)"


def main() -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from referral_engine.celery import app

    status, message = probe(app, name=f"celery@{socket.gethostname()}")
    print(message)  # noqa: T201 - shown by `docker inspect` as the health check's output
    return status


if __name__ == "__main__":
    sys.exit(main())
