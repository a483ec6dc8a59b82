"""The access log in the admin: read-only (no add, change or delete; the database refuses them too on
PostgreSQL). Tracked models show their history through simple-history's SimpleHistoryAdmin."""

from django.contrib import admin

from referral_engine.audit.models import AccessLog


@admin.register(AccessLog)
class AccessLogAdmin(admin.ModelAdmin):
    list_display = ("at", "username", "role", "department", "action", "object_type", "object_id", "case_id", "via")
    list_filter = ("action", "via", "object_type", "at")
    search_fields = ("username", "query", "path", "=case_id", "=object_id")
    date_hierarchy = "at"
    list_select_related = ("user",)
    show_full_result_count = False  # a large log: no COUNT(*) of the whole table on every page
    readonly_fields = [f.name for f in AccessLog._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
