"""The case page and its forms: state buttons, referral buttons and stages, the workflow diagram or
stage list, masked sensitive records, consents, activities, referrals, lead change, printing."""

from __future__ import annotations

import pytest

from referral_engine.audit.models import AccessLog
from referral_engine.cases.models import Activity, CaseEvent, Consent
from referral_engine.cases.services.records import activity_add
from referral_engine.workflow import diagrams

pytestmark = pytest.mark.django_db


def referral_to(case, code):
    return case.referrals.get(to_department__code=code)


def test_the_page_shows_person_summary_referrals_timeline_and_logs_the_view(as_user, referred_case):
    response = as_user("desk_welfare").get(f"/cases/{referred_case.pk}/")
    html = response.content.decode()
    assert response.status_code == 200
    assert referred_case.number in html
    assert "昭和19年5月3日 (1944)" in html  # birth date in 和暦 with 西暦
    assert "健康推進課" in html and "長寿支援課" in html
    assert "依頼中" in html
    assert "つなぎ依頼" in html  # the timeline
    assert "アセスメントを始める" in html  # the lead department's state button
    log = AccessLog.objects.get(action="view", case_id=referred_case.pk)
    assert log.username == "desk_welfare" and log.via == "ui"


def test_the_receiving_department_accepts_then_moves_a_stage_from_the_case_page(as_user, referred_case):
    client = as_user("worker_health")
    referral = referral_to(referred_case, "health_promotion")
    html = client.get(f"/cases/{referred_case.pk}/").content.decode()
    assert "受理する" in html and "辞退する" in html
    response = client.post(f"/referrals/{referral.pk}/transition/", {"name": "accept"})
    assert response.status_code == 302
    referral.refresh_from_db()
    assert referral.state == "accepted" and referral.stage == "visit_arranging"

    html = client.get(f"/cases/{referred_case.pk}/").content.decode()
    assert "家庭訪問を実施した" in html  # the workflow's stage button, labelled by the workflow
    assert "訪問調整" in html
    response = client.post(f"/referrals/{referral.pk}/transition/", {"name": "record_home_visit"})
    assert response.status_code == 302
    referral.refresh_from_db()
    assert referral.stage == "home_visited"
    assert CaseEvent.objects.filter(referral=referral, kind="stage_transition", name="record_home_visit").exists()


def test_the_workflow_is_drawn_or_listed_with_the_current_stage(as_user, referred_case, monkeypatch):
    referral = referral_to(referred_case, "health_promotion")
    client = as_user("worker_health")
    client.post(f"/referrals/{referral.pk}/transition/", {"name": "accept"})
    html = client.get(f"/cases/{referred_case.pk}/").content.decode()
    if diagrams.dot_binary():
        assert '<figure class="diagram">' in html and "<svg" in html
        assert "現在の段階（塗りつぶし）: 訪問調整" in html
    monkeypatch.setattr(diagrams, "dot_binary", lambda: None)
    html = client.get(f"/cases/{referred_case.pk}/").content.decode()
    assert 'class="stage-list"' in html
    assert 'class="is-current" aria-current="step">訪問調整' in html


def test_decline_needs_a_reason_and_the_reason_reaches_the_page(as_user, referred_case):
    client = as_user("worker_longevity")
    referral = referral_to(referred_case, "longevity_support")
    response = client.post(f"/referrals/{referral.pk}/transition/", {"name": "decline", "reason": ""}, follow=True)
    assert "入力" in response.content.decode() or "必須" in response.content.decode()
    referral.refresh_from_db()
    assert referral.state == "requested"
    client.post(f"/referrals/{referral.pk}/transition/", {"name": "decline", "reason": "対象外の内容のため"})
    referral.refresh_from_db()
    assert referral.state == "declined"
    html = as_user("desk_welfare").get(f"/cases/{referred_case.pk}/").content.decode()
    assert "対象外の内容のため" in html and "辞退" in html


def test_an_illegal_transition_is_a_409_page_listing_what_is_allowed(as_user, referred_case):
    client = as_user("worker_health")
    referral = referral_to(referred_case, "health_promotion")
    client.post(f"/referrals/{referral.pk}/transition/", {"name": "accept"})
    response = client.post(f"/referrals/{referral.pk}/transition/", {"name": "accept"})
    html = response.content.decode()
    assert response.status_code == 409
    assert "今できる操作" in html and "家庭訪問を実施した" in html


def test_a_write_you_may_not_do_on_a_case_you_can_see_is_403(as_user, referred_case):
    # Health sees the case (limited) but may not accept longevity's referral or work the case.
    client = as_user("worker_health")
    longevity = referral_to(referred_case, "longevity_support")
    assert client.post(f"/referrals/{longevity.pk}/transition/", {"name": "accept"}).status_code == 403
    assert client.post(f"/cases/{referred_case.pk}/activities/", {"kind": "note", "body": "x"}).status_code == 403


def test_case_transitions_with_reason_and_closure(as_user, referred_case):
    client = as_user("chief_welfare")
    client.post(f"/cases/{referred_case.pk}/transition/", {"name": "start_assessment"})
    referred_case.refresh_from_db()
    assert referred_case.state == "assessing"
    client.post(f"/cases/{referred_case.pk}/transition/", {"name": "hold", "reason": ""})
    referred_case.refresh_from_db()
    assert referred_case.state == "assessing"  # hold needs a reason
    client.post(f"/cases/{referred_case.pk}/transition/", {"name": "hold", "reason": "本人が入院中"})
    referred_case.refresh_from_db()
    assert referred_case.state == "on_hold"
    # Closing with open referrals is refused with the allowed list (409).
    response = client.post(f"/cases/{referred_case.pk}/transition/", {"name": "close", "closure_reason": "resolved"})
    assert response.status_code == 409
    assert "再開する" in response.content.decode()


