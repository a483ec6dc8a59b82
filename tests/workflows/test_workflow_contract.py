"""One contract every registered workflow keeps (CONVENTIONS, Tests): run against all of them, so a
new body's module is held to it the moment it registers."""

import json

import pytest
from django.apps import apps
from django.utils import timezone, translation
from django_fsm import can_proceed

from referral_engine.access import policy
from referral_engine.cases.models import Referral
from referral_engine.workflow import checks
from referral_engine.workflow import registry as workflow_registry

WORKFLOWS = list(workflow_registry.all_workflows())
BODIES = {"social_welfare", "health_promotion", "longevity_support", "disaster_prevention", "shakyo"}


def by_code(workflow):
    return workflow.department_code


def test_every_body_of_the_desk_has_a_workflow():
    assert {w.department_code for w in WORKFLOWS} >= BODIES


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=by_code)
class TestWorkflowContract:
    def test_passes_the_system_check(self, workflow):
        assert checks.workflow_errors(workflow) == []

    def test_model_is_a_registered_proxy_of_referral(self, workflow):
        model = workflow.model
        assert model._meta.proxy and model._meta.concrete_model is Referral
        assert model._meta.app_label == "workflows"
        assert apps.get_model("workflows", model.__name__) is model

    def test_every_transition_asks_the_policy(self, workflow):
        for t in workflow.transitions():
            assert callable(t.permission)
            assert getattr(policy, t.permission.__name__) is t.permission

    def test_every_stage_and_transition_is_labelled_in_japanese_and_english(self, workflow):
        assert workflow.title_ja and workflow.title_en
        for stage in workflow.stages:
            assert stage.label_ja and stage.label_en
        for info in workflow.transition_infos():
            assert info.label_ja and info.label_en
            with translation.override("en"):
                assert workflow.transition_label(info.name) == info.label_en
            with translation.override("ja"):
                assert workflow.transition_label(info.name) == info.label_ja
        with translation.override("en"):
            assert workflow.stage_label(workflow.initial_stage) == workflow.stage(workflow.initial_stage).label_en
            assert workflow.title == workflow.title_en

    def test_final_stages_are_reachable_and_no_other_stage_is_a_dead_end(self, workflow):
        reachable = checks.reachable_stages(workflow)
        assert set(workflow.stage_codes) <= reachable
        leaving = {t.source for t in workflow.transitions()}
        assert set(workflow.stage_codes) - workflow.final_stages <= leaving

    def test_transition_names_leave_the_handoff_and_case_names_alone(self, workflow):
        reserved = {"accept", "decline", "return", "return_", "cancel", "complete"}
        reserved |= {"start_assessment", "start_support", "start_monitoring", "hold", "resume", "close", "reopen"}
        assert not reserved & set(workflow.transition_names())

    def test_transitions_only_change_memory(self, workflow):
        """Declarations: each method moves `stage` and nothing else. This test has no database
        access at all, so a query or a save inside a transition would fail it."""
        now = timezone.now()
        for t in workflow.transitions():
            referral = workflow.model(state="accepted", stage=t.source)
            getattr(referral, t.name)(at=now, actor=None, reason="理由")
            assert referral.stage == t.target
            assert referral.pk is None

    def test_timers_name_real_stages_and_have_a_deadline(self, workflow):
        for timer in workflow.timers:
            assert workflow.stage(timer.stage) is not None
            assert timer.office_days > 0 or timer.hours > 0
            assert workflow.timer_rule(timer) == f"stage:{workflow.department_code}:{timer.code}"
            assert timer in workflow.timers_for(timer.stage)

    def test_record_form_is_optional_field_by_field_and_stores_json(self, workflow):
        """The record fills in as the work goes on: an empty save is valid, and what the form
        cleans can be stored in a JSONField as it is."""
        form_class = workflow.record_form
        assert form_class is not None
        assert issubclass(form_class, workflow_registry.StageRecordForm)
        assert workflow.record_stages <= set(workflow.stage_codes)
        form = form_class(data={})
        assert form.is_valid(), form.errors
        json.dumps(form.cleaned_data)
        assert str(form_class())  # renders
        for field in form_class.base_fields.values():
            assert field.label

    def test_complete_is_allowed_only_at_a_final_stage(self, workflow):
        referral = Referral(state="accepted")
        # policy.stage_is_final reads the department code through the relation; give it one in memory.
        from referral_engine.accounts.models import Department

        referral.to_department = Department(code=workflow.department_code)
        for code in workflow.stage_codes:
            referral.stage = code
            assert can_proceed(referral.complete) is workflow.is_final(code), code
