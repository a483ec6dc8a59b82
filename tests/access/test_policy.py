"""Need-to-know (DESIGN §4–5): who sees what, at which level, and what survives a staff move."""

from pathlib import Path

import pytest

from referral_engine.access import policy
from referral_engine.access.policy import ViewLevel
from referral_engine.accounts.services import membership_move
from referral_engine.cases.selectors import case_activities_for, cases_visible_to, person_flags_for, referrals_inbox
from referral_engine.cases.services.case_state import case_lead_change
from referral_engine.cases.services.records import activity_add
from referral_engine.cases.services.referrals import referral_assign, referral_create, referral_transition

REFER_HEALTH = [{"to_department": "health_promotion", "basis": "internal_use", "reason": "訪問依頼"}]


@pytest.fixture
def case(open_case):
    return open_case(
        "worker_welfare",
        referrals=REFER_HEALTH,
        person={"family_name": "秘密", "given_name": "太郎", "flags": ["hikikomori", "lives_alone"]},
    )


@pytest.mark.parametrize(
    ("username", "level"),
    [
        ("worker_welfare", ViewLevel.FULL),  # lead
        ("desk_welfare", ViewLevel.FULL),  # intake window's department
        ("chief_welfare", ViewLevel.FULL),  # desk supervisor
        ("worker_health", ViewLevel.LIMITED),  # referral only requested
        ("chief_health", ViewLevel.LIMITED),
        ("worker_longevity", ViewLevel.NONE),  # uninvolved
        ("chief_shakyo", ViewLevel.NONE),
        ("auditor", ViewLevel.AUDIT),
        ("minsei_kawakami", ViewLevel.NONE),
        ("admin", ViewLevel.NONE),
    ],
)
def test_view_levels(case, users, fresh, username, level):
    assert policy.case_view_level(fresh(users[username]), case) == level
    assert cases_visible_to(fresh(users[username])).filter(pk=case.pk).exists() == (level > ViewLevel.NONE)


def test_accept_gives_full_view_and_decline_takes_the_case_away(case, users, fresh):
    referral = case.referrals.get()
    referral_transition(referral_id=referral.pk, name="accept", actor=fresh(users["worker_health"]))
    assert policy.case_view_level(fresh(users["worker_health"]), case) == ViewLevel.FULL
    referral_transition(referral_id=referral.pk, name="return", actor=fresh(users["worker_health"]), reason="対象外")
    health = fresh(users["worker_health"])
    assert policy.case_view_level(health, case) == ViewLevel.NONE
    assert policy.can_view_referral(health, referral)  # keeps its own referral record
    assert not cases_visible_to(health).filter(pk=case.pk).exists()


def test_sensitive_records_only_for_full_viewers(case, users, fresh):
    activity_add(case_id=case.pk, actor=fresh(users["worker_welfare"]), kind="note", body="通院歴あり", sensitive=True)
    activity_add(case_id=case.pk, actor=fresh(users["worker_welfare"]), kind="call", body="電話で様子確認")
    limited = fresh(users["worker_health"])
    bodies = {a.body for a in case_activities_for(limited, case)}
    assert "通院歴あり" not in bodies and "電話で様子確認" in bodies
    assert person_flags_for(limited, case) == ["lives_alone"]
    full = fresh(users["worker_welfare"])
    assert "通院歴あり" in {a.body for a in case_activities_for(full, case)}
    assert set(person_flags_for(full, case)) == {"hikikomori", "lives_alone"}


def _department(code):
    from referral_engine.accounts.models import Department

    return Department.objects.get(code=code)


def test_staff_move_loses_old_cases_and_gains_nothing_old(case, users, open_case, fresh):
    """Issue 5: a caseworker moved from health_promotion to longevity_support loses the health cases and
    gains nothing old from longevity_support until events grant it (docs/permissions.md)."""
    referral = case.referrals.get()
    referral_transition(referral_id=referral.pk, name="accept", actor=fresh(users["worker_health"]))
    old_longevity = open_case("worker_longevity")
    old_handoff = open_case("worker_welfare", referrals=[{**REFER_HEALTH[0], "to_department": "longevity_support"}])
    mover = fresh(users["worker_health"])
    assert cases_visible_to(mover).filter(pk=case.pk).exists()

    membership_move(user=mover, to_department=_department("longevity_support"), actor=users["admin"])

    moved = fresh(mover)
    visible = set(cases_visible_to(moved).values_list("pk", flat=True))
    assert case.pk not in visible
    assert old_longevity.pk not in visible
    assert policy.case_view_level(moved, old_longevity) == ViewLevel.NONE
    # The department's waiting handoffs are current work: the move (a membership event) grants them.
    assert referrals_inbox(moved).filter(case=old_handoff).exists()
    assert policy.case_view_level(moved, old_handoff) == ViewLevel.LIMITED
    # Colleagues and the department's supervisor keep the department's caseload.
    assert cases_visible_to(fresh(users["worker_longevity"])).filter(pk=old_longevity.pk).exists()
    assert cases_visible_to(fresh(users["chief_longevity"])).filter(pk=old_handoff.pk).exists()
    assert mover.memberships.filter(ended_at__isnull=False, department__code="health_promotion").exists()
    assert mover.memberships.get(ended_at__isnull=True).department.code == "longevity_support"

    # Events grant: a new handoff to the department, and the supervisor naming the mover lead worker.
    new_handoff = open_case("worker_welfare", referrals=[{**REFER_HEALTH[0], "to_department": "longevity_support"}])
    assert policy.case_view_level(fresh(mover), new_handoff) == ViewLevel.LIMITED
    assert referrals_inbox(fresh(mover)).filter(case=new_handoff).exists()
    case_lead_change(case_id=old_longevity.pk, actor=fresh(users["chief_longevity"]), lead_worker_id=mover.pk)
    assert policy.case_view_level(fresh(mover), old_longevity) == ViewLevel.FULL
    # An old case the department is asked about again is renewed for its current members.
    referral_create(
        case_id=case.pk,
        actor=fresh(users["worker_welfare"]),
        to_department="longevity_support",
        basis="internal_use",
        reason="介護認定の相談",
    )
    assert policy.case_view_level(fresh(mover), case) == ViewLevel.LIMITED


