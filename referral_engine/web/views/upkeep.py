"""The case page's forms of keeping persons and cases right (issue 17): reassessment, households,
merging two records of one person; and the desk's queue of community slips (`/slips/queue/`).
Each POST calls one service; field errors re-render the page with what was typed kept."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from referral_engine.access import policy
from referral_engine.cases import selectors
from referral_engine.cases.choices import HouseholdRelation
from referral_engine.cases.models import HouseholdMember
from referral_engine.cases.services.households import household_create, household_update
from referral_engine.cases.services.merge import person_merge
from referral_engine.cases.services.persons import person_candidate_payload
from referral_engine.cases.services.reassessment import case_reassess
from referral_engine.cases.services.slips import slip_confirm_new, slip_link
from referral_engine.errors import Conflict, InvalidInput
from referral_engine.web.errors import domain_errors
from referral_engine.web.upkeep_forms import (
    HouseholdMemberForm,
    HouseholdRemoveForm,
    MergeForm,
    ReassessForm,
    SlipLinkForm,
)
from referral_engine.web.views.cases import _case_url, _rerender
from referral_engine.web.views.common import redirect_next, require


@require_POST
@domain_errors
def case_reassess_post(request, case_id: int):
    form = ReassessForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            case_reassess(
                case_id=case_id,
                actor=request.user,
                risk=data["risk"],
                needs=list(data["needs"]),
                summary=data["summary"],
                reason=data["reason"],
            )
        except InvalidInput as exc:
            form.add_domain_errors(exc)
        else:
            messages.success(request, _("再アセスメントを記録しました。"))
            return redirect(_case_url(case_id) + "#summary")
    return _rerender(request, case_id, bound={"reassess": form})


# --- The desk's slip queue ----------------------------------------------------------------------


@domain_errors
def slip_queue(request):
    """Slips not yet triaged, urgent first, each with the registered persons it may be about."""
    user = request.user
    require(policy.can_triage_slips(user), _("つなぎ票の確認は社会福祉課の職員が行います。"))
    slips = selectors.slips_queue(user, request=request)
    rows = [{"slip": slip, "candidates": [person_candidate_payload(p) for p in slip.candidates]} for slip in slips]
    return render(request, "web/slip_queue.html", {"rows": rows})


@require_POST
@domain_errors
def slip_link_post(request, slip_id: int):
    form = SlipLinkForm(request.POST)
    require(policy.can_triage_slips(request.user), _("つなぎ票の確認は社会福祉課の職員が行います。"))
    if not form.is_valid():
        messages.error(request, _("統合する本人を選んでください。"))
        return redirect("slip_queue")
    try:
        slip = slip_link(slip_id=slip_id, actor=request.user, person_id=form.cleaned_data["person_id"])
    except (InvalidInput, Conflict) as exc:
        messages.error(request, exc.message)
        return redirect("slip_queue")
    messages.success(request, _("つなぎ票を登録済みの本人に統合しました（ケース %(n)s）。") % {"n": slip.case.number})
    return redirect("slip_queue")


@require_POST
@domain_errors
def slip_confirm_new_post(request, slip_id: int):
    require(policy.can_triage_slips(request.user), _("つなぎ票の確認は社会福祉課の職員が行います。"))
    try:
        slip = slip_confirm_new(slip_id=slip_id, actor=request.user)
    except Conflict as exc:
        messages.error(request, exc.message)
        return redirect("slip_queue")
    messages.success(request, _("新しい本人として確認しました（ケース %(n)s）。") % {"n": slip.case.number})
    return redirect("slip_queue")


# --- Merging two records of one person ------------------------------------------------------------


@require_POST
@domain_errors
def person_merge_post(request, person_id: int):
    """「同一人物として統合」: from the intake's duplicate candidates (supervisors)."""
    # From the intake page the reason comes as `merge_reason` (the intake form holds the button).
    form = MergeForm(
        {"into": request.POST.get("into"), "reason": request.POST.get("reason") or request.POST.get("merge_reason")}
    )
    if not form.is_valid():
        messages.error(request, _("統合先と理由を入力してください。"))
        return redirect_next(request, "/cases/new/")
    try:
        merge = person_merge(
            person_id=person_id,
            into_id=form.cleaned_data["into"],
            actor=request.user,
            reason=form.cleaned_data["reason"],
        )
    except (InvalidInput, Conflict) as exc:
        messages.error(request, exc.message)
        return redirect_next(request, "/cases/new/")
    messages.success(
        request,
        _("本人の記録を統合しました（ケース %(n)d 件を移しました）。") % {"n": len(merge.cases)},
    )
    return redirect_next(request, "/cases/new/")


# --- Households ---------------------------------------------------------------------------------


@require_POST
@domain_errors
def case_household_add(request, case_id: int):
    """Add a member to the case person's household; the first member recorded makes the household,
    with the case's person as 本人."""
    case = selectors.case_get_for_user(request.user, case_id, request=request, log=False)
    form = HouseholdMemberForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        member = {"person_id": data["person_id"], "relation": data["relation"], "without_work": data["without_work"]}
        link = HouseholdMember.objects.filter(person_id=case.person_id).first()
        try:
            if link is None:
                household_create(
                    actor=request.user,
                    members=[{"person_id": case.person_id, "relation": HouseholdRelation.SELF}, member],
                    reason=data["reason"],
                )
            else:
                household_update(
                    household_id=link.household_id, actor=request.user, members=[member], reason=data["reason"]
                )
        except (InvalidInput, Conflict) as exc:
            form.add_domain_errors(exc, {"members[1].person_id": "person_id", "members[0].person_id": "person_id"})
        else:
            messages.success(request, _("世帯員を登録しました。"))
            return redirect(_case_url(case_id) + "#household")
    return _rerender(request, case_id, bound={"household": form})


@require_POST
@domain_errors
def case_household_remove(request, case_id: int):
    case = selectors.case_get_for_user(request.user, case_id, request=request, log=False)
    form = HouseholdRemoveForm(request.POST)
    link = HouseholdMember.objects.filter(person_id=case.person_id).first()
    if not form.is_valid() or link is None:
        messages.error(request, _("外す理由を入力してください。"))
        return redirect(_case_url(case_id) + "#household")
    try:
        household_update(
            household_id=link.household_id,
            actor=request.user,
            remove=[form.cleaned_data["person_id"]],
            reason=form.cleaned_data["reason"],
        )
    except (InvalidInput, Conflict) as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("世帯員を外しました。"))
    return redirect(_case_url(case_id) + "#household")
