"""`/cases/` and `/cases/<id>/`: the list with filters, the case page, and the case page's forms.
Each POST calls one service; field errors re-render the page with what was typed kept."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django import forms as django_forms
from django.contrib import messages
from django.core.exceptions import ObjectDoesNotExist
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from referral_engine.access import policy
from referral_engine.accounts.models import Department, District
from referral_engine.audit.models import AccessLog
from referral_engine.audit.services import access_log_record, access_log_search
from referral_engine.cases import selectors
from referral_engine.cases import triage as case_triage
from referral_engine.cases.choices import (
    CaseState,
    ClosureReason,
    Need,
    PersonFlag,
    ReferralState,
    Risk,
)
from referral_engine.cases.inputs import FollowUpInputs
from referral_engine.cases.models import Case, Referral
from referral_engine.cases.services.case_state import case_available_transitions, case_lead_change, case_transition
from referral_engine.cases.services.followups import followup_create, followup_done
from referral_engine.cases.services.persons import person_update
from referral_engine.cases.services.records import activity_add, consent_record, consent_withdraw, stage_record_update
from referral_engine.cases.services.referrals import (
    HANDOFF_TRANSITIONS,
    referral_assign,
    referral_available_transitions,
    referral_create,
    referral_transition,
)
from referral_engine.errors import Conflict, Forbidden, IllegalTransition, InvalidInput
from referral_engine.pagination import SEARCH_COUNT_CAP, CappedCountPaginator
from referral_engine.web import labels, triage
from referral_engine.web.community_forms import WatchRequestForm
from referral_engine.web.errors import domain_errors, error_page
from referral_engine.web.forms import (
    ActivityForm,
    CaseTransitionForm,
    ConsentForm,
    ConsentWithdrawForm,
    FollowUpDoneForm,
    FollowUpForm,
    LeadChangeForm,
    PersonEditForm,
    ReferralAssignForm,
    ReferralCreateForm,
)
from referral_engine.web.upkeep_panels import upkeep_context
from referral_engine.web.views.common import redirect_next, require
from referral_engine.workflow import diagrams
from referral_engine.workflow import registry as workflow_registry

PAGE_SIZE = 50


# --- List ---------------------------------------------------------------------------------------


@domain_errors
def case_list(request):
    user = request.user
    require(policy.can_list_cases(user))
    params = request.GET
    now = timezone.now()
    stalled = {"1": True, "0": False}.get(params.get("stalled", ""))
    departments = list(Department.objects.filter(is_active=True).order_by("id"))
    triage_params = triage.case_list_params(params, user, {d.code: d.name_ja for d in departments})
    q_error = None
    try:
        qs = selectors.cases_filter(
            selectors.cases_visible_to(user),
            state=params.get("state") or None,
            department=params.get("department") or None,
            risk=params.get("risk") or None,
            stalled=stalled,
            q=params.get("q") or None,
            lead_worker=user if params.get("lead") == "me" else None,
            assigned_to=user if params.get("assigned") == "me" else None,
        )
    except InvalidInput as exc:  # a one-character search: said next to the field, nothing listed
        q_error = exc.message
        qs = selectors.cases_visible_to(user).none()
    qs = case_triage.cases_with_deadline(qs)
    qs = case_triage.cases_triage_filter(
        qs,
        stage=triage_params.stage_key,
        assignee=triage_params.assignee_user,
        unassigned=triage_params.assignee == "none",
        due=triage_params.due or None,
        now=now,
    )
    qs = case_triage.cases_sort(qs, triage_params.sort)
    if params.get("q"):
        # A name or number typed into the list is a search of persons: logged like the intake search.
        access_log_search(user=user, terms=params["q"][:200], object_type="case", request=request)
    # Counted up to 1,000 ("1,000件以上"): an exact count of a department's 390,000 cases took 1.4 s;
    # a search up to 100.
    cap = SEARCH_COUNT_CAP if params.get("q") else None
    page = CappedCountPaginator(qs, PAGE_SIZE, cap=cap).get_page(params.get("page"))
    cases = list(page.object_list)
    query = params.copy()
    query.pop("page", None)
    return render(
        request,
        "cases/case_list.html",
        {
            "page": page,
            "cases": cases,
            "rows": [triage.case_row(case, now) for case in cases],
            "filters": {
                k: params.get(k, "") for k in ("state", "department", "risk", "stalled", "q", "lead", "assigned")
            },
            "triage": triage_params,
            "sort_labels": triage.SORT_LABELS,
            "due_labels": triage.DUE_LABELS,
            "query_string": query.urlencode(),
            "q_error": q_error,
            "states": CaseState.choices,
            "risks": Risk.choices,
            "departments": departments,
            "now": now,
        },
    )


# --- Detail -------------------------------------------------------------------------------------


@dataclass
class ReferralView:
    """A referral as the case page shows it, with the buttons this user may press."""

    referral: Referral
    workflow: Any
    handoff_actions: list[labels.Action]
    stage_actions: list[labels.Action]
    stage_label: str
    diagram_svg: str | None
    stage_list: list[dict[str, Any]]
    record_summary: list[tuple[str, str]]
    record_form: Any
    assign_form: Any
    can_take: bool
    show_record: bool
    badges: list[tuple[str, str]] = field(default_factory=list)


def _record_data(referral: Referral) -> dict[str, Any]:
    try:
        return dict(referral.stage_record.data)
    except ObjectDoesNotExist:
        return {}


def prepare_record_form(form):
    """Use the browser's date pickers for the workflow's date fields (no script needed)."""
    for bound_field in form.fields.values():
        if isinstance(bound_field, django_forms.DateField):
            bound_field.widget.input_type = "date"
            bound_field.widget.format = "%Y-%m-%d"
    return form


def deadline_badges(referral: Referral, now) -> list[tuple[str, str]]:
    """(css class, text): 緊急, 期限超過 (overdue) and 期限間近 (due within 24 hours)."""
    badges = []
    if referral.urgent:
        badges.append(("badge-urgent", _("緊急")))
    if referral.state == ReferralState.REQUESTED and referral.due_at:
        if referral.due_at <= now:
            badges.append(("badge-overdue", _("期限超過")))
        elif (referral.due_at - now).total_seconds() <= 24 * 3600:
            badges.append(("badge-soon", _("期限間近")))
    return badges


def referral_view(
    user, referral: Referral, *, see_full: bool, now, bound: dict[str, Any], workers: dict[int, list] | None = None
) -> ReferralView:
    workers = {} if workers is None else workers
    workflow = workflow_registry.get(referral.to_department.code)
    handoff_actions, stage_actions = labels.referral_actions(referral_available_transitions(referral, user), workflow)
    diagram_svg, stage_list = None, []
    taken_on = referral.state in (ReferralState.ACCEPTED, ReferralState.COMPLETED)
    if workflow is not None and taken_on:
        diagram_svg = diagrams.workflow_diagram_svg(workflow, referral.stage, id_prefix=f"referral-{referral.pk}")
        if diagram_svg is None:
            stage_list = diagrams.workflow_stage_list(workflow, referral.stage)
    data = _record_data(referral) if see_full else {}
    record_form = None
    if (
        workflow is not None
        and referral.state == ReferralState.ACCEPTED
        and workflow.record_editable(referral.stage)
        and policy.can_edit_stage_record(referral, user)
    ):
        record_form = bound.get(("record", referral.pk)) or workflow.record_form(initial=data)
        prepare_record_form(record_form)
    assign_form = None
    if policy.can_assign(user, referral):
        if referral.to_department_id not in workers:
            workers[referral.to_department_id] = selectors.department_workers_with_load(referral.to_department_id)
        assign_form = ReferralAssignForm(
            workers=workers[referral.to_department_id], initial={"worker_id": referral.assigned_worker_id}
        )
    # "Assign to me": a caseworker of the receiving department takes an unassigned referral.
    can_take = assign_form is None and referral.assigned_worker_id is None and policy.can_assign(user, referral, user)
    return ReferralView(
        referral=referral,
        workflow=workflow,
        handoff_actions=handoff_actions,
        stage_actions=stage_actions,
        stage_label=workflow.stage_label(referral.stage) if workflow and referral.stage else "",
        diagram_svg=mark_safe(diagram_svg) if diagram_svg else None,  # noqa: S308 - our own Graphviz output
        stage_list=stage_list,
        record_summary=workflow.record_summary(data) if workflow else [],
        record_form=record_form,
        assign_form=assign_form,
        can_take=can_take,
        show_record=see_full,
        badges=deadline_badges(referral, now),
    )


def case_page(request, case: Case, *, bound: dict[str, Any] | None = None, status: int = 200, printing: bool = False):
    """Render the case page; `bound` holds forms that came back with errors, keyed by their name."""
    user = request.user
    bound = bound or {}
    now = timezone.now()
    level = policy.case_view_level(user, case)
    see_full = policy.can_see_sensitive(user, case)
    can_work = policy.can_work_case(case, user)
    referrals = list(selectors.case_referrals(case))
    policy.referrals_perms_prefetch(user, referrals)
    workers: dict[int, list] = {}  # per receiving department, for the assign forms
    referral_views = [
        referral_view(user, r, see_full=see_full, now=now, bound=bound, workers=workers) for r in referrals
    ]
    timeline = [
        {
            "event": e,
            "title": labels.event_title(e),
            "from": labels.state_label(e, e.from_state),
            "to": labels.state_label(e, e.to_state),
        }
        for e in selectors.case_timeline(case)
    ]
    flag_labels = dict(PersonFlag.choices)
    need_labels = dict(Need.choices)
    department_names = {d.code: d.name_ja for d in Department.objects.all()}
    districts = list(District.objects.order_by("pk"))
    department_names.update({f"district:{d.code}": d.name for d in districts})
    watch_requests = list(selectors.case_watch_requests(case)) if see_full else []
    consents = [
        (consent, [department_names.get(code, code) for code in consent.recipients])
        for consent in selectors.case_consents(case)
    ]
    case_actions = [labels.case_action(n) for n in case_available_transitions(case, user)]
    can_edit_person = not printing and policy.can_edit_person(user, case.person)

    can_add_followup = case.is_open and policy.can_add_followup(user, case)
    followups = [
        {
            "followup": f,
            "notes": policy.can_see_followup_notes(user, f),
            "overdue": f.is_open and f.due_on < timezone.localdate(),
            "can_complete": f.is_open and policy.can_complete_followup(user, f),
        }
        for f in selectors.case_followups(case)
    ]
    return render(
        request,
        "cases/case_detail.html",
        {
            "case": case,
            "person": case.person,
            "view_level": int(level),
            "see_full": see_full,
            "is_auditor": policy.can_audit(user),
            "flags": [(f, flag_labels.get(f, f)) for f in selectors.person_flags_for(user, case)],
            "person_sex": case.person.get_sex_display() if policy.case_person_sees_field(user, case, "sex") else "",
            "needs": [(n, need_labels.get(n, n)) for n in case.needs],
            "case_actions": case_actions,
            "closure_reasons": ClosureReason.choices,
            "referrals": referral_views,
            "timeline": timeline,
            "activities": selectors.case_activities_for(user, case),
            "consents": consents,
            "can_work": can_work,
            "can_manage_consent": policy.can_manage_consent(user, case),
            "can_refer": case.is_open and policy.can_refer(user, case),
            "can_reassign": policy.can_reassign(user, case),
            "transition_form": bound.get("transition") or CaseTransitionForm(),
            "activity_form": bound.get("activity") or ActivityForm(),
            "referral_form": bound.get("referral") or ReferralCreateForm(),
            "consent_form": bound.get("consent") or ConsentForm(districts=districts),
            "withdraw_form": ConsentWithdrawForm(),
            "lead_form": bound.get("lead")
            or LeadChangeForm(
                initial={"lead_department": case.lead_department.code, "lead_worker_id": case.lead_worker_id}
            ),
            "can_edit_person": can_edit_person,
            "person_form": (bound.get("person") or person_edit_form(user, case)) if can_edit_person else None,
            "printing": printing,
            "now": now,
            **upkeep_context(user, case, bound),
            "today": timezone.localdate(),
            "review_default": timezone.localdate() + timedelta(days=FollowUpInputs.monitoring_review_days),
            "followups": followups,
            "can_add_followup": can_add_followup,
            "followup_form": bound.get("followup")
            or (FollowUpForm(workers=selectors.case_workers(case)) if can_add_followup else None),
            "followup_done_form": FollowUpDoneForm(),
            # 見守り依頼 (issue 19): those who see the whole case read them; staff with full view ask.
            "watch_requests": watch_requests,
            "can_request_watch": case.is_open and policy.can_request_watch(user, case),
            "watch_handover_pending": see_full
            and case.is_open
            and selectors.watch_handover_pending(referrals, watch_requests),
            "watch_form": bound.get("watch")
            or WatchRequestForm(
                prefix="watch",
                districts=districts,
                person_district=case.person.district.code if case.person.district_id else "",
            ),
        },
        status=status,
    )


@domain_errors
def case_detail(request, case_id: int):
    case = selectors.case_get_for_user(request.user, case_id, request=request)
    return case_page(request, case)


@domain_errors
def case_print(request, case_id: int):
    """The same page laid out for paper; printing is recorded in the access log as well."""
    case = selectors.case_get_for_user(request.user, case_id, request=request)
    access_log_record(
        user=request.user,
        action=AccessLog.Action.PRINT,
        object_type="case",
        object_id=case.pk,
        case_id=case.pk,
        request=request,
    )
    return case_page(request, case, printing=True)


def _rerender(request, case_id: int, *, bound: dict[str, Any], status: int = 400):
    case = selectors.case_get_for_user(request.user, case_id, request=request)
    messages.error(request, _("入力内容を確認してください。"))
    return case_page(request, case, bound=bound, status=status)


def _case_url(case_id: int) -> str:
    return reverse("case_detail", kwargs={"case_id": case_id})


# --- Case page forms ----------------------------------------------------------------------------


@require_POST
@domain_errors
def case_transition_post(request, case_id: int):
    form = CaseTransitionForm(request.POST)
    if not form.is_valid():
        return _rerender(request, case_id, bound={"transition": form})
    name = form.cleaned_data["name"]
    try:
        case_transition(
            case_id=case_id,
            name=name,
            actor=request.user,
            reason=form.cleaned_data["reason"],
            closure_reason=form.cleaned_data["closure_reason"],
            review_on=form.cleaned_data["review_on"],
        )
    except InvalidInput as exc:
        messages.error(request, exc.message)
        for errors in exc.fields.values():
            for error in errors:
                messages.error(request, error)
        return redirect(_case_url(case_id) + "#state")
    except (IllegalTransition, Conflict) as exc:
        return error_page(request, exc, back_url=_case_url(case_id), labels=_case_labels())
    messages.success(request, labels.case_done_message(name))
    return redirect(_case_url(case_id) + "#state")


def _case_labels() -> dict[str, str]:
    return {k: str(v) for k, v in labels.CASE_TRANSITION_LABELS.items()}


@require_POST
@domain_errors
def case_activity_add(request, case_id: int):
    form = ActivityForm(request.POST)
    if form.is_valid():
        try:
            activity_add(
                case_id=case_id,
                actor=request.user,
                kind=form.cleaned_data["kind"],
                body=form.cleaned_data["body"],
                sensitive=form.cleaned_data["sensitive"],
                occurred_at=form.cleaned_data["occurred_at"],
            )
        except InvalidInput as exc:
            form.add_domain_errors(exc)
        else:
            messages.success(request, _("支援記録を追加しました。"))
            return redirect(_case_url(case_id) + "#activities")
    return _rerender(request, case_id, bound={"activity": form})


@require_POST
@domain_errors
def case_referral_add(request, case_id: int):
    form = ReferralCreateForm(request.POST)
    if form.is_valid():
        try:
            referral_create(
                case_id=case_id,
                actor=request.user,
                to_department=form.cleaned_data["to_department"],
                basis=form.cleaned_data["basis"],
                reason=form.cleaned_data["reason"],
                justification=form.cleaned_data["justification"],
                urgent=form.cleaned_data["urgent"],
            )
        except InvalidInput as exc:
            form.add_domain_errors(exc)
        else:
            messages.success(request, _("つなぎを依頼しました。"))
            return redirect(_case_url(case_id) + "#referrals")
    return _rerender(request, case_id, bound={"referral": form})


@require_POST
@domain_errors
def case_consent_add(request, case_id: int):
    form = ConsentForm(request.POST)
    if form.is_valid():
        try:
            consent_record(
                case_id=case_id,
                actor=request.user,
                recipients=list(form.cleaned_data["recipients"]),
                purposes=form.cleaned_data["purposes"],
                method=form.cleaned_data["method"],
                note=form.cleaned_data["note"],
            )
        except InvalidInput as exc:
            form.add_domain_errors(exc)
        else:
            messages.success(request, _("同意を記録しました。"))
            return redirect(_case_url(case_id) + "#consents")
    return _rerender(request, case_id, bound={"consent": form})


@require_POST
@domain_errors
def consent_withdraw_post(request, consent_id: int):
    form = ConsentWithdrawForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    consent = consent_withdraw(consent_id=consent_id, actor=request.user, note=note)
    messages.success(request, _("同意の撤回を記録しました。以後この同意による新たな情報提供はできません。"))
    return redirect(_case_url(consent.case_id) + "#consents")


@require_POST
@domain_errors
def case_lead_change_post(request, case_id: int):
    form = LeadChangeForm(request.POST)
    if form.is_valid():
        try:
            case_lead_change(
                case_id=case_id,
                actor=request.user,
                lead_department=form.cleaned_data["lead_department"],
                lead_worker_id=form.cleaned_data["lead_worker_id"],
            )
        except InvalidInput as exc:
            form.add_domain_errors(exc)
        else:
            messages.success(request, _("主担当を変更しました。"))
            return redirect(_case_url(case_id) + "#summary")
    return _rerender(request, case_id, bound={"lead": form})


def person_edit_form(user, case: Case, data=None) -> PersonEditForm:
    """The edit form of the case's person, filled with what this user sees of them."""
    person = case.person
    view = policy.person_view(user, person)
    initial = {
        "family_name": person.family_name,
        "given_name": person.given_name,
        "family_name_kana": person.family_name_kana,
        "given_name_kana": person.given_name_kana,
        "birth_date": person.birth_date,
        "district": person.district.code if person.district_id else "",
        "address": person.address,
        "phone": person.phone,
        "flags": view.flags(person.flags),
        "sex": person.sex if view.sees_field("sex") else "",
    }
    return PersonEditForm(data, initial=initial, show_sex=view.sees_field("sex"), auto_id="id_person_%s")


