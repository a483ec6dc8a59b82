"""The case list search (issue 18, item 6; DESIGN §11.3): any part of the family and given names in
kana or kanji, normalised as the intake's duplicate check, and any part of the case number — within the
cases the user may see, logged as a search, two characters at least. On PostgreSQL the GIN indexes of
migration cases/0008 answer it (docs/work.md, "Search")."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from referral_engine.audit.models import AccessLog
from referral_engine.cases.search import canonical_number, ngrams, number_query

pytestmark = pytest.mark.django_db

POSTGRES = connection.vendor == "postgresql"


def _person(family, given, family_kana, given_kana, **extra):
    return {
        "family_name": family,
        "given_name": given,
        "family_name_kana": family_kana,
        "given_name_kana": given_kana,
        "birth_date": "1941-02-03",
        "district": "kawakami",
        "address": "津久見市川上1-2-3",
        **extra,
    }


@pytest.fixture
def cases(open_case):
    """Four cases at the welfare desk (numbers …-000001 to …-000004 of this fiscal year); the fourth is
    田中トミ's; 髙橋 is written with the variant kanji."""
    return {
        "hanako": open_case(person=_person("山田", "花子", "ヤマダ", "ハナコ")),
        "fumiko": open_case(person=_person("髙橋", "富美子", "タカハシ", "フミコ")),
        "hitomi": open_case(person=_person("佐藤", "瞳", "サトウ", "ヒトミ")),
        "tomi": open_case(person=_person("田中", "トミ", "タナカ", "トミ")),
    }


def _client(user) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="ja")
    client.force_login(user)
    return client


def _api_numbers(client: Client, q: str) -> set[str]:
    response = client.get("/api/v1/cases/", {"q": q})
    assert response.status_code == 200, response.content
    return {c["number"] for c in response.json()["results"]}


def _web_numbers(client: Client, q: str) -> set[str]:
    response = client.get("/cases/", {"q": q})
    assert response.status_code == 200
    return {c.number for c in response.context["cases"]}


def test_the_query_helpers():
    assert ngrams("トミコ", 2) == ["トミ", "ミコ"]
    assert ngrams("000004", 3) == ["000", "004"]
    assert ngrams("ト", 2) == []
    assert number_query("０００００４") == "000004"
    assert number_query("r8 - 4") == "R8-4"
    assert number_query("トミ") is None
    assert number_query("つくみ はなこ1") is None  # a name with a digit (the fixtures' names) is a name
    assert canonical_number("R8-4") == "R8-000004"
    assert canonical_number("R8-000004") == "R8-000004"
    assert canonical_number("000004") is None and canonical_number("R8-0") is None


@pytest.mark.parametrize("via", ["api", "web"])
def test_any_part_of_a_name_in_kana_or_kanji_finds_the_case(users, cases, via):
    client = _client(users["desk_welfare"])
    numbers = _api_numbers if via == "api" else _web_numbers
    n = {key: case.number for key, case in cases.items()}
    # The given name's kana, however it is typed: katakana, hiragana, half-width.
    # ヒトミ holds トミ too: any part means any part.
    assert numbers(client, "トミ") == {n["tomi"], n["hitomi"]}
    assert numbers(client, "とみ") == {n["tomi"], n["hitomi"]}
    assert numbers(client, "ﾄﾐ") == {n["tomi"], n["hitomi"]}
    # Family and given kana together, with a space or without.
    assert numbers(client, "タナカ トミ") == {n["tomi"]}
    assert numbers(client, "たなかとみ") == {n["tomi"]}
    # A part of the given name in kanji, the end of the family name, across family and given name.
    assert numbers(client, "美子") == {n["fumiko"]}
    assert numbers(client, "中ト") == {n["tomi"]}
    assert numbers(client, "山田　花") == {n["hanako"]}
    # The variant kanji meets its standard form, both ways (髙 stored, 高 typed, and the reverse).
    assert numbers(client, "高橋") == {n["fumiko"]}
    assert numbers(client, "髙橋富") == {n["fumiko"]}
    # Nothing else.
    assert numbers(client, "ハナコ") == {n["hanako"]}
    assert numbers(client, "鈴木") == set()


@pytest.mark.parametrize("via", ["api", "web"])
def test_any_part_of_the_case_number_finds_the_case(users, cases, via):
    client = _client(users["desk_welfare"])
    numbers = _api_numbers if via == "api" else _web_numbers
    tomi = cases["tomi"].number
    era, seq = tomi.split("-")
    assert seq == "000004", "the fourth case of the fiscal year"
    assert numbers(client, "000004") == {tomi}
    assert numbers(client, "０００００４") == {tomi}  # full-width digits
    assert numbers(client, tomi) == {tomi}
    assert numbers(client, tomi.lower()) == {tomi}
    assert numbers(client, f"{era}-4") == {tomi}  # R8-4: the number without its zeros
    assert numbers(client, "00004") == {tomi}
    assert numbers(client, "0000") == {c.number for c in cases.values()}
    assert numbers(client, f"{era}-00000") == {c.number for c in cases.values()}
    assert numbers(client, "000005") == set()


