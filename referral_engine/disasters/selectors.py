"""Reads of disaster mode, each scoped by the policy (`policy.disaster_district_reach`): the events a
user may see, the checks of one event, the board's counts, the summary after the event. What a check
shows is the identity needed to find the person and the plan's supporters and destination — no flag,
no case content (a connector reads exactly this)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from statistics import median
from typing import Any

from django.db.models import Count, F, QuerySet

from referral_engine.access import policy
from referral_engine.accounts.models import District
from referral_engine.cases.choices import PersonFlag
from referral_engine.cases.models import EvacuationPlan, Person
from referral_engine.disasters.models import STATUS_ORDER, CheckStatus, Disaster, SafetyCheck
from referral_engine.errors import InvalidInput, NotFound


def disasters_visible(user: Any) -> list[Disaster]:
    """Open events first, then the newest; only those the user may see (a connector: open events that
    cover one of their districts)."""
    p = policy.principal(user)
    events = Disaster.objects.prefetch_related("districts").order_by(
        F("closed_at").desc(nulls_first=True), "-opened_at", "-id"
    )
    if p.is_connector and not p.is_staff_member:
        events = events.filter(closed_at__isnull=True, district_rows__district_id__in=p.district_ids).distinct()
    return [d for d in events if policy.can_view_disaster(user, d)]


def disaster_get(user: Any, disaster_id: int) -> Disaster:
    disaster = Disaster.objects.filter(pk=disaster_id).first()
    if disaster is None or not policy.can_view_disaster(user, disaster):
        raise NotFound()
    return disaster


def safety_checks(user: Any, disaster: Disaster, *, district: str = "", status: str = "") -> QuerySet[SafetyCheck]:
    """The checks of `disaster` that `user` may see, the ones that still need someone first."""
    checks = SafetyCheck.objects.filter(disaster=disaster).select_related("person", "district", "updated_by")
    reach = policy.disaster_district_reach(user, disaster)
    if reach is not None:
        checks = checks.filter(district_id__in=sorted(reach))
    if district:
        checks = checks.filter(district__code=district)
    if status:
        checks = checks.filter(status=status)
    return checks.order_by("district_id", "person__family_name_kana", "person__given_name_kana", "id")


def safety_check_get(user: Any, check_id: int) -> SafetyCheck:
    check = SafetyCheck.objects.select_related("disaster", "person", "district").filter(pk=check_id).first()
    if check is None:
        raise NotFound()
    reach = policy.disaster_district_reach(user, check.disaster)
    if reach is not None and check.district_id not in reach:
        raise NotFound()
    return check


def board(user: Any, disaster: Disaster) -> dict[str, Any]:
    """Counts per district and status (one grouped query), the districts with unconfirmed people first."""
    rows = safety_checks(user, disaster).order_by().values("district__code", "district__name", "status")
    rows = rows.annotate(n=Count("id"))
    per_district: dict[str, dict[str, Any]] = {}
    totals: Counter[str] = Counter()
    for row in rows:
        entry = per_district.setdefault(
            row["district__code"], {"code": row["district__code"], "name": row["district__name"], "counts": {}}
        )
        entry["counts"][row["status"]] = row["n"]
        totals[row["status"]] += row["n"]
    statuses = [s.value for s in STATUS_ORDER]
    for entry in per_district.values():
        entry["counts"] = {s: entry["counts"].get(s, 0) for s in statuses}
        entry["total"] = sum(entry["counts"].values())
    districts = sorted(
        per_district.values(),
        key=lambda e: (-e["counts"][CheckStatus.NEEDS_RESCUE] - e["counts"]["unconfirmed"], e["code"]),
    )
    return {
        "disaster": disaster.pk,
        "is_open": disaster.is_open,
        "statuses": statuses,
        "columns": [{"value": s, "label": str(CheckStatus(s).label)} for s in statuses],
        "districts": districts,
        "totals": {s: totals.get(s, 0) for s in statuses},
        "total": sum(totals.values()),
    }


def summary(user: Any, disaster: Disaster) -> list[dict[str, Any]]:
    """After (or during) the event, per district: how many, how many confirmed, and how fast — the time
    from the opening to each person's first `safe`/`evacuated` (median and the slowest)."""
    per: dict[str, dict[str, Any]] = {}
    for code, name, confirmed_at in safety_checks(user, disaster).values_list(
        "district__code", "district__name", "confirmed_at"
    ):
        entry = per.setdefault(code, {"code": code, "name": name, "people": 0, "durations": []})
        entry["people"] += 1
        if confirmed_at is not None:
            entry["durations"].append(confirmed_at - disaster.opened_at)
    out = []
    for entry in sorted(per.values(), key=lambda e: e["code"]):
        durations: list[timedelta] = sorted(entry.pop("durations"))
        entry["confirmed"] = len(durations)
        entry["median_minutes"] = round(median(durations).total_seconds() / 60) if durations else None
        entry["slowest_minutes"] = round(durations[-1].total_seconds() / 60) if durations else None
        out.append(entry)
    return out


# --- Who gets a check when an event opens ----------------------------------------------------------


def people_to_check(district_ids: list[int]) -> list[tuple[int, int, dict[str, Any] | None]]:
    """Everyone in those districts flagged 避難行動要支援者 or holding an active individual evacuation
    plan, as (person id, district id, newest plan's supporters and destination)."""
    plans = plans_by_person(district_ids)
    flag = PersonFlag.EVACUATION_SUPPORT.value
    # The flag is looked for in Python: a JSON list's `contains` has no SQLite form, and a city's
    # districts hold some thousands of people (bench: 10,000 flagged in one pass).
    rows = Person.objects.filter(district_id__in=district_ids).order_by("id").values_list("id", "district_id", "flags")
    return [
        (person_id, district_id, plans.get(person_id))
        for person_id, district_id, flags in rows.iterator(5000)
        if flag in (flags or []) or person_id in plans
    ]


def plans_by_person(district_ids: list[int]) -> dict[int, dict[str, Any]]:
    """The active individual evacuation plans (cases.EvacuationPlan: they outlive their referral) of
    the people in those districts, newest first per person, as {"supporters", "evacuation_destination"}."""
    plans = (
        EvacuationPlan.objects.filter(is_active=True, person__district_id__in=district_ids)
        .order_by("person_id", "-made_at", "-id")
        .values_list("person_id", "supporters", "destination")
    )
    found: dict[int, dict[str, Any]] = {}
    for person_id, supporters, destination in plans:
        found.setdefault(person_id, {"supporters": supporters or [], "evacuation_destination": destination})
    return found


def plan_supporters_text(plan: dict[str, Any] | None) -> str:
    supporters = (plan or {}).get("supporters") or []
    parts = []
    for s in supporters:
        if isinstance(s, dict):
            parts.append(" ".join(str(s.get(k) or "") for k in ("name", "relation", "contact")).strip())
    return "、".join(p for p in parts if p)[:500]


def districts_by_code(codes: list[str]) -> list[District]:
    found = list(District.objects.filter(code__in=codes, is_active=True).order_by("id"))
    missing = sorted(set(codes) - {d.code for d in found})
    if missing:
        raise InvalidInput(fields={"districts": [f"unknown: {', '.join(missing)}"]})
    return found
