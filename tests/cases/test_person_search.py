"""The minimal, throttled person search (DESIGN §11.1, issue 17 item 2): a candidate shows name, kana,
birth date, district, the town part of the address and where the person has an open case — at most
10, two characters at least, a per-user rate limit shared by the web and the API (429 beyond), every
search logged; the auditor's search volume by user and day makes a scraping pattern stand out."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings

from referral_engine.audit.models import AccessLog
from referral_engine.cases.services.persons import address_town

pytestmark = pytest.mark.django_db

CANDIDATE_FIELDS = {"id", "name", "kana", "birth_date", "district", "town", "open_case_at", "choice"}


def _client(user) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="ja")
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    ("address", "town"),
    [
        ("津久見市川上 港町3-4", "川上 港町"),
        ("大分県津久見市千怒1234-5", "千怒"),
        ("津久見市宮本町１２番３号", "宮本町"),
        ("青江二丁目5-1", "青江"),
        ("保戸島", "保戸島"),
        ("", ""),
    ],
)
def test_the_town_part_of_an_address_has_no_house_number(address, town):
    assert address_town(address) == town


def test_a_candidate_shows_the_minimal_fields_and_where_a_case_is_open(users, open_case):
    open_case(
        "desk_health",
        person={
            "family_name": "津久見",
            "given_name": "花子",
            "family_name_kana": "ツクミ",
            "given_name_kana": "ハナコ",
            "birth_date": "1944-05-03",
            "district": "kawakami",
            "address": "津久見市川上 港町3-4",
            "phone": "0972-00-0001",
            "flags": ["disability"],
        },
    )
    hits = _client(users["worker_shakyo"]).get("/api/v1/persons/", {"q": "ツクミ"}).json()
    assert len(hits) == 1
    assert set(hits[0]) == CANDIDATE_FIELDS
    assert hits[0]["town"] == "川上 港町" and hits[0]["open_case_at"] == ["health_promotion"]
    page = _client(users["desk_welfare"]).get("/persons/search/", {"q": "つくみ"}).json()["results"]
    assert set(page[0]) == CANDIDATE_FIELDS
    assert page[0]["open_case_at"] == ["健康推進課"] and page[0]["district"] == "川上地区"
    for text in (str(hits), str(page)):
        assert "3-4" not in text and "0972" not in text and "disability" not in text


def test_at_most_ten_candidates(users, open_case):
    for n in range(12):
        open_case(
            person={"family_name": "保戸", "given_name": f"{n}", "family_name_kana": "ホト", "given_name_kana": f"{n}"}
        )
    assert len(_client(users["desk_welfare"]).get("/api/v1/persons/", {"q": "ホト"}).json()) == 10
    assert len(_client(users["desk_welfare"]).get("/persons/search/", {"q": "ほと"}).json()["results"]) == 10


def test_one_character_is_refused_and_not_searched(users):
    client = _client(users["desk_welfare"])
    response = client.get("/api/v1/persons/", {"q": "ツ"})
    assert response.status_code == 400 and "q" in response.json()["fields"]
    assert client.get("/api/v1/persons/", {"q": " ツ "}).status_code == 400
    assert client.get("/persons/search/", {"q": "ツ"}).status_code == 400
    assert not AccessLog.objects.filter(action="search", object_type="person").exists()
    assert client.get("/api/v1/persons/", {"q": "ツク"}).status_code == 200


@override_settings(PERSON_SEARCH_THROTTLE="3/minute")
def test_the_per_user_limit_answers_429_for_web_and_api_together(users):
    client = _client(users["worker_shakyo"])
    assert [client.get("/api/v1/persons/", {"q": f"アイ{i}"}).status_code for i in range(2)] == [200, 200]
    assert client.get("/persons/search/", {"q": "あい"}).status_code == 200
    refused = client.get("/api/v1/persons/", {"q": "アイウ"})
    assert refused.status_code == 429
    assert refused.json()["error"] == "throttled" and 1 <= int(refused["Retry-After"]) <= 61
    web = client.get("/persons/search/", {"q": "アイウ"})
    assert web.status_code == 429
    # Another user has a budget of their own; every search, refused ones too, is logged.
    assert _client(users["desk_welfare"]).get("/api/v1/persons/", {"q": "アイ"}).status_code == 200
    rows = AccessLog.objects.filter(username="worker_shakyo", action="search")
    assert rows.filter(object_type="person").count() == 3
    assert rows.filter(object_type="person_throttled").count() == 2
    assert all(":" in q for q in rows.values_list("query", flat=True))  # fingerprints, not the names


@override_settings(PERSON_SEARCH_THROTTLE="5/minute")
def test_the_auditors_search_volume_makes_scraping_stand_out(users):
    from referral_engine.audit.services import access_log_search

    scraper, clerk = users["worker_shakyo"], users["desk_welfare"]
    for i in range(120):  # yesterday's bulk collection, as the access log holds it
        access_log_search(user=scraper, terms=f"ア{i}", object_type="person", via="api")
    for q in ("ツクミ", "ホト"):
        assert _client(clerk).get("/api/v1/persons/", {"q": q}).status_code == 200
    auditor = _client(users["auditor"])
    page = auditor.get("/audit/searches/")
    assert page.status_code == 200
    rows = page.context["rows"]
    assert [(r.username, r.searches, r.alert) for r in rows] == [
        ("worker_shakyo", 120, True),
        ("desk_welfare", 2, False),
    ]
    assert rows[0].peak_minute == 120
    html = page.content.decode()
    assert html.index("worker_shakyo") < html.index("desk_welfare") and "要確認" in html
    csv = b"".join(auditor.get("/audit/searches/export.csv").streaming_content).decode("utf-8")
    assert csv.startswith("\ufeff日付,ユーザー名")
    assert ",worker_shakyo," in csv and ",120,0,120,要確認" in csv
    # Looking at it is itself logged.
    assert AccessLog.objects.filter(username="auditor", object_type="search_volume").count() == 2
    # Nobody else finds the page.
    assert _client(users["chief_welfare"]).get("/audit/searches/").status_code == 404


def test_the_desks_duplicate_warning_shows_the_town_not_the_house_number(users, open_case):
    open_case(
        "desk_health",
        person={
            "family_name": "保戸島",
            "given_name": "三郎",
            "family_name_kana": "ホトジマ",
            "given_name_kana": "サブロウ",
            "birth_date": "1940-02-29",
            "district": "hoto",
            "address": "津久見市保戸島 浜町12-3",
            "phone": "0972-11-2233",
        },
    )
    response = _client(users["worker_shakyo"]).post(
        "/cases/new/",
        {
            "idempotency_key": "dup-1",
            "family_name": "保戸島",
            "given_name": "三郎",
            "family_name_kana": "ほとじま",
            "given_name_kana": "さぶろう",
            "birth_date": "1940-02-29",
            "channel": "counter",
            "summary": "相談",
            "risk": "normal",
        },
    )
    assert response.status_code == 409
    warning = response.content.decode().split('id="duplicate-warning"')[1].split("</section>")[0]
    assert "保戸島 浜町" in warning and "健康推進課" in warning
    assert "12-3" not in warning and "0972" not in warning
