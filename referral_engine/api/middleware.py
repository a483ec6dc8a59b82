"""An oversized API request body is a 413 in the one error shape (DESIGN §5, issue 9); a query string
with a NUL byte is a 400 before any view or filter sees it; so is a JSON body nested too deep
(issue 16: referral_engine.api.parsing).

Django refuses a body over DATA_UPLOAD_MAX_MEMORY_SIZE only when something reads `request.body`, and
DRF reads the raw stream instead, so without this the limit would not hold for JSON at all. The
declared Content-Length decides, before a byte of the body is read.
"""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext as _

from referral_engine.api.errors import json_error, too_large_response
from referral_engine.api.parsing import json_too_deep, too_deep_message

API_PREFIX = "/api/"


class RequestBodyLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith(API_PREFIX):
            raw = request.META.get("CONTENT_LENGTH") or "0"
            try:
                length = int(raw)
            except ValueError:
                return json_error("invalid", _("Content-Length が正しくありません。"), 400)
            if length < 0:
                return json_error("invalid", _("Content-Length が正しくありません。"), 400)
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            if limit is not None and length > limit:
                return too_large_response()
            query = request.META.get("QUERY_STRING", "").lower()
            if "%00" in query or "\x00" in query:
                # No parameter of the API may hold a NUL byte (PostgreSQL text cannot store one).
                return json_error("invalid", _("クエリに使えない文字が含まれています。"), 400)
            if length and "json" in request.META.get("CONTENT_TYPE", "").lower():
                # Within the size limit, so reading it here is cheap; DRF reads the cached body after.
                text = request.body.decode("utf-8", errors="replace")
                if json_too_deep(text):
                    return json_error("parse_error", too_deep_message(), 400)
        return self.get_response(request)
