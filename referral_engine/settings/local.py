"""`make run`: DEBUG on, SQLite and the embedded broker unless the environment says otherwise."""

from referral_engine.observability.logs import logging_config

from .base import *  # noqa: F403
from .base import LOG_LEVEL, env

DEBUG = env.bool("DEBUG", default=True)
# Console lines for people; LOG_FORMAT=json to see what production writes.
LOG_FORMAT = env("LOG_FORMAT", default="text")
LOGGING = logging_config(log_format=LOG_FORMAT, level=LOG_LEVEL)
