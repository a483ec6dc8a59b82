"""`make run`: DEBUG on, SQLite and the embedded broker unless the environment says otherwise."""

from referral_engine.observability.logs import logging_config

from .base import *  # noqa: F403
from .base import INSTALLED_APPS, LOG_LEVEL, env

DEBUG = env.bool("DEBUG", default=True)

# Development tools: `manage.py generate_load` (bench/loadgen). Production never installs them.
INSTALLED_APPS = [*INSTALLED_APPS, "bench.loadgen"]
# Console lines for people; LOG_FORMAT=json to see what production writes.
LOG_FORMAT = env("LOG_FORMAT", default="text")
LOGGING = logging_config(log_format=LOG_FORMAT, level=LOG_LEVEL)
