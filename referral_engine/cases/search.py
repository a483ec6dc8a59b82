"""Search by any part of a person's names or of a case number (issue 18, item 6; docs/work.md, "Search").

A query of ASCII letters, digits and hyphens with at least one digit is a case number: any part of it (`000004` finds R8-000004, so does `8-0000`),
after NFKC (full-width digits) and upper case; `R8-4` is also read as the number it abbreviates
(R8-000004, the format of `cases.numbering.case_number_format`). Anything else is a name: any part of the family and
given names in kana or in kanji, normalised as intake's duplicate check (`cases.normalize`: full and
half width, hiragana → katakana, small kana, spaces and the long-vowel mark, variant kanji).

The list compares the person's two name keys as the database copies them onto the case (migration
0009's triggers): no case row is joined to its person. On PostgreSQL the match also goes through GIN
indexes: `re_name_grams` bigrams of the two name keys (`case_name_grams_idx` on the case, 0009;
`person_name_grams_idx` on the person for the intake's person search, 0008) and `re_ngrams(number, 3)`
trigrams of the number (0008): the query's n-grams must all be in the row's array (the index answers
that), then LIKE checks the order (the index's recheck). A two-character name query (トミ, 花子) is one
bigram: one index entry. Elsewhere (SQLite) it is LIKE only.

A name part many people share (うこ, the end of ユウコ and ヨウコ; 田中 in a city of 田中s) is the slow
case at scale: through the index every one of its cases would be read, checked for reach and sorted
before the first page shows (about 100,000 at a million cases). So the case list first asks the index
for at most `COMMON_PART` + 1 cases (one query, whatever the part) — unless the planner's statistics
already say the part is that common (`estimated_rows`): fewer, and the list takes those cases; more,
and the part is common, so the list is walked in its own order with each row's keys
compared by LIKE, which stops as soon as the page is full. The bound is where the two costs meet at a
million cases: reading the found cases is one random read each, the walk reads the list in the order
the rows were written (docs/benchmarks.md). A number part is not walked: numbers grow with time, so its
matches bunch (`0000` is only in the oldest numbers); the list takes its newest `COMMON_PART` numbers.
docs/work.md, "Search"; docs/benchmarks.md for the figures at 1M.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

from django.contrib.postgres.fields import ArrayField
from django.db import connections
from django.db.models import F, Func, Q, QuerySet, TextField

from referral_engine.cases import normalize

MIN_LENGTH = 2  # as the person search (cases.inputs.search_query)
NAME_GRAM = 2  # re_name_grams: bigrams
NUMBER_GRAM = 3  # case_number_grams_idx: re_ngrams(number, 3)
COMMON_PART = 2000  # cases found: beyond this a name part is common and the list is walked instead

_NUMBER_LIKE = re.compile(r"[0-9A-Z-]*[0-9][0-9A-Z-]*")
_SPACES = re.compile(r"\s+")
_SHORT_NUMBER = re.compile(r"R(?P<year>\d{1,2})-(?P<seq>\d{1,6})")


def ngrams(text: str, n: int) -> list[str]:
    """The distinct substrings of length n, as `re_ngrams(text, n)` computes them in the database."""
    return sorted({text[i : i + n] for i in range(len(text) - n + 1)})


class NameGrams(Func):
    """`re_name_grams(kana_key, name_key)`: the expression of `person_name_grams_idx`."""

    function = "re_name_grams"
    output_field = ArrayField(TextField())


class NumberGrams(Func):
    """`re_ngrams(number, 3)`: the expression of `case_number_grams_idx`."""

    template = "re_ngrams(%(expressions)s, 3)"
    output_field = ArrayField(TextField())


def number_query(query: str) -> str | None:
    """The case-number form of a query (ASCII letters, digits and hyphens, at least one digit), or None
    when it is a name."""
    text = _SPACES.sub("", unicodedata.normalize("NFKC", query or "")).upper()
    return text if _NUMBER_LIKE.fullmatch(text) else None


def canonical_number(text: str) -> str | None:
    """`R8-4` (the era year and the sequence without its zeros) as the stored `R8-000004`."""
    match = _SHORT_NUMBER.fullmatch(text)
    if not match or int(match["seq"]) == 0:
        return None
    return f"R{int(match['year'])}-{int(match['seq']):06d}"


def cases_matching(qs: QuerySet[Any], query: str) -> QuerySet[Any]:
    """`qs` (cases) narrowed to those whose number, or whose person's names, contain the query."""
    from referral_engine.cases.models import Case

    postgres = connections[qs.db].vendor == "postgresql"
    number = number_query(query)
    if number is None:
        # The person's keys as copied onto the case (cases/0009): no join to the person.
        if not postgres:
            return names_matching(qs, query, prefix="person_")
        keys = _name_keys(query, prefix="person_")
        grams = _grams_condition(keys)
        if grams is None:  # a key shorter than a bigram: no index answers it, and it is in most names
            return qs.filter(_names_like(keys))
        indexed = Case.objects.alias(_name_grams=NameGrams(F("person_kana_key"), F("person_name_key")))
        return _few_or_walk(qs, indexed.filter(grams), _names_like(keys))
    condition = _number_like(number)
    if not postgres or len(number) < NUMBER_GRAM:
        return qs.filter(condition)
    # Numbers grow with time, so a part's matches are not spread evenly over the list and walking it
    # could read far (`0000` is in R8-000001…R8-010000 but in none of the newest numbers): the list
    # takes the newest `COMMON_PART` numbers holding the part instead.
    newest = numbers_matching(Case.objects.all(), number).order_by("-id").values_list("pk", flat=True)
    return qs.filter(pk__in=list(newest.using(qs.db)[:COMMON_PART]))


