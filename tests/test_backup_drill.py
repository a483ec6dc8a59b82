"""bin/backup's restore-drill checks, each shown to fail on the damage it is there to find (the real
backup and restore run in .ci/run's "Backups" step against a real pgBackRest repository)."""

from __future__ import annotations

import pytest

from tests.bin_scripts import load_bin_script

EXPECTED = {
    "counts": {"cases_case": "12", "cases_caseevent": "40", "audit_accesslog": "7"},
    "triggers": [
        "audit_accesslog.audit_append_only_row.A",
        "audit_accesslog.audit_append_only_truncate.A",
        "cases_caseevent.audit_append_only_row.A",
        "cases_caseevent.audit_append_only_truncate.A",
    ],
    "newest_case": "12\tR8-000012\tassessing\t2026-12-01 10:00:00+09\t3\t55\t4\t1",
}


@pytest.fixture(scope="module")
def backup():
    return load_bin_script("backup")


class FakeRestoredDatabase:
    """Answers the drill's queries as a restored database would; each test breaks one thing."""

    def __init__(self, backup, **overrides):
        self.backup = backup
        self.counts = dict(EXPECTED["counts"], **overrides.get("counts", {}))
        self.triggers = overrides.get("triggers", EXPECTED["triggers"])
        self.newest_case = overrides.get("newest_case", EXPECTED["newest_case"])
        self.update_refused = overrides.get("update_refused", True)

    def __call__(self, sql: str) -> str:
        if sql.startswith("SELECT '") and "count(*)" in sql:
            return "\n".join(f"{table}\t{n}" for table, n in self.counts.items())
        if "pg_trigger" in sql:
            return "\n".join(self.triggers)
        if sql.startswith("UPDATE cases_caseevent"):
            if self.update_refused:
                raise self.backup.DrillFailed("ERROR: append-only: UPDATE on public.cases_caseevent is refused")
            return ""
        if sql == self.backup.NEWEST_CASE_SQL:
            return self.newest_case
        raise AssertionError(f"unexpected query {sql}")


def test_a_faithful_restore_passes(backup):
    assert backup.check_restored(FakeRestoredDatabase(backup), EXPECTED) == []


def test_a_missing_row_is_found(backup):
    problems = backup.check_restored(FakeRestoredDatabase(backup, counts={"cases_caseevent": "39"}), EXPECTED)
    assert problems == ["cases_caseevent: 39 rows restored, 40 expected"]


def test_a_missing_or_disabled_trigger_is_found(backup):
    missing = FakeRestoredDatabase(backup, triggers=EXPECTED["triggers"][1:])
    assert any("triggers differ" in p for p in backup.check_restored(missing, EXPECTED))
    # Disabled (D), or enabled only in the ordinary mode (O) that `session_replication_role = replica` skips.
    for mode in ("D", "O"):
        changed = [
            t.replace(".A", f".{mode}") if t.startswith("cases_caseevent.audit_append_only_row") else t
            for t in EXPECTED["triggers"]
        ]
        problems = backup.check_restored(FakeRestoredDatabase(backup, triggers=changed), EXPECTED)
        assert "an append-only trigger is disabled or not ALWAYS" in problems


def test_a_timeline_that_accepts_an_update_is_found(backup):
    problems = backup.check_restored(FakeRestoredDatabase(backup, update_refused=False), EXPECTED)
    assert problems == ["an UPDATE of cases_caseevent was allowed in the restored database"]


def test_an_older_newest_case_or_lost_history_is_found(backup):
    older = EXPECTED["newest_case"].replace("\t3\t55\t", "\t2\t54\t")
    problems = backup.check_restored(FakeRestoredDatabase(backup, newest_case=older), EXPECTED)
    assert len(problems) == 1 and problems[0].startswith("newest case differs")


def test_the_configuration_carries_no_key_and_retention_comes_from_the_environment(backup, tmp_path, monkeypatch):
    monkeypatch.setattr(backup, "BACKUP_DIR", tmp_path)
    monkeypatch.setattr(backup, "CONFIG", tmp_path / "pgbackrest.conf")
    monkeypatch.setattr(backup, "REPO_PATH", tmp_path / "repo")
    monkeypatch.setattr(backup, "RETENTION_FULL", 9)
    monkeypatch.setattr(backup, "chown_postgres", lambda path: None)
    monkeypatch.setenv("BACKUP_ENCRYPTION_KEY", "k" * 48)
    source = backup.Source(tmp_path / "pgdata", 5432, tmp_path, "postgres", demo=False)
    backup.write_config(source)
    config = (tmp_path / "pgbackrest.conf").read_text()
    assert "repo1-cipher-type=aes-256-cbc" in config and "repo1-retention-full=9" in config
    assert "k" * 48 not in config and "cipher-pass" not in config
    assert backup.pgbackrest_env(source)["PGBACKREST_REPO1_CIPHER_PASS"] == "k" * 48


def test_a_real_cluster_is_never_backed_up_without_a_key_of_adequate_length(backup, tmp_path, monkeypatch):
    source = backup.Source(tmp_path, 5432, tmp_path, "postgres", demo=False)
    monkeypatch.delenv("BACKUP_ENCRYPTION_KEY", raising=False)
    monkeypatch.delenv("PGBACKREST_REPO1_CIPHER_PASS", raising=False)
    with pytest.raises(SystemExit, match="Set BACKUP_ENCRYPTION_KEY"):
        backup.encryption_key(source)
    monkeypatch.setenv("BACKUP_ENCRYPTION_KEY", "short")
    with pytest.raises(SystemExit, match="at least 32 characters"):
        backup.encryption_key(source)
