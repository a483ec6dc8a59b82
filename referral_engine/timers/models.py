from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords


class ClosedDay(models.Model):
    """A day the city offices are closed besides Saturdays and Sundays (holidays, 12/29–1/3, one-offs)."""

    class Source(models.TextChoices):
        HOLIDAY = "holiday", _("国民の祝日")
        YEAR_END = "year_end", _("年末年始")
        MANUAL = "manual", _("臨時")

    date = models.DateField(_("日付"), unique=True)
    name = models.CharField(_("名称"), max_length=100)
    source = models.CharField(_("種別"), max_length=10, choices=Source.choices, default=Source.MANUAL)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("閉庁日")
        verbose_name_plural = _("閉庁日")
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date} {self.name}"


class EscalationPolicy(models.Model):
    """An editable deadline rule (DESIGN §7). `rule` codes: `handoff`, `handoff_urgent`,
    `stall_<risk>`, and `stage:<department>:<timer>` for department workflow timers."""

    class Target(models.TextChoices):
        REFERRAL = "referral", _("つなぎの受理")
        CASE = "case", _("ケースの停滞")
        STAGE = "stage", _("部署内の段階")

    rule = models.CharField(_("ルール"), max_length=100, unique=True)
    name = models.CharField(_("名称"), max_length=200)
    target = models.CharField(_("対象"), max_length=10, choices=Target.choices)
    office_days = models.PositiveIntegerField(_("開庁日数"), default=0)
    hours = models.PositiveIntegerField(_("時間（暦）"), default=0)
    calendar_days = models.PositiveIntegerField(_("日数（暦）"), default=0)
    l1_percent = models.PositiveSmallIntegerField(_("L1（期限に対する割合 %）"), default=50)
    l3_office_days = models.PositiveSmallIntegerField(_("L3（期限後の開庁日数）"), default=2)
    is_active = models.BooleanField(_("有効"), default=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("エスカレーション規則")
        verbose_name_plural = _("エスカレーション規則")
        ordering = ["target", "rule"]

    def __str__(self) -> str:
        return self.name


class Escalation(models.Model):
    class Level(models.IntegerChoices):
        L1 = 1, _("L1 注意")
        L2 = 2, _("L2 期限超過")
        L3 = 3, _("L3 はざま")

    class State(models.TextChoices):
        OPEN = "open", _("未対応")
        ACKNOWLEDGED = "acknowledged", _("確認済み")
        RESOLVED = "resolved", _("解消")

    # "case:12", "referral:34": one key per watched object, so the unique constraint holds with nulls.
    object_key = models.CharField(max_length=40)
    rule = models.CharField(_("ルール"), max_length=100)
    level = models.PositiveSmallIntegerField(_("レベル"), choices=Level.choices)
    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="escalations")
    referral = models.ForeignKey(
        "cases.Referral", on_delete=models.PROTECT, null=True, blank=True, related_name="escalations"
    )
    department = models.ForeignKey(
        "accounts.Department", verbose_name=_("対象部署"), on_delete=models.PROTECT, related_name="escalations"
    )
    due_at = models.DateTimeField(_("期限"))
    fired_at = models.DateTimeField(_("発生日時"), auto_now_add=True)
    state = models.CharField(_("状態"), max_length=15, choices=State.choices, default=State.OPEN)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    acknowledged_at = models.DateTimeField(_("確認日時"), null=True, blank=True)
    note = models.TextField(_("確認メモ"), blank=True)
    resolved_at = models.DateTimeField(_("解消日時"), null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("エスカレーション")
        verbose_name_plural = _("エスカレーション")
        ordering = ["-fired_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["object_key", "rule", "level"], name="escalation_once_per_level")
        ]
        indexes = [models.Index(fields=["state", "level"], name="escalation_open_idx", condition=~Q(state="resolved"))]

    def __str__(self) -> str:
        return f"L{self.level} {self.rule} {self.object_key}"
