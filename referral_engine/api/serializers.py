"""Request and response shapes of the API (DESIGN §8.1).

Input serializers only check types and sizes, so that nothing malformed reaches a service (a string
where a list belongs, a NUL byte PostgreSQL refuses, a date outside what the database stores); every
business rule stays in the services. Output serializers are read-only: the state is never a writable
field, and what a limited viewer may not see (sensitive person flags, sensitive activity bodies) is
already removed by the selectors and the policy they are given.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.core.exceptions import ObjectDoesNotExist
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from referral_engine.access import policy
from referral_engine.api.model_serializer import ModelSerializer
from referral_engine.api.representation import represent
from referral_engine.cases import selectors
from referral_engine.cases.choices import (
    ActivityKind,
    Basis,
    CaseState,
    Channel,
    ClosureReason,
    ConsentMethod,
    Need,
    PersonFlag,
    ReferralState,
    Risk,
    Sex,
    SlipStatus,
    SlipUrgency,
)
from referral_engine.cases.inputs import (
    MAX_TEXT,
    ActivityInputs,
    ConsentInputs,
    IntakeInputs,
    PersonInputs,
    ReferralInputs,
    SlipInputs,
    TransitionInputs,
    date_range_message,
    in_date_range,
    validate_in_range,
)
from referral_engine.cases.models import Activity, Case, CommunitySlip, Consent, Person, Referral

MAX_ID = 2**63 - 1
TEXT = MAX_TEXT  # texts without a declaration of their own in cases/inputs.py
CODE = 50


# --- Small field types --------------------------------------------------------------------------


class StrictCharField(serializers.CharField):
    """JSON strings only: a number or a list where text belongs is a type error, not text."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class IdField(serializers.IntegerField):
    """A JSON integer id (not "5", not 5.0, not true) that fits a 64-bit key."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """JSON true/false only: "yes", 1 or "" are type errors, not booleans."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class BoundedDateTimeField(serializers.DateTimeField):
    """A moment within DATE_YEAR_MIN..DATE_YEAR_MAX (settings; cases/inputs.py declares the range)."""

    default_error_messages = {"range": _("日付の範囲外です。")}

    def to_internal_value(self, value: Any) -> dt.datetime:
        # Look at the year before DRF converts time zones: year 1 in Asia/Tokyo overflows in UTC.
        if isinstance(value, str):
            try:
                early = parse_datetime(value)
            except ValueError:
                early = None
            if early is not None and not in_date_range(early.replace(tzinfo=None)):
                raise serializers.ValidationError(date_range_message(), code="range")
        try:
            parsed = super().to_internal_value(value)
        except OverflowError:
            raise serializers.ValidationError(date_range_message(), code="range") from None
        if not in_date_range(parsed):
            raise serializers.ValidationError(date_range_message(), code="range")
        return parsed


