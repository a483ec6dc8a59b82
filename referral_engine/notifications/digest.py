"""Each user's mail preference (issue 18, item 7) and the daily digest.

- `immediate`: every notification is mailed as it comes (delivery.py), as before.
- `off`: no mail at all, urgent or not; the notification is still in the app (its row is `skipped`).
- `daily_digest`: a notification waits (`digest`) for the morning task, `notifications.send_digests`
  (beat, 07:30 Asia/Tokyo), which sends each such user **one** mail a day listing the kinds, their
  counts and the links — no name, reason or note, like every mail (mail.py) — and marks each row it
  listed `digested`, so it is never listed twice. `MailDigest` (one row per user and day, unique)
  makes a re-run the same day, or two runs at once, send nothing more.
- **Urgent notifications go at once even to a digest reader** (`is_urgent`): a handoff marked urgent,
  an urgent community slip, an overdue deadline (L2) or はざま (L3), a rescue need and the opening of
  a disaster. A morning digest is for what can wait a night; these cannot.

The preference is read when a row is delivered, not when it is queued, so a change of mind applies to
every row not yet mailed: rows already waiting for a digest are sent with it unless the user has
turned mail off since (then they are skipped).
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import date, datetime

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from referral_engine.accounts.models import MailPreference
from referral_engine.cases.models import Case, Referral
from referral_engine.notifications.mail import kind_label
from referral_engine.notifications.models import MailDigest, Notification

logger = logging.getLogger(__name__)

# Kinds that never wait for the digest. `slip_submitted` is only queued for an urgent slip
# (cases/services/slips.py); `referral_requested` is urgent when the referral is (`is_urgent`).
URGENT_KINDS = frozenset({"escalation_l2", "escalation_l3", "slip_submitted", "safety_needs_rescue", "disaster_opened"})
# At most this many links in one digest; the rest are on the notifications page it links to.
DIGEST_LINKS = 30


def is_urgent(notification: Notification) -> bool:
    if notification.kind in URGENT_KINDS:
        return True
    if notification.kind == "referral_requested" and notification.referral_id:
        return Referral.objects.filter(pk=notification.referral_id, urgent=True).exists()
    return False


def mail_hold(notification: Notification, recipient) -> str | None:
    """The delivery state a pending row takes instead of being mailed now, or None to mail it now."""
    preference = recipient.mail_preference
    if preference == MailPreference.OFF:
        return Notification.Delivery.SKIPPED
    if preference == MailPreference.DAILY_DIGEST and not is_urgent(notification):
        return Notification.Delivery.DIGEST
    return None


def notifications_send_digests(*, now: datetime | None = None) -> int:
    """Send today's digest to every user with rows waiting; returns the number of mails sent. Each
    user in a transaction of their own: a failed mail leaves that user's rows waiting (the next
    morning's digest lists them) and does not stop the others."""
    now = now or timezone.now()
    day = timezone.localdate(now)
    recipient_ids = list(
        Notification.objects.filter(delivery=Notification.Delivery.DIGEST)
        .order_by("recipient_id")
        .values_list("recipient_id", flat=True)
        .distinct()
    )
    sent = 0
    connection = get_connection(fail_silently=False)
    try:
        for recipient_id in recipient_ids:
            try:
                sent += _digest_one(recipient_id, day=day, now=now, connection=connection)
            except Exception:  # one user's failed mail must not stop the others' digests
                logger.exception("notifications: digest for user %s failed; the rows wait", recipient_id)
                try:
                    connection.close()
                except Exception:  # noqa: BLE001, S110 - best effort
                    pass
    finally:
        try:
            connection.close()
        except Exception:  # noqa: BLE001, S110 - closing a broken SMTP connection is best effort
            pass
    return sent


@transaction.atomic
def _digest_one(recipient_id: int, *, day: date, now: datetime, connection) -> int:
    rows = list(
        Notification.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("recipient")
        .filter(recipient_id=recipient_id, delivery=Notification.Delivery.DIGEST, created_at__lte=now)
        .order_by("id")
    )
    if not rows:
        return 0
    recipient = rows[0].recipient
    if recipient.mail_preference == MailPreference.OFF or not recipient.is_active or not recipient.email:
        _mark(rows, Notification.Delivery.SKIPPED, delivered_at=None)
        return 0
    try:
        with transaction.atomic():  # the unique (recipient, day): today's digest went already
            MailDigest.objects.create(recipient_id=recipient_id, day=day, count=len(rows))
    except IntegrityError:
        return 0  # the rows wait for tomorrow's
    subject, body = digest_mail(rows, day=day)
    EmailMessage(
        subject=subject,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[recipient.email],
        headers={"Message-ID": f"<digest-{recipient_id}-{day:%Y%m%d}@{_domain()}>"},
        connection=connection,
    ).send()
    _mark(rows, Notification.Delivery.DIGESTED, delivered_at=timezone.now())
    return 1


def _mark(rows: list[Notification], state: str, *, delivered_at) -> None:
    for n in rows:
        n.delivery = state
        n.delivered_at = delivered_at
        n.next_attempt_at = None
        n.save(update_fields=["delivery", "delivered_at", "next_attempt_at"])


def _domain() -> str:
    return settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or "localhost"


def digest_mail(rows: list[Notification], *, day: date) -> tuple[str, str]:
    """Subject and body: the count of each kind and a link per case (its number only), never a name,
    a reason or any in-app text (tests/notifications: the same rule as a single mail)."""
    case_ids = {n.case_id for n in rows if n.case_id}
    numbers = dict(Case.objects.filter(pk__in=case_ids).values_list("pk", "number")) if case_ids else {}
    with translation.override(settings.LANGUAGE_CODE):
        counts = Counter(kind_label(n.kind) for n in rows)
        subject = _("通知のまとめ（%(d)s・%(n)d件）") % {"d": day.isoformat(), "n": len(rows)}
        lines = [_("前回のまとめ以降の通知です（%(n)d件）。") % {"n": len(rows)}, ""]
        lines += [_("%(label)s: %(n)d件") % {"label": label, "n": n} for label, n in counts.most_common()]
        links: dict[str, str] = {}
        for n in rows:
            url = settings.SITE_URL + n.get_absolute_url()
            number = numbers.get(n.case_id, "")
            links.setdefault(url, f"{number} {url}" if number else url)
        lines += ["", _("開く:")] + list(links.values())[:DIGEST_LINKS]
        if len(links) > DIGEST_LINKS:
            lines.append(_("ほか %(n)d件は通知の一覧にあります。") % {"n": len(links) - DIGEST_LINKS})
        lines += [
            "",
            _("通知の一覧:"),
            settings.SITE_URL + reverse("notifications"),
            _("内容はシステムで確認してください（閲覧は記録されます）。"),
            _("このメールには氏名・理由・メモなどの内容を載せていません。"),
            _("メールの受け取り方は「設定」で変えられます。"),
        ]
    return subject, "\n".join(lines) + "\n"
