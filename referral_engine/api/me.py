"""The user's own things in the API (DESIGN §11.3, issue 18 item 7): `GET /api/v1/notifications/`
(mine, unread first), `POST /api/v1/notifications/{id}/read/`, and `GET` / `PATCH
/api/v1/me/preferences/` (`mail_preference`, `date_style`). Every signed-in role, each only their own."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from referral_engine.accounts.models import DateStyle, MailPreference
from referral_engine.accounts.preferences import user_preferences, user_preferences_set
from referral_engine.api.model_serializer import ModelSerializer
from referral_engine.api.parsing import validated_data
from referral_engine.api.schema import READ, WRITE, responses
from referral_engine.api.views import ApiListView, ApiView
from referral_engine.cases.selectors import cases_visible_to
from referral_engine.notifications.models import Notification
from referral_engine.notifications.selectors import notification_get_for_user, notifications_for
from referral_engine.notifications.services import notifications_mark_read


class NotificationSerializer(ModelSerializer):
    url = serializers.SerializerMethodField(help_text="Where the notification leads (a path of the web UI).")
    body = serializers.SerializerMethodField(
        help_text="The in-app text; null while the reader may not see the case it is about."
    )
    case = serializers.IntegerField(source="case_id", allow_null=True, read_only=True)
    referral = serializers.IntegerField(source="referral_id", allow_null=True, read_only=True)

    class Meta:
        model = Notification
        fields = ["id", "kind", "title", "body", "case", "referral", "url", "created_at", "read_at"]
        read_only_fields = fields

    def get_url(self, obj: Notification) -> str:
        return obj.get_absolute_url()

    def get_body(self, obj: Notification) -> str | None:
        visible = self.context.get("visible_case_ids", set())
        return obj.body if not obj.case_id or obj.case_id in visible else None


def _visible_case_ids(user, rows) -> set[int]:
    """The same rule as the page: a body shows only while its reader may see the case (one query)."""
    case_ids = {n.case_id for n in rows if n.case_id}
    return set(cases_visible_to(user).filter(pk__in=case_ids).values_list("pk", flat=True)) if case_ids else set()


class NotificationListView(ApiListView):
    @extend_schema(
        operation_id="notifications_list",
        summary="My notifications, unread first, then newest",
        responses=responses({200: NotificationSerializer(many=True)}, *READ),
        tags=["me"],
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(notifications_for(request.user))
        context = {"request": request, "visible_case_ids": _visible_case_ids(request.user, page)}
        return self.get_paginated_response(NotificationSerializer(page, many=True, context=context).data)


class NotificationReadView(ApiView):
    @extend_schema(
        operation_id="notification_read",
        summary="Mark one of my notifications read (someone else's is a 404)",
        request=None,
        responses=responses({200: NotificationSerializer}, *WRITE),
        tags=["me"],
    )
    def post(self, request: Request, id: int) -> Response:
        notification = notification_get_for_user(request.user, id)
        notifications_mark_read(user=request.user, notification_ids=[notification.pk])
        notification.refresh_from_db(fields=["read_at"])
        context = {"request": request, "visible_case_ids": _visible_case_ids(request.user, [notification])}
        return Response(NotificationSerializer(notification, context=context).data)


class PreferencesSerializer(serializers.Serializer):
    mail_preference = serializers.ChoiceField(
        choices=MailPreference.choices, required=False, help_text="immediate, daily_digest or off."
    )
    date_style = serializers.ChoiceField(choices=DateStyle.choices, required=False, help_text="wareki or western.")


class MyPreferencesView(ApiView):
    @extend_schema(
        operation_id="me_preferences_retrieve",
        summary="My settings: notification mail and date style",
        responses=responses({200: PreferencesSerializer}, *READ),
        tags=["me"],
    )
    def get(self, request: Request) -> Response:
        return Response(PreferencesSerializer(user_preferences(request.user)).data)

    @extend_schema(
        operation_id="me_preferences_update",
        summary="Change my settings (either field or both)",
        request=PreferencesSerializer,
        responses=responses({200: PreferencesSerializer}, *WRITE),
        tags=["me"],
    )
    def patch(self, request: Request) -> Response:
        data = validated_data(PreferencesSerializer, request.data)
        user = user_preferences_set(user=request.user, actor=request.user, **data)
        return Response(PreferencesSerializer(user_preferences(user)).data)
