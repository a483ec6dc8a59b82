"""The API of keeping persons and cases right (issue 17, DESIGN §11.2): reassessment, merging two
records of one person, the desk's queue of community slips, households. Thin views as in `views.py`:
parse, call one service or selector, render; the rules are in the services and the policy."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from referral_engine.api import serializers as s
from referral_engine.api.schema import WRITE, responses
from referral_engine.api.views import ApiView, _case_response, _validated
from referral_engine.cases.choices import Need, Risk
from referral_engine.cases.inputs import IntakeInputs, UpkeepInputs
from referral_engine.cases.services.reassessment import case_reassess

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
        data = _validated(ReassessSerializer, request.data).validated_data
        case = case_reassess(
            case_id=id,
            actor=request.user,
            risk=data.get("risk"),
            needs=data.get("needs"),
            summary=data.get("summary"),
            reason=data["reason"],
        )
        return _case_response(request, case)
