"""One sweep by hand, or from cron when Celery is down: `manage.py sweep_timers`."""

import json

from django.core.management.base import BaseCommand
from django.utils.dateparse import parse_datetime

from referral_engine.timers.sweep import timers_sweep_due


class Command(BaseCommand):
    help = "Fire every escalation level that is due, once (the same sweep beat runs every minute)."

    def add_arguments(self, parser):
        parser.add_argument("--batch", type=int, default=None, help="timers per transaction (at most 500)")
        parser.add_argument("--now", default=None, help="ISO time to sweep at (testing and replays)")
        parser.add_argument("--json", action="store_true", help="print the result as JSON")

    def handle(self, *args, batch=None, now=None, json=False, **options):
        at = parse_datetime(now) if now else None
        if now and at is None:
            self.stderr.write(f"--now: not an ISO datetime: {now}")
            raise SystemExit(2)
        result = timers_sweep_due(now=at, batch=batch)
        self.stdout.write(_json_dumps(result.as_dict()) if json else f"sweep: {result}")


def _json_dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False)
