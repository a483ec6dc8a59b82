"""One error shape, {"error", "message", "fields"}, on every failure: DRF's own (validation,
authentication, 404, 405, throttling, parse errors), the domain's (403, 404, 409 with `allowed` or
`candidates`), the middleware's (413) and unknown URLs."""

from __future__ import annotations

import pytest
from django.test import override_settings
from rest_framework.settings import api_settings

from tests.api.conftest import PERSON


def assert_error_shape(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert {"error", "message", "fields"} <= set(body), body
    assert isinstance(body["error"], str) and body["error"]
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["fields"], dict)
    for name, messages in body["fields"].items():
        assert isinstance(name, str) and isinstance(messages, list) and all(isinstance(m, str) for m in messages)
    if code:
        assert body["error"] == code, body
    return body


def test_400_validation_names_every_field_with_its_path(client_for, api_users):
    response = client_for("desk_welfare").post(
        "/api/v1/cases/",
        {"summary": 5, "needs": "isolation", "person": {"birth_date": "not a date"}, "referrals": [{"basis": "x"}]},
        format="json",
    )
    body = assert_error_shape(response, 400, "invalid")
    assert set(body["fields"]) == {
        "summary",
        "needs",
        "person.family_name",
        "person.birth_date",
        "referrals[0].to_department",
        "referrals[0].basis",
    }


@pytest.mark.parametrize(
    "payload",
    [[1, 2], "a string", 42, None, True],
    ids=["list", "string", "number", "null", "bool"],
)
def test_400_when_the_body_is_not_an_object(client_for, api_users, payload):
    response = client_for("desk_welfare").post("/api/v1/cases/", payload, format="json")
    assert_error_shape(response, 400)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("needs", "isolation"),  # a string for a list
        ("needs", {"a": 1}),
        ("summary", ["x"]),
        ("summary", 12),  # a number for a string
        ("confirm_new_person", "yes"),
        ("person_id", "12"),  # a string for an integer
        ("person_id", 1.5),
        ("person", "津久見"),
        ("referrals", {"to_department": "x"}),
        ("risk", 3),
    ],
)
def test_400_on_wrong_types(client_for, api_users, field, value):
    body = {"summary": "相談", "person": PERSON, field: value}
    response = client_for("desk_welfare").post("/api/v1/cases/", body, format="json")
    errors = assert_error_shape(response, 400, "invalid")
    assert any(name == field or name.startswith(field) for name in errors["fields"]), errors


def test_400_on_malformed_json(client_for, api_users):
    response = client_for("desk_welfare").post("/api/v1/cases/", "{not json", content_type="application/json")
    assert_error_shape(response, 400, "parse_error")


def test_400_from_a_service_keeps_its_fields(client_for, world):
    response = client_for("worker_welfare").post(
        f"/api/v1/cases/{world.case.pk}/referrals/",
        {"to_department": "shakyo", "basis": "internal_use", "reason": "生活支援"},
        format="json",
    )
    body = assert_error_shape(response, 400, "invalid")
    assert "basis" in body["fields"]


def test_401_without_credentials_and_with_a_bad_token(client_for, api_users):
    body = assert_error_shape(client_for(None).get("/api/v1/cases/"), 401, "not_authenticated")
    assert body["fields"] == {}
    bad = client_for(None)
    bad.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    response = bad.get("/api/v1/cases/")
    assert_error_shape(response, 401, "authentication_failed")
    assert response["WWW-Authenticate"] == "Token"


def test_403_for_what_you_may_see_but_not_do(client_for, world):
    response = client_for("auditor").post(
        f"/api/v1/cases/{world.case.pk}/activities/", {"kind": "note", "body": "x"}, format="json"
    )
    assert_error_shape(response, 403, "forbidden")


def test_404_for_what_you_may_not_see_is_the_same_as_missing(client_for, world):
    hidden = client_for("worker_shakyo").get(f"/api/v1/cases/{world.case.pk}/")
    missing = client_for("worker_shakyo").get("/api/v1/cases/999999/")
    assert assert_error_shape(hidden, 404, "not_found") == assert_error_shape(missing, 404, "not_found")


