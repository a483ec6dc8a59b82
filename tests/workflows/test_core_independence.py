"""The core never imports a department module: it finds workflows through the registry (DESIGN §3.3)."""

import ast
from pathlib import Path

import referral_engine

CORE = Path(referral_engine.__file__).resolve().parent


def _imports_of(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def test_referral_engine_never_imports_workflows():
    offenders = [
        f"{path.relative_to(CORE.parent)}:{line} imports {module}"
        for path in sorted(CORE.rglob("*.py"))
        for line, module in _imports_of(path)
        if module == "workflows" or module.startswith("workflows.")
    ]
    assert offenders == []


def _dynamic_imports_of(path: Path) -> list[tuple[int, str]]:
    """`import_module("...")` / `__import__("...")` calls with a literal module name."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        first = node.args[0]
        if name in {"import_module", "__import__"} and isinstance(first, ast.Constant) and isinstance(first.value, str):
            found.append((node.lineno, first.value))
    return found


def test_nor_loads_one_by_name():
    offenders = [
        f"{path.relative_to(CORE.parent)}:{line} loads {module}"
        for path in sorted(CORE.rglob("*.py"))
        for line, module in _dynamic_imports_of(path)
        if module == "workflows" or module.startswith("workflows.")
    ]
    assert offenders == []


def test_the_scan_would_see_an_offender(tmp_path):
    module = tmp_path / "offender.py"
    module.write_text(
        "import workflows.shakyo\nfrom workflows import health_promotion\n"
        "def f():\n    from importlib import import_module\n    import_module('workflows.shakyo')\n",
        encoding="utf-8",
    )
    assert [m for _line, m in _imports_of(module)] == ["workflows.shakyo", "workflows", "importlib"]
    assert _dynamic_imports_of(module) == [(5, "workflows.shakyo")]
