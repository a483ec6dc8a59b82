# ruff: noqa: S608 - the script is SQL built from integers and literals of our own, for pgbench
"""The limit (issue 10): a pgbench script that makes the same row writes as one intake through the API.

The rows one intake writes are measured, not assumed: the bench runs one real intake inside a
transaction and reads `pg_stat_xact_user_tables` (rows inserted and updated per table by this
transaction) before rolling back. The script below is built from those counts (so the number of
notification rows, for instance, follows the size of the receiving department) and is itself
checked the same way, so the table can say whether the two write the same rows.

Like the app, each transaction first takes the fiscal year's number row `FOR UPDATE` (a pgbench
year of its own, 9999, so the real numbering is untouched): intakes serialise on it in both.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

TABLES_WRITTEN_BY_THE_SCRIPT = {
    "cases_casenumbersequence",
    "cases_person",
    "cases_historicalperson",
    "cases_case",
    "cases_historicalcase",
    "timers_timer",
    "timers_historicaltimer",
    "cases_caseevent",
    "access_casegroupobjectpermission",
    "access_caseuserobjectpermission",
    "cases_referral",
    "cases_historicalreferral",
    "access_referralgroupobjectpermission",
    "access_referraluserobjectpermission",
    "notifications_notification",
}


@dataclass(frozen=True)
class Ids:
    actor: int  # the user who takes the intake (a caseworker: the lead worker)
    dept: int  # the window
    to_dept: int  # the receiving department of the referral
    district: int
    group_dept: int
    group_to: int
    perm_case: dict[str, int]  # codename -> permission id
    perm_referral: dict[str, int]
    recipient_ids: list[int]  # who a new referral notifies (the receiving department's supervisors)


def _case_values(number_expr: str) -> str:
    return f"""now(), now(), {number_expr}, 9999, :person_id, :dept, 'counter', NULL, :actor, \
