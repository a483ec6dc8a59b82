"""System checks over the workflow registry (viewflow-style: a bad flow never reaches a user).

Registered by `referral_engine.workflow.apps.WorkflowConfig.ready` (it imports this module).

- `workflows.E001`–`E013`: static checks on each registered workflow, run by every `manage.py`
  command that runs checks (and by `check` itself). The ids are listed in docs/workflows.md.
- `workflows.W001`: an active Department row without a workflow. It is tagged `database`, so it
  runs only with `check --database default` (and during `migrate`). It is a warning, not an error,
  on purpose: `migrate` runs database checks and refuses to go on after an error, and a department
  row added in the admin before its module is deployed must not block an unrelated migration.
  CI runs `check --database default --fail-level WARNING` to hold the rule.

The registry and the diagrams sit below every core app (the policy and the services import them);
this module is an edge: only `ready()` and the tests import it, so it reads the models freely.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Any

from django import forms
from django.core import checks
from django.db import DatabaseError, connections
from django_fsm import ANY_OTHER_STATE, ANY_STATE

from referral_engine.accounts.models import Department
from referral_engine.cases.models import Case, Referral
from referral_engine.workflow import registry
from referral_engine.workflow.registry import StageRecordForm

POLICY_MODULE = "referral_engine.access.policy"
TAG = "workflows"


def _error(msg: str, *, id_: str, obj: Any, hint: str | None = None) -> checks.Error:
    return checks.Error(msg, hint=hint, obj=obj, id=f"workflows.{id_}")


def _reserved_names() -> set[str]:
    """Stage transitions share the API's transition namespace with the handoff and case machines,
    and live on a subclass of Referral: they must not shadow either."""
    names = {"return"}  # the public name of Referral.return_
    for model in (Referral, Case):
        names |= {t.name for t in model._meta.get_field("state").get_all_transitions(model)}
    return names


def _targets(transition: Any) -> list[str]:
    target = transition.target
    if hasattr(target, "allowed_states"):  # GET_STATE / RETURN_VALUE
        return [str(s) for s in target.allowed_states]
    return [] if target is None else [str(target)]


def _sources(transition: Any, codes: Iterable[str]) -> list[str]:
    if transition.source in (ANY_STATE, ANY_OTHER_STATE):
        return list(codes)
    return [str(transition.source)]


def reachable_stages(workflow: Any) -> set[str]:
    codes = workflow.stage_codes
    edges: dict[str, set[str]] = {}
    for t in workflow.transitions():
        for source in _sources(t, codes):
            edges.setdefault(source, set()).update(_targets(t))
    seen = {workflow.initial_stage}
    queue = deque(seen)
    while queue:
        for nxt in edges.get(queue.popleft(), ()):
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen


def workflow_errors(workflow: Any) -> list[checks.CheckMessage]:
    """Every problem of one workflow definition (also used by the contract tests)."""
    model = workflow.model
    if not (isinstance(model, type) and issubclass(model, Referral) and model._meta.proxy):
        return [
            _error(
                f"Workflow {workflow.department_code!r}: its model must be a proxy model of cases.Referral.",
                id_="E009",
                obj=workflow.department_code,
                hint='Declare `class Meta: proxy = True; app_label = "workflows"`.',
            )
        ]  # nothing else can be read without the proxy
    return [
        *_stage_errors(workflow),
        *_transition_errors(workflow),
        *_graph_errors(workflow),
        *_record_errors(workflow),
        *_timer_errors(workflow),
    ]


def _stage_errors(workflow: Any) -> list[checks.CheckMessage]:
    wf = workflow.department_code
    errors = []
    if not workflow.title_ja or not workflow.title_en:
        errors.append(_error(f"Workflow {wf!r} needs title_ja and title_en.", id_="E004", obj=wf))
    codes = [s.code for s in workflow.stages]
    declared = set(codes)
    duplicates = sorted({c for c in codes if codes.count(c) > 1})
    if duplicates:
        errors.append(_error(f"Workflow {wf!r} declares stage codes twice: {duplicates}.", id_="E006", obj=wf))
    for stage in workflow.stages:
        if not stage.code:
            errors.append(_error(f"Workflow {wf!r} has a stage with an empty code.", id_="E006", obj=wf))
        if not stage.label_ja or not stage.label_en:
            errors.append(
                _error(f"Workflow {wf!r}: stage {stage.code!r} needs label_ja and label_en.", id_="E004", obj=wf)
            )
    if workflow.initial_stage not in declared:
        errors.append(
            _error(
                f"Workflow {wf!r}: initial stage {workflow.initial_stage!r} is not a declared stage.",
                id_="E005",
                obj=wf,
            )
        )
    if not workflow.final_stages:
        errors.append(
            _error(f"Workflow {wf!r} has no final stage: its referrals could never be completed.", id_="E011", obj=wf)
        )
    for final in sorted(workflow.final_stages - declared):
        errors.append(_error(f"Workflow {wf!r}: final stage {final!r} is not a declared stage.", id_="E011", obj=wf))
    return errors


def _transition_errors(workflow: Any) -> list[checks.CheckMessage]:
    wf = workflow.department_code
    declared = set(workflow.stage_codes)
    transitions = workflow.transitions()
    errors = []
    if not transitions:
        errors.append(_error(f"Workflow {wf!r} declares no stage transitions.", id_="E007", obj=wf))
    reserved = _reserved_names()
    for name in sorted({t.name for t in transitions}):
        if name in reserved or hasattr(Referral, name):
            errors.append(
                _error(
                    f"Workflow {wf!r}: transition {name!r} clashes with a handoff or case transition name "
                    "or a Referral attribute.",
                    id_="E008",
                    obj=wf,
                    hint="Name stage transitions after the work, e.g. `record_home_visit`.",
                )
            )
    for t in transitions:
        where = f"Workflow {wf!r}: transition {t.name!r}"
        permission = t.permission
        module = getattr(permission, "__module__", None) or ""
        if not callable(permission) or not (module == POLICY_MODULE or module.startswith(f"{POLICY_MODULE}.")):
            errors.append(
                _error(
                    f"{where} needs a permission callable from {POLICY_MODULE} (got {permission!r}).",
                    id_="E001",
                    obj=wf,
                    hint="A string permission passes for any holder of the model-wide permission (LIBRARIES.md).",
                )
            )
        if not t.custom.get("label_ja") or not t.custom.get("label_en"):
            errors.append(_error(f"{where} needs custom={{'label_ja': ..., 'label_en': ...}}.", id_="E004", obj=wf))
        if t.source not in (ANY_STATE, ANY_OTHER_STATE) and str(t.source) not in declared:
            errors.append(_error(f"{where} leaves undeclared stage {t.source!r}.", id_="E007", obj=wf))
        errors += [
            _error(f"{where} enters undeclared stage {target!r}.", id_="E007", obj=wf)
            for target in _targets(t)
            if target not in declared
        ]
    return errors


def _graph_errors(workflow: Any) -> list[checks.CheckMessage]:
    wf = workflow.department_code
    codes = list(workflow.stage_codes)
    errors = []
    if workflow.initial_stage in codes:
        reachable = reachable_stages(workflow)
        errors += [
            _error(
                f"Workflow {wf!r}: final stage {final!r} cannot be reached from {workflow.initial_stage!r}.",
                id_="E002",
                obj=wf,
            )
            for final in sorted((workflow.final_stages & set(codes)) - reachable)
        ]
        errors += [
            _error(
                f"Workflow {wf!r}: stage {code!r} cannot be reached from {workflow.initial_stage!r}.",
                id_="E012",
                obj=wf,
            )
            for code in codes
            if code not in reachable and code not in workflow.final_stages
        ]
    leaving = {s for t in workflow.transitions() for s in _sources(t, codes)}
    errors += [
        _error(
            f"Workflow {wf!r}: stage {code!r} is not final and has no transition out: referrals would stick there.",
            id_="E013",
            obj=wf,
        )
        for code in codes
        if code not in leaving and code not in workflow.final_stages
    ]
    return errors


def _record_errors(workflow: Any) -> list[checks.CheckMessage]:
    wf = workflow.department_code
    form = workflow.record_form
    errors = []
    if form is not None and not (isinstance(form, type) and issubclass(form, StageRecordForm)):
        errors.append(
            _error(
                f"Workflow {wf!r}: record_form must subclass referral_engine.workflow.StageRecordForm.",
                id_="E010",
                obj=wf,
                hint="Its cleaned_data is stored as JSON; the base class turns dates into ISO strings.",
            )
        )
    errors += [
        _error(f"Workflow {wf!r}: record stage {stage!r} is not a declared stage.", id_="E010", obj=wf)
        for stage in sorted(workflow.record_stages - set(workflow.stage_codes))
    ]
    if workflow.record_stages and form is None:
        errors.append(_error(f"Workflow {wf!r} has record stages but no record_form.", id_="E010", obj=wf))
    return errors


def _timer_errors(workflow: Any) -> list[checks.CheckMessage]:
    wf = workflow.department_code
    declared = set(workflow.stage_codes)
    form_fields = getattr(workflow.record_form, "base_fields", {})
    timer_codes = [t.code for t in workflow.timers]
    errors = []
    for timer in workflow.timers:
        where = f"Workflow {wf!r}: timer {timer.code!r}"
        if timer_codes.count(timer.code) > 1:
            errors.append(_error(f"{where} is declared twice.", id_="E003", obj=wf))
        if timer.stage not in declared:
            errors.append(_error(f"{where} names undeclared stage {timer.stage!r}.", id_="E003", obj=wf))
        if timer.office_days <= 0 and timer.hours <= 0:
            errors.append(_error(f"{where} needs a positive office_days or hours.", id_="E003", obj=wf))
        if timer.record_date_field and not isinstance(form_fields.get(timer.record_date_field), forms.DateField):
            errors.append(
                _error(
                    f"{where}: {timer.record_date_field!r} is not a date field of the record form.",
                    id_="E003",
                    obj=wf,
                )
            )
        if not timer.label_ja or not timer.label_en:
            errors.append(_error(f"{where} needs label_ja and label_en.", id_="E004", obj=wf))
    return errors


def _wanted(app_configs: Iterable[Any] | None) -> bool:
    return app_configs is None or any(c.label in {"workflow", "workflows", "cases"} for c in app_configs)


@checks.register(TAG)
def check_workflow_definitions(app_configs: Iterable[Any] | None = None, **kwargs: Any) -> list[checks.CheckMessage]:
    if not _wanted(app_configs):
        return []
    errors: list[checks.CheckMessage] = []
    for workflow in registry.all_workflows():
        errors += workflow_errors(workflow)
    return errors


@checks.register(TAG, checks.Tags.database)
def check_departments_have_workflows(
    app_configs: Iterable[Any] | None = None, databases: Iterable[str] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Every active department in the database has a registered workflow."""
    if not databases or not _wanted(app_configs):
        return []
    messages: list[checks.CheckMessage] = []
    for alias in databases:
        connection = connections[alias]
        try:
            if Department._meta.db_table not in connection.introspection.table_names():
                continue  # a database that is not migrated yet (`migrate` runs this check first)
            codes = list(
                Department.objects.using(alias).filter(is_active=True).order_by("code").values_list("code", flat=True)
            )
        except DatabaseError:
            continue
        for code in codes:
            if registry.get(code) is None:
                messages.append(
                    checks.Warning(
                        f"Department {code!r} (database {alias!r}) has no registered workflow: "
                        "its referrals could be accepted but never completed.",
                        hint=f"Add workflows/{code}.py with one register(Workflow(...)) call (docs/workflows.md).",
                        obj=code,
                        id="workflows.W001",
                    )
                )
    return messages
