"""The fiscal year (年度): 1 April 00:00 to 31 March 23:59:59.999999, Japan time, named by its April
(2026 → 令和8年度). Queries use the half-open range [start, end): `end` is the next 1 April 00:00."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone
from django.utils.translation import get_language

JST = ZoneInfo("Asia/Tokyo")
FIRST_YEAR = 2000
LAST_YEAR = 2100


@dataclass(frozen=True)
class Month:
    key: str  # "2026-04"
    start: datetime
    end: datetime  # exclusive


@dataclass(frozen=True)
class FiscalYear:
    year: int

    @classmethod
    def of(cls, moment: datetime) -> FiscalYear:
        local = timezone.localtime(moment, JST)
        return cls(local.year if local.month >= 4 else local.year - 1)

    @classmethod
    def current(cls) -> FiscalYear:
        return cls.of(timezone.now())

    @property
    def start(self) -> datetime:
        return datetime(self.year, 4, 1, tzinfo=JST)

    @property
    def end(self) -> datetime:
        """Exclusive: the next fiscal year's first moment."""
        return datetime(self.year + 1, 4, 1, tzinfo=JST)

    @property
    def last_moment(self) -> datetime:
        """31 March 23:59:59.999999 JST, the last instant the database can store inside the year."""
        return self.end - timedelta(microseconds=1)

    @property
    def previous(self) -> FiscalYear:
        return FiscalYear(self.year - 1)

    def months(self) -> list[Month]:
        """April to March, in that order."""
        out = []
        for i in range(12):
            year, month = (self.year, 4 + i) if i < 9 else (self.year + 1, i - 8)
            start = datetime(year, month, 1, tzinfo=JST)
            end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=JST)
            out.append(Month(f"{year:04d}-{month:02d}", start, end))
        return out

    @property
    def label_ja(self) -> str:
        """令和8年度; 令和元年度 for 2019 (the year that began in 平成31年4月 is called 令和元年度); 平成 before."""
        if self.year >= 2019:
            n = self.year - 2018
            return f"令和{'元' if n == 1 else n}年度"
        n = self.year - 1988
        return f"平成{'元' if n == 1 else n}年度"

    @property
    def label_en(self) -> str:
        era = f"Reiwa {self.year - 2018}" if self.year >= 2019 else f"Heisei {self.year - 1988}"
        return f"FY{self.year} ({era})"

    @property
    def label(self) -> str:
        """The label in the active language (Japanese first)."""
        return self.label_en if (get_language() or "ja").startswith("en") else self.label_ja

    @property
    def is_supported(self) -> bool:
        return FIRST_YEAR <= self.year <= LAST_YEAR
