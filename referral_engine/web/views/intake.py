"""`/cases/new/`: intake in one screen, and the person search it calls as the user types."""

from django.contrib import messages
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from referral_engine.access import policy
from referral_engine.audit.models import AccessLog
from referral_engine.audit.services import access_log_record
from referral_engine.cases import selectors
from referral_engine.cases.models import Person
from referral_engine.cases.services.intake import case_open
from referral_engine.errors import Conflict, InvalidInput, PossibleDuplicate
from referral_engine.web.errors import domain_errors
from referral_engine.web.forms import IntakeForm
from referral_engine.web.templatetags.wareki import wareki
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
    for candidate in duplicates or []:
        candidate["district_name"] = districts.get(candidate.get("district") or "", "")
    return render(
        request,
        "cases/case_new.html",
        {"form": form, "duplicates": duplicates, "person_label": person_label},
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
    """Search as you type (by kana or kanji): a small JSON list; every search is access-logged."""
    user = request.user
    if not policy.can_search_persons(user):
        return JsonResponse({"error": "forbidden", "message": _("検索の権限がありません。")}, status=403)
    query = request.GET.get("q", "")
    if len(query.strip()) < 1:
        return JsonResponse({"results": []})
    persons = selectors.persons_search(user, query, request=request, limit=10)
    return JsonResponse(
        {
            "results": [
                {
                    "id": person.pk,
                    "name": person.full_name,
                    "kana": person.full_name_kana,
                    "birth_date": wareki(person.birth_date) if person.birth_date else "",
                    "district": person.district.name if person.district_id else "",
                    "address": person.address,
                }
                for person in persons
            ]
        }
    )
