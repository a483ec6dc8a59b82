"""Write DESIGN §7's default rules and one rule per registered workflow stage timer. Idempotent:
existing rules (perhaps edited in the admin) are kept; missing ones are added."""

from django.core.management.base import BaseCommand

from referral_engine.timers.services import timers_policies_seed


class Command(BaseCommand):
    help = "Seed EscalationPolicy with the default rules (handoff, stall by risk, workflow stage timers)."

    def add_arguments(self, parser):
        parser.add_argument("--reset", action="store_true", help="overwrite existing rules with the defaults")

    def handle(self, *args, reset=False, **options):
        added, updated = timers_policies_seed(reset=reset)
        self.stdout.write(f"seed_policies: {added} rule(s) added, {updated} reset")
