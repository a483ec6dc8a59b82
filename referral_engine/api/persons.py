"""The person endpoints (DESIGN §11.1–11.2, issue 17): the minimal, throttled search and the edit of a
person's identity and flags. Thin like the other views: the rules are in
`cases.selectors.persons_search`, `cases.services.persons.person_update` and
`access.policy.persons` (what of a person a user sees)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from referral_engine.access import policy
from referral_engine.api import serializers as s
from referral_engine.api.model_serializer import ModelSerializer
from referral_engine.api.parsing import query_data, validated
from referral_engine.api.schema import WRITE, responses
from referral_engine.api.serializers import CODE, StrictCharField, code_of, text
from referral_engine.api.views import ApiView
from referral_engine.cases import selectors
from referral_engine.cases.choices import PersonFlag, Sex
from referral_engine.cases.inputs import PersonEditInputs, PersonInputs
from referral_engine.cases.models import Person
from referral_engine.cases.services.persons import person_candidates_payload, person_update

# --- Shapes -----------------------------------------------------------------------------------------


class PersonPatchSerializer(serializers.Serializer):
    """An edit of a person (DESIGN §11.2): any of the identity fields and `flags` (the whole list of
    flags you see; sensitive ones you do not see are kept), and the `reason` (required)."""

    family_name = StrictCharField(max_length=PersonInputs.family_name.max_length, required=False)
    given_name = StrictCharField(max_length=PersonInputs.given_name.max_length, required=False, allow_blank=True)
    family_name_kana = StrictCharField(
        max_length=PersonInputs.family_name_kana.max_length, required=False, allow_blank=True
    )
    given_name_kana = StrictCharField(
        max_length=PersonInputs.given_name_kana.max_length, required=False, allow_blank=True
    )
    birth_date = serializers.DateField(required=False, allow_null=True)
    sex = serializers.ChoiceField(choices=Sex.choices, required=False, allow_blank=True)
    district = StrictCharField(max_length=CODE, required=False, allow_blank=True, allow_null=True)
    address = StrictCharField(max_length=PersonInputs.address.max_length, required=False, allow_blank=True)
    phone = StrictCharField(max_length=PersonInputs.phone.max_length, required=False, allow_blank=True)
    flags = serializers.ListField(
        child=serializers.ChoiceField(choices=PersonFlag.choices), required=False, max_length=len(PersonFlag)
    )
    # Required, but checked by the service after the permission: a 404/403 comes before this 400.
    reason = text(PersonEditInputs.reason.max_length, help_text="Why (historied). Required: 400 without it.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # A field that cannot be edited (a typo, `id`, `case`) is an error, not silently ignored.
        unknown = sorted(str(k)[:100] for k in (self.initial_data or {}) if k not in self.fields)
        if unknown:
            raise serializers.ValidationError({k: [_("この項目は変更できません。")] for k in unknown})
        return attrs

    def changes(self) -> dict[str, Any]:
        return {k: v for k, v in self.validated_data.items() if k != "reason"}


class PersonRecordSerializer(ModelSerializer):
    """A person as the user may see them across the cases they reach (`policy.person_view`)."""

    district = code_of(allow_null=True)
    sex = serializers.SerializerMethodField()
    flags = serializers.SerializerMethodField()

    class Meta:
        model = Person
        fields = [*s.PersonBriefSerializer.Meta.fields, "sex", "address", "phone", "flags", "updated_at"]
        read_only_fields = fields

    def _view(self, person: Person) -> policy.PersonView:
        return policy.person_view(self.context["request"].user, person)

    @extend_schema_field(serializers.ChoiceField(choices=Sex.choices, allow_blank=True))
    def get_sex(self, person: Person) -> str:
        return person.sex if self._view(person).sees_field("sex") else ""

    @extend_schema_field(serializers.ListField(child=serializers.ChoiceField(choices=PersonFlag.choices)))
    def get_flags(self, person: Person) -> list[str]:
        return self._view(person).flags(person.flags)


# --- Views ------------------------------------------------------------------------------------------


class PersonSearchView(ApiView):
    @extend_schema(
        operation_id="persons_search",
        summary="Search persons at intake (staff; logged; rate limited)",
        description=(
            "Kana, kanji or phone, two characters at least (else 400). At most 10 candidates, each with "
            "name, kana, birth date, district, the town part of the address and `open_case_at` (departments "
            "with an open case of the person), never more, and `choice`: the proof to send as `person_choice` "
            "when opening a case for that person. `PERSON_SEARCH_THROTTLE` searches per user "
            "(web and API together); beyond it 429 with `Retry-After`."
        ),
        parameters=[s.PersonSearchQuerySerializer],
        responses=responses({200: s.PersonCandidateSerializer(many=True)}, 400, 401, 403, 429),
        tags=["persons"],
    )
    def get(self, request: Request) -> Response:
        query = query_data(s.PersonSearchQuerySerializer, request)
        persons = selectors.persons_search(request.user, query["q"], request=request, via="api")
        return Response(person_candidates_payload(persons, for_user=request.user))


class PersonDetailView(ApiView):
    @extend_schema(
        operation_id="persons_partial_update",
        summary="Edit a person's identity fields and flags (reason required; historied)",
        description=(
            "Staff with a full view of an open case of the person. `flags` is the whole list of the flags you "
            "see: sensitive flags you do not see are kept. A person you reach no case of is a 404; one you "
            "may see but not edit a 403; no `reason` a 400."
        ),
        request=PersonPatchSerializer,
        responses=responses({200: PersonRecordSerializer}, *WRITE),
        tags=["persons"],
    )
    def patch(self, request: Request, id: int) -> Response:
        serializer = validated(PersonPatchSerializer, request.data)
        person = person_update(
            person_id=id, actor=request.user, changes=serializer.changes(), reason=serializer.validated_data["reason"]
        )
        return Response(PersonRecordSerializer(person, context={"request": request}).data)
