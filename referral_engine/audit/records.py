"""simple-history's `HistoricalRecords`, with a history manager whose class is built once.

simple-history's descriptor builds `HistoryManager.from_queryset(HistoricalQuerySet)` anew on every
access of `instance.history` — a new class, `inspect.getmembers` over the queryset, about 0.3 ms — and
its own `post_save` reads that attribute for every history row it writes: twice in a case transition
(the case's row and its stall clock's), before the row is even built. Every historied model declares
`history = HistoricalRecords(...)` from here; the manager behaves as simple-history's (bound to the
instance, the same queryset methods), only its class is cached per queryset class.
"""

from __future__ import annotations

import functools
from typing import Any

from simple_history.manager import HistoryManager as BaseHistoryManager
from simple_history.models import HistoricalRecords as BaseHistoricalRecords


class HistoryManager(BaseHistoryManager):
    @classmethod
    @functools.cache
    def from_queryset(cls, queryset_class: type, class_name: str | None = None) -> type:
        return super().from_queryset(queryset_class, class_name)


class HistoricalRecords(BaseHistoricalRecords):
    def __init__(self, *args: Any, history_manager: type = HistoryManager, **kwargs: Any) -> None:
        super().__init__(*args, history_manager=history_manager, **kwargs)
