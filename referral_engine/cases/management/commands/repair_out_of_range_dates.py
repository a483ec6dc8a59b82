"""Find, and with --apply correct, stored dates outside DATE_YEAR_MIN..DATE_YEAR_MAX (issue 16).

A web form once stored `0001-01-01T00:00` as a BC timestamp the driver cannot read. Every client is
refused such a date now; this corrects the live rows already written (an activity's time becomes
the moment it was recorded, an empty-able date is cleared), as the system user, each with its own
history row and a `record_repaired` event on the case. History tables stay as written: they are
append-only, and read as far dates (audit/stored_dates.py).

    manage.py repair_out_of_range_dates            # list what would change; exit status 1 if any
    manage.py repair_out_of_range_dates --apply    # correct them
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from referral_engine.accounts.system import system_user
from referral_engine.cases.services.records import records_dates_repair


class Command(BaseCommand):
    help = "List (and with --apply correct) stored dates outside DATE_YEAR_MIN..DATE_YEAR_MAX."

    def add_arguments(self, parser):
        parser.add_argument("--apply", action="store_true", help="Correct the rows (as the system user).")

    def handle(self, *args, apply: bool = False, **options):
        found = records_dates_repair(actor=system_user(), apply=apply)
        for item in found:
            after = f" -> {item.corrected.isoformat() if item.corrected else '(empty)'}" if apply else ""
            self.stdout.write(f"{item.model} {item.pk} {item.field}: {item.stored}{after}")
        if not found:
            self.stdout.write("No stored date is outside the range.")
        elif apply:
            self.stdout.write(self.style.SUCCESS(f"Corrected {len(found)} value(s)."))
        else:
            raise CommandError(f"{len(found)} value(s) outside the range: run again with --apply to correct them.")
