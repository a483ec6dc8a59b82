"""One writer of the case timeline (CONVENTIONS 11): every CaseEvent row of the engine is written by
`referral_engine.cases.events`, one named function per kind of event."""

from __future__ import annotations

import ast
from pathlib import Path

from referral_engine.cases import events
from referral_engine.cases.choices import EventKind
from referral_engine.cases.models import Case, CaseEvent

ROOT = Path(__file__).resolve().parents[2]
WRITERS = {"create", "bulk_create", "get_or_create", "update_or_create"}


def _writes_case_events(node: ast.AST) -> bool:
    """`CaseEvent(...)` or `CaseEvent.objects.<writer>(...)`."""
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    if isinstance(func, ast.Name):
        return func.id == "CaseEvent"
    return (
        isinstance(func, ast.Attribute)
        and func.attr in WRITERS
        and isinstance(func.value, ast.Attribute)
        and func.value.attr == "objects"
        and isinstance(func.value.value, ast.Name)
        and func.value.value.id == "CaseEvent"
    )


def test_no_module_but_the_events_module_writes_a_timeline_row():
    writers = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path in sorted((ROOT / "referral_engine").rglob("*.py"))
        if "migrations" not in path.parts and path != ROOT / "referral_engine/cases/events.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if _writes_case_events(node)
    ]
    assert writers == []


def test_the_scan_finds_a_writer_where_there_is_one():
    for source in ("CaseEvent(case=c)", "CaseEvent.objects.create(case=c)", "CaseEvent.objects.bulk_create(rows)"):
        assert any(_writes_case_events(n) for n in ast.walk(ast.parse(source)))
    assert not any(_writes_case_events(n) for n in ast.walk(ast.parse("CaseEvent.objects.filter(case=c)")))


def test_every_kind_of_event_has_its_writer():
    source = (ROOT / "referral_engine/cases/events.py").read_text(encoding="utf-8")
    assert [kind.name for kind in EventKind if f"EventKind.{kind.name}" not in source] == []
    assert sorted(events.__all__) == sorted(
        name for name, value in vars(events).items() if callable(value) and value.__module__ == events.__name__
        and not name.startswith("_")
    )  # fmt: skip


def test_a_row_for_a_bulk_insert_is_built_unsaved_and_saved_together(open_case, users):
    from referral_engine.timers.models import Escalation

    case = open_case("desk_welfare")
    before = CaseEvent.objects.filter(case=case).count()
    escalation = Escalation.objects.create(
        object_key=f"case:{case.pk}", rule="stall", cycle=1, level=3, case=case,
        department=case.lead_department, due_at=case.created_at, fired_at=case.created_at,
    )  # fmt: skip
    system = users["admin"]
    rows = [
        events.escalation_fired(escalation=escalation, actor=system, rule_name="停滞", commit=False),
        events.gap_flagged(escalation=escalation, actor=system, rule_name="停滞", commit=False),
    ]
    assert [r.pk for r in rows] == [None, None]
    assert CaseEvent.objects.filter(case=case).count() == before

    events.events_save(rows)
    fired, gap = CaseEvent.objects.filter(case=case).order_by("id")[before:]
    assert (fired.kind, fired.name, fired.data["escalation_id"], fired.data["level"]) == (
        "escalation",
        "L3",
        escalation.pk,
        3,
    )
    assert fired.reason.startswith("停滞（期限 ")
    assert (gap.kind, gap.name, gap.reason, gap.actor) == ("gap_flagged", "gap", "停滞", system)


def test_an_actor_who_is_not_signed_in_is_recorded_as_no_one(open_case):
    from django.contrib.auth.models import AnonymousUser

    case = open_case("desk_welfare")
    event = events.case_transition(case=Case.objects.get(pk=case.pk), actor=AnonymousUser(), name="x", from_state="")
    assert CaseEvent.objects.get(pk=event.pk).actor is None
