"""The import layering of the core apps (docs/architecture.md): a module imports only modules of its own
layer or of the layers below, and no two modules import each other, however long the loop.

Read from the source with `ast`, nothing is imported: the module-level imports (those that run when
the module loads; `if TYPE_CHECKING:` blocks do not) must follow the layers. An import inside a
function of a core app that reaches up a layer or into another app is a cycle in hiding, or an
import that belongs at the top: only an `AppConfig.ready` and the ones listed in `LAZY_IMPORTS`,
each with its reason, may do it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import referral_engine

ROOT = Path(referral_engine.__file__).resolve().parent

# Lowest first. A module takes the layer of the longest prefix below that names it; every other module
# of referral_engine (api, web, reports, security, observability, settings…) is an edge.
LAYERS = ["base", "organisation", "policy", "records", "timers", "services", "edges"]
PLACES = {
    "referral_engine.errors": "base",
    "referral_engine.accounts.roles": "base",
    "referral_engine.cases.choices": "base",
    "referral_engine.cases.normalize": "base",
    "referral_engine.workflow": "base",
    "referral_engine.bound_queries": "base",
    "referral_engine.audit.records": "base",
    "referral_engine.accounts.models": "organisation",
    "referral_engine.accounts.system": "organisation",
    "referral_engine.access.permissions": "organisation",
    "referral_engine.access.policy": "policy",
    "referral_engine.cases.models": "records",
    "referral_engine.cases.inputs": "records",
    "referral_engine.cases.locks": "records",
    "referral_engine.cases.numbering": "records",
    "referral_engine.cases.events": "records",
    "referral_engine.access.models": "records",
    "referral_engine.access.grants": "records",
    "referral_engine.audit.models": "records",
    "referral_engine.audit.history": "records",
    "referral_engine.audit.append_only": "records",
    "referral_engine.audit.services": "records",
    "referral_engine.timers.models": "records",
    "referral_engine.timers.calendar": "records",
    "referral_engine.timers.policies": "records",
    "referral_engine.notifications": "records",
    "referral_engine.timers": "timers",
    "referral_engine.accounts": "services",
    "referral_engine.access": "services",
    "referral_engine.cases": "services",
    "referral_engine.audit": "services",
    # Edges inside the core apps: app configs, admin, commands, HTTP, system checks, demo data.
    "referral_engine.accounts.demo": "edges",
    "referral_engine.workflow.checks": "edges",
    "referral_engine.audit.checks": "edges",
    "referral_engine.audit.api": "edges",
    "referral_engine.audit.views": "edges",
    "referral_engine.audit.urls": "edges",
}
EDGE_SUFFIXES = (".apps", ".admin", ".management")

CORE_APPS = {"accounts", "access", "cases", "audit", "timers", "notifications", "workflow"}

# (importing module, imported module): why it must wait until the function runs.
LAZY_IMPORTS = {
    ("referral_engine.access.policy.object_permissions", "referral_engine.access.models"): (
        "cases.models imports the policy for its django-fsm permission= callables, and the guardian tables "
        "have foreign keys to Case and Referral: the policy reads them at call time"
    ),
    ("referral_engine.access.policy.reach", "referral_engine.access.models"): "as above",
    ("referral_engine.access.policy.reach", "referral_engine.cases.models"): "as above: the querysets of Case",
    ("referral_engine.access.policy.persons", "referral_engine.cases.models"): (
        "as above: need-to-know at the person reads the person's cases and history rows"
    ),
    ("referral_engine.access.policy.person_upkeep", "referral_engine.cases.models"): "as above: a person's cases",
}


def _modules() -> dict[str, Path]:
    found = {}
    for path in ROOT.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def layer_of(module: str) -> int:
    if any(f"{suffix}." in f"{module}." for suffix in EDGE_SUFFIXES):
        return LAYERS.index("edges")
    prefixes = [p for p in PLACES if module == p or module.startswith(f"{p}.")]
    return LAYERS.index(PLACES[max(prefixes, key=len)] if prefixes else "edges")


def _target(name: str) -> str | None:
    """The engine module an imported name loads (the longest dotted prefix that is a module)."""
    parts = name.split(".")
    for end in range(len(parts), 1, -1):
        if ".".join(parts[:end]) in MODULES:
            return ".".join(parts[:end])
    return None


def _imported_names(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> Iterator[str]:
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    base = node.module or ""
    if node.level:
        anchor = module.split(".") if is_package else module.split(".")[:-1]
        base = ".".join(anchor[: len(anchor) - node.level + 1] + ([node.module] if node.module else []))
    yield from (f"{base}.{alias.name}" for alias in node.names)


def imports_of(module: str, path: Path) -> Iterator[tuple[int, str, str]]:
    """(line, imported engine module, enclosing function: "" at module level) for every import."""
    is_package = path.name == "__init__.py"

    def visit(node: ast.AST, function: str) -> Iterator[tuple[int, str, str]]:
        if isinstance(node, ast.Import | ast.ImportFrom):
            for name in _imported_names(node, module, is_package):
                target = _target(name)
                if target and target != module:
                    yield node.lineno, target, function
            return
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            children: list[ast.AST] = list(node.orelse)  # the imports for type checkers never run
        else:
            children = list(ast.iter_child_nodes(node))
        if not function and isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            function = node.name
        elif not function and isinstance(node, ast.Lambda):
            function = "<lambda>"
        for child in children:
            yield from visit(child, function)

    yield from visit(ast.parse(path.read_text(encoding="utf-8")), "")


def _loaded_by(importer: str, target: str) -> list[str]:
    """Importing a.b.c runs a.b's __init__ too, unless the importer lives in a.b (then a.b is loading
    already). referral_engine's own __init__ and the apps' are left out: they import nothing."""
    parts = target.split(".")
    loaded = [".".join(parts[:end]) for end in range(3, len(parts) + 1)]
    return [m for m in loaded if m != importer and not importer.startswith(f"{m}.")]


def module_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for module, path in MODULES.items():
        for _line, target, function in imports_of(module, path):
            if not function:
                graph[module].update(t for t in _loaded_by(module, target) if t in MODULES)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_module_imports_itself_through_others():
    assert cycles(module_graph()) == []


def test_module_level_imports_go_down_the_layers():
    offenders = [
        f"{MODULES[m].relative_to(ROOT.parent)}:{line} ({LAYERS[layer_of(m)]}) imports {t} ({LAYERS[layer_of(t)]})"
        for m in sorted(MODULES)
        for line, t, function in imports_of(m, MODULES[m])
        if not function and layer_of(t) > layer_of(m)
    ]
    assert offenders == []


def app_of(module: str) -> str:
    return module.split(".")[1] if module.count(".") else ""


def test_imports_inside_functions_reach_up_or_across_only_where_listed():
    hidden = {
        (m, t): f"{MODULES[m].relative_to(ROOT.parent)}:{line} imports {t} in {function}()"
        for m in sorted(MODULES)
        if app_of(m) in CORE_APPS
        for line, t, function in imports_of(m, MODULES[m])
        if function
        and not (m.endswith(".apps") and function == "ready")
        and (layer_of(t) > layer_of(m) or app_of(t) != app_of(m))
    }
    assert [where for pair, where in hidden.items() if pair not in LAZY_IMPORTS] == []
    assert set(LAZY_IMPORTS) <= set(hidden), "a listed exception no longer exists: remove it"


def test_the_scan_sees_a_cycle_an_upward_import_and_a_hidden_one(tmp_path):
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
    assert layer_of("referral_engine.cases.models") < layer_of("referral_engine.timers.services")
    assert layer_of("referral_engine.timers.services") < layer_of("referral_engine.cases.services.referrals")
    assert layer_of("referral_engine.cases.admin") == layer_of("referral_engine.web.views") == len(LAYERS) - 1
    module = tmp_path / "events.py"
    module.write_text(
        "from typing import TYPE_CHECKING\n"
        "from referral_engine.timers import services as timers\n"
        "if TYPE_CHECKING:\n    from referral_engine.api import views\n"
        "def fire():\n    from referral_engine.cases.services.referrals import referral_transition\n",
        encoding="utf-8",
    )
    found = list(imports_of("referral_engine.cases.events", module))
    assert found == [
        (2, "referral_engine.timers.services", ""),
        (6, "referral_engine.cases.services.referrals", "fire"),
    ]
