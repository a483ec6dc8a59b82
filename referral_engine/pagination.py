"""A page-number paginator that never counts more rows than it needs.

An exact `COUNT(*)` of a long list costs as much as reading it (390,000 visible cases: 1.4 s at a
million cases, docs/benchmarks.md), and nobody reads "390,563 件" differently from "1,000 件以上".
`CappedCountPaginator` counts at most `cap` + 1 rows — or up to one row past the requested page, so
every page stays reachable and `has_next` is right — with `SELECT COUNT(*) FROM (… LIMIT n)`.
`count_shown` is the figure to show: the exact count, or — when `count_capped` — the round number
that there are more than ("1,000+").
"""

from __future__ import annotations

from functools import cached_property

from django.core.paginator import Paginator

COUNT_CAP = 1000
# A search (`?q=`) is counted to 100 ("100件以上"): a common name part's matches are found by walking
# the list (cases.search), and counting a thousand of them walked tens of thousands of rows at a
# million cases (0.3 s); past a hundred, the worker types more.
SEARCH_COUNT_CAP = 100
COUNT_CEILING = 10**9  # past this a page number is simply past the end


class CappedCountPaginator(Paginator):
    def __init__(self, object_list, per_page, orphans=0, allow_empty_first_page=True, *, cap: int | None = None):
        super().__init__(object_list, per_page, orphans=orphans, allow_empty_first_page=allow_empty_first_page)
        self.cap = COUNT_CAP if cap is None else cap
        self._reach = 1  # the highest page number asked for before the count was taken

    def validate_number(self, number):
        if "count" not in self.__dict__:
            try:
                self._reach = max(self._reach, int(number))
            except (TypeError, ValueError):
                pass  # the parent raises PageNotAnInteger
        return super().validate_number(number)

    @cached_property
    def count_limit(self) -> int:
        """Rows counted at most: past the cap, or one past the requested page (and its orphans). A
        page number from a client can be any size: the limit stays a number the database takes."""
        return min(max(self.cap, self._reach * self.per_page + self.orphans), COUNT_CEILING) + 1

    @cached_property
    def count(self) -> int:
        qs = self.object_list
        if hasattr(qs, "order_by"):
            # Neither the order nor the joins of select_related change how many rows there are:
            # without them the planner counts from the narrowest index it has.
            return qs.order_by().select_related(None).values("pk")[: self.count_limit].count()
        return min(len(qs), self.count_limit)

    @property
    def count_capped(self) -> bool:
        """True when counting stopped at the limit: there are more rows than `count_shown`."""
        return self.count >= self.count_limit

    @property
    def count_shown(self) -> int:
        return self.count_limit - 1 if self.count_capped else self.count
