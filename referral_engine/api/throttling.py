"""Writes are throttled per token (per user: a user holds one token), reads are not: a misbehaving
integration cannot flood the desk, and a busy reader is never locked out of a case."""

from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle


class WriteRateThrottle(SimpleRateThrottle):
    """`DEFAULT_THROTTLE_RATES["writes"]` (env `API_WRITE_THROTTLE`, e.g. "600/minute")."""

    scope = "writes"

    def get_rate(self) -> str | None:
        # Read at request time, not import time, so a changed setting applies at once.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request, view) -> bool:
        if request.method in SAFE_METHODS:
            return True
        return super().allow_request(request, view)

    def get_cache_key(self, request, view) -> str:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            ident = f"user:{user.pk}"
        else:
            ident = f"anon:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
