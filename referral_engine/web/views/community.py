"""Watching over with the district (見守り依頼) on the web: staff ask a district from the case page and
close a request; a connector opens a request from their home page and reports a visit in a few taps
(`/watch/<id>/`, made for a phone). Nothing of the case reaches a connector's page: the person's
name and address, what to watch and until when."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from referral_engine.access import policy
from referral_engine.accounts.models import District
from referral_engine.cases import selectors
from referral_engine.cases.services.watch import watch_report_add, watch_request_close, watch_request_create
from referral_engine.errors import InvalidInput
from referral_engine.web.community_forms import WatchCloseForm, WatchReportForm, WatchRequestForm
from referral_engine.web.errors import domain_errors
from referral_engine.web.views.cases import case_page
from referral_engine.web.views.common import require
from referral_engine.workflow import registry as workflow_registry


def _case_url(case_id: int) -> str:
    return reverse("case_detail", kwargs={"case_id": case_id}) + "#watch"


@require_POST
@domain_errors
def case_watch_add(request, case_id: int):
    form = WatchRequestForm(request.POST, prefix="watch")
    if form.is_valid():
        data = form.cleaned_data
        try:
            watch_request_create(
                case_id=case_id,
                actor=request.user,
                district=data["district"],
                what_to_watch=data["what_to_watch"],
                basis=data["basis"],
                justification=data["justification"],
                until=data["until"],
            )
        except InvalidInput as exc:
            form.add_domain_errors(exc)
        else:
            messages.success(request, _("地区に見守りを依頼しました。"))
            return redirect(_case_url(case_id))
    case = selectors.case_get_for_user(request.user, case_id, request=request)
    messages.error(request, _("入力内容を確認してください。"))
    return case_page(request, case, bound={"watch": form}, status=400)


@require_POST
@domain_errors
def watch_close_post(request, watch_id: int):
    form = WatchCloseForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    watch = watch_request_close(watch_request_id=watch_id, actor=request.user, reason=reason)
    messages.success(request, _("見守り依頼を終了しました。地区のつなぎ役の画面からは見えなくなります。"))
    return redirect(_case_url(watch.case_id))


@domain_errors
def watch_detail(request, watch_id: int):
    """A connector's page for one request: who, where, what to watch, and the report buttons."""
    user = request.user
    watch = selectors.watch_request_get_for_user(user, watch_id, request=request)
    if not policy.can_report_watch(user, watch):
        # Staff who see the case read the request there, with its reports.
        return redirect(_case_url(watch.case_id))
    status = 200
    if request.method == "POST":
        form = WatchReportForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                watch_report_add(
                    watch_request_id=watch.pk,
                    actor=user,
                    outcome=data["outcome"],
                    note=data["note"],
                    visited_on=data["visited_on"],
                )
            except InvalidInput as exc:
                form.add_domain_errors(exc)
            else:
                messages.success(request, _("ご報告ありがとうございました。市の担当者に届きました。"))
                return redirect("home")
        status = 400
    else:
        form = WatchReportForm()
    return render(request, "web/watch_detail.html", {"watch": watch, "form": form}, status=status)


# --- Individual evacuation plans (個別避難計画) ------------------------------------------------------


@domain_errors
def evacuation_plans(request):
    """The live plans by district, with supporters, destination and review date (disaster_prevention)."""
    user = request.user
    require(policy.can_view_evacuation_plans(user), _("個別避難計画は防災・コミュニティ班の職員が見られます。"))
    district = request.GET.get("district") or ""
    plans = list(selectors.evacuation_plans_list(user, district=district or None, request=request)[:500])
    return render(
        request,
        "web/evacuation_plans.html",
        {
            "plans": plans,
            "district": district,
            "districts": District.objects.filter(is_active=True).order_by("pk"),
            "today": timezone.localdate(),
        },
    )


@domain_errors
def evacuation_plan_print(request, plan_id: int):
    """The plan on one A4 sheet for the supporters (print CSS), recorded as a print."""
    plan = selectors.evacuation_plan_get_for_user(request.user, plan_id, request=request)
    record = getattr(plan.referral, "stage_record", None)
    workflow = workflow_registry.get(plan.referral.to_department.code)
    rows = workflow.record_summary(record.data if record else {}) if workflow else []
    return render(request, "web/evacuation_plan_print.html", {"plan": plan, "rows": rows, "now": timezone.now()})
