"""Shapes of the work endpoints (issue 18, DESIGN §11.3): follow-ups (予定) and `GET /api/v1/me/work/`.
Kept beside `serializers.py` (whose small field types they reuse) so that the work endpoints read in
one place."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from referral_engine.access import policy
from referral_engine.api.model_serializer import ModelSerializer
from referral_engine.api.serializers import StrictCharField, code_of, text, user_ref
from referral_engine.cases.choices import FollowUpState
from referral_engine.cases.inputs import FollowUpInputs
from referral_engine.cases.models import FollowUp
from referral_engine.web.work_urls import FULL_LIST_URLS


@extend_schema_field(OpenApiTypes.STR)
class UsernameField(serializers.SlugRelatedField):
    """A user as their username (read only): typed for the schema, these serializers have no model."""

    def __init__(self, **kwargs):
        super().__init__(slug_field="username", read_only=True, **kwargs)


class FollowUpCreateSerializer(serializers.Serializer):
    due_on = serializers.DateField(help_text="The day (YYYY-MM-DD): today or later, within three years.")
    note = text(FollowUpInputs.note.max_length, help_text="What to do on the day.")
    assignee = StrictCharField(
        max_length=150,
        required=False,
        allow_null=True,
        allow_blank=True,
        default=None,
        help_text="The username of a worker of the case; default: me.",
    )


class FollowUpDoneSerializer(serializers.Serializer):
    note = StrictCharField(max_length=FollowUpInputs.done_note.max_length, help_text="What was done.")


class FollowUpListQuerySerializer(serializers.Serializer):
    mine = serializers.BooleanField(required=False, default=False, help_text="Only my open follow-ups.")


class FollowUpSerializer(ModelSerializer):
    """A follow-up; its notes (free text about the person) only for its assignee and creator and for
    those who see the whole case."""

    case_number = serializers.CharField(source="case.number", read_only=True)
    assignee = UsernameField()
    assignee_name = serializers.CharField(source="assignee.display_name", read_only=True)
    department = code_of()
    state = serializers.ChoiceField(choices=FollowUpState.choices, read_only=True)
    created_by = user_ref()
    done_by = user_ref()
    overdue = serializers.SerializerMethodField(help_text="Open and past its day.")
    note = serializers.SerializerMethodField()
    done_note = serializers.SerializerMethodField()

    class Meta:
        model = FollowUp
        fields = [
            "id",
            "case",
            "case_number",
            "due_on",
            "note",
            "assignee",
            "assignee_name",
            "department",
            "state",
            "overdue",
            "created_by",
            "created_at",
            "done_at",
            "done_by",
            "done_note",
        ]
        read_only_fields = fields

    def _notes_visible(self, followup: FollowUp) -> bool:
        return policy.can_see_followup_notes(self.context["request"].user, followup)

    @extend_schema_field(serializers.BooleanField())
    def get_overdue(self, followup: FollowUp) -> bool:
        return followup.state == FollowUpState.OPEN and followup.due_on < timezone.localdate()

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_note(self, followup: FollowUp) -> str | None:
        return followup.note if self._notes_visible(followup) else None

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_done_note(self, followup: FollowUp) -> str | None:
        return followup.done_note if self._notes_visible(followup) else None


def followup_list_context(request: Any, followups: list[FollowUp]) -> None:
    """Read the user's permissions on the listed cases at once (one query, not one per row)."""
    policy.cases_perms_prefetch(request.user, [f.case for f in followups])


class WorkCaseSerializer(serializers.Serializer):
    """A case in my work: what a list needs, nothing of the person's details beyond the name."""

    id = serializers.IntegerField()
    number = serializers.CharField()
    state = serializers.CharField()
    risk = serializers.CharField()
    is_gap = serializers.BooleanField()
    lead_department = code_of()
    lead_worker = UsernameField(allow_null=True)
    last_touched_at = serializers.DateTimeField()
    stall_due_at = serializers.DateTimeField(allow_null=True)


class WorkReferralSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    case = serializers.IntegerField(source="case_id")
    case_number = serializers.CharField(source="case.number")
    from_department = code_of()
    to_department = code_of()
    state = serializers.CharField()
    stage = serializers.CharField()
    urgent = serializers.BooleanField()
    due_at = serializers.DateTimeField(allow_null=True)
    stage_due_at = serializers.DateTimeField(allow_null=True)
    requested_by = UsernameField()
    assigned_worker = UsernameField(allow_null=True)
    response_reason = serializers.CharField()
    updated_at = serializers.DateTimeField()


class WorkSlipSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    case = serializers.IntegerField(source="case_id")
    case_number = serializers.CharField(source="case.number")
    district = code_of()
    urgency = serializers.CharField()
    person_agreed_to_contact = serializers.BooleanField()
    created_at = serializers.DateTimeField()


class WorkUrgentSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["referral", "followup", "slip"])
    id = serializers.IntegerField()
    case = serializers.IntegerField()
    case_number = serializers.CharField()
    reason = serializers.ChoiceField(choices=["urgent", "overdue"])


class MyWorkSerializer(serializers.Serializer):
    """`GET /api/v1/me/work/` (DESIGN §11.3): each section a list of at most 50 with `<section>_count`
    (at most 1,000; `<section>_count_capped` true: more than that) beside it and `<section>_url`, the page listing it in full; `urgent` first of all."""

    urgent = WorkUrgentSerializer(many=True)
    assigned = WorkReferralSerializer(many=True)
    assigned_count = serializers.IntegerField()
    assigned_count_capped = serializers.BooleanField()
    assigned_url = serializers.CharField()
    led_cases = WorkCaseSerializer(many=True)
    led_cases_count = serializers.IntegerField()
    led_cases_count_capped = serializers.BooleanField()
    led_cases_url = serializers.CharField()
    inbox = WorkReferralSerializer(many=True)
    inbox_count = serializers.IntegerField()
    inbox_count_capped = serializers.BooleanField()
    inbox_url = serializers.CharField()
    followups = FollowUpSerializer(many=True)
    followups_count = serializers.IntegerField()
    followups_count_capped = serializers.BooleanField()
    followups_url = serializers.CharField()
    setbacks = WorkReferralSerializer(many=True)
    setbacks_count = serializers.IntegerField()
    setbacks_count_capped = serializers.BooleanField()
    setbacks_url = serializers.CharField()
    slips = WorkSlipSerializer(many=True)
    slips_count = serializers.IntegerField()
    slips_count_capped = serializers.BooleanField()
    slips_url = serializers.CharField()


def my_work_payload(work: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {"urgent": work.urgent}
    for name, section in work.sections.items():
        payload[name] = section.items
        payload[f"{name}_count"] = section.count
        payload[f"{name}_count_capped"] = section.count_capped
        payload[f"{name}_url"] = FULL_LIST_URLS[name]
    return payload
