"""Who a department's notification goes to (issue 10, docs/timers.md "Who is told"), and the batch
outbox writer: the same rows as one message at a time, each recipient once, one delivery kick."""

from __future__ import annotations

from referral_engine.accounts.roles import Role
from referral_engine.cases.selectors import referrals_inbox
from referral_engine.notifications.models import Notification
from referral_engine.notifications.services import (
    Outgoing,
    kick_delivery,
    notifications_queue,
    notifications_queue_many,
)

TO_HEALTH = {"to_department": "health_promotion", "basis": "internal_use", "reason": "家庭訪問の依頼"}
COMPARED = (
    "recipient_id",
    "kind",
    "title",
    "body",
    "case_id",
    "referral_id",
    "escalation_id",
    "read_at",
    "delivery",
    "attempts",
    "delivered_at",
    "last_error",
)


def _user(org, username: str, *, email: str = "", role: str = Role.CASEWORKER, active: bool = True):
    from referral_engine.accounts.services import user_create

    user = user_create(username=username, password=None, email=email, role=role, department=org["health_promotion"])
    if not active:
        user.is_active = False
        user.save(update_fields=["is_active"])
    return user


def test_a_handoff_request_tells_the_receiving_supervisors_and_the_inbox_shows_it_to_caseworkers(
    open_case, users, org, fresh
):
    case = open_case(referrals=[TO_HEALTH])
    referral = case.referrals.get()

    told = Notification.objects.filter(referral_id=referral.pk, kind="referral_requested")
    assert set(told.values_list("recipient__username", flat=True)) == {"chief_health"}
    # The caseworkers are not written a row each: the handoff waits in their department's inbox.
    assert referral in referrals_inbox(fresh(users["worker_health"]))


def test_a_handoff_request_writes_as_many_rows_however_many_caseworkers(open_case, org):
    def rows_of_one_request() -> int:
        referral = open_case(referrals=[TO_HEALTH]).referrals.get()
        return Notification.objects.filter(referral_id=referral.pk, kind="referral_requested").count()

    before = rows_of_one_request()
    for n in range(8):
        _user(org, f"extra_health_{n}", email=f"extra{n}@city.tsukumi.example")

    assert rows_of_one_request() == before == 1


def test_queue_many_writes_the_rows_queue_writes(users, org, django_capture_on_commit_callbacks):
    mailless = _user(org, "no_mail_health")
    gone = _user(org, "gone_health", email="gone@city.tsukumi.example", active=False)
    recipients = [users["chief_health"], mailless, gone, users["chief_health"], None, users["worker_health"]]
    fields = {
        "kind": "escalation_l2",
        "title": "【L2 期限超過】" + "長" * 300,  # cut at 200 like the ORM path
        "body": "本文\n期限: 2026-12-01 17:15",
        "case_id": 12,
        "referral_id": None,
        "escalation_id": 34,
    }

    with django_capture_on_commit_callbacks() as callbacks:
        one = notifications_queue(recipients=recipients, **fields)
        written = notifications_queue_many(
            [Outgoing(recipients=recipients, **fields), Outgoing(recipients=[mailless], kind="other", title="t")]
        )

    assert written == 4 and len(one) == 3
    rows = list(Notification.objects.order_by("pk").values(*COMPARED))
    assert rows[:3] == rows[3:6]  # the batch writer's rows are the single writer's
    assert [r["recipient_id"] for r in rows[:3]] == [users["chief_health"].pk, mailless.pk, users["worker_health"].pk]
    assert [r["delivery"] for r in rows[:3]] == ["pending", "skipped", "pending"]
    assert len(rows[0]["title"]) == 200 and rows[0]["attempts"] == 0 and rows[0]["last_error"] == ""
    assert rows[6]["kind"] == "other" and rows[6]["delivery"] == "skipped"
    assert all(n.next_attempt_at is not None and n.created_at is not None for n in Notification.objects.all())
    assert [c for c in callbacks if c is kick_delivery] == [kick_delivery]  # one kick per transaction


def test_queue_many_with_nobody_to_tell_writes_nothing(users, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        assert notifications_queue_many([Outgoing(recipients=[None], kind="x", title="t")]) == 0
    assert not Notification.objects.exists() and not callbacks
