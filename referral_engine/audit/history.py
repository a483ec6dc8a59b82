"""The one way to save a historied object: acting user and change reason set for this save only
(simple-history keeps them on the instance otherwise, LIBRARIES.md), and no save when nothing changed."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import models

HISTORY_ATTRS = ("_history_user", "_change_reason")


def _actor(actor: Any) -> Any:
    return actor if actor is not None and getattr(actor, "is_authenticated", False) else None


def save_with_history(
    obj: models.Model, *, actor: Any, reason: str, update_fields: Iterable[str] | None = None
) -> bool:
    """Save `obj` (all fields, or only `update_fields`) with its history row attributed to `actor`.
    An empty `update_fields` saves nothing and writes no history row. Returns whether it saved."""
    fields = None if update_fields is None else sorted(set(update_fields))
    if fields is not None and not fields:
        return False
    obj._history_user = _actor(actor)
    obj._change_reason = reason
    try:
        if fields is not None and "updated_at" in {f.name for f in obj._meta.concrete_fields}:
            fields = sorted({*fields, "updated_at"})
        obj.save(update_fields=fields)
    finally:
        for attr in HISTORY_ATTRS:
            obj.__dict__.pop(attr, None)
    return True
