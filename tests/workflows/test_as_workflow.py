"""The one place a referral becomes its department's proxy (`referral_engine.workflow.as_workflow`):
the stage transitions are found there, and the referral is its own class again on leaving, even
when the block raises (a proxy saved by mistake would write no history)."""

import pytest

from referral_engine.cases.models import Referral
from referral_engine.workflow import as_workflow
from referral_engine.workflow import registry as workflow_registry


def test_the_referral_is_the_proxy_inside_and_itself_after(make_referral):
    referral = make_referral("health_promotion")
    workflow = workflow_registry.get("health_promotion")
    with as_workflow(referral) as proxy:
        assert proxy is referral
        assert type(proxy) is workflow.model
        assert set(workflow.transition_names()) <= {n for n in dir(proxy) if not n.startswith("_")}
    assert type(referral) is Referral


def test_the_class_comes_back_when_the_block_raises(make_referral):
    referral = make_referral("shakyo")
    with pytest.raises(RuntimeError), as_workflow(referral):
        raise RuntimeError("a refused transition")
    assert type(referral) is Referral


def test_a_department_without_a_workflow_leaves_the_referral_as_it_is(make_referral, monkeypatch):
    referral = make_referral("health_promotion")
    monkeypatch.setattr(workflow_registry, "get", lambda code: None)
    with as_workflow(referral) as same:
        assert type(same) is Referral
    assert type(referral) is Referral
