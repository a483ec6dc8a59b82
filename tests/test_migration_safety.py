"""Upgrades without downtime: no migration may take a write-blocking lock on a large table (issue 22, item 5).

The check runs over every migration on disk; the migrations applied before the rule are listed as
accepted history in `referral_engine.migration_safety.ACCEPTED`."""

from __future__ import annotations

import pytest
from django.contrib.postgres.operations import AddConstraintNotValid, AddIndexConcurrently, ValidateConstraint
from django.db import migrations, models

from referral_engine import migration_safety


def migration(*operations, app: str = "cases", atomic: bool = True, initial: bool = False) -> migrations.Migration:
    built = type("Migration", (migrations.Migration,), {"atomic": atomic, "initial": initial})("0099_new", app)
    built.operations = list(operations)
    return built


def findings(*operations, **kwargs) -> list[str]:
    return [f"{f.operation} {f.target}" for f in migration_safety.check_migration(migration(*operations, **kwargs))]


def test_no_migration_takes_a_blocking_lock_on_a_large_table():
    found = migration_safety.unsafe_operations()
    assert found == [], "\n".join(str(f) for f in found)


def test_the_accepted_history_names_real_migrations_that_the_rule_would_refuse():
    on_disk = {(m.app_label, m.name): m for m in migration_safety.project_migrations()}
    for key in migration_safety.ACCEPTED:
        assert key in on_disk, f"{key} is not a migration on disk"
        assert migration_safety.check_migration(on_disk[key]), f"{key} needs no acceptance: remove it from ACCEPTED"


def test_a_plain_index_on_the_case_table_is_refused_and_a_concurrent_one_in_a_non_atomic_migration_passes():
    index = models.Index(fields=["opened_at"], name="case_opened_idx")
    assert findings(migrations.AddIndex("case", index)) == ["AddIndex cases.case"]
    assert findings(AddIndexConcurrently("case", index), atomic=False) == []
    # CREATE INDEX CONCURRENTLY cannot run inside a transaction.
    assert findings(AddIndexConcurrently("case", index)) == ["AddIndexConcurrently cases.case"]


@pytest.mark.parametrize(
    ("app", "model"),
    [
        ("cases", "referral"),
        ("cases", "caseevent"),
        ("cases", "historicalcase"),
        ("audit", "accesslog"),
        ("timers", "timer"),
        ("timers", "escalation"),
        ("notifications", "notification"),
    ],
)
def test_every_large_table_is_guarded(app, model):
    index = models.Index(fields=["id"], name="x_idx")
    assert findings(migrations.AddIndex(model, index), app=app) == [f"AddIndex {app}.{model}"]


def test_small_tables_and_tables_created_in_the_same_migration_take_plain_indexes():
    index = models.Index(fields=["name"], name="department_name_idx")
    assert findings(migrations.AddIndex("department", index), app="accounts") == []
    created = migrations.CreateModel("Case", [("id", models.BigAutoField(primary_key=True))])
    assert findings(created, migrations.AddIndex("case", models.Index(fields=["id"], name="c_idx"))) == []
    assert findings(migrations.AddIndex("case", models.Index(fields=["id"], name="c_idx")), initial=True) == []


def test_a_check_constraint_is_added_not_valid_then_validated():
    check = models.CheckConstraint(condition=models.Q(risk__in=["low", "high"]), name="case_risk_valid")
    assert findings(migrations.AddConstraint("case", check)) == ["AddConstraint cases.case"]
    assert findings(AddConstraintNotValid("case", check), ValidateConstraint("case", "case_risk_valid")) == []


def test_a_new_indexed_or_foreign_key_column_on_a_large_table_is_refused():
    indexed = models.CharField(max_length=10, db_index=True, default="")
    assert findings(migrations.AddField("referral", "code", indexed)) == ["AddField cases.referral"]
    fk = models.ForeignKey("accounts.Department", null=True, on_delete=models.PROTECT)
    assert findings(migrations.AddField("case", "owner", fk)) == ["AddField cases.case"]
    plain_fk = models.ForeignKey(
        "accounts.Department", null=True, on_delete=models.PROTECT, db_index=False, db_constraint=False
    )
    assert findings(migrations.AddField("case", "owner", plain_fk)) == []
    assert findings(migrations.AddField("case", "note", models.TextField(blank=True))) == []


def test_raw_sql_on_a_large_table_must_be_concurrent_or_not_valid():
    assert findings(migrations.RunSQL("CREATE INDEX x ON cases_case (opened_at)")) == ["RunSQL a large table"]
    assert findings(migrations.RunSQL("CREATE INDEX CONCURRENTLY x ON cases_case (opened_at)")) == []
    assert findings(migrations.RunSQL("ALTER TABLE audit_accesslog ADD CONSTRAINT c CHECK (id > 0)")) == [
        "RunSQL a large table"
    ]
    assert findings(migrations.RunSQL("ALTER TABLE audit_accesslog ADD CONSTRAINT c CHECK (id > 0) NOT VALID")) == []


def test_the_permission_tables_are_large():
    index = models.Index(fields=["id"], name="grant_idx")
    assert findings(migrations.AddIndex("casegroupobjectpermission", index), app="access") == [
        "AddIndex access.casegroupobjectpermission"
    ]
