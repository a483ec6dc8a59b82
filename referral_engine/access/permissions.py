"""The ids of the object permissions (`view_case_full`, `work_referral`, …), cached per process: the one
cache that the grants (writing rows) and the policy (reading them in `Exists(...)` filters) share.

The first miss loads every permission of the `cases` app in one query. A flush (tests) re-creates the
permissions with new ids: `post_migrate` clears the cache (`access.apps`).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Permission

APP_LABEL = "cases"

_ids: dict[tuple[str, str], int] = {}


def _load() -> None:
    rows = Permission.objects.filter(content_type__app_label=APP_LABEL).values_list(
        "content_type__model", "codename", "pk"
    )
    _ids.update({(model, codename): pk for model, codename, pk in rows})


def permission_ids(model: str, *codenames: str) -> list[int]:
    """The ids of `codenames` on `model` (`"case"`, `"referral"`) that exist; a missing one is left out,
    so a filter on them reaches nothing rather than everything."""
    if any((model, c) not in _ids for c in codenames):
        _load()
    return [_ids[(model, c)] for c in codenames if (model, c) in _ids]


def permission_id(model: str, codename: str) -> int:
    """The id of one permission; `Permission.DoesNotExist` if the migrations have not made it."""
    found = permission_ids(model, codename)
    if not found:
        raise Permission.DoesNotExist(f"{APP_LABEL}.{codename} on {model}")
    return found[0]


def forget_permission_ids(**kwargs: Any) -> None:
    """Clear the cache (a `post_migrate` receiver: a flush re-creates permissions with new ids)."""
    _ids.clear()
