"""Diagrams drawn from the code: the case page's SVG with the current stage marked (or the plain list
when Graphviz is missing), and `manage.py graph_workflows`."""

import subprocess

import pytest
from django.core.management import call_command
from django.utils import translation

from referral_engine.workflow import diagrams
from referral_engine.workflow import registry as workflow_registry

WORKFLOWS = list(workflow_registry.all_workflows())
HAVE_DOT = diagrams.dot_binary() is not None


@pytest.fixture(autouse=True)
def empty_cache():
    diagrams.cache_clear()
    yield
    diagrams.cache_clear()


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda w: w.department_code)
def test_each_stage_is_drawn_with_the_current_one_marked(workflow):
    for code in workflow.stage_codes:
        svg = diagrams.workflow_diagram_svg(workflow, code)
        if not HAVE_DOT:  # CI installs Graphviz; without it the page falls back to the list
            assert svg is None
            continue
        assert svg.startswith("<svg")
        assert svg.count(" current") == 1
        assert f'<g id="stage_{code}" class="node stage{" final" if workflow.is_final(code) else ""} current">' in svg
        assert all(f'<g id="stage_{other}"' in svg for other in workflow.stage_codes)
        with translation.override("ja"):
            assert all(stage.label_ja in svg for stage in workflow.stages)


def test_labels_follow_the_language():
    workflow = workflow_registry.get("disaster_prevention")
    with translation.override("en"):
        svg = diagrams.workflow_diagram_svg(workflow, "plan_drafting")
        source = diagrams.workflow_digraph(workflow, "plan_drafting").source
    assert "Drafting the individual evacuation plan" in source
    assert "Consent to a plan obtained" in source
    if HAVE_DOT:
        assert "Drafting the individual evacuation plan" in svg
        assert "個別避難計画の作成" not in svg


@pytest.mark.skipif(not HAVE_DOT, reason="exercises the cache of real renders")
def test_renders_are_cached_per_workflow_and_stage(monkeypatch):
    workflow = workflow_registry.get("health_promotion")
    calls = []
    real_run = subprocess.run

    def counting_run(*args, **kwargs):
        calls.append(args)
        return real_run(*args, **kwargs)

    monkeypatch.setattr(diagrams.subprocess, "run", counting_run)
    first = diagrams.workflow_diagram_svg(workflow, "visit_arranging")
    assert diagrams.workflow_diagram_svg(workflow, "visit_arranging") is first
    diagrams.workflow_diagram_svg(workflow, "home_visited")
    assert len(calls) == 2


def test_without_dot_the_page_gets_none_and_the_ordered_stage_list(monkeypatch):
    monkeypatch.setattr(diagrams, "dot_binary", lambda: None)
    workflow = workflow_registry.get("longevity_support")
    assert diagrams.workflow_diagram_svg(workflow, "certification_support") is None
    with translation.override("ja"):
        items = diagrams.workflow_stage_list(workflow, "certification_support")
    assert [i["code"] for i in items] == list(workflow.stage_codes)
    assert [i["label"] for i in items][:2] == ["実態把握訪問", "要介護認定申請支援"]
    assert [i["code"] for i in items if i["current"]] == ["certification_support"]
    assert items[0]["initial"] and {i["code"] for i in items if i["final"]} == workflow.final_stages


def test_a_missing_dot_on_the_configured_path_is_the_same_as_no_dot(settings):
    settings.GRAPHVIZ_DOT = "/nonexistent/dot"
    assert diagrams.workflow_diagram_svg(workflow_registry.get("shakyo"), "support_agreement") is None


def test_a_failing_or_hanging_dot_gives_none_and_is_not_cached(monkeypatch):
    monkeypatch.setattr(diagrams, "dot_binary", lambda: "/usr/bin/dot")

    def hang(*args, **kwargs):
        raise subprocess.TimeoutExpired(cmd="dot", timeout=diagrams.DOT_TIMEOUT_SECONDS)

    monkeypatch.setattr(diagrams.subprocess, "run", hang)
    workflow = workflow_registry.get("shakyo")
    assert diagrams.workflow_diagram_svg(workflow, "support_agreement") is None
    assert diagrams._cache == {}


def test_the_case_and_handoff_machines_are_drawn_from_their_fields():
    from referral_engine.cases.models import Case, Referral

    case_dot = diagrams.model_digraph(Case, "state").source
    referral_dot = diagrams.model_digraph(Referral, "state").source
    for name in ("start_assessment", "start_support", "start_monitoring", "hold", "resume", "close", "reopen"):
        assert f"tooltip={name}" in case_dot
    for name in ("accept", "decline", "cancel", "return_", "complete"):
        assert f"tooltip={name}" in referral_dot
    # Handoff end states have no way out: drawn as final.
    assert 'completed [label="完了" class="state final" id=state_completed peripheries=2' in referral_dot


@pytest.mark.django_db
def test_graph_workflows_writes_one_svg_per_workflow_and_the_two_machines(tmp_path):
    names = [w.department_code for w in WORKFLOWS] + ["case_state", "referral_state"]
    call_command("graph_workflows", "-o", str(tmp_path / "dot"), "--format", "dot")
    assert sorted(p.name for p in (tmp_path / "dot").iterdir()) == sorted(f"{n}.gv" for n in names)
    if HAVE_DOT:
        call_command("graph_workflows", "-o", str(tmp_path / "svg"))
        files = sorted((tmp_path / "svg").iterdir())
        assert [p.name for p in files] == sorted(f"{n}.svg" for n in names)
        assert all(p.read_text(encoding="utf-8").startswith("<svg") for p in files)


@pytest.mark.skipif(not HAVE_DOT, reason="needs Graphviz dot (CI installs it)")
def test_two_diagrams_on_one_page_have_distinct_ids():
    import re

    workflow = workflow_registry.get("health_promotion")
    first = diagrams.workflow_diagram_svg(workflow, "visit_arranging", id_prefix="referral-1")
    second = diagrams.workflow_diagram_svg(workflow, "visit_arranging", id_prefix="referral-2")
    ids = re.findall(r'\bid="([^"]+)"', first) + re.findall(r'\bid="([^"]+)"', second)
    assert ids and len(ids) == len(set(ids))
    assert all(i.startswith(("referral-1-", "referral-2-")) for i in ids)
