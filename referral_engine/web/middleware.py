from django.conf import settings
from django.http import Http404, JsonResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.defaults import page_not_found

from referral_engine.access import policy
from referral_engine.errors import InvalidInput
from referral_engine.web.errors import error_page

# Paths that need no login: the login page itself, the health check, the metrics (a bearer token or an
# allowed address instead), static files, the API (its own authentication answers 401/403 in JSON) and
# the language switch.
PUBLIC_PREFIXES = ("/accounts/login/", "/healthz", "/metrics", "/static/", "/api/", "/i18n/", "/favicon.ico")

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'self'; object-src 'none'"
)


class LoginRequiredEverywhereMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.user.is_authenticated and not request.path.startswith(PUBLIC_PREFIXES):
            return redirect(f"{settings.LOGIN_URL_PATH}?next={request.get_full_path()}")
        return self.get_response(request)


class ContentSecurityPolicyMiddleware:
    """Everything is served by the app: no CDN, no inline scripts."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not request.path.startswith("/api/docs"):
            response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        return response


class PlainErrorPagesMiddleware:
    """With DEBUG on, Django answers every 404 with its English technical page, which lists the URL
    patterns: only the admin sees it; everyone else gets the app's own (Japanese) 404, as in
    production (issue 16 §7). 403s already use the app's page whatever DEBUG says."""

    TECHNICAL_MARK = b'<meta name="robots" content="NONE,NOARCHIVE">'

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            settings.DEBUG
            and response.status_code == 404
            and response.get("Content-Type", "").startswith("text/html")
            and self.TECHNICAL_MARK in getattr(response, "content", b"")
            and not policy.can_see_debug_pages(getattr(request, "user", None))
        ):
            return page_not_found(request, Http404())
        return response


def _control_characters(text: str) -> bool:
    # C0 controls except tab, newline and carriage return; DEL; C1 controls. PostgreSQL text cannot
    # hold NUL; the others never belong in a search box and only show up in probes.
    return any((ch < " " and ch not in "\t\n\r") or "\x7f" <= ch <= "\x9f" for ch in text)


class QueryStringCharactersMiddleware:
    """A web page's query string with a control character (`?q=%00`) is a 400 before any view or
    filter sees it, as the API's is (api/middleware.py): a page that says which parameter, or the
    one JSON error shape for a client that asks for JSON (the search-as-you-type endpoint)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith("/api/") and request.META.get("QUERY_STRING"):
            bad = sorted(
                {
                    key[:50]
                    for key, values in request.GET.lists()
                    if _control_characters(key) or any(_control_characters(v) for v in values)
                }
            )
            if bad:
                return self._refuse(request, bad)
        return self.get_response(request)

    def _refuse(self, request, names: list[str]):
        message = _("使えない文字（制御文字）が含まれています。")
        fields = {_printable(name): [message] for name in names}
        if "application/json" in request.headers.get("Accept", ""):
            return JsonResponse(
                {"error": "invalid", "message": str(_("クエリに使えない文字が含まれています。")), "fields": fields},
                status=400,
            )
        return error_page(request, InvalidInput(_("クエリに使えない文字が含まれています。"), fields=fields))


def _printable(name: str) -> str:
    return "".join(ch if not _control_characters(ch) else "?" for ch in name) or "?"
