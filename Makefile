# The referral engine: `make run` to try it, `make test` to test it. `make help` lists every target.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
# pytest-xdist processes for `make test` and .ci/run (docs/decisions.md): one per core on the 2-core CI machine.
TEST_WORKERS ?= 2
BIN := $(VENV)/bin
# Re-install only when a requirements file changes: the stamp is newer than both files otherwise.
STAMP := $(VENV)/.requirements.stamp
MANAGE := $(BIN)/python manage.py
# compilemessages walks the tree for locale/ folders: keep it out of the venv and runtime files.
MESSAGES_IGNORE := --ignore=.venv --ignore=var --ignore=node_modules --ignore=artifacts

.PHONY: help venv install run test lint fmt migrate bench messages static seed check clean

help: ## Show this list
	@awk 'BEGIN {FS = ":.*## "; printf "Usage: make <target>\n\n"} \
	     /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

venv: $(BIN)/python ## Create .venv (python3 -m venv)

$(STAMP): requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install --disable-pip-version-check --progress-bar off -r requirements-dev.txt
	@touch $@

install: $(STAMP) ## Install requirements-dev.txt into .venv (again only when a requirements file changed)

migrate: install ## Apply database migrations (SQLite under var/ unless DATABASE_URL is set)
	$(MANAGE) migrate --noinput

messages: install ## Compile translations (needs gettext's msgfmt; skipped when absent or no locale/)
	@if ! command -v msgfmt >/dev/null 2>&1; then \
	    echo "messages: gettext (msgfmt) not installed - skipping compilemessages"; \
	elif [ -z "$$(find . -path ./.venv -prune -o -path ./var -prune -o -type d -name locale -print -quit)" ]; then \
	    echo "messages: no locale/ folder yet - nothing to compile"; \
	else \
	    $(MANAGE) compilemessages $(MESSAGES_IGNORE); \
	fi

static: install ## Collect static files into var/staticfiles
	$(MANAGE) collectstatic --noinput -v 0

seed: migrate ## Load the demo organisation and users (seed_demo; seed_calendar when it exists)
	$(MANAGE) seed_demo
	@if $(MANAGE) help seed_calendar >/dev/null 2>&1; then \
	    $(MANAGE) seed_calendar; \
	else \
	    echo "seed: no seed_calendar command yet - skipping"; \
	fi

run: install migrate messages static seed ## Start the web server, a Celery worker and beat (Ctrl-C stops all)
	$(BIN)/python bin/run-dev

test: install ## Run the test suite (SQLite and an eager Celery unless DATABASE_URL / REDIS_URL are set)
	$(BIN)/pytest -n $(TEST_WORKERS) --dist worksteal

lint: install ## ruff check + ruff format --check (the same commands .ci/run runs)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: install ## Format and auto-fix with ruff
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

check: install ## Django system checks and the missing-migrations check
	$(MANAGE) check
	$(MANAGE) makemigrations --check --dry-run

bench: install ## Benchmark table for BENCH_SIZES (default 10000,1000000; quick: BENCH_SIZES=2000,20000), docs/benchmarks.md
	$(BIN)/python bench/run.py

clean: ## Remove runtime files under var/ (database, broker queue, logs, static); keeps .venv
	rm -rf var/db.sqlite3 var/db.sqlite3-* var/broker var/log var/staticfiles var/celerybeat-schedule*

.PHONY: backup restore-drill
backup: install ## A verified pgBackRest backup (BACKUP_PGDATA's cluster, or a local demo cluster), docs/operations.md
	$(BIN)/python bin/backup backup

restore-drill: install ## Restore the latest backup + WAL into a scratch cluster, check counts/triggers/newest case, print the time
	$(BIN)/python bin/backup restore-drill

.PHONY: chaos
chaos: install ## Fault scenarios + mixed load on a dedicated PostgreSQL/Redis (bench/faults, docs/reliability.md)
	bash bench/faults/chaos.sh
