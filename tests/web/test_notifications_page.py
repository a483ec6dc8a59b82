"""`/notifications/` (issue 18, item 7): unread first, then newest; each opens its object; mark one
or all read."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from referral_engine.notifications.models import Notification
from referral_engine.notifications.services import notifications_queue

pytestmark = pytest.mark.django_db


def test_unread_first_then_newest_each_with_its_link(as_user, users, referred_case, django_capture_on_commit_callbacks):
    me = users["worker_bosai"]
    old_unread, new_read, newest_unread = (
        notifications_queue(recipients=[me], kind="referral_accept", title=title, case_id=referred_case.pk)[0]
        for title in ("古い未読", "新しい既読", "最新の未読")
    )
    now = timezone.now()
    Notification.objects.filter(pk=old_unread.pk).update(created_at=now - timedelta(days=3))
    Notification.objects.filter(pk=new_read.pk).update(created_at=now - timedelta(hours=1), read_at=now)
    Notification.objects.filter(pk=newest_unread.pk).update(created_at=now)

    html = as_user("worker_bosai").get("/notifications/").content.decode()

    positions = [html.index(t) for t in ("最新の未読", "古い未読", "新しい既読")]
    assert positions == sorted(positions)
    assert html.count(f'value="/cases/{referred_case.pk}/"') == 3  # 開く leads to the case


def test_mark_one_then_all_read(as_user, users, django_capture_on_commit_callbacks):
    me = users["worker_bosai"]
    rows = [notifications_queue(recipients=[me], kind="disaster_opened", title=f"通知{n}")[0] for n in range(3)]
    client = as_user("worker_bosai")

    response = client.post("/notifications/read/", {"notification_id": rows[0].pk})
    assert response.status_code == 302 and response["Location"] == "/notifications/"
    assert Notification.objects.filter(recipient=me, read_at__isnull=True).count() == 2

    # An id that is not one marks nothing (it is not "all"), whatever the database: 2**64 overflowed SQLite.
    for bad in ("abc", "0", "-3", str(2**63), str(2**64)):
        response = client.post("/notifications/read/", {"notification_id": bad}, follow=True)
        assert response.status_code == 200 and "通知の指定が正しくありません。" in response.content.decode(), bad
        assert Notification.objects.filter(recipient=me, read_at__isnull=True).count() == 2, bad

    # Someone else's id changes nothing.
    as_user("worker_health").post("/notifications/read/", {"notification_id": rows[1].pk})
    assert Notification.objects.get(pk=rows[1].pk).read_at is None

    response = client.post("/notifications/read/", {}, follow=True)
    assert "2件を既読にしました。" in response.content.decode()
    assert not Notification.objects.filter(recipient=me, read_at__isnull=True).exists()
    assert rows[0].get_absolute_url() == "/disaster/"  # a notification about no case opens its kind's page
