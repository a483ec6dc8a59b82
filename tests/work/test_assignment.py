"""Issue 18 item 2: accepting assigns, "assign to me", the supervisor's reassign with each worker's
load, `?assigned=me` / `?lead=me`, and the "my cases" page."""

from __future__ import annotations

import pytest

from referral_engine.cases.choices import EventKind
from referral_engine.cases.models import CaseEvent, Referral
from referral_engine.cases.services.referrals import referral_assign, referral_transition
from referral_engine.errors import Forbidden, InvalidInput

pytestmark = pytest.mark.django_db

TO_LONGEVITY = [{"to_department": "longevity_support", "basis": "internal_use", "reason": "介護の相談"}]


@pytest.fixture
def waiting(open_case):
    """A case of the desk with a referral waiting for longevity_support."""
    return open_case("worker_welfare", referrals=TO_LONGEVITY).referrals.get()


def test_a_caseworker_who_accepts_is_assigned(waiting, users, fresh):
    referral_transition(referral_id=waiting.pk, name="accept", actor=fresh(users["worker_longevity"]))
    waiting.refresh_from_db()
    assert waiting.assigned_worker == users["worker_longevity"]
    assert waiting.history.first().assigned_worker_id == users["worker_longevity"].pk


def test_a_supervisor_who_accepts_leaves_it_to_assign(waiting, users, fresh):
    referral_transition(referral_id=waiting.pk, name="accept", actor=fresh(users["chief_longevity"]))
    waiting.refresh_from_db()
    assert waiting.assigned_worker is None


def test_accept_with_assign_to_names_the_worker(waiting, users, fresh):
    referral_transition(
        referral_id=waiting.pk, name="accept", actor=fresh(users["chief_longevity"]), assign_to="worker_longevity"
    )
    waiting.refresh_from_db()
    assert (waiting.state, waiting.assigned_worker) == ("accepted", users["worker_longevity"])


def test_a_caseworker_may_not_accept_for_someone_else_and_nothing_is_saved(waiting, users, fresh):
    with pytest.raises(Forbidden):
        referral_transition(
            referral_id=waiting.pk, name="accept", actor=fresh(users["worker_longevity"]), assign_to="chief_longevity"
        )
    waiting.refresh_from_db()
    assert (waiting.state, waiting.assigned_worker) == ("requested", None)


def test_assign_to_outside_the_department_is_a_field_error(waiting, users, fresh):
    with pytest.raises(InvalidInput) as error:
        referral_transition(
            referral_id=waiting.pk, name="accept", actor=fresh(users["chief_longevity"]), assign_to="worker_health"
        )
    assert "assign_to" in error.value.fields
    assert Referral.objects.get(pk=waiting.pk).state == "requested"


def test_assign_to_me_takes_an_unassigned_referral_once(waiting, users, fresh):
    referral_assign(
        referral_id=waiting.pk, actor=fresh(users["worker_longevity"]), worker_id=users["worker_longevity"].pk
    )
    waiting.refresh_from_db()
    assert waiting.assigned_worker == users["worker_longevity"]
    event = CaseEvent.objects.filter(case=waiting.case, kind=EventKind.REFERRAL_ASSIGNED).get()
    assert event.data["worker"] == "worker_longevity"
    # Once somebody holds it, another caseworker cannot take it from them; the supervisor can.
    from referral_engine.accounts.models import Department, Membership

    other = users["worker_health"]
    membership = Membership.objects.create(
        user=other, department=Department.objects.get(code="longevity_support"), role="caseworker"
    )
    # A long-standing member (the staff-move rule would otherwise hide the department's older work).
    Membership.objects.filter(pk=membership.pk).update(started_at=waiting.created_at.replace(year=2020))
    with pytest.raises(Forbidden):
        referral_assign(referral_id=waiting.pk, actor=fresh(other), worker_id=other.pk)
    referral_assign(referral_id=waiting.pk, actor=fresh(users["chief_longevity"]), worker_id=other.pk)
    assert Referral.objects.get(pk=waiting.pk).assigned_worker == other


def test_api_accept_assigns_and_the_filters_find_it(waiting, users, client):
    client.force_login(users["worker_longevity"])
    response = client.post(f"/api/v1/referrals/{waiting.pk}/transitions/accept/", {}, content_type="application/json")
    assert response.status_code == 200
    assert response.json()["assigned_worker"]["username"] == "worker_longevity"
    mine = client.get("/api/v1/referrals/?assigned=me").json()
    assert [r["id"] for r in mine["results"]] == [waiting.pk]
    cases = client.get("/api/v1/cases/?assigned=me").json()
    assert [c["id"] for c in cases["results"]] == [waiting.case_id]
    assert client.get("/api/v1/referrals/?assigned=someone").status_code == 400
    client.force_login(users["chief_longevity"])
    assert client.get("/api/v1/referrals/?assigned=me").json()["results"] == []


def test_api_assign_endpoint(waiting, users, client):
    client.force_login(users["chief_longevity"])
    url = f"/api/v1/referrals/{waiting.pk}/assign/"
    response = client.post(url, {"worker": "worker_longevity"}, content_type="application/json")
    assert response.status_code == 200
    assert response.json()["assigned_worker"]["username"] == "worker_longevity"
    bad = client.post(url, {"worker": "worker_health"}, content_type="application/json")
    assert bad.status_code == 400 and "worker" in bad.json()["fields"]
    assert client.post(url, {}, content_type="application/json").status_code == 400
    response = client.post(url, {"worker": None}, content_type="application/json")
    assert response.status_code == 200 and response.json()["assigned_worker"] is None


def test_lead_me_filter(open_case, users, client, fresh):
    from referral_engine.cases.services.case_state import case_lead_change

    led = open_case("desk_welfare")  # a front-desk intake names no lead worker
    open_case("desk_welfare")
    case_lead_change(case_id=led.pk, actor=fresh(users["chief_welfare"]), lead_worker_id=users["worker_welfare"].pk)
    client.force_login(users["worker_welfare"])
    assert [c["id"] for c in client.get("/api/v1/cases/?lead=me").json()["results"]] == [led.pk]
    page = client.get("/cases/?lead=me")
    assert page.status_code == 200 and led.number in page.content.decode()
    assert [c.pk for c in page.context["cases"]] == [led.pk]


def test_my_cases_page_lists_assigned_referrals_and_led_cases(waiting, users, client, fresh):
    referral_transition(referral_id=waiting.pk, name="accept", actor=fresh(users["worker_longevity"]))
    client.force_login(users["worker_longevity"])
    page = client.get("/cases/mine/")
    assert page.status_code == 200
    assert [r.pk for r, _badges, _facts in page.context["assigned"]] == [waiting.pk]
    client.force_login(users["worker_health"])
    assert client.get("/cases/mine/").context["assigned"] == []


def test_the_web_assign_to_me_button_and_the_supervisors_loads(waiting, users, client, fresh):
    client.force_login(users["worker_longevity"])
    page = client.get(f"/cases/{waiting.case_id}/").content.decode()
    assert "自分が担当する" in page
    response = client.post(f"/referrals/{waiting.pk}/assign/", {"me": "1"})
    assert response.status_code == 302
    assert Referral.objects.get(pk=waiting.pk).assigned_worker == users["worker_longevity"]
    assert "自分が担当する" not in client.get(f"/cases/{waiting.case_id}/").content.decode()
    client.force_login(users["chief_longevity"])
    page = client.get(f"/cases/{waiting.case_id}/").content.decode()
    # worker_longevity now holds one open referral: the supervisor's choice says so.
    assert "担当中のつなぎ 1 件" in page
