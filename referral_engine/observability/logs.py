"""Logs as JSON lines (python-json-logger), with the request or task they belong to, and nothing about
the people in the records (issue 22, item 3).

Every record gets `request_id`, `user_id` and `route` while a request is served
(`RequestObservabilityMiddleware` fills a context variable) and `task_id` / `task_name` inside a Celery
task. The JSON formatter writes only the fields named in FIELDS — never arbitrary `extra` attributes
(Django's `django.request` logger attaches the whole request, whose repr carries the query string) — and
scrubs what could carry personal data: query strings, and the row values PostgreSQL puts in error
details (`Failing row contains (…)`, `Key (…)=(…)`).

`LOG_FORMAT=text` (the `make run` default) keeps a human-readable console line with the request id.
"""

from __future__ import annotations

import logging
import re
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from pythonjsonlogger.json import JsonFormatter

# What one request or task contributes to every record logged while it runs.
log_context: ContextVar[dict[str, Any] | None] = ContextVar("referral_engine_log_context", default=None)

# The fields a JSON line may carry, in this order. Anything else a caller passes as `extra` is dropped.
FIELDS = (
    "time",
    "level",
    "logger",
    "message",
    "request_id",
    "user_id",
    "route",
    "method",
    "path",
    "status",
    "duration_ms",
    "task_id",
    "task_name",
    "process",
    "exc_info",
)
CONTEXT_FIELDS = ("request_id", "user_id", "route", "task_id", "task_name")

_QUERY_STRING = re.compile(r"(?P<path>/[^\s?#\"'<>]*)\?[^\s\"'<>]*")
_FAILING_ROW = re.compile(r"Failing row contains \(.*?\)(?=\.?\s*$|\n)", re.MULTILINE)
_KEY_VALUES = re.compile(r"Key \((?P<columns>[^)]*)\)=\(.*?\)(?= |$|\n)", re.MULTILINE)


def scrub(text: str) -> str:
    """Remove what may name a person from free log text: query strings and database row values."""
    text = _QUERY_STRING.sub(r"\g<path>?…", text)
    text = _FAILING_ROW.sub("Failing row contains (…)", text)
    return _KEY_VALUES.sub(r"Key (\g<columns>)=(…)", text)


def _current_task() -> Any:
    try:
        from celery import current_task
    except ImportError:  # pragma: no cover - celery is a requirement
        return None
    task = current_task
    return task if task and getattr(task, "request", None) is not None and task.request.id else None


class ContextFilter(logging.Filter):
    """Adds request id, user id, route and task id (or "-") to every record, for both formats."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = log_context.get() or {}
        request = getattr(record, "request", None)
        if not context and request is not None:
            # django.request logs a 4xx/5xx after the middleware chain has returned: read the request.
            from referral_engine.observability.middleware import route_name, user_id_of

            context = {
                "request_id": getattr(request, "request_id", None),
                "route": route_name(request) if hasattr(request, "path") else None,
                "user_id": user_id_of(request) if hasattr(request, "__dict__") else None,
            }
        for name in CONTEXT_FIELDS:
            if getattr(record, name, None) in (None, ""):
                setattr(record, name, context.get(name))
        if record.task_id is None:
            task = _current_task()
            if task is not None:
                record.task_id = task.request.id
                record.task_name = task.name
        return True


class EngineJsonFormatter(JsonFormatter):
    """One JSON object per line with a fixed set of fields (FIELDS), scrubbed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("json_ensure_ascii", False)
        super().__init__(*args, **kwargs)

    def add_fields(self, log_record: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]) -> None:
        values: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).astimezone().isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": scrub(record.getMessage()),
            "process": record.process,
        }
        for name in FIELDS:
            if name in values:
                continue
            value = getattr(record, name, None)
            if value not in (None, "") and name != "exc_info":
                values[name] = scrub(value) if isinstance(value, str) else value
        if record.exc_info:
            values["exc_info"] = scrub(self.formatException(record.exc_info))
        elif record.exc_text:
            values["exc_info"] = scrub(record.exc_text)
        log_record.clear()
        log_record.update((name, values[name]) for name in FIELDS if name in values)

    def format(self, record: logging.LogRecord) -> str:
        # The parent formats the message (and caches exc_text) before add_fields; keep it from putting
        # the unscrubbed exception into the record's message.
        record.message = record.getMessage()
        log_record: dict[str, Any] = {}
        self.add_fields(log_record, record, {})
        return self.serialize_log_record(log_record)


class TextFormatter(logging.Formatter):
    """The human-readable console line of `make run`, scrubbed like the JSON one."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(context_tag)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        request_id, task_id = getattr(record, "request_id", None), getattr(record, "task_id", None)
        record.context_tag = request_id or (f"task {task_id}" if task_id else "-")
        return scrub(super().format(record))


def logging_config(*, log_format: str, level: str) -> dict[str, Any]:
    """Django's LOGGING: one console handler in the chosen format, everything through it."""
    formatter = (
        {"()": "referral_engine.observability.logs.EngineJsonFormatter"}
        if log_format == "json"
        else {"()": "referral_engine.observability.logs.TextFormatter"}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": "referral_engine.observability.logs.ContextFilter"}},
        "formatters": {"engine": formatter},
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": "engine", "filters": ["context"]},
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django.db.backends": {"level": "WARNING"},
            # runserver's own request line carries the query string: the request logger replaces it.
            "django.server": {"handlers": [], "level": "WARNING", "propagate": False},
            # Celery logs each task's result; ours are counts and ids, never personal data.
            "celery": {"level": level},
        },
    }
