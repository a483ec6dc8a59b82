"""What each reader gets: sensitive data never reaches a limited viewer or a connector (DESIGN §4,
issue 5), connectors learn only the status of their own slips, and every case view and search
through the API is in the access log (DESIGN §6)."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone

from referral_engine.audit.models import AccessLog
from tests.api.conftest import SECRET
from tests.api.routes import ROUTES


def _household_of_the_case(world) -> int:
    """A household of the case's person (flagged ひきこもり) and the slip's person (issue 17)."""
    from referral_engine.accounts.models import User
    from referral_engine.cases.models import HouseholdMember
    from referral_engine.cases.services.households import household_create

    link = HouseholdMember.objects.filter(person_id=world.case.person_id).first()
    if link is not None:
        return link.household_id
    return household_create(
        actor=User.objects.get(username="desk_welfare"),
        members=[
            {"person_id": world.case.person_id, "relation": "self"},
            {"person_id": world.slip.case.person_id, "relation": "child", "without_work": True},
        ],
        reason="同居の確認",
    ).pk


def _readable_urls(world) -> list[str]:
    ids = {
        "api-household": _household_of_the_case(world),
        "api-case": world.case.pk,
        "api-case-transitions": world.case.pk,
        "api-case-referrals": world.case.pk,
        "api-case-activities": world.case.pk,
        "api-case-consents": world.case.pk,
        "api-case-history": world.case.pk,
        "api-case-followups": world.case.pk,
        "api-case-watch-requests": world.case.pk,
        "api-referral": world.requested.pk,
        "api-referral-transitions": world.requested.pk,
        # The disaster over kawakami: its checks carry name and address, never a flag or the case.
        "api-disaster": world.disaster.pk,
        "api-disaster-board": world.disaster.pk,
        "api-disaster-checks": world.disaster.pk,
    }
    urls = []
    for route in ROUTES:
        if "GET" not in route.methods:
            continue
        if "{id}" in route.path:
            urls.append(route.url(id=ids[route.name]))
        elif "{year}" in route.path:  # the fiscal-year report: aggregate counts only
            urls.append(route.url(year=timezone.localdate().year))
        else:
            urls.append(route.url())
    urls += ["/api/v1/persons/?q=ツクミ", "/api/v1/referrals/?inbox=true", f"/api/v1/referrals/{world.accepted.pk}/"]
    return urls


@pytest.mark.parametrize(
    "username",
    ["worker_longevity", "chief_longevity", "worker_bosai", "worker_shakyo", "minsei_kawakami", "minsei_aoe", "admin"],
)
def test_no_sensitive_text_or_flag_reaches_a_limited_reader(world, client_for, username):
    from referral_engine.accounts.models import User
    from referral_engine.cases.services.followups import followup_create

    # A follow-up's note is free text about the person too (issue 18).
    followup_create(
        case_id=world.case.pk,
        actor=User.objects.get(username="worker_welfare"),
        due_on=timezone.localdate(),
        note=SECRET,
    )
    client = client_for(username)
    for url in _readable_urls(world):
        response = client.get(url)
        text = json.dumps(response.json(), ensure_ascii=False)
        assert SECRET not in text, (username, url)
        assert "hikikomori" not in text, (username, url)


def test_full_viewers_do_see_them(world, client_for):
    case = client_for("worker_health").get(f"/api/v1/cases/{world.case.pk}/").json()
    assert case["access"] == "full"
    assert set(case["person"]["flags"]) == {"lives_alone", "hikikomori"}
    activities = client_for("worker_health").get(f"/api/v1/cases/{world.case.pk}/activities/").json()["results"]
    assert [(a["body"], a["masked"]) for a in activities] == [(SECRET, False)]


def test_a_limited_viewer_sees_the_summary_and_a_masked_record(world, client_for):
    client = client_for("worker_longevity")
    case = client.get(f"/api/v1/cases/{world.case.pk}/").json()
    assert case["access"] == "limited"
    assert case["summary"] == world.case.summary
    assert case["person"]["flags"] == ["lives_alone"]
    activities = client.get(f"/api/v1/cases/{world.case.pk}/activities/").json()["results"]
    assert [(a["body"], a["sensitive"], a["masked"]) for a in activities] == [("", True, True)]
    referral = client.get(f"/api/v1/referrals/{world.accepted.pk}/").json()
    assert referral["record"] is None


def test_a_connector_sees_only_id_date_and_status_of_own_slips(world, client_for):
    mine = client_for("minsei_kawakami").get("/api/v1/community-slips/").json()
    assert mine["count"] == 1
    assert mine["results"] == [
        {"id": world.slip.pk, "created_at": mine["results"][0]["created_at"], "status": "received"}
    ]
    assert client_for("minsei_aoe").get("/api/v1/community-slips/").json()["count"] == 0
    assert client_for("minsei_kawakami").get(f"/api/v1/cases/{world.slip.case_id}/").status_code == 404
    posted = client_for("minsei_aoe").post(
        "/api/v1/community-slips/", {"concern": "雨戸が閉まったまま。", "urgency": "urgent"}, format="json"
    )
    assert posted.status_code == 201
    assert set(posted.json()) == {"id", "created_at", "status"}


def test_case_lists_only_what_i_may_see(world, client_for):
    def ids(username: str) -> set[int]:
        return {c["id"] for c in client_for(username).get("/api/v1/cases/?page_size=200").json()["results"]}

    assert world.case.pk in ids("worker_longevity")
    assert world.case.pk not in ids("worker_shakyo")
    assert world.case.pk not in ids("worker_bosai")  # declined: the department lost the case
    assert client_for("minsei_kawakami").get("/api/v1/cases/").status_code == 403
    assert client_for("admin").get("/api/v1/cases/").status_code == 403
    assert {world.case.pk, world.other_case.pk, world.slip.case_id} <= ids("auditor")


def test_case_list_filters(world, client_for):
    client = client_for("chief_welfare")

    def numbers(query: str) -> set[str]:
        response = client.get(f"/api/v1/cases/{query}")
        assert response.status_code == 200, response.json()
        return {c["number"] for c in response.json()["results"]}

    assert numbers("?risk=high") == {world.case.number}
    assert numbers("?department=health_promotion") == {world.case.number, world.other_case.number}
    assert numbers("?state=received&stalled=false") == {
        world.case.number,
        world.other_case.number,
        world.slip.case.number,
    }
    assert numbers("?stalled=true") == set()
    assert numbers(f"?q={world.case.number}") == {world.case.number}
    assert client.get("/api/v1/cases/?state=nonsense").status_code == 400
    assert client.get("/api/v1/cases/?stalled=maybe").status_code == 400
    assert client.get("/api/v1/cases/?page=99").status_code == 404
    page = client.get("/api/v1/cases/?page_size=1").json()
    assert page["count"] == 3 and len(page["results"]) == 1 and page["next"]


def test_inbox_lists_handoffs_waiting_for_my_department(world, client_for):
    inbox = client_for("worker_longevity").get("/api/v1/referrals/?inbox=true").json()["results"]
    assert {r["id"] for r in inbox} == {world.requested.pk, world.other_referral.pk}
    assert all(r["state"] == "requested" for r in inbox)
    assert client_for("worker_health").get("/api/v1/referrals/?inbox=true").json()["results"] == []


def test_every_case_view_and_search_is_logged(world, client_for, api_users):
    client = client_for("worker_health")
    start = _last_log_id()
    client.get(f"/api/v1/cases/{world.case.pk}/")
    client.get("/api/v1/cases/?risk=high&stalled=false")
    client.get("/api/v1/persons/?q=ツクミ")
    client.get("/api/v1/referrals/?inbox=true")
    rows = list(
        AccessLog.objects.filter(id__gt=start)
        .order_by("id")
        .values("username", "action", "object_type", "case_id", "query", "via")
    )
    assert [(r["action"], r["object_type"], r["case_id"]) for r in rows] == [
        ("view", "case", world.case.pk),
        ("search", "case", None),
        ("search", "person", None),
        ("search", "referral", None),
    ]
    assert {r["username"] for r in rows} == {"worker_health"}
    assert {r["via"] for r in rows} == {"api"}
    assert json.loads(rows[1]["query"]) == {"risk": "high", "stalled": False}
    # The typed name is kept as its fingerprint (docs/audit.md#search-terms).
    from referral_engine.audit.services import search_term_fingerprint

    assert rows[2]["query"] == search_term_fingerprint("ツクミ") and "ツクミ" not in rows[2]["query"]


def test_a_hidden_case_is_not_logged_as_viewed(world, client_for):
    start = _last_log_id()
    assert client_for("worker_shakyo").get(f"/api/v1/cases/{world.case.pk}/").status_code == 404
    assert not AccessLog.objects.filter(id__gt=start, action="view").exists()


def _last_log_id() -> int:
    # The log is append-only (a trigger refuses DELETE on PostgreSQL): count from the last row.
    return AccessLog.objects.order_by("-id").values_list("id", flat=True).first() or 0
