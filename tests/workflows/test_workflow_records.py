"""Structured stage data: each record form validates what the work needs and cleans to JSON."""

import datetime
import json

from django.utils import timezone, translation

from referral_engine.workflow import registry as workflow_registry


def form_of(code):
    return workflow_registry.get(code).record_form


def clean(code, data):
    form = form_of(code)(data=data)
    valid = form.is_valid()
    return valid, (form.cleaned_data if valid else form.errors)


class TestEvacuationPlan:
    def test_supporters_one_per_line_become_a_list_and_the_plan_is_json(self):
        valid, data = clean(
            "disaster_prevention",
            {
                "supporters": "津久見 太郎 / 長男 / 090-1111-2222\n\n青江 花子／近所の方／0972-00-0000\n",
                "evacuation_destination": "津久見市民会館（指定避難所）",
                "route_notes": "自宅前の坂道は車いすで通れないため、裏道を使う。",
                "medical_devices": "在宅酸素",
                "mobility": "wheelchair",
                "other_considerations": "耳が遠いので対面で声をかける。",
                "review_date": "2027-04-01",
            },
        )
        assert valid, data
        assert data["supporters"] == [
            {"name": "津久見 太郎", "relation": "長男", "contact": "090-1111-2222"},
            {"name": "青江 花子", "relation": "近所の方", "contact": "0972-00-0000"},
        ]
        assert data["review_date"] == "2027-04-01"
        assert json.loads(json.dumps(data)) == data

    def test_the_api_may_send_the_supporters_as_a_list(self):
        valid, data = clean(
            "disaster_prevention", {"supporters": [{"name": "津久見 太郎", "relation": "長男", "contact": "090"}]}
        )
        assert valid, data
        assert data["supporters"] == [{"name": "津久見 太郎", "relation": "長男", "contact": "090"}]

    def test_a_supporter_line_without_all_three_parts_is_refused_with_its_line_number(self):
        valid, errors = clean("disaster_prevention", {"supporters": "津久見 太郎 / 長男 / 090\n青江 花子 / 近所"})
        assert not valid
        assert "2行目" in errors["supporters"][0]

    def test_an_unknown_mobility_and_a_bad_date_are_refused(self):
        valid, errors = clean("disaster_prevention", {"mobility": "teleport", "review_date": "来年"})
        assert not valid
        assert set(errors) == {"mobility", "review_date"}

    def test_the_stored_list_is_shown_back_as_lines_and_summarised(self):
        supporters = [{"name": "津久見 太郎", "relation": "長男", "contact": "090"}]
        form = form_of("disaster_prevention")(initial={"supporters": supporters})
        assert "津久見 太郎 / 長男 / 090" in str(form["supporters"])
        with translation.override("ja"):
            rows = dict(
                workflow_registry.get("disaster_prevention").record_summary(
                    {"supporters": supporters, "mobility": "wheelchair"}
                )
            )
        assert rows == {
            "避難支援者（1行に1人：氏名 / 続柄・関係 / 連絡先）": "津久見 太郎（長男）090",
            "移動の状況": "車いす",
        }


class TestHomeVisit:
    def test_a_visit_is_recorded_with_its_date_and_outcome(self):
        valid, data = clean(
            "health_promotion", {"visit_date": "2026-05-01", "outcome": "met", "findings": "食事がとれていない。"}
        )
        assert valid, data
        assert data["visit_date"] == "2026-05-01"

    def test_a_visit_date_in_the_future_is_refused(self):
        tomorrow = timezone.localdate() + datetime.timedelta(days=1)
        valid, errors = clean("health_promotion", {"visit_date": tomorrow.isoformat()})
        assert not valid and "visit_date" in errors

    def test_an_outcome_needs_the_visit_date(self):
        valid, errors = clean("health_promotion", {"outcome": "absent"})
        assert not valid and "visit_date" in errors


class TestCareCertification:
    def test_a_certified_care_level_needs_the_application_date(self):
        valid, errors = clean("longevity_support", {"care_level": "care_2"})
        assert not valid and "certification_applied_on" in errors
        valid, data = clean(
            "longevity_support",
            {"certification_applied_on": "2026-05-01", "care_level": "care_2", "certified_on": "2026-05-28"},
        )
        assert valid, data

    def test_eligibility_by_the_basic_checklist_needs_no_application(self):
        valid, data = clean("longevity_support", {"care_level": "program_eligible"})
        assert valid, data

    def test_the_certification_cannot_come_before_the_application(self):
        valid, errors = clean(
            "longevity_support", {"certification_applied_on": "2026-05-10", "certified_on": "2026-05-01"}
        )
        assert not valid and "certified_on" in errors


class TestShakyoSupport:
    def test_the_support_agreed_is_a_list_of_codes(self):
        valid, data = clean("shakyo", {"support_agreed": ["livelihood_fund", "salon"], "agreed_on": "2026-06-01"})
        assert valid, data
        assert data["support_agreed"] == ["livelihood_fund", "salon"]
        with translation.override("ja"):
            rows = dict(workflow_registry.get("shakyo").record_summary(data))
        assert rows["合意した支援"] == "生活福祉資金、サロン・居場所への参加"

    def test_an_agreement_date_without_a_support_is_refused(self):
        valid, errors = clean("shakyo", {"agreed_on": "2026-06-01"})
        assert not valid and "support_agreed" in errors


class TestSupportMeeting:
    def test_the_meeting_date_and_the_roles_are_recorded(self):
        valid, data = clean(
            "social_welfare",
            {"meeting_date": "2026-06-10", "roles_agreed": "健康推進課 / 月1回の訪問\n社協 / サロンへの同行"},
        )
        assert valid, data
        assert data["meeting_date"] == "2026-06-10"

    def test_the_review_cannot_come_before_the_meeting(self):
        valid, errors = clean("social_welfare", {"meeting_date": "2026-06-10", "next_review_date": "2026-06-01"})
        assert not valid and "next_review_date" in errors


def test_what_a_form_cleans_validates_again_to_itself():
    """The web view validates the POST, the service validates the cleaned dict again: a fixed point."""
    samples = {
        "disaster_prevention": {
            "supporters": "津久見 太郎 / 長男 / 090",
            "mobility": "walking_aid",
            "review_date": "2027-04-01",
        },
        "shakyo": {"support_agreed": ["daily_life_support"], "agreed_on": "2026-06-01"},
        "health_promotion": {"visit_date": "2026-05-01", "outcome": "met"},
        "longevity_support": {"certification_applied_on": "2026-05-01", "care_level": "support_1"},
        "social_welfare": {"meeting_date": "2026-06-10", "next_review_date": "2026-09-10"},
    }
    for code, data in samples.items():
        valid, first = clean(code, data)
        assert valid, (code, first)
        valid, second = clean(code, first)
        assert valid and second == first, (code, second)