class BoundedDateField(serializers.DateField):
    """A date within DATE_YEAR_MIN..DATE_YEAR_MAX."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("validators", [validate_in_range])
        super().__init__(**kwargs)


def text(max_length: int = TEXT, *, required: bool = False, **kwargs: Any) -> StrictCharField:
    if not required:
        kwargs.setdefault("allow_blank", True)
        kwargs.setdefault("default", "")
    return StrictCharField(max_length=max_length, required=required, **kwargs)


def code(*, required: bool = False, **kwargs: Any) -> StrictCharField:
    return text(CODE, required=required, **kwargs)


# --- Users and departments ------------------------------------------------------------------------


class UserRefSerializer(serializers.Serializer):
    """Wherever a user appears: their username and display name."""

    username = serializers.CharField(read_only=True)
    display_name = serializers.CharField(read_only=True)


def user_ref(source: str | None = None) -> UserRefSerializer:
    kwargs: dict[str, Any] = {"read_only": True, "allow_null": True}
    if source:
        kwargs["source"] = source
    return UserRefSerializer(**kwargs)


@extend_schema_field(OpenApiTypes.STR)
class CodeField(serializers.SlugRelatedField):
    """A department or district, by its code (DESIGN §8.1); typed for the schema."""


def code_of(*, allow_null: bool = False) -> serializers.SlugRelatedField:
    """A department or district, by its code (DESIGN §8.1)."""
    return CodeField(slug_field="code", read_only=True, allow_null=allow_null)


# --- Auth -----------------------------------------------------------------------------------------


class TokenRequestSerializer(serializers.Serializer):
    username = StrictCharField(max_length=150)
    password = StrictCharField(max_length=4096, trim_whitespace=False, style={"input_type": "password"})
    otp_token = StrictCharField(
        required=False,
        allow_blank=True,
        max_length=32,
        help_text="The 6-digit code from the authenticator app; required when the user has a confirmed "
        "TOTP device (two-factor login), ignored otherwise.",
    )


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(read_only=True, help_text="Shown once: only its hash is stored.")
    expires_at = serializers.DateTimeField(read_only=True, help_text="API_TOKEN_DAYS after issue (default 30).")


# --- Errors (for the schema) ----------------------------------------------------------------------


class DuplicateCandidateSerializer(serializers.Serializer):
    """A candidate (search hit or possible duplicate, DESIGN §11.1): no house number, no phone, no flag."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    kana = serializers.CharField()
    birth_date = serializers.DateField(allow_null=True)
    district = serializers.CharField(allow_null=True)
    town = serializers.CharField(help_text="The town part of the address (no house number).")
    open_case_at = serializers.ListField(
        child=serializers.CharField(), help_text="Codes of the departments where the person has an open case."
    )
    choice = serializers.CharField(
        required=False,
        help_text="Proof that this candidate was offered to you (a search hit, a duplicate warning): send it back "
        "as `person_choice` with `person_id` to open a case for this person. Signed for you, valid "
        "PERSON_CHOICE_MAX_AGE seconds (default 3600).",
    )


class ErrorSerializer(serializers.Serializer):
    """The one error shape. `allowed` on an illegal transition (409), `candidates` on a possible
    duplicate at intake (409)."""

    error = serializers.CharField(help_text="A stable code: invalid, not_found, forbidden, illegal_transition…")
    message = serializers.CharField(help_text="A human-readable explanation (Japanese unless Accept-Language: en).")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Field path → messages (`person.birth_date`, `referrals[0].basis`); empty when not about input.",
    )
    allowed = serializers.ListField(child=serializers.CharField(), required=False)
    candidates = DuplicateCandidateSerializer(many=True, required=False)


# --- Persons --------------------------------------------------------------------------------------


class PersonInputSerializer(serializers.Serializer):
    family_name = StrictCharField(max_length=PersonInputs.family_name.max_length)
    given_name = text(PersonInputs.given_name.max_length)
    family_name_kana = text(PersonInputs.family_name_kana.max_length)
    given_name_kana = text(PersonInputs.given_name_kana.max_length)
    birth_date = BoundedDateField(required=False, allow_null=True)
    sex = serializers.ChoiceField(choices=Sex.choices, required=False, allow_blank=True)
    district = code(allow_null=True)
    address = text(PersonInputs.address.max_length)
    phone = text(PersonInputs.phone.max_length)
    flags = serializers.ListField(
        child=serializers.ChoiceField(choices=PersonFlag.choices), required=False, max_length=len(PersonFlag)
    )


class PersonBriefSerializer(ModelSerializer):
    """A person in a list: identifying, never sensitive."""

    district = code_of(allow_null=True)

    class Meta:
        model = Person
        fields = ["id", "family_name", "given_name", "family_name_kana", "given_name_kana", "birth_date", "district"]
        read_only_fields = fields


