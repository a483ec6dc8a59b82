"""Permission-scoped reads (CONVENTIONS 5). Lists are one query each: the policy's reach
(`policy.cases_reach`, `policy.referrals_reach`, …, `Exists(...)` filters over the guardian tables) plus
what the page needs (`select_related`, filters, order). A case you may not see is a NotFound, the same
as one that does not exist. Every view of a case or person and every search is written to the access
log."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Exists, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from referral_engine.access import policy
from referral_engine.accounts.models import User
from referral_engine.accounts.roles import Role
from referral_engine.audit.models import AccessLog
from referral_engine.audit.services import access_log_record, access_log_search
from referral_engine.cases import normalize, search
from referral_engine.cases.choices import (
    OPEN_REFERRAL_STATES,
    CaseState,
    FollowUpState,
    ReferralState,
    SlipStatus,
    WatchState,
)
from referral_engine.cases.inputs import search_query
from referral_engine.cases.models import (
    Activity,
    Case,
    CaseEvent,
    CommunitySlip,
    Consent,
    EvacuationPlan,
    FollowUp,
    Household,
    HouseholdMember,
    Person,
    Referral,
    WatchReport,
    WatchRequest,
)
from referral_engine.errors import Forbidden, NotFound, Throttled
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
    lead_worker: Any = None,
    assigned_to: Any = None,
) -> QuerySet[Case]:
    """`lead_worker`: cases that user leads (`?lead=me`); `assigned_to`: cases with an open referral
    assigned to that user (`?assigned=me`)."""
    if lead_worker is not None:
        qs = qs.filter(lead_worker=lead_worker)
    if assigned_to is not None:
        qs = qs.filter(
            Exists(
                Referral.objects.filter(
                    case_id=OuterRef("pk"), assigned_worker=assigned_to, state__in=OPEN_REFERRAL_STATES
                )
            )
        )
    if state:
        qs = qs.filter(state=state)
    if department:
        # EXISTS, not a join and DISTINCT: the list's deadline ordering is an expression with parameters,
        # which PostgreSQL cannot match to the select list under DISTINCT when they are bound on the server.
        referred = Referral.objects.filter(case_id=OuterRef("pk"), to_department__code=department)
        qs = qs.filter(Q(lead_department__code=department) | Exists(referred))
    if risk:
        qs = qs.filter(risk=risk)
    if stalled is True:
        qs = qs.filter(stall_due_at__lte=timezone.now()).exclude(state__in=[CaseState.CLOSED, CaseState.ON_HOLD])
    elif stalled is False:
        qs = qs.exclude(stall_due_at__lte=timezone.now())
    if q:
        # Any part of the number or of the names (cases.search); at least two characters, like the
        # person search (InvalidInput otherwise).
        qs = search.cases_matching(qs, search_query(q))
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
        "case",
        "case__person",
        "case__person__district",  # triage at a glance: the district on every card (issue 18)
        "from_department",
        "to_department",
        "requested_by",
        "responded_by",
        "assigned_worker",
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


def referrals_assigned_to(user: Any, qs: QuerySet[Referral] | None = None) -> QuerySet[Referral]:
    """Open referrals (requested or accepted) assigned to the user (`?assigned=me`), most pressing
    first; within `qs` (the user's reach) when given."""
    qs = referrals_visible_to(user) if qs is None else qs
    return qs.filter(assigned_worker=user, state__in=OPEN_REFERRAL_STATES).order_by(
        "-urgent", "stage_due_at", "due_at", "id"
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
    """The consents recorded on this case: a case's consents are its own (`policy.case_consents_q`)."""
    return Consent.objects.filter(policy.case_consents_q(case)).select_related("obtained_by", "withdrawn_by")


def person_flags_for(user: Any, case: Case) -> list[str]:
    """The person's flags as this case shows them to `user` (`policy.case_person_flags`): ordinary
    ones to every reader; 要配慮 ones to full viewers, and only those a case they see held."""
    return policy.case_person_flags(user, case)


PERSON_SEARCH_LIMIT = 10  # candidates per search (DESIGN §11.1)
_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def person_search_rate() -> tuple[int, int]:
    """`PERSON_SEARCH_THROTTLE` ("30/minute"): (searches, seconds)."""
    raw = str(getattr(settings, "PERSON_SEARCH_THROTTLE", "30/minute") or "30/minute")
    number, _sep, period = raw.partition("/")
    return int(number), _PERIODS[(period.strip() or "m")[0].lower()]


def _person_search_throttle(user: Any, *, request: Any, via: str, terms: str) -> None:
    """The per-user limit on person searches, counted from the access log itself (every search is
    logged there), so the web and the API share one budget across every worker process. A refused
    search is logged too, as `person_throttled`: the auditor's search volume shows it."""
    allowed, seconds = person_search_rate()
    since = timezone.now() - timedelta(seconds=seconds)
    recent = AccessLog.objects.filter(
        user=user, action=AccessLog.Action.SEARCH, object_type="person", at__gte=since
    ).order_by("at")
    count = recent.count()
    if count < allowed:
        return
    oldest = recent.values_list("at", flat=True)[count - allowed]
    wait = max(1, int((oldest + timedelta(seconds=seconds) - timezone.now()).total_seconds()) + 1)
    access_log_search(user=user, terms=terms, object_type="person_throttled", request=request, via=via)
    raise Throttled(_("検索の回数が多すぎます。しばらく待ってから検索してください。"), retry_after=wait)


def persons_search(user: Any, query: Any, *, request: Any = None, via: str = "ui") -> list[Person]:
    """Intake search by any part of the kana or kanji names, or by phone (normalised), at least two characters, at most
    `PERSON_SEARCH_LIMIT` hits, rate limited per user (`PERSON_SEARCH_THROTTLE`) and logged with its
    terms as a fingerprint. Staff only (others: Forbidden). What a hit shows is
    `services.persons.person_candidates_payload`."""
    if not policy.can_search_persons(user):
        raise Forbidden(_("本人を検索する権限がありません。"))
    query = search_query(query)
    _person_search_throttle(user, request=request, via=via, terms=query)
    access_log_search(user=user, terms=query, object_type="person", request=request, via=via)
    # Any part of the names (cases.search, the case list's matching and index), or the phone number.
    persons, condition = search.name_condition(Person.objects.filter(merged_into__isnull=True), query)
    digits = normalize.phone_key(query)
    if len(digits) >= 6:
        condition |= Q(phone_key=digits)
    return list(persons.filter(condition).select_related("district").order_by("kana_key", "id")[:PERSON_SEARCH_LIMIT])


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


# --- The desk's queue of community slips (issue 17, DESIGN §11.2) ---------------------------------

SLIP_QUEUE_LIMIT = 50
SLIP_CANDIDATES = 10


def _slip_candidates(slip: CommunitySlip) -> list[Person]:
    """Registered persons the slip may be about: the same kana or kanji name (normalised, the slip's
    name as a prefix: a connector often knows the family name only), the slip's district first.
    Never the slip's own provisional person, never a record merged into another."""
    provisional = slip.case.person
    match = Q(pk__in=[])
    if len(provisional.kana_key) >= 2:
        match |= Q(kana_key__startswith=provisional.kana_key)
    if slip.name and len(provisional.name_key) >= 2:
        match |= Q(name_key__startswith=provisional.name_key)
    candidates = (
        Person.objects.filter(match, merged_into__isnull=True)
        .exclude(pk=provisional.pk)
        .select_related("district")
        .order_by("kana_key", "id")[: SLIP_CANDIDATES * 3]
    )
    ranked = sorted(candidates, key=lambda p: (p.district_id != slip.district_id, p.kana_key, p.pk))
    return ranked[:SLIP_CANDIDATES]


def slips_queue(user: Any, *, request: Any = None, via: str = "ui") -> list[CommunitySlip]:
    """Slips not yet triaged, urgent first then oldest, each with `candidates` (registered persons it
    may be about). The desk's staff only (`policy.can_triage_slips`; callers answer 403 first). The
    duplicate lookup is a search of persons: logged once per look at the queue."""
    if not policy.can_triage_slips(user):
        return []
    slips = list(
        CommunitySlip.objects.filter(triaged_at__isnull=True)
        .select_related("district", "connector", "case", "case__person")
        .order_by("-urgency", "created_at", "id")[:SLIP_QUEUE_LIMIT]
    )
    access_log_search(user=user, terms="slip_queue", object_type="person", request=request, via=via)
    for slip in slips:
        slip.candidates = _slip_candidates(slip)
    return slips


# --- Households (issue 17, DESIGN §11.2) -----------------------------------------------------------

CARE_FLAGS = frozenset({"needs_care", "disability", "mental_illness"})
AGE_BANDS = (
    (18, "under_18"),
    (30, "18_29"),
    (40, "30_39"),
    (50, "40_49"),
    (60, "50_59"),
    (70, "60_69"),
    (80, "70_79"),
)


def age_of(birth_date: Any, today: Any = None) -> int | None:
    if birth_date is None:
        return None
    today = today or timezone.localdate()
    return today.year - birth_date.year - ((today.month, today.day) < (birth_date.month, birth_date.day))


def age_band(birth_date: Any, today: Any = None) -> str:
    """What a reader who may not see the member learns of their age: a band, never the date."""
    age = age_of(birth_date, today)
    if age is None:
        return "unknown"
    return next((code for limit, code in AGE_BANDS if age < limit), "80_plus")


def household_hints(members: list[Any], today: Any = None) -> list[str]:
    """Patterns worth a look (docs/cases.md): `8050` — a parent aged 80 or more with a child aged
    40–64 flagged ひきこもり or without work; `young_carer` — a member under 18 living with a member
    who needs care (要介護, 障害, 精神疾患) and with no adult aged 18–64 free of those needs."""
    ages = {m.pk: age_of(m.person.birth_date, today) for m in members}
    hints = []
    parent_of_self = {"parent": {"self", "sibling"}, "self": {"child"}, "spouse": {"child"}}
    for old in members:
        if (ages[old.pk] or 0) < 80:
            continue
        for mid in members:
            age = ages[mid.pk]
            if age is None or not 40 <= age <= 64:
                continue
            struggling = "hikikomori" in (mid.person.flags or []) or mid.without_work
            if struggling and mid.relation in parent_of_self.get(old.relation, set()):
                hints.append("8050")
                break
        if hints:
            break
    minors = [m for m in members if ages[m.pk] is not None and ages[m.pk] < 18]
    cared = [m for m in members if CARE_FLAGS & set(m.person.flags or [])]
    able = [
        m
        for m in members
        if ages[m.pk] is not None and 18 <= ages[m.pk] <= 64 and not CARE_FLAGS & set(m.person.flags or [])
    ]
    if minors and cared and not able:
        hints.append("young_carer")
    return hints


def household_for(user: Any, household: Any, *, exclude_case_id: int | None = None) -> dict[str, Any] | None:
    """The household as `user` may see it, or None if they may see none of its members' cases.
    A member whose cases the user cannot see is shown as relation and age band only; every member's
    open cases are signalled by lead department only (never contents). The 8050 / young-carer hints
    go to those who see the whole of an open case of a member (auditors too)."""
    members = list(
        HouseholdMember.objects.filter(household=household).select_related("person").order_by("relation", "id")
    )
    person_ids = [m.person_id for m in members]
    if not policy.can_view_household(user, person_ids):
        return None
    open_cases = (
        Case.objects.filter(person_id__in=person_ids)
        .exclude(state=CaseState.CLOSED)
        .exclude(pk=exclude_case_id)
        .values_list("person_id", "lead_department__code")
        .order_by("lead_department__code")
    )
    departments: dict[int, list[str]] = {}
    for person_id, code in open_cases:
        departments.setdefault(person_id, [])
        if code not in departments[person_id]:
            departments[person_id].append(code)
    auditor = policy.can_audit(user)
    rows = []
    for m in members:
        row = {
            "relation": m.relation,
            "age_band": age_band(m.person.birth_date),
            "visible": auditor or policy.sees_a_case_of(user, m.person_id),
            "open_case_departments": departments.get(m.person_id, []),
        }
        if row["visible"]:
            row.update(
                person_id=m.person_id,
                name=m.person.full_name,
                kana=m.person.full_name_kana,
                birth_date=m.person.birth_date,
                without_work=m.without_work,
            )
        rows.append(row)
    sees_full = auditor or any(policy.sees_a_full_case_of(user, pid) for pid in person_ids)
    return {"id": household.pk, "members": rows, "hints": household_hints(members) if sees_full else []}


def person_household_for(user: Any, person: Person, *, case: Case | None = None) -> dict[str, Any] | None:
    """The household of `person` as `user` may see it (None when there is none). A person whose
    `household_memberships` were prefetched — or marked empty by whoever knows (a person made in this
    request, a case loaded with `locks.case_for_update`) — is not asked again."""
    prefetched = getattr(person, "_prefetched_objects_cache", {}).get("household_memberships")
    if prefetched is not None:
        link = next(iter(prefetched), None)
    else:
        link = HouseholdMember.objects.filter(person=person).select_related("household").first()
    if link is None:
        return None
    return household_for(user, link.household, exclude_case_id=case.pk if case else None)


def household_get_for_user(
    user: Any, household_id: Any, *, request: Any = None, via: str = "api", log: bool = True
) -> dict[str, Any]:
    """The household as the user may see it (logged as a view), else NotFound."""
    try:
        household = Household.objects.get(pk=int(household_id))
    except (Household.DoesNotExist, TypeError, ValueError):
        raise NotFound(_("世帯が見つかりません。")) from None
    found = household_for(user, household)
    if found is None:
        raise NotFound(_("世帯が見つかりません。"))
    if log:
        access_log_record(
            user=user,
            action=AccessLog.Action.VIEW,
            object_type="household",
            object_id=household.pk,
            request=request,
            via=via,
        )
    return found


def department_workers_with_load(department_id: int) -> list[Any]:
    """The department's caseworkers and supervisors, each with their open load (issue 18: the
    supervisor's reassign shows it): `open_referrals` (requested or accepted, assigned to them) and
    `led_cases` (open cases they lead). One query."""
    referrals = (
        Referral.objects.filter(assigned_worker=OuterRef("pk"), state__in=OPEN_REFERRAL_STATES)
        .order_by()
        .values("assigned_worker")
        .annotate(n=Count("*"))
        .values("n")
    )
    cases = (
        Case.objects.filter(lead_worker=OuterRef("pk"))
        .exclude(state=CaseState.CLOSED)
        .order_by()
        .values("lead_worker")
        .annotate(n=Count("*"))
        .values("n")
    )
    members = User.objects.filter(
        memberships__department_id=department_id,
        memberships__role__in=[Role.CASEWORKER, Role.SUPERVISOR],
        memberships__ended_at__isnull=True,
        is_active=True,
    ).distinct()
    return list(
        User.objects.filter(pk__in=members.values("pk"))
        .annotate(
            open_referrals=Coalesce(Subquery(referrals, output_field=IntegerField()), 0),
            led_cases=Coalesce(Subquery(cases, output_field=IntegerField()), 0),
        )
        .order_by("username")
    )


# --- Follow-ups (予定, issue 18) -------------------------------------------------------------------


def _followup_base() -> QuerySet[FollowUp]:
    return FollowUp.objects.select_related("case", "assignee", "department", "created_by", "done_by")


def followups_visible_to(user: Any) -> QuerySet[FollowUp]:
    """Follow-ups of the cases the user may open, open ones first by day."""
    reach = policy.cases_reach(user)
    qs = _followup_base()
    if reach != Q():
        qs = qs.filter(case__in=Case.objects.filter(reach).values("pk"))
    return qs.order_by("-state", "due_on", "id")  # "open" sorts after "done": descending puts it first


def followups_mine(user: Any, *, due_by: Any = None) -> QuerySet[FollowUp]:
    """My open follow-ups by day (`due_by`: only those due on or before that date)."""
    qs = followups_visible_to(user).filter(assignee=user, state=FollowUpState.OPEN).order_by("due_on", "id")
    if due_by is not None:
        qs = qs.filter(due_on__lte=due_by)
    return qs


def case_followups(case: Case) -> QuerySet[FollowUp]:
    return _followup_base().filter(case=case).order_by("-state", "due_on", "id")


def case_workers(case: Case) -> list[User]:
    """Staff of the departments working the case (its lead department and those that accepted a
    referral): who a follow-up may be set for. One query."""
    accepted = Referral.objects.filter(case=case, state=ReferralState.ACCEPTED).values("to_department_id")
    return list(
        User.objects.filter(
            Q(memberships__department_id=case.lead_department_id) | Q(memberships__department_id__in=accepted),
            memberships__role__in=[Role.CASEWORKER, Role.SUPERVISOR, Role.FRONT_DESK],
            memberships__ended_at__isnull=True,
            is_active=True,
        )
        .distinct()
        .order_by("username")
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
