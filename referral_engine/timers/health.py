"""The time of the last successful sweep, for /healthz (DESIGN §8.1)."""

from django.utils import timezone

# Beat runs the sweep every 60 s: three missed runs mean the sweep is not running.
STALE_AFTER_SECONDS = 180


def last_sweep() -> dict:
    from referral_engine.timers.models import SweepStatus

    try:
        status = SweepStatus.objects.filter(name="timers").first()
    except Exception as exc:  # noqa: BLE001 - /healthz reports, never raises
        return {"ok": False, "last_success": None, "age_seconds": None, "error": type(exc).__name__}
    if status is None or status.last_success_at is None:
        return {"ok": False, "last_success": None, "age_seconds": None}
    age = max(0, int((timezone.now() - status.last_success_at).total_seconds()))
    return {
        "ok": age <= STALE_AFTER_SECONDS,
        "last_success": status.last_success_at.isoformat(),
        "age_seconds": age,
        "last_duration_ms": status.last_duration_ms,
        "last_fired": status.last_fired,
    }
