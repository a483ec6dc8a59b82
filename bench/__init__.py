"""Benchmarks, fault scripts and the load generator: development tools, never part of the image.

`bench.loadgen` is a Django app (the `generate_load` command) installed only by the local and test
settings; the scripts beside it (`run.py`, `measure.py`, `pgbench_intake.py`, `faults/`, `load/`) run
as programs. See docs/benchmarks.md and docs/reliability.md.
"""
