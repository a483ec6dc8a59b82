"""seed_demo's cases come with watch requests (issue 19), so the connector's home and the case page
have something to show in a fresh demo."""

from __future__ import annotations

import pytest
from django.test import Client

from referral_engine.accounts.demo import demo_cases_ensure
from referral_engine.cases.models import WatchRequest

pytestmark = pytest.mark.django_db


def test_the_demo_holds_open_watch_requests_with_a_report(users):
    assert demo_cases_ensure() >= 2
    requests = {w.district.code: w for w in WatchRequest.objects.select_related("district")}
    assert set(requests) == {"kawakami", "aoe"}
    assert requests["kawakami"].reports.count() == 1 and requests["aoe"].reports.count() == 0
    client = Client(HTTP_ACCEPT_LANGUAGE="ja")
    client.force_login(users["minsei_kawakami"])
    assert f"/watch/{requests['kawakami'].pk}/" in client.get("/").content.decode()
    assert client.get(f"/watch/{requests['aoe'].pk}/").status_code == 404  # another district's
