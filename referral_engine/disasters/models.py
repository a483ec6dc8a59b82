"""Disaster mode (DESIGN §11.5): an event opened for some districts, and one safety check (安否確認) per
person who needs help to evacuate (避難行動要支援者) in those districts. The basis is 災害対策基本法
§49-11: during a disaster the register goes to the supporters without consent, for as long as the event
is open (access/policy/disasters.py)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from referral_engine.accounts.models import District
from referral_engine.audit.records import HistoricalRecords


class DisasterKind(models.TextChoices):
    EARTHQUAKE = "earthquake", _("地震")
    TSUNAMI = "tsunami", _("津波")
    TYPHOON = "typhoon", _("台風・大雨")
    FLOOD = "flood", _("洪水・浸水")
    LANDSLIDE = "landslide", _("土砂災害")
    FIRE = "fire", _("火災")
    OTHER = "other", _("その他")


class CheckStatus(models.TextChoices):
    UNCONFIRMED = "unconfirmed", _("未確認")
    CHECKING = "checking", _("確認中")
    SAFE = "safe", _("無事")
    EVACUATED = "evacuated", _("避難済み")
    NEEDS_HELP = "needs_help", _("支援が必要")
    NEEDS_RESCUE = "needs_rescue", _("救助が必要")
    NOT_FOUND = "not_found", _("所在不明")
    DECEASED = "deceased", _("死亡")


# The board lists these first (what still needs someone), then the settled ones.
STATUS_ORDER = [
    CheckStatus.NEEDS_RESCUE,
    CheckStatus.UNCONFIRMED,
    CheckStatus.NOT_FOUND,
    CheckStatus.NEEDS_HELP,
    CheckStatus.CHECKING,
    CheckStatus.EVACUATED,
    CheckStatus.SAFE,
    CheckStatus.DECEASED,
]
# A person counts as confirmed (the summary's "time to confirm") at the first of these.
CONFIRMED_STATUSES = (CheckStatus.SAFE, CheckStatus.EVACUATED)


class Disaster(models.Model):
    name = models.CharField(_("名称"), max_length=100)
    kind = models.CharField(_("種別"), max_length=20, choices=DisasterKind.choices)
    districts = models.ManyToManyField(District, through="DisasterDistrict", related_name="disasters")
    opened_at = models.DateTimeField(_("開始日時"))
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("開始した人"), on_delete=models.PROTECT, related_name="+"
    )
    closed_at = models.DateTimeField(_("終了日時"), null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("終了した人"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("災害")
        verbose_name_plural = _("災害")
        ordering = ["-opened_at", "-id"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_open(self) -> bool:
        return self.closed_at is None

    @cached_property
    def district_ids(self) -> frozenset[int]:
        """The districts under this event (read once per object: the policy asks it for each check)."""
        return frozenset(self.district_rows.values_list("district_id", flat=True))


class DisasterDistrict(models.Model):
    """A district under an event. At most one open event per district (the constraint is what makes two
    supervisors opening at once end with one event, not two sets of checks)."""

    disaster = models.ForeignKey(Disaster, on_delete=models.CASCADE, related_name="district_rows")
    district = models.ForeignKey(District, on_delete=models.PROTECT, related_name="+")
    is_open = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["disaster", "district"], name="disaster_district_once"),
            models.UniqueConstraint(
                fields=["district"], condition=Q(is_open=True), name="disaster_one_open_per_district"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.disaster_id} / {self.district_id}"


class SafetyCheck(models.Model):
    disaster = models.ForeignKey(Disaster, verbose_name=_("災害"), on_delete=models.PROTECT, related_name="checks")
    person = models.ForeignKey(
        "cases.Person", verbose_name=_("本人"), on_delete=models.PROTECT, related_name="safety_checks"
    )
    district = models.ForeignKey(District, verbose_name=_("地区"), on_delete=models.PROTECT, related_name="+")
    status = models.CharField(_("状況"), max_length=20, choices=CheckStatus.choices, default=CheckStatus.UNCONFIRMED)
    note = models.CharField(_("メモ"), max_length=500, blank=True)
    # What the supporters need at hand, copied from the evacuation plan when the event opened.
    supporters = models.CharField(_("避難支援者"), max_length=500, blank=True)
    destination = models.CharField(_("避難先"), max_length=200, blank=True)
    updated_at = models.DateTimeField(_("更新日時"))
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("更新した人"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    confirmed_at = models.DateTimeField(_("無事確認日時"), null=True, blank=True)
    rescue_alerted_at = models.DateTimeField(null=True, blank=True, editable=False)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("安否確認")
        verbose_name_plural = _("安否確認")
        ordering = ["district_id", "id"]
        constraints = [models.UniqueConstraint(fields=["disaster", "person"], name="safety_check_once")]
        indexes = [models.Index(fields=["disaster", "district", "status"])]

    def __str__(self) -> str:
        return f"{self.disaster} / {self.person_id}"
