"""The one registry of department workflows (DESIGN §3.3).

The core never imports a module of `workflows/` by name: each module calls `register(...)` when the
`workflows` app is ready, and the core asks the registry. A workflow is a proxy model of `Referral`
whose `stage` transitions are declared with django-fsm; the core runs the transition on the proxy
and saves through the concrete model (simple-history records nothing for proxy saves): that swap
happens only inside `as_workflow`.
"""

from __future__ import annotations

import datetime
import decimal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django import forms
from django.utils.translation import get_language

if TYPE_CHECKING:
    from referral_engine.cases.models import Referral


def _english() -> bool:
    return (get_language() or "ja").startswith("en")


@dataclass(frozen=True)
class Stage:
    code: str
    label_ja: str
    label_en: str

    @property
    def label(self) -> str:
        return self.label_en if _english() else self.label_ja


@dataclass(frozen=True)
class StageTimer:
    """A deadline started when a referral enters `stage`, cleared when it leaves it.

    The deadline is `office_days` office days (DESIGN §7 counting) or `hours` round the clock after
    entering the stage (a month is written as hours: 30 days = 720). `record_date_field` names a date
    field of the stage record that, once filled in, replaces that default (a plan's own review date):
    the duration is still required, so a timers module that does not read the record keeps a sane
    deadline. The rule code of the matching `EscalationPolicy` row is `Workflow.timer_rule(timer)`.
    """

    code: str
    stage: str
    label_ja: str
    label_en: str
    office_days: int = 0
    hours: int = 0
    record_date_field: str = ""

    @property
    def label(self) -> str:
        return self.label_en if _english() else self.label_ja


def labels(ja: str, en: str) -> dict[str, str]:
    """`custom=` of a stage `@transition`: its button label in Japanese and English."""
    return {"label_ja": ja, "label_en": en}


@dataclass(frozen=True)
class TransitionInfo:
    """One stage transition as the UI and the API show it (a button, a row of the docs table)."""

    name: str
    sources: tuple[str, ...]
    target: str
    label_ja: str
    label_en: str
    permission: Any

    @property
    def label(self) -> str:
        return (self.label_en if _english() else self.label_ja) or self.name