@require_POST
@domain_errors
def case_person_edit(request, case_id: int):
    case = selectors.case_get_for_user(request.user, case_id, request=request, log=False)
    form = person_edit_form(request.user, case, request.POST)
    if form.is_valid():
        try:
            person_update(
                person_id=case.person_id,
                actor=request.user,
                changes=form.changes(),
                reason=form.cleaned_data["reason"],
            )
        except InvalidInput as exc:
            form.add_domain_errors(exc)
        else:
            messages.success(request, _("本人の情報を変更しました。"))
            return redirect(_case_url(case_id) + "#summary")
    elif not policy.can_edit_person(request.user, case.person):
        raise Forbidden(_("この本人の情報を変更する権限がありません。"))
    return _rerender(request, case_id, bound={"person": form})


# --- Referral forms (from the case page and the inbox) ------------------------------------------


@require_POST
@domain_errors
def referral_transition_post(request, referral_id: int):
    name = request.POST.get("name", "")
    reason = request.POST.get("reason", "")
    referral = selectors.referral_get_for_user(request.user, referral_id)
    back = _case_url(referral.case_id)
    workflow = workflow_registry.get(referral.to_department.code)
    if name not in HANDOFF_TRANSITIONS and (workflow is None or name not in workflow.transition_names()):
        # A name no button sends is bad input (400), not a move the state forbids (409).
        raise InvalidInput(_("この操作はありません。"), fields={"name": [_("この操作はありません。")]})
    try:
        referral_transition(referral_id=referral.pk, name=name, actor=request.user, reason=reason)
    except InvalidInput as exc:
        messages.error(request, exc.message)
        for errors in exc.fields.values():
            for error in errors:
                messages.error(request, error)
        return redirect_next(request, back)
    except (IllegalTransition, Conflict) as exc:
        all_labels = {k: str(v) for k, v in labels.HANDOFF_LABELS.items()}
        if workflow:
            all_labels.update({i.name: i.label for i in workflow.transition_infos()})
        return error_page(request, exc, back_url=back, labels=all_labels)
    messages.success(request, labels.referral_done_message(name, department=referral.to_department, workflow=workflow))
    return redirect_next(request, back + f"#referral-{referral.pk}")


