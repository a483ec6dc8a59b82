"""Permission-scoped reads (CONVENTIONS 5). Lists are one query each: the policy's reach
(`policy.cases_reach`, `policy.referrals_reach`, …, `Exists(...)` filters over the guardian tables) plus
what the page needs (`select_related`, filters, order). A case you may not see is a NotFound, the same
as one that does not exist. Every view of a case or person and every search is written to the access
log."""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from referral_engine.access import policy
from referral_engine.audit.models import AccessLog
from referral_engine.audit.services import access_log_record, access_log_search
from referral_engine.cases import normalize
from referral_engine.cases.choices import SENSITIVE_FLAGS, CaseState, ReferralState, SlipStatus, WatchState
from referral_engine.cases.models import (
    Activity,
    Case,
    CaseEvent,
    CommunitySlip,
    Consent,
    EvacuationPlan,
    Person,
    Referral,
    WatchReport,
    WatchRequest,
)
from referral_engine.errors import NotFound
from referral_engine.workflow import registry as workflow_registry


def _case_base() -> QuerySet[Case]:
    return Case.objects.select_related(
        "person", "person__district", "intake_department", "lead_department", "lead_worker"
    )


def cases_visible_to(user: Any) -> QuerySet[Case]:
    """Every case the user may open (full or limited), as one query."""
    return _case_base().filter(policy.cases_reach(user))


def cases_filter(
    qs: QuerySet[Case],
    *,
    state: str | None = None,
    department: str | None = None,
    risk: str | None = None,
    stalled: bool | None = None,
    q: str | None = None,
) -> QuerySet[Case]:
    if state:
        qs = qs.filter(state=state)
    if department:
        qs = qs.filter(Q(lead_department__code=department) | Q(referrals__to_department__code=department)).distinct()
    if risk:
        qs = qs.filter(risk=risk)
    if stalled is True:
        qs = qs.filter(stall_due_at__lte=timezone.now()).exclude(state__in=[CaseState.CLOSED, CaseState.ON_HOLD])
    elif stalled is False:
        qs = qs.exclude(stall_due_at__lte=timezone.now())
    if q:
        kana = normalize.kana_key(q)
        name = normalize.name_key(q)
        qs = qs.filter(
            Q(number__iexact=q.strip()) | Q(person__kana_key__startswith=kana) | Q(person__name_key__startswith=name)
        )
    return qs


def case_get_for_user(user: Any, case_id: Any, *, request: Any = None, via: str = "ui", log: bool = True) -> Case:
    """The case if the user may see it (logged as a view), else NotFound."""
    try:
        case = _case_base().get(pk=int(case_id))
    except (Case.DoesNotExist, TypeError, ValueError):
        raise NotFound(_("ケースが見つかりません。")) from None
    if not policy.can_view_case(user, case):
        raise NotFound(_("ケースが見つかりません。"))
    if log:
        access_log_record(
            user=user,
            action=AccessLog.Action.VIEW,
            object_type="case",
            object_id=case.pk,
            case_id=case.pk,
            request=request,
            via=via,
        )
    return case


def _referral_base() -> QuerySet[Referral]:
    return Referral.objects.select_related(
        "case", "case__person", "from_department", "to_department", "requested_by", "responded_by", "assigned_worker"
    )


def referrals_visible_to(user: Any) -> QuerySet[Referral]:
    """Every referral the user may open, as one query."""
    return _referral_base().filter(policy.referrals_reach(user))


def referrals_inbox(user: Any) -> QuerySet[Referral]:
    """Handoffs waiting for one of the user's departments, most pressing first."""
    return (
        _referral_base()
        .filter(policy.inbox_reach(user), state=ReferralState.REQUESTED)
        .order_by("-urgent", "due_at", "id")
    )


def referrals_in_progress(user: Any) -> QuerySet[Referral]:
    """Referrals the user's departments have taken on and are working (a caseworker who joined later:
    the work handed to them, not the department's older handoffs)."""
    return (
        _referral_base()
        .filter(policy.in_progress_reach(user), state=ReferralState.ACCEPTED)
        .order_by("stage_due_at", "-updated_at")
    )


