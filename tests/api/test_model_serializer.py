"""The model serializers' fields built once per class (referral_engine/api/model_serializer.py)."""

from __future__ import annotations

import pytest
from django.urls import get_resolver
from rest_framework import serializers

from referral_engine.api.model_serializer import ModelSerializer


def _all_model_serializers() -> list[type]:
    get_resolver().url_patterns  # noqa: B018 - imports every API module through the URL conf
    found, todo = [], [serializers.ModelSerializer]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            todo.append(sub)
            if sub.__module__.startswith("referral_engine.") and sub is not ModelSerializer:
                found.append(sub)
    return found


def test_every_model_serializer_of_the_app_builds_its_fields_once():
    classes = _all_model_serializers()
    assert len(classes) >= 15, classes  # the discovery finds them (18 today)
    assert [c.__name__ for c in classes if not issubclass(c, ModelSerializer)] == []


@pytest.mark.parametrize("cls", _all_model_serializers(), ids=lambda c: c.__name__)
def test_the_cached_fields_are_the_fields_drf_builds_and_each_instance_has_its_own(cls):
    first, second = cls(), cls()
    built = serializers.ModelSerializer.get_fields(cls())  # DRF's own build, not the cache
    assert {n: repr(f) for n, f in first.fields.items()} == {n: repr(f) for n, f in built.items()}
    assert list(first.fields) == list(built)
    for name, field in first.fields.items():
        assert field is not second.fields[name]
        assert field.parent is first and second.fields[name].parent is second