class PersonSerializer(PersonBriefSerializer):
    """A person on a case's page (DESIGN §11.1): the identity to any reader of the case; `flags`
    holds the ordinary ones, and the sensitive ones (障害, ひきこもり…) only for a full viewer who
    reaches a case that held them; `sex` likewise (empty otherwise)."""

    sex = serializers.SerializerMethodField()
    flags = serializers.SerializerMethodField()
    household = serializers.SerializerMethodField()

    class Meta(PersonBriefSerializer.Meta):
        fields = [*PersonBriefSerializer.Meta.fields, "sex", "address", "phone", "flags", "household"]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.ChoiceField(choices=PersonFlag.choices)))
    def get_flags(self, person: Person) -> list[str]:
        return selectors.person_flags_for(self.context["request"].user, self.context["case"])

    @extend_schema_field(serializers.ChoiceField(choices=Sex.choices, allow_blank=True))
    def get_sex(self, person: Person) -> str:
        if policy.case_person_sees_field(self.context["request"].user, self.context["case"], "sex"):
            return person.sex
        return ""

    @extend_schema_field(
        serializers.DictField(
            allow_null=True,
            help_text="The person's household (issue 17): `id`, `members` (relation, age band, open cases by "
            "department; name and birth date only of members whose cases you may see), `hints`.",
        )
    )
    def get_household(self, person: Person) -> dict[str, Any] | None:
        found = selectors.person_household_for(self.context["request"].user, person, case=self.context.get("case"))
        if found is None:
            return None
        for member in found["members"]:
            if member.get("birth_date"):
                member["birth_date"] = member["birth_date"].isoformat()
        return found


class PersonCandidateSerializer(DuplicateCandidateSerializer):
    """A search hit at intake (`person_candidate_payload`): identifying, never sensitive."""


class PersonSearchQuerySerializer(serializers.Serializer):
    q = StrictCharField(max_length=100, help_text="Kana, kanji or phone number (normalised); 2 characters at least.")


# --- Cases ----------------------------------------------------------------------------------------


class ReferralSpecSerializer(serializers.Serializer):
    """A referral made at intake."""

    to_department = code(required=True)
    basis = serializers.ChoiceField(choices=Basis.choices)
    reason = StrictCharField(
        max_length=ReferralInputs.reason.max_length,
        required=False,
        allow_blank=True,
        help_text="Defaults to the summary.",
    )
    justification = StrictCharField(
        max_length=ReferralInputs.justification.max_length, required=False, allow_blank=True
    )
    urgent = StrictBooleanField(required=False, help_text="Defaults to true when the case's risk is urgent.")
    consent_id = IdField(required=False, allow_null=True)


class ConsentInputSerializer(serializers.Serializer):
    recipients = serializers.ListField(child=code(required=True), min_length=1, max_length=20)
    purposes = StrictCharField(max_length=ConsentInputs.purposes.max_length)
    method = serializers.ChoiceField(choices=ConsentMethod.choices)
    obtained_at = BoundedDateTimeField(required=False, allow_null=True)
    note = text(ConsentInputs.note.max_length)


class CaseOpenSerializer(serializers.Serializer):
    person_id = IdField(required=False, allow_null=True, help_text="An existing person (see /persons/?q=).")
    person_choice = StrictCharField(
        max_length=200,
        required=False,
        allow_blank=True,
        help_text="With `person_id`: the `choice` of that candidate in your search or duplicate warning. Needed "
        "unless you already see a case of the person; without it the id is answered as unknown (400).",
    )
    person = PersonInputSerializer(required=False, allow_null=True, help_text="A new person.")
    confirm_new_person = StrictBooleanField(
        default=False, help_text="Open for a new person even though possible duplicates exist."
    )
    channel = serializers.ChoiceField(choices=Channel.choices, default=Channel.COUNTER)
    summary = StrictCharField(max_length=IntakeInputs.summary.max_length, help_text="主訴")
    needs = serializers.ListField(
        child=serializers.ChoiceField(choices=Need.choices), default=list, max_length=len(Need)
    )
    risk = serializers.ChoiceField(choices=Risk.choices, default=Risk.NORMAL)
    referrals = ReferralSpecSerializer(many=True, required=False, max_length=10)
    consent = ConsentInputSerializer(required=False, allow_null=True)
    first_note = text(ActivityInputs.body.max_length)
    department = code(help_text="The window (your department's code) when you belong to several.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("person_id") is not None and attrs.get("person") is not None:
            raise serializers.ValidationError({"person": [_("person_id か person のどちらか一方を指定してください。")]})
        return attrs

    @staticmethod
    def service_kwargs(data: dict[str, Any]) -> dict[str, Any]:
        return {
            "person_id": data.get("person_id"),
            "person_choice": data.get("person_choice") or "",
            "person": data.get("person"),
            "confirm_new_person": data["confirm_new_person"],
            "channel": data["channel"],
            "summary": data["summary"],
            "needs": data["needs"],
            "risk": data["risk"],
            "referrals": [dict(r) for r in data.get("referrals") or []] or None,
            "consent": dict(data["consent"]) if data.get("consent") else None,
            "first_note": data["first_note"],
            "department_code": data["department"] or None,
        }


class CaseListQuerySerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=CaseState.choices, required=False)
    department = code(help_text="Cases led by, or referred to, this department.")
    risk = serializers.ChoiceField(choices=Risk.choices, required=False)
    stalled = serializers.BooleanField(required=False, allow_null=True, default=None)
    q = text(
        100,
        help_text=(
            "Any part of the case number (000004, or R8-4 for R8-000004) or of the person's family and given "
            "names in kana or kanji (normalised as the intake's duplicate check); 2 characters at least (else 400)."
        ),
    )
    lead = serializers.ChoiceField(choices=["me"], required=False, help_text="`me`: cases I am the lead worker of.")
    assigned = serializers.ChoiceField(
        choices=["me"], required=False, help_text="`me`: cases with an open referral assigned to me."
    )


