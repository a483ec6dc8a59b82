"""What a notification's mail says (issue 22, item 4): the kind of event, the case number (R8-…, not
the id) and a link into the engine — nothing else. No person's name, no reason, no note, no free text
of any kind leaves over SMTP: the mail is built from `kind`, the case's number and
`Notification.get_absolute_url()`, never from the in-app `title` / `body` (which may quote a decline's
reason for the recipient). The reader opens the engine, where the access is logged.

A kind not listed below still mails safely, under a generic label.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from referral_engine.cases.models import Case
from referral_engine.notifications.models import Notification

KIND_LABELS = {
    "referral_requested": gettext_lazy("つなぎの依頼が届きました"),
    "referral_accept": gettext_lazy("つなぎが受理されました"),
    "referral_decline": gettext_lazy("つなぎが辞退されました"),
    "referral_return": gettext_lazy("つなぎが差し戻されました"),
    "referral_complete": gettext_lazy("つなぎ先が対応を完了しました"),
    "escalation_l1": gettext_lazy("【L1 注意】期限の半分が過ぎました"),
    "escalation_l2": gettext_lazy("【L2 期限超過】期限を過ぎました"),
    "escalation_l3": gettext_lazy("【L3 はざま】期限後も対応がありません"),
    "slip_submitted": gettext_lazy("つなぎ票が届きました"),
    "assignments_released": gettext_lazy("担当が外れました"),
    "disaster_opened": gettext_lazy("災害対応が始まりました（安否確認）"),
    "safety_needs_rescue": gettext_lazy("【安否確認】救助が必要な方がいます"),
    "watch_requested": gettext_lazy("地区に見守りの依頼が届きました"),
    "watch_report": gettext_lazy("見守りの報告が届きました"),
    "watch_silent": gettext_lazy("見守りの報告がしばらくありません"),
    "watch_handover": gettext_lazy("地区の見守りへの引き継ぎを依頼してください"),
    "plan_review": gettext_lazy("個別避難計画の見直し期日が近づいています"),
}
GENERIC_LABEL = gettext_lazy("新しい通知があります")


@dataclass(frozen=True)
class Mail:
    subject: str
    body: str


def kind_label(kind: str) -> str:
    return str(KIND_LABELS.get(kind, GENERIC_LABEL))


def notification_mails(rows: Iterable[Notification]) -> dict[int, Mail]:
    """The mail of each notification (by id), with the case numbers read in one query."""
    rows = list(rows)
    case_ids = {n.case_id for n in rows if n.case_id}
    numbers = dict(Case.objects.filter(pk__in=case_ids).values_list("pk", "number")) if case_ids else {}
    with translation.override(settings.LANGUAGE_CODE):
        return {n.pk: notification_mail(n, case_number=numbers.get(n.case_id, "")) for n in rows}


def notification_mail(notification: Notification, *, case_number: str) -> Mail:
    label = kind_label(notification.kind)
    link = settings.SITE_URL + notification.get_absolute_url()
    subject = f"{label}: {case_number}" if case_number else label
    lines = [label]
    if case_number:
        lines.append(_("ケース番号: %(n)s") % {"n": case_number})
    lines += [
        "",
        _("内容はシステムで確認してください（閲覧は記録されます）:"),
        link,
        "",
        _("このメールには氏名・理由・メモなどの内容を載せていません。"),
    ]
    return Mail(subject=subject, body="\n".join(lines) + "\n")
