"""Reading a date PostgreSQL holds but Python cannot (issue 16): never a 500.

PostgreSQL stores timestamps from 4713 BC to 294276 AD; Python's datetime holds years 1 to 9999. A
web form once let `0001-01-01T00:00` (Asia/Tokyo) through, which is `0001-12-31 14:41:01+00 BC` in
UTC: psycopg refuses to load it ("timestamp too small"), and every page that read the row (the
case, its print page, the API's activities and history, the auditor's timeline and CSVs) failed.
The row also sits in an append-only history table, where nothing may change it.

So every PostgreSQL connection loads `timestamptz` and `date` with a tolerant loader: a value before
year 1 (or `-infinity`) reads as `FAR_PAST`, one after 9999 (or `infinity`) as `FAR_FUTURE`. Both are
far enough from the ends that converting them to any time zone cannot overflow. The stored value is
untouched; `manage.py repair_out_of_range_dates` reads it as text and corrects the live rows.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from psycopg import DataError
from psycopg.pq import Format
from psycopg.types.datetime import DateBinaryLoader, DateLoader, TimestamptzBinaryLoader, TimestamptzLoader

FAR_PAST = dt.datetime(1, 1, 2, tzinfo=dt.UTC)
FAR_FUTURE = dt.datetime(9999, 12, 30, tzinfo=dt.UTC)
FAR_PAST_DATE = FAR_PAST.date()
FAR_FUTURE_DATE = FAR_FUTURE.date()


def _text_is_past(data: Any) -> bool:
    text = bytes(data).decode("ascii", "replace").strip().lower()
    return text.endswith(" bc") or text.startswith("-")


def far_date_of_text(text: str, *, date_only: bool) -> Any:
    """The stand-in for a date PostgreSQL rendered as text (e.g. in `to_jsonb`) that Python cannot hold:
    what the tolerant loaders give for the same value."""
    past = _text_is_past(text.encode())
    if date_only:
        return FAR_PAST_DATE if past else FAR_FUTURE_DATE
    return FAR_PAST if past else FAR_FUTURE


def _binary_is_past(data: Any) -> bool:
    # Microseconds (timestamptz) or days (date) since 2000-01-01, signed big-endian: negative is past.
    return bool(bytes(data)) and bytes(data)[0] & 0x80 != 0


def _tolerant(base: type, *, past: Any, future: Any, is_past: Any) -> type:
    class Tolerant(base):  # type: ignore[misc, valid-type]
        def load(self, data: Any) -> Any:
            try:
                return super().load(data)
            except (DataError, ValueError, OverflowError):
                value = past if is_past(data) else future
                zone = getattr(self, "timezone", dt.UTC)
                if isinstance(value, dt.datetime):
                    return value.replace(tzinfo=zone)
                return value

    Tolerant.__name__ = Tolerant.__qualname__ = f"Tolerant{base.__name__}"
    return Tolerant


def stored_dates_tolerant(sender: Any, connection: Any, **kwargs: Any) -> None:
    """`connection_created` receiver: register the tolerant loaders on a new PostgreSQL connection.

    The timestamptz loader keeps the time zone of the one Django registered (it compares
    `loader.timezone` with its own on every cursor and would otherwise register its own again)."""
    if connection.vendor != "postgresql":
        return
    adapters = connection.connection.adapters
    oid = adapters.types["timestamptz"].oid
    current = adapters.get_loader(oid, Format.TEXT)
    zone = getattr(current, "timezone", dt.UTC)
    text_base = current if current is not None and issubclass(current, TimestamptzLoader) else TimestamptzLoader

    class ZonedText(_tolerant(text_base, past=FAR_PAST, future=FAR_FUTURE, is_past=_text_is_past)):
        timezone = zone

    class ZonedBinary(_tolerant(TimestamptzBinaryLoader, past=FAR_PAST, future=FAR_FUTURE, is_past=_binary_is_past)):
        timezone = zone

        def load(self, data: Any) -> Any:
            value = super().load(data)
            return value.replace(tzinfo=zone) if isinstance(value, dt.datetime) else value

    adapters.register_loader("timestamptz", ZonedText)
    adapters.register_loader("timestamptz", ZonedBinary)
    adapters.register_loader(
        "date", _tolerant(DateLoader, past=FAR_PAST_DATE, future=FAR_FUTURE_DATE, is_past=_text_is_past)
    )
    adapters.register_loader(
        "date", _tolerant(DateBinaryLoader, past=FAR_PAST_DATE, future=FAR_FUTURE_DATE, is_past=_binary_is_past)
    )
