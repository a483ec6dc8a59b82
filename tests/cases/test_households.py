"""Households (issue 17 item 6, DESIGN §11.2): recorded and edited with relations, historied; a
member's name is hidden from a user who cannot see their case (relation and age band only); open cases
of members signalled by department only; the 8050 and young-carer hints appear for their patterns
and not otherwise."""

from __future__ import annotations

from datetime import date

import pytest

from referral_engine.cases import selectors
from referral_engine.cases.models import HouseholdMember
from referral_engine.cases.services.households import household_create, household_update
from referral_engine.cases.services.intake import case_open
from referral_engine.errors import Conflict, Forbidden, InvalidInput, NotFound

pytestmark = pytest.mark.django_db

TODAY = date.today()


def born(age: int) -> str:
    return date(TODAY.year - age - 1, 1, 1).isoformat()  # `age` years old all year round


@pytest.fixture
def opener(users, fresh):
    def _open(actor: str, name: str, age: int | None, *, flags=(), **kwargs):
        person = {"family_name": "保戸島", "given_name": name, "flags": list(flags)}
        if age is not None:
            person["birth_date"] = born(age)
        return case_open(actor=fresh(users[actor]), summary="相談", person=person, confirm_new_person=True, **kwargs)

    return _open


def test_a_members_name_is_hidden_from_a_user_who_cannot_see_their_case(opener, users, fresh, client):
    mother = opener("worker_welfare", "トメ", 84)
    son = opener("desk_health", "一郎", 52, flags=["hikikomori"])  # a health case: welfare does not see it
    household = household_create(
        actor=fresh(users["worker_welfare"]),
        members=[
            {"person_id": mother.person_id, "relation": "self"},
            {"person_id": son.person_id, "relation": "child", "without_work": True},
        ],
        reason="訪問で同居を確認",
    )

    seen = selectors.household_get_for_user(fresh(users["worker_welfare"]), household.pk)
    by_relation = {m["relation"]: m for m in seen["members"]}
    assert by_relation["self"]["visible"] is True and by_relation["self"]["name"] == "保戸島 トメ"
    hidden = by_relation["child"]
    assert hidden == {
        "relation": "child",
        "age_band": "50_59",
        "visible": False,
        "open_case_departments": ["health_promotion"],  # the signal: department only
    }

    # Through the case API as well: nothing of the son's identity in the response.
    client.force_login(users["worker_welfare"])
    body = client.get(f"/api/v1/cases/{mother.pk}/").content.decode()
    assert "一郎" not in body and son.person.birth_date.isoformat() not in body
    assert '"open_case_departments":["health_promotion"]' in body.replace(" ", "")
    page = client.get(f"/cases/{mother.pk}/").content.decode()
    assert "一郎" not in page and "data-open-case-elsewhere" in page

    # Those who see the son's case see his name; those who see neither case see no household at all.
    assert {
        m["visible"] for m in selectors.household_get_for_user(fresh(users["desk_health"]), household.pk)["members"]
    } == {True, False}
    with pytest.raises(NotFound):
        selectors.household_get_for_user(fresh(users["worker_shakyo"]), household.pk)
    client.force_login(users["worker_shakyo"])
    assert client.get(f"/api/v1/households/{household.pk}/").status_code == 404


def test_the_8050_hint_appears_for_the_pattern_and_not_otherwise(opener, users, fresh):
    worker = fresh(users["worker_welfare"])

    def household_of(parent_age, child_age, *, flags=(), without_work=False):
        parent = opener("worker_welfare", f"親{parent_age}{child_age}{len(flags)}{without_work}", parent_age)
        child = opener("worker_welfare", f"子{parent_age}{child_age}{len(flags)}{without_work}", child_age, flags=flags)
        household = household_create(
            actor=worker,
            members=[
                {"person_id": parent.person_id, "relation": "self"},
                {"person_id": child.person_id, "relation": "child", "without_work": without_work},
            ],
            reason="聞き取り",
        )
        return selectors.household_get_for_user(fresh(users["worker_welfare"]), household.pk)["hints"]

    assert household_of(85, 55, flags=["hikikomori"]) == ["8050"]
    assert household_of(80, 40, without_work=True) == ["8050"]
    assert household_of(85, 55) == []  # the child works and is not withdrawn
    assert household_of(78, 50, flags=["hikikomori"]) == []  # the parent is under 80
    assert household_of(85, 66, without_work=True) == []  # the child is 65 or more


def test_the_8050_hint_with_the_child_as_本人(opener, users, fresh):
    parent = opener("worker_welfare", "母", 88)
    child = opener("worker_welfare", "娘", 58, flags=["hikikomori"])
    household = household_create(
        actor=fresh(users["worker_welfare"]),
        members=[
            {"person_id": child.person_id, "relation": "self"},
            {"person_id": parent.person_id, "relation": "parent"},
        ],
        reason="聞き取り",
    )
    assert selectors.household_get_for_user(fresh(users["worker_welfare"]), household.pk)["hints"] == ["8050"]
    # The hint goes to those who see a member's case in full, not to limited viewers or strangers.
    assert selectors.household_get_for_user(fresh(users["auditor"]), household.pk)["hints"] == ["8050"]


