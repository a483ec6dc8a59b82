"""Shapes of the API of keeping persons and cases right (issue 17): the desk's slip queue, merges,
households. Kept apart from `serializers.py` so `views.py` (the slip list) and `upkeep.py` can both
use them."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from referral_engine.api import serializers as s
from referral_engine.api.model_serializer import ModelSerializer
from referral_engine.cases.choices import HouseholdRelation, SlipUrgency
from referral_engine.cases.inputs import UpkeepInputs
from referral_engine.cases.models import CommunitySlip
from referral_engine.cases.services.persons import person_candidate_payload


class SlipListQuerySerializer(serializers.Serializer):
    queue = serializers.BooleanField(
        required=False, default=False, help_text="true: the desk's queue of slips not yet triaged (social_welfare)."
    )


class SlipQueueItemSerializer(ModelSerializer):
    """A slip in the desk's queue: what the connector wrote, its case, and the candidates."""

    district = s.code_of()
    connector = s.user_ref()
    urgency = serializers.ChoiceField(choices=SlipUrgency.choices, read_only=True)
    case = serializers.SerializerMethodField()
    candidates = serializers.SerializerMethodField()

    class Meta:
        model = CommunitySlip
        fields = [
            "id",
            "created_at",
            "district",
            "connector",
            "name",
            "name_kana",
            "address_note",
            "concern",
            "urgency",
            "person_agreed_to_contact",
            "case",
            "candidates",
        ]
        read_only_fields = fields

    @extend_schema_field(
        serializers.DictField(help_text="`id`, `number` and the provisional `person_id` of the slip's case.")
    )
    def get_case(self, slip: CommunitySlip) -> dict[str, Any]:
        return {"id": slip.case_id, "number": slip.case.number, "person_id": slip.case.person_id}

    @extend_schema_field(s.PersonCandidateSerializer(many=True))
    def get_candidates(self, slip: CommunitySlip) -> list[dict[str, Any]]:
        return [person_candidate_payload(p) for p in getattr(slip, "candidates", [])]


class SlipLinkSerializer(serializers.Serializer):
    person_id = s.IdField(help_text="The registered person the slip is about.")


class SlipTriagedSerializer(ModelSerializer):
    case = serializers.IntegerField(source="case_id", read_only=True)
    person_id = serializers.IntegerField(source="case.person_id", read_only=True)

    class Meta:
        model = CommunitySlip
        fields = ["id", "triage", "triaged_at", "case", "person_id"]
        read_only_fields = fields


class PersonMergeSerializer(serializers.Serializer):
    into = s.IdField(help_text="The person record that stays.")
    reason = s.StrictCharField(max_length=UpkeepInputs.reason.max_length)


class PersonMergedSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The merged record.")
    merged_into = serializers.IntegerField(help_text="The record kept.")
    moved_cases = serializers.ListField(child=serializers.IntegerField())


class HouseholdMemberInputSerializer(serializers.Serializer):
    person_id = s.IdField()
    relation = serializers.ChoiceField(choices=HouseholdRelation.choices)
    without_work = s.StrictBooleanField(required=False, default=False)


class HouseholdInputSerializer(serializers.Serializer):
    members = HouseholdMemberInputSerializer(many=True, min_length=1, max_length=20)
    reason = s.StrictCharField(max_length=UpkeepInputs.reason.max_length)


class HouseholdUpdateSerializer(serializers.Serializer):
    members = HouseholdMemberInputSerializer(many=True, required=False, max_length=20, help_text="Added or updated.")
    remove = serializers.ListField(child=s.IdField(), required=False, max_length=20, help_text="Person ids who leave.")
    reason = s.StrictCharField(max_length=UpkeepInputs.reason.max_length)


class HouseholdMemberSerializer(serializers.Serializer):
    """A member the user may see in full (`visible`), or only as relation and age band."""

    relation = serializers.ChoiceField(choices=HouseholdRelation.choices)
    age_band = serializers.CharField()
    visible = serializers.BooleanField()
    person_id = serializers.IntegerField(required=False)
    name = serializers.CharField(required=False)
    kana = serializers.CharField(required=False)
    birth_date = serializers.DateField(required=False, allow_null=True)
    without_work = serializers.BooleanField(required=False)
    open_case_departments = serializers.ListField(
        child=serializers.CharField(), help_text="Lead departments of the member's open cases (codes), no contents."
    )


class HouseholdSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    members = HouseholdMemberSerializer(many=True)
    hints = serializers.ListField(
        child=serializers.ChoiceField(choices=["8050", "young_carer"]),
        help_text="Patterns the household matches (shown to those who see a member's case in full).",
    )
