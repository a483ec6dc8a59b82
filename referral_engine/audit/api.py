"""Audit endpoints of the REST API (DESIGN §8.1), wired in by referral_engine/api/urls.py:

    path("v1/audit/access-log/", AccessLogListAPIView.as_view(), name="audit-access-log"),
    path("v1/cases/<int:pk>/history/", CaseHistoryAPIView.as_view(), name="case-history"),

The access log is for auditors only (others: 403). A case's history is for those who may read it
(policy.can_view_history: auditors and full viewers); for anybody else the case does not exist (404).
Auditors change nothing: a write method on these routes answers 403 for them.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import exceptions, generics, permissions, serializers
from rest_framework.response import Response

from referral_engine import errors
from referral_engine.access import policy
from referral_engine.api.model_serializer import ModelSerializer
from referral_engine.audit import history_read, selectors, services, timeline
from referral_engine.audit.models import AccessLog
from referral_engine.audit.selectors import AccessLogFilter
from referral_engine.cases.models import Case
from referral_engine.prepared import PreparedStatementsMixin
from referral_engine.web.replica import replica_reads_api

# --- Serializers --------------------------------------------------------------------------------


class AccessLogEntrySerializer(ModelSerializer):
    display_name = serializers.CharField(source="user.display_name", read_only=True)
    user = serializers.IntegerField(source="user_id", read_only=True)

    class Meta:
        model = AccessLog
        fields = [
            "id",
            "at",
            "user",
            "username",
            "display_name",
            "role",
            "department",
            "action",
            "object_type",
            "object_id",
            "case_id",
            "query",
            "via",
            "path",
            "ip_address",
        ]
        read_only_fields = fields


class HistoryUserSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    display_name = serializers.CharField()


class FieldChangeSerializer(serializers.Serializer):
    field = serializers.CharField(help_text="Model field name")
    label = serializers.CharField(help_text="Field label (Japanese)")
    old = serializers.CharField(help_text="Display value before (labels, names, local time); empty when unset")
    new = serializers.CharField(help_text="Display value after; empty when unset")
    old_value = serializers.JSONField(
        allow_null=True, help_text="The stored value before, raw: codes, ids, ISO dates (null when unset)"
    )
    new_value = serializers.JSONField(allow_null=True, help_text="The stored value after, raw")


class HistoryEntrySerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    source = serializers.ChoiceField(choices=["event", "history"], help_text="timeline event or field-level change")
    kind = serializers.CharField(help_text="event kind, or created / changed / deleted")
    kind_label = serializers.CharField()
    object_type = serializers.CharField(help_text="case, person, referral, activity, consent…")
    object_id = serializers.IntegerField(allow_null=True)
    object_label = serializers.CharField()
    summary = serializers.CharField()
    user = serializers.SerializerMethodField()
    reason = serializers.CharField(help_text="As recorded (codes such as `referral_request: internal_use`)")
    reason_label = serializers.CharField(help_text="The reason in words (Japanese first)")
    case_number = serializers.CharField(help_text="R8-000123")
    changes = FieldChangeSerializer(many=True)
    data = serializers.DictField(help_text="non-sensitive facts of a timeline event")

    @extend_schema_field(HistoryUserSerializer(allow_null=True))
    def get_user(self, entry: timeline.Entry) -> dict[str, Any] | None:
        if entry.user_id is None:
            return None
        return {"id": entry.user_id, "username": entry.username, "display_name": entry.user_display_name}


# --- Views --------------------------------------------------------------------------------------


class IsAuditor(permissions.BasePermission):
    message = "Auditors only."

    def has_permission(self, request: Any, view: Any) -> bool:
        return policy.can_audit(request.user)


class _ReadOnlyForAuditors:
    """A write method on a read-only audit route: 403 for auditors (they change nothing)."""

    def http_method_not_allowed(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        if policy.can_audit(request.user):
            raise exceptions.PermissionDenied("Auditors change nothing.")
        return super().http_method_not_allowed(request, *args, **kwargs)


ACCESS_LOG_PARAMETERS = [
    OpenApiParameter("case", OpenApiTypes.INT, description="Case id"),
    OpenApiParameter("user", OpenApiTypes.STR, description="Username or user id"),
    OpenApiParameter("since", OpenApiTypes.DATE, description="From this day (Asia/Tokyo), inclusive"),
    OpenApiParameter("until", OpenApiTypes.DATE, description="Up to this day (Asia/Tokyo), inclusive"),
    OpenApiParameter("department", OpenApiTypes.STR, description="Department code of the user"),
    OpenApiParameter(
        "action", OpenApiTypes.STR, enum=AccessLog.Action.values, description="view, search, export, print"
    ),
    OpenApiParameter("object_type", OpenApiTypes.STR, description="case, person, referral…"),
]


class AccessLogListAPIView(_ReadOnlyForAuditors, generics.ListAPIView):
    """The access log, newest first (auditors only). Reading it is itself logged as a search."""

    serializer_class = AccessLogEntrySerializer
    permission_classes = [permissions.IsAuthenticated, IsAuditor]
    queryset = AccessLog.objects.none()  # for the schema; the rows come from the selector

    @extend_schema(
        parameters=ACCESS_LOG_PARAMETERS,
        summary="Access log (auditors only)",
        responses=AccessLogEntrySerializer(many=True),
    )
    @replica_reads_api  # the denied list's get too (it calls this one)
    def get(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> Any:
        filters = AccessLogFilter.from_params(self.request.query_params)
        if filters.errors:
            raise exceptions.ValidationError({name: [hint] for name, hint in filters.errors.items()})
        try:
            return selectors.access_log_list(user=self.request.user, filters=filters)
        except errors.Forbidden as exc:
            raise exceptions.PermissionDenied() from exc

    def list(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().list(request, *args, **kwargs)
        filters = AccessLogFilter.from_params(request.query_params)
        services.access_log_search(
            user=request.user, terms=filters.as_params(), object_type="access_log", request=request, via="api"
        )
        return response


class DeniedListAPIView(AccessLogListAPIView):
    """Denied reads (a 404 on a case, person or referral URL), newest first (auditors only): the access
    log's rows with action `denied`, filtered like the access log. A row whose `object_type` is
    `denied_summary` stands for many denials past the per-minute limit (`query`: minute, suppressed)."""

    @extend_schema(
        parameters=[p for p in ACCESS_LOG_PARAMETERS if p.name != "action"],
        summary="Denied reads (auditors only)",
        responses=AccessLogEntrySerializer(many=True),
    )
    def get(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> Any:
        filters = AccessLogFilter.from_params(self.request.query_params)
        if filters.errors:
            raise exceptions.ValidationError({name: [hint] for name, hint in filters.errors.items()})
        try:
            return selectors.denied_list(user=self.request.user, filters=filters)
        except errors.Forbidden as exc:
            raise exceptions.PermissionDenied() from exc

    def list(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        response = generics.ListAPIView.list(self, request, *args, **kwargs)
        filters = AccessLogFilter.from_params(request.query_params)
        services.access_log_search(
            user=request.user, terms=filters.as_params(), object_type="denied", request=request, via="api"
        )
        return response


class CaseHistoryAPIView(PreparedStatementsMixin, _ReadOnlyForAuditors, generics.ListAPIView):
    """The case's merged timeline: events and field-level changes (old → new) with who, when and
    why, oldest first. For those who may read the case's history; for anybody else: 404."""

    serializer_class = HistoryEntrySerializer
    permission_classes = [permissions.IsAuthenticated]
    prepared_methods = frozenset({"GET"})  # one case's timeline: the same plans whoever reads it

    def get_queryset(self) -> Any:  # the schema derives the path parameter from the Case model
        return Case.objects.none()

    @extend_schema(summary="Case history (timeline and field changes)", responses=HistoryEntrySerializer(many=True))
    def get(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        raw = kwargs.get("pk", kwargs.get("id", kwargs.get("case_id")))
        try:
            case = selectors.case_for_history(user=request.user, case_id=int(raw))
        except (errors.NotFound, TypeError, ValueError) as exc:
            raise exceptions.NotFound() from exc
        entries = history_read.case_history(case=case, reader=request.user)
        services.access_log_view(user=request.user, obj=case, request=request, via="api")
        # Plain dicts of plain values (history_read.entry_json): the serializer above is the schema.
        page = self.paginate_queryset(entries)
        if page is not None:
            return self.get_paginated_response([history_read.entry_json(e) for e in page])
        return Response([history_read.entry_json(e) for e in entries])
