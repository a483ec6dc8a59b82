"""No 500 from odd requests (issue 16 §4), over every API route read from the URL resolver
(tests/api/routes.py, as the authorization matrix does): a deeply nested JSON body is a 400 in the
error shape on every POST/PUT/PATCH, the anonymous token endpoint included; OPTIONS answers 200
with an Allow header (or the usual 401/404) everywhere, never a 500."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from referral_engine.api.parsing import json_too_deep
from tests.api.conftest import ROLE_USERS
from tests.api.routes import Route, all_routes, api_routes
from tests.api.test_errors import assert_error_shape

WRITES = ("POST", "PUT", "PATCH")
DEEP = "[" * 200_000 + "]" * 200_000  # ~400 KB
DEEP_IN_A_FIELD = '{"summary": ' + "{" * 1000 + "}" * 1000 + ', "username": "x", "password": "y"}'
JUST_TOO_DEEP = '{"a": ' + "[" * 40 + "]" * 40 + "}"


def params_for(route: Route, world) -> dict[str, object]:
    """Real objects, so a request reaches past the 404 to the parser."""
    if route.path.startswith("/api/v1/cases/"):
        ident = world.case.pk
    elif route.path.startswith("/api/v1/referrals/"):
        ident = world.requested.pk
    elif route.path.startswith("/api/v1/consents/"):
        ident = world.consent.pk
    elif route.path.startswith("/api/v1/escalations/"):
        ident = world.escalation.pk
    else:
        ident = 1
    name = "start_assessment" if route.path.startswith("/api/v1/cases/") else "accept"
    return {"id": ident, "name": name, "year": 2026}


def write_routes() -> list[tuple[str, str]]:
    return [(r.name, m) for r in api_routes() for m in r.methods if m in WRITES]


def route_named(name: str) -> Route:
    return next(r for r in all_routes() if r.name == name)


def send(client: APIClient, method: str, url: str, body: str):
    return getattr(client, method.lower())(url, data=body, content_type="application/json")


def test_every_write_route_is_covered():
    names = {name for name, _m in write_routes()}
    assert {"api-token", "api-cases", "api-case-activities", "api-referral-record"} <= names


@pytest.mark.parametrize("route_name, method", write_routes(), ids=lambda v: str(v))
def test_deep_json_is_a_400_in_the_error_shape_on_every_write(route_name, method, world, client_for):
    route = route_named(route_name)
    url = route.url(**params_for(route, world))
    client = client_for(None if route_name == "api-token" else "worker_welfare")
    for body in (DEEP, DEEP_IN_A_FIELD, JUST_TOO_DEEP):
        payload = assert_error_shape(send(client, method, url, body), 400, "parse_error")
        assert "JSON" in payload["message"]


def test_anonymous_deep_json_is_a_400_before_anything_else(world):
    for route_name, method in write_routes():
        route = route_named(route_name)
        response = send(APIClient(), method, route.url(**params_for(route, world)), DEEP)
        assert_error_shape(response, 400, "parse_error")


def test_the_parser_catches_a_recursion_the_middleware_let_through(api_users, settings):
    settings.API_JSON_MAX_DEPTH = 10**9  # as if the check in the middleware were gone
    response = send(APIClient(), "POST", "/api/v1/auth/token/", DEEP)
    assert_error_shape(response, 400, "parse_error")


def test_ordinary_nesting_still_reaches_the_view(world, client_for):
    # A body of the API's own shape (depth 3) passes the check and is validated as usual.
    body = '{"summary": "相談", "person": {"family_name": "青江", "flags": ["lives_alone"]}, "referrals": []}'
    assert not json_too_deep(body)
    response = send(client_for("desk_welfare"), "POST", "/api/v1/cases/", body)
    assert response.status_code in (201, 409), response.content[:500]


def test_brackets_inside_strings_do_not_count():
    assert not json_too_deep('{"note": "' + "[" * 500 + '"}')
    assert not json_too_deep('{"note": "\\"' + "{" * 500 + '"}')
    assert json_too_deep("[" * 33 + "]" * 33) and not json_too_deep("[" * 32 + "]" * 32)


@pytest.mark.parametrize("role", sorted(ROLE_USERS))
def test_options_on_every_api_route_answers_allow_never_500(role, world, client_for):
    client = client_for(ROLE_USERS[role])
    wrong = {}
    for route in all_routes():
        if route.name == "api-not-found":
            continue
        response = client.options(route.url(**params_for(route, world)))
        auditors_only = {"api-audit-access-log", "api-audit-denied"}
        if response.status_code == 403 and route.name in auditors_only and role != "auditor":
            assert_error_shape(response, 403, "forbidden")  # a view only auditors may open, even to ask
            continue
        allowed = {m.strip() for m in response.get("Allow", "").split(",")}
        if response.status_code != 200 or not set(route.methods) | {"OPTIONS"} <= allowed:
            wrong[route.path] = (response.status_code, response.get("Allow"))
    assert wrong == {}


def test_options_anonymously_is_a_401_or_200_in_json_never_500(world):
    for route in all_routes():
        if route.name == "api-not-found":
            continue
        response = APIClient().options(route.url(**params_for(route, world)))
        if route.name in {"api-token", "api-schema", "api-docs", "api-root"}:
            assert response.status_code == 200, route.path
        else:
            assert_error_shape(response, 401, "not_authenticated")


def test_options_on_an_unknown_api_path_is_the_json_404(client_for):
    assert_error_shape(client_for("worker_welfare").options("/api/v1/nothing-here/"), 404, "not_found")


def test_options_body_describes_the_view_without_serializer_details(world, client_for):
    response = client_for("worker_welfare").options("/api/v1/cases/")
    body = response.json()
    assert body["parses"] == ["application/json"] and body["schema"] == "/api/schema/"
    assert "actions" not in body


@pytest.mark.parametrize("username", ["chief_welfare", "minsei_kawakami", "admin"])
def test_options_on_every_web_route_is_never_a_500(api_users, username):
    """The pages too: every URL pattern of the project (sample values for its parameters), as a
    supervisor, a connector and the admin — a page answers OPTIONS as it would GET, 405, or its 4xx."""
    from django.test import Client

    from tests.reliability.test_login_required import ROUTES as ALL_PATTERNS
    from tests.reliability.test_login_required import _concrete

    client = Client(raise_request_exception=False)
    client.force_login(api_users[username])
    errors = {}
    for pattern in ALL_PATTERNS:
        path = _concrete(pattern)
        status = client.options(path).status_code
        if status >= 500:
            errors[path] = status
    assert errors == {}


def test_the_admin_never_shows_a_totp_secret(api_users):
    from django.test import Client
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.create(user=api_users["chief_health"], name="authenticator", confirmed=True)
    client = Client()
    client.force_login(api_users["admin"])
    for pk in (device.pk, 999_999):
        for view in ("config", "qrcode"):
            assert client.get(f"/admin/otp_totp/totpdevice/{pk}/{view}/").status_code == 403
