"""`GET /api/v1/notifications/` (mine, unread first), `POST /api/v1/notifications/{id}/read/` and
`GET`/`PATCH /api/v1/me/preferences/` (DESIGN §11.3, issue 18 item 7)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from referral_engine.notifications.models import Notification
from referral_engine.notifications.services import notifications_queue

pytestmark = pytest.mark.django_db


@pytest.fixture
def api_as(users):
    def _client(username: str) -> APIClient:
        client = APIClient()
        client.force_authenticate(users[username])
        return client

    return _client


def test_my_notifications_unread_first_and_mark_one_read(api_as, users, django_capture_on_commit_callbacks):
    me = users["worker_bosai"]
    old, new = (notifications_queue(recipients=[me], kind="disaster_opened", title=t)[0] for t in ("古い", "新しい"))
    Notification.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=1))
    Notification.objects.filter(pk=new.pk).update(read_at=timezone.now())
    client = api_as("worker_bosai")

    body = client.get("/api/v1/notifications/").json()
    assert [n["title"] for n in body["results"]] == ["古い", "新しい"]  # the older one is unread
    assert body["results"][0]["url"] == "/disaster/" and body["results"][0]["read_at"] is None

    response = client.post(f"/api/v1/notifications/{old.pk}/read/", format="json")
    assert response.status_code == 200 and response.json()["read_at"] is not None
    assert api_as("worker_health").post(f"/api/v1/notifications/{new.pk}/read/", format="json").status_code == 404


def test_preferences_read_and_change_with_a_field_error_for_a_bad_value(api_as, users):
    client = api_as("worker_health")
    assert client.get("/api/v1/me/preferences/").json() == {"mail_preference": "immediate", "date_style": "wareki"}

    response = client.patch("/api/v1/me/preferences/", {"mail_preference": "daily_digest"}, format="json")
    assert response.status_code == 200
    assert response.json() == {"mail_preference": "daily_digest", "date_style": "wareki"}

    response = client.patch("/api/v1/me/preferences/", {"date_style": "R8"}, format="json")
    assert response.status_code == 400 and "date_style" in response.json()["fields"]
    users["worker_health"].refresh_from_db()
    assert (users["worker_health"].mail_preference, users["worker_health"].date_style) == ("daily_digest", "wareki")
