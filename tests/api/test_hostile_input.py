"""Input the database would choke on is a 400 before it reaches a service: NUL bytes (PostgreSQL text
cannot hold one), integers past 64 bits, dates the database cannot store; and two intakes racing with
one Idempotency-Key open one case."""

from __future__ import annotations

import threading

import pytest
import requests

from referral_engine.cases.models import Case
from tests.api.conftest import PASSWORD, PERSON
from tests.api.test_errors import assert_error_shape


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/api/v1/cases/", {"summary": "a\x00b", "person": PERSON}),
        ("/api/v1/cases/", {"summary": "x", "person": {**PERSON, "address": "\x00"}}),
        ("/api/v1/cases/", {"summary": "x", "person_id": 2**70}),
        ("/api/v1/cases/", {"summary": "x", "person": PERSON, "consent": {"recipients": ["sha\x00kyo"]}}),
        ("/api/v1/community-slips/", {"concern": "\x00"}),
    ],
)
def test_nul_bytes_and_huge_numbers_in_bodies_are_a_400(client_for, world, url, body):
    response = client_for("desk_welfare").post(url, body, format="json")
    assert_error_shape(response, 400, "invalid")


def test_nul_bytes_in_query_strings_are_a_400(client_for, world):
    for url in ["/api/v1/cases/?q=%00", "/api/v1/persons/?q=a%00", "/api/v1/audit/access-log/?object_type=%00"]:
        assert_error_shape(client_for("auditor").get(url), 400, "invalid")


def test_dates_out_of_storable_range_are_a_400(client_for, world):
    url = f"/api/v1/cases/{world.case.pk}/activities/"
    for moment in ["0001-01-01T00:00:00", "9999-12-31T23:59:59-23:00", "1899-12-31T00:00:00+09:00"]:
        response = client_for("worker_welfare").post(
            url, {"kind": "note", "body": "x", "occurred_at": moment}, format="json"
        )
        assert "occurred_at" in assert_error_shape(response, 400, "invalid")["fields"], moment


def test_record_values_of_the_wrong_type_are_a_400(client_for, world):
    url = f"/api/v1/referrals/{world.accepted.pk}/record/"
    client = client_for("worker_health")
    for body in [{"visit_date": 5}, {"visit_date": ["2026-01-01"]}, {"no_such_field": "x"}, {"findings": {"a": 1}}, []]:
        assert_error_shape(client.put(url, body, format="json"), 400, "invalid")
    saved = client.patch(url, {"visited_by": "保健師A", "planned_date": "2026-04-01"}, format="json")
    assert saved.status_code == 200, saved.json()
    assert saved.json()["data"]["visited_by"] == "保健師A"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_intakes_racing_with_one_key_open_one_case(live_server):
    from referral_engine.accounts.demo import demo_users_ensure
    from referral_engine.accounts.tokens import api_token_issue

    users = {u.username: u for u in demo_users_ensure(password=PASSWORD)}
    token = api_token_issue(user=users["desk_welfare"])[1]
    body = {"summary": "同時送信", "person": PERSON, "confirm_new_person": True}
    barrier = threading.Barrier(4)
    statuses: list[int] = []
    opened: list[int] = []

    def post() -> None:
        barrier.wait()
        response = requests.post(
            f"{live_server.url}/api/v1/cases/",
            json=body,
            headers={"Authorization": f"Token {token}", "Idempotency-Key": "race-1"},
            timeout=60,
        )
        statuses.append(response.status_code)
        if response.status_code in (200, 201):
            opened.append(response.json()["id"])

    threads = [threading.Thread(target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses.count(201) == 1, statuses
    assert set(statuses) <= {200, 201, 409}, statuses
    assert Case.objects.count() == 1
    # A request that found the first one's key answers with its case (200), whenever it started.
    assert set(opened) == {Case.objects.get().pk}, opened