class CaseSummarySerializer(ModelSerializer):
    """A case in a list."""

    person = PersonBriefSerializer(read_only=True)
    intake_department = code_of()
    lead_department = code_of()
    lead_worker = user_ref()
    needs = serializers.ListField(child=serializers.ChoiceField(choices=Need.choices), read_only=True)

    class Meta:
        model = Case
        fields = [
            "id",
            "number",
            "state",
            "person",
            "intake_department",
            "lead_department",
            "lead_worker",
            "channel",
            "summary",
            "needs",
            "risk",
            "is_gap",
            "last_touched_at",
            "stall_due_at",
            "created_at",
        ]
        read_only_fields = fields


class CaseSerializer(CaseSummarySerializer):
    """One case, as the user may see it (`access`: full, limited or audit)."""

    person = serializers.SerializerMethodField()
    access = serializers.SerializerMethodField()
    community_slip = serializers.SerializerMethodField()
    closure_reason = serializers.ChoiceField(choices=ClosureReason.choices, allow_blank=True, read_only=True)

    class Meta(CaseSummarySerializer.Meta):
        fields = [
            *CaseSummarySerializer.Meta.fields,
            "fiscal_year",
            "closure_reason",
            "closed_at",
            "updated_at",
            "access",
            "community_slip",
        ]
        read_only_fields = fields

    @extend_schema_field(PersonSerializer)
    def get_person(self, case: Case) -> dict[str, Any]:
        return represent(PersonSerializer, case.person, {**self.context, "case": case})

    @extend_schema_field(serializers.ChoiceField(choices=["limited", "full", "audit"]))
    def get_access(self, case: Case) -> str:
        return policy.case_view_level(self.context["request"].user, case).name.lower()

    @extend_schema_field(
        serializers.DictField(
            allow_null=True,
            help_text="The community slip that opened the case: `id`, `urgency`, `person_agreed_to_contact`, "
            "`triage` (issue 17); null for other cases.",
        )
    )
    def get_community_slip(self, case: Case) -> dict[str, Any] | None:
        if case.channel != Channel.COMMUNITY:
            return None
        try:
            slip = case.slip
        except ObjectDoesNotExist:
            return None
        return {
            "id": slip.pk,
            "urgency": slip.urgency,
            "person_agreed_to_contact": slip.person_agreed_to_contact,
            "triage": slip.triage or None,
        }


class CaseTransitionSerializer(serializers.Serializer):
    reason = text(TransitionInputs.reason.max_length, help_text="Required for hold.")
    closure_reason = serializers.ChoiceField(
        choices=ClosureReason.choices, required=False, allow_blank=True, default="", help_text="Required for close."
    )
    review_on = serializers.DateField(
        required=False,
        allow_null=True,
        default=None,
        help_text="start_monitoring only: the review day, set as a follow-up (default: in 90 days).",
    )


class TransitionsSerializer(serializers.Serializer):
    state = serializers.CharField(read_only=True)
    transitions = serializers.ListField(
        child=serializers.CharField(), read_only=True, help_text="Names you may run now."
    )


class ReferralTransitionsSerializer(TransitionsSerializer):
    stage = serializers.CharField(read_only=True)


# --- Referrals ------------------------------------------------------------------------------------