'一人暮らしで外出が減っている（pgbench）', '["isolation", "health"]', 'normal', :dept, :actor, 'received', '', \
NULL, NULL, '', 0, false, now(), now() + interval '14 days'"""


CASE_COLUMNS = (
    "created_at, updated_at, number, fiscal_year, person_id, intake_department_id, channel, referrer_id, "
    "opened_by_id, summary, needs, risk, lead_department_id, lead_worker_id, state, closure_reason, closed_at, "
    "hold_started_at, held_from_state, on_hold_seconds, is_gap, last_touched_at, stall_due_at"
)
HCASE_COLUMNS = (
    "id, created_at, number, fiscal_year, channel, summary, needs, risk, state, closure_reason, closed_at, "
    "hold_started_at, held_from_state, on_hold_seconds, is_gap, last_touched_at, stall_due_at, person_id, "
    "intake_department_id, referrer_id, opened_by_id, lead_department_id, lead_worker_id, history_date, "
    "history_change_reason, history_type, history_user_id"
)
HCASE_VALUES = """:case_id, now(), 'PB-' || :seq, 9999, 'counter', '一人暮らしで外出が減っている（pgbench）', \
'["isolation", "health"]', 'normal', 'received', '', NULL, NULL, '', 0, false, now(), now() + interval '14 days', \
:person_id, :dept, NULL, :actor, :dept, :actor, now(), '{reason}', '{kind}', :actor"""
TIMER_COLUMNS = (
    "object_key, rule, target, case_id, referral_id, department_id, stage, cycle, started_at, "
    "hold_baseline_seconds, due_at, l1_at, l3_at, fired_level, next_fire_at, is_open, closed_at, created_at, updated_at"
)
HTIMER_COLUMNS = (
    "id, object_key, rule, target, stage, cycle, started_at, hold_baseline_seconds, due_at, l1_at, l3_at, "
    "fired_level, next_fire_at, is_open, closed_at, created_at, case_id, referral_id, department_id, history_date, "
    "history_change_reason, history_type, history_user_id"
)
EVENT_COLUMNS = (
    "case_id, referral_id, kind, name, from_state, to_state, actor_id, department_id, reason, data, created_at"
)
REFERRAL_COLUMNS = (
    "created_at, updated_at, case_id, from_department_id, to_department_id, requested_by_id, reason, basis, "
    "justification, consent_id, urgent, previous_id, state, stage, due_at, stage_due_at, responded_by_id, "
    "responded_at, response_reason, completed_at, assigned_worker_id"
)
HREFERRAL_COLUMNS = (
    "id, created_at, reason, basis, justification, urgent, state, stage, due_at, stage_due_at, responded_at, "
    "response_reason, completed_at, case_id, from_department_id, to_department_id, requested_by_id, consent_id, "
    "previous_id, responded_by_id, assigned_worker_id, history_date, history_change_reason, history_type, "
    "history_user_id"
)
NOTIFICATION_COLUMNS = (
    "recipient_id, kind, title, body, case_id, referral_id, escalation_id, created_at, read_at, delivery, "
    "attempts, next_attempt_at, delivered_at, last_error"
)


def script(ids: Ids, counts: dict[str, tuple[int, int]]) -> str:
    """The pgbench transaction. `counts`: table -> (rows inserted, rows updated) by one real intake."""

    def n(table: str, updated: bool = False) -> int:
        ins, upd = counts.get(table, (0, 0))
        return upd if updated else ins

    lines = [
        f"\\set actor {ids.actor}",
        f"\\set dept {ids.dept}",
        f"\\set todept {ids.to_dept}",
        "BEGIN;",
        "INSERT INTO cases_casenumbersequence (fiscal_year, last) VALUES (9999, 0) ON CONFLICT DO NOTHING;",
        "SELECT last FROM cases_casenumbersequence WHERE fiscal_year = 9999 FOR UPDATE;",
        "UPDATE cases_casenumbersequence SET last = last + 1 WHERE fiscal_year = 9999 RETURNING last AS seq \\gset",
        "INSERT INTO cases_person (created_at, updated_at, family_name, given_name, family_name_kana, given_name_kana, "
        "birth_date, sex, address, district_id, phone, flags, kana_key, name_key, phone_key) VALUES (now(), now(), "
        f"'佐藤', '花子', 'サトウ', 'ハナコ', '1950-01-02', '', '津久見市 1-2', {ids.district}, '', '[]', "
        "'サトウハナコ', '佐藤花子', '') RETURNING id AS person_id \\gset",
        "INSERT INTO cases_historicalperson (id, created_at, family_name, given_name, family_name_kana, "
        "given_name_kana, birth_date, sex, address, phone, flags, kana_key, name_key, phone_key, district_id, "
        "history_date, history_change_reason, history_type, history_user_id) VALUES (:person_id, now(), '佐藤', "
        f"'花子', 'サトウ', 'ハナコ', '1950-01-02', '', '津久見市 1-2', '', '[]', 'サトウハナコ', '佐藤花子', '', "
        f"{ids.district}, now(), 'person_create', '+', :actor);",
        f"INSERT INTO cases_case ({CASE_COLUMNS}) VALUES ({_case_values(chr(39) + 'PB-' + chr(39) + ' || :seq')}) "
        "RETURNING id AS case_id \\gset",
        f"INSERT INTO cases_historicalcase ({HCASE_COLUMNS}) VALUES ({HCASE_VALUES.format(reason='case_open', kind='+')});",
        f"INSERT INTO timers_timer ({TIMER_COLUMNS}) VALUES ('case:' || :case_id, 'stall_normal', 'case', :case_id, "
        "NULL, :dept, '', 1, now(), 0, now() + interval '14 days', now() + interval '7 days', "
        "now() + interval '16 days', 0, now() + interval '7 days', true, NULL, now(), now()) RETURNING id AS stall_id \\gset",
        f"INSERT INTO timers_historicaltimer ({HTIMER_COLUMNS}) VALUES (:stall_id, 'case:' || :case_id, "
        "'stall_normal', 'case', '', 1, now(), 0, now() + interval '14 days', now() + interval '7 days', "
        "now() + interval '16 days', 0, now() + interval '7 days', true, NULL, now(), :case_id, NULL, :dept, now(), "
        "'start: case received', '+', :actor);",
    ]
    events = n("cases_caseevent")
    lines.append(
        f"INSERT INTO cases_caseevent ({EVENT_COLUMNS}) VALUES (:case_id, NULL, 'case_opened', 'open', '', "
        '\'received\', :actor, :dept, \'\', \'{"channel": "counter", "risk": "normal"}\', now());'
    )
    case_groups = n("access_casegroupobjectpermission")
    full = [ids.perm_case["view_case_full"], ids.perm_case["work_case"]]
    lines.append(
        "INSERT INTO access_casegroupobjectpermission (permission_id, group_id, content_object_id, granted_at) VALUES "
        + ", ".join(f"({p}, {ids.group_dept}, :case_id, now())" for p in full[: min(2, case_groups)])
        + ";"
    )
    if n("access_caseuserobjectpermission"):
        rows = [f"({p}, :actor, :case_id)" for p in full][: n("access_caseuserobjectpermission")]
        lines.append(
            "INSERT INTO access_caseuserobjectpermission (permission_id, user_id, content_object_id) VALUES "
            + ", ".join(rows)
            + ";"
        )
    if n("cases_referral"):
        lines += [
            f"INSERT INTO cases_referral ({REFERRAL_COLUMNS}) VALUES (now(), now(), :case_id, :dept, :todept, :actor, "
            "'保健師の訪問をお願いします。', 'internal_use', '', NULL, false, NULL, 'requested', '', "
            "now() + interval '2 days', NULL, NULL, NULL, '', NULL, NULL) RETURNING id AS referral_id \\gset",
            f"INSERT INTO cases_historicalreferral ({HREFERRAL_COLUMNS}) VALUES (:referral_id, now(), "
            "'保健師の訪問をお願いします。', 'internal_use', '', false, 'requested', '', now() + interval '2 days', "
            "NULL, NULL, '', NULL, :case_id, :dept, :todept, :actor, NULL, NULL, NULL, NULL, now(), "
            "'referral_request: internal_use', '+', :actor);",
            f"INSERT INTO timers_timer ({TIMER_COLUMNS}) VALUES ('referral:' || :referral_id, 'handoff', 'referral', "
            ":case_id, :referral_id, :todept, '', 1, now(), 0, now() + interval '2 days', now() + interval '1 day', "
            "now() + interval '4 days', 0, now() + interval '1 day', true, NULL, now(), now()) "
            "RETURNING id AS handoff_id \\gset",
            f"INSERT INTO timers_historicaltimer ({HTIMER_COLUMNS}) VALUES (:handoff_id, 'referral:' || :referral_id, "
            "'handoff', 'referral', '', 1, now(), 0, now() + interval '2 days', now() + interval '1 day', "
            "now() + interval '4 days', 0, now() + interval '1 day', true, NULL, now(), :case_id, :referral_id, "
            ":todept, now(), 'start: referral requested', '+', :actor);",
        ]
        for kind, name in (("referral_requested", "request"), ("disclosure", "internal_use"))[: max(0, events - 1)]:
            lines.append(
                f"INSERT INTO cases_caseevent ({EVENT_COLUMNS}) VALUES (:case_id, :referral_id, '{kind}', '{name}', "
                "'', 'requested', :actor, :dept, '保健師の訪問をお願いします。', "
                '\'{"to": "health_promotion", "from": "social_welfare", "basis": "internal_use"}\', now());'
            )
        if case_groups > 2:  # the receiving department's limited view
            lines.append(
                "INSERT INTO access_casegroupobjectpermission (permission_id, group_id, content_object_id, granted_at) "
                f"VALUES ({ids.perm_case['view_case_limited']}, {ids.group_to}, :case_id, now());"
            )
        ref_rows = [
            f"({ids.perm_referral['view_referral']}, {ids.group_to}, :referral_id, now())",
            f"({ids.perm_referral['respond_referral']}, {ids.group_to}, :referral_id, now())",
            f"({ids.perm_referral['view_referral']}, {ids.group_dept}, :referral_id, now())",
        ][: n("access_referralgroupobjectpermission")]
        if ref_rows:
            lines.append(
                "INSERT INTO access_referralgroupobjectpermission (permission_id, group_id, content_object_id, "
                "granted_at) VALUES " + ", ".join(ref_rows) + ";"
            )
    # The stall clock restarts when the referral touches the case: the timer and the case are updated.
    for _ in range(n("timers_timer", updated=True)):
        lines += [
            "UPDATE timers_timer SET cycle = cycle + 1, started_at = now(), due_at = now() + interval '14 days', "
            "updated_at = now() WHERE id = :stall_id;",
            f"INSERT INTO timers_historicaltimer ({HTIMER_COLUMNS}) VALUES (:stall_id, 'case:' || :case_id, "
            "'stall_normal', 'case', '', 2, now(), 0, now() + interval '14 days', now() + interval '7 days', "
            "now() + interval '16 days', 0, now() + interval '7 days', true, NULL, now(), :case_id, NULL, :dept, now(), "
            "'restart: case received', '~', :actor);",
        ]
    for _ in range(n("cases_case", updated=True)):
        lines += [
            "UPDATE cases_case SET updated_at = now(), last_touched_at = now(), stall_due_at = now() + interval "
            "'14 days' WHERE state = 'received' AND id = :case_id;",
            f"INSERT INTO cases_historicalcase ({HCASE_COLUMNS}) VALUES "
            f"({HCASE_VALUES.format(reason='referral_request', kind='~')});",
        ]
    wanted = n("notifications_notification")
    recipients = (ids.recipient_ids * (wanted // max(1, len(ids.recipient_ids)) + 1))[:wanted]
    if recipients:
        lines.append(
            f"INSERT INTO notifications_notification ({NOTIFICATION_COLUMNS}) SELECT r, 'referral_requested', "
            "'つなぎの依頼: PB-' || :seq, '受理期限: -', :case_id, :referral_id, NULL, "
            "now(), NULL, 'pending', 0, now(), NULL, '' FROM unnest(ARRAY["
            + ", ".join(str(r) for r in recipients)
            + "]::bigint[]) AS r;"
        )
    lines.append("END;")
    return "\n".join(lines) + "\n"


STATS_SQL = (
    "SELECT relname, n_tup_ins, n_tup_upd FROM pg_stat_xact_user_tables "
    "WHERE n_tup_ins + n_tup_upd > 0 ORDER BY relname"
)


def script_writes(text: str, *, dsn_args: list[str]) -> dict[str, tuple[int, int]]:
    """Run the script once in psql inside a transaction that is rolled back, and return the rows it
    inserted and updated per table (pg_stat_xact_user_tables)."""
    body = text.replace("END;", STATS_SQL + ";\nROLLBACK;")
    out = subprocess.run(
        ["psql", *dsn_args, "-v", "ON_ERROR_STOP=1", "-qAt", "-F", "\t"],
        input=body,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    writes = {}
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) == 3 and parts[1].isdigit():
            writes[parts[0]] = (int(parts[1]), int(parts[2]))
    return writes
