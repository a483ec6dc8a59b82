"""Synthetic load for benchmarks (issue 10): `manage.py generate_load --cases N`.

Not a Django app. `vocabulary` holds the Japanese names and texts, `tables` writes rows (COPY on
PostgreSQL, `bulk_create` elsewhere), `world` prepares the organisation and the lookup data,
`simulate` plays each case's life (intake, transitions, referrals, stages, activities, consents,
clocks and escalations) and emits every row the services would have written, history included,
and `run` drives batches, worker processes, the progress bar and the finishing steps.
"""
