"""What every batch needs to know, prepared once through the ordinary services: the organisation,
the demo users and a staff sized to the load, the escalation rules, the office calendar, the
permission ids, and where the id ranges and the case-number sequences start."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db import connection, transaction
from django.db.models import Max

from bench.loadgen import vocabulary as vocab
from referral_engine.access import permissions
from referral_engine.accounts.demo import demo_users_ensure
from referral_engine.accounts.models import Department, District, Membership, User
from referral_engine.accounts.roles import DESK_DEPARTMENT_CODE, Role
from referral_engine.accounts.services import organisation_ensure, user_create
from referral_engine.accounts.system import system_user
from referral_engine.cases.models import (
    Activity,
    Case,
    CaseNumberSequence,
    CommunitySlip,
    Consent,
    Person,
    Referral,
)
from referral_engine.timers import calendar
from referral_engine.timers.models import Escalation, Timer
from referral_engine.timers.policies import Rule, default_rules, rules_for
from referral_engine.timers.services import timers_calendar_seed, timers_policies_seed


@dataclass(frozen=True)
class Dept:
    id: int
    code: str
    group_id: int
    external: bool
    name_ja: str


@dataclass(frozen=True)
class Staff:
    id: int
    username: str
    role: str
    department_id: int | None
    district_id: int | None = None


@dataclass
class World:
    """Plain data (no ORM objects), so forked worker processes can use it as it is."""

    departments: list[Dept]
    dept_by_id: dict[int, Dept]
    dept_by_code: dict[str, Dept]
    districts: list[tuple[int, str, str]]  # id, code, name
    front_desk: dict[int, list[Staff]]
    workers: dict[int, list[Staff]]
    supervisors: dict[int, list[Staff]]
    connectors: dict[int, list[Staff]]  # district id -> connectors
    auditors: list[Staff]
    system_id: int
    case_perm: dict[str, int]
    referral_perm: dict[str, int]
    rules: dict[str, Rule]
    closed: frozenset[date]
    # First free id of each table whose ids the generator chooses (others use their sequence).
    next_ids: dict[str, int] = field(default_factory=dict)
    case_numbers: dict[int, int] = field(default_factory=dict)  # fiscal year -> last number used

    def staff_of(self, dept_id: int) -> list[Staff]:
        return self.front_desk[dept_id] + self.workers[dept_id] + self.supervisors[dept_id]

    @property
    def desk(self) -> Dept:
        return self.dept_by_code[DESK_DEPARTMENT_CODE]


ID_MODELS = {"person": Person, "case": Case, "referral": Referral, "activity": Activity, "consent": Consent}
ID_MODELS_EXTRA = {"escalation": Escalation, "timer": Timer, "slip": CommunitySlip}


def staff_size(cases: int) -> tuple[int, int, int, int]:
    """(front desk, caseworkers, supervisors) per department and connectors per district, growing
    with the load: a prefecture-scale desk has more hands than Tsukumi's."""
    workers = max(2, min(60, cases // 20_000))
    return max(1, workers // 3), workers, max(1, workers // 10), max(1, min(25, cases // 50_000))


def _synthetic_staff(cases: int, seed: int) -> None:
    """Create the staff that the demo users do not cover (no password: they never log in)."""
    rng = random.Random(seed)
    desk_n, worker_n, chief_n, connector_n = staff_size(cases)
    existing = set(User.objects.filter(username__startswith="lg_").values_list("username", flat=True))
    system = system_user()

    def make(username: str, role: str, **where: Any) -> None:
        if username in existing:
            return
        family, _kana = rng.choice(vocab.FAMILY_NAMES)
        given, _kana2 = rng.choice(vocab.FEMALE_GIVEN_NAMES + vocab.MALE_GIVEN_NAMES)
        user_create(
            username=username, password=None, display_name=f"{family} {given}", role=role, actor=system, **where
        )

    for department in Department.objects.order_by("id"):
        for role, count in ((Role.FRONT_DESK, desk_n), (Role.CASEWORKER, worker_n), (Role.SUPERVISOR, chief_n)):
            for n in range(1, count + 1):
                make(f"lg_{department.code}_{role}_{n:03d}", role, department=department)
    for district in District.objects.order_by("id"):
        for n in range(1, connector_n + 1):
            make(f"lg_{district.code}_connector_{n:03d}", Role.CONNECTOR, district=district)


def _next_id(model: Any) -> int:
    return (model.objects.aggregate(m=Max("pk"))["m"] or 0) + 1


def world_prepare(*, cases: int, seed: int, years: range, demo_password: str | None = None) -> World:
    """Idempotent set-up through the services, then the lookups every batch reads."""
    with transaction.atomic():
        organisation_ensure()
        demo_users_ensure(password=demo_password)
        _synthetic_staff(cases, seed)
    timers_policies_seed()
    timers_calendar_seed(years=years)
    calendar.invalidate_cache()

    departments = [
        Dept(d.id, d.code, d.group_id, d.is_external, d.name_ja)
        for d in Department.objects.filter(is_active=True).order_by("id")
    ]
    staff: dict[str, dict[int, list[Staff]]] = {r: {} for r in Role.values}
    auditors = []
    for m in (
        Membership.objects.filter(ended_at__isnull=True, user__is_active=True)
        .select_related("user")
        .order_by("user_id")
    ):
        s = Staff(m.user_id, m.user.username, m.role, m.department_id, m.district_id)
        if m.role == Role.AUDITOR:
            auditors.append(s)
        elif m.department_id:
            staff[m.role].setdefault(m.department_id, []).append(s)
        elif m.district_id:
            staff[m.role].setdefault(m.district_id, []).append(s)
    for d in departments:
        for role in (Role.FRONT_DESK, Role.CASEWORKER, Role.SUPERVISOR):
            if not staff[role].get(d.id):
                raise RuntimeError(f"no active {role} in {d.code}: the generator needs one")
    districts = list(District.objects.filter(is_active=True).order_by("id").values_list("id", "code", "name"))

    permissions.forget_permission_ids()
    case_perm = {c: permissions.permission_id("case", c) for c in ("view_case_full", "view_case_limited", "work_case")}
    referral_perm = {
        c: permissions.permission_id("referral", c) for c in ("view_referral", "respond_referral", "work_referral")
    }
    codes = list(default_rules())
    rules = rules_for(codes)

    world = World(
        departments=departments,
        dept_by_id={d.id: d for d in departments},
        dept_by_code={d.code: d for d in departments},
        districts=districts,
        front_desk=staff[Role.FRONT_DESK],
        workers=staff[Role.CASEWORKER],
        supervisors=staff[Role.SUPERVISOR],
        connectors=staff[Role.CONNECTOR],
        auditors=auditors,
        system_id=system_user().pk,
        case_perm=case_perm,
        referral_perm=referral_perm,
        rules=rules,
        closed=calendar.closed_dates(),
    )
    world.next_ids = {name: _next_id(model) for name, model in {**ID_MODELS, **ID_MODELS_EXTRA}.items()}
    world.case_numbers = dict(CaseNumberSequence.objects.values_list("fiscal_year", "last"))
    return world


def sequences_finish(world: World, numbers: dict[int, int]) -> None:
    """After the load: the case-number sequences and the id sequences continue after the new rows."""
    with transaction.atomic():
        for fiscal_year, last in numbers.items():
            CaseNumberSequence.objects.update_or_create(fiscal_year=fiscal_year, defaults={"last": last})
    if connection.vendor != "postgresql":
        return  # SQLite takes max(id) + 1 by itself
    with connection.cursor() as cursor:
        for model in (*ID_MODELS.values(), *ID_MODELS_EXTRA.values()):
            table = model._meta.db_table
            sql = f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), GREATEST((SELECT MAX(id) FROM \"{table}\"), 1))"  # noqa: S608 - model table names
            cursor.execute(sql)