def test_the_young_carer_hint(opener, users, fresh):
    worker = fresh(users["worker_welfare"])
    mother = opener("worker_welfare", "母", 45, flags=["mental_illness"])
    girl = opener("worker_welfare", "娘", 15)
    household = household_create(
        actor=worker,
        members=[
            {"person_id": mother.person_id, "relation": "self"},
            {"person_id": girl.person_id, "relation": "child"},
        ],
        reason="学校からの相談",
    )
    assert selectors.household_get_for_user(worker, household.pk)["hints"] == ["young_carer"]
    # A healthy adult in the household: no hint.
    father = opener("worker_welfare", "父", 47)
    household_update(
        household_id=household.pk,
        actor=worker,
        members=[{"person_id": father.person_id, "relation": "spouse"}],
        reason="父の同居を確認",
    )
    assert selectors.household_get_for_user(fresh(users["worker_welfare"]), household.pk)["hints"] == []


def test_create_and_edit_are_historied_and_checked(opener, users, fresh):
    worker = fresh(users["worker_welfare"])
    a = opener("worker_welfare", "太郎", 70)
    b = opener("worker_welfare", "花子", 68)
    c = opener("worker_welfare", "次郎", 40)
    with pytest.raises(Forbidden):  # sees none of them in full
        household_create(
            actor=fresh(users["worker_shakyo"]),
            members=[{"person_id": a.person_id, "relation": "self"}],
            reason="r",
        )
    with pytest.raises(InvalidInput):  # a reason is required
        household_create(actor=worker, members=[{"person_id": a.person_id, "relation": "self"}], reason="")
    with pytest.raises(InvalidInput):  # one 本人 at most
        household_create(
            actor=worker,
            members=[{"person_id": a.person_id, "relation": "self"}, {"person_id": b.person_id, "relation": "self"}],
            reason="r",
        )
    household = household_create(
        actor=worker,
        members=[{"person_id": a.person_id, "relation": "self"}, {"person_id": b.person_id, "relation": "spouse"}],
        reason="転入届",
    )
    with pytest.raises(Conflict):  # in a household already
        household_create(actor=worker, members=[{"person_id": b.person_id, "relation": "self"}], reason="r")

    household_update(
        household_id=household.pk,
        actor=fresh(users["worker_welfare"]),
        members=[{"person_id": c.person_id, "relation": "child"}, {"person_id": b.person_id, "relation": "cohabitant"}],
        remove=[a.person_id],
        reason="世帯分離",
    )
    members = dict(HouseholdMember.objects.filter(household=household).values_list("person_id", "relation"))
    assert members == {b.person_id: "cohabitant", c.person_id: "child"}
    changed = HouseholdMember.history.filter(person_id=b.person_id).first()
    assert (changed.relation, changed.history_user.username) == ("cohabitant", "worker_welfare")
    assert changed.history_change_reason == "household_update: 世帯分離"
    left = HouseholdMember.history.filter(person_id=a.person_id).first()
    assert left.history_type == "-" and left.history_change_reason == "household_update: 世帯分離"
    assert household.history.first().history_change_reason == "household_update: 世帯分離"


def test_api_households(opener, users, client):
    a = opener("worker_welfare", "太郎", 82)
    b = opener("worker_welfare", "一郎", 50)
    client.force_login(users["worker_welfare"])
    missing_reason = client.post(
        "/api/v1/households/",
        {"members": [{"person_id": a.person_id, "relation": "self"}]},
        content_type="application/json",
    )
    assert missing_reason.status_code == 400
    created = client.post(
        "/api/v1/households/",
        {
            "members": [
                {"person_id": a.person_id, "relation": "self"},
                {"person_id": b.person_id, "relation": "child", "without_work": True},
            ],
            "reason": "訪問で確認",
        },
        content_type="application/json",
    )
    assert created.status_code == 201
    body = created.json()
    assert body["hints"] == ["8050"]
    assert {m["name"] for m in body["members"]} == {"保戸島 太郎", "保戸島 一郎"}
    household_id = body["id"]
    assert client.get(f"/api/v1/households/{household_id}/").json() == body
    from referral_engine.audit.models import AccessLog

    assert AccessLog.objects.filter(
        object_type="household", object_id=household_id, action="view", username="worker_welfare"
    ).exists()
    edited = client.patch(
        f"/api/v1/households/{household_id}/",
        {"members": [{"person_id": b.person_id, "relation": "child", "without_work": False}], "reason": "就職した"},
        content_type="application/json",
    )
    assert edited.status_code == 200
    assert edited.json()["hints"] == []
    case = client.get(f"/api/v1/cases/{a.pk}/").json()
    assert case["person"]["household"]["id"] == household_id


def test_web_household_panel_adds_and_removes_a_member(opener, users, client):
    a = opener("worker_welfare", "太郎", 82)
    b = opener("worker_welfare", "一郎", 50)
    client.force_login(users["worker_welfare"])
    refused = client.post(f"/cases/{a.pk}/household/", {"person_id": b.person_id, "relation": "child"})
    assert refused.status_code == 400  # no reason
    added = client.post(
        f"/cases/{a.pk}/household/",
        {"person_id": b.person_id, "relation": "child", "without_work": "on", "reason": "訪問で確認"},
    )
    assert added.status_code == 302
    page = client.get(f"/cases/{a.pk}/").content.decode()
    assert "保戸島 一郎" in page and "data-household-hint" in page
    removed = client.post(f"/cases/{a.pk}/household/remove/", {"person_id": b.person_id, "reason": "転出"})
    assert removed.status_code == 302
    assert not HouseholdMember.objects.filter(person_id=b.person_id).exists()
