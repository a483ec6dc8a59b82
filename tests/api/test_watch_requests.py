"""The watch-request API (DESIGN §11.4): shapes, status codes, and a connector's 404 after close."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

pytestmark = pytest.mark.django_db

UNTIL = (date.today() + timedelta(days=30)).isoformat()


def _ask(client_for, world, **overrides):
    body = {
        "district": "kawakami",
        "what_to_watch": "夜に明かりがつくか",
        "basis": "vital_interest",
        "justification": "連絡がとれない",
        "until": UNTIL,
        **overrides,
    }
    return client_for("worker_welfare").post(f"/api/v1/cases/{world.case.pk}/watch-requests/", body, format="json")


def test_a_connector_sees_only_name_address_and_what_to_watch(client_for, world):
    created = _ask(client_for, world)
    assert created.status_code == 201, created.json()
    assert created.json()["district"] == "kawakami" and created.json()["state"] == "open"
    listed = client_for("minsei_kawakami").get("/api/v1/watch-requests/").json()["results"]
    assert listed == [
        {
            "id": created.json()["id"],
            "person_name": "津久見 花子",
            "address": "津久見市川上1-2-3",
            "what_to_watch": "夜に明かりがつくか",
            "until": UNTIL,
            "state": "open",
        }
    ]
    assert client_for("minsei_aoe").get("/api/v1/watch-requests/").json()["results"] == []
    assert client_for("worker_welfare").get("/api/v1/watch-requests/").status_code == 403


def test_report_then_close_then_404(client_for, world):
    watch_id = _ask(client_for, world).json()["id"]
    connector = client_for("minsei_kawakami")
    reported = connector.post(
        f"/api/v1/watch-requests/{watch_id}/reports/", {"outcome": "concern", "note": "咳をしていた"}, format="json"
    )
    assert reported.status_code == 201 and reported.json()["outcome"] == "concern"
    on_case = client_for("worker_welfare").get(f"/api/v1/cases/{world.case.pk}/watch-requests/").json()["results"]
    assert on_case[0]["reports"][0]["note"] == "咳をしていた"
    history = client_for("worker_welfare").get(f"/api/v1/cases/{world.case.pk}/history/").json()
    assert "watch_report" in str(history)
    closed = client_for("worker_welfare").post(f"/api/v1/watch-requests/{watch_id}/close/", {}, format="json")
    assert closed.status_code == 200 and closed.json()["state"] == "closed"
    again = client_for("worker_welfare").post(f"/api/v1/watch-requests/{watch_id}/close/", {}, format="json")
    assert again.status_code == 409
    assert connector.get("/api/v1/watch-requests/").json()["results"] == []
    after = connector.post(f"/api/v1/watch-requests/{watch_id}/reports/", {"outcome": "met"}, format="json")
    assert after.status_code == 404
    # The record stays for the staff.
    assert client_for("worker_welfare").get(f"/api/v1/cases/{world.case.pk}/watch-requests/").json()["count"] == 1


@pytest.mark.parametrize(
    "body,field",
    [
        ({"basis": "internal_use"}, "basis"),
        ({"basis": "consent"}, "basis"),
        ({"justification": ""}, "justification"),
        ({"until": "2000-01-01"}, "until"),
        ({"district": "atlantis"}, "district"),
        ({"what_to_watch": ""}, "what_to_watch"),
        ({"outcome_is_not_here": 1, "until": "x"}, "until"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_saves_nothing(client_for, world, body, field):
    from referral_engine.cases.models import WatchRequest

    response = _ask(client_for, world, **body)
    assert response.status_code == 400, response.json()
    assert field in response.json()["fields"]
    assert not WatchRequest.objects.exists()


def test_report_outcome_must_be_known(client_for, world):
    watch_id = _ask(client_for, world).json()["id"]
    response = client_for("minsei_kawakami").post(
        f"/api/v1/watch-requests/{watch_id}/reports/", {"outcome": "fine"}, format="json"
    )
    assert response.status_code == 400 and "outcome" in response.json()["fields"]