class ReferralCreateSerializer(serializers.Serializer):
    to_department = code(required=True)
    basis = serializers.ChoiceField(choices=Basis.choices)
    reason = StrictCharField(max_length=ReferralInputs.reason.max_length)
    justification = text(
        ReferralInputs.justification.max_length,
        help_text="Required for support_meeting, vital_interest, disaster and legal_duty.",
    )
    urgent = StrictBooleanField(default=False)
    consent_id = IdField(required=False, allow_null=True, help_text="The consent relied on (basis consent).")
    previous_id = IdField(required=False, allow_null=True, help_text="The referral this one follows (re-referral).")
    from_department = code(help_text="Your department that asks, when you belong to several.")


class ReferralListQuerySerializer(serializers.Serializer):
    inbox = serializers.BooleanField(
        required=False, default=False, help_text="Only handoffs waiting for one of my departments."
    )
    assigned = serializers.ChoiceField(
        choices=["me"], required=False, help_text="`me`: open referrals (requested or accepted) assigned to me."
    )


class ReferralAssignSerializer(serializers.Serializer):
    worker = StrictCharField(
        max_length=150,
        allow_null=True,
        help_text="The username of a caseworker or supervisor of the receiving department; null: unassigned.",
    )


class ReferralSerializer(ModelSerializer):
    case_number = serializers.CharField(source="case.number", read_only=True)
    from_department = code_of()
    to_department = code_of()
    state = serializers.ChoiceField(choices=ReferralState.choices, read_only=True)
    stage_label = serializers.SerializerMethodField()
    requested_by = user_ref()
    responded_by = user_ref()
    assigned_worker = user_ref()

    class Meta:
        model = Referral
        fields = [
            "id",
            "case",
            "case_number",
            "from_department",
            "to_department",
            "state",
            "stage",
            "stage_label",
            "basis",
            "reason",
            "justification",
            "consent",
            "urgent",
            "due_at",
            "stage_due_at",
            "requested_by",
            "responded_by",
            "responded_at",
            "response_reason",
            "assigned_worker",
            "completed_at",
            "previous",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_stage_label(self, referral: Referral) -> str:
        from referral_engine.workflow import registry as workflow_registry

        workflow = workflow_registry.get(referral.to_department.code)
        return workflow.stage_label(referral.stage) if (workflow and referral.stage) else ""


class ReferralDetailSerializer(ReferralSerializer):
    """One referral; `record` (the department's structured record) only for those who see the whole case."""

    record = serializers.SerializerMethodField()

    class Meta(ReferralSerializer.Meta):
        fields = [*ReferralSerializer.Meta.fields, "record"]
        read_only_fields = fields

    @extend_schema_field(
        serializers.DictField(
            allow_null=True,
            help_text="The department's structured record ({} before one is written); null unless you see the "
            "whole case.",
        )
    )
    def get_record(self, referral: Referral) -> dict[str, Any] | None:
        if not policy.can_see_sensitive(self.context["request"].user, referral.case):
            return None
        try:
            return dict(referral.stage_record.data)
        except ObjectDoesNotExist:
            return {}


class ReferralTransitionSerializer(serializers.Serializer):
    reason = text(TransitionInputs.reason.max_length, help_text="Required for decline and return.")
    assign_to = StrictCharField(
        max_length=150,
        required=False,
        allow_null=True,
        allow_blank=True,
        default=None,
        help_text="accept only: the username who takes it on (default: the accepting caseworker).",
    )


# Field types a Django form field can take from JSON without tripping over it (a DateField calls
# .strip() on what it gets, so a number there would be a crash, not a validation error).
_SCALARS = (str, int, float, bool)


def _record_value_error(form_field: forms.Field, value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(form_field, forms.MultipleChoiceField):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return str(_("文字列のリストで指定してください。"))
        values = value
    elif isinstance(form_field, forms.BooleanField | forms.NullBooleanField):
        if not isinstance(value, bool):
            return str(_("true か false で指定してください。"))
        return None
    elif isinstance(form_field, forms.DateField | forms.DateTimeField | forms.TimeField):
        if not isinstance(value, str):
            return str(_("日付は文字列（YYYY-MM-DD）で指定してください。"))
        values = [value]
    elif isinstance(value, _SCALARS) and not (isinstance(value, float) and value != value):
        values = [value]
    else:
        return str(_("値の形式が正しくありません。"))
    if any(isinstance(v, str) and ("\x00" in v or len(v) > TEXT) for v in values):
        return str(_("使えない文字が含まれているか、長すぎます。"))
    return None


class StageRecordInputSerializer(serializers.Serializer):
    """The department's structured record: an object whose keys are the fields of the workflow's
    record form (context `record_form`). Types are checked here; values by the form in the service."""

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise serializers.ValidationError({"non_field_errors": [_("オブジェクトで指定してください。")]})
        form_class = self.context.get("record_form")
        if form_class is None:
            raise serializers.ValidationError({"non_field_errors": [_("この部署には記録の様式がありません。")]})
        errors: dict[str, list[str]] = {}
        for name, value in data.items():
            form_field = form_class.base_fields.get(name)
            if form_field is None:
                errors[str(name)[:100]] = [str(_("この様式にない項目です。"))]
                continue
            problem = _record_value_error(form_field, value)
            if problem:
                errors[name] = [problem]
        if errors:
            raise serializers.ValidationError(errors)
        return dict(data)


class StageRecordSerializer(serializers.Serializer):
    referral = serializers.IntegerField(source="referral_id", read_only=True)
    data = serializers.DictField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True, allow_null=True, help_text="Null until first saved.")


# --- Activities and consents ----------------------------------------------------------------------


class ActivityCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ActivityKind.choices)
    body = StrictCharField(max_length=ActivityInputs.body.max_length)
    sensitive = StrictBooleanField(default=False, help_text="要配慮: shown only to those who see the whole case.")
    occurred_at = BoundedDateTimeField(required=False, allow_null=True, help_text="Defaults to now; never future.")


