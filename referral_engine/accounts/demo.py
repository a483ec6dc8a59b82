"""Demo organisation, users and a few cases (DESIGN §8.3: usernames and roles are contracts)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from referral_engine.accounts.models import Department, District, User
from referral_engine.accounts.roles import Role
from referral_engine.accounts.services import organisation_ensure, user_create
from referral_engine.accounts.system import system_user
from referral_engine.cases.models import Case
from referral_engine.cases.services.intake import case_open
from referral_engine.cases.services.referrals import referral_transition
from referral_engine.cases.services.slips import slip_submit
from referral_engine.cases.services.watch import watch_report_add, watch_request_create

DEMO_USERS = [
    ("desk_welfare", "窓口 福祉", Role.FRONT_DESK, "social_welfare", None),
    ("desk_health", "窓口 健康", Role.FRONT_DESK, "health_promotion", None),
    ("worker_welfare", "福祉 担当", Role.CASEWORKER, "social_welfare", None),
    ("worker_health", "保健師 健康", Role.CASEWORKER, "health_promotion", None),
    ("worker_longevity", "長寿 担当", Role.CASEWORKER, "longevity_support", None),
    ("worker_bosai", "防災 担当", Role.CASEWORKER, "disaster_prevention", None),
    ("worker_shakyo", "社協 担当", Role.CASEWORKER, "shakyo", None),
    ("chief_welfare", "福祉 係長", Role.SUPERVISOR, "social_welfare", None),
    ("chief_health", "健康 係長", Role.SUPERVISOR, "health_promotion", None),
    ("chief_longevity", "長寿 係長", Role.SUPERVISOR, "longevity_support", None),
    ("chief_bosai", "防災 班長", Role.SUPERVISOR, "disaster_prevention", None),
    ("chief_shakyo", "社協 係長", Role.SUPERVISOR, "shakyo", None),
    ("auditor", "監査 担当", Role.AUDITOR, None, None),
    ("minsei_kawakami", "川上 民生委員", Role.CONNECTOR, None, "kawakami"),
    ("minsei_aoe", "青江 民生委員", Role.CONNECTOR, None, "aoe"),
    ("admin", "システム管理者", Role.ADMIN, None, None),
]


@transaction.atomic
def demo_users_ensure(password: str | None = None) -> list[User]:
    organisation_ensure()
    system = system_user()
    explicit = password is not None
    password = password or settings.DEMO_PASSWORD
    users = []
    for username, display, role, department, district in DEMO_USERS:
        user = User.objects.filter(username=username).first()
        if user is None:
            user = user_create(
                username=username,
                password=password,
                display_name=display,
                email=f"{username}@city.tsukumi.example",
                role=role,
                department=Department.objects.get(code=department) if department else None,
                district=District.objects.get(code=district) if district else None,
                actor=system,
            )
        elif explicit and not user.check_password(password):
            user.set_password(password)
            user.save(update_fields=["password"])
        users.append(user)
    return users


def demo_cases_ensure() -> int:
    """A handful of cases in different states so every page has something to show."""
    if Case.objects.exists():
        return 0
    u = {user.username: user for user in User.objects.filter(username__in=[d[0] for d in DEMO_USERS])}
    c1 = case_open(
        actor=u["desk_welfare"],
        channel="counter",
        summary="一人暮らしで最近外出が減り、食事もとれていない様子。近所づきあいもない。",
        needs=["isolation", "health"],
        risk="high",
        person={
            "family_name": "津久見",
            "given_name": "花子",
            "family_name_kana": "ツクミ",
            "given_name_kana": "ハナコ",
            "birth_date": "1944-05-03",
            "district": "kawakami",
            "address": "津久見市川上1-2-3",
            "phone": "0972-00-0001",
            "flags": ["lives_alone"],
        },
        referrals=[
            {
                "to_department": "health_promotion",
                "basis": "internal_use",
                "reason": "保健師の家庭訪問をお願いします。",
            },
            {
                "to_department": "longevity_support",
                "basis": "internal_use",
                "reason": "介護の必要性の確認をお願いします。",
            },
        ],
        first_note="本人は人と話すのは好きだが、きっかけがないとのこと。",
    )
    referrals = {r.to_department.code: r for r in c1.referrals.all()}
    referral_transition(referral_id=referrals["health_promotion"].pk, name="accept", actor=u["worker_health"])
    c2 = case_open(
        actor=u["desk_health"],
        channel="phone",
        summary="息子が長くひきこもっている。母親も高齢で今後が不安。",
        needs=["family", "mental_health"],
        risk="normal",
        person={
            "family_name": "青江",
            "given_name": "一郎",
            "family_name_kana": "アオエ",
            "given_name_kana": "イチロウ",
            "birth_date": "1980-11-20",
            "district": "aoe",
            "address": "津久見市青江2-5",
            "phone": "0972-00-0002",
        },
    )
    demo_watch_requests_ensure(c1, c2, u)
    slip_submit(
        actor=u["minsei_kawakami"],
        name="保戸 太郎",
        name_kana="ホト タロウ",
        address_note="川上の公民館の裏の家",
        concern="最近新聞がたまっている。声をかけても出てこない。",
        urgency="urgent",
        person_agreed_to_contact=False,
    )
    return Case.objects.count()


def demo_watch_requests_ensure(c1: Case, c2: Case, u: dict[str, User]) -> None:
    """見守り依頼 (issue 19) on the demo cases: kawakami's connector has one open request with a first
    report, aoe's one without a report yet, so both the connector's home and the case page show them."""
    until = (timezone.localdate() + timedelta(days=60)).isoformat()
    kawakami = watch_request_create(
        case_id=c1.pk,
        actor=u["worker_welfare"],
        district="kawakami",
        what_to_watch="朝、雨戸が開いているか。新聞がたまっていないか。",
        basis="support_meeting",
        justification="重層的支援体制の支援会議（見守りの必要を確認）",
        until=until,
    )
    watch_report_add(
        watch_request_id=kawakami.pk,
        actor=u["minsei_kawakami"],
        outcome="met",
        note="玄関先で元気に話せました。",
    )
    watch_request_create(
        case_id=c2.pk,
        actor=u["desk_health"],
        district="aoe",
        what_to_watch="夜に明かりがつくか。",
        basis="support_meeting",
        justification="支援会議で合意",
        until=until,
    )
