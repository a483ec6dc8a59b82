"""The outbox in the admin: read-only, filterable by delivery state, so failures stay visible; one
action puts failed rows back in the queue."""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from referral_engine.notifications.delivery import notifications_retry
from referral_engine.notifications.models import Notification


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "created_at",
        "recipient",
        "kind",
        "title",
        "delivery",
        "attempts",
        "next_attempt_at",
        "read_at",
    )
    list_filter = ("delivery", "kind", ("read_at", admin.EmptyFieldListFilter), "created_at")
    search_fields = ("title", "recipient__username", "last_error")
    date_hierarchy = "created_at"
    list_select_related = ("recipient",)
    readonly_fields = [f.name for f in Notification._meta.fields]
    actions = ["retry_now"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=_("選択した失敗・未送信の通知を今すぐ再送"))
    def retry_now(self, request, queryset):
        count = notifications_retry(notification_ids=queryset.values_list("pk", flat=True))
        self.message_user(request, _("%(n)d 件を再送の列に戻しました。") % {"n": count}, messages.INFO)