def test_a_moving_supervisor_sees_the_new_departments_cases(users, open_case, fresh):
    """Supervisors reach every case their department is involved in (DESIGN §2), old ones included,
    so they can hand them on to the department's caseworkers."""
    old_longevity = open_case("worker_longevity")
    chief = fresh(users["chief_health"])
    membership_move(user=chief, to_department=_department("longevity_support"), actor=users["admin"])
    assert policy.case_view_level(fresh(chief), old_longevity) == ViewLevel.FULL


def test_moving_releases_the_movers_assignments_with_history(users, open_case, fresh):
    from referral_engine.notifications.models import Notification

    led = open_case("worker_health")
    assert led.lead_worker_id == users["worker_health"].pk
    handoff = open_case("worker_welfare", referrals=[{**REFER_HEALTH[0]}])
    referral = handoff.referrals.get()
    referral_transition(referral_id=referral.pk, name="accept", actor=fresh(users["worker_health"]))
    referral_assign(referral_id=referral.pk, actor=fresh(users["chief_health"]), worker_id=users["worker_health"].pk)

    membership_move(
        user=fresh(users["worker_health"]), to_department=_department("longevity_support"), actor=users["admin"]
    )

    led.refresh_from_db()
    referral.refresh_from_db()
    assert led.lead_worker_id is None and referral.assigned_worker_id is None
    assert led.history.first().history_change_reason.startswith("lead_released")
    assert referral.history.first().history_change_reason.startswith("assign_released")
    assert led.events.filter(kind="lead_changed", data__released="worker_health").exists()
    moved = fresh(users["worker_health"])
    assert not cases_visible_to(moved).filter(pk__in=[led.pk, handoff.pk]).exists()
    note = Notification.objects.filter(recipient=users["chief_health"], kind="assignments_released").get()
    assert "1 件" in note.title
    # The department keeps the work: its supervisor still sees both and can name a new worker.
    assert cases_visible_to(fresh(users["chief_health"])).filter(pk__in=[led.pk, handoff.pk]).count() == 2


def test_leaver_sees_nothing(case, users, fresh):
    from referral_engine.accounts.services import membership_end

    worker = fresh(users["worker_welfare"])
    for membership in worker.memberships.filter(ended_at__isnull=True):
        membership_end(membership=membership, actor=users["admin"], reason="退職")
    assert not cases_visible_to(fresh(worker)).exists()


def test_grants_are_written_only_by_the_grants_module():
    root = Path(__file__).resolve().parents[2] / "referral_engine"
    writers = []
    for path in root.rglob("*.py"):
        if path.name == "grants.py" or "migrations" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        for needle in (
            "assign_perm",
            "remove_perm",
            "ObjectPermission.objects.create",
            "ObjectPermission.objects.bulk_create",
            "groups.add(",
            "groups.remove(",
        ):
            if needle in text:
                writers.append(f"{path.relative_to(root)}: {needle}")
    assert writers == []


def test_visible_cases_query_count_does_not_grow(open_case, users, fresh, django_assert_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def count_for_listing():
        user = fresh(users["worker_health"])
        with CaptureQueriesContext(connection) as ctx:
            rows = list(cases_visible_to(user).order_by("-id")[:50])
        return len(ctx.captured_queries), len(rows)

    for _ in range(3):
        open_case("worker_welfare", referrals=REFER_HEALTH)
    small, n_small = count_for_listing()
    for _ in range(30):
        open_case("worker_welfare", referrals=REFER_HEALTH)
    large, n_large = count_for_listing()
    assert (n_small, n_large) == (3, 33)
    assert small == large <= 2


def test_a_mover_sees_neither_the_old_taken_on_work_nor_its_escalations(users, open_case, fresh):
    from referral_engine.cases.selectors import referrals_in_progress
    from referral_engine.timers.models import Escalation
    from referral_engine.timers.selectors import escalations_visible_to

    handoff = open_case("worker_welfare", referrals=[{**REFER_HEALTH[0], "to_department": "longevity_support"}])
    referral = handoff.referrals.get()
    referral_transition(referral_id=referral.pk, name="accept", actor=fresh(users["worker_longevity"]))
    Escalation.objects.create(
        case=handoff,
        referral=referral,
        object_key=f"referral:{referral.pk}",
        rule="stage_stall",
        level=1,
        department=referral.to_department,
        due_at=handoff.created_at,
    )
    colleague = fresh(users["worker_longevity"])
    assert referrals_in_progress(colleague).filter(pk=referral.pk).exists()
    assert escalations_visible_to(colleague).filter(case=handoff).exists()

    mover = fresh(users["worker_health"])
    membership_move(user=mover, to_department=_department("longevity_support"), actor=users["admin"])
    assert not referrals_in_progress(fresh(mover)).filter(pk=referral.pk).exists()
    assert not escalations_visible_to(fresh(mover)).filter(case=handoff).exists()

    referral_assign(referral_id=referral.pk, actor=fresh(users["chief_longevity"]), worker_id=mover.pk)
    assert referrals_in_progress(fresh(mover)).filter(pk=referral.pk).exists()
    assert escalations_visible_to(fresh(mover)).filter(case=handoff).exists()
