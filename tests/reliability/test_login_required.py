"""Login required everywhere (issue 11 §4): every URL pattern the project has, asked for by an
anonymous client, is a redirect to the login page, or a 401/403 under /api/, except the few that are
public on purpose:

- `/accounts/login/` (the login page), `/healthz` (the load balancer's probe: no personal data),
  `/i18n/setlang/` (the language switch: a redirect, nothing else), `/static/` (CSS, JS, icons);
- `/api/schema/` and `/api/docs/`: the OpenAPI description and its offline viewer. They describe
  endpoints and fields, never data, and every endpoint they describe needs a token; integrators of
  other municipal systems read them before they have an account. Decided public (docs/reliability.md).

New URL patterns are picked up automatically: a page added without protection fails this test.
"""

from __future__ import annotations

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

PUBLIC = {
    "healthz": {200, 503},
    "metrics": {403},  # no METRICS_TOKEN header and not from METRICS_ALLOWED_IPS
    "accounts/login/": {200},
    "i18n/setlang/": {302},
    "api/schema/": {200},
    "api/docs/": {200},
    "api/v1/": {200},  # a pointer to /api/docs/, nothing else (issue 16 §7)
    "api/^.*$": {404},  # an unknown API path is a JSON 404 for everybody: it names nothing
}
SAMPLE = {"api_name": "accept", "int": "1", "api_id": "1", "path": "1", "str": "x"}


def _concrete(route: str) -> str:
    """A path that the pattern matches: converters get sample values, regex groups a plain word."""
    route = re.sub(r"<(?:(\w+):)?(\w+)>", lambda m: SAMPLE.get(m.group(1) or "str", "1"), route)
    route = route.replace("(?P<app_label>", "(").replace("(?P<url>.*)", "anything")
    route = re.sub(r"\((?:[a-z_]+\|)+[a-z_]+\)", "cases", route)
    route = route.replace("([^/]+)", "1").replace(".*", "anything").replace("^", "").replace("$", "")
    return "/" + route


def _walk(patterns, prefix: str = ""):
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from _walk(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern)


ROUTES = sorted(set(_walk(get_resolver().url_patterns)))


def test_the_enumeration_sees_every_area():
    paths = {_concrete(r) for r in ROUTES}
    for expected in ("/", "/cases/new/", "/cases/1/", "/inbox/", "/dashboard/", "/audit/", "/slips/", "/admin/"):
        assert expected in paths
    assert any(p.startswith("/api/v1/") for p in paths)
    assert len(paths) > 100  # the admin alone contributes many


@pytest.mark.django_db
@pytest.mark.parametrize("route", ROUTES)
def test_anonymous_get_is_refused(client, route):
    path = _concrete(route)
    response = client.get(path)
    if route in PUBLIC:
        assert response.status_code in PUBLIC[route], (path, response.status_code)
        return
    if path.startswith("/api/"):
        assert response.status_code in (401, 403, 405), (path, response.status_code)
        if response.status_code != 405:
            assert response.json()["error"] in ("not_authenticated", "authentication_failed", "forbidden")
        return
    assert response.status_code == 302, (path, response.status_code)
    assert response["Location"].startswith("/accounts/login/?next="), (path, response["Location"])


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
@pytest.mark.parametrize("path", ["/cases/new/", "/cases/1/transition/", "/referrals/1/transition/", "/admin/"])
def test_anonymous_writes_are_refused(client, method, path):
    response = getattr(client, method)(path, data={})
    assert response.status_code in (302, 403)
    if response.status_code == 302:
        assert response["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
def test_public_schema_holds_no_data(client, open_case):
    open_case()
    body = client.get("/api/schema/").content.decode()
    assert "津久見" not in body and "ツクミ" not in body  # the seeded person's name is nowhere


@pytest.mark.django_db
def test_healthz_tells_no_secrets(client):
    body = client.get("/healthz").content.decode().lower()
    for word in ("secret", "password", "postgres://", "redis://"):
        assert word not in body
