"""Shared fixtures: the demo organisation and users of every role (DESIGN §8.3), and a case opener."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from referral_engine.accounts.models import User


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The demo organisation and users, once per test database: most tests need them, and creating
    them per test dominated the run time. Transactional tests flush them; `users` re-creates them."""
    with django_db_blocker.unblock():
        from referral_engine.accounts.demo import demo_users_ensure

        demo_users_ensure()


@pytest.fixture(autouse=True)
def process_caches_fresh():
    """The per-process caches (escalation rules, the system user) start and end empty in every test:
    a test's rows are rolled back or flushed, and the caches would outlive them."""
    from referral_engine.accounts.system import system_user_forget
    from referral_engine.timers.policies import invalidate_cache

    invalidate_cache()
    system_user_forget()
    yield
    invalidate_cache()
    system_user_forget()


@pytest.fixture
def org(db):
    from referral_engine.accounts.models import Department
    from referral_engine.accounts.services import organisation_ensure

    organisation_ensure()
    return {d.code: d for d in Department.objects.all()}


@pytest.fixture
def users(org) -> dict[str, User]:
    from referral_engine.accounts.demo import DEMO_USERS, demo_users_ensure
    from referral_engine.accounts.models import User

    found = {u.username: u for u in User.objects.filter(username__in=[d[0] for d in DEMO_USERS])}
    if len(found) < len(DEMO_USERS):  # flushed by a transactional test
        found = {u.username: u for u in demo_users_ensure()}
    return found


@pytest.fixture
def fresh():
    """Re-read a user so per-request caches (principal, object permissions) start empty."""

    def _fresh(user: User) -> User:
        from referral_engine.accounts.models import User

        return User.objects.get(pk=user.pk)

    return _fresh


NEW_PERSON = {
    "family_name": "津久見",
    "given_name": "花子",
    "family_name_kana": "ツクミ",
    "given_name_kana": "ハナコ",
    "birth_date": "1944-05-03",
    "district": "kawakami",
    "address": "津久見市川上1-2-3",
    "phone": "0972-00-0001",
}


@pytest.fixture
def open_case(users, fresh):
    """Open a case through the service as `actor` (default desk_welfare), new person each time."""
    from referral_engine.cases.services.intake import case_open

    counter = {"n": 0}

    def _open(actor: str = "desk_welfare", *, referrals=None, person=None, **kwargs):
        counter["n"] += 1
        data = dict(person or NEW_PERSON)
        data.setdefault("given_name", "花子")
        if person is None:
            data["given_name"] = f"花子{counter['n']}"
            data["given_name_kana"] = f"ハナコ{counter['n']}"
        kwargs.setdefault("summary", "一人暮らしで外出が減っている。")
        kwargs.setdefault("needs", ["isolation"])
        return case_open(actor=fresh(users[actor]), person=data, referrals=referrals, confirm_new_person=True, **kwargs)

    return _open