def test_a_case_the_user_cannot_see_is_not_found(users, open_case):
    # One case stays at the welfare desk, the other is referred to health: worker_health sees only that one.
    hidden = open_case(person=_person("田中", "トミ", "タナカ", "トミ"))
    seen = open_case(
        person=_person("中島", "トミ子", "ナカジマ", "トミコ"),
        referrals=[{"to_department": "health_promotion", "basis": "internal_use", "reason": "訪問依頼"}],
    )
    health = _client(users["worker_health"])
    assert _api_numbers(health, "トミ") == {seen.number}
    assert _web_numbers(health, "トミ") == {seen.number}
    assert _api_numbers(health, hidden.number) == set()
    assert _web_numbers(health, hidden.number[-6:]) == set()
    assert _api_numbers(_client(users["desk_welfare"]), "トミ") == {hidden.number, seen.number}


def test_every_search_is_logged_and_a_one_character_query_is_refused(users, cases):
    client = _client(users["desk_welfare"])
    searches = AccessLog.objects.filter(user=users["desk_welfare"], action=AccessLog.Action.SEARCH, object_type="case")
    before = searches.count()
    client.get("/api/v1/cases/", {"q": "トミ"})
    client.get("/cases/", {"q": "000004"})
    assert searches.count() == before + 2
    # One character is too little (the person search's rule): 400 in the API, said next to the field on
    # the page, which then lists nothing.
    response = client.get("/api/v1/cases/", {"q": "ト"})
    assert response.status_code == 400 and "q" in response.json()["fields"]
    response = client.get("/cases/", {"q": " 4 "})
    assert response.status_code == 200
    assert response.context["cases"] == [] and response.context["q_error"]
    assert 'aria-invalid="true"' in response.content.decode()


@pytest.mark.skipif(not POSTGRES, reason="the GIN indexes exist on PostgreSQL only (SQLite: LIKE)")
def test_the_search_queries_are_the_indexes_expressions(users, cases):
    """Whatever the table size: with sequential scans priced out, the planner reaches the rows through
    the two GIN indexes, i.e. the query's expressions are exactly the indexed ones (a mismatch would
    silently fall back to reading the whole table)."""
    from referral_engine.cases import selectors
    from referral_engine.cases.models import Case, Person
    from referral_engine.cases.search import names_matching, numbers_matching

    user = users["desk_welfare"]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
    # The list asks the cases' index first (cases.search.cases_matching); the intake's person search
    # the persons' (selectors.persons_search).
    for q in ("トミ", "美子"):
        plan = names_matching(Case.objects.all(), q, prefix="person_").explain()
        assert "case_name_grams_idx" in plan, plan
        plan = names_matching(Person.objects.all(), q).explain()
        assert "person_name_grams_idx" in plan, plan
    plan = numbers_matching(Case.objects.all(), "000004").explain()
    assert "case_number_grams_idx" in plan, plan
    assert selectors.cases_filter(selectors.cases_visible_to(user), q="000004").count() == 1


@pytest.mark.skipif(not POSTGRES, reason="the few/common split is PostgreSQL's (SQLite: LIKE)")
@pytest.mark.parametrize("via", ["api", "web"])
def test_a_common_part_walks_the_list_and_finds_the_same_cases(users, cases, via, monkeypatch):
    """A name part held by more than COMMON_PART cases is matched by LIKE on each listed row instead
    of through the index (at a million cases: 50 found within the first rows rather than 100,000 read
    and sorted). Same answers either way; with the bound at 1, トミ (two cases) is common, 美子 (one)
    not. A number part lists the newest COMMON_PART numbers holding it (numbers grow with time: a walk
    could read far): with the bound at 1, 0000 gives the newest of the four."""
    from referral_engine.cases import search
    from referral_engine.cases.models import Case

    monkeypatch.setattr(search, "COMMON_PART", 1)
    # The planner's estimate (from statistics this small table may or may not have yet) is the subject
    # of test_the_planner_picks_the_name_index_…_on_a_town_sized_table; here the index has the last word.
    monkeypatch.setattr(search, "estimated_rows", lambda qs: 0)
    client = _client(users["desk_welfare"])
    numbers = _api_numbers if via == "api" else _web_numbers
    n = {key: case.number for key, case in cases.items()}
    assert numbers(client, "とみ") == {n["tomi"], n["hitomi"]}
    assert numbers(client, "美子") == {n["fumiko"]}
    assert numbers(client, "高橋") == {n["fumiko"]} and numbers(client, "鈴木") == set()
    assert numbers(client, "0000") == {n["tomi"]} and numbers(client, "000004") == {n["tomi"]}
    monkeypatch.setattr(search, "COMMON_PART", 3)
    assert numbers(client, "0000") == {n["fumiko"], n["hitomi"], n["tomi"]}
    monkeypatch.setattr(search, "COMMON_PART", 1)
    # Which way each went: トミ by LIKE on the listed rows, 美子 and 000004 by what the index found.
    common = str(search.cases_matching(Case.objects.all(), "とみ").query)
    assert "re_name_grams" not in common and "LIKE" in common and "person_id" not in common.split("WHERE")[1]
    assert "cases_person" not in common  # the keys are on the case row (cases/0009): no join
    few = str(search.cases_matching(Case.objects.all(), "美子").query)
    assert "LIKE" not in few and f'"id" IN ({cases["fumiko"].pk})' in few
    few = str(search.cases_matching(Case.objects.all(), "000004").query)
    assert "LIKE" not in few and f'"id" IN ({cases["tomi"].pk})' in few
    # When the planner's estimate alone says the part is common, the index is not asked at all: the
    # list is walked, with one EXPLAIN before it (search.estimated_rows).
    monkeypatch.setattr(search, "estimated_rows", lambda qs: 2)  # > COMMON_PART (1)
    with CaptureQueriesContext(connection) as asked:
        walked = str(search.cases_matching(Case.objects.all(), "美子").query)
    assert "LIKE" in walked and "re_name_grams" not in walked
    assert asked.captured_queries == [], asked.captured_queries
    assert numbers(client, "美子") == {n["fumiko"]}


