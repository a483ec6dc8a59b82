"""The fault and load scripts are scripts (slow, `make chaos`; bounded forms in `.ci/run`): here only
that each one parses its arguments and documents itself, so a broken script is caught by `make test`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted([*ROOT.glob("bench/faults/*.py"), ROOT / "bench/load/mixed.py"], key=lambda p: p.name)


@pytest.mark.parametrize("script", [p for p in SCRIPTS if p.name != "stack.py"], ids=lambda p: p.name)
def test_script_answers_help(script):
    result = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "usage:" in result.stdout


def test_chaos_runs_every_scenario():
    text = (ROOT / "bench/faults/chaos.sh").read_text()
    for script in SCRIPTS:
        if script.name != "stack.py":
            assert script.relative_to(ROOT).as_posix() in text, script.name
