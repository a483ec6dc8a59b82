"""A date PostgreSQL holds but Python cannot read (issue 16 item 1): an activity stored with
`occurred_at` = `0001-12-31 14:41:01+00 BC` (what `0001-01-01T00:00` in Asia/Tokyo became), in the
live table and in its append-only history table.

Every page that reads it answers 200 (audit/stored_dates.py loads it as a far date), and
`manage.py repair_out_of_range_dates --apply` corrects the live row as the system user with its own
history row and a `record_repaired` event on the case; the history row stays as written.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client

from referral_engine.audit.stored_dates import FAR_PAST
from referral_engine.cases.choices import EventKind
from referral_engine.cases.models import Activity, CaseEvent

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

BC = "0001-12-31 14:41:01+00 BC"


@pytest.fixture
def broken(open_case, users, fresh):
    """A case with one activity whose time was stored as a BC timestamp, live and in history."""
    from referral_engine.cases.services.records import activity_add

    case = open_case("worker_welfare")
    activity = activity_add(case_id=case.pk, actor=fresh(users["worker_welfare"]), kind="call", body="電話した")
    history = Activity.history.model
    columns = [f.column for f in history._meta.concrete_fields if f.column != "history_id"]
    listed = ", ".join(f'"{c}"' for c in columns)
    chosen = ", ".join("%s::timestamptz" if c == "occurred_at" else f'"{c}"' for c in columns)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE cases_activity SET occurred_at = %s::timestamptz WHERE id = %s", [BC, activity.pk])
        # A history row as simple-history would have written it for that save (INSERT is allowed).
        cursor.execute(
            f"INSERT INTO {history._meta.db_table} ({listed}) SELECT {chosen} FROM {history._meta.db_table} "
            "WHERE id = %s ORDER BY history_id DESC LIMIT 1",
            [BC, activity.pk],
        )
    return {"case": case, "activity": activity}


def _client(user) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="ja")
    client.force_login(user)
    return client


def _pages(case, users) -> dict[str, int]:
    worker, auditor = _client(users["worker_welfare"]), _client(users["auditor"])
    paths = [
        (worker, f"/cases/{case.pk}/"),
        (worker, f"/cases/{case.pk}/print/"),
        (worker, f"/api/v1/cases/{case.pk}/activities/"),
        (worker, f"/api/v1/cases/{case.pk}/history/"),
        (auditor, f"/audit/cases/{case.pk}/"),
        (auditor, f"/audit/cases/{case.pk}/export.csv"),
        (auditor, f"/audit/users/{users['worker_welfare'].pk}/"),
        (auditor, f"/audit/users/{users['worker_welfare'].pk}/changes.csv"),
    ]
    statuses = {}
    for client, path in paths:
        response = client.get(path)
        if response.streaming:
            b"".join(response.streaming_content)
        statuses[path] = response.status_code
    return statuses


def test_the_stored_value_is_one_the_driver_cannot_read_by_itself(broken):
    with connection.cursor() as cursor:
        cursor.execute("SELECT occurred_at::text FROM cases_activity WHERE id = %s", [broken["activity"].pk])
        assert cursor.fetchone()[0].endswith(" BC")


def test_reading_the_row_is_a_far_date_not_a_500(broken, users):
    assert Activity.objects.get(pk=broken["activity"].pk).occurred_at == FAR_PAST
    assert set(_pages(broken["case"], users).values()) == {200}


def test_the_repair_lists_then_corrects_with_history_and_an_event(broken, users):
    activity = broken["activity"]
    with pytest.raises(CommandError, match="1 value"):
        call_command("repair_out_of_range_dates")  # a dry run: lists it, changes nothing
    assert Activity.objects.get(pk=activity.pk).occurred_at == FAR_PAST
    before = Activity.history.filter(id=activity.pk).count()

    call_command("repair_out_of_range_dates", "--apply")

    repaired = Activity.objects.get(pk=activity.pk)
    assert repaired.occurred_at == repaired.created_at  # the moment it was recorded
    latest = Activity.history.filter(id=activity.pk).latest("history_id")
    assert Activity.history.filter(id=activity.pk).count() == before + 1
    assert latest.history_change_reason.startswith("repair_out_of_range_dates: occurred_at=0001-12-31")
    assert latest.history_user.username == "system"
    event = CaseEvent.objects.get(case=broken["case"], kind=EventKind.RECORD_REPAIRED)
    assert event.data == {"object_type": "activity", "object_id": activity.pk, "stored": {"occurred_at": BC}}
    # The history row that held the BC value stays as written (append-only) and still reads.
    assert Activity.history.filter(id=activity.pk, occurred_at__lt=dt.datetime(1900, 1, 1, tzinfo=dt.UTC)).exists()
    assert set(_pages(broken["case"], users).values()) == {200}
    call_command("repair_out_of_range_dates")  # nothing left: no CommandError


def test_the_repair_refuses_a_user_who_is_not_admin_or_system(users, fresh):
    from referral_engine.cases.services.records import records_dates_repair
    from referral_engine.errors import Forbidden

    with pytest.raises(Forbidden):
        records_dates_repair(actor=fresh(users["chief_welfare"]), apply=True)
    assert records_dates_repair(actor=fresh(users["admin"])) == []
