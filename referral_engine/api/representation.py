"""A read-only serializer's output from one bound serializer per class and thread (issue 23).

`Serializer(obj, context=...).data` deep-copies and binds every field of the class for each object:
for a case with its person, about half of the response's CPU. DRF itself does not do that for a list:
a `ListSerializer` binds its child once and calls `child.to_representation` for each item. `represent`
does the same across requests: one serializer instance per class and thread, bound once, whose
context is the caller's for the length of the call (a field reads its context from its root, at call
time). A serializer whose `to_representation` reads anything but the object and the context (its
`instance`, its `initial_data`) must not use this.

A call made while the same class is already representing on this thread (a serializer nested in
itself) gets a fresh serializer, as DRF would make it.
"""

from __future__ import annotations

import threading
from typing import Any

from rest_framework import serializers

_pool = threading.local()


def represent(serializer_class: type[serializers.Serializer], obj: Any, context: dict[str, Any]) -> dict[str, Any]:
    """`serializer_class(obj, context=context).data`, as a plain dict."""
    bound = _pool.__dict__.setdefault("serializers", {})
    serializer = bound.pop(serializer_class, None)  # taken: a nested call of the class makes its own
    if serializer is None:
        serializer = serializer_class(context={})
        serializer.fields  # noqa: B018 - bind the fields once, now
    serializer._context = context
    try:
        return serializer.to_representation(obj)
    finally:
        serializer._context = {}
        bound[serializer_class] = serializer
