"""The one registry of department workflows (DESIGN §3.3).

The core never imports a module of `workflows/` by name: each module calls `register(...)` when the
`workflows` app is ready, and the core asks the registry. A workflow is a proxy model of `Referral`
whose `stage` transitions are declared with django-fsm; the core runs the transition on the proxy
and saves through the concrete model (simple-history records nothing for proxy saves).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django import forms

    from referral_engine.cases.models import Referral


@dataclass(frozen=True)
class Stage:
    code: str
    label_ja: str
    label_en: str

    @property
    def label(self) -> str:
        from django.utils.translation import get_language

        return self.label_en if (get_language() or "ja").startswith("en") else self.label_ja


@dataclass(frozen=True)
class StageTimer:
    """A deadline started when a referral enters `stage`: `office_days` (or `hours`) to leave it."""

    code: str
    stage: str
    label_ja: str
    label_en: str
    office_days: int = 0
    hours: int = 0


@dataclass(frozen=True)
class Workflow:
    department_code: str
    model: type[Referral]  # proxy of Referral carrying the stage transitions
    stages: tuple[Stage, ...]
    initial_stage: str
    final_stages: frozenset[str]
    timers: tuple[StageTimer, ...] = ()
    # Structured stage data (visit record, evacuation plan…): a form class and the stages where
    # it may be edited. Values land in StageRecord.data and are historied there.
    record_form: type[forms.Form] | None = None
    record_stages: frozenset[str] = field(default_factory=frozenset)
    title_ja: str = ""
    title_en: str = ""

    def stage(self, code: str) -> Stage | None:
        return next((s for s in self.stages if s.code == code), None)

    def stage_label(self, code: str) -> str:
        stage = self.stage(code)
        return stage.label if stage else code

    def is_final(self, code: str) -> bool:
        return code in self.final_stages

    def transitions(self) -> list[Any]:
        """django-fsm Transition objects of the `stage` field on the proxy."""
        field_ = self.model._meta.get_field("stage")
        return list(field_.get_all_transitions(self.model))

    def transition_names(self) -> list[str]:
        return sorted({t.name for t in self.transitions()})


_registry: dict[str, Workflow] = {}
_listeners: list[Callable[[Workflow], None]] = []


def register(workflow: Workflow) -> Workflow:
    if workflow.department_code in _registry and _registry[workflow.department_code] is not workflow:
        raise ValueError(f"A workflow for {workflow.department_code!r} is already registered")
    _registry[workflow.department_code] = workflow
    return workflow


def unregister(department_code: str) -> None:
    _registry.pop(department_code, None)


def get(department_code: str) -> Workflow | None:
    return _registry.get(department_code)


def all_workflows() -> Iterator[Workflow]:
    return iter(list(_registry.values()))
