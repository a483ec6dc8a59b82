from django.conf import settings
from django.shortcuts import redirect

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
