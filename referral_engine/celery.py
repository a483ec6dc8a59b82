"""The one Celery app. Redis when REDIS_URL is set, otherwise kombu's filesystem transport under var/
so that `make run` has a real worker and beat without any server."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "referral_engine.settings.local")

app = Celery("referral_engine")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
