"""docker-compose.yml and the Dockerfile, checked without Docker: every service is health-checked, starts
only after what it needs is healthy, and every command names a module or management command that exists.

`.ci/run` goes further: it starts the web, worker and beat commands against PostgreSQL and Redis."""

from __future__ import annotations

import importlib
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from celery import Celery
from django.core.management import get_commands

from tests.bin_scripts import load_bin_script

ROOT = Path(__file__).resolve().parent.parent
APP_SERVICES = {"web", "worker", "beat"}
SEPARATORS = {"&&", "||", ";", "|", "&"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def shell_commands(script: str) -> list[list[str]]:
    """Split `a && exec b; c` into [[a], [b], [c]] (compose's `$$` is a literal `$`)."""
    lexer = shlex.shlex(script.replace("$$", "$"), posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    commands, current = [], []
    for token in lexer:
        if token in SEPARATORS:
            commands.append(current)
            current = []
        else:
            current.append(token)
    commands.append(current)
    return [c[1:] if c[:1] == ["exec"] else c for c in commands if c]


def argvs(spec) -> list[list[str]]:
    """The commands a compose `command:` or healthcheck `test:` runs."""
    if isinstance(spec, str):
        return shell_commands(spec)
    if spec[:1] == ["CMD-SHELL"]:
        return shell_commands(spec[1])
    if spec[:1] == ["CMD"]:
        spec = spec[1:]
    if spec[:2] == ["sh", "-c"]:
        return shell_commands(spec[2])
    return [list(spec)]


def app_commands(services: dict) -> list[tuple[str, list[str]]]:
    found = [("migrate", argv) for argv in argvs(services["migrate"]["command"])]
    for name in sorted(APP_SERVICES):
        service = services[name]
        for argv in argvs(service["command"]) + argvs(service["healthcheck"]["test"]):
            found.append((name, argv))
    return found


def check_argv_refers_to_real_code(argv: list[str]) -> str:
    """Import what the command names; return what was checked (for the assertion message)."""
    program = Path(argv[0]).name
    if program == "gunicorn":
        target = next(arg for arg in argv[1:] if not arg.startswith("-") and (":" in arg or "." in arg))
        module_name, _, attribute = target.partition(":")
        application = getattr(importlib.import_module(module_name), attribute or "application")
        assert callable(application), f"{target} is not a WSGI callable"
        return f"gunicorn {target}"
    if program == "celery":
        app_name = argv[argv.index("-A") + 1]
        module = importlib.import_module(app_name)
        apps = [getattr(module, attr, None) for attr in ("celery_app", "app", "celery")]
        assert any(isinstance(app, Celery) for app in apps), f"{app_name} exposes no Celery app"
        subcommand = next(arg for arg in argv[argv.index("-A") + 2 :] if not arg.startswith("-"))
        assert subcommand in {"worker", "beat", "inspect"}, subcommand
        return f"celery -A {app_name} {subcommand}"
    if program.startswith("python"):
        if argv[1:2] == ["manage.py"]:
            command = argv[2]
            assert command in get_commands(), f"manage.py has no command {command!r}"
            assert (ROOT / "manage.py").exists()
            return f"manage.py {command}"
        if argv[1:2] == ["-c"]:
            compile(argv[2], "<healthcheck>", "exec")
            return "python -c <code>"
        if argv[1:2] == ["-m"]:
            module = importlib.import_module(argv[2])
            assert callable(getattr(module, "main", None)), f"{argv[2]} has no main()"
            return f"python -m {argv[2]}"
    raise AssertionError(f"unrecognised command in docker-compose.yml: {shlex.join(argv)}")


def test_the_services(services):
    assert set(services) == {"postgres", "redis", "migrate", "web", "worker", "beat", "backup"}


def test_every_service_has_a_healthcheck(services):
    for name, service in services.items():
        if name == "migrate":  # a one-shot: web waits for it to complete
            assert service["restart"] == "no" and service["healthcheck"] == {"disable": True}
            continue
        test = service.get("healthcheck", {}).get("test")
        assert test, f"{name} has no healthcheck"
        assert test[0] in {"CMD", "CMD-SHELL"}, f"{name}: healthcheck test must be CMD or CMD-SHELL"


def test_depends_on_waits_for_healthy_services(services):
    for name in APP_SERVICES:
        depends_on = services[name]["depends_on"]
        assert isinstance(depends_on, dict), f"{name}: depends_on must name a condition"
        assert {"postgres", "redis"} <= set(depends_on)
        for dependency, spec in depends_on.items():
            assert dependency in services
            expected = "service_completed_successfully" if dependency == "migrate" else "service_healthy"
            assert spec == {"condition": expected}, f"{name} -> {dependency}: {spec}"
    # web starts after the migrations have completed; the worker and beat after web.
    assert services["web"]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert "web" in services["worker"]["depends_on"]
    assert "web" in services["beat"]["depends_on"]


def test_app_services_share_one_image_and_the_production_settings(services):
    builds = {repr(services[name]["build"]) for name in APP_SERVICES}
    images = {services[name]["image"] for name in APP_SERVICES}
    assert len(builds) == 1
    assert len(images) == 1
    for name in APP_SERVICES:
        service = services[name]
        assert service["env_file"] == ".env"
        assert service["environment"]["DJANGO_SETTINGS_MODULE"] == "referral_engine.settings.production"
        assert service["environment"]["DATABASE_URL"].startswith("postgres://")
        assert service["environment"]["REDIS_URL"].startswith("redis://redis:")


def test_postgres_and_redis_keep_their_data_in_volumes(compose, services):
    for name in ("postgres", "redis"):
        volume = services[name]["volumes"][0].split(":")[0]
        assert volume in compose["volumes"]


def test_migrate_runs_once_as_the_owner_and_the_app_services_never_know_the_owner(services):
    """Issue 16: the one-shot `migrate` service alone has DATABASE_OWNER_URL (referral_owner); web, worker
    and beat connect as referral_app; POSTGRES_USER (the superuser) is for bootstrapping and backups."""
    migrate = services["migrate"]
    assert argvs(migrate["command"]) == [["python", "manage.py", "migrate", "--noinput"]]
    assert migrate["environment"]["DATABASE_OWNER_URL"].startswith(
        "postgres://referral_owner:${REFERRAL_OWNER_PASSWORD:?"
    )
    assert migrate["environment"]["DATABASE_URL"].startswith("postgres://referral_app:${REFERRAL_APP_PASSWORD:?")
    for name in APP_SERVICES:
        environment = services[name]["environment"]
        assert "DATABASE_OWNER_URL" not in environment, name
        assert environment["DATABASE_URL"].startswith("postgres://referral_app:"), name
        assert "POSTGRES_USER" not in environment["DATABASE_URL"], name
    assert [Path(argv[0]).name for argv in argvs(services["web"]["command"])] == ["gunicorn"]
    postgres = services["postgres"]
    assert (
        "./deploy/postgres/initdb-roles.sh:/docker-entrypoint-initdb.d/10-referral-roles.sh:ro" in postgres["volumes"]
    )
    assert "./deploy/postgres/roles.sql:/etc/referral-engine/roles.sql:ro" in postgres["volumes"]
    script = (ROOT / "deploy/postgres/initdb-roles.sh").read_text(encoding="utf-8")
    assert "-f /etc/referral-engine/roles.sql" in script
    for variable in ("REFERRAL_OWNER_PASSWORD", "REFERRAL_APP_PASSWORD"):
        assert postgres["environment"][variable].startswith(f"${{{variable}:?"), variable


def test_every_command_refers_to_code_that_exists(services):
    checked = [(name, check_argv_refers_to_real_code(argv)) for name, argv in app_commands(services)]

    kinds = {what for _, what in checked}
    assert {"manage.py migrate", "celery -A referral_engine worker", "celery -A referral_engine beat"} <= kinds
    assert any(what.startswith("gunicorn referral_engine.wsgi") for what in kinds)


def test_beat_healthcheck_needs_a_fresh_schedule_file(services, tmp_path):
    code = services["beat"]["healthcheck"]["test"][-1]

    def healthy() -> bool:
        return subprocess.run([sys.executable, "-c", code], cwd=tmp_path, timeout=30).returncode == 0

    assert not healthy()  # no schedule file yet
    schedule = tmp_path / "var" / "celerybeat-schedule.db"
    schedule.parent.mkdir()
    schedule.write_bytes(b"")
    assert healthy()
    stale = time.time() - 3600
    os.utime(schedule, (stale, stale))
    assert not healthy()


def test_dockerfile_builds_one_slim_image_that_runs_as_a_normal_user():
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    instructions = [line.strip() for line in dockerfile.splitlines() if line.strip() and not line.startswith("#")]

    assert instructions[0] == "FROM python:3.11-slim"
    assert "pip install -r requirements.txt" in dockerfile
    assert "collectstatic" in dockerfile
    users = [line.split()[1] for line in instructions if line.startswith("USER ")]
    assert users and users[-1] not in {"root", "0"}
    cmd = next(line for line in instructions if line.startswith("CMD "))
    assert "referral_engine.wsgi:application" in cmd


def test_dockerignore_keeps_secrets_and_local_state_out_of_the_image():
    ignored = set((ROOT / ".dockerignore").read_text(encoding="utf-8").split())
    assert {".env", ".venv", "var", ".git"} <= ignored


def test_the_image_leaves_the_benchmarks_and_the_load_generator_out():
    """bench/ (the dev-only bench.loadgen app among it) is not copied: production never installs it."""
    ignored = set((ROOT / ".dockerignore").read_text(encoding="utf-8").split())
    assert "bench" in ignored


def test_backups_have_their_own_volume_and_an_encryption_key_from_the_environment(compose, services):
    backup = services["backup"]
    repo_volume = "backup-repo"
    assert repo_volume in compose["volumes"]
    assert f"{repo_volume}:/var/lib/pgbackrest" in backup["volumes"]
    for name in APP_SERVICES | {"redis"}:
        assert not any(v.startswith(repo_volume) for v in services[name].get("volumes", [])), name
    for name in ("backup", "postgres"):
        environment = services[name]["environment"]
        assert environment["BACKUP_ENCRYPTION_KEY"].startswith("${BACKUP_ENCRYPTION_KEY:?"), name
        assert environment["BACKUP_RETENTION_FULL"].startswith("${BACKUP_RETENTION_FULL:-"), name
    assert backup["depends_on"] == {"postgres": {"condition": "service_healthy"}}


def test_postgres_archives_its_wal_where_the_backup_service_configures_pgbackrest(services):
    command = services["postgres"]["command"]
    settings = dict(arg.split("=", 1) for arg in command if "=" in arg)
    assert settings["archive_mode"] == "on" and settings["wal_level"] == "replica"
    config = services["backup"]["environment"]["BACKUP_DIR"] + "/pgbackrest.conf"
    assert f"--config={config}" in settings["archive_command"]
    assert "--stanza=referral archive-push %p" in settings["archive_command"]
    assert services["postgres"]["image"] == services["backup"]["image"]
    dockerfile = (ROOT / services["postgres"]["build"]["dockerfile"]).read_text(encoding="utf-8")
    assert "pgbackrest" in dockerfile and "COPY bin/backup /usr/local/bin/referral-engine-backup" in dockerfile


def test_the_backup_service_runs_subcommands_that_bin_backup_has(services):
    script = load_bin_script("backup")
    program, subcommand = services["backup"]["command"]
    health = services["backup"]["healthcheck"]["test"]
    assert program == "referral-engine-backup" and health[1] == "referral-engine-backup"
    for name in (subcommand, health[2]):
        with pytest.raises(SystemExit) as exit_info:
            script.main([name, "--help"])
        assert exit_info.value.code == 0, name
