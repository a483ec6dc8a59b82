"""`/notifications/`: the user's own notifications; opening one marks it read."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from referral_engine.notifications.selectors import notifications_for
from referral_engine.notifications.services import notifications_mark_read
from referral_engine.web.forms import NotificationReadForm

PAGE_SIZE = 50


def notification_list(request):
    page = Paginator(notifications_for(request.user), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "web/notifications.html", {"page": page, "notifications": list(page.object_list)})


@require_POST
def notification_read(request):
    """Mark one (notification_id) or all as read; `open=1` then follows the notification's link."""
    form = NotificationReadForm(request.POST)
    notification_id = form.cleaned_data["notification_id"] if form.is_valid() else None
    ids = [notification_id] if notification_id else None
    count = notifications_mark_read(user=request.user, notification_ids=ids)
    target = request.POST.get("url", "")
    if (
        notification_id
        and target
        and url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
    ):
        return redirect(target)
    if not notification_id:
        messages.success(request, _("%(n)d件を既読にしました。") % {"n": count})
    return redirect("notifications")