@pytest.mark.skipif(not POSTGRES, reason="the GIN indexes exist on PostgreSQL only (SQLite: LIKE)")
@pytest.mark.django_db(transaction=True)
def test_the_planner_picks_the_name_index_for_a_two_character_query_on_a_town_sized_table(owner_connection):
    """16,000 people (Tsukumi's population), analysed, with the planner's own costs: a two-character
    given-name query is a bitmap scan of the bigram index, not a scan of the table. (The rows are
    written and analysed as the owner — the application role may not ANALYZE — and committed: this
    test is transactional, the tables are emptied after it.)"""
    from django.db.models import F

    from referral_engine.cases.models import Person
    from referral_engine.cases.search import NameGrams, estimated_rows, names_matching

    families = [
        "タナカ",
        "スズキ",
        "サトウ",
        "タカハシ",
        "ワタナベ",
        "イトウ",
        "ヤマグチ",
        "ナカムラ",
        "コバヤシ",
        "カトウ",
    ]
    givens = ["ハナコ", "タロウ", "ケンジ", "ユキエ", "カズオ", "ミチコ", "ヨシオ", "サチコ", "ヒロシ", "マサコ"]
    with owner_connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO cases_person (family_name, given_name, family_name_kana, given_name_kana, sex, address,
                                      phone, flags, kana_key, name_key, phone_key, created_at, updated_at)
            SELECT f, g, f, g, '', '', '', '[]'::jsonb, f || g, f || g, '', now(), now()
              FROM (SELECT (%s::text[])[1 + i %% 10] AS f, (%s::text[])[1 + (i / 10) %% 10] AS g
                      FROM generate_series(1, 16000) AS i) AS s
            UNION ALL SELECT '田中', 'トミ', 'タナカ', 'トミ', '', '', '', '[]'::jsonb, 'タナカトミ', '田中トミ', '', now(), now()
            """,
            [families, givens],
        )
        cursor.execute("ANALYZE cases_person")
    qs = names_matching(Person.objects.all(), "トミ")
    plan = qs.explain()
    assert "person_name_grams_idx" in plan and "Seq Scan" not in plan, plan
    assert [p.given_name for p in qs] == ["トミ"]
    # A part common to a tenth of the town: still found in full (the index or not, the answer is the same).
    assert names_matching(Person.objects.all(), "ミチ").count() == 1600
    # The planner's estimate of a part's rows, from the bigram index's statistics (what the case list
    # asks before the index: search.estimated_rows): a tenth of the town is known common, トミ rare.
    grams = Person.objects.alias(_name_grams=NameGrams(F("kana_key"), F("name_key")))
    assert 800 <= estimated_rows(grams.filter(_name_grams__contains=["ミチ"])) <= 3200
    assert estimated_rows(grams.filter(_name_grams__contains=["トミ"])) <= 100


def test_the_intake_person_search_matches_any_part_too_and_keeps_its_minimal_fields(users, cases):
    """Issue 17's person search, with the same matching: a given name alone finds the person; what a
    candidate shows, the limit and the throttle are unchanged (tests/cases/test_person_search.py)."""
    hits = _client(users["desk_welfare"]).get("/api/v1/persons/", {"q": "フミコ"}).json()
    assert [h["kana"] for h in hits] == ["タカハシ フミコ"]
    assert set(hits[0]) == {"id", "name", "kana", "birth_date", "district", "town", "open_case_at", "choice"}
    hits = _client(users["desk_welfare"]).get("/api/v1/persons/", {"q": "高橋"}).json()
    assert [h["name"] for h in hits] == ["髙橋 富美子"]
