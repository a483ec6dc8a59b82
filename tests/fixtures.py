"""Shared fixtures: the demo organisation and users of every role (DESIGN §8.3), and a case opener."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from referral_engine.accounts.models import User


# --- Two database roles (CI: the suite runs as the restricted role; docs/operations.md) ---------------
# With DATABASE_OWNER_URL set, the test database is created, migrated (migrate grants the app role its
# privileges) and dropped as the owner, and emptied after transactional tests as the owner (the app
# role may not TRUNCATE); the tests themselves run as DATABASE_URL's role.


_APP_CREDENTIALS: dict = {}  # DATABASE_URL's user and password, while the owner creates the database


def _owner_credentials() -> dict | None:
    from django.conf import settings

    owner = getattr(settings, "DATABASE_OWNER", None)
    if not owner or "postgresql" not in settings.DATABASES["default"]["ENGINE"]:
        return None
    return {"USER": owner.get("USER") or "", "PASSWORD": owner.get("PASSWORD") or ""}


def _connect_default_as(credentials: dict) -> None:
    from django.db import connection

    connection.close()
    connection.settings_dict.update(credentials)


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """Runs before pytest-django creates the test database: connect as the owner for that."""
    from django.db import connection

    owner = _owner_credentials()
    if owner is None:
        yield
        return
    _APP_CREDENTIALS.update({key: connection.settings_dict.get(key) for key in owner})
    _connect_default_as(owner)
    yield
    _connect_default_as(_APP_CREDENTIALS)


def _execute_sql_flush_as_owner(self, sql_list):
    """Django's flush (after each transactional test), as the owner with the TRUNCATE opt-in
    (referral_engine.audit.append_only): the application role has no TRUNCATE privilege at all."""
    import psycopg

    from referral_engine.audit.append_only import ALLOW_TRUNCATE_SETTING

    owner = _owner_credentials()
    params = {k: v for k, v in self.connection.get_connection_params().items() if k != "cursor_factory"}
    params.update(user=owner["USER"], password=owner["PASSWORD"] or None)
    with psycopg.connect(**params) as conn, conn.cursor() as cursor:
        cursor.execute(f"SET LOCAL {ALLOW_TRUNCATE_SETTING} = 'on'")
        for sql in sql_list:
            cursor.execute(sql)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The demo organisation and users, once per test database: most tests need them, and creating
    them per test dominated the run time. Transactional tests flush them; `users` re-creates them.
    With DATABASE_OWNER_URL: from here on the tests connect as the application role."""

    owner = _owner_credentials()
    if owner is not None:
        from django.db.backends.postgresql.operations import DatabaseOperations

        _connect_default_as(_APP_CREDENTIALS)
        original_flush = DatabaseOperations.execute_sql_flush
        DatabaseOperations.execute_sql_flush = _execute_sql_flush_as_owner
    with django_db_blocker.unblock():
        from referral_engine.accounts.demo import demo_users_ensure

        demo_users_ensure()
    yield
    if owner is not None:
        DatabaseOperations.execute_sql_flush = original_flush
        with django_db_blocker.unblock():
            _connect_default_as(owner)  # pytest-django drops the test database next


@pytest.fixture
def owner_connection(transactional_db):
    """A separate autocommit psycopg connection to the test database as the owner (DATABASE_OWNER_URL's
    role; without it, DATABASE_URL's — a local run's superuser): for what only the owner may do (DDL on
    the audit tables). Transactional tests only, so no open test transaction holds a lock it waits on."""
    import psycopg
    from django.db import connection

    owner = _owner_credentials()
    params = {k: v for k, v in connection.get_connection_params().items() if k != "cursor_factory"}
    if owner is not None:
        params.update(user=owner["USER"], password=owner["PASSWORD"] or None)
    with psycopg.connect(**params, autocommit=True) as conn:
        yield conn


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


@pytest.fixture
def staff_move_cases(users, open_case, fresh):
    """Three cases around a staff move, for the tests that hold a per-user permission read to the
    policy's own: a welfare case health accepted, a longevity case from before worker_health moved to
    longevity_support, and a welfare case referred to longevity after the move (the mover's reach there
    starts at the move: a membership-scoped group)."""
    from referral_engine.access.policy.principals import principal
    from referral_engine.accounts.models import Department
    from referral_engine.accounts.services import membership_move
    from referral_engine.cases.services.referrals import referral_transition

    health = {"to_department": "health_promotion", "basis": "internal_use", "reason": "訪問依頼"}
    handoff = open_case("worker_welfare", referrals=[health])
    referral_transition(referral_id=handoff.referrals.get().pk, name="accept", actor=fresh(users["worker_health"]))
    old_longevity = open_case("worker_longevity")
    mover = fresh(users["worker_health"])
    membership_move(user=mover, to_department=Department.objects.get(code="longevity_support"), actor=users["admin"])
    new_handoff = open_case("worker_welfare", referrals=[{**health, "to_department": "longevity_support"}])
    assert principal(fresh(mover)).group_since  # a membership-scoped group: the reach with a start
    return [handoff, old_longevity, new_handoff]
