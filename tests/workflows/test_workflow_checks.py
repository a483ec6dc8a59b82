"""The system checks catch a broken workflow, and the database check finds a department without one."""

import pytest
from django import forms
from django.core import checks as django_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django_fsm import transition

from referral_engine.access import policy
from referral_engine.accounts.services import department_ensure
from referral_engine.workflow import Stage, StageTimer, Workflow, checks, labels


def _ids(messages, code):
    return sorted({m.id for m in messages if m.obj == code})


@pytest.fixture
def broken_model(throwaway_models):
    @transition(field="stage", source="start", target="middle", permission=None, custom=labels("進む", "Go on"))
    def go_on(self, **kwargs):
        pass

    @transition(field="stage", source="middle", target="start", permission="cases.work_referral")
    def go_back(self, **kwargs):  # a string permission, and no labels
        pass

    @transition(
        field="stage", source="start", target="nowhere", permission=policy.can_work_referral, custom=labels("x", "x")
    )
    def wander(self, **kwargs):  # enters an undeclared stage
        pass

    @transition(
        field="stage", source="middle", target="middle", permission=policy.can_work_referral, custom=labels("x", "x")
    )
    def hold(self, **kwargs):  # the name of a case transition
        pass

    return throwaway_models("BrokenReferral", {"go_on": go_on, "go_back": go_back, "wander": wander, "hold": hold})


class PlainForm(forms.Form):  # not a StageRecordForm: its dates would not be JSON
    when = forms.DateField(required=False)


def test_the_check_reports_every_kind_of_mistake(broken_model, registered):
    registered(
        Workflow(
            department_code="broken",
            model=broken_model,
            title_ja="壊れた",
            title_en="",  # E004
            stages=(
                Stage("start", "開始", "Start"),
                Stage("middle", "途中", ""),  # E004
                Stage("middle", "重複", "Duplicate"),  # E006
                Stage("island", "孤島", "Island"),  # E012: nothing enters it; E013: nothing leaves it
                Stage("done", "完了", "Done"),  # E002: final but unreachable
            ),
            initial_stage="start",
            final_stages={"done", "ghost"},  # E011: ghost is not declared
            timers=(
                StageTimer("t1", "nowhere", "期限", "Deadline", office_days=5),  # E003: unknown stage
                StageTimer("t2", "start", "期限", "Deadline"),  # E003: no duration
                StageTimer("t3", "start", "", "Review", hours=24, record_date_field="when"),  # E003 + E004
            ),
            record_form=PlainForm,  # E010
            record_stages={"start", "limbo"},  # E010
        )
    )
    messages = django_checks.run_checks(tags=[checks.TAG])
    assert _ids(messages, "broken") == [f"workflows.E{n:03d}" for n in (1, 2, 3, 4, 6, 7, 8, 10, 11, 12, 13)]
    assert all(m.level == django_checks.ERROR for m in messages if m.obj == "broken")
    # The registered workflows are untouched by the broken one.
    assert not [m for m in messages if m.obj != "broken"]


def test_an_undeclared_initial_stage_and_a_non_proxy_model_are_reported(broken_model, registered):
    from referral_engine.cases.models import Case

    registered(
        Workflow(
            department_code="no_start",
            model=broken_model,
            title_ja="開始なし",
            title_en="No start",
            stages=(Stage("start", "開始", "Start"), Stage("middle", "途中", "Middle")),
            initial_stage="begin",
            final_stages={"middle"},
        )
    )
    registered(
        Workflow(
            department_code="not_proxy",
            model=Case,
            stages=(Stage("a", "あ", "A"),),
            initial_stage="a",
            final_stages={"a"},
        )
    )
    messages = django_checks.run_checks(tags=[checks.TAG])
    assert "workflows.E005" in _ids(messages, "no_start")
    assert _ids(messages, "not_proxy") == ["workflows.E009"]


def test_the_registered_workflows_pass_the_check():
    call_command("check", tags=[checks.TAG])  # raises SystemCheckError on any error


@pytest.mark.django_db
def test_a_department_without_a_workflow_is_reported_only_by_the_database_check(departments):
    department_ensure(code="child_rearing", name_ja="子育て支援課", name_en="Child-rearing Support")

    messages = checks.check_departments_have_workflows(databases=["default"])
    assert [(m.id, m.obj) for m in messages] == [("workflows.W001", "child_rearing")]
    # Without --database the check does not run: plain `manage.py check` stays quiet.
    assert checks.check_departments_have_workflows(databases=None) == []
    call_command("check", tags=[checks.TAG])
    with pytest.raises(SystemCheckError, match="child_rearing"):
        call_command("check", tags=[checks.TAG], databases=["default"], fail_level="WARNING")


@pytest.mark.django_db
def test_every_department_of_the_organisation_has_a_workflow(departments):
    assert checks.check_departments_have_workflows(databases=["default"]) == []


@pytest.mark.django_db
def test_an_inactive_department_needs_no_workflow(departments):
    old = department_ensure(code="abolished", name_ja="廃止された課", name_en="Abolished")
    old.is_active = False
    old.save(update_fields=["is_active"])
    assert checks.check_departments_have_workflows(databases=["default"]) == []
