"""Where the load generator lives (issue 15 item 6): a development-only app, `bench.loadgen`, that the
local and test settings install and production never does; it reads the engine through public names
only, and the engine never imports it. (The production side is checked on the real production
settings in tests/reliability/test_production_settings.py.)"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from collections.abc import Iterator
from pathlib import Path

from django.core.management import get_commands

ROOT = Path(__file__).resolve().parents[2]


def _sources(*folders: str) -> Iterator[Path]:
    for folder in folders:
        yield from sorted((ROOT / folder).rglob("*.py"))


def _imports(tree: ast.AST) -> Iterator[tuple[str, list[str]]]:
    """(module, imported names) of every import statement; names are [] for `import x`."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, [alias.name for alias in node.names]


def test_the_test_and_local_settings_install_the_generator_command():
    assert get_commands()["generate_load"] == "bench.loadgen"
    assert "bench.loadgen" in importlib.import_module("referral_engine.settings.local").INSTALLED_APPS
    assert "bench.loadgen" not in importlib.import_module("referral_engine.settings.base").INSTALLED_APPS


def test_the_engine_never_imports_the_bench_package():
    offenders = [
        f"{path.relative_to(ROOT)}: {module}"
        for path in _sources("referral_engine", "workflows")
        for module, _names in _imports(ast.parse(path.read_text(encoding="utf-8")))
        if module == "bench" or module.startswith("bench.")
    ]
    assert offenders == []


def test_the_generator_uses_only_public_names_of_the_engine():
    offenders = []
    for path in _sources("bench/loadgen"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        engine_modules: set[str] = set()  # local names bound to engine modules (`from x import grants`)
        for module, names in _imports(tree):
            if not module.startswith(("referral_engine", "workflows")):
                continue
            parts = module.split(".") + names
            offenders += [f"{path.name}: {module} {name}" for name in parts if name.startswith("_")]
            base = importlib.import_module(module)
            engine_modules |= {name for name in names if inspect.ismodule(getattr(base, name, None))}
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in engine_modules
                and node.attr.startswith("_")
            ):
                offenders.append(f"{path.name}:{node.lineno}: {node.value.id}.{node.attr}")
    assert offenders == []


def test_no_private_grants_function_is_used_outside_access():
    private = re.compile(r"\bgrants\._[a-z]|from referral_engine\.access\.grants import [^\n]*\b_[a-z]")
    offenders = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in _sources("referral_engine", "workflows", "bench", "tests")
        if "referral_engine/access/" not in path.as_posix()
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if private.search(line)
    ]
    assert offenders == []
