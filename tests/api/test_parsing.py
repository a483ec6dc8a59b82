"""`api.parsing.validated_data`: a body validated by one bound serializer per class and thread gives
what DRF's own `is_valid` gives — the same data, the same 400 detail — and nothing of one call (its
errors, its context, its values) reaches the next."""

from __future__ import annotations

import datetime

import pytest
from rest_framework import serializers
from rest_framework.exceptions import ValidationError

from referral_engine.api import serializers as s
from referral_engine.api.parsing import validated, validated_data

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


class _Inner(serializers.Serializer):
    name = serializers.CharField()


class _Outer(serializers.Serializer):
    inner = _Inner(many=True)


def test_a_class_with_a_nested_serializer_is_validated_the_drf_way(monkeypatch):
    from referral_engine.api import parsing

    made = []
    real = parsing.validated
    monkeypatch.setattr(parsing, "validated", lambda *a, **k: made.append(a[0]) or real(*a, **k))
    assert (
        validated_data(_Outer, {"inner": [{"name": "一"}]})
        == validated(_Outer, {"inner": [{"name": "一"}]}).validated_data
    )
    with pytest.raises(ValidationError) as raised:
        validated_data(_Outer, {"inner": [{}]})
    assert raised.value.detail == _drf(_Outer, {"inner": [{}]})[1]
    assert made == [_Outer, _Outer]
