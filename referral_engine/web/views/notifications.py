"""`/notifications/`: the user's own notifications; opening one marks it read."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from referral_engine.cases.selectors import cases_visible_to
from referral_engine.notifications.selectors import notifications_for
from referral_engine.notifications.services import notifications_mark_read
from referral_engine.web.forms import NotificationReadForm

PAGE_SIZE = 50


def notification_list(request):
    """The user's notifications. A body (it may quote a decline's reason) shows only while the user
    may still see the case it is about: after a move to another department, the title stays and the
    contents go (one query for the page's cases)."""
    page = Paginator(notifications_for(request.user), PAGE_SIZE).get_page(request.GET.get("page"))
    notifications = list(page.object_list)
    case_ids = {n.case_id for n in notifications if n.case_id}
    visible = (
        set(cases_visible_to(request.user).filter(pk__in=case_ids).values_list("pk", flat=True)) if case_ids else set()
    )
    for n in notifications:
        n.body_shown = not n.case_id or n.case_id in visible
    return render(request, "web/notifications.html", {"page": page, "notifications": notifications})


@require_POST
def notification_read(request):
    """Mark one (notification_id) or all as read; `open=1` then follows the notification's link. An id
    that is not one (text, zero, past a key's range) marks nothing: it is not "all"."""
    form = NotificationReadForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("通知の指定が正しくありません。"))
        return redirect("notifications")
    notification_id = form.cleaned_data["notification_id"]
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
        return HttpResponseRedirect(target)  # a URL, never a view name to reverse (issue 16)
    if not notification_id:
        messages.success(request, _("%(n)d件を既読にしました。") % {"n": count})
    return redirect("notifications")
