"""Fixtures of the workflow tests: the organisation, users by role, an accepted referral built
directly (so the permission tables do not depend on the intake services), and throwaway proxy
models that leave the app registry as they found it."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.apps import apps
from django.utils import timezone

from referral_engine.access import grants
from referral_engine.accounts.models import Department, District, User
from referral_engine.accounts.roles import Role
from referral_engine.accounts.services import organisation_ensure, user_create
from referral_engine.cases.choices import Basis, ReferralState
from referral_engine.cases.models import Case, Person, Referral
from referral_engine.workflow import registry as workflow_registry

_serial = itertools.count(1)


@pytest.fixture
def departments(db) -> dict[str, Department]:
    organisation_ensure()
    return {d.code: d for d in Department.objects.all()}


@pytest.fixture
def make_user(departments) -> Callable[..., User]:
    """make_user(role, department_code) for staff; make_user("connector") and make_user("auditor")."""

    def _make(role: str, department_code: str | None = None) -> User:
        n = next(_serial)
        department = Department.objects.get(code=department_code) if department_code else None
        district = District.objects.get(code="kawakami") if role == Role.CONNECTOR else None
        return user_create(
            username=f"{role}_{department_code or 'none'}_{n}",
            password=None,
            display_name=f"{role} {n}",
            role=role,
            department=department,
            district=district,
        )

    return _make


@pytest.fixture
def reread() -> Callable[[User], User]:
    """The user re-read: policy caches (principal, object permissions) live on the user object."""
    return lambda user: User.objects.get(pk=user.pk)


@pytest.fixture
def make_referral(departments, make_user) -> Callable[..., Referral]:
    """A case and one referral to `to_code` in `state` (accepted by default) at the workflow's initial
    stage, with the grants the data calls for. Built without the services on purpose: these tests
    are about the workflow declarations and the policy, not intake."""

    def _make(to_code: str, *, from_code: str | None = None, state: str = ReferralState.ACCEPTED) -> Referral:
        from_code = from_code or ("health_promotion" if to_code == "social_welfare" else "social_welfare")
        requester = make_user(Role.CASEWORKER, from_code)
        now = timezone.now()
        n = next(_serial)
        person = Person.objects.create(family_name="津久見", given_name=f"花子{n}", family_name_kana="ツクミ")
        case = Case.objects.create(
            number=f"R8-9{n:05d}",
            fiscal_year=2026,
            person=person,
            intake_department=departments[from_code],
            lead_department=departments[from_code],
            opened_by=requester,
            summary="一人暮らしで外出が減っている。",
            last_touched_at=now,
        )
        workflow = workflow_registry.get(to_code)
        referral = Referral.objects.create(
            case=case,
            from_department=departments[from_code],
            to_department=departments[to_code],
            requested_by=requester,
            reason="つなぎの理由",
            basis=Basis.INTERNAL_USE,
            state=state,
            stage=workflow.initial_stage if workflow and state == ReferralState.ACCEPTED else "",
        )
        grants.case_grants_sync(case=case)
        return referral

    return _make


@pytest.fixture
def throwaway_models() -> Iterator[Callable[..., type[Referral]]]:
    """Define proxy models of Referral inside a test; they leave the app registry afterwards, so
    nothing else (makemigrations --check, other tests) ever sees them."""
    created: list[type[Referral]] = []

    def _define(name: str, attrs: dict[str, Any]) -> type[Referral]:
        meta = type("Meta", (), {"proxy": True, "app_label": "workflows", "default_permissions": ()})
        model = type(name, (Referral,), {"__module__": __name__, "Meta": meta, **attrs})
        created.append(model)
        return model

    yield _define
    for model in created:
        apps.all_models["workflows"].pop(model._meta.model_name, None)
        for field_name in ("state", "stage"):
            Referral._meta.get_field(field_name).transitions.pop(model, None)
    apps.clear_cache()


@pytest.fixture
def registered() -> Iterator[Callable[[workflow_registry.Workflow], workflow_registry.Workflow]]:
    """Register throwaway workflows for one test; unregistered afterwards."""
    codes: list[str] = []

    def _register(workflow: workflow_registry.Workflow) -> workflow_registry.Workflow:
        codes.append(workflow.department_code)
        return workflow_registry.register(workflow)

    yield _register
    for code in codes:
        workflow_registry.unregister(code)
