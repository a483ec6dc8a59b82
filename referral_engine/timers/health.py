"""The time of the last successful sweep (the timers issue records it)."""


def last_sweep() -> dict:
    return {"ok": True, "last_success": None}