class StageRecordForm(forms.Form):
    """Base of every `record_form`: its `cleaned_data` is JSON (dates as ISO strings), because the
    service stores it as it is in `StageRecord.data`. Fields are optional as a rule: the record is
    filled in as the work goes on, and the service merges each save into what is there."""

    def _post_clean(self) -> None:
        # After every clean_<field>() and clean() ran on real values (dates stay dates there).
        super()._post_clean()
        self.cleaned_data = {name: _json_value(value) for name, value in self.cleaned_data.items()}

    @classmethod
    def summary(cls, data: dict[str, Any]) -> list[tuple[str, str]]:
        """(label, text) for each field that holds a value, in form order: the case page shows this."""
        rows = []
        for name, form_field in cls.base_fields.items():
            value = (data or {}).get(name)
            if value in (None, "", [], {}):
                continue
            display = getattr(form_field, "display_value", None)
            if display is not None:
                text = display(value)
            elif isinstance(form_field, forms.ChoiceField):
                choices = {str(k): str(v) for k, v in form_field.choices}
                values = value if isinstance(value, list) else [value]
                text = "、".join(choices.get(str(v), str(v)) for v in values)
            elif isinstance(form_field, forms.BooleanField):
                text = "✓"
            else:
                text = str(value)
            rows.append((str(form_field.label or name), text))
        return rows


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class Workflow:
    department_code: str
    model: type[Referral]  # proxy of Referral carrying the stage transitions
    stages: tuple[Stage, ...]  # in the order a worker meets them (the fallback list shows this order)
    initial_stage: str
    final_stages: frozenset[str]  # `complete` is allowed at these (policy.stage_is_final)
    timers: tuple[StageTimer, ...] = ()
    # Structured stage data (visit record, evacuation plan…): a form class and the stages where
    # it may be edited. Values land in StageRecord.data and are historied there.
    record_form: type[StageRecordForm] | None = None
    record_stages: frozenset[str] = field(default_factory=frozenset)
    title_ja: str = ""
    title_en: str = ""
    # Stages at which the record is the person's individual evacuation plan (個別避難計画): reaching
    # one, or editing the record there, keeps an `EvacuationPlan` that outlives the referral.
    evacuation_plan_stages: frozenset[str] = field(default_factory=frozenset)
    # Stages that hand the person to the district's watching-over (見守り): entering one makes a
    # watch request from the record, or asks the case's lead for one (docs/community.md).
    watch_handover_stages: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        # Accept lists and sets from the declaring module; keep the dataclass hashable.
        object.__setattr__(self, "stages", tuple(self.stages))
        object.__setattr__(self, "final_stages", frozenset(self.final_stages))
        object.__setattr__(self, "timers", tuple(self.timers))
        object.__setattr__(self, "record_stages", frozenset(self.record_stages))
        object.__setattr__(self, "evacuation_plan_stages", frozenset(self.evacuation_plan_stages))
        object.__setattr__(self, "watch_handover_stages", frozenset(self.watch_handover_stages))

    # --- Stages ---------------------------------------------------------------------------------
    @property
    def title(self) -> str:
        return (self.title_en if _english() else self.title_ja) or self.department_code

    @property
    def stage_codes(self) -> tuple[str, ...]:
        return tuple(s.code for s in self.stages)

    def stage(self, code: str) -> Stage | None:
        return next((s for s in self.stages if s.code == code), None)

    def stage_label(self, code: str) -> str:
        stage = self.stage(code)
        return stage.label if stage else code

    def is_final(self, code: str) -> bool:
        return code in self.final_stages

    # --- Transitions ----------------------------------------------------------------------------
    def transitions(self) -> list[Any]:
        """django-fsm Transition objects of the `stage` field on the proxy (one per source)."""
        field_ = self.model._meta.get_field("stage")
        return list(field_.get_all_transitions(self.model))

    def transition_names(self) -> list[str]:
        return sorted({t.name for t in self.transitions()})

    def transition_infos(self) -> list[TransitionInfo]:
        """One entry per transition method, in the order of the stages it leaves."""
        by_name: dict[str, list[Any]] = {}
        for t in self.transitions():
            by_name.setdefault(t.name, []).append(t)
        order = {code: i for i, code in enumerate(self.stage_codes)}
        infos = []
        for name, items in by_name.items():
            first = items[0]
            sources = tuple(sorted({str(t.source) for t in items}, key=lambda s: (order.get(s, len(order)), s)))
            infos.append(
                TransitionInfo(
                    name=name,
                    sources=sources,
                    target=str(first.target),
                    label_ja=str(first.custom.get("label_ja", "")),
                    label_en=str(first.custom.get("label_en", "")),
                    permission=first.permission,
                )
            )
        return sorted(
            infos, key=lambda i: (min(order.get(s, len(order)) for s in i.sources), order.get(i.target, 0), i.name)
        )

    def transition_info(self, name: str) -> TransitionInfo | None:
        return next((i for i in self.transition_infos() if i.name == name), None)

    def transition_label(self, name: str) -> str:
        """The label of a stage transition in the active language; the name itself when unknown
        (handoff names such as `accept` are labelled by the core, not here)."""
        info = self.transition_info(name)
        return info.label if info else name

    # --- Timers and records ---------------------------------------------------------------------
    def timers_for(self, stage: str) -> tuple[StageTimer, ...]:
        return tuple(t for t in self.timers if t.stage == stage)

    def timer_rule(self, timer: StageTimer) -> str:
        """The `EscalationPolicy.rule` code of a timer (referral_engine.timers)."""
        return f"stage:{self.department_code}:{timer.code}"

    def record_editable(self, stage: str) -> bool:
        return self.record_form is not None and stage in self.record_stages

    def record_summary(self, data: dict[str, Any] | None) -> list[tuple[str, str]]:
        if self.record_form is None or not data:
            return []
        return self.record_form.summary(data)


_registry: dict[str, Workflow] = {}


def register(workflow: Workflow) -> Workflow:
    if workflow.department_code in _registry and _registry[workflow.department_code] is not workflow:
        raise ValueError(f"A workflow for {workflow.department_code!r} is already registered")
    _registry[workflow.department_code] = workflow
    return workflow


def unregister(department_code: str) -> None:
    """For tests that register a throwaway workflow."""
    _registry.pop(department_code, None)


def get(department_code: str) -> Workflow | None:
    return _registry.get(department_code)


def all_workflows() -> Iterator[Workflow]:
    """Every registered workflow, in registration order."""
    return iter(list(_registry.values()))


def department_codes() -> list[str]:
    return list(_registry)


@contextmanager
def as_workflow(referral: Referral, workflow: Workflow | None = None) -> Iterator[Referral]:
    """The referral seen as its department workflow's proxy, for the stage transitions; back to its
    own class on leaving, whatever happened inside (history is recorded for the concrete model only,
    so every save happens after the block).

    `workflow` defaults to the referral's department's; when there is none the referral is yielded
    as it is.
    """
    if workflow is None:
        workflow = get(referral.to_department.code)
    own_class = referral.__class__
    if workflow is not None:
        referral.__class__ = workflow.model
    try:
        yield referral
    finally:
        referral.__class__ = own_class
