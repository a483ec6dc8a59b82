"""Disaster mode (issue 20): who gets a check, one open event per district, the connectors' reach only
while the event is open and nothing sensitive in it, needs_rescue alerting once, the board, the CSV and
the summary agreeing with the rows."""

from __future__ import annotations

import html
import re
import threading
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.utils import timezone

from referral_engine.accounts.models import District
from referral_engine.cases.models import EvacuationPlan, Person, Referral
from referral_engine.cases.services.intake import case_open
from referral_engine.disasters import selectors
from referral_engine.disasters.models import CheckStatus, Disaster, SafetyCheck
from referral_engine.disasters.services import disaster_close, disaster_open, safety_check_update
from referral_engine.errors import Conflict, Forbidden, InvalidInput, NotFound
from referral_engine.notifications.models import Notification

SECRET = "被災秘密-ZQ-8842"


def _person(name: str, district: str, flags: list[str]) -> Person:
    return Person.objects.create(
        family_name=name,
        given_name="",
        address=f"津久見市{name}1-1",
        district=District.objects.get(code=district),
        flags=flags,
    )


@pytest.fixture
def register(users):
    """kawakami: two flagged, one with a plan only, one with neither; aoe: one flagged."""
    people = {
        "flagged_1": _person("川上一", "kawakami", ["evacuation_support"]),
        "flagged_2": _person("川上二", "kawakami", ["evacuation_support", "lives_alone"]),
        "neither": _person("川上三", "kawakami", ["lives_alone"]),
        "aoe_flagged": _person("青江一", "aoe", ["evacuation_support"]),
    }
    case = case_open(
        actor=users["worker_welfare"],
        summary=SECRET,
        person={"family_name": "計画", "given_name": "有子", "family_name_kana": "ケイカク", "district": "kawakami"},
        confirm_new_person=True,
        referrals=[{"to_department": "disaster_prevention", "basis": "internal_use", "reason": SECRET}],
    )
    Person.objects.filter(pk=case.person_id).update(flags=["dementia"])  # sensitive, never shown in disaster mode
    referral = case.referrals.get()
    # A plan whose referral is long completed still counts (cases.EvacuationPlan outlives it).
    Referral.objects.filter(pk=referral.pk).update(stage="plan_made", state="completed")
    EvacuationPlan.objects.create(
        person_id=case.person_id,
        referral=referral,
        district=District.objects.get(code="kawakami"),
        supporters=[{"name": "支援 太郎", "relation": "隣人", "contact": "090-0000-0000"}],
        destination="川上公民館",
        made_at=timezone.now(),
    )
    people["plan_only"] = case.person
    return people


def test_opening_creates_a_check_for_the_flagged_and_the_planned_of_its_districts_only(users, register):
    disaster = disaster_open(actor=users["chief_bosai"], name="地震", kind="earthquake", district_codes=["kawakami"])
    checked = set(disaster.checks.values_list("person_id", flat=True))
    assert checked == {register["flagged_1"].pk, register["flagged_2"].pk, register["plan_only"].pk}
    planned = disaster.checks.get(person=register["plan_only"])
    assert planned.destination == "川上公民館"
    assert "支援 太郎" in planned.supporters
    assert set(disaster.checks.values_list("status", flat=True)) == {CheckStatus.UNCONFIRMED}
    assert SafetyCheck.history.filter(disaster_id=disaster.pk).count() == 3
    # Every staff member is told, with no person in the message.
    told = Notification.objects.filter(kind="disaster_opened")
    assert told.filter(recipient=users["worker_welfare"]).exists()
    assert not told.filter(recipient=users["minsei_kawakami"]).exists()
    assert all("川上" not in n.title + n.body for n in told)


def test_only_bosai_supervisors_and_admins_open(users, register):
    for username in ("worker_bosai", "chief_welfare", "minsei_kawakami", "auditor"):
        with pytest.raises(Forbidden):
            disaster_open(actor=users[username], name="地震", kind="earthquake", district_codes=["kawakami"])
    assert not Disaster.objects.exists()


