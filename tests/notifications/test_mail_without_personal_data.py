"""Mail without personal data (issue 22, item 4): a notification's mail carries the kind of event,
the case number and a link, and nothing a person or a member of staff wrote.

A distinctive secret is planted in every free-text field the journeys touch (the person's name,
kana, address and phone, the summary and first note, the referral reasons, the accept / decline /
return reasons, an activity note, the closing note, a slip's name / kana / address / concern, a
leaver's display name and the reason their membership ended); then every journey that notifies is
driven (intake with referrals, accept, decline with a reason, return, the runaround at once, the
sweep's L1 / L2 / L3, a slip, a close, a leaver's released assignments), the outbox is delivered,
and every mail sent — and the mail of every outbox row, delivered or not — is scanned."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core import mail
from django.utils import timezone

from referral_engine.cases.models import Case
from referral_engine.notifications.delivery import notifications_deliver_pending
from referral_engine.notifications.mail import notification_mails
from referral_engine.notifications.models import Notification
from referral_engine.timers.models import Timer

SECRETS = {
    "family_name": "鵺野",
    "given_name": "秘匿子",
    "family_name_kana": "ヌエノ",
    "given_name_kana": "ヒトクコ",
    "address": "津久見市鵺町9-8-7 ZQX-ADDRESS",
    "phone": "0972-98-7654",
    "summary": "ZQX-SUMMARY 夫からの暴力の相談",
    "first_note": "ZQX-FIRSTNOTE 初回メモ",
    "referral_reason": "ZQX-REFERRAL 家庭訪問の依頼",
    "accept_reason": "ZQX-ACCEPT 受理メモ",
    "decline_reason": "ZQX-DECLINE 精神科通院中のため対象外",
    "return_reason": "ZQX-RETURN 支援拒否のため差し戻し",
    "activity": "ZQX-ACTIVITY 訪問記録",
    "close_reason": "ZQX-CLOSE 終結メモ",
    "slip_name": "鵺川 秘",
    "slip_kana": "ヌエカワ ヒミ",
    "slip_address": "ZQX-SLIPADDR 川上3丁目の角",
    "slip_concern": "ZQX-CONCERN 新聞がたまっている",
    "staff_name": "鵺沢 退職者",
    "leave_reason": "ZQX-LEAVE 病気休職のため",
}
MARKERS = ("ZQX", "鵺")  # every secret above carries one of them, or is itself scanned

PERSON = {
    "family_name": SECRETS["family_name"],
    "given_name": SECRETS["given_name"],
    "family_name_kana": SECRETS["family_name_kana"],
    "given_name_kana": SECRETS["given_name_kana"],
    "birth_date": "1950-01-02",
    "district": "kawakami",
    "address": SECRETS["address"],
    "phone": SECRETS["phone"],
}


def _leaks(text: str) -> list[str]:
    found = [name for name, secret in SECRETS.items() if secret in text]
    found += [f"marker {m}" for m in MARKERS if m in text]
    return found


@pytest.fixture
def timed(users):
    from referral_engine.timers import calendar
    from referral_engine.timers.services import timers_calendar_seed, timers_policies_seed

    year = timezone.localdate().year
    timers_calendar_seed(years=range(year - 1, year + 3))
    timers_policies_seed()
    calendar.invalidate_cache()
    yield
    calendar.invalidate_cache()


def _drive_every_journey_that_notifies(users, fresh, org) -> list[int]:
    from referral_engine.accounts.models import Membership
    from referral_engine.accounts.roles import Role
    from referral_engine.accounts.services import membership_end, user_create
    from referral_engine.cases.services.case_state import case_lead_change, case_transition
    from referral_engine.cases.services.intake import case_open
    from referral_engine.cases.services.records import activity_add
    from referral_engine.cases.services.referrals import referral_transition
    from referral_engine.cases.services.slips import slip_submit
    from referral_engine.timers.sweep import timers_sweep_due

    def person(n: int) -> dict:
        return {**PERSON, "given_name": f"{SECRETS['given_name']}{n}", "given_name_kana": f"ヒトクコ{n}"}

    def referral_to(code: str) -> dict:
        return {"to_department": code, "basis": "internal_use", "reason": SECRETS["referral_reason"]}

    def move(referral, name: str, actor: str, reason: str) -> None:
        referral_transition(referral_id=referral.pk, name=name, actor=fresh(users[actor]), reason=reason)

    # Intake with referrals (referral_requested), accept, return, decline: the runaround fires at once.
    case = case_open(
        actor=fresh(users["desk_welfare"]),
        person=person(1),
        confirm_new_person=True,
        summary=SECRETS["summary"],
        needs=["isolation"],
        first_note=SECRETS["first_note"],
        referrals=[referral_to("health_promotion"), referral_to("longevity_support")],
    )
    activity_add(case_id=case.pk, actor=fresh(users["desk_welfare"]), kind="visit", body=SECRETS["activity"])
    health = case.referrals.get(to_department__code="health_promotion")
    move(health, "accept", "worker_health", SECRETS["accept_reason"])
    move(health, "return", "worker_health", SECRETS["return_reason"])
    move(
        case.referrals.get(to_department__code="longevity_support"),
        "decline",
        "worker_longevity",
        SECRETS["decline_reason"],
    )
    # Closing the case (and its clocks).
    case_transition(
        case_id=case.pk,
        name="close",
        actor=fresh(users["chief_welfare"]),
        reason=SECRETS["close_reason"],
        closure_reason="resolved",
    )

    # The sweep's three levels on a handoff nobody answers.
    waiting = case_open(
        actor=fresh(users["desk_welfare"]),
        person=person(2),
        confirm_new_person=True,
        summary=SECRETS["summary"],
        needs=["isolation"],
        referrals=[referral_to("health_promotion")],
    )
    timer = Timer.objects.get(object_key=f"referral:{waiting.referrals.get().pk}", rule__startswith="handoff")
    for at in (timer.l1_at, timer.due_at, timer.l3_at):
        timers_sweep_due(now=at)

    # A connector's urgent slip (since the desk's queue, only an urgent one notifies: the supervisors).
    slip = slip_submit(
        actor=fresh(users["minsei_kawakami"]),
        urgency="urgent",
        concern=SECRETS["slip_concern"],
        name=SECRETS["slip_name"],
        name_kana=SECRETS["slip_kana"],
        address_note=SECRETS["slip_address"],
    )

    # A leaver who led a case: the supervisors are told the assignments were released.
    leaver = user_create(
        username="leaver_welfare",
        password=None,
        display_name=SECRETS["staff_name"],
        email="leaver@city.tsukumi.example",
        role=Role.CASEWORKER,
        department=org["social_welfare"],
    )
    case_lead_change(case_id=waiting.pk, actor=fresh(users["chief_welfare"]), lead_worker_id=leaver.pk)
    membership_end(
        membership=Membership.objects.get(user=leaver, ended_at__isnull=True),
        actor=fresh(users["admin"]),
        reason=SECRETS["leave_reason"],
    )
    return [case.pk, waiting.pk, slip.case_id]


def test_no_mail_carries_a_name_a_reason_or_a_note(timed, users, fresh, org):
    case_ids = _drive_every_journey_that_notifies(users, fresh, org)
    mail.outbox.clear()

    notifications_deliver_pending()

    rows = list(Notification.objects.order_by("pk"))
    kinds = {n.kind for n in rows}
    assert {
        "referral_requested",
        "referral_accept",
        "referral_return",
        "referral_decline",
        "escalation_l1",
        "escalation_l2",
        "escalation_l3",
        "slip_submitted",
        "assignments_released",
    } <= kinds, kinds
    # The planted text did reach the outbox rows: the in-app texts may show it to their recipient.
    decline = next(n for n in rows if n.kind == "referral_decline")
    assert SECRETS["decline_reason"] in decline.body
    assert SECRETS["leave_reason"] in next(n for n in rows if n.kind == "assignments_released").body

    sent = list(mail.outbox)
    assert len(sent) == sum(1 for n in Notification.objects.filter(delivery="sent")) > 0
    for message in sent:
        text = "\n".join([message.subject, message.body, *map(str, message.extra_headers.values()), *message.to])
        assert _leaks(text) == [], text
        assert _leaks(message.message().as_string()) == []
    for n, rendered in notification_mails(rows).items():
        assert _leaks(rendered.subject + "\n" + rendered.body) == [], (n, rendered)

    # What a mail does carry: the kind, the case number (not the id) and a link into the engine.
    numbers = dict(Case.objects.filter(pk__in=case_ids).values_list("pk", "number"))
    rendered = notification_mails(rows)
    for n in rows:
        if n.case_id:
            assert rendered[n.pk].subject.endswith(f": {numbers[n.case_id]}"), rendered[n.pk]
            assert f"{settings.SITE_URL}/cases/{n.case_id}/" in rendered[n.pk].body
    decline_mail = rendered[decline.pk]
    assert decline_mail.subject == f"つなぎが辞退されました: {numbers[case_ids[0]]}"
    assert "理由:" not in decline_mail.body


def test_an_unknown_kind_mails_a_generic_label_and_never_its_texts(users):
    from referral_engine.notifications.services import notifications_queue

    (row,) = notifications_queue(
        recipients=[users["chief_health"]], kind="future_kind", title="鵺 ZQX タイトル", body="ZQX 本文"
    )

    (rendered,) = notification_mails([row]).values()
    assert _leaks(rendered.subject + rendered.body) == []
    assert rendered.subject == "新しい通知があります"
    assert f"{settings.SITE_URL}/notifications/" in rendered.body


def test_the_mail_follows_the_site_language(users, settings):
    from referral_engine.notifications.services import notifications_queue

    settings.LANGUAGE_CODE = "en"
    (row,) = notifications_queue(recipients=[users["chief_health"]], kind="referral_decline", title="t", case_id=None)

    (rendered,) = notification_mails([row]).values()
    assert rendered.subject == "A referral was declined"
    assert "every access is logged" in rendered.body
