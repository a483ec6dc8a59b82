"""`GET /api/v1/reports/fiscal-year/{year}/` (DESIGN §11.6), wired in by referral_engine/api/urls.py.

JSON by default; `?format=csv` (UTF-8 with a BOM) or `?format=xlsx` answer the file itself — the
API makes files directly (the figures are a few grouped queries); the web page runs Excel in the
background. `?compare=true` adds last year's report under "previous"; `?publication=true` (files
only) suppresses small district counts. Supervisors see their departments' figures, the desk
supervisor, auditors and admins everything; other roles 403. Every answer is in the access log: a
view for JSON, an export for a file.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from referral_engine.api.schema import errors
from referral_engine.audit.models import AccessLog
from referral_engine.audit.services import access_log_export, access_log_record, terms_text
from referral_engine.reports import exports, selectors
from referral_engine.web.replica import replica_reads_api

# --- Query and response shapes (the response serializers document the schema) ---------------------


class ReportQuerySerializer(serializers.Serializer):
    format = serializers.ChoiceField(choices=["json", "csv", "xlsx"], default="json", required=False)
    compare = serializers.BooleanField(default=False, required=False)
    publication = serializers.BooleanField(default=False, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("publication") and attrs.get("format", "json") == "json":
            raise serializers.ValidationError(
                {"publication": [_("公表用（少数秘匿）は format=csv か format=xlsx で指定してください。")]}
            )
        return attrs


def _counts(help_text: str) -> serializers.DictField:
    return serializers.DictField(child=serializers.IntegerField(), help_text=help_text)


class ReportPeriodSerializer(serializers.Serializer):
    start = serializers.DateTimeField(help_text="1 April 00:00 JST")
    end = serializers.DateTimeField(help_text="31 March 23:59:59.999999 JST (inclusive)")


class ReportScopeSerializer(serializers.Serializer):
    all = serializers.BooleanField()
    departments = serializers.ListField(child=serializers.CharField(), help_text="department codes when not all")


class ReportConsultationsSerializer(serializers.Serializer):
    total = serializers.IntegerField(help_text="cases opened in the fiscal year")
    by_channel = _counts("channel code → cases")
    by_window = _counts("intake department code → cases")
    by_need = _counts("need code → cases (a case with several needs counts under each)")
    by_district = _counts("district code (or `unknown`) of the person → cases")
    by_month = _counts("`YYYY-MM`, April first → cases")


class ReportReferralStatesSerializer(serializers.Serializer):
    requested = serializers.IntegerField()
    accepted = serializers.IntegerField()
    declined = serializers.IntegerField()
    returned = serializers.IntegerField()
    completed = serializers.IntegerField()
    cancelled = serializers.IntegerField()


class ReportAcceptanceSerializer(serializers.Serializer):
    median = serializers.FloatField(allow_null=True, help_text="hours, one decimal")
    p90 = serializers.FloatField(allow_null=True, help_text="hours, one decimal")
    count = serializers.IntegerField(help_text="referrals accepted at some point")


class ReportReferralsSerializer(serializers.Serializer):
    total = serializers.IntegerField(help_text="referrals requested in the fiscal year")
    by_department = serializers.DictField(
        child=ReportReferralStatesSerializer(), help_text="receiving department code → referrals by current state"
    )
    acceptance_hours = ReportAcceptanceSerializer()


class ReportClosuresSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    by_reason = _counts("closure reason → cases")


class FiscalYearFiguresSerializer(serializers.Serializer):
    fiscal_year = serializers.IntegerField(help_text="the April's year: 2026 is 令和8年度")
    label = serializers.CharField(help_text="令和8年度")
    period = ReportPeriodSerializer()
    generated_at = serializers.DateTimeField()
    scope = ReportScopeSerializer()
    consultations = ReportConsultationsSerializer()
    referrals = ReportReferralsSerializer()
    gap_cases = serializers.IntegerField()
    closures = ReportClosuresSerializer()
    community_slips = serializers.IntegerField()
    watch_requests = serializers.IntegerField()


class FiscalYearReportSerializer(FiscalYearFiguresSerializer):
    previous = FiscalYearFiguresSerializer(
        required=False, allow_null=True, help_text="with ?compare=true: the previous fiscal year"
    )


# --- The view -----------------------------------------------------------------------------------------


class FiscalYearReportAPIView(APIView):
    def perform_content_negotiation(self, request: Request, force: bool = False) -> tuple[Any, str]:
        # `format` is this endpoint's own parameter (json, csv, xlsx), not DRF's renderer switch:
        # errors are JSON whatever was asked for.
        renderer = JSONRenderer()
        return renderer, renderer.media_type

    @extend_schema(
        operation_id="reports_fiscal_year_retrieve",
        summary="The fiscal-year report (supervisors: their departments; desk supervisor, auditors, admins: all)",
        parameters=[
            OpenApiParameter(
                "year", OpenApiTypes.INT, OpenApiParameter.PATH, description="the April: 2026 = 令和8年度"
            ),
            OpenApiParameter("format", OpenApiTypes.STR, enum=["json", "csv", "xlsx"], description="default json"),
            OpenApiParameter("compare", OpenApiTypes.BOOL, description="add the previous year under `previous`"),
            OpenApiParameter(
                "publication", OpenApiTypes.BOOL, description="csv/xlsx only: district counts under 3 show `<3`"
            ),
        ],
        responses={
            (200, "application/json"): FiscalYearReportSerializer,
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY, description="UTF-8 with a BOM"),
            (200, exports.XLSX_CONTENT_TYPE): OpenApiResponse(OpenApiTypes.BINARY),
            **errors(400, 401, 403, 404),
        },
        tags=["reports"],
    )
    @replica_reads_api
    def get(self, request: Request, year: int) -> Any:
        query = ReportQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        params = query.validated_data
        fmt = params.get("format", "json")
        compare = params.get("compare", False)
        publication = params.get("publication", False)
        report = selectors.fiscal_year_report(user=request.user, year=year, compare=compare)
        terms = {"fiscal_year": year, "format": fmt, "compare": compare, "publication": publication}
        if fmt == "json":
            access_log_record(
                user=request.user,
                action=AccessLog.Action.VIEW,
                object_type="report",
                query=terms_text(terms),
                request=request,
                via="api",
            )
            return Response(report)
        response = exports.report_file_response(report, format=fmt, publication=publication)
        access_log_export(user=request.user, object_type="report", terms=terms, request=request, via="api")
        return response
