"""Structured logs (issue 22, item 3): one JSON line per request with its id (also X-Request-ID), user,
route, status and duration; the task id in task logs; nothing but the fields named, scrubbed."""

from __future__ import annotations

import json
import logging

import pytest
from celery import shared_task
from django.test import Client

pytestmark = pytest.mark.django_db


def request_lines(captured_log) -> list[dict]:
    return [r for r in captured_log.records if r["logger"] == "referral_engine.request"]


def test_a_request_is_one_json_line_with_its_id_user_route_status_and_duration(captured_log, users):
    client = Client()
    client.force_login(users["chief_welfare"])
    response = client.get("/cases/", {"q": "ツクミ", "state": "received"})
    assert response.status_code == 200
    request_id = response["X-Request-ID"]
    assert len(request_id) == 32
    (line,) = request_lines(captured_log)
    assert line["request_id"] == request_id
    assert line["user_id"] == users["chief_welfare"].pk
    assert (line["route"], line["method"], line["status"], line["path"]) == ("case_list", "GET", 200, "/cases/")
    assert line["duration_ms"] > 0 and line["level"] == "INFO" and line["time"].endswith("+09:00")
    assert "ツクミ" not in captured_log.text and "state=" not in captured_log.text
    # Every line logged while the request ran carries its id.
    during = [r for r in captured_log.records if r.get("request_id")]
    assert {r["request_id"] for r in during} == {request_id}


def test_a_proxys_valid_request_id_is_kept_and_anything_else_replaced(settings, captured_log):
    ok = Client().get("/healthz", HTTP_X_REQUEST_ID="0f8fad5b-d9cb-469f-a165-70867728950e")
    assert ok["X-Request-ID"] == "0f8fad5b-d9cb-469f-a165-70867728950e"
    for forged in ('abc"} {"level": "CRITICAL', "short", "a" * 200, "with space 12345"):
        response = Client().get("/healthz", HTTP_X_REQUEST_ID=forged)
        assert response["X-Request-ID"] != forged and len(response["X-Request-ID"]) == 32
    settings.TRUST_REQUEST_ID_HEADER = False
    untrusted = Client().get("/healthz", HTTP_X_REQUEST_ID="0f8fad5b-d9cb-469f-a165-70867728950e")
    assert untrusted["X-Request-ID"] != "0f8fad5b-d9cb-469f-a165-70867728950e"
    assert "CRITICAL" not in {r["level"] for r in captured_log.records}


def test_djangos_own_4xx_line_carries_the_request_id_and_no_query_string(captured_log, users):
    client = Client()
    client.force_login(users["worker_welfare"])
    response = client.get("/cases/987654/", {"q": "山田花子"})
    assert response.status_code == 404
    warnings = [r for r in captured_log.records if r["logger"] == "django.request"]
    assert warnings and warnings[0]["request_id"] == response["X-Request-ID"]
    assert warnings[0]["route"] == "case_detail"
    assert "山田" not in captured_log.text and "%E5%B1%B1" not in captured_log.text


@shared_task(name="tests.observability.log_inside_a_task")
def log_inside_a_task(case_id: int) -> int:
    logging.getLogger("referral_engine.test_task").info("working on case %s", case_id)
    return case_id


def test_a_task_log_line_carries_the_task_id(captured_log):
    result = log_inside_a_task.apply(args=[7], task_id="task-id-for-the-log-test")
    assert result.get() == 7
    (line,) = [r for r in captured_log.records if r["logger"] == "referral_engine.test_task"]
    assert line["task_id"] == "task-id-for-the-log-test"
    assert line["task_name"] == "tests.observability.log_inside_a_task"
    assert line["message"] == "working on case 7"
    assert "task task-id-for-the-log-test" in captured_log.text_stream.getvalue()


def test_only_the_named_fields_are_written_and_free_text_is_scrubbed(captured_log):
    from referral_engine.observability.logs import FIELDS

    logger = logging.getLogger("referral_engine.test")
    logger.warning(
        "insert failed: %s",
        "new row violates check constraint DETAIL:  Failing row contains (1, 山田, 花子, 津久見市1-2).",
        extra={"request": object(), "person_name": "山田花子", "status": 409},
    )
    try:
        raise ValueError(
            "duplicate key value violates unique constraint\nDETAIL:  Key (name, phone)=(山田, 0972) exists"
        )
    except ValueError:
        logger.exception("GET /cases/?q=%E5%B1%B1 failed")
    first, second = captured_log.records
    assert set(first) <= set(FIELDS) and first["status"] == 409
    assert "person_name" not in first and "request" not in first
    assert first["message"] == "insert failed: new row violates check constraint DETAIL:  Failing row contains (…)."
    assert second["message"] == "GET /cases/?… failed"
    assert "Key (name, phone)=(…)" in second["exc_info"]
    assert "山田" not in captured_log.text and "0972" not in captured_log.text
    assert all(json.loads(line) for line in captured_log.lines)


def test_make_run_keeps_text_and_production_writes_json():
    from referral_engine.observability.logs import logging_config

    assert logging_config(log_format="json", level="INFO")["formatters"]["engine"]["()"].endswith("EngineJsonFormatter")
    assert logging_config(log_format="text", level="INFO")["formatters"]["engine"]["()"].endswith("TextFormatter")
