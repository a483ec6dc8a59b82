"""Schemathesis against the published schema, with a token for each role (issue 9).

For every operation and every role: positive and negative examples generated from /api/schema/,
half of them aimed at objects that exist (the world's cases, referrals, consents, escalation, and
every transition name), sent through the WSGI application in-process. Checks: no 5xx
(`not_a_server_error`) and every response matches the schema (`response_schema_conformance`).

Each operation gets at least 100 examples in CI (CI=true): 20 per role × 6 roles = 120; a plain
`make test` runs 5 per role (SCHEMATHESIS_MAX_EXAMPLES sets the per-role number). 100 per role per
operation took 15–20 minutes of a single-process CI run for the same checks. Time is bounded: no deadline per example, no shrinking
and no example database (explicit + generate phases only); a failure names the operation, the
request to reproduce it and the server's traceback.
"""

from __future__ import annotations

import os
import traceback
from contextlib import contextmanager

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from referral_engine.cases.services.referrals import HANDOFF_TRANSITIONS
from referral_engine.workflow import registry as workflow_registry
from tests.api.conftest import ROLE_USERS, World, token_of

pytestmark = pytest.mark.slow


MIN_EXAMPLES_PER_OPERATION = 100


def max_examples() -> int:
    """Examples per operation *per role*; all roles together give each operation at least 100 in CI."""
    explicit = os.environ.get("SCHEMATHESIS_MAX_EXAMPLES")
    if explicit:
        return int(explicit)
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        return max(20, -(-MIN_EXAMPLES_PER_OPERATION // len(ROLE_USERS)))
    return 5


CHECKS = [not_a_server_error, response_schema_conformance]


@contextmanager
def in_process_requests():
    """Django's test client does the same: a request must not close the test's database connection
    (inside the test transaction), and a server error's traceback is kept for the report."""
    errors: list[str] = []

    def keep(sender, request=None, **kwargs):
        errors.append(traceback.format_exc())

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    signals.got_request_exception.connect(keep)
    try:
        yield errors
    finally:
        signals.got_request_exception.disconnect(keep)
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def known_path_parameters(path: str, world: World) -> list[dict]:
    """Path parameters that name real objects, so examples reach past the 404."""
    if path.startswith("/api/v1/cases/{id}"):
        ids = [world.case.pk, world.other_case.pk, world.slip.case_id]
    elif path.startswith("/api/v1/referrals/{id}"):
        ids = [world.accepted.pk, world.requested.pk, world.declined.pk, world.other_referral.pk]
    elif path.startswith("/api/v1/consents/{id}"):
        ids = [world.consent.pk]
    elif path.startswith("/api/v1/escalations/{id}"):
        ids = [world.escalation.pk]
    elif path.startswith("/api/v1/persons/{id}"):
        ids = [world.case.person_id, world.other_case.person_id]
    else:
        return []
    if path.endswith("/transitions/{name}/"):
        if path.startswith("/api/v1/cases/"):
            names = ["start_assessment", "hold", "resume", "close", "reopen"]
        else:
            names = [*HANDOFF_TRANSITIONS]
            for workflow in workflow_registry.all_workflows():
                names += workflow.transition_names()
        return [{"id": i, "name": n} for i in ids for n in names]
    return [{"id": i} for i in ids]


def strategy_for(operation, world: World):
    strategies = [operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE)]
    known = known_path_parameters(operation.path, world)
    if known:
        aimed = st.sampled_from(known).flatmap(
            lambda params: operation.as_strategy(GenerationMode.POSITIVE, path_parameters=params)
        )
        # As many aimed examples as blind ones.
        strategies += [aimed, aimed]
    return st.one_of(strategies)


@pytest.mark.parametrize("role", sorted(ROLE_USERS))
def test_schemathesis(role, world, api_users):
    username = ROLE_USERS[role]
    failures: list[str] = []
    with in_process_requests() as server_errors:
        app = get_wsgi_application()
        schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", app)
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 25

        for operation in operations:

            @settings(
                max_examples=max_examples(),
                deadline=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
                database=None,
                derandomize=False,
            )
            @given(case=strategy_for(operation, world))
            def run(case):
                del server_errors[:]
                # A fresh token each time: the logout and refresh operations end the one they are sent.
                headers = {"Authorization": f"Token {token_of(api_users[username])}"}
                response = case.call(headers=headers)
                try:
                    case.validate_response(response, checks=CHECKS, headers=headers)
                except (Exception, BaseExceptionGroup) as exc:
                    exc.add_note("\n".join(server_errors))
                    raise

            try:
                run()
            except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 — collect every failure, report all
                notes = "\n".join(getattr(exc, "__notes__", []))
                failures.append(f"{role} ({username}) {operation.label}:\n{exc}\n{notes}")

    assert not failures, "\n\n".join(failures)
