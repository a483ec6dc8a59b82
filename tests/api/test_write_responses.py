"""Issue 23: the intake's and the case transition's responses are built from what the services
already hold — the actor's permissions on a new case told to the policy by the intake as it wrote
the grants (`policy.case_perms_granted`), the person's household known from the case's lock
(`cases.locks.case_for_update`), the actor's window from the memberships the policy read. Each
response must equal what a fresh read of the case (`GET /api/v1/cases/<id>/`, a new request that
reads everything again) gives the same user."""

from __future__ import annotations

import pytest

from tests.api.conftest import PERSON

HEALTH = {"to_department": "health_promotion", "basis": "internal_use", "reason": "保健師の訪問をお願いします。"}
LONGEVITY = {"to_department": "longevity_support", "basis": "internal_use", "reason": "介護認定の相談"}


def _intake(client, i: int, referrals: list[dict], **extra):
    body = {
        "person": {**PERSON, "given_name": f"次郎{i}", "given_name_kana": f"ジロウ{i}"},
        "confirm_new_person": True,
        "channel": "counter",
        "summary": "一人暮らしで外出が減っている",
        "needs": ["isolation"],
        "risk": "normal",
        "referrals": referrals,
        **extra,
    }
    response = client.post("/api/v1/cases/", body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


@pytest.mark.parametrize("username", ["worker_welfare", "desk_welfare", "desk_health", "chief_welfare"])
@pytest.mark.parametrize("referrals", [[], [HEALTH], [HEALTH, LONGEVITY]], ids=["none", "one", "two"])
def test_the_intake_response_is_what_a_fresh_read_gives(api_users, client_for, username, referrals):
    referrals = [r for r in referrals if not username.endswith("health") or r is not HEALTH]
    client = client_for(username)
    created = _intake(client, 1, referrals)
    again = client.get(f"/api/v1/cases/{created['id']}/")
    assert again.status_code == 200
    assert created == again.json()
    assert created["access"] == "full"
    assert created["person"]["household"] is None


def test_the_intake_at_a_chosen_window_and_a_window_not_held(api_users, client_for):
    """The actor's window now comes from the memberships the policy read: a department of theirs by
    code, or a 403 for one they do not belong to (as before)."""
    client = client_for("worker_welfare")
    created = _intake(client, 2, [], department="social_welfare")
    assert created["intake_department"] == "social_welfare"
    refused = client.post(
        "/api/v1/cases/",
        {
            "person": {**PERSON, "given_name": "三郎", "given_name_kana": "サブロウ"},
            "confirm_new_person": True,
            "summary": "相談",
            "department": "health_promotion",
        },
        format="json",
    )
    assert refused.status_code == 403, refused.json()


def test_the_transition_response_shows_the_household_or_none_as_a_fresh_read(api_users, client_for):
    client = client_for("worker_welfare")
    alone = _intake(client, 3, [])
    parent = _intake(client, 4, [])
    child = _intake(client, 5, [])
    household = client.post(
        "/api/v1/households/",
        {
            "members": [
                {"person_id": parent["person"]["id"], "relation": "self"},
                {"person_id": child["person"]["id"], "relation": "child", "without_work": True},
            ],
            "reason": "訪問で確認",
        },
        format="json",
    )
    assert household.status_code == 201, household.json()
    for case, expected in ((alone, None), (parent, household.json()["id"])):
        moved = client.post(
            f"/api/v1/cases/{case['id']}/transitions/start_assessment/", {"reason": "聞き取り開始"}, format="json"
        )
        assert moved.status_code == 200, moved.json()
        body = moved.json()
        assert body["state"] == "assessing"
        assert (body["person"]["household"] or {}).get("id") == expected
        assert body == client.get(f"/api/v1/cases/{case['id']}/").json()
