"""Intake through the API: the window is the user's department, referrals at intake, duplicates, and
idempotency with the `Idempotency-Key` header."""

from __future__ import annotations

from referral_engine.cases.models import Case
from tests.api.conftest import PERSON
from tests.api.test_errors import assert_error_shape

NEW = {
    "summary": "一人暮らし。最近外出しない。",
    "needs": ["isolation", "health"],
    "risk": "high",
    "channel": "phone",
    "person": {**PERSON, "given_name": "梅", "given_name_kana": "ウメ", "birth_date": "1938-03-03"},
    "referrals": [{"to_department": "health_promotion", "basis": "internal_use", "reason": "保健師の訪問"}],
}


def test_intake_opens_at_my_window_with_referrals(client_for, api_users):
    response = client_for("desk_health").post("/api/v1/cases/", NEW, format="json")
    assert response.status_code == 400  # referring to one's own department
    assert "referrals[0].to_department" in response.json()["fields"]

    response = client_for("desk_welfare").post("/api/v1/cases/", NEW, format="json")
    assert response.status_code == 201, response.json()
    case = response.json()
    assert {
        "id",
        "number",
        "state",
        "person",
        "intake_department",
        "lead_department",
        "risk",
        "needs",
        "created_at",
    } <= set(case)
    assert case["state"] == "received"
    assert case["intake_department"] == case["lead_department"] == "social_welfare"
    assert case["needs"] == ["isolation", "health"]
    assert case["person"]["family_name_kana"] == "ツクミ"
    referrals = client_for("desk_welfare").get(f"/api/v1/cases/{case['id']}/referrals/").json()["results"]
    assert [(r["to_department"], r["state"], r["basis"]) for r in referrals] == [
        ("health_promotion", "requested", "internal_use")
    ]


def test_intake_for_a_known_person_and_the_state_is_not_writable(client_for, world):
    response = client_for("desk_welfare").post(
        "/api/v1/cases/",
        {"summary": "再相談", "person_id": world.case.person_id, "state": "closed", "number": "X-1"},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["state"] == "received"
    assert response.json()["number"] != "X-1"
    both = client_for("desk_welfare").post(
        "/api/v1/cases/", {"summary": "x", "person_id": world.case.person_id, "person": PERSON}, format="json"
    )
    assert_error_shape(both, 400, "invalid")
    missing = client_for("desk_welfare").post("/api/v1/cases/", {"summary": "x", "person_id": 987654}, format="json")
    assert "person_id" in assert_error_shape(missing, 400, "invalid")["fields"]
    # An id the opener was not offered (another department's person) is answered as the unknown one.
    unseen = client_for("worker_shakyo").post(
        "/api/v1/cases/", {"summary": "x", "person_id": world.case.person_id}, format="json"
    )
    assert assert_error_shape(unseen, 400, "invalid")["fields"] == assert_error_shape(missing, 400, "invalid")["fields"]


def test_possible_duplicate_then_confirmed(client_for, world):
    client = client_for("desk_welfare")
    duplicate = client.post("/api/v1/cases/", {"summary": "再来", "person": PERSON}, format="json")
    assert duplicate.status_code == 409
    assert [c["id"] for c in duplicate.json()["candidates"]] == [world.case.person_id]
    confirmed = client.post(
        "/api/v1/cases/", {"summary": "再来", "person": PERSON, "confirm_new_person": True}, format="json"
    )
    assert confirmed.status_code == 201


def test_same_idempotency_key_and_body_returns_the_first_case(client_for, api_users):
    client = client_for("desk_welfare")
    first = client.post("/api/v1/cases/", NEW, format="json", HTTP_IDEMPOTENCY_KEY="intake-0001")
    assert first.status_code == 201
    again = client.post("/api/v1/cases/", NEW, format="json", HTTP_IDEMPOTENCY_KEY="intake-0001")
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["number"] == first.json()["number"]
    assert Case.objects.count() == 1
    assert client.get(f"/api/v1/cases/{first.json()['id']}/referrals/").json()["count"] == 1


def test_same_key_with_another_body_is_a_conflict(client_for, api_users):
    client = client_for("desk_welfare")
    first = client.post("/api/v1/cases/", NEW, format="json", HTTP_IDEMPOTENCY_KEY="intake-0002")
    assert first.status_code == 201
    changed = client.post(
        "/api/v1/cases/", {**NEW, "summary": "別の相談"}, format="json", HTTP_IDEMPOTENCY_KEY="intake-0002"
    )
    assert_error_shape(changed, 409, "conflict")
    assert Case.objects.count() == 1


def test_keys_are_per_user_and_without_a_key_each_post_opens_a_case(client_for, api_users):
    a = client_for("desk_welfare").post("/api/v1/cases/", NEW, format="json", HTTP_IDEMPOTENCY_KEY="k")
    b = client_for("worker_welfare").post(
        "/api/v1/cases/", {**NEW, "confirm_new_person": True}, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]
    c = client_for("desk_welfare").post("/api/v1/cases/", {**NEW, "confirm_new_person": True}, format="json")
    d = client_for("desk_welfare").post("/api/v1/cases/", {**NEW, "confirm_new_person": True}, format="json")
    assert c.status_code == d.status_code == 201
    assert c.json()["id"] != d.json()["id"]


def test_an_overlong_key_is_a_400(client_for, api_users):
    response = client_for("desk_welfare").post("/api/v1/cases/", NEW, format="json", HTTP_IDEMPOTENCY_KEY="k" * 101)
    assert "idempotency_key" in assert_error_shape(response, 400, "invalid")["fields"]
    assert Case.objects.count() == 0