def referral_get_for_user(user: Any, referral_id: Any) -> Referral:
    try:
        referral = _referral_base().get(pk=int(referral_id))
    except (Referral.DoesNotExist, TypeError, ValueError):
        raise NotFound(_("つなぎが見つかりません。")) from None
    if not policy.can_view_referral(user, referral):
        raise NotFound(_("つなぎが見つかりません。"))
    return referral


def case_referrals(case: Case) -> QuerySet[Referral]:
    return (
        Referral.objects.filter(case=case)
        .select_related("from_department", "to_department", "requested_by", "responded_by", "assigned_worker")
        .select_related("stage_record")
        .order_by("created_at", "id")
    )


def case_activities_for(user: Any, case: Case) -> list[Activity]:
    """Activities the user may read. Sensitive ones only for full viewers; for a limited viewer
    (a department that has not taken the work on) they come back masked: body blanked."""
    activities = list(
        Activity.objects.filter(case=case).select_related("author", "department").order_by("-occurred_at", "-id")
    )
    if policy.can_see_sensitive(user, case):
        return activities
    for activity in activities:
        if activity.sensitive:
            activity.body = ""
            activity.masked = True
    return activities


def case_timeline(case: Case) -> QuerySet[CaseEvent]:
    return CaseEvent.objects.filter(case=case).select_related("actor", "department", "referral__to_department")


def case_consents(case: Case) -> QuerySet[Consent]:
    return Consent.objects.filter(person_id=case.person_id).select_related("obtained_by", "withdrawn_by")


def person_flags_for(user: Any, case: Case) -> list[str]:
    """要配慮 flags only for full viewers."""
    if policy.can_see_sensitive(user, case):
        return list(case.person.flags)
    return [f for f in case.person.flags if f not in SENSITIVE_FLAGS]


def persons_search(user: Any, query: str, *, request: Any = None, via: str = "ui", limit: int = 20) -> list[Person]:
    """Intake search by kana or kanji (normalised), logged with its terms. Staff only."""
    if not policy.can_search_persons(user):
        return []
    query = (query or "").strip()[:100]
    if not query:
        return []
    access_log_search(user=user, terms=query, object_type="person", request=request, via=via)
    kana = normalize.kana_key(query)
    name = normalize.name_key(query)
    condition = Q(name_key__startswith=name)
    if kana:
        condition |= Q(kana_key__startswith=kana)
    digits = normalize.phone_key(query)
    if len(digits) >= 6:
        condition |= Q(phone_key=digits)
    return list(Person.objects.filter(condition).select_related("district").order_by("kana_key", "id")[:limit])


def slip_status(slip: CommunitySlip) -> str:
    """What a connector may know: received / connected (a referral was accepted) / closed."""
    if slip.case.state == CaseState.CLOSED:
        return SlipStatus.CLOSED
    if (
        getattr(slip, "has_accepted_referral", None)
        or slip.case.referrals.filter(state__in=[ReferralState.ACCEPTED, ReferralState.COMPLETED]).exists()
    ):
        return SlipStatus.CONNECTED
    return SlipStatus.RECEIVED


def slips_of(user: Any) -> QuerySet[CommunitySlip]:
    """A connector's own slips, with what their status needs and nothing of the case's contents."""
    accepted = Referral.objects.filter(
        case_id=OuterRef("case_id"), state__in=[ReferralState.ACCEPTED, ReferralState.COMPLETED]
    )
    return (
        CommunitySlip.objects.filter(connector=user)
        .select_related("district", "case")
        .annotate(has_accepted_referral=Exists(accepted))
        .order_by("-created_at", "-id")
    )


# --- Watch requests (見守り依頼, issue 19) -------------------------------------------------------------


