from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class AccessLog(models.Model):
    """Every read of a case or person, every search, export and print. Append-only (a trigger on
    PostgreSQL refuses UPDATE/DELETE/TRUNCATE). Ids are plain integers so the log outlives rows."""

    class Action(models.TextChoices):
        VIEW = "view", _("閲覧")
        SEARCH = "search", _("検索")
        EXPORT = "export", _("出力")
        PRINT = "print", _("印刷")
        DENIED = "denied", _("拒否（見えない対象）")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("利用者"), on_delete=models.PROTECT, related_name="+"
    )
    username = models.CharField(_("ユーザー名"), max_length=150)
    role = models.CharField(_("役割"), max_length=100, blank=True)
    department = models.CharField(_("部署"), max_length=200, blank=True)
    at = models.DateTimeField(_("日時"), auto_now_add=True, db_index=True)
    action = models.CharField(_("操作"), max_length=10, choices=Action.choices)
    object_type = models.CharField(_("対象の種類"), max_length=30, blank=True)
    object_id = models.BigIntegerField(_("対象ID"), null=True, blank=True)
    case_id = models.BigIntegerField(_("ケースID"), null=True, blank=True, db_index=True)
    query = models.TextField(_("検索条件"), blank=True)
    path = models.CharField(_("パス"), max_length=500, blank=True)
    via = models.CharField(_("経路"), max_length=10, blank=True)  # ui / api / admin
    ip_address = models.GenericIPAddressField(_("接続元"), null=True, blank=True)

    class Meta:
        verbose_name = _("アクセスログ")
        verbose_name_plural = _("アクセスログ")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["user", "-at"]), models.Index(fields=["case_id", "-at"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.username} {self.action} {self.object_type}:{self.object_id}"
