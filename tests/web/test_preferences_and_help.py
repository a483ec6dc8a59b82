"""The user's settings page (mail preference, date style), the natural success messages and the help
page (issue 18, items 7 and 8)."""

from __future__ import annotations

import pytest

from referral_engine.accounts.preferences import user_preferences_set
from referral_engine.errors import Forbidden, InvalidInput

pytestmark = pytest.mark.django_db


def test_the_settings_page_saves_both_preferences(as_user, users):
    client = as_user("worker_health")
    page = client.get("/accounts/settings/")
    html = page.content.decode()
    assert page.status_code == 200
    assert 'value="daily_digest"' in html and 'value="western"' in html
    assert 'href="/accounts/settings/"' in client.get("/").content.decode()  # in the header

    response = client.post("/accounts/settings/", {"mail_preference": "daily_digest", "date_style": "western"})
    assert response.status_code == 302
    user = users["worker_health"]
    user.refresh_from_db()
    assert (user.mail_preference, user.date_style) == ("daily_digest", "western")
    assert "設定を保存しました。" in client.get("/accounts/settings/").content.decode()


def test_a_bad_value_is_a_field_error_and_nothing_is_saved(as_user, users):
    client = as_user("worker_health")
    response = client.post("/accounts/settings/", {"mail_preference": "hourly", "date_style": "western"})
    html = response.content.decode()
    assert response.status_code == 400
    assert 'id="id_mail_preference-errors"' in html or "field-errors" in html
    assert 'aria-invalid="true"' in html or "field-has-error" in html
    user = users["worker_health"]
    user.refresh_from_db()
    assert (user.mail_preference, user.date_style) == ("immediate", "wareki")


def test_the_service_refuses_someone_elses_settings_and_unknown_values(users):
    with pytest.raises(Forbidden):
        user_preferences_set(user=users["worker_health"], actor=users["admin"], mail_preference="off")
    with pytest.raises(InvalidInput) as exc:
        user_preferences_set(user=users["worker_health"], actor=users["worker_health"], date_style="R8")
    assert set(exc.value.fields) == {"date_style"}
    with pytest.raises(InvalidInput) as exc:
        user_preferences_set(user=users["worker_health"], actor=users["worker_health"], is_staff="1")
    assert set(exc.value.fields) == {"is_staff"}
    users["worker_health"].refresh_from_db()
    assert not users["worker_health"].is_staff


@pytest.mark.parametrize("username", ["worker_health", "chief_welfare", "auditor", "minsei_kawakami", "admin"])
def test_help_is_reachable_by_every_role_and_explains_the_levels(as_user, username):
    client = as_user(username)
    response = client.get("/help/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "L1 注意" in html and "L2 期限超過" in html and "L3 はざま" in html
    assert "予定" in html and "はざまは終わります" in html
    assert 'href="/help/"' in client.get("/").content.decode()


def test_the_dashboard_links_the_help(as_user):
    assert 'href="/help/"' in as_user("chief_welfare").get("/dashboard/").content.decode()


def test_success_messages_say_what_happened(as_user, referred_case):
    client = as_user("worker_health")
    referral = referred_case.referrals.get(to_department__code="health_promotion")
    response = client.post(f"/referrals/{referral.pk}/transition/", {"name": "accept"}, follow=True)
    html = response.content.decode()
    assert "健康推進課として受理しました。" in html
    assert "を実行しました" not in html

    response = client.post(f"/referrals/{referral.pk}/transition/", {"name": "record_home_visit"}, follow=True)
    assert "段階を「" in response.content.decode()

    desk = as_user("desk_welfare")
    response = desk.post(f"/cases/{referred_case.pk}/transition/", {"name": "start_assessment"}, follow=True)
    assert "アセスメントを始めました。" in response.content.decode()


def test_english_messages(as_user, referred_case):
    client = as_user("worker_health")
    client.cookies["django_language"] = "en"
    referral = referred_case.referrals.get(to_department__code="health_promotion")
    response = client.post(
        f"/referrals/{referral.pk}/transition/", {"name": "accept"}, follow=True, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert "Accepted as Health Promotion Section." in response.content.decode()
