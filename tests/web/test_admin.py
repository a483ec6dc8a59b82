"""The Django admin: only the admin role gets in; master data is edited through the services
(memberships sync groups); case records are read-only and opening one is access-logged."""

from __future__ import annotations

import pytest

from referral_engine.access import policy
from referral_engine.accounts.models import Department, District, Membership, User
from referral_engine.audit.models import AccessLog

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("username", ["desk_welfare", "chief_welfare", "auditor", "minsei_kawakami"])
def test_only_the_admin_role_enters_the_admin(as_user, username):
    response = as_user(username).get("/admin/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_is_staff_alone_does_not_open_the_admin(as_user, users):
    users["chief_welfare"].is_staff = True
    users["chief_welfare"].save(update_fields=["is_staff"])
    assert as_user("chief_welfare").get("/admin/").status_code == 302


def test_admin_pages_render_in_japanese(as_user, referred_case):
    client = as_user("admin")
    index = client.get("/admin/").content.decode()
    assert "部署・団体" in index and "利用者" in index and "ケース" in index
    for url in [
        "/admin/accounts/user/",
        "/admin/accounts/department/",
        "/admin/accounts/district/",
        "/admin/accounts/membership/",
        "/admin/cases/case/",
        "/admin/cases/referral/",
        "/admin/cases/person/",
        "/admin/cases/activity/",
        "/admin/cases/caseevent/",
        "/admin/cases/communityslip/",
        "/admin/cases/consent/",
        f"/admin/accounts/user/{User.objects.get(username='worker_health').pk}/change/",
        "/admin/accounts/department/add/",
    ]:
        assert client.get(url).status_code == 200, url


def test_case_records_are_read_only_and_their_reads_are_logged(as_user, referred_case):
    client = as_user("admin")
    assert client.get("/admin/cases/case/add/").status_code == 403
    response = client.get(f"/admin/cases/case/{referred_case.pk}/change/")
    assert response.status_code == 200
    assert 'name="_save"' not in response.content.decode()
    log = AccessLog.objects.get(action="view", via="admin")
    assert log.case_id == referred_case.pk and log.username == "admin"
    response = client.post(f"/admin/cases/case/{referred_case.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403


def test_a_new_department_gets_its_group(as_user):
    client = as_user("admin")
    response = client.post(
        "/admin/accounts/department/add/",
        {"code": "school", "name_ja": "教育委員会", "name_en": "Board of Education", "kind": "city", "is_active": "on"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    department = Department.objects.get(code="school")
    assert department.group.name == "dept:school"


def test_a_new_district_gets_its_group(as_user):
    client = as_user("admin")
    response = client.post(
        "/admin/accounts/district/add/",
        {"code": "sekizaki", "name": "関崎地区", "name_kana": "セキザキ", "is_active": "on"},
    )
    assert response.status_code == 302
    assert District.objects.get(code="sekizaki").group.name == "district:sekizaki"


def test_membership_started_and_ended_in_the_admin_moves_the_groups(as_user, users, org):
    client = as_user("admin")
    worker = users["worker_bosai"]
    response = client.post(
        "/admin/accounts/membership/add/",
        {"user": worker.pk, "role": "caseworker", "department": org["health_promotion"].pk},
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    fresh = User.objects.get(pk=worker.pk)
    assert org["health_promotion"].pk in policy.principal(fresh).department_ids
    assert fresh.groups.filter(pk=org["health_promotion"].group_id).exists()

    membership = Membership.objects.get(user=worker, department=org["health_promotion"])
    response = client.post(
        f"/admin/accounts/membership/{membership.pk}/change/",
        {"ended_at_0": "2026-01-01", "ended_at_1": "09:00:00"},
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    fresh = User.objects.get(pk=worker.pk)
    assert org["health_promotion"].pk not in policy.principal(fresh).department_ids
    assert not fresh.groups.filter(pk=org["health_promotion"].group_id).exists()


def test_groups_are_read_only_in_the_admin(as_user):
    client = as_user("admin")
    assert client.get("/admin/auth/group/").status_code == 200
    assert client.get("/admin/auth/group/add/").status_code == 403


def test_watch_requests_and_evacuation_plans_are_read_only_and_their_reads_logged(as_user, users, referred_case):
    """Issue 19's records in the admin, read-only like the other case records: the plan's supporters
    as lines, not JSON; opening one is logged against its case."""
    from datetime import timedelta

    from django.utils import timezone

    from referral_engine.cases.models import EvacuationPlan
    from referral_engine.cases.services.referrals import referral_create
    from referral_engine.cases.services.watch import watch_report_add, watch_request_create

    desk = User.objects.get(pk=users["desk_welfare"].pk)
    watch = watch_request_create(
        case_id=referred_case.pk,
        actor=desk,
        district="kawakami",
        what_to_watch="新聞がたまっていないか",
        basis="support_meeting",
        justification="支援会議で合意",
        until=(timezone.localdate() + timedelta(days=30)).isoformat(),
    )
    report = watch_report_add(
        watch_request_id=watch.pk, actor=users["minsei_kawakami"], outcome="met", note="元気", visited_on=None
    )
    referral = referral_create(
        case_id=referred_case.pk, actor=desk, to_department="disaster_prevention", basis="internal_use", reason="計画"
    )
    plan = EvacuationPlan.objects.create(
        person=referred_case.person,
        referral=referral,
        made_at=timezone.now(),
        destination="第一小学校",
        supporters=[{"name": "保戸 花子", "relation": "近所", "contact": "0972-00-0000"}],
    )
    client = as_user("admin")
    for model, obj in [("watchrequest", watch), ("watchreport", report), ("evacuationplan", plan)]:
        assert client.get(f"/admin/cases/{model}/").status_code == 200, model
        assert client.get(f"/admin/cases/{model}/add/").status_code == 403, model
        page = client.get(f"/admin/cases/{model}/{obj.pk}/change/")
        assert page.status_code == 200 and 'name="_save"' not in page.content.decode(), model
        assert client.post(f"/admin/cases/{model}/{obj.pk}/delete/", {"post": "yes"}).status_code == 403, model
        log = AccessLog.objects.filter(via="admin", object_type=model).get()
        assert log.case_id == referred_case.pk, model
    page = client.get(f"/admin/cases/evacuationplan/{plan.pk}/change/").content.decode()
    assert "保戸 花子 近所 0972-00-0000" in page and "&quot;relation&quot;" not in page
