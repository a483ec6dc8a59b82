from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from referral_engine.audit.records import HistoricalRecords
from referral_engine.bound_queries import BoundSaves


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
        FOLLOWUP = "followup", _("予定の期限")

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
    # A stall clock restarts at every touch and a stage clock at every entry into the stage: each
    # period of the same (object, rule) is a cycle, and each level fires at most once per cycle.
    cycle = models.PositiveIntegerField(_("周期"), default=1)
    level = models.PositiveSmallIntegerField(_("レベル"), choices=Level.choices)
    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="escalations")
    referral = models.ForeignKey(
        "cases.Referral", on_delete=models.PROTECT, null=True, blank=True, related_name="escalations"
    )
    department = models.ForeignKey(
        "accounts.Department", verbose_name=_("対象部署"), on_delete=models.PROTECT, related_name="escalations"
    )
    due_at = models.DateTimeField(_("期限"))
    fired_at = models.DateTimeField(_("発生日時"), default=timezone.now, db_index=True)
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
            models.UniqueConstraint(fields=["object_key", "rule", "cycle", "level"], name="escalation_once_per_level")
        ]
        indexes = [
            models.Index(fields=["state", "level"], name="escalation_open_idx", condition=~Q(state="resolved")),
            models.Index(fields=["department", "state"], name="escalation_dept_state_idx"),
            # The dashboard's list of open escalations, highest level and earliest due first.
            models.Index(fields=["-level", "due_at"], name="escalation_open_list_idx", condition=Q(state="open")),
        ]

    def __str__(self) -> str:
        return f"L{self.level} {self.rule} {self.object_key}"

    @property
    def is_open(self) -> bool:
        return self.state == self.State.OPEN


class Timer(BoundSaves, models.Model):
    """One running clock of a watched object (DESIGN §7): a handoff awaiting acceptance, a case's
    stall clock, a referral's stage clock. `next_fire_at` is the time of the next level to fire;
    the sweep claims rows whose `next_fire_at` has passed. Kept in step with the case and referral
    by `referral_engine.timers.services` in the same transaction as the change."""

    object_key = models.CharField(max_length=40)
    rule = models.CharField(_("ルール"), max_length=100)
    target = models.CharField(_("対象"), max_length=10, choices=EscalationPolicy.Target.choices)
    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="timers")
    referral = models.ForeignKey(
        "cases.Referral", on_delete=models.CASCADE, null=True, blank=True, related_name="timers"
    )
    # The department the clock runs against: the receiving department, or the case's lead department.
    department = models.ForeignKey("accounts.Department", on_delete=models.PROTECT, related_name="+")
    stage = models.CharField(_("段階"), max_length=50, blank=True)
    cycle = models.PositiveIntegerField(_("周期"), default=1)
    started_at = models.DateTimeField(_("起算日時"))
    # Stall clocks: the case's on_hold_seconds when the clock started (time on hold is excluded).
    hold_baseline_seconds = models.PositiveBigIntegerField(default=0)
    due_at = models.DateTimeField(_("期限"))
    l1_at = models.DateTimeField(_("L1 日時"), null=True, blank=True)
    l3_at = models.DateTimeField(_("L3 日時"), null=True, blank=True)
    fired_level = models.PositiveSmallIntegerField(_("発生済みレベル"), default=0)
    next_fire_at = models.DateTimeField(_("次回発生"), null=True, blank=True)
    is_open = models.BooleanField(_("計時中"), default=True)
    closed_at = models.DateTimeField(_("終了日時"), null=True, blank=True)
    created_at = models.DateTimeField(_("作成日時"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新日時"), auto_now=True)
    # Every start, recomputation (calendar or rule edited), firing and stop, with its reason.
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        verbose_name = _("期限タイマー")
        verbose_name_plural = _("期限タイマー")
        ordering = ["next_fire_at", "id"]
        constraints = [models.UniqueConstraint(fields=["object_key", "rule"], name="timer_one_per_object_rule")]
        indexes = [
            models.Index(
                fields=["next_fire_at"], name="timer_due_idx", condition=Q(is_open=True, next_fire_at__isnull=False)
            ),
            models.Index(fields=["case"], name="timer_open_case_idx", condition=Q(is_open=True)),
        ]

    def __str__(self) -> str:
        return f"{self.rule} {self.object_key} #{self.cycle}"

    def level_time(self, level: int):
        return {1: self.l1_at, 2: self.due_at, 3: self.l3_at}.get(level)


class SweepStatus(models.Model):
    """One row: the last successful sweep, for /healthz and the admin."""

    name = models.CharField(max_length=20, primary_key=True, default="timers")
    last_success_at = models.DateTimeField(_("最終成功"), null=True, blank=True)
    last_duration_ms = models.PositiveIntegerField(default=0)
    last_fired = models.PositiveIntegerField(default=0)
    runs = models.PositiveBigIntegerField(_("成功回数"), default=0)

    class Meta:
        verbose_name = _("スイープ状況")
        verbose_name_plural = _("スイープ状況")

    def __str__(self) -> str:
        return f"{self.name} {self.last_success_at}"
