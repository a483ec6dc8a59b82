"""Statement budgets of the three operations compared with Request Tracker (docs/benchmarks.md, issue
10): an intake (with and without a referral), a case transition and the history read. Each is run
once to warm the per-process caches, then counted on a second, identical request; the count must
stay at or under its cap. A cap that fails means a change added statements to the hottest paths:
look at the queries it prints before raising the cap.

The caps are the counts of 2026-12-03 (issue 23; SQLite and PostgreSQL agree; inside the test's
transaction the request's BEGIN/COMMIT are a SAVEPOINT/RELEASE). Before issue 10's work they were
68 / 29 / 22 / 19 on PostgreSQL; before issue 23's, 35 / 24 / 14 / 20.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.api.conftest import PERSON

# Issue 23: the grants written once without a read (was a savepoint, the referrals and each table's
# rows read, 35 → 24), the response's access told by the writer instead of read back (membership and
# permissions), a new person's household known to be none, the window from the policy's memberships.
INTAKE_WITH_REFERRAL_CAP = 24
INTAKE_CAP = 15
# Issue 23: the person's district, whether they have a household (issue 17's read) and the actor's
# permissions on the case come with the case's lock (14 → 11): the token, BEGIN, membership, the
# lock, the clock's lock, the clock and the case updated with their history rows, the event, COMMIT.
TRANSITION_CAP = 11
# +1 (issue 17): the case's history shows its person's changes from the case's opening on when the
# case was opened for an existing person, so it reads whether the case is the person's first.
# 20 → 10 (issue 23): the timeline in one statement (audit/history_read.py), users read once, the
# departments and districts together: token, case, membership, permissions, the timeline, whether the
# case is the person's first, users, departments and districts, the access-log row (9).
# 10 → 6 (issue 23 item 2): the case read with its person's first case and the user's rows on it, the
# departments and districts with the timeline: token, membership, case, the timeline, users, the
# access-log row.
HISTORY_CAP = 6

REFERRAL = {"to_department": "health_promotion", "basis": "internal_use", "reason": "保健師の訪問をお願いします。"}


@pytest.fixture
def warm(monkeypatch, django_capture_on_commit_callbacks):
    """The per-process caches as a running server has them: the system user remembered (after the
    commit that a test's transaction never reaches) and the rules' version not re-checked."""
    from referral_engine.accounts.system import system_user
    from referral_engine.timers import calendar, policies

    monkeypatch.setattr(calendar, "VERSION_CHECK_SECONDS", 3600.0)
    monkeypatch.setattr(policies, "VERSION_CHECK_SECONDS", 3600.0)
    with django_capture_on_commit_callbacks(execute=True):
        system_user()


def _intake_body(i: int, *, referral: bool) -> dict:
    body = {
        "person": {**PERSON, "given_name": f"花子{i}", "given_name_kana": f"ハナコ{i}"},
        "confirm_new_person": True,
        "channel": "phone",
        "summary": "ひとり暮らしで話し相手がいない",
        "needs": ["isolation"],
        "risk": "normal",
    }
    if referral:
        body["referrals"] = [REFERRAL]
    return body


def _count(call) -> tuple[int, object, list[str]]:
    with CaptureQueriesContext(connection) as ctx:
        response = call()
    return len(ctx.captured_queries), response, [q["sql"][:160] for q in ctx.captured_queries]


def _within(count: int, cap: int, sql: list[str]) -> None:
    assert count <= cap, f"{count} statements, cap {cap}:\n" + "\n".join(sql)


@pytest.mark.parametrize(("referral", "cap"), [(True, INTAKE_WITH_REFERRAL_CAP), (False, INTAKE_CAP)])
def test_intake_statements(api_users, client_for, warm, referral, cap):
    client = client_for("worker_welfare")
    first = client.post("/api/v1/cases/", _intake_body(0, referral=referral), format="json")
    assert first.status_code == 201, first.json()
    count, response, sql = _count(
        lambda: client.post("/api/v1/cases/", _intake_body(1, referral=referral), format="json")
    )
    assert response.status_code == 201, response.json()
    _within(count, cap, sql)


def test_case_transition_statements(api_users, client_for, warm):
    client = client_for("worker_welfare")
    ids = [client.post("/api/v1/cases/", _intake_body(i, referral=False), format="json").json()["id"] for i in (0, 1)]
    url = "/api/v1/cases/{}/transitions/start_assessment/"
    first = client.post(url.format(ids[0]), {"reason": "聞き取り開始"}, format="json")
    assert first.status_code == 200, first.json()
    count, response, sql = _count(lambda: client.post(url.format(ids[1]), {"reason": "聞き取り開始"}, format="json"))
    assert response.status_code == 200, response.json()
    assert response.json()["state"] == "assessing"
    _within(count, TRANSITION_CAP, sql)


def test_history_read_statements(api_users, client_for, warm):
    client = client_for("worker_welfare")
    ids = [client.post("/api/v1/cases/", _intake_body(i, referral=False), format="json").json()["id"] for i in (0, 1)]
    for case_id in ids:
        client.post(f"/api/v1/cases/{case_id}/transitions/start_assessment/", {"reason": "聞き取り開始"}, format="json")
    first = client.get(f"/api/v1/cases/{ids[0]}/history/")
    assert first.status_code == 200, first.json()
    count, response, sql = _count(lambda: client.get(f"/api/v1/cases/{ids[1]}/history/"))
    assert response.status_code == 200, response.json()
    _within(count, HISTORY_CAP + _portable_history_extra(), sql)


def _portable_history_extra() -> int:
    """0 on PostgreSQL (the timeline in one statement); the portable reader's extra queries elsewhere."""
    from django.db import connection

    from referral_engine.audit.history_read import PORTABLE_EXTRA_STATEMENTS

    return 0 if connection.vendor == "postgresql" else PORTABLE_EXTRA_STATEMENTS