@pytest.mark.parametrize(
    "path",
    ["/api/v1/nothing-here/", "/api/v1/cases/abc/", "/api/v1/cases/1234567890123456789012/", "/api/elsewhere"],
)
def test_404_for_unknown_api_paths_in_the_error_shape(client_for, api_users, path):
    assert_error_shape(client_for("desk_welfare").get(path), 404, "not_found")
    assert_error_shape(client_for(None).post(path, {}, format="json"), 404, "not_found")


def test_405_in_the_error_shape(client_for, world):
    response = client_for("desk_welfare").delete(f"/api/v1/cases/{world.case.pk}/")
    assert_error_shape(response, 405, "method_not_allowed")


def test_409_illegal_transition_lists_what_is_allowed(client_for, world):
    response = client_for("worker_welfare").post(
        f"/api/v1/cases/{world.case.pk}/transitions/reopen/", {}, format="json"
    )
    body = assert_error_shape(response, 409, "illegal_transition")
    assert set(body["allowed"]) == {"start_assessment", "close"}
    response = client_for("worker_welfare").post(
        f"/api/v1/cases/{world.case.pk}/transitions/fly_away/", {}, format="json"
    )
    assert set(assert_error_shape(response, 409, "illegal_transition")["allowed"]) == {"start_assessment", "close"}


def test_409_referral_transition_lists_what_is_allowed(client_for, world):
    response = client_for("worker_longevity").post(
        f"/api/v1/referrals/{world.requested.pk}/transitions/complete/", {}, format="json"
    )
    body = assert_error_shape(response, 409, "illegal_transition")
    assert set(body["allowed"]) == {"accept", "decline"}


def test_409_possible_duplicate_lists_candidates(client_for, world):
    response = client_for("desk_welfare").post("/api/v1/cases/", {"summary": "再来", "person": PERSON}, format="json")
    body = assert_error_shape(response, 409, "possible_duplicate")
    # The minimal candidate (issue 17): the town part of the address, no house number, phone or flag.
    assert body["candidates"] and set(body["candidates"][0]) == {
        "id",
        "name",
        "kana",
        "birth_date",
        "district",
        "town",
        "open_case_at",
        "choice",  # the proof that this user was offered the person (issue 17: ids cannot be walked)
    }


def test_413_for_an_oversized_body(client_for, api_users, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = client_for("desk_welfare").post(
        "/api/v1/cases/", {"summary": "x" * 2000, "person": PERSON}, format="json"
    )
    assert_error_shape(response, 413, "too_large")


def test_415_for_a_body_that_is_not_json(client_for, api_users):
    response = client_for("desk_welfare").post("/api/v1/cases/", "summary=x", content_type="text/plain")
    assert_error_shape(response, 415, "unsupported_media_type")


def test_429_when_writes_are_throttled(client_for, world):
    rates = {**api_settings.DEFAULT_THROTTLE_RATES, "writes": "3/minute"}
    with override_settings(REST_FRAMEWORK={**_rest_framework(), "DEFAULT_THROTTLE_RATES": rates}):
        client = client_for("worker_welfare")
        url = f"/api/v1/cases/{world.case.pk}/activities/"
        statuses = [client.post(url, {"kind": "note", "body": f"{i}"}, format="json").status_code for i in range(3)]
        assert statuses == [201, 201, 201]
        response = client.post(url, {"kind": "note", "body": "4"}, format="json")
        assert_error_shape(response, 429, "throttled")
        assert int(response["Retry-After"]) > 0
        # Reads are never throttled, and another user's writes are counted apart.
        assert client.get(url).status_code == 200
        other = client_for("desk_welfare").post(url, {"kind": "note", "body": "x"}, format="json")
        assert other.status_code == 201


def _rest_framework() -> dict:
    from django.conf import settings

    return dict(settings.REST_FRAMEWORK)
