"""Admin: the calendar and the rules are edited here (each edit recomputes the open deadlines through
the services); timers, escalations and the sweep status are read-only."""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from referral_engine.timers import services
from referral_engine.timers.models import ClosedDay, Escalation, EscalationPolicy, SweepStatus, Timer

RECOMPUTED = _("開いている期限を新しい設定で再計算しました（変更は各ケース・つなぎの履歴に記録されます）。")


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ClosedDay)
class ClosedDayAdmin(SimpleHistoryAdmin):
    list_display = ("date", "name", "source")
    list_filter = ("source",)
    search_fields = ("name",)
    date_hierarchy = "date"

    def save_model(self, request, obj, form, change):
        services.closed_day_save(closed_day=obj, actor=request.user, reason="admin")
        self.message_user(request, RECOMPUTED, messages.INFO)

    def delete_model(self, request, obj):
        services.closed_day_delete(closed_day=obj, actor=request.user, reason="admin")
        self.message_user(request, RECOMPUTED, messages.INFO)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)


@admin.register(EscalationPolicy)
class EscalationPolicyAdmin(SimpleHistoryAdmin):
    list_display = (
        "rule",
        "name",
        "target",
        "office_days",
        "calendar_days",
        "hours",
        "l1_percent",
        "l3_office_days",
        "is_active",
    )
    list_filter = ("target", "is_active")
    search_fields = ("rule", "name")

    def save_model(self, request, obj, form, change):
        services.escalation_policy_save(policy_row=obj, actor=request.user, reason="admin")
        self.message_user(request, RECOMPUTED, messages.INFO)

    def has_delete_permission(self, request, obj=None):
        return False  # switch a rule off with is_active: escalations keep naming it


@admin.register(Escalation)
class EscalationAdmin(ReadOnlyAdmin, SimpleHistoryAdmin):
    list_display = (
        "id",
        "level",
        "rule",
        "object_key",
        "cycle",
        "department",
        "state",
        "due_at",
        "fired_at",
        "acknowledged_by",
    )
    list_filter = ("state", "level", "department", "rule")
    search_fields = ("object_key", "rule", "case__number")
    date_hierarchy = "fired_at"
    list_select_related = ("department", "acknowledged_by")
    raw_id_fields = ("case", "referral")


@admin.register(Timer)
class TimerAdmin(ReadOnlyAdmin, SimpleHistoryAdmin):
    list_display = (
        "id",
        "rule",
        "object_key",
        "cycle",
        "department",
        "is_open",
        "started_at",
        "due_at",
        "fired_level",
        "next_fire_at",
    )
    list_filter = ("is_open", "target", "fired_level", "department")
    search_fields = ("object_key", "rule", "case__number")
    list_select_related = ("department",)
    raw_id_fields = ("case", "referral")


@admin.register(SweepStatus)
class SweepStatusAdmin(ReadOnlyAdmin):
    list_display = ("name", "last_success_at", "last_duration_ms", "last_fired")
