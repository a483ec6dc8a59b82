"""Organisation writes: departments, districts, users and their memberships (異動・退職)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from referral_engine.access import grants, policy
from referral_engine.accounts.models import Department, District, Membership, User
from referral_engine.accounts.roles import Role
from referral_engine.audit.history import save_with_history
from referral_engine.cases.services.case_state import assignments_release

# DESIGN §1: the five bodies of the desk.
DEPARTMENTS = [
    ("social_welfare", "社会福祉課（地域共生推進班）", "Social Welfare Section (Community Cohesion)", "city"),
    ("health_promotion", "健康推進課", "Health Promotion Section", "city"),
    ("longevity_support", "長寿支援課", "Longevity Support Section", "city"),
    ("disaster_prevention", "総務課 防災・コミュニティ班", "General Affairs: Disaster Prevention", "city"),
    ("shakyo", "津久見市社会福祉協議会", "Tsukumi Council of Social Welfare", "external"),
]

# Districts of Tsukumi (地区社協 areas).
DISTRICTS = [
    ("kawakami", "川上地区", "カワカミ"),
    ("aoe", "青江地区", "アオエ"),
    ("tsukumi", "津久見地区", "ツクミ"),
    ("hoto", "保戸島地区", "ホトジマ"),
    ("yotsuura", "四浦地区", "ヨツウラ"),
    ("tomihama", "徳浦地区", "トクウラ"),
    ("chinu", "千怒地区", "チヌ"),
    ("hiura", "日代地区", "ヒシロ"),
]


def roles_ensure() -> None:
    for role in Role:
        Group.objects.get_or_create(name=role.value)


def department_ensure(*, code: str, name_ja: str, name_en: str, kind: str = "city") -> Department:
    department = Department.objects.filter(code=code).first()
    if department:
        return department
    group, _ = Group.objects.get_or_create(name=f"dept:{code}")
    return Department.objects.create(code=code, name_ja=name_ja, name_en=name_en, kind=kind, group=group)


def district_ensure(*, code: str, name: str, name_kana: str = "") -> District:
    district = District.objects.filter(code=code).first()
    if district:
        return district
    group, _ = Group.objects.get_or_create(name=f"district:{code}")
    return District.objects.create(code=code, name=name, name_kana=name_kana, group=group)


@transaction.atomic
def organisation_ensure() -> None:
    """The roles, the five bodies and the districts. Safe to run again."""
    roles_ensure()
    for code, ja, en, kind in DEPARTMENTS:
        department_ensure(code=code, name_ja=ja, name_en=en, kind=kind)
    for code, name, kana in DISTRICTS:
        district_ensure(code=code, name=name, name_kana=kana)


@transaction.atomic
def membership_start(
    *,
    user: User,
    role: str,
    department: Department | None = None,
    district: District | None = None,
    actor: Any = None,
) -> Membership:
    if role == Role.CONNECTOR and district is None:
        raise ValueError("A connector belongs to a district")
    if role in {Role.FRONT_DESK, Role.CASEWORKER, Role.SUPERVISOR} and department is None:
        raise ValueError("Staff belong to a department")
    membership = Membership(user=user, role=role, department=department, district=district)
    save_with_history(membership, actor=actor, reason=f"membership_start: {role}")
    grants.user_groups_sync(user=user)
    if department is not None:
        grants.department_queue_renew(department=department)
    policy.forget(user)
    return membership


@transaction.atomic
def membership_end(*, membership: Membership, actor: Any = None, reason: str = "") -> Membership:
    """退職 or the old side of 異動: the department's cases disappear for the user at once."""
    if membership.ended_at is None:
        membership.ended_at = timezone.now()
        save_with_history(
            membership, actor=actor, reason=f"membership_end: {reason}".strip(), update_fields=["ended_at"]
        )
        grants.user_groups_sync(user=membership.user)
        if membership.department_id:
            assignments_release(
                user=membership.user, department=membership.department, actor=actor, reason=reason or "membership_end"
            )
        policy.forget(membership.user)
    return membership


@transaction.atomic
def membership_move(*, user: User, to_department: Department, role: str | None = None, actor: Any = None):
    """異動: end every active department membership and start one in `to_department`."""
    current = list(user.memberships.filter(ended_at__isnull=True, department__isnull=False))
    new_role = role or (current[0].role if current else Role.CASEWORKER)
    for membership in current:
        membership_end(membership=membership, actor=actor, reason=f"異動 → {to_department.code}")
    return membership_start(user=user, role=new_role, department=to_department, actor=actor)


def user_create(
    *,
    username: str,
    password: str | None,
    display_name: str = "",
    email: str = "",
    role: str,
    department: Department | None = None,
    district: District | None = None,
    actor: Any = None,
) -> User:
    with transaction.atomic():
        user = User(username=username, display_name=display_name, email=email)
        if role == Role.ADMIN:
            user.is_staff = True
            user.is_superuser = True
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save()
        membership_start(user=user, role=role, department=department, district=district, actor=actor)
    return user
