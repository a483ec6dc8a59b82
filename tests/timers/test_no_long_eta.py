"""No Celery ETA or countdown longer than five minutes anywhere (DESIGN §7, LIBRARIES.md): deadlines
are rows swept by beat. Scans the source tree for `countdown=`, `eta=` and `apply_async(` calls."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ["referral_engine", "workflows", "bin", "tests"]
LIMIT_SECONDS = 300
TEXT = re.compile(r"\b(countdown|eta)\s*=|apply_async\s*\(|retry\s*\(.*countdown")


def _python_files():
    for top in SOURCES:
        for path in (ROOT / top).rglob("*.py"):
            if "migrations" not in path.parts and path != Path(__file__).resolve():
                yield path


def _constant_seconds(node: ast.AST) -> float | None:
    """The value of a literal (or literal arithmetic) expression, else None."""
    try:
        value = eval(compile(ast.Expression(node), "<expr>", "eval"), {"__builtins__": {}}, {})
    except Exception:  # noqa: BLE001 - not a literal: judged by the reviewer below
        return None
    return float(value) if isinstance(value, int | float) else None


def test_no_long_countdowns_or_etas_in_the_source():
    offences = []
    for path in _python_files():
        source = path.read_text(encoding="utf-8")
        if not TEXT.search(source):
            continue
        for node in ast.walk(ast.parse(source)):
            if not isinstance(node, ast.Call):
                continue
            for kw in node.keywords:
                where = f"{path.relative_to(ROOT)}:{node.lineno}"
                if kw.arg == "eta":
                    offences.append(f"{where}: eta= (use a due column swept by beat)")
                elif kw.arg == "countdown":
                    seconds = _constant_seconds(kw.value)
                    if seconds is None or seconds > LIMIT_SECONDS:
                        offences.append(
                            f"{where}: countdown={ast.unparse(kw.value)} (> {LIMIT_SECONDS} s or unbounded)"
                        )
    assert not offences, "\n".join(offences)


def test_the_scanner_catches_a_long_countdown(tmp_path):
    bad = "task.apply_async(args=[1], countdown=3600)\ntask.apply_async(eta=when)\nok.apply_async(countdown=60)\n"
    calls = [n for n in ast.walk(ast.parse(bad)) if isinstance(n, ast.Call) and n.keywords]
    flagged = [
        kw.arg
        for call in calls
        for kw in call.keywords
        if kw.arg == "eta" or (kw.arg == "countdown" and (_constant_seconds(kw.value) or 1e9) > LIMIT_SECONDS)
    ]
    assert flagged == ["countdown", "eta"]
