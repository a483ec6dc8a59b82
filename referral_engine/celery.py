"""The one Celery app. Redis when REDIS_URL is set, otherwise kombu's filesystem transport under var/
so that `make run` has a real worker and beat without any server."""

import os

from celery import Celery
from celery.signals import setup_logging

from referral_engine.observability.heartbeat import WorkerHeartbeat

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "referral_engine.settings.local")


def _redis_transport_survives_a_closed_connection() -> None:
    """Issue 16 / docs/reliability.md: with kombu 5.7 a Redis outage could end the worker ("Unrecoverable
    error: AttributeError: 'NoneType' object has no attribute 'hostname'"). An acks_late task that
    finishes while the consumer is reconnecting acknowledges on a channel whose connection was
    already closed (kombu sets the transport's `client` to None); the channel then tries to open a
    new Redis client from that missing connection. Celery treats connection errors as recoverable
    (the ack is logged as lost, the message comes back after the visibility timeout, our tasks are
    idempotent), but an AttributeError as fatal. Say what it is: a closed broker connection."""
    from kombu.transport import redis as kombu_redis
    from redis.exceptions import ConnectionError as RedisConnectionError

    original = kombu_redis.Channel._connparams
    if getattr(original, "closed_connection_guard", False):
        return

    def _connparams(self, asynchronous=False):
        if getattr(self.connection, "client", None) is None:
            raise RedisConnectionError("the broker connection of this channel is closed")
        return original(self, asynchronous=asynchronous)

    _connparams.closed_connection_guard = True
    kombu_redis.Channel._connparams = _connparams


_redis_transport_survives_a_closed_connection()

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
