"""gunicorn's settings for the web (read from the working directory: docker-compose.yml and bench/faults).

- Prometheus multiprocess mode: every worker writes its request histograms under
  PROMETHEUS_MULTIPROC_DIR and /metrics adds them up. The directory is emptied when gunicorn starts
  (numbers of a previous run would otherwise be counted again) and a dead worker's live gauges are
  dropped. Without the variable: a directory of this gunicorn's own, removed on exit.
- Logs: no access log of gunicorn's own — the app logs every request as a JSON line with its request id
  and without the query string (referral_engine.observability); gunicorn's error log uses the same JSON
  formatter unless LOG_FORMAT=text.
"""

import os
import shutil
import tempfile

_owned_dir = "PROMETHEUS_MULTIPROC_DIR" not in os.environ
multiproc_dir = os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR", os.path.join(tempfile.gettempdir(), f"referral-engine-prometheus-{os.getpid()}")
)

# Workers (issue 23, docs/benchmarks.md "Issue 23: the writes and the request cycle"): sync workers
# unless GUNICORN_WORKER_CLASS says `gthread` (then GUNICORN_THREADS threads each, and DATABASE_POOL=true
# so the threads share a psycopg pool per process). The count is the command line's `--workers`
# (compose: WEB_CONCURRENCY). Measured on 2 shared cores at load average 15–27: 2 or 4 sync workers
# and 2 gthread workers of 4 threads (with and without the pool) were within the noise of each other
# (4–6 writes/s each under that load), so the simpler sync worker stays the default.
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "sync")
threads = int(os.environ.get("GUNICORN_THREADS", "1"))

accesslog = None
_formatter = (
    "referral_engine.observability.logs.TextFormatter"
    if os.environ.get("LOG_FORMAT") == "text"
    else "referral_engine.observability.logs.EngineJsonFormatter"
)
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "referral_engine.observability.logs.ContextFilter"}},
    "formatters": {"engine": {"()": _formatter}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "engine", "filters": ["context"]}},
    "loggers": {"gunicorn.error": {"handlers": ["console"], "level": "INFO", "propagate": False}},
}


def on_starting(server):
    shutil.rmtree(multiproc_dir, ignore_errors=True)
    os.makedirs(multiproc_dir, exist_ok=True)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _owned_dir:
        shutil.rmtree(multiproc_dir, ignore_errors=True)
