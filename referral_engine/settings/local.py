"""`make run`: DEBUG on, SQLite and the embedded broker unless the environment says otherwise."""

from .base import *  # noqa: F403
from .base import INSTALLED_APPS, env

DEBUG = env.bool("DEBUG", default=True)

# Development tools: `manage.py generate_load` (bench/loadgen). Production never installs them.
INSTALLED_APPS = [*INSTALLED_APPS, "bench.loadgen"]
