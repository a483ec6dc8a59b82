from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from referral_engine.accounts.demo import DEMO_USERS, demo_cases_ensure, demo_users_ensure
from referral_engine.disasters.demo import demo_register_ensure


class Command(BaseCommand):
    help = "Create the demo organisation, the demo users of every role and a few cases. Safe to run twice."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Run even with DEBUG off (never in production).")
        parser.add_argument("--no-cases", action="store_true", help="Users and organisation only.")

    def handle(self, *args, force=False, no_cases=False, **options):
        if not settings.DEBUG and not force:
            raise CommandError("seed_demo refuses to run with DEBUG off (production). Use --force on a test system.")
        demo_users_ensure()
        created = 0 if no_cases else demo_cases_ensure()
        register = 0 if no_cases else demo_register_ensure()
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo organisation ready: {len(DEMO_USERS)} users, {created} new cases, {register} new people on the evacuation-support register."
            )
        )
        self.stdout.write(
            f"Password for every demo user: DEMO_PASSWORD ({'set' if settings.DEMO_PASSWORD != 'tsukumi-demo' else 'tsukumi-demo'})"
        )
