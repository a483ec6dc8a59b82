"""The published OpenAPI 3 schema and its docs page, and a client written only from that schema."""

from __future__ import annotations

import re

import pytest
import requests
from django.contrib.staticfiles import finders
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIClient

from tests.api.conftest import PASSWORD
from tests.api.routes import EXPECTED, api_routes


@pytest.fixture
def schema(db) -> dict:
    response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def test_routes_module_matches_the_urlconf():
    assert {r.name: (r.path, r.methods) for r in api_routes()} == EXPECTED


def test_schema_is_valid_openapi_3_and_covers_every_route(schema):
    validate_schema(schema)
    assert schema["openapi"].startswith("3.")
    documented = {(path, method.upper()) for path, item in schema["paths"].items() for method in item}
    registered = {(path, method) for path, methods in EXPECTED.values() for method in methods}
    assert documented == registered


def test_every_operation_has_an_id_and_documents_its_errors_in_the_one_shape(schema):
    ids = []
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            ids.append(operation["operationId"])
            responses = operation["responses"]
            assert any(code.startswith("2") for code in responses), (method, path)
            errors = {code: r for code, r in responses.items() if code.startswith("4")}
            assert errors, (method, path)
            for code, response in errors.items():
                ref = response["content"]["application/json"]["schema"]["$ref"]
                assert ref == "#/components/schemas/Error", (method, path, code)
            if operation.get("security") and {} not in operation["security"]:
                assert "401" in responses, (method, path)
            if "{id}" in path:
                assert "404" in responses, (method, path)
            if method in ("post", "put", "patch") and path.startswith("/api/v1/") and "token" not in path:
                assert {"400", "413", "429"} <= set(responses), (method, path)
    assert len(ids) == len(set(ids))
    error = schema["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"error", "message", "fields"}
    assert {"allowed", "candidates"} <= set(error["properties"])


def test_state_is_never_writable(schema):
    for name, component in schema["components"]["schemas"].items():
        if name.endswith("Request"):
            assert "state" not in component.get("properties", {}), name


def test_a_referrals_record_may_be_null_as_the_api_answers_it(schema, users, open_case, fresh):
    """Schemathesis found it (a supervisor's `return`): `record` is null for one who does not see the
    whole case, so the schema must say so."""
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    from referral_engine.api import serializers as s

    case = open_case("worker_welfare", referrals=[{"to_department": "health_promotion", "basis": "internal_use"}])
    request = Request(APIRequestFactory().get("/"))
    request.user = fresh(users["worker_longevity"])  # not involved: no sensitive view
    body = s.ReferralDetailSerializer(case.referrals.get(), context={"request": request}).data
    assert body["record"] is None
    assert schema["components"]["schemas"]["ReferralDetail"]["properties"]["record"]["nullable"] is True


def test_docs_page_uses_only_local_assets(db):
    response = APIClient().get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets, html
    for url in assets:
        assert url.startswith("/static/"), url
        assert finders.find(url.removeprefix("/static/")), url
    assert "cdn" not in html.lower()
    assert not re.search(r"https?://(?!localhost)", html.replace("http://www.w3.org", ""))


def _operations(schema: dict) -> dict[str, tuple[str, str]]:
    return {
        operation["operationId"]: (method.upper(), path)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
    }


class SchemaClient:
    """Knows nothing of the code: the base URL, the schema's operations, and a token."""

    def __init__(self, base_url: str, schema: dict) -> None:
        self.base_url = base_url
        self.operations = _operations(schema)
        self.session = requests.Session()

    def call(self, operation_id: str, *, body=None, **params):
        method, path = self.operations[operation_id]
        url = self.base_url + re.sub(r"\{(\w+)\}", lambda m: str(params.pop(m.group(1))), path)
        return self.session.request(method, url, json=body, params=params or None, timeout=30)

    def login(self, username: str, password: str) -> None:
        self.session.headers.pop("Authorization", None)
        response = self.call("auth_token_create", body={"username": username, "password": password})
        assert response.status_code == 200, response.text
        self.session.headers["Authorization"] = f"Token {response.json()['token']}"


def _history_operation(schema: dict) -> str:
    """The operation that reads a case's history: found in the schema by its path, like a client would."""
    return next(
        op["operationId"]
        for path, item in schema["paths"].items()
        for method, op in item.items()
        if method == "get" and path.endswith("/cases/{id}/history/")
    )


@pytest.mark.django_db(transaction=True)
def test_a_client_written_from_the_schema_opens_refers_accepts_and_reads_history(live_server):
    from referral_engine.accounts.demo import demo_users_ensure

    demo_users_ensure(password=PASSWORD)
    schema = requests.get(f"{live_server.url}/api/schema/?format=json", timeout=30).json()
    client = SchemaClient(live_server.url, schema)

    client.login("desk_welfare", PASSWORD)
    opened = client.call(
        "cases_create",
        body={
            "summary": "近所の人から、最近姿を見ないと相談。",
            "needs": ["isolation"],
            "person": {"family_name": "四浦", "given_name": "ふみ", "family_name_kana": "ヨツウラ"},
        },
    )
    assert opened.status_code == 201, opened.text
    case_id = opened.json()["id"]
    referred = client.call(
        "case_referrals_create",
        id=case_id,
        body={"to_department": "longevity_support", "basis": "internal_use", "reason": "見守りと介護の相談"},
    )
    assert referred.status_code == 201, referred.text
    referral_id = referred.json()["id"]
    assert referred.json()["state"] == "requested"

    client.login("worker_longevity", PASSWORD)
    inbox = client.call("referrals_list", inbox="true").json()["results"]
    assert [r["id"] for r in inbox] == [referral_id]
    allowed = client.call("referral_transitions_list", id=referral_id).json()["transitions"]
    assert "accept" in allowed
    accepted = client.call("referral_transition_run", id=referral_id, name="accept", body={})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["state"] == "accepted"

    client.login("auditor", PASSWORD)
    history = client.call(_history_operation(schema), id=case_id)
    assert history.status_code == 200, history.text
    entries = history.json()["results"]
    kinds = [e["kind"] for e in entries]
    assert "case_opened" in kinds and "referral_requested" in kinds
    assert any(e["kind"] == "referral_transition" and e["user"]["username"] == "worker_longevity" for e in entries)
