"""`api.parsing.validated_data`: a body validated by one bound serializer per class and thread gives
what DRF's own `is_valid` gives — the same data, the same 400 detail — and nothing of one call (its
errors, its context, its values) reaches the next."""

from __future__ import annotations

import datetime

import pytest
from rest_framework import serializers
from rest_framework.exceptions import ValidationError

from referral_engine.api import serializers as s
from referral_engine.api.parsing import validated_data

BODIES = [
    {"reason": "聞き取り開始"},
    {"reason": "", "closure_reason": "resolved"},
    {"reason": "見直し", "review_on": "2027-01-05"},
    {"closure_reason": "no-such-reason"},
    {"reason": "x" * 5000},
    {"review_on": "not a date"},
    {},
]


def _drf(serializer_class, body, **context):
    serializer = serializer_class(data=body, context=context)
    return ("ok", dict(serializer.validated_data)) if serializer.is_valid() else ("400", serializer.errors)


def _ours(serializer_class, body, **context):
    try:
        return "ok", dict(validated_data(serializer_class, body, **context))
    except ValidationError as exc:
        return "400", exc.detail


@pytest.mark.parametrize("serializer_class", [s.CaseTransitionSerializer, s.ReferralCreateSerializer])
def test_each_body_gets_what_drf_would_give_it_in_any_order(serializer_class):
    expected = [_drf(serializer_class, body) for body in BODIES]
    assert {outcome for outcome, _ in expected} == (
        {"ok", "400"} if serializer_class is s.CaseTransitionSerializer else {"400"}
    )
    for order in (BODIES, BODIES[::-1], BODIES + BODIES):
        for body in order:
            assert _ours(serializer_class, body) == expected[BODIES.index(body)], body


def test_the_fields_are_bound_once_per_class():
    validated_data(s.CaseTransitionSerializer, {"reason": "一"})
    from referral_engine.api import parsing

    bound = parsing._pool.serializers[s.CaseTransitionSerializer]
    fields = bound.fields["reason"]
    assert validated_data(s.CaseTransitionSerializer, {"reason": "二"})["reason"] == "二"
    assert parsing._pool.serializers[s.CaseTransitionSerializer].fields["reason"] is fields


class _Remembers(serializers.Serializer):
    day = serializers.DateField()

    def validate(self, attrs):
        return {**attrs, "who": self.context["who"]}


def test_one_calls_context_never_reaches_the_next():
    assert validated_data(_Remembers, {"day": "2027-01-05"}, who="a") == {"day": datetime.date(2027, 1, 5), "who": "a"}
    assert validated_data(_Remembers, {"day": "2027-01-06"}, who="b")["who"] == "b"
    with pytest.raises(KeyError):
        validated_data(_Remembers, {"day": "2027-01-06"})


PERSON = {"family_name": "津久見", "given_name": "花子", "family_name_kana": "ツクミ", "given_name_kana": "ハナコ"}
OPEN_BODIES = [
    {"person": PERSON, "summary": "ひとり暮らし", "needs": ["isolation"]},
    {
        "person": PERSON,
        "summary": "つなぎあり",
        "referrals": [
            {"to_department": "health_promotion", "basis": "internal_use", "reason": "訪問"},
            {"to_department": "longevity", "basis": "consent", "reason": "介護"},
        ],
        "consent": {"recipients": ["health_promotion"], "purposes": "見守り", "method": "oral"},
    },
    {"person": PERSON, "summary": "同意の誤り", "consent": {"scope": "city_internal", "method": "verbal"}},
    {"person": {**PERSON, "family_name": ""}, "summary": "氏が空"},
    {"person": PERSON, "summary": "つなぎの誤り", "referrals": [{"basis": "nonsense"}, {}]},
    {"person": PERSON, "person_id": 5, "summary": "両方"},
    {"summary": "x", "referrals": "not a list", "needs": ["no-such-need"]},
    {"person": PERSON, "summary": "多すぎ", "referrals": [{"to_department": "a", "basis": "x", "reason": "r"}] * 11},
]


def test_an_intake_body_with_nested_serializers_gets_what_drf_would_give_it():
    expected = [_drf(s.CaseOpenSerializer, body) for body in OPEN_BODIES]
    assert [outcome for outcome, _ in expected][:3] == ["ok", "ok", "400"]  # the list and the consent pass
    for order in (OPEN_BODIES, OPEN_BODIES[::-1]):
        for body in order:
            assert _ours(s.CaseOpenSerializer, body) == expected[OPEN_BODIES.index(body)], body


def test_a_nested_call_of_the_same_class_gets_its_own_serializer():
    from referral_engine.api import parsing

    class _Reenters(serializers.Serializer):
        n = serializers.IntegerField()

        def validate(self, attrs):
            if attrs["n"] > 0:
                inner = validated_data(_Reenters, {"n": attrs["n"] - 1})
                return {**attrs, "inner": inner}
            return attrs

    assert validated_data(_Reenters, {"n": 2}) == {"n": 2, "inner": {"n": 1, "inner": {"n": 0}}}
    assert isinstance(parsing._pool.serializers[_Reenters], _Reenters)
