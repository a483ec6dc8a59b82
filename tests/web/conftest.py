"""Fixtures of the web tests: a logged-in test client per demo user, and a case with two referrals."""

from __future__ import annotations

import pytest
from django.test import Client


@pytest.fixture
def as_user(users):
    """`as_user("worker_health")` → a Client logged in as that demo user (Japanese UI)."""

    def _client(username: str) -> Client:
        client = Client(HTTP_ACCEPT_LANGUAGE="ja")
        client.force_login(users[username])
        return client

    return _client


@pytest.fixture
def referred_case(open_case):
    """A case opened at the welfare desk and referred to health and longevity (both requested)."""
    return open_case(
        "desk_welfare",
        referrals=[
            {"to_department": "health_promotion", "basis": "internal_use", "reason": "保健師の訪問をお願いします。"},
            {"to_department": "longevity_support", "basis": "internal_use", "reason": "介護の確認をお願いします。"},
        ],
        first_note="最初の記録です。",
    )
