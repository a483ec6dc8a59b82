"""`/cases/new/`: intake in one screen, and the person search it calls as the user types."""

from datetime import date
from typing import Any

from django import forms as django_forms
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
from referral_engine.cases.intake_signal import intake_household_signal
from referral_engine.cases.models import Person
from referral_engine.cases.services.intake import case_open
from referral_engine.cases.services.person_choice import person_choice_person_id, person_choice_valid
from referral_engine.cases.services.persons import person_candidates_payload
from referral_engine.errors import Conflict, Forbidden, InvalidInput, PossibleDuplicate, Throttled
from referral_engine.web.errors import domain_errors
from referral_engine.web.forms import IntakeForm
from referral_engine.web.templatetags.wareki import wareki
from referral_engine.web.upkeep_panels import household_signal_labels, merge_offers
from referral_engine.web.views.common import require


@domain_errors
def case_new(request):
    user = request.user
    require(policy.can_open_case(user), _("ケースを受け付ける権限がありません。"))
    window_ids = policy.principal(user).department_ids
    duplicates = None
    status = 200
    person_label = request.POST.get("person_label", "")
    person_choice = request.POST.get("person_choice", "")
    if request.method == "POST" and request.POST.get("check_person"):
        # The check step (without the page's script): a duplicate candidate is chosen and its household
        # signal shown with everything typed kept; nothing is opened until "受け付ける".
        form, person_label, person_choice = _form_checking(request, window_ids, request.POST["check_person"])
    elif request.method == "POST":
        form = IntakeForm(request.POST, window_ids=window_ids)
        if form.is_valid():
            data = form.cleaned_data
            person_id, person_choice = _chosen_person(request, data)
            specs, codes = form.referral_payloads()
            try:
                case = case_open(
                    actor=user,
                    channel=data["channel"],
                    summary=data["summary"],
                    needs=list(data["needs"]),
                    risk=data["risk"],
                    person_id=person_id,
                    person_choice=person_choice,
                    person=None if person_id is not None else form.person_payload(),
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
        form, person_label, person_choice = _form_for_person(request, window_ids)
    signal = _household_signal(request, form, person_choice) if not duplicates else None
    if request.GET.get("part") == "household":
        # The page's script fetches this part after a search hit is chosen (static/js/intake.js).
        return render(request, "cases/_intake_household.html", {"signal": signal})
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
            "person_choice": person_choice,
            "signal": signal,
            "merge_offered": bool(offers),
        },
        status=status,
    )


def _chosen_person(request, data) -> tuple[Any, str]:
    """The existing person the intake is for and the proof it was offered (`person_choice`): the
    duplicate warning's button sends the candidate's proof as `use_person` (a bare id is still taken,
    and holds only for a person whose case the user sees); the search sends `person_id` and
    `person_choice`. None: a new person."""
    use = request.POST.get("use_person", "")
    if use:
        if use.isdigit():
            return use, ""
        found = person_choice_person_id(use)
        return (found if found is not None else use), use  # an unreadable proof is refused by the service
    return data.get("person_id"), request.POST.get("person_choice", "")


def _person_label(person: Person) -> str:
    born = f"（{wareki(person.birth_date, 'date')}）" if person.birth_date else ""
    return f"{person.full_name}{born}"


def _chosen_for_page(request, raw_id: Any, choice: str) -> Person | None:
    """The person to show as chosen, if the policy lets this user choose them (the read is logged)."""
    user = request.user
    if not (str(raw_id).isdigit() and len(str(raw_id)) < 19):
        return None
    person_id = int(raw_id)
    if not policy.can_choose_person_at_intake(user, person_id, offered=person_choice_valid(user, person_id, choice)):
        return None
    person = Person.objects.filter(pk=person_id).only("id", "family_name", "given_name", "birth_date").first()
    if person is not None:
        access_log_record(
            user=user, action=AccessLog.Action.VIEW, object_type="person", object_id=person.pk, request=request
        )
    return person


def _form_for_person(request, window_ids):
    """`?person=<id>&choice=<proof>` (the safety-check board's "open a case", a chosen search hit): the
    intake with that person chosen, for those the policy lets choose them."""
    choice = request.GET.get("choice", "")
    person = _chosen_for_page(request, request.GET.get("person", ""), choice)
    if person is None:
        return IntakeForm(window_ids=window_ids), "", ""
    return IntakeForm(window_ids=window_ids, initial={"person_id": person.pk}), _person_label(person), choice


def _form_checking(request, window_ids, choice: str):
    """The intake as typed, unbound (no errors shown yet), with the candidate named by `choice` chosen."""
    blank = IntakeForm(window_ids=window_ids)
    initial = {}
    for name, field in blank.fields.items():
        if name in request.POST:
            multiple = isinstance(field, django_forms.MultipleChoiceField)
            initial[name] = request.POST.getlist(name) if multiple else request.POST.get(name)
    person = _chosen_for_page(request, person_choice_person_id(choice) or "", choice)
    if person is None:
        messages.error(request, _("候補の有効期限が切れました。もう一度本人を探してください。"))
        initial.pop("person_id", None)
        return IntakeForm(window_ids=window_ids, initial=initial), "", ""
    initial["person_id"] = person.pk
    return IntakeForm(window_ids=window_ids, initial=initial), _person_label(person), choice


def _household_signal(request, form, choice: str) -> dict | None:
    """The chosen person's household signal with its labels, or None (services: cases/intake_signal.py)."""
    raw = form["person_id"].value()
    if not (str(raw or "").isdigit() and len(str(raw)) < 19):
        return None
    person_id = int(raw)
    user = request.user
    signal = intake_household_signal(
        user, person_id, offered=person_choice_valid(user, person_id, choice), request=request
    )
    return household_signal_labels(signal) if signal else None


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
    candidates = person_candidates_payload(persons, for_user=user)
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
