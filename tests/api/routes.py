"""Every API route registered under /api/ (referral_engine.api.urls), for the authorization matrix.

`ROUTES` is read from the URLconf itself, so a new route appears here without anyone editing this
file; `tests/api/test_routes.py` compares it with `EXPECTED` so that a route added without a matrix
entry fails loudly. Each route: its URL name, its path template in the OpenAPI spelling
(`/api/v1/cases/{id}/`) and the HTTP methods it answers (besides OPTIONS/HEAD).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver

API_PREFIX = "/api/"
METHODS = ("get", "post", "put", "patch", "delete")
# Routes that are not endpoints of the contract: the schema, its docs page, /api/v1/ (a pointer to
# the docs), and the JSON 404 for any other path under /api/.
NOT_ENDPOINTS = {"api-schema", "api-docs", "api-not-found", "api-root"}


@dataclass(frozen=True)
class Route:
    name: str
    path: str  # e.g. "/api/v1/cases/{id}/transitions/{name}/"
    methods: tuple[str, ...]  # upper case

    def url(self, **params: object) -> str:
        return re.sub(r"\{(\w+)\}", lambda m: str(params[m.group(1)]), self.path)


def _template(route: str) -> str:
    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)


def _methods(callback: object) -> tuple[str, ...]:
    view_class = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
    return tuple(m.upper() for m in METHODS if view_class is not None and hasattr(view_class, m))


def _walk(patterns: list, prefix: str) -> list[Route]:
    routes: list[Route] = []
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            routes += _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            routes.append(
                Route(pattern.name or "", _template(prefix + str(pattern.pattern)), _methods(pattern.callback))
            )
    return routes


def all_routes() -> list[Route]:
    """Every route under /api/, the schema, docs and the catch-all 404 included."""
    from referral_engine.api import urls

    return _walk(urls.urlpatterns, API_PREFIX)


def api_routes() -> list[Route]:
    """The endpoints of the contract (DESIGN §8.1), each with its methods."""
    return [r for r in all_routes() if r.name not in NOT_ENDPOINTS]


# What is registered today (name → path, methods). A change here is a change of the contract.
EXPECTED: dict[str, tuple[str, tuple[str, ...]]] = {
    "api-token": ("/api/v1/auth/token/", ("POST",)),
    "api-token-refresh": ("/api/v1/auth/token/refresh/", ("POST",)),
    "api-logout": ("/api/v1/auth/logout/", ("POST",)),
    "api-persons": ("/api/v1/persons/", ("GET",)),
    "api-person": ("/api/v1/persons/{id}/", ("PATCH",)),
    "api-person-merge": ("/api/v1/persons/{id}/merge/", ("POST",)),
    "api-cases": ("/api/v1/cases/", ("GET", "POST")),
    "api-case": ("/api/v1/cases/{id}/", ("GET",)),
    "api-case-transitions": ("/api/v1/cases/{id}/transitions/", ("GET",)),
    "api-case-transition": ("/api/v1/cases/{id}/transitions/{name}/", ("POST",)),
    "api-case-referrals": ("/api/v1/cases/{id}/referrals/", ("GET", "POST")),
    "api-case-activities": ("/api/v1/cases/{id}/activities/", ("GET", "POST")),
    "api-case-consents": ("/api/v1/cases/{id}/consents/", ("GET", "POST")),
    "api-case-history": ("/api/v1/cases/{id}/history/", ("GET",)),
    "api-case-reassess": ("/api/v1/cases/{id}/reassess/", ("POST",)),
    "api-consent-withdraw": ("/api/v1/consents/{id}/withdraw/", ("POST",)),
    "api-referrals": ("/api/v1/referrals/", ("GET",)),
    "api-referral": ("/api/v1/referrals/{id}/", ("GET",)),
    "api-referral-transitions": ("/api/v1/referrals/{id}/transitions/", ("GET",)),
    "api-referral-transition": ("/api/v1/referrals/{id}/transitions/{name}/", ("POST",)),
    "api-referral-record": ("/api/v1/referrals/{id}/record/", ("PUT", "PATCH")),
    "api-referral-assign": ("/api/v1/referrals/{id}/assign/", ("POST",)),
    "api-case-followups": ("/api/v1/cases/{id}/followups/", ("GET", "POST")),
    "api-followups": ("/api/v1/followups/", ("GET",)),
    "api-followup-done": ("/api/v1/followups/{id}/done/", ("POST",)),
    "api-me-work": ("/api/v1/me/work/", ("GET",)),
    "api-me-preferences": ("/api/v1/me/preferences/", ("GET", "PATCH")),
    "api-notifications": ("/api/v1/notifications/", ("GET",)),
    "api-notification-read": ("/api/v1/notifications/{id}/read/", ("POST",)),
    "api-community-slips": ("/api/v1/community-slips/", ("GET", "POST")),
    "api-community-slip-link": ("/api/v1/community-slips/{id}/link/", ("POST",)),
    "api-community-slip-confirm-new": ("/api/v1/community-slips/{id}/confirm-new/", ("POST",)),
    "api-households": ("/api/v1/households/", ("POST",)),
    "api-household": ("/api/v1/households/{id}/", ("GET", "PATCH")),
    "api-case-watch-requests": ("/api/v1/cases/{id}/watch-requests/", ("GET", "POST")),
    "api-watch-requests": ("/api/v1/watch-requests/", ("GET",)),
    "api-evacuation-plans": ("/api/v1/evacuation-plans/", ("GET",)),
    "api-watch-request-reports": ("/api/v1/watch-requests/{id}/reports/", ("POST",)),
    "api-watch-request-close": ("/api/v1/watch-requests/{id}/close/", ("POST",)),
    "api-escalations": ("/api/v1/escalations/", ("GET",)),
    "api-escalation-acknowledge": ("/api/v1/escalations/{id}/acknowledge/", ("POST",)),
    "api-dashboard": ("/api/v1/dashboard/", ("GET",)),
    "api-audit-access-log": ("/api/v1/audit/access-log/", ("GET",)),
    "api-audit-denied": ("/api/v1/audit/denied/", ("GET",)),
    "api-reports-fiscal-year": ("/api/v1/reports/fiscal-year/{year}/", ("GET",)),
    "api-disasters": ("/api/v1/disasters/", ("GET", "POST")),
    "api-disaster": ("/api/v1/disasters/{id}/", ("GET",)),
    "api-disaster-board": ("/api/v1/disasters/{id}/board/", ("GET",)),
    "api-disaster-checks": ("/api/v1/disasters/{id}/checks/", ("GET",)),
    "api-disaster-close": ("/api/v1/disasters/{id}/close/", ("POST",)),
    "api-safety-check": ("/api/v1/safety-checks/{id}/", ("PATCH",)),
}

ROUTES: list[Route] = [Route(name, path, methods) for name, (path, methods) in EXPECTED.items()]
