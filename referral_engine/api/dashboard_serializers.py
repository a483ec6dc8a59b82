"""The API's escalation and dashboard shapes (DESIGN §8.1), beside serializers.py (which holds the
cases, referrals, persons and records): the supervisors' side of the API."""

from __future__ import annotations

from rest_framework import serializers

from referral_engine.api.serializers import TEXT, StrictCharField, user_ref
from referral_engine.cases.choices import CaseState, Risk

# --- Escalations and dashboard --------------------------------------------------------------------


class EscalationSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    level = serializers.IntegerField(read_only=True)
    rule = serializers.CharField(read_only=True)
    case = serializers.IntegerField(source="case_id", read_only=True)
    case_number = serializers.CharField(source="case.number", read_only=True)
    referral = serializers.IntegerField(source="referral_id", read_only=True, allow_null=True)
    department = serializers.CharField(source="department.code", read_only=True)
    state = serializers.ChoiceField(choices=["open", "acknowledged", "resolved"], read_only=True)
    due_at = serializers.DateTimeField(read_only=True)
    fired_at = serializers.DateTimeField(read_only=True)
    acknowledged_by = user_ref()
    acknowledged_at = serializers.DateTimeField(read_only=True, allow_null=True)
    note = serializers.CharField(read_only=True)
    resolved_at = serializers.DateTimeField(read_only=True, allow_null=True)


class EscalationAcknowledgeSerializer(serializers.Serializer):
    note = StrictCharField(max_length=TEXT, help_text="What happens next.")


class DepartmentRefSerializer(serializers.Serializer):
    code = serializers.CharField(allow_null=True)
    name = serializers.CharField(allow_null=True)


class DashboardScopeSerializer(serializers.Serializer):
    all = serializers.BooleanField(help_text="True for the desk supervisor and auditors: every department.")
    departments = serializers.ListField(child=serializers.CharField())


class DashboardTotalsSerializer(serializers.Serializer):
    stalled_cases = serializers.IntegerField()
    overdue_handoffs = serializers.IntegerField()
    gap_cases = serializers.IntegerField()
    open_escalations = serializers.IntegerField()


class DashboardCaseSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    risk = serializers.ChoiceField(choices=Risk.choices)
    state = serializers.ChoiceField(choices=CaseState.choices)
    lead_department = DepartmentRefSerializer()
    last_touched_at = serializers.DateTimeField()


class DashboardStalledCaseSerializer(DashboardCaseSerializer):
    stall_due_at = serializers.DateTimeField(allow_null=True)
    untouched_days = serializers.FloatField()
    overdue_hours = serializers.FloatField(allow_null=True)
    is_gap = serializers.BooleanField()


class CaseRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()


class DashboardHandoffSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    case = CaseRefSerializer()
    urgent = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    due_at = serializers.DateTimeField()
    to_department = DepartmentRefSerializer()
    from_department = DepartmentRefSerializer()
    overdue_hours = serializers.FloatField(allow_null=True)
    hours_left = serializers.FloatField(allow_null=True)


class DashboardDepartmentSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    open_cases = serializers.IntegerField()
    stalled_cases = serializers.IntegerField()
    gap_cases = serializers.IntegerField()
    pending_handoffs = serializers.IntegerField()
    overdue_handoffs = serializers.IntegerField()
    open_escalations = serializers.IntegerField()


class DashboardAcceptanceSerializer(serializers.Serializer):
    department = DepartmentRefSerializer()
    accepted = serializers.IntegerField()
    median_hours = serializers.FloatField(allow_null=True)


class DashboardWeekSerializer(serializers.Serializer):
    week = serializers.DateField(help_text="The Monday of the week (Asia/Tokyo).")
    count = serializers.IntegerField()


class DashboardSerializer(serializers.Serializer):
    """The supervisor dashboard (`referral_engine.timers.selectors.dashboard_data`), scoped to the user."""

    generated_at = serializers.DateTimeField()
    scope = DashboardScopeSerializer()
    totals = DashboardTotalsSerializer()
    stalled_cases = DashboardStalledCaseSerializer(many=True)
    overdue_handoffs = DashboardHandoffSerializer(many=True)
    soon_due_handoffs = DashboardHandoffSerializer(many=True)
    gap_cases = DashboardCaseSerializer(many=True)
    open_escalations_by_level = serializers.DictField(child=serializers.IntegerField(), help_text="L1, L2, L3")
    acknowledged_escalations_by_level = serializers.DictField(child=serializers.IntegerField())
    departments = DashboardDepartmentSerializer(many=True)
    acceptance_hours_by_department = DashboardAcceptanceSerializer(many=True)
    escalations_per_week = DashboardWeekSerializer(many=True)
