"""The in-app inbox: a user's notifications and the unread count (for the header badge)."""

from __future__ import annotations

from typing import Any

from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet

from referral_engine.errors import NotFound
from referral_engine.notifications.models import Notification


def notifications_for(user: Any, *, unread_only: bool = False) -> QuerySet[Notification]:
    """The user's own notifications: unread first, then newest first (issue 18, item 7)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return Notification.objects.none()
    qs = Notification.objects.filter(recipient=user)
    if unread_only:
        qs = qs.filter(read_at__isnull=True)
    unread = ExpressionWrapper(Q(read_at__isnull=True), output_field=BooleanField())
    return qs.order_by(unread.desc(), "-created_at", "-id")


def notifications_unread_count(user: Any) -> int:
    if user is None or not getattr(user, "is_authenticated", False):
        return 0
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()


def notification_get_for_user(user: Any, notification_id: int) -> Notification:
    """One of the user's own notifications; anyone else's is a `NotFound`, like a missing one."""
    found = notifications_for(user).filter(pk=notification_id).first()
    if found is None:
        raise NotFound()
    return found
