"""Fill ClosedDay with national holidays (jpholiday) and the year-end closure 12/29–1/3. Idempotent:
existing dates are left as they are (an admin's edit wins), missing ones are added."""

from django.core.management.base import BaseCommand
from django.utils import timezone

from referral_engine.timers.services import timers_calendar_seed


class Command(BaseCommand):
    help = "Seed the office calendar (ClosedDay) for a range of years (default: this year −1 … +3)."

    def add_arguments(self, parser):
        this_year = timezone.localdate().year
        parser.add_argument("--from-year", type=int, default=this_year - 1)
        parser.add_argument("--to-year", type=int, default=this_year + 3)

    def handle(self, *args, from_year, to_year, **options):
        if to_year < from_year:
            self.stderr.write("--to-year is before --from-year")
            raise SystemExit(2)
        added, moved = timers_calendar_seed(years=range(from_year, to_year + 1))
        self.stdout.write(
            f"seed_calendar {from_year}–{to_year}: {added} closed day(s) added, {moved} open deadline(s) recomputed"
        )
