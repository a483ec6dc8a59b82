"""`manage.py generate_load --cases N`: a synthetic city (or prefecture) for benchmarks (issue 10).

People with Japanese names and フリガナ, cases over every window, channel, state and risk, referrals
in every handoff state with their department's stages, activities, consents, the case timeline,
simple-history rows, guardian grants, running clocks and the escalations the sweep fired, and access
log rows, written through bulk paths (COPY on PostgreSQL, `bulk_create` elsewhere). See
`bench.loadgen` and docs/benchmarks.md. Only the local and test settings install the app, so the
production settings have no such command.
"""

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_datetime

from bench.loadgen.run import default_workers, generate, indexes_restore


class Command(BaseCommand):
    help = "Generate a synthetic load of N cases with everything that belongs to them (benchmarks only)."

    def add_arguments(self, parser):
        parser.add_argument("--cases", type=int, help="how many cases to add")
        parser.add_argument("--seed", type=int, default=1, help="random seed (the same seed gives the same data)")
        parser.add_argument("--batch", type=int, default=2000, help="cases per transaction (default 2000)")
        parser.add_argument(
            "--workers", type=int, default=None, help="processes building batches (PostgreSQL; default: up to 2)"
        )
        parser.add_argument("--years", type=float, default=5.0, help="intakes spread over this many years (default 5)")
        parser.add_argument(
            "--due",
            type=int,
            default=0,
            help="leave this many open cases with a stall clock whose first level is due and not yet fired "
            "(for the sweep benchmark)",
        )
        parser.add_argument(
            "--fast",
            action="store_true",
            help="PostgreSQL bulk-load mode: drop secondary indexes and skip foreign-key triggers during the "
            "load, rebuild and VACUUM ANALYZE after it (needs a superuser; for benchmark databases)",
        )
        parser.add_argument("--now", default=None, help="ISO time the data is generated up to (default: now)")
        parser.add_argument(
            "--restore-indexes",
            action="store_true",
            help="re-create indexes a --fast run dropped and could not rebuild (after a crash), then exit",
        )

    def handle(self, *args, **options):
        if options["restore_indexes"]:
            n = indexes_restore(log=self.stderr)
            self.stdout.write(f"restored {n} index(es)")
            return
        cases = options["cases"]
        if not cases or cases < 1:
            raise CommandError("--cases N (N ≥ 1) is required")
        now = None
        if options["now"]:
            now = parse_datetime(options["now"])
            if now is None or now.tzinfo is None:
                raise CommandError("--now must be an ISO time with a time zone, e.g. 2026-11-01T09:00:00+09:00")
        report = generate(
            cases=cases,
            seed=options["seed"],
            batch=options["batch"],
            workers=options["workers"] if options["workers"] is not None else default_workers(),
            years=options["years"],
            due=options["due"],
            fast=options["fast"],
            now=now,
            progress=self.stderr,
        )
        for line in report.lines():
            self.stdout.write(line)