def watch_requests_for_connector(user: Any, *, request: Any = None, via: str = "ui") -> QuerySet[WatchRequest]:
    """The open requests of the connector's districts not past `until`, soonest first. What a
    connector is shown of them is the person's name and address and what to watch (the serializers
    and the page take nothing else). The read is logged: it names people."""
    qs = (
        WatchRequest.objects.filter(policy.watch_requests_reach(user))
        .select_related("case__person", "district")
        .order_by("until", "id")
    )
    access_log_record(
        user=user,
        action=AccessLog.Action.VIEW,
        object_type="watch_request_list",
        request=request,
        via=via,
    )
    return qs


def watch_request_get_for_user(
    user: Any, watch_request_id: Any, *, request: Any = None, via: str = "ui"
) -> WatchRequest:
    """One request if the user may see it (a connector: their district's, live), logged; else 404."""
    try:
        watch = WatchRequest.objects.select_related("case", "case__person", "district", "department").get(
            pk=int(watch_request_id)
        )
    except (WatchRequest.DoesNotExist, TypeError, ValueError):
        raise NotFound(_("見守り依頼が見つかりません。")) from None
    if not policy.can_view_watch_request(user, watch):
        raise NotFound(_("見守り依頼が見つかりません。"))
    access_log_record(
        user=user,
        action=AccessLog.Action.VIEW,
        object_type="watch_request",
        object_id=watch.pk,
        case_id=watch.case_id,
        request=request,
        via=via,
    )
    return watch


def case_watch_requests(case: Case) -> QuerySet[WatchRequest]:
    """The case's watch requests with their reports, newest first (for those who see the whole case)."""
    return (
        WatchRequest.objects.filter(case=case)
        .select_related("district", "department", "requested_by", "closed_by")
        .prefetch_related(
            Prefetch("reports", queryset=WatchReport.objects.select_related("reporter").order_by("-created_at", "-id"))
        )
        .order_by("-created_at", "-id")
    )


def watch_handover_pending(referrals: list[Referral], watch_requests: list[WatchRequest]) -> bool:
    """A referral of the case waits at a stage that hands the person to the district's watching-over
    (`Workflow.watch_handover_stages`, the shakyo's `community_watch`) and no watch request is open:
    the case page asks for one. Over the lists the case page has loaded already (no query)."""
    if any(w.state == WatchState.OPEN for w in watch_requests):
        return False
    for referral in referrals:
        if referral.state not in (ReferralState.ACCEPTED, ReferralState.COMPLETED):
            continue
        workflow = workflow_registry.get(referral.to_department.code)
        if workflow is not None and referral.stage in workflow.watch_handover_stages:
            return True
    return False


# --- Individual evacuation plans (個別避難計画, issue 19) ---------------------------------------------


def evacuation_plans_list(
    user: Any, *, district: str | None = None, request: Any = None, via: str = "ui"
) -> QuerySet[EvacuationPlan]:
    """The live plans by district and review date (callers check `policy.can_view_evacuation_plans`
    first); the read names people and their supporters, so it is logged."""
    qs = (
        EvacuationPlan.objects.filter(is_active=True)
        .select_related("person", "district", "referral__case")
        .order_by("district_id", "review_date", "id")
    )
    if district:
        qs = qs.filter(district__code=district.replace("\x00", "")[:100])
    access_log_search(
        user=user, terms={"district": district or ""}, object_type="evacuation_plan", request=request, via=via
    )
    return qs


def evacuation_plan_get_for_user(user: Any, plan_id: Any, *, request: Any = None, via: str = "ui") -> EvacuationPlan:
    """One plan for its printable page (logged as a print), or 404 for whoever may not read plans."""
    if not policy.can_view_evacuation_plans(user):
        raise NotFound(_("個別避難計画が見つかりません。"))
    try:
        plan = EvacuationPlan.objects.select_related("person", "district", "referral__case", "referral").get(
            pk=int(plan_id)
        )
    except (EvacuationPlan.DoesNotExist, TypeError, ValueError):
        raise NotFound(_("個別避難計画が見つかりません。")) from None
    access_log_record(
        user=user,
        action=AccessLog.Action.PRINT,
        object_type="evacuation_plan",
        object_id=plan.pk,
        case_id=plan.referral.case_id,
        request=request,
        via=via,
    )
    return plan
