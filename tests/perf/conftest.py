"""Fixtures of the performance tests: data built by `manage.py generate_load`'s own code (bulk_create
on SQLite, COPY on PostgreSQL), at a fixed `now` so the clocks and the sweep are reproducible."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

# A Wednesday morning in office hours, after the FY2026 boundary.
NOW = datetime(2026, 6, 10, 10, 0, tzinfo=ZoneInfo("Asia/Tokyo"))


@pytest.fixture
def now():
    return NOW


@pytest.fixture
def load(db):
    """`load(n, seed=…, due=…)`: add n generated cases (appending to what is there)."""
    from bench.loadgen.run import generate

    def _load(cases: int, *, seed: int = 7, due: int = 0, years: float = 2.0):
        return generate(cases=cases, seed=seed, batch=50, workers=1, years=years, due=due, now=NOW)

    return _load
