"""A report file made in the background (an Excel workbook, or a CSV asked for on the page), its
progress for the page to poll, and who may download it (its owner only, until it expires)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class ReportExport(models.Model):
    class State(models.TextChoices):
        QUEUED = "queued", _("待機中")
        RUNNING = "running", _("作成中")
        DONE = "done", _("完了")
        FAILED = "failed", _("失敗")

    class Format(models.TextChoices):
        CSV = "csv", _("CSV")
        XLSX = "xlsx", _("Excel")

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("作成者"), on_delete=models.CASCADE, related_name="report_exports"
    )
    fiscal_year = models.PositiveIntegerField(_("年度"))
    format = models.CharField(_("形式"), max_length=10, choices=Format.choices)
    publication = models.BooleanField(_("公表用（少数秘匿）"), default=False)
    compare = models.BooleanField(_("前年度との比較"), default=True)
    state = models.CharField(_("状態"), max_length=10, choices=State.choices, default=State.QUEUED)
    progress = models.PositiveSmallIntegerField(_("進捗（%）"), default=0)
    file = models.FileField(_("ファイル"), upload_to="report-exports/", blank=True)
    filename = models.CharField(_("ファイル名"), max_length=200, blank=True)
    error = models.TextField(_("エラー"), blank=True)
    created_at = models.DateTimeField(_("依頼日時"), auto_now_add=True)
    started_at = models.DateTimeField(_("開始日時"), null=True, blank=True)
    finished_at = models.DateTimeField(_("完了日時"), null=True, blank=True)
    expires_at = models.DateTimeField(_("ダウンロード期限"), null=True, blank=True, db_index=True)

    class Meta:
        verbose_name = _("報告の出力")
        verbose_name_plural = _("報告の出力")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["owner", "-created_at"])]
        constraints = [
            models.CheckConstraint(condition=Q(progress__lte=100), name="report_export_progress_max_100"),
        ]

    def __str__(self) -> str:
        return f"FY{self.fiscal_year} {self.format} ({self.get_state_display()})"

    @property
    def is_finished(self) -> bool:
        return self.state in (self.State.DONE, self.State.FAILED)
