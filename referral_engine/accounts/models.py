from django.contrib.auth.models import AbstractUser, Group
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from referral_engine.accounts.roles import Role
from referral_engine.audit.records import HistoricalRecords


class MailPreference(models.TextChoices):
    """How a user's notifications reach their mailbox (issue 18, item 7; docs/timers.md "Mail preference")."""

    IMMEDIATE = "immediate", _("すぐに送る")
    DAILY_DIGEST = "daily_digest", _("1日1回まとめて送る（毎朝7時30分。急ぎの通知はすぐに送ります）")
    OFF = "off", _("送らない（画面の通知だけ）")


class DateStyle(models.TextChoices):
    """How dates are shown on every page (issue 18, item 8; the `wareki` filter)."""

    WAREKI = "wareki", _("和暦と西暦（令和8年12月3日 (2026)）")
    WESTERN = "western", _("西暦のみ（2026-12-03）")


class User(AbstractUser):
    display_name = models.CharField(_("表示名"), max_length=100, blank=True)
    is_system = models.BooleanField(_("システム利用者"), default=False)
    # The user's own settings (/accounts/settings/, /api/v1/me/preferences/). Kept on the user row, which
    # every request loads anyway, so showing a date in the user's style costs no query.
    mail_preference = models.CharField(
        _("通知メール"),
        max_length=20,
        choices=MailPreference.choices,
        default=MailPreference.IMMEDIATE,
        db_default=MailPreference.IMMEDIATE,
    )
    date_style = models.CharField(
        _("日付の表示"),
        max_length=10,
        choices=DateStyle.choices,
        default=DateStyle.WAREKI,
        db_default=DateStyle.WAREKI,
    )

    class Meta:
        verbose_name = _("利用者")
        verbose_name_plural = _("利用者")
        ordering = ["username"]

    def __str__(self) -> str:
        return self.display_name or self.username

    @property
    def label(self) -> str:
        return f"{self.display_name} ({self.username})" if self.display_name else self.username

    def check_password(self, raw_password: str) -> bool:
        # Django re-hashes a correct password whose hasher settings changed, and saves it: the same
        # password, so the user's API tokens are carried over (accounts.tokens), not revoked.
        self._password_rehash = True
        try:
            return super().check_password(raw_password)
        finally:
            self._password_rehash = False

    async def acheck_password(self, raw_password: str) -> bool:
        self._password_rehash = True
        try:
            return await super().acheck_password(raw_password)
        finally:
            self._password_rehash = False


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


class ApiToken(models.Model):
    """An API token (`Authorization: Token <key>`), stored as the SHA-256 of its key: the key itself
    is shown once, when issued. The key is 40 random URL-safe characters, so a plain digest is as good
    as a slow hash and lets the lookup use an index.

    `password_fingerprint` is a keyed digest of the user's password hash when the token was issued:
    a token whose fingerprint no longer matches is refused, so a password changed by any path (the
    admin, the password page, `changepassword`, a shell, even an `update()`) ends every token at once;
    `referral_engine.accounts.tokens` also marks them revoked when the User row is saved."""

    class Revoked(models.TextChoices):
        PASSWORD_CHANGED = "password_changed", _("パスワード変更")
        LOGOUT = "logout", _("ログアウト")
        USER = "user", _("本人が取り消し")
        ADMIN = "admin", _("管理者が取り消し")
        REFRESHED = "refreshed", _("更新（新しいトークンに交換）")
        SECOND_FACTOR = "second_factor", _("2段階認証の設定")

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens", verbose_name=_("利用者"))
    key_digest = models.CharField(_("キーのハッシュ"), max_length=64, unique=True, editable=False)
    prefix = models.CharField(_("キーの先頭"), max_length=8, editable=False)
    password_fingerprint = models.CharField(max_length=64, editable=False)
    # A token issued from a web session (the token page) ends when that session logs out.
    session_digest = models.CharField(max_length=64, blank=True, default="", editable=False, db_index=True)
    created_at = models.DateTimeField(_("発行"), auto_now_add=True)
    expires_at = models.DateTimeField(_("有効期限"))
    last_used_at = models.DateTimeField(_("最終利用"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("取消日時"), null=True, blank=True)
    revoked_reason = models.CharField(_("取消の理由"), max_length=20, choices=Revoked.choices, blank=True)

    class Meta:
        verbose_name = _("APIトークン")
        verbose_name_plural = _("APIトークン")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "revoked_at"], name="api_token_user_live")]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"
