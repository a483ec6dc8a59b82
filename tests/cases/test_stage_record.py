import pytest

from referral_engine.cases.models import CaseEvent, StageRecord
from referral_engine.cases.services.records import stage_record_update
from referral_engine.cases.services.referrals import referral_transition
from referral_engine.errors import Conflict, Forbidden, InvalidInput


@pytest.fixture
def accepted(open_case, users, fresh):
    case = open_case(
        "worker_welfare",
        referrals=[{"to_department": "health_promotion", "basis": "internal_use", "reason": "家庭訪問"}],
    )
    referral = case.referrals.get()
    referral_transition(referral_id=referral.pk, name="accept", actor=fresh(users["worker_health"]))
    return referral


def test_first_save_writes_one_attributed_history_row(accepted, users, fresh):
    record = stage_record_update(
        referral_id=accepted.pk, actor=fresh(users["worker_health"]), data={"planned_date": "2026-12-01"}
    )
    history = StageRecord.history.filter(id=record.pk)
    assert history.count() == 1
    assert history.get().history_user == users["worker_health"]
    assert CaseEvent.objects.filter(referral=accepted, kind="stage_data").count() == 1


def test_partial_update_keeps_the_other_fields(accepted, users, fresh):
    worker = users["worker_health"]
    stage_record_update(referral_id=accepted.pk, actor=fresh(worker), data={"planned_date": "2026-12-01"})
    record = stage_record_update(referral_id=accepted.pk, actor=fresh(worker), data={"visited_by": "保健師 山田"})
    assert record.data["planned_date"] == "2026-12-01"
    assert record.data["visited_by"] == "保健師 山田"
    # the same data again changes nothing and writes nothing
    count = StageRecord.history.filter(id=record.pk).count()
    stage_record_update(referral_id=accepted.pk, actor=fresh(worker), data={"visited_by": "保健師 山田"})
    assert StageRecord.history.filter(id=record.pk).count() == count


def test_invalid_data_names_the_field(accepted, users, fresh):
    with pytest.raises(InvalidInput) as info:
        stage_record_update(referral_id=accepted.pk, actor=fresh(users["worker_health"]), data={"planned_date": "明日"})
    assert "planned_date" in info.value.fields
    assert not StageRecord.objects.filter(referral=accepted).exists()


def test_only_the_working_department_edits_and_only_at_record_stages(accepted, users, fresh):
    with pytest.raises(Forbidden):
        stage_record_update(referral_id=accepted.pk, actor=fresh(users["worker_welfare"]), data={"visited_by": "x"})
    referral_transition(referral_id=accepted.pk, name="return", actor=fresh(users["worker_health"]), reason="対象外")
    with pytest.raises((Forbidden, Conflict)):
        stage_record_update(referral_id=accepted.pk, actor=fresh(users["worker_health"]), data={"visited_by": "x"})