def _number_exact(number: str) -> Q:
    """The stored number a short form (`R8-4`) abbreviates; nothing otherwise."""
    canonical = canonical_number(number)
    return Q(number=canonical) if canonical and canonical != number else Q(pk__in=[])


def _number_like(number: str) -> Q:
    return Q(number__contains=number) | _number_exact(number)


def numbers_matching(qs: QuerySet[Any], number: str) -> QuerySet[Any]:
    """`qs` (cases) narrowed through `case_number_grams_idx` to numbers holding `number` (the form
    `number_query` gives, 3 characters at least; PostgreSQL)."""
    # (trigrams AND LIKE) OR exact, written as (trigrams OR exact) AND (LIKE OR exact): the index
    # conditions stay out of the per-row filter (see name_condition).
    grams = Q(_number_grams__contains=ngrams(number, NUMBER_GRAM)) | _number_exact(number)
    return qs.alias(_number_grams=NumberGrams(F("number"))).filter(grams & _number_like(number))


def _few_or_walk(qs: QuerySet[Any], indexed: QuerySet[Any], like: Q) -> QuerySet[Any]:
    """`qs` narrowed to the cases `indexed` (the n-grams' condition alone, which the index answers
    exactly) finds and `like` confirms, when they are at most `COMMON_PART`: one query, or none when
    the planner's statistics already say they are more (`estimated_rows`); or by `like` on each case
    of `qs` when they are more (the part is common: the list is walked in its order and stops when its
    page is full). See the docstring."""
    # No order: the list's order would sort every match before the limit.
    indexed = indexed.using(qs.db).order_by().values_list("pk", flat=True)
    if estimated_rows(indexed) <= COMMON_PART:
        found = list(indexed.filter(like)[: COMMON_PART + 1])
        if len(found) <= COMMON_PART:
            return qs.filter(pk__in=found)
    return qs.filter(like)


def estimated_rows(qs: QuerySet[Any]) -> float:
    """The planner's estimate of the rows `qs` gives (EXPLAIN, not run: about a millisecond). For the
    n-grams' condition it comes from the index's statistics (the most common bigrams and their
    frequencies: at a million cases 前田 is estimated 14,646, and is 15,686), so a part a city shares is
    known common without reading its thousands of index entries (20-25 ms). A part the statistics do
    not hold is estimated rare and asked of the index, which has the last word."""
    plan = json.loads(qs.explain(format="json"))
    return float(plan[0]["Plan"]["Plan Rows"])


def _name_keys(query: str, *, prefix: str) -> list[tuple[str, str]]:
    """(normalised key, field) for the kana and the kanji name key, those the query gives."""
    kana = normalize.kana_key(query)
    name = normalize.name_key(query)
    return [(key, f"{prefix}{field}") for key, field in ((kana, "kana_key"), (name, "name_key")) if key]


def _names_like(keys: list[tuple[str, str]]) -> Q:
    condition = Q()
    for key, field in keys:
        condition |= Q(**{f"{field}__contains": key})
    return condition


def names_matching(qs: QuerySet[Any], query: str, *, prefix: str = "") -> QuerySet[Any]:
    """`qs` narrowed to rows whose person (`prefix`: the path to it, "" for persons themselves) has
    the query in the kana or the kanji name key, both sides normalised alike."""
    qs, condition = name_condition(qs, query, prefix=prefix)
    return qs.filter(condition)


def name_condition(qs: QuerySet[Any], query: str, *, prefix: str = "") -> tuple[QuerySet[Any], Q]:
    """(`qs` with the name-grams alias it needs, the condition) for `names_matching`, to be combined
    with other conditions (the person search's phone number)."""
    keys = _name_keys(query, prefix=prefix)
    if not keys:
        return qs, Q(pk__in=[])
    postgres = connections[qs.db].vendor == "postgresql"
    if postgres:
        qs = qs.alias(_name_grams=NameGrams(F(f"{prefix}kana_key"), F(f"{prefix}name_key")))
    condition = _names_like(keys)
    grams = _grams_condition(keys) if postgres else None
    if grams is not None:
        # What the index answers, ANDed as a term of its own: a key that contains the query holds all
        # its bigrams, so this changes no answer; the planner takes it as the bitmap scan's condition
        # (exact for `@>`: no recheck) and LIKE as the filter. Written inside each OR arm instead, the
        # filter would compute re_name_grams() again for every row found (~50 µs each).
        condition = grams & condition
    return qs, condition


def _grams_condition(keys: list[tuple[str, str]]) -> Q | None:
    """The keys' bigrams in the `_name_grams` alias (`NameGrams`), or None when a key is too short to
    have one."""
    if not all(len(key) >= NAME_GRAM for key, _field in keys):
        return None
    grams = Q()
    for key, _field in keys:
        grams |= Q(_name_grams__contains=ngrams(key, NAME_GRAM))
    return grams
