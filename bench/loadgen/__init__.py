"""Synthetic load for benchmarks (issue 10): `manage.py generate_load --cases N`.

A development-only Django app: `referral_engine.settings.local` and `.test` install it, production
never does (the Docker image does not even contain `bench/`). It has no models; the app exists for
its management command. `vocabulary` holds the Japanese names and texts, `tables` writes rows (COPY
on PostgreSQL, `bulk_create` elsewhere), `world` prepares the organisation and the lookup data,
`simulate` plays each case's life (intake, transitions, referrals, stages, activities, consents,
clocks and escalations) and emits every row the services would have written, history included,
and `run` drives batches, worker processes, the progress bar and the finishing steps.

It reads the engine only through public functions: the grants it writes come from
`referral_engine.access.grants.grants_desired_for`, its deadlines from
`referral_engine.timers.calendar.OfficeDays` (the calendar module's own arithmetic).
"""
