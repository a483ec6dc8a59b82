"""`/cases/new/`: intake in one screen, and the person search it calls as the user types."""

from datetime import date

from django.contrib import messages
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from referral_engine.access import policy
from referral_engine.accounts.models import Department, District
from referral_engine.audit.models import AccessLog
from referral_engine.audit.services import access_log_record
from referral_engine.cases import selectors
from referral_engine.cases.models import Person
from referral_engine.cases.services.intake import case_open
from referral_engine.cases.services.persons import person_candidates_payload
from referral_engine.errors import Conflict, Forbidden, InvalidInput, PossibleDuplicate, Throttled
from referral_engine.web.errors import domain_errors
from referral_engine.web.forms import IntakeForm
from referral_engine.web.templatetags.wareki import wareki
from referral_engine.web.upkeep_panels import merge_offers
from referral_engine.web.views.common import require


@domain_errors
def case_new(request):
    user = request.user
    require(policy.can_open_case(user), _("ケースを受け付ける権限がありません。"))
    window_ids = policy.principal(user).department_ids
    duplicates = None
    status = 200
    person_label = request.POST.get("person_label", "")
    if request.method == "POST":
        form = IntakeForm(request.POST, window_ids=window_ids)
        if form.is_valid():
            data = form.cleaned_data
            chosen = request.POST.get("use_person") or data.get("person_id")
            person_id = int(chosen) if str(chosen or "").isdigit() else None
            specs, codes = form.referral_payloads()
            try:
                case = case_open(
                    actor=user,
                    channel=data["channel"],
                    summary=data["summary"],
                    needs=list(data["needs"]),
                    risk=data["risk"],
                    person_id=person_id,
                    person=None if person_id else form.person_payload(),
                    confirm_new_person=request.POST.get("confirm_new_person") == "1",
                    referrals=specs,
                    consent=form.consent_payload(),
                    first_note=data["first_note"],
                    idempotency_key=data["idempotency_key"],
                )
            except PossibleDuplicate as exc:
                duplicates = exc.candidates
                status = 409
            except InvalidInput as exc:
                form.add_domain_errors(exc, form.referral_error_map(codes))
                status = 400
            except Conflict as exc:
                form.add_error(None, exc.message)
                status = 409
            else:
                messages.success(request, _("ケース %(n)s を受け付けました。") % {"n": case.number})
                return redirect("case_detail", case_id=case.pk)
        else:
            status = 400
    else:
        form, person_label = _form_for_person(request, window_ids)
    districts = dict(form.fields["district"].choices)
    names = _department_names() if duplicates else {}
    offers = merge_offers(user, duplicates or [])
    for candidate in duplicates or []:
        candidate["district_name"] = districts.get(candidate.get("district") or "", "")
        candidate["open_case_at_names"] = [names.get(code, code) for code in candidate.get("open_case_at", [])]
        candidate["merge_into"] = offers.get(candidate["id"], [])
    return render(
        request,
        "cases/case_new.html",
        {
            "form": form,
            "duplicates": duplicates,
            "person_label": person_label,
            "merge_offered": bool(offers),
        },
        status=status,
    )


def _form_for_person(request, window_ids):
    """`?person=<id>` (the safety-check board's "open a case"): the intake with that person chosen, for
    those who may search persons (the same identity the search shows; the read is logged)."""
    raw = request.GET.get("person", "")
    if not (raw.isdigit() and len(raw) < 19 and policy.can_search_persons(request.user)):
        return IntakeForm(window_ids=window_ids), ""
    person = Person.objects.filter(pk=int(raw)).only("id", "family_name", "given_name", "birth_date").first()
    if person is None:
        return IntakeForm(window_ids=window_ids), ""
    access_log_record(
        user=request.user, action=AccessLog.Action.VIEW, object_type="person", object_id=person.pk, request=request
    )
    born = f"（{wareki(person.birth_date, 'date')}）" if person.birth_date else ""
    return IntakeForm(window_ids=window_ids, initial={"person_id": person.pk}), f"{person.full_name}{born}"


@require_GET
def person_search(request):
    """Search as you type (by kana or kanji): a small JSON list of minimal candidates (DESIGN §11.1:
    name, kana, birth date, district, the town part of the address, where the person has an open
    case). Two characters at least (400), rate limited per user (429), every search access-logged."""
    user = request.user
    try:
        persons = selectors.persons_search(user, request.GET.get("q", ""), request=request)
    except Forbidden:
        return JsonResponse({"error": "forbidden", "message": _("検索の権限がありません。")}, status=403)
    except InvalidInput as exc:
        return JsonResponse({"error": exc.code, "message": exc.message, "fields": exc.fields}, status=400)
    except Throttled as exc:
        response = JsonResponse({"error": exc.code, "message": exc.message}, status=429)
        response["Retry-After"] = str(exc.retry_after)
        return response
    candidates = person_candidates_payload(persons)
    names = _department_names() if candidates else {}
    districts = dict(District.objects.values_list("code", "name")) if candidates else {}
    return JsonResponse({"results": [_candidate_for_page(c, names, districts) for c in candidates]})


def _candidate_for_page(candidate: dict, names: dict[str, str], districts: dict[str, str]) -> dict:
    """A candidate as the intake page shows it: 和暦, names of the district and departments."""
    birth = candidate["birth_date"]
    return {
        **candidate,
        "birth_date": wareki(date.fromisoformat(birth)) if birth else "",
        "district": districts.get(candidate["district"] or "", ""),
        "open_case_at": [names.get(code, code) for code in candidate["open_case_at"]],
    }


def _department_names() -> dict[str, str]:
    return dict(Department.objects.values_list("code", "name_ja"))
