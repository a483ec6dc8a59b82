"""Reading requests for the whole API: a serializer's validation of a body or a query string
(`validated`, `query_data`: every API module, the disasters' included, reads input through them), JSON
bodies and OPTIONS (issue 16 §4).

- Depth: a JSON body nested deeper than `API_JSON_MAX_DEPTH` (default 32; the deepest body the API
  takes is 4) is a 400 in the error shape. Python's json parser recurses, so ~400 KB of `[[[[…`
  raised RecursionError and answered an HTML 500. The middleware checks every API body before any
  view, authentication or serializer sees it (so every route answers the same, the anonymous token
  endpoint included); the parser turns a RecursionError into a parse error should one get past.
- OPTIONS: DRF's default metadata asks the view for a serializer to describe POST/PUT, and the views
  here have none (they validate with the serializer of each method): OPTIONS was a 500 on the lists.
  `ApiMetadata` answers the view's name, description, media types and (in the Allow header, set by
  DRF) its methods; the OpenAPI schema at /api/schema/ is the full description.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.metadata import BaseMetadata
from rest_framework.parsers import JSONParser


def validated(serializer_class: type, data: Any, **context: Any) -> Any:
    """The serializer, validated (a 400 in the error shape otherwise)."""
    serializer = serializer_class(data=data, context=context)
    serializer.is_valid(raise_exception=True)
    return serializer


_pool = threading.local()


def validated_data(serializer_class: type, data: Any, **context: Any) -> dict[str, Any]:
    """`validated(...).validated_data`, from one bound serializer per class and thread (issue 23, as
    `api.representation.represent` for output): DRF deep-copies and binds a serializer's fields, its
    nested serializers' included, for every instance — for an intake's body (a person, referrals, a
    consent) 17 % of the request's CPU. Validating keeps nothing on the serializer but what it returns:
    `run_validation` of a serializer, of a nested one and of a list's child (DRF 3.18) reads only the
    data, the fields and the root's context. A serializer whose own `validate` reads `initial_data` or
    `instance` (`persons.PersonPatchSerializer`) uses `validated`. A call made while the class is
    validating on this thread gets a fresh serializer, as DRF would make it."""
    pool = _pool.__dict__.setdefault("serializers", {})
    serializer = pool.pop(serializer_class, None)
    if serializer is None:
        serializer = serializer_class(context={})
    serializer._context = context
    try:
        return serializer.run_validation(data)
    except ValidationError as exc:
        raise ValidationError(exc.detail) from None  # the detail `is_valid(raise_exception=True)` raises
    finally:
        serializer._context = {}
        pool[serializer_class] = serializer


def query_data(serializer_class: type, request: Any) -> dict[str, Any]:
    """A query string's validated values as a plain dict: DRF reads a missing boolean in a QueryDict
    as False, which would filter silently."""
    return dict(validated_data(serializer_class, request.query_params.dict()))


DEFAULT_MAX_DEPTH = 32
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def max_depth() -> int:
    return int(getattr(settings, "API_JSON_MAX_DEPTH", DEFAULT_MAX_DEPTH))


def json_too_deep(text: str, limit: int | None = None) -> bool:
    """True if the JSON text nests arrays/objects deeper than `limit` (brackets inside strings do
    not count). Linear in the text; stops at the first bracket past the limit."""
    limit = max_depth() if limit is None else limit
    if text.count("[") + text.count("{") <= limit:
        return False
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    depth = 0
    for ch in brackets:
        if ch in "[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def too_deep_message() -> str:
    return _("JSON の入れ子が深すぎます（%(n)d 段まで）。") % {"n": max_depth()}


class DepthLimitedJSONParser(JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(too_deep_message()) from None


class ApiMetadata(BaseMetadata):
    def determine_metadata(self, request: Any, view: Any) -> dict[str, Any]:
        return {
            "name": view.get_view_name(),
            "description": view.get_view_description(),
            "renders": [renderer.media_type for renderer in view.renderer_classes],
            "parses": [parser.media_type for parser in view.parser_classes],
            "schema": "/api/schema/",
        }
