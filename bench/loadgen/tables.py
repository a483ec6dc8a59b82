"""Where generated rows go: one `Table` per model (the columns the generator fills, in row order) and
two writers with the same interface: `CopyWriter` (PostgreSQL `COPY … FROM STDIN` through psycopg 3)
and `BulkCreateWriter` (Django's `bulk_create`, for SQLite and any other backend).

Rows are tuples of Python values (aware datetimes, lists and dicts for JSON columns). A column the
generator does not know about (a field somebody added later) is filled with the field's default, or
NULL when it is nullable; a required field without a default stops the run at start-up with its
name, rather than at the first COPY.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import models

HISTORY_COLUMNS = ("history_date", "history_change_reason", "history_type", "history_user_id")


@dataclass
class Table:
    model: type[models.Model]
    columns: tuple[str, ...]
    # Filled at construction: the model's other concrete columns and their constant values.
    extra_columns: tuple[str, ...] = field(default=(), init=False)
    extra_values: tuple[Any, ...] = field(default=(), init=False)
    json_indexes: tuple[int, ...] = field(default=(), init=False)
    rows: list[tuple] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        by_attname = {f.attname: f for f in self.model._meta.concrete_fields}
        unknown = [c for c in self.columns if c not in by_attname]
        if unknown:
            raise ImproperlyConfigured(f"{self.model._meta.label}: no such columns {unknown}")
        extra_columns, extra_values = [], []
        for attname, f in by_attname.items():
            if attname in self.columns or f.primary_key:
                continue
            if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
                raise ImproperlyConfigured(f"{self.model._meta.label}.{attname}: a timestamp the generator must set")
            if f.has_default():
                value = f.get_default()
            elif f.null:
                value = None
            else:
                raise ImproperlyConfigured(
                    f"{self.model._meta.label}.{attname} is required and has no default: teach "
                    "bench.loadgen.simulate to fill it"
                )
            extra_columns.append(attname)
            extra_values.append(value)
        self.extra_columns = tuple(extra_columns)
        self.extra_values = tuple(extra_values)
        all_columns = self.columns + self.extra_columns
        self.json_indexes = tuple(i for i, c in enumerate(all_columns) if isinstance(by_attname[c], models.JSONField))

    @property
    def db_table(self) -> str:
        return self.model._meta.db_table

    @property
    def all_columns(self) -> tuple[str, ...]:
        return self.columns + self.extra_columns

    def db_columns(self) -> list[str]:
        by_attname = {f.attname: f for f in self.model._meta.concrete_fields}
        return [by_attname[c].column for c in self.all_columns]

    def add(self, row: Sequence[Any]) -> None:
        self.rows.append(tuple(row))

    def take(self) -> list[tuple]:
        rows, self.rows = self.rows, []
        return rows


def history_table(model: type[models.Model], provided: Sequence[str]) -> Table:
    """The simple-history table of `model`: the tracked columns the generator provides (in its
    order), then the four history columns; other tracked columns take their defaults."""
    history_model = model.history.model
    tracked = {f.attname for f in history_model.tracked_fields}
    return Table(history_model, tuple(c for c in provided if c in tracked) + HISTORY_COLUMNS)


# COPY's text format: backslash, tab, newline and carriage return are escaped; NULL is \N.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
NULL = "\\N"


def _text(value: Any) -> str:
    if value is None:
        return NULL
    value = str(value)
    if "\\" in value or not value.isprintable():
        return value.translate(_COPY_ESCAPES)
    return value


def _number(value: Any) -> str:
    return NULL if value is None else str(value)


def _boolean(value: Any) -> str:
    return NULL if value is None else ("t" if value else "f")


def _moment(value: Any) -> str:
    return NULL if value is None else value.isoformat()


def _json(value: Any) -> str:
    return _text(json.dumps(value, ensure_ascii=False))


def _formatter(f: models.Field):
    if isinstance(f, models.JSONField):
        return _json
    if isinstance(f, models.BooleanField):
        return _boolean
    if isinstance(f, models.DateTimeField | models.DateField | models.TimeField):
        return _moment
    if isinstance(
        f, models.IntegerField | models.AutoField | models.ForeignKey | models.DecimalField | models.FloatField
    ):
        return _number
    return _text


class CopyWriter:
    """`COPY table (columns) FROM STDIN` in text format. Each column is formatted by a function
    chosen from its field type once per table (psycopg's per-value adaptation was half the cost)."""

    vendor = "postgresql"
    CHUNK = 2000

    def __init__(self, cursor: Any) -> None:
        self.cursor = cursor
        self._formats: dict[type, list] = {}

    def _formats_of(self, table: Table) -> list:
        found = self._formats.get(table.model)
        if found is None:
            by_attname = {f.attname: f for f in table.model._meta.concrete_fields}
            found = [_formatter(by_attname[c]) for c in table.all_columns]
            self._formats[table.model] = found
        return found

    def write(self, table: Table, rows: list[tuple]) -> int:
        if not rows:
            return 0
        columns = ", ".join(f'"{c}"' for c in table.db_columns())
        extra = table.extra_values
        formats = self._formats_of(table)
        pairs = list(enumerate(formats))
        with self.cursor.copy(f'COPY "{table.db_table}" ({columns}) FROM STDIN') as copy:
            for start in range(0, len(rows), self.CHUNK):
                lines = []
                for row in rows[start : start + self.CHUNK]:
                    if extra:
                        row = row + extra
                    lines.append("\t".join([f(row[i]) for i, f in pairs]))
                lines.append("")
                copy.write("\n".join(lines))
        return len(rows)


@contextlib.contextmanager
def _auto_now_off(model: type[models.Model]) -> Iterator[None]:
    """`bulk_create` calls `pre_save`, which would overwrite generated created_at/updated_at."""
    switched = []
    for f in model._meta.concrete_fields:
        for attr in ("auto_now", "auto_now_add"):
            if getattr(f, attr, False):
                setattr(f, attr, False)
                switched.append((f, attr))
    try:
        yield
    finally:
        for f, attr in switched:
            setattr(f, attr, True)


class BulkCreateWriter:
    """The portable path: model instances through `bulk_create` in batches."""

    vendor = "other"

    def __init__(self, batch_size: int = 500) -> None:
        self.batch_size = batch_size

    def write(self, table: Table, rows: list[tuple]) -> int:
        if not rows:
            return 0
        model = table.model
        columns = table.all_columns
        extra = table.extra_values
        objs = [model(**dict(zip(columns, row + extra))) for row in rows]
        with _auto_now_off(model):
            model.objects.bulk_create(objs, batch_size=self.batch_size)
        return len(rows)
