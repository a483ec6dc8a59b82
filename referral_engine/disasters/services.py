"""Disaster mode's writes (DESIGN §11.5), each checking its rule first (access/policy/disasters.py):
open an event (its safety checks in one pass), update a check (historied; `needs_rescue` alerts the
disaster_prevention supervisors at once, once), close the event (the connectors' reach ends)."""

from __future__ import annotations

import logging
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from referral_engine.access import policy
from referral_engine.access.policy.disasters import DISASTER_DEPARTMENT_CODE
from referral_engine.accounts.models import Membership
from referral_engine.accounts.roles import STAFF_ROLES, Role
from referral_engine.disasters import selectors
from referral_engine.disasters.models import (
    CONFIRMED_STATUSES,
    CheckStatus,
    Disaster,
    DisasterDistrict,
    DisasterKind,
    SafetyCheck,
)
from referral_engine.errors import Conflict, Forbidden, InvalidInput
from referral_engine.notifications.services import Outgoing, notifications_queue_many

logger = logging.getLogger(__name__)

NOTE_MAX_LENGTH = 500
NAME_MAX_LENGTH = 100


def disaster_open(*, actor: Any, name: str, kind: str, district_codes: list[str]) -> Disaster:
    """Open an event for some districts and make a safety check (`unconfirmed`) for every person there
    flagged 避難行動要支援者 or holding an individual evacuation plan. One open event per district: a
    second opening of the same district (two supervisors at once) is a Conflict and writes nothing."""
    if not policy.can_open_disaster(actor):
        raise Forbidden(_("災害対応を開始できるのは防災の係長・班長とシステム管理者です。"))
    name = (name or "").strip()
    errors: dict[str, list[str]] = {}
    if not name or len(name) > NAME_MAX_LENGTH:
        errors["name"] = [_("名称を%(n)d文字以内で入力してください。") % {"n": NAME_MAX_LENGTH}]
    if kind not in DisasterKind.values:
        errors["kind"] = [_("種別を選んでください。")]
    if not district_codes:
        errors["districts"] = [_("地区を1つ以上選んでください。")]
    if errors:
        raise InvalidInput(_("入力を確認してください。"), fields=errors)
    districts = selectors.districts_by_code(sorted(set(district_codes)))
    now = timezone.now()
    try:
        with transaction.atomic():
            disaster = Disaster(name=name, kind=kind, opened_at=now, opened_by=actor)
            disaster._history_user = actor
            disaster.save()
            DisasterDistrict.objects.bulk_create([DisasterDistrict(disaster=disaster, district=d) for d in districts])
            people = selectors.people_to_check([d.pk for d in districts])
            created = _checks_insert(disaster, people, now=now)
            _checks_history_insert(disaster, actor=actor, now=now)
            _announce(disaster, created)
    except IntegrityError as exc:
        raise Conflict(_("その地区には、すでに対応中の災害があります。")) from exc
    logger.info("disaster opened", extra={"disaster_id": disaster.pk, "checks": created})
    return disaster


def safety_check_update(*, actor: Any, check_id: int, status: str, note: str = "") -> SafetyCheck:
    """A new status with an optional note, historied with who. Entering `needs_rescue` alerts the
    disaster_prevention supervisors at once (once per check); the first `safe`/`evacuated` is kept as
    the time the person was confirmed."""
    check = selectors.safety_check_get(actor, check_id)  # 404 outside the user's reach
    if not policy.can_update_safety_check(actor, check):
        raise Forbidden(_("この安否確認は更新できません（災害対応が終了しているか、権限がありません）。"))
    if status not in CheckStatus.values:
        raise InvalidInput(_("入力を確認してください。"), fields={"status": [_("状況を選んでください。")]})
    note = (note or "").strip()
    if len(note) > NOTE_MAX_LENGTH:
        raise InvalidInput(
            _("入力を確認してください。"),
            fields={"note": [_("メモは%(n)d文字以内です。") % {"n": NOTE_MAX_LENGTH}]},
        )
    now = timezone.now()
    with transaction.atomic():
        check = SafetyCheck.objects.select_for_update().select_related("disaster", "district").get(pk=check.pk)
        if check.disaster.closed_at is not None:
            raise Forbidden(_("この災害対応は終了しています。"))
        check.status = status
        check.note = note
        check.updated_at = now
        check.updated_by = actor
        if status in CONFIRMED_STATUSES and check.confirmed_at is None:
            check.confirmed_at = now
        alert = status == CheckStatus.NEEDS_RESCUE and check.rescue_alerted_at is None
        if alert:
            check.rescue_alerted_at = now
        check._history_user = actor
        check.save()
        if alert:
            _alert_rescue(check)
    return check


