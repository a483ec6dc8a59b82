"""/api/v1/disasters/ and /api/v1/safety-checks/ (DESIGN §11.5). Thin: parse, call the service or the
selector, render. Every read of the checks is in the access log (object `disaster`, basis `disaster`)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from referral_engine.api.model_serializer import ModelSerializer
from referral_engine.api.parsing import query_data, validated_data
from referral_engine.api.schema import READ, WRITE, responses
from referral_engine.api.views import ApiListView, ApiView
from referral_engine.audit.models import AccessLog
from referral_engine.audit.services import access_log_record
from referral_engine.disasters import selectors, services
from referral_engine.disasters.models import CheckStatus, Disaster, DisasterKind, SafetyCheck

# --- Serializers ----------------------------------------------------------------------------------


class DisasterSerializer(ModelSerializer):
    districts = serializers.SerializerMethodField()
    is_open = serializers.BooleanField(read_only=True)

    class Meta:
        model = Disaster
        fields = ["id", "name", "kind", "districts", "is_open", "opened_at", "closed_at"]

    def get_districts(self, disaster: Disaster) -> list[str]:
        return sorted(d.code for d in disaster.districts.all())


class DisasterOpenSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=services.NAME_MAX_LENGTH)
    kind = serializers.ChoiceField(choices=DisasterKind.choices)
    districts = serializers.ListField(child=serializers.SlugField(max_length=50), min_length=1, max_length=100)


class SafetyCheckSerializer(ModelSerializer):
    """What a supporter needs to find the person: no flag, no case."""

    person_name = serializers.CharField(source="person.full_name")
    address = serializers.CharField(source="person.address")
    district = serializers.CharField(source="district.code")
    updated_by = serializers.SerializerMethodField()

    class Meta:
        model = SafetyCheck
        fields = [
            "id",
            "person_name",
            "address",
            "district",
            "status",
            "supporters",
            "destination",
            "note",
            "updated_at",
            "updated_by",
        ]

    def get_updated_by(self, check: SafetyCheck) -> str | None:
        return str(check.updated_by) if check.updated_by_id else None


class SafetyCheckUpdateSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=CheckStatus.choices)
    note = serializers.CharField(max_length=services.NOTE_MAX_LENGTH, required=False, allow_blank=True, default="")


class ChecksQuerySerializer(serializers.Serializer):
    district = serializers.SlugField(max_length=50, required=False, default="")
    status = serializers.ChoiceField(choices=CheckStatus.choices, required=False, default="")


def _log_read(request: Request, disaster: Disaster, what: str) -> None:
    access_log_record(
        user=request.user,
        action=AccessLog.Action.VIEW,
        object_type=what,
        object_id=disaster.pk,
        request=request,
        via="api",
    )


# --- Views ------------------------------------------------------------------------------------------


class DisasterListView(ApiListView):
    @extend_schema(
        operation_id="disasters_list",
        summary="Disaster events I may see (open first)",
        responses=responses({200: DisasterSerializer(many=True)}, *READ),
        tags=["disasters"],
    )
    def get(self, request: Request) -> Response:
        return self.paginated(selectors.disasters_visible(request.user), DisasterSerializer)

    @extend_schema(
        operation_id="disasters_open",
        summary="Open a disaster event (disaster_prevention supervisor or admin): safety checks for its districts",
        request=DisasterOpenSerializer,
        responses=responses({201: DisasterSerializer}, *WRITE, 409),
        tags=["disasters"],
    )
    def post(self, request: Request) -> Response:
        data = dict(validated_data(DisasterOpenSerializer, request.data))
        disaster = services.disaster_open(
            actor=request.user, name=data["name"], kind=data["kind"], district_codes=data["districts"]
        )
        return Response(DisasterSerializer(disaster).data, status=201)


class DisasterDetailView(ApiView):
    @extend_schema(
        operation_id="disasters_retrieve",
        summary="One disaster event",
        responses=responses({200: DisasterSerializer}, *READ),
        tags=["disasters"],
    )
    def get(self, request: Request, id: int) -> Response:
        return Response(DisasterSerializer(selectors.disaster_get(request.user, id)).data)


class DisasterBoardView(ApiView):
    @extend_schema(
        operation_id="disasters_board",
        summary="Counts per district and status (the unconfirmed first)",
        responses=responses({200: OpenApiTypes.OBJECT}, *READ),
        tags=["disasters"],
    )
    def get(self, request: Request, id: int) -> Response:
        disaster = selectors.disaster_get(request.user, id)
        return Response(selectors.board(request.user, disaster))


class DisasterChecksView(ApiListView):
    @extend_schema(
        operation_id="disasters_checks",
        summary="The safety checks of an event I may see",
        parameters=[
            OpenApiParameter("district", str, description="a district code"),
            OpenApiParameter("status", str, enum=CheckStatus.values),
        ],
        responses=responses({200: SafetyCheckSerializer(many=True)}, 400, *READ),
        tags=["disasters"],
    )
    def get(self, request: Request, id: int) -> Response:
        query = query_data(ChecksQuerySerializer, request)
        disaster = selectors.disaster_get(request.user, id)
        _log_read(request, disaster, "disaster")
        return self.paginated(selectors.safety_checks(request.user, disaster, **query), SafetyCheckSerializer)


class DisasterCloseView(ApiView):
    @extend_schema(
        operation_id="disasters_close",
        summary="Close the event: the connectors' reach ends (404 afterwards)",
        request=None,
        responses=responses({200: DisasterSerializer}, *WRITE, 409),
        tags=["disasters"],
    )
    def post(self, request: Request, id: int) -> Response:
        return Response(DisasterSerializer(services.disaster_close(actor=request.user, disaster_id=id)).data)


class SafetyCheckView(ApiView):
    @extend_schema(
        operation_id="safety_checks_update",
        summary="A new status (and note) of a safety check; needs_rescue alerts the bosai supervisors",
        request=SafetyCheckUpdateSerializer,
        responses=responses({200: SafetyCheckSerializer}, *WRITE),
        tags=["disasters"],
    )
    def patch(self, request: Request, id: int) -> Response:
        data = dict(validated_data(SafetyCheckUpdateSerializer, request.data))
        check = services.safety_check_update(actor=request.user, check_id=id, status=data["status"], note=data["note"])
        return Response(SafetyCheckSerializer(check).data)
