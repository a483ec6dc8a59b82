"""Query budgets: an API list makes the same number of queries for a few rows and for many
(CONVENTIONS, Tests). Each list is read at two sizes and the counts compared."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.api.conftest import PERSON, fresh


def _open(api_users, n: int, start: int) -> None:
    from referral_engine.cases.services.intake import case_open
    from referral_engine.cases.services.records import activity_add

    for i in range(start, start + n):
        case = case_open(
            actor=fresh(api_users["desk_welfare"]),
            summary=f"相談 {i}",
            person={**PERSON, "given_name": f"花子{i}", "given_name_kana": f"ハナコ{i}"},
            confirm_new_person=True,
            referrals=[{"to_department": "health_promotion", "basis": "internal_use", "reason": "訪問"}],
        )
        activity_add(case_id=case.pk, actor=fresh(api_users["worker_welfare"]), kind="note", body=f"記録 {i}")


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, response.json()
    return len(ctx.captured_queries)


@pytest.mark.parametrize(
    "url",
    ["/api/v1/cases/", "/api/v1/referrals/", "/api/v1/referrals/?inbox=true", "/api/v1/escalations/"],
)
def test_list_queries_do_not_grow_with_the_rows(api_users, client_for, url):
    client = client_for("chief_welfare") if "inbox" not in url else client_for("worker_health")
    _open(api_users, 2, 0)
    small = _queries(client, url)
    _open(api_users, 10, 2)
    large = _queries(client, url)
    assert small == large, (url, small, large)


def test_case_sub_lists_do_not_grow_with_the_rows(api_users, client_for):
    from referral_engine.cases.services.intake import case_open
    from referral_engine.cases.services.records import activity_add
    from referral_engine.cases.services.referrals import referral_create

    case = case_open(
        actor=fresh(api_users["desk_welfare"]),
        summary="相談",
        person=PERSON,
        confirm_new_person=True,
        referrals=[{"to_department": "disaster_prevention", "basis": "internal_use", "reason": "避難支援"}],
    )
    client = client_for("worker_welfare")
    urls = [f"/api/v1/cases/{case.pk}/activities/", f"/api/v1/cases/{case.pk}/referrals/"]
    activity_add(case_id=case.pk, actor=fresh(api_users["worker_welfare"]), kind="note", body="1")
    small = [_queries(client, url) for url in urls]
    for i in range(8):
        activity_add(case_id=case.pk, actor=fresh(api_users["worker_welfare"]), kind="call", body=f"{i}")
    for code in ("health_promotion", "longevity_support", "shakyo"):
        referral_create(
            case_id=case.pk,
            actor=fresh(api_users["worker_welfare"]),
            to_department=code,
            basis="support_meeting",
            justification="支援会議で共有",
            reason="連携",
        )
    large = [_queries(client, url) for url in urls]
    assert small == large