class ActivitySerializer(ModelSerializer):
    author = user_ref()
    department = code_of()
    masked = serializers.SerializerMethodField(help_text="True when the body of a sensitive record was withheld.")

    class Meta:
        model = Activity
        fields = [
            "id",
            "case",
            "kind",
            "body",
            "sensitive",
            "masked",
            "author",
            "department",
            "occurred_at",
            "created_at",
        ]
        read_only_fields = fields

    def get_masked(self, activity: Activity) -> bool:
        return bool(getattr(activity, "masked", False))


class ConsentSerializer(ModelSerializer):
    recipients = serializers.ListField(child=serializers.CharField(), read_only=True)
    obtained_by = user_ref()
    withdrawn_by = user_ref()
    active = serializers.BooleanField(source="is_active", read_only=True)

    class Meta:
        model = Consent
        fields = [
            "id",
            "person",
            "case",
            "recipients",
            "purposes",
            "method",
            "obtained_by",
            "obtained_at",
            "withdrawn_at",
            "withdrawn_by",
            "note",
            "active",
            "created_at",
        ]
        read_only_fields = fields


class ConsentWithdrawSerializer(serializers.Serializer):
    note = text(ConsentInputs.note.max_length)


# --- Community slips ------------------------------------------------------------------------------


class SlipCreateSerializer(serializers.Serializer):
    name = text(SlipInputs.name.max_length, help_text="Family and given name separated by a space, if known.")
    name_kana = text(SlipInputs.name_kana.max_length)
    district = code(help_text="Your district's code, when you serve several.")
    address_note = text(SlipInputs.address_note.max_length)
    concern = StrictCharField(max_length=SlipInputs.concern.max_length)
    urgency = serializers.ChoiceField(choices=SlipUrgency.choices, default=SlipUrgency.NORMAL)
    person_agreed_to_contact = StrictBooleanField(default=False)

    @staticmethod
    def service_kwargs(data: dict[str, Any]) -> dict[str, Any]:
        data["district"] = data["district"] or None
        return data


class SlipSerializer(ModelSerializer):
    """All a connector learns about a slip: when it was sent and whether it was connected."""

    status = serializers.SerializerMethodField()

    class Meta:
        model = CommunitySlip
        fields = ["id", "created_at", "status"]
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=SlipStatus.choices))
    def get_status(self, slip: CommunitySlip) -> str:
        return selectors.slip_status(slip)
