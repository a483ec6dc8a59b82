"""State diagrams drawn from the code (DESIGN §3.3): a department workflow with the referral's
current stage marked (the case page), and the case and handoff machines (`graph_workflows`).

The DOT is built here from the django-fsm transitions (labels in the active language, which
django-fsm's own `graph_transitions` cannot do for the label-less `stage` field) and rendered by the
Graphviz `dot` binary. Without the binary `workflow_diagram_svg` returns None and the page shows
`workflow_stage_list` instead; nothing fails.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import graphviz
from django.conf import settings
from django.utils.encoding import force_str
from django_fsm import ANY_OTHER_STATE, ANY_STATE

from referral_engine.workflow.registry import Workflow

logger = logging.getLogger(__name__)

DOT_TIMEOUT_SECONDS = 10
FONT = "sans-serif"
CURRENT_FILL = "#1d4ed8"
LINE = "#4b5563"
_CACHE_MAX = 512

_cache: dict[str, str] = {}
_cache_lock = threading.Lock()


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str
    name: str


def dot_binary() -> str | None:
    """Path of Graphviz `dot` (setting GRAPHVIZ_DOT, default "dot" on PATH), or None."""
    return shutil.which(getattr(settings, "GRAPHVIZ_DOT", "dot"))


# --- DOT ------------------------------------------------------------------------------------------


def _digraph(
    *,
    name: str,
    title: str,
    states: list[tuple[str, str]],
    edges: Iterable[Edge],
    initial: str | None,
    finals: Iterable[str],
    current: str | None = None,
    id_prefix: str = "stage",
) -> graphviz.Digraph:
    finals = set(finals)
    graph = graphviz.Digraph(
        name=name,
        graph_attr={
            "label": title,
            "labelloc": "t",
            "fontname": FONT,
            "fontsize": "14",
            "rankdir": "TB",
            "bgcolor": "transparent",
            "nodesep": "0.4",
            "ranksep": "0.45",
        },
        node_attr={"shape": "box", "style": "rounded", "fontname": FONT, "fontsize": "12", "color": LINE},
        edge_attr={"fontname": FONT, "fontsize": "10", "color": LINE, "fontcolor": "#374151"},
    )
    if initial is not None:
        graph.node("__start", label="", shape="point", width="0.12", color=LINE)
        graph.edge("__start", initial)
    for code, label in states:
        # SVG ids and classes for styling and tests (Graphviz escapes "-" in ids, so "_").
        classes = [id_prefix, *(["final"] if code in finals else []), *(["current"] if code == current else [])]
        attrs: dict[str, str] = {"label": label, "id": f"{id_prefix}_{code}", "class": " ".join(classes)}
        attrs["tooltip"] = label
        if code in finals:
            attrs["peripheries"] = "2"
        if code == current:
            # Marked by more than colour: a bold frame and a pointer in the label.
            attrs.update(style="rounded,filled,bold", fillcolor=CURRENT_FILL, fontcolor="white", color=CURRENT_FILL)
            attrs["label"] = f"▶ {label}"
        graph.node(code, **attrs)
    for edge in edges:
        graph.edge(edge.source, edge.target, label=edge.label, tooltip=edge.name)
    return graph


def _expand(transition: Any, codes: list[str]) -> tuple[list[str], list[str]]:
    sources = list(codes) if transition.source in (ANY_STATE, ANY_OTHER_STATE) else [str(transition.source)]
    target = transition.target
    targets = [str(s) for s in target.allowed_states] if hasattr(target, "allowed_states") else [str(target)]
    return sources, targets


def workflow_digraph(workflow: Workflow, current_stage: str | None = None) -> graphviz.Digraph:
    codes = list(workflow.stage_codes)
    labels = {i.name: i.label for i in workflow.transition_infos()}
    edges = []
    for t in workflow.transitions():
        sources, targets = _expand(t, codes)
        edges += [Edge(s, d, labels.get(t.name, t.name), t.name) for s in sources for d in targets if s != d]
    return _digraph(
        name=f"workflow_{workflow.department_code}",
        title=workflow.title,
        states=[(s.code, s.label) for s in workflow.stages],
        edges=sorted(set(edges), key=lambda e: (codes.index(e.source) if e.source in codes else 0, e.name)),
        initial=workflow.initial_stage,
        finals=workflow.final_stages,
        current=current_stage or None,
    )


def model_digraph(model: Any, field_name: str = "state", *, title: str | None = None) -> graphviz.Digraph:
    """A model's FSM field (the case and handoff machines): states labelled from the field's
    choices, final states = those with no way out."""
    field = model._meta.get_field(field_name)
    choices = [(str(code), force_str(label)) for code, label in field.choices or []]
    codes = [c for c, _label in choices]
    edges = []
    for t in field.get_all_transitions(model):
        sources, targets = _expand(t, codes)
        label = force_str(t.custom.get("label", "")) or t.name.rstrip("_")
        edges += [Edge(s, d, label, t.name) for s in sources for d in targets if s != d]
    used = {e.source for e in edges} | {e.target for e in edges}
    states = [(c, label) for c, label in choices if c in used or c == field.default]
    return _digraph(
        name=f"{model._meta.label_lower}.{field_name}".replace(".", "_"),
        title=title or f"{force_str(model._meta.verbose_name)} ({model._meta.label}.{field_name})",
        states=states,
        edges=sorted(set(edges), key=lambda e: (codes.index(e.source) if e.source in codes else 0, e.name)),
        initial=str(field.default) if field.default else None,
        finals={c for c, _label in states} - {e.source for e in edges},
        id_prefix="state",
    )


# --- Rendering --------------------------------------------------------------------------------


def render_svg(source: str) -> str | None:
    """SVG markup (from `<svg`, ready to inline) for DOT source, or None when `dot` is missing or
    fails. Successful renders are cached by source, so by (workflow, stage, language)."""
    binary = dot_binary()
    if binary is None:
        return None
    with _cache_lock:
        cached = _cache.get(source)
    if cached is not None:
        return cached
    try:
        completed = subprocess.run(
            [binary, "-Tsvg"],
            input=source.encode("utf-8"),
            capture_output=True,
            timeout=DOT_TIMEOUT_SECONDS,
            check=True,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        logger.warning("Graphviz dot failed: %s", exc)
        return None
    svg = completed.stdout.decode("utf-8")
    svg = svg[svg.find("<svg") :] if "<svg" in svg else svg
    with _cache_lock:
        if len(_cache) >= _CACHE_MAX:
            _cache.clear()
        _cache[source] = svg
    return svg


def cache_clear() -> None:
    with _cache_lock:
        _cache.clear()


def workflow_diagram_svg(workflow: Workflow, current_stage: str | None, *, id_prefix: str = "") -> str | None:
    """The department's workflow as inline SVG with `current_stage` filled; None without `dot`
    (then show `workflow_stage_list(workflow, current_stage)`). `id_prefix` keeps element ids unique
    when a page inlines several diagrams (Graphviz names every one `graph0`, `node1`, ...)."""
    if dot_binary() is None:
        return None
    svg = render_svg(workflow_digraph(workflow, current_stage).source)
    if svg is None or not id_prefix:
        return svg
    return _ID_ATTRIBUTE.sub(lambda m: f'{m.group(1)}="{id_prefix}-', svg)


_ID_ATTRIBUTE = re.compile(r'(?<![\w:-])(id)="')


def workflow_stage_list(workflow: Workflow, current_stage: str | None) -> list[dict[str, Any]]:
    """The fallback: the stages in declaration order, flagged for the template."""
    return [
        {
            "code": s.code,
            "label": s.label,
            "current": s.code == current_stage,
            "initial": s.code == workflow.initial_stage,
            "final": workflow.is_final(s.code),
        }
        for s in workflow.stages
    ]
