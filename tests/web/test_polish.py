"""Issue 16 §7: the app's own Japanese 404/403 pages even with DEBUG on (Django's technical page with
the URL list only for the admin); labels, not codes or raw JSON, in the admin's case records;
`GET /api/v1/` points at the docs, linked from the UI for staff; /healthz says `starting` until the
first timer sweep has run."""

from __future__ import annotations

import pytest
from django.test import Client

from referral_engine.accounts.models import User
from referral_engine.timers.sweep import timers_sweep_due

pytestmark = pytest.mark.django_db

TECHNICAL = "Using the URLconf defined in"


# --- Error pages with DEBUG on -----------------------------------------------------------------


@pytest.mark.parametrize("path", ["/audit/", "/no-such-page/", "/cases/999999/"])
@pytest.mark.parametrize("username", ["minsei_kawakami", "worker_welfare", "chief_welfare"])
def test_a_404_with_debug_on_is_the_apps_japanese_page(as_user, settings, username, path):
    settings.DEBUG = True
    response = as_user(username).get(path)
    assert response.status_code == 404
    body = response.content.decode()
    assert TECHNICAL not in body and "urlpatterns" not in body.lower()
    assert "見つかりません" in body


def test_the_admin_still_gets_the_technical_404_with_debug_on(as_user, settings):
    settings.DEBUG = True
    response = as_user("admin").get("/no-such-page/")
    assert response.status_code == 404 and TECHNICAL in response.content.decode()


def test_with_debug_off_nobody_gets_the_technical_page(as_user):
    response = as_user("admin").get("/no-such-page/")
    assert response.status_code == 404 and TECHNICAL not in response.content.decode()


def test_a_403_with_debug_on_is_the_apps_japanese_page(as_user, settings):
    settings.DEBUG = True
    response = as_user("minsei_kawakami").get("/cases/")
    assert response.status_code == 403
    body = response.content.decode()
    assert "Traceback" not in body and "PermissionDenied" not in body
    assert "権限" in body or "許可" in body


def test_api_404s_stay_json_with_debug_on(as_user, settings):
    settings.DEBUG = True
    response = as_user("minsei_kawakami").get("/api/v1/nothing/")
    assert response.status_code == 404 and response.json()["error"] == "not_found"


# --- The admin shows labels ------------------------------------------------------------------


def test_the_admin_shows_labels_for_needs_flags_recipients_and_stages(as_user, open_case):
    case = open_case(
        needs=["isolation", "health"],
        referrals=[{"to_department": "health_promotion", "basis": "internal_use", "reason": "訪問"}],
    )
    client = as_user("admin")
    page = client.get(f"/admin/cases/case/{case.pk}/change/").content.decode()
    assert "孤独・孤立" in page and "健康" in page
    assert '"isolation"' not in page and "[&quot;isolation" not in page
    person = client.get(f"/admin/cases/person/{case.person_id}/change/").content.decode()
    assert "lives_alone" not in person
    referral = case.referrals.get()
    from referral_engine.cases.services.records import stage_record_update
    from referral_engine.cases.services.referrals import referral_transition

    referral_transition(referral_id=referral.pk, name="accept", actor=User.objects.get(username="worker_health"))
    referral_page = client.get(f"/admin/cases/referral/{referral.pk}/change/").content.decode()
    assert "段階" in referral_page and "visit_arranging" not in referral_page
    record = stage_record_update(
        referral_id=referral.pk,
        actor=User.objects.get(username="worker_health"),
        data={"visited_by": "保健師A", "outcome": "family_only", "visit_date": "2026-01-05"},
    )
    record_page = client.get(f"/admin/cases/stagerecord/{record.pk}/change/").content.decode()
    assert "訪問の結果: 家族のみと面会した" in record_page and "family_only" not in record_page
    from referral_engine.cases.services.records import consent_record

    consent = consent_record(
        case_id=case.pk,
        actor=User.objects.get(username="desk_welfare"),
        recipients=["shakyo"],
        purposes="生活支援",
        method="written",
    )
    consent_page = client.get(f"/admin/cases/consent/{consent.pk}/change/").content.decode()
    assert "社会福祉協議会" in consent_page or "社協" in consent_page
    assert "[&quot;shakyo&quot;]" not in consent_page


# --- /api/v1/ and the docs link ---------------------------------------------------------------


def test_api_root_points_at_the_docs_in_json():
    response = Client().get("/api/v1/")
    assert response.status_code == 200
    body = response.json()
    assert body["docs"] == "/api/docs/" and body["schema"] == "/api/schema/"
    assert Client().get(body["docs"]).status_code == 200


@pytest.mark.parametrize(
    "username, linked",
    [("desk_welfare", True), ("chief_health", True), ("auditor", True), ("admin", True), ("minsei_kawakami", False)],
)
def test_the_ui_links_the_api_docs_for_staff_only(as_user, username, linked):
    page = as_user(username).get("/notifications/").content.decode()
    assert ('href="/api/docs/"' in page) is linked
    # Every user has the password page and their tokens in the user menu.
    assert 'href="/accounts/password/"' in page and 'href="/accounts/tokens/"' in page


# --- /healthz ------------------------------------------------------------------------------------


def test_healthz_says_starting_until_the_first_sweep_then_ok(client):
    before = client.get("/healthz")
    assert before.status_code == 200
    assert before.json()["status"] == "starting"
    assert before.json()["checks"]["sweep"]["last_success"] is None
    timers_sweep_due()
    after = client.get("/healthz")
    assert after.status_code == 200 and after.json()["status"] == "ok"
