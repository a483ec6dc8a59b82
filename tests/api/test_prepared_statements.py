"""Prepared statements on the hot paths only (referral_engine/prepared.py): the API's intake, case
transition and history read leave their statements prepared on the connection; a list, a search and a
web page prepare nothing (their generic plans, chosen for no user in particular, ran 4-7x slower at a
million cases). PostgreSQL only: SQLite has no server-side preparing."""

from __future__ import annotations

import pytest
from django.db import connection

from referral_engine.prepared import prepared_statements
from tests.api.test_operation_budgets import _intake_body

pytestmark = pytest.mark.postgres


def _prepared() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return {row[0] for row in cursor.fetchall()}


def test_only_statements_run_inside_the_block_are_prepared(db):
    before = _prepared()
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::int + 1", [1])
    assert _prepared() == before
    with prepared_statements(), connection.cursor() as cursor:
        cursor.execute("SELECT %s::int + 2", [1])
        assert cursor.fetchone() == (3,)
    assert _prepared() - before == {"SELECT $1::int + 2"}


def test_the_three_operations_prepare_their_statements_and_the_lists_do_not(api_users, client_for):
    client = client_for("worker_welfare")
    before = _prepared()
    assert client.get("/api/v1/cases/?q=すずき").status_code == 200
    assert client.get("/api/v1/cases/").status_code == 200
    assert client.get("/api/v1/referrals/?inbox=true").status_code == 200
    assert _prepared() == before, "a list or a search prepared a statement"

    created = client.post("/api/v1/cases/", _intake_body(7, referral=True), format="json")
    assert created.status_code == 201, created.json()
    after_intake = _prepared()
    assert any('INSERT INTO "cases_case"' in s for s in after_intake - before)
    case_id = created.json()["id"]
    moved = client.post(f"/api/v1/cases/{case_id}/transitions/start_assessment/", {"reason": "開始"}, format="json")
    assert moved.status_code == 200, moved.json()
    after_transition = _prepared()
    assert any('UPDATE "cases_case"' in s for s in after_transition - after_intake)
    assert client.get(f"/api/v1/cases/{case_id}/history/").status_code == 200
    assert any("cases_historicalcase" in s and "UNION ALL" in s for s in _prepared() - after_transition)
