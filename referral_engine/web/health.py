"""GET /healthz (no login): database, broker, last timer sweep, outbox backlog, append-only triggers."""

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


def _check_database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return {"ok": True}
    except Exception as exc:  # noqa: BLE001 - report, never raise
        return {"ok": False, "error": type(exc).__name__}


def _check_broker() -> dict:
    from referral_engine.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return {"ok": True, "transport": conn.transport_cls if isinstance(conn.transport_cls, str) else "redis"}
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "error": type(exc).__name__}


def _check_outbox() -> dict:
    from referral_engine.notifications.models import Notification

    try:
        backlog = Notification.objects.filter(delivery=Notification.Delivery.PENDING).count()
        return {"ok": True, "backlog": backlog}
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "error": type(exc).__name__}


def _check_append_only() -> dict:
    """The audit tables' append-only triggers (docs/audit.md): `ok` is false, with the tables named,
    when one is missing, disabled or not ENABLE ALWAYS. Reported, not a reason for a 503: the desk
    keeps working while the owner repairs it (`manage.py append_only_triggers --install`)."""
    from referral_engine.audit.append_only import append_only_missing

    try:
        missing = append_only_missing(connection)
    except Exception as exc:  # noqa: BLE001 - report, never raise
        return {"ok": False, "error": type(exc).__name__}
    if missing:
        return {"ok": False, "missing": missing}
    return {"ok": True}


def _check_sweep() -> dict:
    from referral_engine.timers import health as timers_health

    return timers_health.last_sweep()


@never_cache
@require_GET
def healthz(request):
    checks = {
        "database": _check_database(),
        "broker": _check_broker(),
        "outbox": _check_outbox(),
        "sweep": _check_sweep(),
        "append_only": _check_append_only(),
    }
    # The sweep's age is information, not a failure: the web can serve while beat restarts. Until the
    # first sweep has run, though, no deadline has been checked: "starting", not "ok" (still 200).
    ok = checks["database"]["ok"] and checks["broker"]["ok"]
    status = "fail" if not ok else "starting" if checks["sweep"].get("last_success") is None else "ok"
    return JsonResponse(
        {"status": status, "checks": checks, "debug": settings.DEBUG},
        status=200 if ok else 503,
    )
