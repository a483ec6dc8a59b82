#!/usr/bin/env bash
# `make chaos`: every fault scenario of issue 11 and the mixed load, at full size, one after another.
# CHAOS_SCALE=ci runs the bounded forms (.ci/run). Each script brings up its own dedicated PostgreSQL
# and Redis (bench/faults/stack.py), prints what it did and what it checked, and exits non-zero on a
# failed check; this runs them all and fails if any failed. Logs: artifacts/chaos/.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
PY=.venv/bin/python
if [ "${CHAOS_SCALE:-full}" = ci ]; then
    runs=(
        "bench/faults/redis_outage.py --intakes 60 --clients 10"
        "bench/faults/worker_kill.py --timers 400 --mails 100"
        "bench/faults/two_beats.py --timers 200"
        "bench/faults/postgres_restart.py --duration 15 --clients 10"
    )
else
    runs=(
        "bench/faults/redis_outage.py"
        "bench/faults/worker_kill.py"
        "bench/faults/two_beats.py"
        "bench/faults/postgres_restart.py"
        "bench/load/mixed.py"
    )
fi
failed=()
started=$(date +%s)
for run in "${runs[@]}"; do
    printf '\n\033[1m---- %s ----\033[0m\n' "$run"
    # shellcheck disable=SC2086 # the arguments are ours
    if ! timeout 900 $PY $run; then
        failed+=("$run")
    fi
done
printf '\nchaos: %d scenario(s) in %ss\n' "${#runs[@]}" "$(($(date +%s) - started))"
if [ "${#failed[@]}" -gt 0 ]; then
    printf 'FAILED: %s\n' "${failed[@]}"
    exit 1
fi
echo "chaos: every scenario held"