def test_a_case_transition_no_button_sends_is_a_field_error_not_a_409(as_user, referred_case):
    client = as_user("chief_welfare")
    response = client.post(f"/cases/{referred_case.pk}/transition/", {"name": "ああああ", "reason": "x"})
    assert response.status_code == 400
    referred_case.refresh_from_db()
    assert referred_case.state == "received"


def test_sensitive_activity_is_masked_until_the_department_accepts(as_user, referred_case):
    desk = as_user("desk_welfare")
    response = desk.post(
        f"/cases/{referred_case.pk}/activities/",
        {"kind": "visit", "body": "精神科の通院歴あり", "sensitive": "on"},
    )
    assert response.status_code == 302
    assert Activity.objects.get(body="精神科の通院歴あり").sensitive
    health = as_user("worker_health")
    html = health.get(f"/cases/{referred_case.pk}/").content.decode()
    assert "精神科の通院歴あり" not in html
    assert "要配慮の記録（受理後に表示）" in html
    health.post(f"/referrals/{referral_to(referred_case, 'health_promotion').pk}/transition/", {"name": "accept"})
    html = health.get(f"/cases/{referred_case.pk}/").content.decode()
    assert "精神科の通院歴あり" in html


def test_activity_errors_keep_what_was_typed(as_user, referred_case):
    response = as_user("desk_welfare").post(
        f"/cases/{referred_case.pk}/activities/", {"kind": "bogus", "body": "残しておく本文"}
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "残しておく本文" in html and 'id="id_kind-errors"' in html


def test_add_a_referral_from_the_case_page_and_see_a_basis_refusal(as_user, referred_case):
    client = as_user("desk_welfare")
    response = client.post(
        f"/cases/{referred_case.pk}/referrals/",
        {"to_department": "shakyo", "basis": "internal_use", "reason": "サロン"},
    )
    assert response.status_code == 400
    assert 'id="id_basis-errors"' in response.content.decode()
    response = client.post(
        f"/cases/{referred_case.pk}/referrals/",
        {
            "to_department": "shakyo",
            "basis": "support_meeting",
            "reason": "サロン",
            "justification": "第3回支援会議で合意",
        },
    )
    assert response.status_code == 302
    assert referral_to(referred_case, "shakyo").basis == "support_meeting"


def test_record_and_withdraw_consent(as_user, referred_case):
    client = as_user("desk_welfare")
    response = client.post(
        f"/cases/{referred_case.pk}/consents/",
        {"recipients": ["shakyo"], "purposes": "サロン参加の調整", "method": "written"},
    )
    assert response.status_code == 302
    consent = Consent.objects.get(case=referred_case)
    html = client.get(f"/cases/{referred_case.pk}/").content.decode()
    assert "津久見市社会福祉協議会" in html and "同意の撤回を記録する" in html
    client.post(f"/consents/{consent.pk}/withdraw/", {"note": "本人の申し出"})
    consent.refresh_from_db()
    assert consent.withdrawn_at is not None
    assert "撤回済み" in client.get(f"/cases/{referred_case.pk}/").content.decode()
    assert client.post(f"/consents/{consent.pk}/withdraw/", {}).status_code == 409


def test_lead_change_is_offered_to_supervisors_only(as_user, referred_case, users):
    assert "主担当の変更" not in as_user("desk_welfare").get(f"/cases/{referred_case.pk}/").content.decode()
    chief = as_user("chief_welfare")
    assert "主担当の変更" in chief.get(f"/cases/{referred_case.pk}/").content.decode()
    response = chief.post(
        f"/cases/{referred_case.pk}/lead/",
        {"lead_department": "social_welfare", "lead_worker_id": users["worker_welfare"].pk},
    )
    assert response.status_code == 302
    referred_case.refresh_from_db()
    assert referred_case.lead_worker == users["worker_welfare"]


def test_stage_record_form_saves_and_shows_errors(as_user, referred_case):
    client = as_user("worker_health")
    referral = referral_to(referred_case, "health_promotion")
    client.post(f"/referrals/{referral.pk}/transition/", {"name": "accept"})
    html = client.get(f"/cases/{referred_case.pk}/").content.decode()
    assert f'action="/referrals/{referral.pk}/record/"' in html and 'type="date"' in html
    response = client.post(f"/referrals/{referral.pk}/record/", {"outcome": "met", "findings": "元気そう"})
    assert response.status_code == 400  # an outcome needs the visit date
    assert "元気そう" in response.content.decode()
    response = client.post(
        f"/referrals/{referral.pk}/record/", {"outcome": "met", "visit_date": "2025-01-10", "findings": "元気そう"}
    )
    assert response.status_code == 302
    html = client.get(f"/cases/{referred_case.pk}/").content.decode()
    assert "本人と面会できた" in html and "元気そう" in html


def test_print_view_is_logged_as_a_print(as_user, referred_case):
    response = as_user("desk_welfare").get(f"/cases/{referred_case.pk}/print/")
    assert response.status_code == 200
    assert "print-view" in response.content.decode()
    assert AccessLog.objects.filter(action="print", case_id=referred_case.pk).count() == 1


def test_free_text_is_escaped(as_user, open_case):
    payload = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    case = open_case("desk_welfare", summary=payload, first_note=payload)
    activity_add(case_id=case.pk, actor=case.opened_by, kind="note", body=payload)
    html = as_user("desk_welfare").get(f"/cases/{case.pk}/").content.decode()
    assert "<script>alert(1)" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