def test_bad_input_names_the_field_and_writes_nothing(users, register):
    with pytest.raises(InvalidInput) as bad_kind:
        disaster_open(actor=users["chief_bosai"], name="地震", kind="meteor", district_codes=["kawakami"])
    assert "kind" in bad_kind.value.fields
    with pytest.raises(InvalidInput) as bad_district:
        disaster_open(actor=users["chief_bosai"], name="地震", kind="earthquake", district_codes=["atlantis"])
    assert "districts" in bad_district.value.fields
    assert not Disaster.objects.exists() and not SafetyCheck.objects.exists()


def test_a_district_has_one_open_event(users, register):
    disaster_open(actor=users["chief_bosai"], name="地震", kind="earthquake", district_codes=["kawakami"])
    with pytest.raises(Conflict):
        disaster_open(actor=users["admin"], name="津波", kind="tsunami", district_codes=["aoe", "kawakami"])
    assert Disaster.objects.count() == 1
    assert not SafetyCheck.objects.filter(district__code="aoe").exists()  # nothing half-made


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_supervisors_opening_at_once_make_one_event(users, org):
    from referral_engine.accounts.demo import demo_users_ensure
    from referral_engine.accounts.models import User

    demo_users_ensure()
    for i in range(20):
        _person(f"同時{i}", "kawakami", ["evacuation_support"])
    openers = [User.objects.get(username="chief_bosai"), User.objects.get(username="admin")]
    barrier, outcomes = threading.Barrier(2), []

    def open_as(user):
        try:
            barrier.wait()
            disaster_open(actor=user, name="地震", kind="earthquake", district_codes=["kawakami"])
            outcomes.append("opened")
        except Conflict:
            outcomes.append("conflict")
        finally:
            connection.close()

    threads = [threading.Thread(target=open_as, args=(u,)) for u in openers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["conflict", "opened"]
    assert Disaster.objects.count() == 1
    assert SafetyCheck.objects.count() == 20


def test_connector_reach_is_own_district_and_only_while_open(users, register, client):
    disaster = disaster_open(
        actor=users["chief_bosai"], name="地震", kind="earthquake", district_codes=["kawakami", "aoe"]
    )
    own = {c.pk for c in selectors.safety_checks(users["minsei_kawakami"], disaster)}
    assert own == set(disaster.checks.filter(district__code="kawakami").values_list("pk", flat=True))
    aoe_check = disaster.checks.get(district__code="aoe")
    with pytest.raises(NotFound):
        safety_check_update(actor=users["minsei_kawakami"], check_id=aoe_check.pk, status="safe")

    client.force_login(users["minsei_kawakami"])
    listing = client.get(f"/api/v1/disasters/{disaster.pk}/checks/")
    assert listing.status_code == 200
    body = listing.content.decode()
    assert {r["district"] for r in listing.json()["results"]} == {"kawakami"}
    # The identity to find the person and the plan: no flag, no case.
    for leak in (SECRET, "dementia", "evacuation_support", "lives_alone", "flags", "case"):
        assert leak not in body
    page = client.get(f"/disaster/{disaster.pk}/").content.decode()
    assert SECRET not in page and "dementia" not in page and "認知症" not in page

    disaster_close(actor=users["chief_bosai"], disaster_id=disaster.pk)
    assert client.get(f"/api/v1/disasters/{disaster.pk}/checks/").status_code == 404
    assert client.get(f"/disaster/{disaster.pk}/").status_code == 404
    own_check = disaster.checks.filter(district__code="kawakami").first()
    assert (
        client.patch(
            f"/api/v1/safety-checks/{own_check.pk}/", {"status": "safe"}, content_type="application/json"
        ).status_code
        == 404
    )
    # Staff and auditors keep the board and the checks after the event.
    client.force_login(users["auditor"])
    assert client.get(f"/api/v1/disasters/{disaster.pk}/checks/").status_code == 200


def test_every_read_of_the_list_is_logged(users, register, client):
    from referral_engine.audit.models import AccessLog

    disaster = disaster_open(actor=users["chief_bosai"], name="地震", kind="earthquake", district_codes=["kawakami"])
    client.force_login(users["minsei_kawakami"])
    client.get(f"/api/v1/disasters/{disaster.pk}/checks/")
    client.get(f"/disaster/{disaster.pk}/districts/kawakami/print/")
    logged = AccessLog.objects.filter(user=users["minsei_kawakami"], object_type="disaster", object_id=disaster.pk)
    assert sorted(logged.values_list("action", flat=True)) == ["print", "view"]


def test_needs_rescue_alerts_the_bosai_supervisors_once(users, register):
    disaster = disaster_open(actor=users["chief_bosai"], name="地震", kind="earthquake", district_codes=["kawakami"])
    check = disaster.checks.get(person=register["flagged_1"])
    safety_check_update(actor=users["minsei_kawakami"], check_id=check.pk, status="needs_rescue", note="2階に取り残し")
    safety_check_update(actor=users["worker_bosai"], check_id=check.pk, status="checking")
    safety_check_update(actor=users["worker_bosai"], check_id=check.pk, status="needs_rescue")
    alerts = Notification.objects.filter(kind="safety_needs_rescue")
    assert list(alerts.values_list("recipient__username", flat=True)) == ["chief_bosai"]
    alert = alerts.get()
    assert "川上一" not in alert.title + alert.body  # the district, never the name
    assert alert.get_absolute_url() == "/disaster/"
    history = SafetyCheck.history.filter(id=check.pk).order_by("history_id")
    assert [h.status for h in history] == ["unconfirmed", "needs_rescue", "checking", "needs_rescue"]
    assert history[1].history_user == users["minsei_kawakami"] and history[1].note == "2階に取り残し"


def test_auditors_read_but_do_not_update(users, register):
    disaster = disaster_open(actor=users["chief_bosai"], name="地震", kind="earthquake", district_codes=["kawakami"])
    check = disaster.checks.first()
    with pytest.raises(Forbidden):
        safety_check_update(actor=users["auditor"], check_id=check.pk, status="safe")
    with pytest.raises(InvalidInput) as bad:
        safety_check_update(actor=users["worker_bosai"], check_id=check.pk, status="fine")
    assert "status" in bad.value.fields


def test_the_board_the_list_and_the_csv_agree(users, register, client):
    disaster = disaster_open(
        actor=users["chief_bosai"], name="地震", kind="earthquake", district_codes=["kawakami", "aoe"]
    )
    checks = list(disaster.checks.order_by("id"))
    safety_check_update(actor=users["worker_bosai"], check_id=checks[0].pk, status="safe")
    safety_check_update(actor=users["worker_bosai"], check_id=checks[1].pk, status="evacuated")
    client.force_login(users["chief_bosai"])
    board = client.get(f"/api/v1/disasters/{disaster.pk}/board/").json()
    for row in board["districts"]:
        for status, n in row["counts"].items():
            assert n == disaster.checks.filter(district__code=row["code"], status=status).count()
    assert board["totals"]["unconfirmed"] == disaster.checks.filter(status="unconfirmed").count() == 2
    listed = client.get(f"/api/v1/disasters/{disaster.pk}/checks/?status=unconfirmed").json()
    assert listed["count"] == 2
    csv_text = b"".join(client.get(f"/disaster/{disaster.pk}/unconfirmed.csv").streaming_content).decode("utf-8-sig")
    lines = [line for line in csv_text.splitlines() if line]
    assert len(lines) == 1 + 2  # the header and the two unconfirmed
    for check in disaster.checks.filter(status="unconfirmed").select_related("person"):
        assert any(check.person.full_name in line for line in lines)
    assert client.get(f"/api/v1/disasters/{disaster.pk}/checks/?status=nonsense").status_code == 400


def test_the_summary_counts_the_time_to_the_first_confirmation(users, register):
    disaster = disaster_open(actor=users["chief_bosai"], name="地震", kind="earthquake", district_codes=["kawakami"])
    Disaster.objects.filter(pk=disaster.pk).update(opened_at=timezone.now() - timedelta(minutes=90))
    disaster.refresh_from_db()
    first, second, _third = disaster.checks.order_by("id")
    safety_check_update(actor=users["worker_bosai"], check_id=first.pk, status="safe")
    safety_check_update(actor=users["worker_bosai"], check_id=first.pk, status="needs_help")  # stays confirmed
    safety_check_update(actor=users["worker_bosai"], check_id=second.pk, status="checking")
    row = selectors.summary(users["auditor"], disaster)[0]
    assert (row["code"], row["people"], row["confirmed"]) == ("kawakami", 3, 1)
    assert 89 <= row["median_minutes"] <= 91


def test_closing_twice_is_a_conflict_and_only_openers_close(users, register):
    disaster = disaster_open(actor=users["chief_bosai"], name="地震", kind="earthquake", district_codes=["kawakami"])
    with pytest.raises(Forbidden):
        disaster_close(actor=users["worker_bosai"], disaster_id=disaster.pk)
    disaster_close(actor=users["admin"], disaster_id=disaster.pk)
    with pytest.raises(Conflict):
        disaster_close(actor=users["chief_bosai"], disaster_id=disaster.pk)
    # The district is free for the next event.
    assert disaster_open(actor=users["chief_bosai"], name="余震", kind="earthquake", district_codes=["kawakami"])


def test_the_web_open_form_shows_field_errors(users, register, client):
    client.force_login(users["chief_bosai"])
    response = client.post("/disaster/", {"name": "", "kind": "earthquake"})
    assert response.status_code == 400
    assert "error-summary" in response.content.decode()
    assert not Disaster.objects.exists()
    response = client.post("/disaster/", {"name": "地震", "kind": "earthquake", "districts": ["kawakami"]})
    assert response.status_code == 302
    board = client.get(response["Location"])
    assert board.status_code == 200 and "川上一" in board.content.decode()


def test_needs_help_offers_a_case_for_the_person_in_one_step(users, register, client):
    disaster = disaster_open(actor=users["chief_bosai"], name="地震", kind="earthquake", district_codes=["kawakami"])
    check = disaster.checks.get(person=register["flagged_1"])
    safety_check_update(actor=users["worker_bosai"], check_id=check.pk, status="needs_help", note="薬が切れた")
    client.force_login(users["worker_bosai"])
    board = client.get(f"/disaster/{disaster.pk}/").content.decode()
    # The link carries the proof that the board offered this person to this user (issue 17: ids alone
    # do not open a case for a person the opener cannot see).
    found = re.search(rf'href="(/cases/new/\?person={register["flagged_1"].pk}&amp;choice=[^"]+)"', board)
    assert found
    link = html.unescape(found.group(1))
    choice = parse_qs(urlsplit(link).query)["choice"][0]
    assert "川上一" not in client.get(f"/cases/new/?person={register['flagged_1'].pk}").content.decode()
    intake = client.get(link).content.decode()
    assert f'name="person_id" id="id_person_id" value="{register["flagged_1"].pk}"' in intake
    assert "川上一" in intake
    created = client.post(
        "/cases/new/",
        {
            "idempotency_key": "disaster-help-1",
            "person_id": register["flagged_1"].pk,
            "person_choice": choice,
            "channel": "counter",
            "summary": "災害時、薬が切れた",
            "needs": ["health"],
            "risk": "high",
        },
    )
    assert created.status_code == 302
    assert register["flagged_1"].cases.count() == 1
    # A connector sees no such link, and the intake refuses them anyway.
    client.force_login(users["minsei_kawakami"])
    assert "/cases/new/?person=" not in client.get(f"/disaster/{disaster.pk}/").content.decode()
