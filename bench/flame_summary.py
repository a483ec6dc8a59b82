"""Where the CPU of a gunicorn worker goes, from a py-spy flame graph (SVG) of bench/ops_profile.py:
the share of the request handling samples (`SyncWorker.handle_request` / `ThreadWorker.handle`) spent
under each of a few frames, each counted once however deeply it nests (docs/perf/README.md).

    .venv/bin/python bench/flame_summary.py docs/perf/status-before.svg [...]"""

from __future__ import annotations

import html
import re
import sys

FRAME = re.compile(
    r'<g><title>([^<]*) \(([\d,]+) samples?, [\d.]+%\)</title><rect [^>]*y="(\d+)"[^>]*fg:x="(\d+)" fg:w="(\d+)"'
)

# (label, regex on the frame's "function (file:line)")
CATEGORIES = [
    ("request (handled by a worker)", r"^(SyncWorker\.handle_request|ThreadWorker\.handle) "),
    ("the view (DRF dispatch; the rest is WSGI + middleware)", r"^APIView\.dispatch "),
    ("DRF: token authentication", r"^ApiTokenAuthentication\.authenticate "),
    ("the service (write path)", r"^(case_open|case_transition) "),
    ("policy reads", r"\(referral_engine/access/policy/"),
    ("grants", r"\(referral_engine/access/grants\.py"),
    ("timers (clocks)", r"\(referral_engine/timers/"),
    ("history rows (save_with_history)", r"^save_with_history "),
    ("response: serialisers", r"^Serializer\.data "),
    ("history read (audit/)", r"\(referral_engine/audit/(timeline|api)\.py"),
    ("ORM: every statement (compile + execute + rows)", r"^SQL\w*Compiler\.execute_sql "),
    ("ORM: compiling SQL", r"^SQL\w*Compiler\.as_sql "),
    ("psycopg: execute (CPU in the driver)", r"^Cursor\.execute \(psycopg/"),
    ("access log row", r"^access_log_record "),
    ("request log + metrics (observability)", r"^(observe_request|log_request|RequestObservabilityMiddleware\._log)"),
]


def frames(path: str) -> list[tuple[str, int, int, int]]:
    text = open(path, encoding="utf-8").read()
    out = []
    for m in FRAME.finditer(text):
        out.append((html.unescape(m.group(1)), int(m.group(3)), int(m.group(4)), int(m.group(5))))
    return out


def outermost(matched: list[tuple[str, int, int, int]]) -> int:
    """Samples under the matched frames, a frame nested in another matched one counted once."""
    total = 0
    spans: list[tuple[int, int]] = []
    # py-spy draws the root at the top (smallest y): outer frames have the smaller y.
    for _name, _y, x, w in sorted(matched, key=lambda f: f[1]):
        if any(sx <= x and x + w <= sx + sw for sx, sw in spans):
            continue
        spans.append((x, w))
        total += w
    return total


def summary(path: str) -> list[tuple[str, int, float]]:
    all_frames = frames(path)
    rows = []
    base = None
    for label, pattern in CATEGORIES:
        regex = re.compile(pattern)
        n = outermost([f for f in all_frames if regex.search(f[0])])
        if base is None:
            base = n or 1
        rows.append((label, n, round(100 * n / base, 1)))
    return rows


if __name__ == "__main__":
    for svg in sys.argv[1:]:
        print(f"== {svg}")
        for label, n, pct in summary(svg):
            print(f"  {pct:5.1f} %  {n:6d}  {label}")
