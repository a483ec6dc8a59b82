"""`api.representation.represent`: a case's response from one bound serializer per class and thread is
DRF's own `.data`, for every reader and case, and one call's context never reaches the next."""

from __future__ import annotations

import threading

import pytest
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from referral_engine.api import serializers as s
from referral_engine.api.representation import represent
from referral_engine.cases.models import Case

pytestmark = pytest.mark.django_db

READERS = ["worker_welfare", "desk_welfare", "chief_welfare", "worker_health", "worker_longevity", "auditor"]


def _request(user):
    request = Request(APIRequestFactory().get("/api/v1/cases/"))
    request.user = user
    return request


def _case(pk):
    return Case.objects.select_related("person__district", "intake_department", "lead_department", "lead_worker").get(
        pk=pk
    )


def test_each_reader_gets_what_drf_would_give_them(users, fresh, staff_move_cases, open_case):
    community = open_case("worker_welfare", channel="community")
    seen = set()
    for case in [*staff_move_cases, community]:
        for username in READERS:
            expected = s.CaseSerializer(_case(case.pk), context={"request": _request(fresh(users[username]))}).data
            got = represent(s.CaseSerializer, _case(case.pk), {"request": _request(fresh(users[username]))})
            assert got == expected, (username, case.pk)
            seen.add((got["access"], bool(got["person"]["flags"] or got["person"]["sex"])))
    assert {access for access, _ in seen} >= {"full", "limited", "audit"}  # the readers differ, so could the output


def test_the_context_is_the_calls_own_and_is_let_go(users, fresh, open_case):
    case = _case(open_case("worker_welfare").pk)
    full = represent(s.CaseSerializer, case, {"request": _request(fresh(users["worker_welfare"]))})
    audit = represent(s.CaseSerializer, case, {"request": _request(fresh(users["auditor"]))})
    assert (full["access"], audit["access"]) == ("full", "audit")
    from referral_engine.api import representation

    pooled = representation._pool.serializers[s.CaseSerializer]
    assert pooled._context == {}  # no request kept between calls


def test_a_nested_call_of_the_same_class_gets_its_own_serializer(users, fresh, open_case):
    outer_case, inner_case = _case(open_case("worker_welfare").pk), _case(open_case("worker_welfare").pk)
    request = _request(fresh(users["worker_welfare"]))
    inner = {}

    class Nesting(s.CaseSerializer):
        def get_community_slip(self, case):
            if case.pk == outer_case.pk:
                inner["data"] = represent(Nesting, inner_case, {"request": request})
            return super().get_community_slip(case)

    outer = represent(Nesting, outer_case, {"request": request})
    assert (outer["id"], inner["data"]["id"]) == (outer_case.pk, inner_case.pk)
    assert outer == s.CaseSerializer(outer_case, context={"request": request}).data


def test_each_thread_has_its_own_serializer(users, open_case):
    from referral_engine.api import representation

    represent(s.PersonBriefSerializer, _case(open_case("worker_welfare").pk).person, {})
    mine = representation._pool.serializers[s.PersonBriefSerializer]
    theirs = []
    thread = threading.Thread(
        target=lambda: theirs.append(getattr(representation._pool, "serializers", {}).get(s.PersonBriefSerializer))
    )
    thread.start()
    thread.join()
    assert theirs == [None] and mine is representation._pool.serializers[s.PersonBriefSerializer]