@require_POST
@domain_errors
def referral_record(request, referral_id: int):
    referral = selectors.referral_get_for_user(request.user, referral_id)
    workflow = workflow_registry.get(referral.to_department.code)
    if workflow is None or workflow.record_form is None:
        return error_page(request, InvalidInput(_("この部署には記録の様式がありません。")))
    form = workflow.record_form(data=request.POST)
    if form.is_valid():
        try:
            stage_record_update(referral_id=referral.pk, actor=request.user, data=request.POST)
        except InvalidInput as exc:
            for key, errors in exc.fields.items():
                for error in errors:
                    form.add_error(key if key in form.fields else None, error)
        else:
            messages.success(request, _("部署の記録を保存しました。"))
            return redirect(_case_url(referral.case_id) + f"#referral-{referral.pk}")
    return _rerender(request, referral.case_id, bound={("record", referral.pk): form})


@require_POST
@domain_errors
def referral_assign_post(request, referral_id: int):
    """The supervisor's assign form, or a caseworker's "assign to me" (`me=1`)."""
    referral = selectors.referral_get_for_user(request.user, referral_id)
    if request.POST.get("me"):
        worker_id = request.user.pk
    else:
        form = ReferralAssignForm(
            request.POST, workers=selectors.department_workers_with_load(referral.to_department_id)
        )
        if not form.is_valid():  # bad input is a 400 naming the field, not a 403 (issue 16)
            raise InvalidInput(_("担当者を選び直してください。"), fields={k: list(v) for k, v in form.errors.items()})
        worker_id = form.cleaned_data["worker_id"]
    try:
        referral_assign(referral_id=referral.pk, actor=request.user, worker_id=worker_id)
    except InvalidInput as exc:
        messages.error(request, exc.message)
        return redirect_next(request, _case_url(referral.case_id) + f"#referral-{referral.pk}")
    if worker_id == request.user.pk:
        messages.success(request, _("このつなぎをあなたが担当します。"))
    else:
        messages.success(request, _("担当者を割り当てました。"))
    return redirect_next(request, _case_url(referral.case_id) + f"#referral-{referral.pk}")