def disaster_close(*, actor: Any, disaster_id: int) -> Disaster:
    """Close the event: the checks stay for staff and auditors; the connectors' reach ends at once."""
    disaster = selectors.disaster_get(actor, disaster_id)
    if not policy.can_open_disaster(actor):
        raise Forbidden(_("災害対応を終了できるのは防災の係長・班長とシステム管理者です。"))
    with transaction.atomic():
        disaster = Disaster.objects.select_for_update().get(pk=disaster.pk)
        if disaster.closed_at is not None:
            raise Conflict(_("この災害対応はすでに終了しています。"))
        disaster.closed_at = timezone.now()
        disaster.closed_by = actor
        disaster._history_user = actor
        disaster.save()
        DisasterDistrict.objects.filter(disaster=disaster).update(is_open=False)
    logger.info("disaster closed", extra={"disaster_id": disaster.pk})
    return disaster


# --- The checks of a new event, in bulk ------------------------------------------------------------


def _checks_insert(disaster: Disaster, people: list[tuple[int, int, dict | None]], *, now) -> int:
    """One INSERT of every check (PostgreSQL: from arrays, so 10,000 checks are one statement and no
    model objects; elsewhere Django's bulk_create). Returns how many."""
    supporters = [selectors.plan_supporters_text(plan) for _, _, plan in people]
    destinations = [str((plan or {}).get("evacuation_destination") or "")[:200] for _, _, plan in people]
    if connection.vendor != "postgresql":
        SafetyCheck.objects.bulk_create(
            [
                SafetyCheck(
                    disaster=disaster,
                    person_id=person_id,
                    district_id=district_id,
                    supporters=supporters[i],
                    destination=destinations[i],
                    updated_at=now,
                )
                for i, (person_id, district_id, _) in enumerate(people)
            ],
            batch_size=2000,
        )
        return len(people)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {SafetyCheck._meta.db_table}
                    (disaster_id, person_id, district_id, status, note, supporters, destination, updated_at)
                SELECT %s, x.person_id, x.district_id, %s, '', x.supporters, x.destination, %s
                FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::text[])
                     AS x(person_id, district_id, supporters, destination)""",  # noqa: S608 - identifiers from _meta
            [
                disaster.pk,
                CheckStatus.UNCONFIRMED.value,
                now,
                [p[0] for p in people],
                [p[1] for p in people],
                supporters,
                destinations,
            ],
        )
        return cursor.rowcount


def _checks_history_insert(disaster: Disaster, *, actor: Any, now) -> None:
    """The `+` history row of every new check, copied in one INSERT … SELECT (what simple-history's
    bulk_history_create writes, without a model object per row)."""
    history = SafetyCheck.history.model
    columns = [f.column for f in SafetyCheck._meta.concrete_fields]
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {history._meta.db_table}
                    ({", ".join(columns)}, history_date, history_change_reason, history_type, history_user_id)
                SELECT {", ".join(columns)}, %s, NULL, '+', %s
                FROM {SafetyCheck._meta.db_table} WHERE disaster_id = %s""",  # noqa: S608 - identifiers from _meta
            [now, actor.pk, disaster.pk],
        )


# --- Who is told ---------------------------------------------------------------------------------


def _staff_users() -> list[Any]:
    memberships = Membership.objects.filter(
        ended_at__isnull=True, department__isnull=False, role__in=sorted(STAFF_ROLES), user__is_active=True
    ).select_related("user")
    return list({m.user_id: m.user for m in memberships}.values())


def _disaster_supervisors() -> list[Any]:
    memberships = Membership.objects.filter(
        ended_at__isnull=True,
        department__code=DISASTER_DEPARTMENT_CODE,
        role=Role.SUPERVISOR,
        user__is_active=True,
    ).select_related("user")
    return [m.user for m in memberships]


def _announce(disaster: Disaster, checks: int) -> None:
    """Every staff member hears of the event (its name and the number of checks: no person)."""
    notifications_queue_many(
        [
            Outgoing(
                recipients=_staff_users(),
                kind="disaster_opened",
                title=_("災害対応を開始しました：%(name)s") % {"name": disaster.name},
                body=_("安否確認の対象 %(n)d 人。安否確認ボードを開いてください。") % {"n": checks},
            )
        ]
    )


def _alert_rescue(check: SafetyCheck) -> None:
    """`needs_rescue`: the disaster_prevention supervisors, at once (the district, never the name)."""
    notifications_queue_many(
        [
            Outgoing(
                recipients=_disaster_supervisors(),
                kind="safety_needs_rescue",
                title=_("救助が必要な方がいます（%(district)s）") % {"district": check.district.name},
                body=_("安否確認ボードで確認してください。"),
            )
        ]
    )
