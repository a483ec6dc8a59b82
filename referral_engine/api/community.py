"""The API of watching over with the district (DESIGN §11.4): staff ask a district from a case, the
district's connectors list their open requests and report visits. Thin views over
`cases.services.watch` and the selectors; a connector's representation carries the person's name,
address and what to watch, and nothing else of the case. Also the list of individual evacuation
plans (DESIGN §11.5) for disaster_prevention."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from referral_engine.access import policy
from referral_engine.api.model_serializer import ModelSerializer
from referral_engine.api.parsing import validated_data
from referral_engine.api.schema import READ, WRITE, responses
from referral_engine.api.serializers import IdField, StrictCharField, code, code_of, text, user_ref
from referral_engine.api.views import ApiListView, ApiView, _case
from referral_engine.cases import selectors
from referral_engine.cases.choices import Basis, WatchOutcome, WatchState
from referral_engine.cases.inputs import WatchInputs
from referral_engine.cases.models import EvacuationPlan, WatchReport, WatchRequest
from referral_engine.cases.services.watch import watch_report_add, watch_request_close, watch_request_create
from referral_engine.errors import Forbidden

# --- Shapes -------------------------------------------------------------------------------------


class WatchRequestCreateSerializer(serializers.Serializer):
    district = code(required=True)
    what_to_watch = StrictCharField(max_length=WatchInputs.what_to_watch.max_length)
    basis = serializers.ChoiceField(choices=Basis.choices)
    justification = text(
        WatchInputs.justification.max_length, help_text="Required for support_meeting, vital_interest and disaster."
    )
    until = serializers.DateField(help_text="The last day the district watches (at most a year ahead).")
    consent_id = IdField(required=False, allow_null=True, help_text="The consent relied on (basis consent).")


class WatchReportCreateSerializer(serializers.Serializer):
    visited_on = serializers.DateField(required=False, allow_null=True, help_text="Default: today.")
    outcome = serializers.ChoiceField(choices=WatchOutcome.choices)
    note = text(WatchInputs.note.max_length)


class WatchCloseSerializer(serializers.Serializer):
    reason = text(WatchInputs.reason.max_length)


class WatchRequestForConnectorSerializer(ModelSerializer):
    """All a connector learns: who, where, what to watch, until when."""

    person_name = serializers.CharField(source="case.person.full_name", read_only=True)
    address = serializers.CharField(source="case.person.address", read_only=True)
    state = serializers.ChoiceField(choices=WatchState.choices, read_only=True)

    class Meta:
        model = WatchRequest
        fields = ["id", "person_name", "address", "what_to_watch", "until", "state"]
        read_only_fields = fields


class WatchReportSerializer(ModelSerializer):
    outcome = serializers.ChoiceField(choices=WatchOutcome.choices, read_only=True)
    reporter = user_ref()

    class Meta:
        model = WatchReport
        fields = ["id", "watch_request", "visited_on", "outcome", "note", "reporter", "created_at"]
        read_only_fields = fields


class WatchRequestDetailSerializer(ModelSerializer):
    """A request as the staff who see the whole case read it, with its reports."""

    district = code_of()
    department = code_of()
    requested_by = user_ref()
    closed_by = user_ref()
    basis = serializers.ChoiceField(choices=Basis.choices, read_only=True)
    state = serializers.ChoiceField(choices=WatchState.choices, read_only=True)
    reports = WatchReportSerializer(many=True, read_only=True)

    class Meta:
        model = WatchRequest
        fields = [
            "id",
            "case",
            "district",
            "department",
            "requested_by",
            "what_to_watch",
            "until",
            "basis",
            "justification",
            "consent",
            "state",
            "created_at",
            "last_report_at",
            "closed_at",
            "closed_by",
            "reports",
        ]
        read_only_fields = fields


# --- Views --------------------------------------------------------------------------------------


class CaseWatchRequestsView(ApiListView):
    @extend_schema(
        operation_id="case_watch_requests_list",
        summary="The case's watch requests and their reports (those who see the whole case)",
        responses=responses({200: WatchRequestDetailSerializer(many=True)}, 403, *READ),
        tags=["watch-requests"],
    )
    def get(self, request: Request, id: int) -> Response:
        case = _case(request, id)
        if policy.case_view_level(request.user, case) < policy.ViewLevel.FULL:
            raise Forbidden(_("見守り依頼は、ケースの全体を見られる職員だけが見られます。"))
        return self.paginated(selectors.case_watch_requests(case), WatchRequestDetailSerializer)

    @extend_schema(
        operation_id="case_watch_requests_create",
        summary="Ask a district council to watch over the person (見守り依頼)",
        description="A disclosure outside the city: `internal_use` is refused; `consent` must name the district "
        "(`district:<code>` in its recipients); support_meeting, vital_interest and disaster need a justification.",
        request=WatchRequestCreateSerializer,
        responses=responses({201: WatchRequestDetailSerializer}, 409, *WRITE),
        tags=["watch-requests"],
    )
    def post(self, request: Request, id: int) -> Response:
        data = validated_data(WatchRequestCreateSerializer, request.data)
        watch = watch_request_create(
            case_id=id,
            actor=request.user,
            district=data["district"],
            what_to_watch=data["what_to_watch"],
            basis=data["basis"],
            justification=data["justification"],
            until=data["until"],
            consent_id=data.get("consent_id"),
        )
        return Response(WatchRequestDetailSerializer(watch, context={"request": request}).data, status=201)


class WatchRequestListView(ApiListView):
    @extend_schema(
        operation_id="watch_requests_list",
        summary="My district's open watch requests (connectors): name, address, what to watch, until",
        responses=responses({200: WatchRequestForConnectorSerializer(many=True)}, 401, 403),
        tags=["watch-requests"],
    )
    def get(self, request: Request) -> Response:
        if not policy.can_list_watch_requests(request.user):
            raise Forbidden(_("見守り依頼の一覧は地区のつなぎ役だけが見られます。"))
        watches = selectors.watch_requests_for_connector(request.user, request=request, via="api")
        return self.paginated(watches, WatchRequestForConnectorSerializer)


class WatchReportCreateView(ApiView):
    @extend_schema(
        operation_id="watch_request_reports_create",
        summary="Report a visit (connectors of the district)",
        description="`urgent` escalates at once to the supervisors of the case's lead department.",
        request=WatchReportCreateSerializer,
        responses=responses({201: WatchReportSerializer}, *WRITE),
        tags=["watch-requests"],
    )
    def post(self, request: Request, id: int) -> Response:
        data: dict[str, Any] = validated_data(WatchReportCreateSerializer, request.data)
        report = watch_report_add(
            watch_request_id=id,
            actor=request.user,
            visited_on=data.get("visited_on"),
            outcome=data["outcome"],
            note=data["note"],
        )
        return Response(WatchReportSerializer(report, context={"request": request}).data, status=201)


class WatchRequestCloseView(ApiView):
    @extend_schema(
        operation_id="watch_request_close",
        summary="End a watch request (staff who work the case, or its requester)",
        request=WatchCloseSerializer,
        responses=responses({200: WatchRequestDetailSerializer}, 409, *WRITE),
        tags=["watch-requests"],
    )
    def post(self, request: Request, id: int) -> Response:
        data = validated_data(WatchCloseSerializer, request.data)
        watch = watch_request_close(watch_request_id=id, actor=request.user, reason=data["reason"])
        return Response(
            WatchRequestDetailSerializer(watch, context={"request": request}).data, status=status.HTTP_200_OK
        )


# --- Individual evacuation plans (DESIGN §11.5) ---------------------------------------------------


class SupporterSerializer(serializers.Serializer):
    name = serializers.CharField()
    relation = serializers.CharField()
    contact = serializers.CharField()


class EvacuationPlanSerializer(ModelSerializer):
    person_name = serializers.CharField(source="person.full_name", read_only=True)
    address = serializers.CharField(source="person.address", read_only=True)
    district = code_of(allow_null=True)
    case = serializers.IntegerField(source="referral.case_id", read_only=True)
    supporters = SupporterSerializer(many=True, read_only=True)

    class Meta:
        model = EvacuationPlan
        fields = [
            "id",
            "person_name",
            "address",
            "district",
            "supporters",
            "destination",
            "review_date",
            "made_at",
            "case",
            "referral",
        ]
        read_only_fields = fields


class EvacuationPlanQuerySerializer(serializers.Serializer):
    district = code(help_text="A district code: only that district's plans.")


class EvacuationPlanListView(ApiListView):
    @extend_schema(
        operation_id="evacuation_plans_list",
        summary="Individual evacuation plans by district (disaster_prevention, the desk supervisor, auditors)",
        parameters=[EvacuationPlanQuerySerializer],
        responses=responses({200: EvacuationPlanSerializer(many=True)}, 400, 401, 403),
        tags=["evacuation-plans"],
    )
    def get(self, request: Request) -> Response:
        query = validated_data(EvacuationPlanQuerySerializer, request.query_params.dict())
        if not policy.can_view_evacuation_plans(request.user):
            raise Forbidden(_("個別避難計画は防災・コミュニティ班の職員が見られます。"))
        plans = selectors.evacuation_plans_list(
            request.user, district=query["district"] or None, request=request, via="api"
        )
        return self.paginated(plans, EvacuationPlanSerializer)
