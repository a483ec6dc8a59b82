"""Timing HTTP requests on loopback: a minimal client (one connection per request, as gunicorn's sync
workers close them anyway), percentiles, and a bounded runner for N concurrent clients."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0–100) of the values; None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-p * len(ordered) // 100))))
    return ordered[rank - 1]


@dataclass
class Response:
    status: int
    body: bytes
    headers: dict[str, str]
    seconds: float

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


class Http:
    """Requests to one loopback host:port with fixed headers (cookie, token, referer)."""

    def __init__(self, host: str, port: int, headers: dict[str, str] | None = None, timeout: float = 120.0) -> None:
        if host not in LOOPBACK:
            raise ValueError(f"the benchmark talks to loopback addresses only, not {host!r}")
        self.host, self.port, self.timeout = host, port, timeout
        self.headers = dict(headers or {})

    def request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Response:
        payload = None
        all_headers = {"Host": f"{self.host}:{self.port}", **self.headers, **(headers or {})}
        if body is not None:
            payload = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode("utf-8")
            all_headers.setdefault("Content-Type", "application/json")
        started = time.perf_counter()
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            conn.request(method, path, body=payload, headers=all_headers)
            raw = conn.getresponse()
            data = raw.read()
            headers_out = {k.lower(): v for k, v in raw.getheaders()}
            status = raw.status
        finally:
            conn.close()
        return Response(status, data, headers_out, time.perf_counter() - started)


@dataclass
class Run:
    """Latencies (seconds) of the successful operations, failures, and the wall time of the run."""

    name: str
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    wall: float = 0.0

    @property
    def ops(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.ops / self.wall if self.wall else 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ops": self.ops,
            "failures": len(self.failures),
            "first_failures": self.failures[:3],
            "wall_s": round(self.wall, 3),
            "ops_per_s": round(self.rate, 2),
            "p50_ms": _ms(percentile(self.latencies, 50)),
            "p95_ms": _ms(percentile(self.latencies, 95)),
            "max_ms": _ms(max(self.latencies) if self.latencies else None),
        }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def run_concurrently(
    name: str, operation: Callable[[int], tuple[bool, float, str]], *, total: int, clients: int, max_seconds: float
) -> Run:
    """Run `operation(i)` for i in 0..total-1 on `clients` threads; stop early after `max_seconds`.
    `operation` returns (ok, seconds, error text)."""
    run = Run(name)
    lock = threading.Lock()
    counter = iter(range(total))
    deadline = time.monotonic() + max_seconds

    def client() -> None:
        while time.monotonic() < deadline:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            try:
                ok, seconds, error = operation(i)
            except Exception as exc:  # noqa: BLE001 - a failed operation is counted, the run goes on
                ok, seconds, error = False, 0.0, repr(exc)
            with lock:
                (run.latencies.append(seconds) if ok else run.failures.append(error))

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    run.wall = time.perf_counter() - started
    return run
