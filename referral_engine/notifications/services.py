"""Queue notifications in the caller's transaction (the outbox); delivery is a Celery task.

A notification records what it is about (`case_id`, `referral_id`, `escalation_id`), never a URL:
the link is built where it is shown (`Notification.get_absolute_url`, for the inbox page and the
mail alike). Title and body are for the in-app inbox; the mail carries neither (notifications/mail.py)."""

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from referral_engine.notifications.models import Notification

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outgoing:
    """One message to some users: `notifications_queue_many` writes a row per (message, recipient)."""

    recipients: Iterable[Any]
    kind: str
    title: str
    body: str = ""
    case_id: int | None = None
    referral_id: int | None = None
    escalation_id: int | None = None


def notifications_queue(
    *,
    recipients: Iterable[Any],
    kind: str,
    title: str,
    body: str = "",
    case_id: int | None = None,
    referral_id: int | None = None,
    escalation_id: int | None = None,
) -> list[Notification]:
    """One message: a row per active recipient (each once), and a delivery kick after commit."""
    message = Outgoing(
        recipients=recipients,
        kind=kind,
        title=title,
        body=body,
        case_id=case_id,
        referral_id=referral_id,
        escalation_id=escalation_id,
    )
    pairs = _recipient_pairs([message])
    created = _bulk_create([message], pairs) if pairs else []
    _kick_if_mailed(pairs)
    return created


def notifications_queue_many(messages: Iterable[Outgoing]) -> int:
    """Many messages at once (the sweep's batch), with the rows `notifications_queue` writes for each
    and one delivery kick. Returns the number of rows written.

    On PostgreSQL the (message, recipient) pairs are expanded by the database in one `INSERT …
    SELECT`: each message goes in once, its recipients as a list of ids, and no model instance is built
    per row (that was most of a sweep's time when an escalation told 57 people). Elsewhere one
    `bulk_create`. `tests/notifications` checks that both write what `notifications_queue` writes."""
    messages = list(messages)
    pairs = _recipient_pairs(messages)
    if not pairs:
        return 0
    if connection.vendor == "postgresql":
        _insert_expanded(messages, pairs)
    else:
        _bulk_create(messages, pairs)
    _kick_if_mailed(pairs)
    return len(pairs)


def _recipient_pairs(messages: list[Outgoing]) -> list[tuple[int, Any]]:
    """(message index, recipient) for each active recipient, once per message."""
    pairs = []
    for n, message in enumerate(messages):
        seen: set[int] = set()
        for user in message.recipients:
            if user is None or user.pk in seen or not user.is_active:
                continue
            seen.add(user.pk)
            pairs.append((n, user))
    return pairs


def _kick_if_mailed(pairs: list[tuple[int, Any]]) -> None:
    if any(user.email for _n, user in pairs) and not _kick_registered():
        transaction.on_commit(kick_delivery)


def _row(message: Outgoing, user: Any, now) -> Notification:
    return Notification(
        recipient=user,
        kind=message.kind,
        title=message.title[:200],
        body=message.body,
        case_id=message.case_id,
        referral_id=message.referral_id,
        escalation_id=message.escalation_id,
        next_attempt_at=now,
        delivery=Notification.Delivery.PENDING if user.email else Notification.Delivery.SKIPPED,
    )


def _bulk_create(messages: list[Outgoing], pairs: list[tuple[int, Any]]) -> list[Notification]:
    now = timezone.now()
    return Notification.objects.bulk_create([_row(messages[n], user, now) for n, user in pairs])


def _insert_expanded(messages: list[Outgoing], pairs: list[tuple[int, Any]]) -> None:
    """The rows `_row` builds, made by PostgreSQL from one row per message and the recipients' ids."""
    now = timezone.now()
    q = connection.ops.quote_name
    sql = (
        f"INSERT INTO {q(Notification._meta.db_table)} "  # noqa: S608 - the model's table name
        "(recipient_id, kind, title, body, case_id, referral_id, escalation_id, created_at, read_at, "
        "delivery, attempts, next_attempt_at, delivered_at, last_error) "
        "SELECT r.recipient_id, m.kind, m.title, m.body, m.case_id, m.referral_id, m.escalation_id, "
        "%s, NULL, CASE WHEN r.mailed = 1 THEN %s ELSE %s END, 0, %s, NULL, '' "
        "FROM unnest(%s::text[], %s::text[], %s::text[], %s::bigint[], %s::bigint[], %s::bigint[]) "
        "WITH ORDINALITY AS m(kind, title, body, case_id, referral_id, escalation_id, n) "
        "JOIN unnest(string_to_array(%s, ',')::bigint[], string_to_array(%s, ',')::bigint[], "
        "string_to_array(%s, ',')::int[]) WITH ORDINALITY AS r(message, recipient_id, mailed, n) "
        "ON r.message = m.n ORDER BY r.n"
    )
    params = [
        now,
        Notification.Delivery.PENDING.value,
        Notification.Delivery.SKIPPED.value,
        now,
        [m.kind for m in messages],
        [m.title[:200] for m in messages],
        [m.body for m in messages],
        [m.case_id for m in messages],
        [m.referral_id for m in messages],
        [m.escalation_id for m in messages],
        ",".join(str(n + 1) for n, _user in pairs),  # WITH ORDINALITY counts from 1
        ",".join(str(user.pk) for _n, user in pairs),
        ",".join("1" if user.email else "0" for _n, user in pairs),
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _kick_registered() -> bool:
    """One delivery task per transaction, however many notifications it queues (a sweep queues
    hundreds). Django drops a rolled-back savepoint's callbacks from this list, so it stays exact."""
    connection = transaction.get_connection()
    return any(entry[1] is kick_delivery for entry in getattr(connection, "run_on_commit", ()))


def kick_delivery() -> None:
    from referral_engine.notifications.tasks import deliver_pending

    try:
        deliver_pending.delay()
    except Exception:  # broker down: the beat schedule retries from the outbox
        logger.warning("notifications: could not kick delivery; beat will deliver from the outbox", exc_info=True)


def notifications_mark_read(*, user: Any, notification_ids: Iterable[int] | None = None) -> int:
    qs = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if notification_ids is not None:
        qs = qs.filter(pk__in=list(notification_ids))
    return qs.update(read_at=timezone.now())