@domain_errors
def my_cases(request):
    """「自分の担当」: the open referrals assigned to me and the open cases I lead, each in full."""
    user = request.user
    require(policy.can_view_inbox(user))
    now = timezone.now()
    assigned = CappedCountPaginator(selectors.referrals_assigned_to(user), PAGE_SIZE).get_page(request.GET.get("page"))
    led = CappedCountPaginator(
        case_triage.cases_with_deadline(
            selectors.cases_filter(selectors.cases_visible_to(user), lead_worker=user).exclude(state=CaseState.CLOSED)
        ),
        PAGE_SIZE,
    ).get_page(request.GET.get("cpage"))
    return render(
        request,
        "cases/my_cases.html",
        {
            "assigned_page": assigned,
            "assigned": [(r, deadline_badges(r, now), triage.referral_facts(r, now)) for r in assigned.object_list],
            "led_page": led,
            "led": [triage.case_row(case, now) for case in led.object_list],
            "now": now,
        },
    )


# --- Follow-ups (予定) ----------------------------------------------------------------------------


@require_POST
@domain_errors
def case_followup_add(request, case_id: int):
    case = selectors.case_get_for_user(request.user, case_id, request=request, log=False)
    form = FollowUpForm(request.POST, workers=selectors.case_workers(case))
    if form.is_valid():
        try:
            followup_create(
                case_id=case_id,
                actor=request.user,
                due_on=form.cleaned_data["due_on"],
                note=form.cleaned_data["note"],
                assignee_id=form.cleaned_data["assignee_id"],
            )
        except InvalidInput as exc:
            form.add_domain_errors(exc)
        except Conflict as exc:
            return error_page(request, exc, back_url=_case_url(case_id))
        else:
            messages.success(request, _("予定を登録しました。"))
            return redirect(_case_url(case_id) + "#followups")
    return _rerender(request, case_id, bound={"followup": form})


@require_POST
@domain_errors
def followup_done_post(request, followup_id: int):
    form = FollowUpDoneForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    try:
        followup = followup_done(followup_id=followup_id, actor=request.user, note=note)
    except InvalidInput as exc:
        messages.error(request, exc.message)
        return redirect_next(request, "/")
    except IllegalTransition as exc:
        return error_page(request, exc, back_url="/")
    messages.success(request, _("予定を完了にしました。"))
    return redirect_next(request, _case_url(followup.case_id) + "#followups")
