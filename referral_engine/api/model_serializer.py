"""DRF's `ModelSerializer` with its fields built once per class (issue 23, item 4).

DRF builds a model serializer's fields anew for every instance: it reads the model's fields, maps
each to a serializer field and its keyword arguments (labels, choices, validators), ~0.3 ms for a
case and its person, on every response. The set depends on the class alone (its `Meta` and declared
fields; none of ours varies it by request or context), so it is built once and each instance gets a
deep copy, the copy DRF itself makes of a plain serializer's declared fields: unbound fields, no
state shared between instances. Every model serializer of the app derives from this one
(tests/api/test_model_serializer.py holds it).
"""

from __future__ import annotations

import copy
from typing import Any

from rest_framework import serializers


class ModelSerializer(serializers.ModelSerializer):
    def get_fields(self) -> dict[str, Any]:
        built = type(self).__dict__.get("_fields_built")  # this class's own, never a parent's
        if built is None:
            built = super().get_fields()
            type(self)._fields_built = built
        return copy.deepcopy(built)
