"""The one way to save a historied object, and the rule that a save which changed nothing leaves no
history row (issue 6).

simple-history writes a full row on every `save()`, and keeps `_history_user` / `_change_reason` on
the instance for the next save (LIBRARIES.md). `save_with_history` sets both for one save and clears
them; `history_skip_unchanged` (connected to `pre_save` for every historied model) compares the
instance with the object's latest history row and sets simple-history's own
`skip_history_when_saving` flag when no tracked field differs, so a no-op save through any path
(services, admin, shell) records nothing. The flag is ours only for that one save: the `post_save`
receiver removes it, and the next `pre_save` recomputes it even if a save failed in between.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from django.db import models

HISTORY_ATTRS = ("_history_user", "_change_reason")
SKIP_ATTR = "skip_history_when_saving"  # simple-history's documented per-instance switch
OUR_SKIP_MARK = "_audit_skipped_unchanged"
KNOWN_CHANGE_MARK = "_audit_known_change"  # set by save_with_history(changed=True) for one save


def _actor(actor: Any) -> Any:
    return actor if actor is not None and getattr(actor, "is_authenticated", False) else None


def save_with_history(
    obj: models.Model,
    *,
    actor: Any,
    reason: str,
    update_fields: Iterable[str] | None = None,
    changed: bool = False,
) -> bool:
    """Save `obj` (all fields, or only `update_fields`) with its history row attributed to `actor`.
    An empty `update_fields` saves nothing and writes no history row. Returns whether it saved.
    A save that changed no tracked field writes no history row (see `history_skip_unchanged`).

    `changed=True`: the caller knows a tracked field differs from what was loaded (it compared them,
    e.g. a transition moved the state), so the read of the last history row is skipped."""
    fields = None if update_fields is None else sorted(set(update_fields))
    if fields is not None and not fields:
        return False
    obj._history_user = _actor(actor)
    obj._change_reason = reason
    if changed:
        obj.__dict__[KNOWN_CHANGE_MARK] = True
    try:
        if fields is not None and "updated_at" in {f.name for f in obj._meta.concrete_fields}:
            fields = sorted({*fields, "updated_at"})
        obj.save(update_fields=fields)
    finally:
        for attr in (*HISTORY_ATTRS, KNOWN_CHANGE_MARK):
            obj.__dict__.pop(attr, None)
    return True


# --- No history row for a save that changed nothing --------------------------------------------


@functools.cache
def history_model_for(model: type[models.Model]) -> type[models.Model] | None:
    """The simple-history model of `model` (None when `model` is not historied). Cached: the
    history descriptor builds a new manager class (inspect.getmembers) on every access, ~0.3 ms,
    and this runs before every update and eight times per history read."""
    manager_name = getattr(model._meta, "simple_history_manager_attribute", None)
    if manager_name is None:
        return None
    manager = getattr(model, manager_name, None)
    return getattr(manager, "model", None)


def _same(field: models.Field, old: Any, new: Any) -> bool:
    if old == new:
        return True
    try:  # e.g. a datetime assigned as a string, or a Decimal as a float
        return field.to_python(old) == field.to_python(new)
    except Exception:  # noqa: BLE001 - when unsure, keep the history row
        return False


def history_unchanged(instance: models.Model) -> bool:
    """Whether saving `instance` now would write a history row identical (in every tracked field) to
    the object's latest one. One query; False when there is no history row to compare with."""
    history_model = history_model_for(type(instance))
    if history_model is None or instance.pk is None or instance._state.adding:
        return False
    tracked = [f for f in history_model.tracked_fields if f.attname not in instance.get_deferred_fields()]
    pk_name = instance._meta.pk.attname
    last = (
        history_model._default_manager.using(instance._state.db or "default")
        .filter(**{pk_name: instance.pk})
        .order_by("-history_date", "-history_id")
        .values(*(f.attname for f in tracked), "history_type")
        .first()
    )
    if last is None or last["history_type"] == "-":
        return False
    return all(_same(f, last[f.attname], getattr(instance, f.attname)) for f in tracked)


def history_skip_unchanged(sender: type[models.Model], instance: models.Model, raw: bool = False, **kwargs: Any):
    """`pre_save` receiver: skip the history row of a save that changed nothing."""
    if instance.__dict__.pop(OUR_SKIP_MARK, False):  # left over from a save that failed
        instance.__dict__.pop(SKIP_ATTR, None)
    if raw or sender._meta.proxy or SKIP_ATTR in instance.__dict__ or hasattr(type(instance), SKIP_ATTR):
        return
    if instance.__dict__.get(KNOWN_CHANGE_MARK):
        return  # the caller compared the fields itself: no read of the last history row
    if history_unchanged(instance):
        instance.__dict__[SKIP_ATTR] = True
        instance.__dict__[OUR_SKIP_MARK] = True


def history_skip_cleanup(sender: type[models.Model], instance: models.Model, **kwargs: Any) -> None:
    """`post_save` receiver, connected after simple-history's: drop the flag we set."""
    if instance.__dict__.pop(OUR_SKIP_MARK, False):
        instance.__dict__.pop(SKIP_ATTR, None)
