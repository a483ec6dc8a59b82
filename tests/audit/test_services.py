"""The access-log helpers the UI and API call: views, searches with their terms, exports, prints, and
the view decorator."""

from __future__ import annotations

import pytest
from django.http import HttpResponse, HttpResponseNotFound
from django.test import RequestFactory

pytestmark = pytest.mark.django_db


def test_view_of_a_case_records_user_role_department_object_case_and_address(open_case, users, fresh):
    from referral_engine.audit.services import access_log_view

    case = open_case()
    request = RequestFactory().get(f"/cases/{case.pk}/", REMOTE_ADDR="10.1.2.3")
    log = access_log_view(user=fresh(users["worker_health"]), obj=case, request=request)
    assert (log.username, log.role, log.department) == ("au_worker_health", "caseworker", "health_promotion")
    assert (log.action, log.object_type, log.object_id, log.case_id) == ("view", "case", case.pk, case.pk)
    assert (log.via, log.ip_address, log.path) == ("ui", "10.1.2.3", f"/cases/{case.pk}/")


def test_view_of_a_person_and_of_a_referral(open_case, users):
    from referral_engine.audit.services import access_log_view

    case = open_case(referrals=[{"to_department": "health_promotion", "basis": "internal_use", "reason": "訪問"}])
    person = access_log_view(user=users["worker_welfare"], obj=case.person)
    assert (person.object_type, person.object_id, person.case_id) == ("person", case.person_id, None)
    referral = case.referrals.get()
    api_request = RequestFactory().get(f"/api/v1/referrals/{referral.pk}/")
    log = access_log_view(user=users["worker_welfare"], obj=referral, request=api_request)
    assert (log.object_type, log.case_id, log.via) == ("referral", case.pk, "api")


def test_search_keeps_a_fingerprint_of_typed_terms_and_the_other_filters_as_json(users):
    from referral_engine.audit.services import access_log_search, search_term_fingerprint

    typed = access_log_search(user=users["desk_welfare"], terms="ツクミ ハナコ")
    assert (typed.action, typed.object_type) == ("search", "person")
    assert typed.query.startswith("kana:7:") and "ツクミ" not in typed.query
    # The search's own normalisation: hiragana and half-width kana give the same fingerprint.
    assert typed.query == search_term_fingerprint("つくみ はなこ")
    assert search_term_fingerprint("ﾂｸﾐ ﾊﾅｺ")[-16:] == typed.query[-16:]
    filters = access_log_search(
        user=users["worker_welfare"], terms={"state": "assessing", "risk": "", "q": "津久見"}, object_type="case"
    )
    assert filters.query == f'{{"q": "{search_term_fingerprint("津久見")}", "state": "assessing"}}'
    assert "津久見" not in filters.query and search_term_fingerprint("津久見").startswith("name:3:")


def test_fingerprints_keep_case_numbers_and_hide_names_and_phone_numbers(settings):
    from referral_engine.audit.services import search_term_fingerprint

    assert search_term_fingerprint("R8-000004") == "number:R8-000004"
    assert search_term_fingerprint("000004") == "number:000004"
    phone = search_term_fingerprint("0972-00-0001")
    assert phone.startswith("phone:12:") and "0972" not in phone
    assert search_term_fingerprint("0972000001")[-16:] == phone[-16:]  # the digits are what counts
    name = search_term_fingerprint("山田 花子")
    assert name.startswith("name:5:") and len(name.rpartition(":")[2]) == 16
    assert search_term_fingerprint("山田花子")[-16:] == name[-16:]
    settings.ACCESS_LOG_TERM_KEY = "another-key-" * 4
    assert search_term_fingerprint("山田 花子") != name  # keyed: the table alone cannot be tried against names


def test_export_and_print(open_case, users):
    from referral_engine.audit.services import access_log_export, access_log_print

    case = open_case()
    export = access_log_export(user=users["chief_welfare"], object_type="case_list", terms={"state": "closed"})
    assert (export.action, export.object_type, export.query, export.case_id) == (
        "export",
        "case_list",
        '{"state": "closed"}',
        None,
    )
    printed = access_log_print(user=users["worker_welfare"], obj=case)
    assert (printed.action, printed.object_type, printed.case_id) == ("print", "case", case.pk)


def test_decorator_logs_successful_views_only(open_case, users):
    from referral_engine.audit.models import AccessLog
    from referral_engine.audit.services import access_logged

    case = open_case()

    @access_logged("case", url_kwarg="case_id")
    def detail(request, case_id):
        return HttpResponse("ok")

    @access_logged("person")
    def missing(request, pk):
        return HttpResponseNotFound()

    class PersonView:
        @access_logged("person")
        def get(self, request, pk):
            return HttpResponse("ok")

    request = RequestFactory().get("/cases/1/")
    request.user = users["worker_welfare"]
    before = AccessLog.objects.count()
    detail(request, case_id=case.pk)
    missing(request, pk=case.person_id)
    PersonView().get(request, pk=case.person_id)
    logs = list(AccessLog.objects.order_by("id")[before:])
    assert [(log.object_type, log.object_id, log.case_id) for log in logs] == [
        ("case", case.pk, case.pk),
        ("person", case.person_id, None),
    ]
