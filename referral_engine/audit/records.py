"""simple-history's `HistoricalRecords`, with its history rows written the fast way (issue 23).

- The history manager's class is built once per queryset class. simple-history's descriptor builds
  `HistoryManager.from_queryset(HistoricalQuerySet)` anew on every access of `instance.history` — a
  new class, `inspect.getmembers` over the queryset, about 0.3 ms — and its own `post_save` reads that
  attribute for every history row it writes, before the row is even built.
- A history row is inserted by `bound_queries.bound_insert`: the INSERT written once per model and
  connection, the same signals, instead of compiling it for every row (a case transition writes two:
  the case's and its stall clock's).

Every historied model declares `history = HistoricalRecords(...)` from here; the history models, their
tables and their managers are simple-history's (the abstract base below adds no field: the migrations
see `models.Model`).
"""

from __future__ import annotations

import functools
from typing import Any

from django.db import models
from simple_history.manager import HistoryManager as BaseHistoryManager
from simple_history.models import HistoricalRecords as BaseHistoricalRecords

from referral_engine.bound_queries import bound_insert


class HistoryManager(BaseHistoryManager):
    @classmethod
    @functools.cache
    def from_queryset(cls, queryset_class: type, class_name: str | None = None) -> type:
        return super().from_queryset(queryset_class, class_name)


class HistoryRow(models.Model):
    """The base of every history model: a new row (simple-history saves each with at most `using`)
    is inserted by `bound_insert`; any other save is the ORM's."""

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not args and not (kwargs.keys() - {"using"}) and kwargs.get("using") is None and self._state.adding:
            bound_insert(self)
            return
        super().save(*args, **kwargs)


class HistoricalRecords(BaseHistoricalRecords):
    def __init__(self, *args: Any, history_manager: type = HistoryManager, **kwargs: Any) -> None:
        kwargs.setdefault("bases", (HistoryRow,))
        super().__init__(*args, history_manager=history_manager, **kwargs)
