from __future__ import annotations

import io
import json
import logging

import pytest


class CapturedLog:
    """Every record logged anywhere, formatted by the project's JSON formatter (and the text one)."""

    def __init__(self) -> None:
        from referral_engine.observability.logs import ContextFilter, EngineJsonFormatter, TextFormatter

        self.json_stream, self.text_stream = io.StringIO(), io.StringIO()
        self.handlers = []
        for stream, formatter in ((self.json_stream, EngineJsonFormatter()), (self.text_stream, TextFormatter())):
            handler = logging.StreamHandler(stream)
            handler.setFormatter(formatter)
            handler.addFilter(ContextFilter())
            handler.setLevel(logging.DEBUG)
            self.handlers.append(handler)

    @property
    def lines(self) -> list[str]:
        return [line for line in self.json_stream.getvalue().splitlines() if line]

    @property
    def records(self) -> list[dict]:
        return [json.loads(line) for line in self.lines]

    @property
    def text(self) -> str:
        return self.json_stream.getvalue() + self.text_stream.getvalue()


@pytest.fixture
def captured_log():
    root = logging.getLogger()
    captured = CapturedLog()
    level = root.level
    root.setLevel(logging.DEBUG)
    for handler in captured.handlers:
        root.addHandler(handler)
    try:
        yield captured
    finally:
        for handler in captured.handlers:
            root.removeHandler(handler)
        root.setLevel(level)
