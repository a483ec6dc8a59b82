"""GET /api/v1/audit/access-log/ (auditors only, 403 otherwise) and GET /api/v1/cases/{id}/history/
(those who may read the case's history; 404 otherwise), both logged; the schema describes them."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.audit.urls")]

ACCESS_LOG = "/api/v1/audit/access-log/"


def history_url(case_id: int) -> str:
    return f"/api/v1/cases/{case_id}/history/"


@pytest.fixture
def api(users):
    def _api(name: str) -> APIClient:
        client = APIClient()
        client.force_authenticate(users[name])
        return client

    return _api


@pytest.fixture
def case(open_case, users, fresh):
    from referral_engine.cases.services.referrals import referral_create, referral_transition

    case = open_case()
    referral = referral_create(
        case_id=case.pk,
        actor=fresh(users["worker_welfare"]),
        to_department="health_promotion",
        basis="internal_use",
        reason="訪問を",
    )
    referral_transition(referral_id=referral.pk, name="accept", actor=fresh(users["worker_health"]))
    return case


@pytest.mark.parametrize("who", ["desk_welfare", "worker_welfare", "chief_welfare", "minsei", "admin"])
def test_access_log_is_403_for_non_auditors(who, api):
    response = api(who).get(ACCESS_LOG)
    assert response.status_code == 403
    assert "error" in response.json()  # the API's one error shape


def test_access_log_requires_authentication():
    assert APIClient().get(ACCESS_LOG).status_code in (401, 403)


def test_access_log_filters_and_names_users(api, users, case, fresh):
    from referral_engine.cases.selectors import case_get_for_user

    case_get_for_user(fresh(users["worker_health"]), case.pk, via="api")
    client = api("auditor")
    body = client.get(ACCESS_LOG, {"case": case.pk, "user": "au_worker_health"}).json()
    assert body["count"] == 1
    entry = body["results"][0]
    assert (entry["username"], entry["display_name"], entry["action"], entry["case_id"]) == (
        "au_worker_health",
        "健康 次郎",
        "view",
        case.pk,
    )
    by_id = client.get(ACCESS_LOG, {"user": users["worker_health"].pk}).json()
    assert [e["username"] for e in by_id["results"]] == ["au_worker_health"]
    from django.utils import timezone

    today = timezone.localdate().isoformat()
    assert client.get(ACCESS_LOG, {"since": today, "until": today, "user": "au_worker_health"}).json()["count"] == 1
    assert client.get(ACCESS_LOG, {"until": "2001-01-01"}).json()["count"] == 0


def test_access_log_rejects_bad_dates_with_the_error_shape(api):
    response = api("auditor").get(ACCESS_LOG, {"since": "yesterday"})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid"
    assert "since" in response.json()["fields"]


def test_reading_the_access_log_through_the_api_is_logged(api, users):
    from referral_engine.audit.models import AccessLog

    api("auditor").get(ACCESS_LOG, {"user": "au_desk_welfare"})
    log = AccessLog.objects.filter(user=users["auditor"]).latest("id")
    assert (log.action, log.object_type, log.via) == ("search", "access_log", "api")
    assert "au_desk_welfare" in log.query


def test_auditors_get_403_on_writes(api, case):
    client = api("auditor")
    for url in (ACCESS_LOG, history_url(case.pk)):
        assert client.post(url, {}).status_code == 403
        assert client.delete(url).status_code == 403


def test_case_history_for_auditors_and_full_viewers_with_changes_users_and_reasons(api, users, case):
    from referral_engine.audit.models import AccessLog

    for who in ("auditor", "worker_welfare", "worker_health", "chief_welfare"):
        response = api(who).get(history_url(case.pk))
        assert response.status_code == 200, who
        entries = response.json()["results"]
        accepted = next(
            e for e in entries if e["source"] == "history" and any(c["new"] == "受理" for c in e["changes"])
        )
        assert accepted["user"] == {
            "id": users["worker_health"].pk,
            "username": "au_worker_health",
            "display_name": "健康 次郎",
        }
        assert accepted["reason"] == "accept"
        # The labels, and beside them the stored values (issue 16 item 6).
        assert {
            "field": "state",
            "label": "状態",
            "old": "依頼中",
            "new": "受理",
            "old_value": "requested",
            "new_value": "accepted",
        } in accepted["changes"]
        assert accepted["reason_label"] == "受理" and accepted["case_number"] == case.number
        log = AccessLog.objects.filter(user=users[who]).latest("id")
        assert (log.action, log.object_type, log.case_id, log.via) == ("view", "case", case.pk, "api")


@pytest.mark.parametrize("who", ["worker_longevity", "worker_shakyo", "minsei", "admin"])
def test_case_history_is_404_for_those_who_may_not_read_it(who, api, case, users):
    from referral_engine.audit.models import AccessLog

    before = AccessLog.objects.count()
    assert api(who).get(history_url(case.pk)).status_code == 404
    assert api(who).get(history_url(999999)).status_code == 404
    # No view is logged; both attempts are, as denied reads (issue 16 item 6).
    logged = list(AccessLog.objects.order_by("id")[before:].values_list("action", "object_type", "object_id"))
    assert logged == [("denied", "case", case.pk), ("denied", "case", 999999)]


def test_schema_describes_both_endpoints(api):
    response = api("auditor").get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    access = schema["paths"]["/api/v1/audit/access-log/"]["get"]
    assert {p["name"] for p in access["parameters"]} >= {"case", "user", "since", "until", "page"}
    history = schema["paths"]["/api/v1/cases/{id}/history/"]["get"]
    assert [p["schema"]["type"] for p in history["parameters"] if p["in"] == "path"] == ["integer"]
    ref = history["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
    results = schema["components"]["schemas"][ref]["properties"]["results"]["items"]["$ref"].split("/")[-1]
    props = schema["components"]["schemas"][results]["properties"]
    assert {"at", "source", "changes", "user", "reason", "summary"} <= set(props)


def test_a_limited_viewer_sees_the_case_but_not_its_history(api, users, case, fresh):
    """A department whose referral is only requested sees a summary (LIMITED), not the history."""
    from referral_engine.access import policy
    from referral_engine.cases.services.referrals import referral_create

    referral_create(
        case_id=case.pk,
        actor=fresh(users["worker_welfare"]),
        to_department="longevity_support",
        basis="internal_use",
        reason="介護の相談",
    )
    worker = fresh(users["worker_longevity"])
    assert policy.can_view_case(worker, case) and not policy.can_view_history(worker, case)
    assert api("worker_longevity").get(history_url(case.pk)).status_code == 404
