"""Denied reads in the access log (issue 16 item 6): a 404 on the URL of a case, person or referral
is what a user who may not see it gets (DESIGN §5: the same as one that does not exist), and until
now it left no trace. Read at one place, for the pages and the API alike: after the view answered,
from the route that matched (its object id), so no view has to remember it."""

from __future__ import annotations

from typing import Any

from referral_engine.audit.services import access_log_denied

# A route's keyword → the object it names. The API's routes name theirs `id`: the route's name says what.
OBJECT_KWARGS = {"case_id": "case", "referral_id": "referral", "person_id": "person"}
API_ROUTE_PREFIXES = (("api-case", "case"), ("api-referral", "referral"), ("api-person", "person"))


MAX_ID = 2**63 - 1


def _id(value: Any) -> int | None:
    """The id as the log stores it: an id beyond a 64-bit key names nothing that could exist."""
    number = int(value)
    return number if 0 <= number <= MAX_ID else None


def denied_object(match: Any) -> tuple[str, int | None] | None:
    """(object type, id) of the object a matched route names, or None."""
    if match is None:
        return None
    for kwarg, object_type in OBJECT_KWARGS.items():
        if kwarg in match.kwargs:
            return object_type, _id(match.kwargs[kwarg])
    if "id" in match.kwargs and match.url_name:
        for prefix, object_type in API_ROUTE_PREFIXES:
            if match.url_name.startswith(prefix):
                return object_type, _id(match.kwargs["id"])
    return None


class DeniedAccessLogMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code == 404 and getattr(request, "user", None) is not None:
            found = denied_object(getattr(request, "resolver_match", None))
            if found is not None and request.user.is_authenticated:
                access_log_denied(user=request.user, object_type=found[0], object_id=found[1], request=request)
        return response
