from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

# What a notification about no case opens, by kind (a URL name); any other kind opens the inbox.
LINK_WITHOUT_CASE = {
    "assignments_released": "case_list",
    "disaster_opened": "disasters:index",
    "safety_needs_rescue": "disasters:index",
    "watch_requested": "home",
}


class Notification(models.Model):
    """Outbox and in-app inbox in one row: written in the same transaction as the change that
    caused it; a Celery task delivers it by email. `title` and `body` are the in-app texts, shown
    only to the recipient; the mail is built from `kind`, the case number and the link alone
    (notifications/mail.py), so no name, reason or note ever goes out over SMTP."""

    class Delivery(models.TextChoices):
        PENDING = "pending", _("未送信")
        SENT = "sent", _("送信済み")
        FAILED = "failed", _("失敗")
        SKIPPED = "skipped", _("送信不要")
        # The recipient chose the daily digest: the row waits for the morning's mail (delivery.py).
        DIGEST = "digest", _("まとめ送信待ち")
        DIGESTED = "digested", _("まとめて送信済み")

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("宛先"), on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(_("種別"), max_length=40)
    title = models.CharField(_("件名"), max_length=200)
    body = models.TextField(_("本文"), blank=True)
    case_id = models.BigIntegerField(null=True, blank=True)
    referral_id = models.BigIntegerField(null=True, blank=True)
    escalation_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(_("作成日時"), auto_now_add=True, db_index=True)
    read_at = models.DateTimeField(_("既読日時"), null=True, blank=True)
    delivery = models.CharField(_("配信状態"), max_length=10, choices=Delivery.choices, default=Delivery.PENDING)
    attempts = models.PositiveSmallIntegerField(_("試行回数"), default=0)
    next_attempt_at = models.DateTimeField(_("次回試行"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("送信日時"), null=True, blank=True)
    last_error = models.TextField(_("最後のエラー"), blank=True)

    class Meta:
        verbose_name = _("通知")
        verbose_name_plural = _("通知")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["recipient", "read_at"]),
            # The header's unread badge on every page: a count of this user's entries only.
            models.Index(fields=["recipient"], name="notification_unread_idx", condition=Q(read_at__isnull=True)),
            models.Index(fields=["next_attempt_at"], name="notification_outbox_idx", condition=Q(delivery="pending")),
            # The morning digest reads only the rows waiting for it, per recipient.
            models.Index(fields=["recipient", "id"], name="notification_digest_idx", condition=Q(delivery="digest")),
        ]

    def __str__(self) -> str:
        return f"{self.recipient} {self.title}"

    def get_absolute_url(self) -> str:
        """Where "open" leads, built when the notification is shown or mailed (the row keeps what it
        is about, not a URL): the case's page, or for a notification about no case the page of its
        kind (LINK_WITHOUT_CASE), else the inbox."""
        if self.case_id:
            return reverse("case_detail", args=[self.case_id])
        return reverse(LINK_WITHOUT_CASE.get(self.kind, "notifications"))


class MailDigest(models.Model):
    """One daily digest mail sent to one user: at most one per user and day (the unique constraint),
    so a re-run of the morning task, or two at once, sends nothing twice. `count` is how many
    notifications it listed (they are marked `digested`)."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("宛先"), on_delete=models.CASCADE, related_name="mail_digests"
    )
    day = models.DateField(_("日付"))
    count = models.PositiveIntegerField(_("件数"), default=0)
    sent_at = models.DateTimeField(_("送信日時"), auto_now_add=True)

    class Meta:
        verbose_name = _("まとめメール")
        verbose_name_plural = _("まとめメール")
        ordering = ["-day", "recipient_id"]
        constraints = [models.UniqueConstraint(fields=["recipient", "day"], name="mail_digest_once_a_day")]

    def __str__(self) -> str:
        return f"{self.recipient} {self.day}"
