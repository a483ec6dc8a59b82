"""The API of keeping persons and cases right (issue 17, DESIGN §11.2): reassessment, merging two
records of one person, the desk's queue of community slips, households. Thin views as in `views.py`:
parse, call one service or selector, render; the rules are in the services and the policy."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from referral_engine.api import serializers as s
from referral_engine.api import upkeep_serializers as us
from referral_engine.api.parsing import validated_data
from referral_engine.api.schema import READ, WRITE, responses
from referral_engine.api.views import ApiView, _case_response
from referral_engine.cases import selectors
from referral_engine.cases.choices import Need, Risk
from referral_engine.cases.inputs import IntakeInputs, UpkeepInputs
from referral_engine.cases.services.households import household_create, household_update
from referral_engine.cases.services.merge import person_merge
from referral_engine.cases.services.reassessment import case_reassess
from referral_engine.cases.services.slips import slip_confirm_new, slip_link

# --- Reassessment ---------------------------------------------------------------------------------


class ReassessSerializer(serializers.Serializer):
    risk = serializers.ChoiceField(choices=Risk.choices, required=False)
    needs = serializers.ListField(
        child=serializers.ChoiceField(choices=Need.choices), required=False, max_length=len(Need)
    )
    summary = s.StrictCharField(max_length=IntakeInputs.summary.max_length, required=False)
    reason = s.StrictCharField(max_length=UpkeepInputs.reason.max_length, help_text="Why: required.")


class CaseReassessView(ApiView):
    @extend_schema(
        operation_id="case_reassess",
        summary="Reassess a case: risk, needs, summary (reason required)",
        description="Historied with the reason and an event on the timeline; the stall clock restarts under "
        "the new risk. A closed case is a 409.",
        request=ReassessSerializer,
        responses=responses({200: s.CaseSerializer}, 409, *WRITE),
        tags=["cases"],
    )
    def post(self, request: Request, id: int) -> Response:
        data = validated_data(ReassessSerializer, request.data)
        case = case_reassess(
            case_id=id,
            actor=request.user,
            risk=data.get("risk"),
            needs=data.get("needs"),
            summary=data.get("summary"),
            reason=data["reason"],
        )
        return _case_response(request, case)


# --- The desk's slip queue --------------------------------------------------------------------------


class SlipLinkView(ApiView):
    @extend_schema(
        operation_id="community_slip_link",
        summary="Triage a slip: it is about this registered person (the desk)",
        description="The slip's provisional person is merged into `person_id`: its case moves there, the "
        "provisional record keeps its history and `merged_into`. A slip already triaged is a 409.",
        request=us.SlipLinkSerializer,
        responses=responses({200: us.SlipTriagedSerializer}, 409, *WRITE),
        tags=["community-slips"],
    )
    def post(self, request: Request, id: int) -> Response:
        data = validated_data(us.SlipLinkSerializer, request.data)
        slip = slip_link(slip_id=id, actor=request.user, person_id=data["person_id"])
        return Response(us.SlipTriagedSerializer(slip).data)


class SlipConfirmNewView(ApiView):
    @extend_schema(
        operation_id="community_slip_confirm_new",
        summary="Triage a slip: its person is not registered yet (the desk)",
        request=None,
        responses=responses({200: us.SlipTriagedSerializer}, 409, *WRITE),
        tags=["community-slips"],
    )
    def post(self, request: Request, id: int) -> Response:
        slip = slip_confirm_new(slip_id=id, actor=request.user)
        return Response(us.SlipTriagedSerializer(slip).data)


# --- Merge ------------------------------------------------------------------------------------------


class PersonMergeView(ApiView):
    @extend_schema(
        operation_id="person_merge",
        summary="Merge this person record into another (supervisors who see a case of each)",
        description="Cases, consents and the household link move to `into`; this record keeps its history "
        "and `merged_into`; an event on every moved case.",
        request=us.PersonMergeSerializer,
        responses=responses({200: us.PersonMergedSerializer}, 409, *WRITE),
        tags=["persons"],
    )
    def post(self, request: Request, id: int) -> Response:
        data = validated_data(us.PersonMergeSerializer, request.data)
        merge = person_merge(person_id=id, into_id=data["into"], actor=request.user, reason=data["reason"])
        return Response(
            {"id": merge.person.pk, "merged_into": merge.into.pk, "moved_cases": [c.pk for c in merge.cases]}
        )


# --- Households -------------------------------------------------------------------------------------


def _members(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [dict(m) for m in data["members"]]


class HouseholdCreateView(ApiView):
    @extend_schema(
        operation_id="households_create",
        summary="Record a household (staff who see the whole of an open case of a member)",
        request=us.HouseholdInputSerializer,
        responses=responses({201: us.HouseholdSerializer}, 409, *WRITE),
        tags=["persons"],
    )
    def post(self, request: Request) -> Response:
        data = validated_data(us.HouseholdInputSerializer, request.data)
        household = household_create(actor=request.user, members=_members(data), reason=data["reason"])
        body = selectors.household_get_for_user(request.user, household.pk, log=False)
        return Response(us.HouseholdSerializer(body).data, status=status.HTTP_201_CREATED)


class HouseholdDetailView(ApiView):
    @extend_schema(
        operation_id="households_retrieve",
        summary="A household: members you may see in full, the others as relation and age band",
        responses=responses({200: us.HouseholdSerializer}, *READ),
        tags=["persons"],
    )
    def get(self, request: Request, id: int) -> Response:
        found = selectors.household_get_for_user(request.user, id, request=request)
        return Response(us.HouseholdSerializer(found).data)

    @extend_schema(
        operation_id="households_update",
        summary="Edit a household: add or update `members`, take out `remove` (reason required)",
        description="Members not named stay as they are.",
        request=us.HouseholdUpdateSerializer,
        responses=responses({200: us.HouseholdSerializer}, 409, *WRITE),
        tags=["persons"],
    )
    def patch(self, request: Request, id: int) -> Response:
        data = validated_data(us.HouseholdUpdateSerializer, request.data)
        household = household_update(
            household_id=id,
            actor=request.user,
            members=[dict(m) for m in data.get("members") or []],
            remove=list(data.get("remove") or []),
            reason=data["reason"],
        )
        found = selectors.household_get_for_user(request.user, household.pk, log=False)
        return Response(us.HouseholdSerializer(found).data)
