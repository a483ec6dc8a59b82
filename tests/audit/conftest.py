"""Fixtures for the audit tests: the organisation, one user per role that matters here, a case
opener, and counters of history rows and timeline events."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

PASSWORD = "pw-for-audit-tests"
# The demo users (seeded once per test database by tests/fixtures.py) own the plain names.
PREFIX = "au_"


@pytest.fixture(autouse=True)
def _postgres_only(request):
    """`@pytest.mark.postgres` tests need PostgreSQL (the team's conftest skips them too)."""
    if request.node.get_closest_marker("postgres"):
        from django.db import connection

        if connection.vendor != "postgresql":
            pytest.skip("needs PostgreSQL (DATABASE_URL=postgres://...)")


@pytest.fixture
def org(db):
    from referral_engine.accounts.models import Department
    from referral_engine.accounts.services import organisation_ensure

    organisation_ensure()
    return {d.code: d for d in Department.objects.all()}


@pytest.fixture
def make_user(org):
    from referral_engine.accounts.models import Department, District
    from referral_engine.accounts.services import user_create

    def _make(username: str, role: str, department: str | None = None, district: str | None = None, **extra):
        return user_create(
            username=f"{PREFIX}{username}",
            password=PASSWORD,
            role=role,
            department=Department.objects.get(code=department) if department else None,
            district=District.objects.get(code=district) if district else None,
            **extra,
        )

    return _make


@pytest.fixture
def users(make_user) -> dict[str, Any]:
    return {
        "auditor": make_user("auditor", "auditor", display_name="監査 太郎"),
        "desk_welfare": make_user("desk_welfare", "front_desk", "social_welfare", display_name="窓口 花子"),
        "worker_welfare": make_user("worker_welfare", "caseworker", "social_welfare", display_name="福祉 一郎"),
        "worker_health": make_user("worker_health", "caseworker", "health_promotion", display_name="健康 次郎"),
        "worker_longevity": make_user("worker_longevity", "caseworker", "longevity_support"),
        "worker_shakyo": make_user("worker_shakyo", "caseworker", "shakyo"),
        "chief_welfare": make_user("chief_welfare", "supervisor", "social_welfare", display_name="福祉 係長"),
        "chief_health": make_user("chief_health", "supervisor", "health_promotion"),
        "minsei": make_user("minsei_kawakami", "connector", district="kawakami"),
        "admin": make_user("sysadmin", "admin"),
    }


@pytest.fixture
def fresh() -> Callable[[Any], Any]:
    """Re-read a user so per-object permission caches start empty (as in a new request)."""

    def _fresh(user):
        from referral_engine.accounts.models import User

        return User.objects.get(pk=user.pk)

    return _fresh


@pytest.fixture
def open_case(users, fresh):
    from referral_engine.cases.services.intake import case_open

    counter = {"n": 0}

    def _open(actor: str = "worker_welfare", **kwargs):
        counter["n"] += 1
        person = kwargs.pop(
            "person",
            {
                "family_name": "津久見",
                "given_name": f"花子{counter['n']}",
                "family_name_kana": "ツクミ",
                "given_name_kana": f"ハナコ{counter['n']}",
                "birth_date": "1944-05-03",
                "district": "kawakami",
                "address": "津久見市川上1-2-3",
                "phone": "0972-00-0001",
            },
        )
        kwargs.setdefault("summary", "一人暮らしで外出が減っている。")
        kwargs.setdefault("needs", ["isolation"])
        return case_open(actor=fresh(users[actor]), person=person, confirm_new_person=True, **kwargs)

    return _open


@pytest.fixture
def audit_counts() -> Callable[[], Counter]:
    """History rows per model label and timeline events, for before/after deltas."""

    def _counts() -> Counter:
        from referral_engine.audit.append_only import history_models
        from referral_engine.cases.models import CaseEvent

        counts: Counter = Counter()
        for history_model in history_models():
            counts[history_model.instance_type._meta.label] = history_model.objects.count()
        counts["events"] = CaseEvent.objects.count()
        return counts

    return _counts


@pytest.fixture
def delta(audit_counts):
    """`with delta() as d: ...` then `d.value` is the non-zero change of every counter."""

    class _Delta:
        def __init__(self) -> None:
            self.value: dict[str, int] = {}

        def __enter__(self):
            self.before = audit_counts()
            return self

        def __exit__(self, *exc):
            after = audit_counts()
            keys = set(self.before) | set(after)
            self.value = {k: after[k] - self.before[k] for k in sorted(keys) if after[k] != self.before[k]}
            return False

    return _Delta


@pytest.fixture
def client_for(client, users):
    def _client(name: str):
        client.force_login(users[name])
        return client

    return _client
