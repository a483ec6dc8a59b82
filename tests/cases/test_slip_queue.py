"""The desk's queue of community slips (issue 17 item 5, DESIGN §11.2): untriaged slips with their
duplicate candidates; linking a slip to a registered person merges its provisional person (no orphan
left); confirming a new one; the slip leaves the queue; the connector's `person_agreed_to_contact`
shows on the case; the queue replaces the notification to every desk member."""

from __future__ import annotations

import pytest

from referral_engine.cases import selectors
from referral_engine.cases.choices import EventKind
from referral_engine.cases.models import CaseEvent, Person
from referral_engine.cases.services.slips import slip_confirm_new, slip_link, slip_submit
from referral_engine.errors import Conflict, Forbidden, InvalidInput
from referral_engine.notifications.models import Notification
from tests.fixtures import NEW_PERSON

pytestmark = pytest.mark.django_db


@pytest.fixture
def registered(users, fresh):
    """津久見 花子, registered at the desk with a case of her own."""
    from referral_engine.cases.services.intake import case_open

    return case_open(actor=fresh(users["worker_welfare"]), summary="相談", person=NEW_PERSON, confirm_new_person=True)


@pytest.fixture
def slip(users, fresh):
    return slip_submit(
        actor=fresh(users["minsei_kawakami"]),
        concern="新聞がたまっている",
        name="津久見 花子",
        name_kana="ツクミ ハナコ",
        person_agreed_to_contact=True,
    )


def _orphans() -> list[int]:
    """Persons with no case that were not merged into another record."""
    return list(Person.objects.filter(cases__isnull=True, merged_into__isnull=True).values_list("pk", flat=True))


def test_the_queue_lists_untriaged_slips_with_their_candidates(registered, slip, users, fresh):
    queue = selectors.slips_queue(fresh(users["desk_welfare"]))
    assert [s.pk for s in queue] == [slip.pk]
    assert registered.person in queue[0].candidates
    assert slip.case.person not in queue[0].candidates  # never its own provisional person
    assert selectors.slips_queue(fresh(users["worker_health"])) == []


def test_linking_merges_the_provisional_person_and_leaves_no_orphan(registered, slip, users, fresh):
    provisional = slip.case.person
    slip_link(slip_id=slip.pk, actor=fresh(users["desk_welfare"]), person_id=registered.person_id)

    slip.refresh_from_db()
    slip.case.refresh_from_db()
    provisional.refresh_from_db()
    assert slip.case.person_id == registered.person_id
    assert provisional.merged_into_id == registered.person_id
    assert provisional.history.count() >= 2  # created, then merged: its history stays
    assert provisional.history.first().history_user.username == "desk_welfare"
    assert _orphans() == []
    assert (slip.triage, slip.triaged_by.username) == ("linked", "desk_welfare")
    kinds = set(CaseEvent.objects.filter(case=slip.case).values_list("kind", flat=True))
    assert {EventKind.PERSON_MERGED, EventKind.SLIP_TRIAGED} <= kinds
    # It left the queue, and a second triage is refused.
    assert selectors.slips_queue(fresh(users["desk_welfare"])) == []
    with pytest.raises(Conflict):
        slip_link(slip_id=slip.pk, actor=fresh(users["desk_welfare"]), person_id=registered.person_id)


def test_confirming_a_new_person_keeps_it_and_empties_the_queue(slip, users, fresh):
    slip_confirm_new(slip_id=slip.pk, actor=fresh(users["chief_welfare"]))
    slip.refresh_from_db()
    assert slip.triage == "new"
    assert slip.case.person.merged_into_id is None
    assert selectors.slips_queue(fresh(users["desk_welfare"])) == []


def test_only_the_desk_triages(registered, slip, users, fresh):
    for username in ("worker_health", "chief_health", "minsei_kawakami", "auditor", "admin"):
        with pytest.raises(Forbidden):
            slip_link(slip_id=slip.pk, actor=fresh(users[username]), person_id=registered.person_id)
        with pytest.raises(Forbidden):
            slip_confirm_new(slip_id=slip.pk, actor=fresh(users[username]))
    with pytest.raises(InvalidInput):
        slip_link(slip_id=slip.pk, actor=fresh(users["desk_welfare"]), person_id=999_999)


def test_no_notification_to_every_desk_member_only_urgent_slips_reach_the_supervisors(users, fresh):
    before = set(Notification.objects.values_list("pk", flat=True))
    slip_submit(actor=fresh(users["minsei_kawakami"]), concern="様子が気になる")
    assert set(Notification.objects.values_list("pk", flat=True)) == before
    slip_submit(actor=fresh(users["minsei_kawakami"]), concern="倒れているかもしれない", urgency="urgent")
    new = Notification.objects.exclude(pk__in=before)
    assert set(new.values_list("recipient__username", flat=True)) == {"chief_welfare"}


def test_api_queue_link_and_the_case_shows_the_connectors_agreement(registered, slip, users, client):
    client.force_login(users["worker_health"])
    assert client.get("/api/v1/community-slips/?queue=true").status_code == 403
    client.force_login(users["desk_welfare"])
    queue = client.get("/api/v1/community-slips/?queue=true")
    assert queue.status_code == 200
    (item,) = queue.json()["results"]
    assert item["person_agreed_to_contact"] is True
    assert registered.person_id in [c["id"] for c in item["candidates"]]

    linked = client.post(
        f"/api/v1/community-slips/{slip.pk}/link/", {"person_id": registered.person_id}, content_type="application/json"
    )
    assert linked.status_code == 200
    assert linked.json()["person_id"] == registered.person_id
    again = client.post(
        f"/api/v1/community-slips/{slip.pk}/link/", {"person_id": registered.person_id}, content_type="application/json"
    )
    assert again.status_code == 409
    assert client.get("/api/v1/community-slips/?queue=true").json()["results"] == []

    case = client.get(f"/api/v1/cases/{slip.case_id}/").json()
    assert case["community_slip"]["person_agreed_to_contact"] is True
    assert case["community_slip"]["triage"] == "linked"
    assert case["person"]["id"] == registered.person_id


def test_web_queue_link_and_case_page(registered, slip, users, client):
    client.force_login(users["desk_welfare"])
    page = client.get("/slips/queue/")
    assert page.status_code == 200
    assert f'data-link-person="{registered.person_id}"' in page.content.decode()
    done = client.post(f"/slips/{slip.pk}/link/", {"person_id": registered.person_id})
    assert done.status_code == 302
    assert "data-link-person" not in client.get("/slips/queue/").content.decode()
    case_page = client.get(f"/cases/{slip.case_id}/").content.decode()
    assert 'data-person-agreed="yes"' in case_page
