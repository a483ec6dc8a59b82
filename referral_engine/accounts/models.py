from django.contrib.auth.models import AbstractUser, Group
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from referral_engine.accounts.roles import Role


class User(AbstractUser):
    display_name = models.CharField(_("表示名"), max_length=100, blank=True)
    is_system = models.BooleanField(_("システム利用者"), default=False)

    class Meta:
        verbose_name = _("利用者")
        verbose_name_plural = _("利用者")
        ordering = ["username"]

    def __str__(self) -> str:
        return self.display_name or self.username

    @property
    def label(self) -> str:
        return f"{self.display_name} ({self.username})" if self.display_name else self.username


class Department(models.Model):
    class Kind(models.TextChoices):
        CITY = "city", _("市の課")
        EXTERNAL = "external", _("外部団体")

    code = models.SlugField(_("コード"), max_length=50, unique=True)
    name_ja = models.CharField(_("名称"), max_length=100)
    name_en = models.CharField(_("英語名"), max_length=100)
    kind = models.CharField(_("種別"), max_length=10, choices=Kind.choices, default=Kind.CITY)
    # Members of a department belong to this group; guardian grants case access to it.
    group = models.OneToOneField(Group, on_delete=models.PROTECT, related_name="department")
    email = models.EmailField(_("代表メール"), blank=True)
    is_active = models.BooleanField(_("有効"), default=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("部署・団体")
        verbose_name_plural = _("部署・団体")
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name_ja

    @property
    def is_external(self) -> bool:
        return self.kind == self.Kind.EXTERNAL


class District(models.Model):
    code = models.SlugField(_("コード"), max_length=50, unique=True)
    name = models.CharField(_("地区名"), max_length=100)
    name_kana = models.CharField(_("フリガナ"), max_length=100, blank=True)
    group = models.OneToOneField(Group, on_delete=models.PROTECT, related_name="district")
    is_active = models.BooleanField(_("有効"), default=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("地区（地区社協）")
        verbose_name_plural = _("地区（地区社協）")
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A user's place in the organisation: a department (staff) or a district (connectors)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("役割"), max_length=20, choices=Role.choices)
    department = models.ForeignKey(
        Department, on_delete=models.PROTECT, null=True, blank=True, related_name="memberships"
    )
    district = models.ForeignKey(District, on_delete=models.PROTECT, null=True, blank=True, related_name="memberships")
    started_at = models.DateTimeField(_("開始"), auto_now_add=True)
    ended_at = models.DateTimeField(_("終了"), null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("所属")
        verbose_name_plural = _("所属")
        ordering = ["user_id", "-started_at"]
        constraints = [
            models.CheckConstraint(
                condition=~(Q(department__isnull=False) & Q(district__isnull=False)),
                name="membership_department_or_district",
            ),
        ]
        indexes = [models.Index(fields=["user", "ended_at"])]

    def __str__(self) -> str:
        where = self.department or self.district or "—"
        return f"{self.user} / {self.get_role_display()} / {where}"

    @property
    def is_active(self) -> bool:
        return self.ended_at is None
