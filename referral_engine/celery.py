"""The one Celery app. Redis when REDIS_URL is set, otherwise kombu's filesystem transport under var/
so that `make run` has a real worker and beat without any server."""

import os

from celery import Celery
from celery.signals import setup_logging

from referral_engine.observability.heartbeat import WorkerHeartbeat

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "referral_engine.settings.local")

app = Celery("referral_engine")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Every worker writes a heartbeat row for /metrics (beat does too, from its scheduler).
app.steps["worker"].add(WorkerHeartbeat)


@setup_logging.connect
def use_django_logging(loglevel=None, **kwargs) -> None:
    """Workers and beat log like the web (JSON lines with the task id): Django's LOGGING, not Celery's.

    The command line's `-l`/`--loglevel` still sets Celery's own loggers (its "ready." line is INFO, and
    the fault scripts wait for it while LOG_LEVEL keeps the application at WARNING)."""
    import logging
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)
    if loglevel:
        logging.getLogger("celery").setLevel(loglevel)
