"""The watch-request pages (issue 19): staff ask from the case page; a connector's home lists their
district's requests and nothing of the case; a report in a few taps lands on the case page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from referral_engine.cases.models import WatchReport, WatchRequest
from referral_engine.cases.services.records import activity_add
from referral_engine.cases.services.watch import watch_request_close, watch_request_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def case(open_case):
    return open_case("worker_welfare")


@pytest.fixture
def watch(users, fresh, case):
    return watch_request_create(
        case_id=case.pk,
        actor=fresh(users["worker_welfare"]),
        district="kawakami",
        what_to_watch="夜に明かりがつくか見てください",
        basis="vital_interest",
        justification="電話に出ない日が続く",
        until=timezone.localdate() + timedelta(days=30),
    )


def test_staff_ask_from_the_case_page(client, users, case):
    client.force_login(users["worker_welfare"])
    page = client.get(f"/cases/{case.pk}/")
    assert "地区に見守りを依頼する" in page.content.decode()
    bad = client.post(
        f"/cases/{case.pk}/watch-requests/",
        {
            "watch-district": "kawakami",
            "watch-what_to_watch": "様子",
            "watch-until": timezone.localdate().isoformat(),
            "watch-basis": "consent",
        },
    )
    assert bad.status_code == 400 and not WatchRequest.objects.exists()
    assert "この地区を含む同意の記録がありません" in bad.content.decode()
    good = client.post(
        f"/cases/{case.pk}/watch-requests/",
        {
            "watch-district": "kawakami",
            "watch-what_to_watch": "様子",
            "watch-until": (timezone.localdate() + timedelta(days=10)).isoformat(),
            "watch-basis": "support_meeting",
            "watch-justification": "支援会議で合意",
        },
    )
    assert good.status_code == 302 and WatchRequest.objects.get().district.code == "kawakami"


def test_connector_home_lists_the_request_and_nothing_of_the_case(client, users, fresh, case, watch):
    activity_add(case_id=case.pk, actor=fresh(users["worker_welfare"]), kind="call", body="家族の借金の話")
    client.force_login(users["minsei_kawakami"])
    body = client.get("/").content.decode()
    assert case.person.full_name in body and "夜に明かりがつくか見てください" in body
    assert case.person.address in body
    for secret in (case.summary, "家族の借金の話", "電話に出ない日が続く", case.number):
        assert secret not in body
    client.force_login(users["minsei_aoe"])
    other = client.get("/").content.decode()
    assert case.person.full_name not in other and "いまお願いしている見守りはありません" in other
    assert client.get(f"/watch/{watch.pk}/").status_code == 404


def test_a_report_in_a_few_taps_reaches_the_case_page(client, users, case, watch):
    client.force_login(users["minsei_kawakami"])
    page = client.get(f"/watch/{watch.pk}/").content.decode()
    assert "夜に明かりがつくか見てください" in page and case.summary not in page
    missing = client.post(f"/watch/{watch.pk}/", {"note": "x"})
    assert missing.status_code == 400 and not WatchReport.objects.exists()
    sent = client.post(f"/watch/{watch.pk}/", {"outcome": "concern", "note": "咳がひどい"})
    assert sent.status_code == 302 and sent.url == "/"
    client.force_login(users["worker_welfare"])
    case_page = client.get(f"/cases/{case.pk}/").content.decode()
    assert "気になることがある" in case_page and "咳がひどい" in case_page
    assert "見守りの報告" in case_page  # the timeline


def test_after_close_the_connector_gets_404_and_the_record_stays(client, users, fresh, case, watch):
    watch_request_close(watch_request_id=watch.pk, actor=fresh(users["worker_welfare"]))
    client.force_login(users["minsei_kawakami"])
    assert client.get(f"/watch/{watch.pk}/").status_code == 404
    assert "夜に明かりがつくか" not in client.get("/").content.decode()
    client.force_login(users["worker_welfare"])
    assert "夜に明かりがつくか見てください" in client.get(f"/cases/{case.pk}/").content.decode()
