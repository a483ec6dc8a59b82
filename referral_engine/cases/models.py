"""Persons, cases, referrals and their records. Models stay data: transitions only change memory;
every save goes through the services in the `referral_engine.cases.services` package."""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django_fsm import RETURN_VALUE, ConcurrentTransitionMixin, FSMField, transition

from referral_engine.access import policy
from referral_engine.accounts.models import Department, District
from referral_engine.audit.records import HistoricalRecords
from referral_engine.bound_queries import BoundSaves
from referral_engine.cases.choices import (
    ActivityKind,
    Basis,
    CaseState,
    Channel,
    ClosureReason,
    ConsentMethod,
    EventKind,
    FollowUpState,
    HouseholdRelation,
    ReferralState,
    Risk,
    Sex,
    SlipTriage,
    SlipUrgency,
    WatchOutcome,
    WatchState,
)
from referral_engine.cases.inputs import FollowUpInputs, PersonInputs, SlipInputs, WatchInputs

HOLDABLE_STATES = [CaseState.ASSESSING, CaseState.IN_SUPPORT, CaseState.MONITORING]
OPEN_CASE_STATES = [s for s in CaseState.values if s != CaseState.CLOSED]


class TimestampedModel(BoundSaves, models.Model):
    created_at = models.DateTimeField(_("作成日時"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("更新日時"), auto_now=True)

    class Meta:
        abstract = True


class Person(TimestampedModel):
    family_name = models.CharField(_("氏"), max_length=PersonInputs.family_name.max_length)
    given_name = models.CharField(_("名"), max_length=PersonInputs.given_name.max_length, blank=True)
    family_name_kana = models.CharField(
        _("氏（フリガナ）"), max_length=PersonInputs.family_name_kana.max_length, blank=True
    )
    given_name_kana = models.CharField(
        _("名（フリガナ）"), max_length=PersonInputs.given_name_kana.max_length, blank=True
    )
    birth_date = models.DateField(_("生年月日"), null=True, blank=True)
    sex = models.CharField(_("性別"), max_length=10, choices=Sex.choices, blank=True)
    address = models.CharField(_("住所"), max_length=PersonInputs.address.max_length, blank=True)
    district = models.ForeignKey(
        District, verbose_name=_("地区"), on_delete=models.PROTECT, null=True, blank=True, related_name="persons"
    )
    phone = models.CharField(_("電話番号"), max_length=PersonInputs.phone.max_length, blank=True)
    flags = models.JSONField(_("特記事項"), default=list, blank=True)
    # Normalised keys for duplicate detection (referral_engine.cases.normalize), kept in step by services.
    kana_key = models.CharField(max_length=200, blank=True, db_index=True, editable=False)
    name_key = models.CharField(max_length=200, blank=True, db_index=True, editable=False)
    phone_key = models.CharField(max_length=30, blank=True, db_index=True, editable=False)
    # Set once when this record is merged into another (issue 17): its cases, consents and household
    # link moved there; the row and its history stay for the record.
    # No database constraint or plain index: the person table is large, and adding either would lock it
    # (tests/test_migration_safety.py); a partial index is built concurrently instead.
    merged_into = models.ForeignKey(
        "self",
        verbose_name=_("統合先"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="merged_from",
        db_index=False,
        db_constraint=False,
    )
    history = HistoricalRecords(excluded_fields=["updated_at"], no_db_index=["merged_into"])

    class Meta:
        verbose_name = _("本人")
        verbose_name_plural = _("本人")
        ordering = ["family_name_kana", "given_name_kana", "id"]
        indexes = [
            models.Index(fields=["kana_key", "birth_date"]),
            models.Index(fields=["merged_into"], name="person_merged_idx", condition=Q(merged_into__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.family_name} {self.given_name}".strip()

    @property
    def full_name(self) -> str:
        return str(self)

    @property
    def full_name_kana(self) -> str:
        return f"{self.family_name_kana} {self.given_name_kana}".strip()


class CaseNumberSequence(models.Model):
    """One row per fiscal year, locked while a number is taken, so numbers never repeat."""

    fiscal_year = models.PositiveIntegerField(primary_key=True)
    last = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("ケース番号の採番")
        verbose_name_plural = _("ケース番号の採番")

    def __str__(self) -> str:
        return f"FY{self.fiscal_year}: {self.last}"


class Case(ConcurrentTransitionMixin, TimestampedModel):
    #: True on the case `case_open` returns for a resent Idempotency-Key: not a column, the answer
    #: (200, not 201) follows the service rather than a clock.
    replayed = False

    number = models.CharField(_("ケース番号"), max_length=20, unique=True)
    fiscal_year = models.PositiveIntegerField(_("年度"))
    person = models.ForeignKey(Person, verbose_name=_("本人"), on_delete=models.PROTECT, related_name="cases")
    # The person's two name keys, copied onto the case for the case-list search (cases.search): written
    # by the database only (the triggers of migration 0009, on PostgreSQL and SQLite alike: on insert,
    # on a change of person, and when the person's keys change), never by the app's Python (the load
    # generator, which loads with triggers off, writes them itself); not in the history.
    person_kana_key = models.CharField(max_length=200, blank=True, default="", db_default="", editable=False)
    person_name_key = models.CharField(max_length=200, blank=True, default="", db_default="", editable=False)
    intake_department = models.ForeignKey(
        Department, verbose_name=_("受付窓口"), on_delete=models.PROTECT, related_name="intake_cases"
    )
    channel = models.CharField(_("経路"), max_length=20, choices=Channel.choices, default=Channel.COUNTER)
    referrer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("紹介者"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="referred_cases",
    )
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("受付者"), on_delete=models.PROTECT, related_name="opened_cases"
    )
    summary = models.TextField(_("主訴"))
    needs = models.JSONField(_("相談分野"), default=list, blank=True)
    risk = models.CharField(_("リスク"), max_length=10, choices=Risk.choices, default=Risk.NORMAL)
    lead_department = models.ForeignKey(
        Department, verbose_name=_("主担当部署"), on_delete=models.PROTECT, related_name="lead_cases"
    )
    lead_worker = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("主担当者"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="lead_cases",
    )
    state = FSMField(_("状態"), default=CaseState.RECEIVED, choices=CaseState.choices, protected=True)
    closure_reason = models.CharField(_("終結理由"), max_length=30, choices=ClosureReason.choices, blank=True)
    closed_at = models.DateTimeField(_("終結日時"), null=True, blank=True)
    hold_started_at = models.DateTimeField(_("保留開始"), null=True, blank=True)
    held_from_state = models.CharField(max_length=20, blank=True, editable=False)
    on_hold_seconds = models.PositiveBigIntegerField(_("保留時間（秒）"), default=0)
    is_gap = models.BooleanField(_("はざま"), default=False)
    last_touched_at = models.DateTimeField(_("最終対応日時"), db_index=True)
    stall_due_at = models.DateTimeField(_("停滞期限"), null=True, blank=True)
    history = HistoricalRecords(excluded_fields=["updated_at", "person_kana_key", "person_name_key"])

    class Meta:
        verbose_name = _("ケース")
        verbose_name_plural = _("ケース")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["fiscal_year", "number"], name="case_number_per_year"),
            models.CheckConstraint(
                condition=~Q(state=CaseState.CLOSED) | ~Q(closure_reason=""), name="closed_case_has_reason"
            ),
        ]
        indexes = [
            models.Index(fields=["state", "risk"]),
            models.Index(fields=["lead_department", "state"]),
            models.Index(
                fields=["stall_due_at"], name="case_stall_open_idx", condition=~Q(state__in=["closed", "on_hold"])
            ),
            # The dashboard's per-department counts and はざま count read open cases from this index only.
            models.Index(
                fields=["lead_department"],
                include=["state", "stall_due_at", "is_gap"],
                name="case_open_lead_idx",
                condition=~Q(state="closed"),
            ),
            # The dashboard's はざま list and count: a few thousand of a million cases.
            models.Index(
                fields=["-last_touched_at", "-id"],
                name="case_gap_open_idx",
                condition=Q(is_gap=True) & ~Q(state="closed"),
            ),
            # My work's led cases, in deadline order (and the setbacks of cases I lead): a worker's open ones.
            models.Index(
                fields=["lead_worker", "stall_due_at"], name="case_led_open_idx", condition=~Q(state="closed")
            ),
        ]
        permissions = [
            ("view_case_full", "View the whole case, sensitive records included"),
            ("view_case_limited", "View the case summary and the referral reason"),
            ("work_case", "Work the case: notes, transitions, referrals"),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def is_open(self) -> bool:
        return self.state != CaseState.CLOSED

    @property
    def on_hold_duration(self) -> timedelta:
        return timedelta(seconds=self.on_hold_seconds)

    # --- Case FSM (DESIGN §3.1). In memory only; services save. ---------------------------------
    @transition(field=state, source=CaseState.RECEIVED, target=CaseState.ASSESSING, permission=policy.can_work_case)
    def start_assessment(self, *, at=None, **kwargs) -> None:
        pass

    @transition(field=state, source=CaseState.ASSESSING, target=CaseState.IN_SUPPORT, permission=policy.can_work_case)
    def start_support(self, *, at=None, **kwargs) -> None:
        pass

    @transition(field=state, source=CaseState.IN_SUPPORT, target=CaseState.MONITORING, permission=policy.can_work_case)
    def start_monitoring(self, *, at=None, **kwargs) -> None:
        pass

    @transition(field=state, source=HOLDABLE_STATES, target=CaseState.ON_HOLD, permission=policy.can_work_case)
    def hold(self, *, at, **kwargs) -> None:
        self.held_from_state = self.state
        self.hold_started_at = at

    @transition(
        field=state,
        source=CaseState.ON_HOLD,
        target=RETURN_VALUE(*HOLDABLE_STATES),
        permission=policy.can_work_case,
    )
    def resume(self, *, at, **kwargs) -> str:
        """Back to the state the case was held from; the time on hold is added up."""
        back_to = self.held_from_state or CaseState.ASSESSING
        if self.hold_started_at:
            self.on_hold_seconds += max(0, int((at - self.hold_started_at).total_seconds()))
        self.hold_started_at = None
        self.held_from_state = ""
        return back_to

    @transition(
        field=state,
        source=OPEN_CASE_STATES,
        target=CaseState.CLOSED,
        permission=policy.can_close_case,
    )
    def close(self, *, at, closure_reason: str, **kwargs) -> None:
        if self.hold_started_at:
            self.on_hold_seconds += max(0, int((at - self.hold_started_at).total_seconds()))
            self.hold_started_at = None
        self.closure_reason = closure_reason
        self.closed_at = at

    @transition(field=state, source=CaseState.CLOSED, target=CaseState.ASSESSING, permission=policy.can_close_case)
    def reopen(self, *, at=None, **kwargs) -> None:
        self.closure_reason = ""
        self.closed_at = None
        self.held_from_state = ""


class Consent(TimestampedModel):
    """本人同意: which recipients (department codes) and purposes; withdrawal stops new disclosures."""

    person = models.ForeignKey(Person, verbose_name=_("本人"), on_delete=models.PROTECT, related_name="consents")
    case = models.ForeignKey(
        Case, verbose_name=_("ケース"), on_delete=models.PROTECT, null=True, blank=True, related_name="consents"
    )
    recipients = models.JSONField(_("提供先（部署コード）"), default=list)
    purposes = models.TextField(_("利用目的"))
    method = models.CharField(_("方法"), max_length=10, choices=ConsentMethod.choices)
    obtained_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("取得者"), on_delete=models.PROTECT, related_name="+"
    )
    obtained_at = models.DateTimeField(_("取得日時"))
    withdrawn_at = models.DateTimeField(_("撤回日時"), null=True, blank=True)
    withdrawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("撤回の記録者"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    note = models.TextField(_("備考"), blank=True)
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        verbose_name = _("同意")
        verbose_name_plural = _("同意")
        ordering = ["-obtained_at", "-id"]

    def __str__(self) -> str:
        return f"{self.person} / {', '.join(self.recipients)}"

    @property
    def is_active(self) -> bool:
        return self.withdrawn_at is None

    def covers(self, department_code: str) -> bool:
        """The consent's scope includes this recipient (withdrawn or not: see `is_active`)."""
        return department_code in self.recipients


class Referral(ConcurrentTransitionMixin, TimestampedModel):
    """One department's handling of a case: the handoff FSM (`state`) and the department's own
    workflow (`stage`, declared by a module in `workflows/` and found through the registry)."""

    case = models.ForeignKey(Case, verbose_name=_("ケース"), on_delete=models.PROTECT, related_name="referrals")
    from_department = models.ForeignKey(
        Department, verbose_name=_("依頼元"), on_delete=models.PROTECT, related_name="referrals_sent"
    )
    to_department = models.ForeignKey(
        Department, verbose_name=_("依頼先"), on_delete=models.PROTECT, related_name="referrals_received"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("依頼者"), on_delete=models.PROTECT, related_name="referrals_made"
    )
    reason = models.TextField(_("依頼理由"))
    basis = models.CharField(_("提供の根拠"), max_length=20, choices=Basis.choices)
    justification = models.TextField(_("根拠の説明"), blank=True)
    consent = models.ForeignKey(
        Consent, verbose_name=_("同意"), on_delete=models.PROTECT, null=True, blank=True, related_name="referrals"
    )
    urgent = models.BooleanField(_("緊急"), default=False)
    previous = models.ForeignKey(
        "self", verbose_name=_("前回のつなぎ"), on_delete=models.PROTECT, null=True, blank=True, related_name="next"
    )
    state = FSMField(_("状態"), default=ReferralState.REQUESTED, choices=ReferralState.choices, protected=True)
    stage = FSMField(_("段階"), default="", blank=True, max_length=50)
    due_at = models.DateTimeField(_("受理期限"), null=True, blank=True)
    stage_due_at = models.DateTimeField(_("段階の期限"), null=True, blank=True)
    responded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("回答者"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    responded_at = models.DateTimeField(_("回答日時"), null=True, blank=True)
    response_reason = models.TextField(_("辞退・差し戻しの理由"), blank=True)
    completed_at = models.DateTimeField(_("完了日時"), null=True, blank=True)
    assigned_worker = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("担当者"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="assigned_referrals",
    )
    # Declined or returned, and nobody has acted on the case since (`cases.work.ACTED_KINDS`): my work's
    # setbacks. Written by the database only (the triggers of migration 0010, PostgreSQL and SQLite): set
    # when the referral enters declined/returned, kept while it stays there whatever a save writes,
    # cleared when an event of an acting kind is written on its case. Not in the history.
    setback_open = models.BooleanField(default=False, db_default=False, editable=False)
    history = HistoricalRecords(excluded_fields=["updated_at", "setback_open"])

    class Meta:
        verbose_name = _("つなぎ")
        verbose_name_plural = _("つなぎ")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["to_department", "state"]),
            models.Index(fields=["case", "state"]),
            models.Index(fields=["due_at"], name="referral_due_open_idx", condition=Q(state="requested")),
            # The inbox's two lists in their display order (cases.selectors.referrals_inbox, _in_progress).
            models.Index(
                fields=["to_department", "-urgent", "due_at", "id"],
                name="referral_inbox_idx",
                condition=Q(state="requested"),
            ),
            models.Index(
                fields=["to_department", "stage_due_at", "-updated_at"],
                name="referral_in_progress_idx",
                condition=Q(state="accepted"),
            ),
            # The dashboard's acceptance-time chart (timers.selectors._acceptance_hours), index only.
            models.Index(
                fields=["created_at"],
                include=["to_department", "responded_at"],
                name="referral_accepted_idx",
                condition=Q(state__in=["accepted", "completed", "returned"], responded_at__isnull=False),
            ),
            # My work's setbacks (cases.work.setbacks): the open ones, newest first.
            models.Index(
                fields=["-updated_at", "-id"], name="referral_setback_open_idx", condition=Q(setback_open=True)
            ),
            # My work's assigned referrals: a worker's open ones (without it, a bitmap of every open referral).
            models.Index(
                fields=["assigned_worker"],
                name="referral_assigned_open_idx",
                condition=Q(state__in=["requested", "accepted"]),
            ),
            # The dashboard's setbacks: declines and returns, newest first.
            models.Index(
                fields=["-updated_at", "-id"],
                name="referral_setback_idx",
                condition=Q(state__in=["declined", "returned"]),
            ),
        ]
        permissions = [
            ("respond_referral", "Accept or decline the referral"),
            ("work_referral", "Work the referral: stages, return, complete"),
        ]

    def __str__(self) -> str:
        return f"{self.case} → {self.to_department}"

    @property
    def is_open(self) -> bool:
        return self.state in (ReferralState.REQUESTED, ReferralState.ACCEPTED)

    # --- Handoff FSM (DESIGN §3.2). In memory only; services save. ------------------------------
    @transition(
        field=state, source=ReferralState.REQUESTED, target=ReferralState.ACCEPTED, permission=policy.can_respond
    )
    def accept(self, *, at, actor, initial_stage: str = "", **kwargs) -> None:
        self.responded_by = actor
        self.responded_at = at
        self.stage = initial_stage

    @transition(
        field=state, source=ReferralState.REQUESTED, target=ReferralState.DECLINED, permission=policy.can_respond
    )
    def decline(self, *, at, actor, reason: str, **kwargs) -> None:
        self.responded_by = actor
        self.responded_at = at
        self.response_reason = reason

    @transition(
        field=state, source=ReferralState.REQUESTED, target=ReferralState.CANCELLED, permission=policy.can_cancel
    )
    def cancel(self, *, at, actor, reason: str = "", **kwargs) -> None:
        self.response_reason = reason

    @transition(
        field=state, source=ReferralState.ACCEPTED, target=ReferralState.RETURNED, permission=policy.can_work_referral
    )
    def return_(self, *, at, actor, reason: str, **kwargs) -> None:
        self.response_reason = reason

    @transition(
        field=state,
        source=ReferralState.ACCEPTED,
        target=ReferralState.COMPLETED,
        permission=policy.can_work_referral,
        conditions=[policy.stage_is_final],
    )
    def complete(self, *, at, actor, **kwargs) -> None:
        self.completed_at = at


class StageRecord(TimestampedModel):
    """Structured data a department's workflow keeps (a visit record, an evacuation plan…): the
    fields are declared by the workflow module; the values are historied here."""

    referral = models.OneToOneField(Referral, on_delete=models.CASCADE, related_name="stage_record")
    data = models.JSONField(_("記録"), default=dict)
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        verbose_name = _("部署記録")
        verbose_name_plural = _("部署記録")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.referral}"


class Activity(TimestampedModel):
    case = models.ForeignKey(Case, verbose_name=_("ケース"), on_delete=models.PROTECT, related_name="activities")
    kind = models.CharField(_("種別"), max_length=10, choices=ActivityKind.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("記録者"), on_delete=models.PROTECT, related_name="+"
    )
    department = models.ForeignKey(Department, verbose_name=_("部署"), on_delete=models.PROTECT, related_name="+")
    occurred_at = models.DateTimeField(_("日時"))
    body = models.TextField(_("内容"))
    sensitive = models.BooleanField(_("要配慮"), default=False)
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        verbose_name = _("支援記録")
        verbose_name_plural = _("支援記録")
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["case", "-occurred_at"])]

    def __str__(self) -> str:
        return f"{self.case} {self.get_kind_display()} {self.occurred_at:%Y-%m-%d}"


class FollowUp(TimestampedModel):
    """予定: something to do on a day (call back, visit, review the monitoring), by its assignee.
    Past its day while still open, it escalates (rule `followup`, docs/timers.md)."""

    case = models.ForeignKey(Case, verbose_name=_("ケース"), on_delete=models.PROTECT, related_name="followups")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("担当者"), on_delete=models.PROTECT, related_name="followups"
    )
    # The department the assignee works the case for: its supervisors get the L2.
    department = models.ForeignKey(Department, verbose_name=_("部署"), on_delete=models.PROTECT, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("登録者"), on_delete=models.PROTECT, related_name="+"
    )
    due_on = models.DateField(_("予定日"))
    note = models.TextField(_("予定の内容"), max_length=FollowUpInputs.note.max_length, blank=True)
    state = models.CharField(_("状態"), max_length=10, choices=FollowUpState.choices, default=FollowUpState.OPEN)
    done_at = models.DateTimeField(_("完了日時"), null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("完了の記録者"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    done_note = models.TextField(_("結果"), max_length=FollowUpInputs.done_note.max_length, blank=True)
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        verbose_name = _("予定")
        verbose_name_plural = _("予定")
        ordering = ["due_on", "id"]
        indexes = [
            # My work: my open follow-ups by day.
            models.Index(fields=["assignee", "due_on"], name="followup_open_assignee_idx", condition=Q(state="open")),
            models.Index(fields=["case", "due_on"], name="followup_case_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.case} {self.due_on}"

    @property
    def is_open(self) -> bool:
        return self.state == FollowUpState.OPEN


class CaseEvent(models.Model):
    """The append-only timeline of a case (transitions, referrals, escalations, disclosures)."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="events")
    referral = models.ForeignKey(Referral, on_delete=models.PROTECT, null=True, blank=True, related_name="events")
    kind = models.CharField(_("種別"), max_length=30, choices=EventKind.choices)
    name = models.CharField(_("操作"), max_length=50, blank=True)
    from_state = models.CharField(_("変更前"), max_length=50, blank=True)
    to_state = models.CharField(_("変更後"), max_length=50, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("実行者"), on_delete=models.PROTECT, null=True, related_name="+"
    )
    department = models.ForeignKey(Department, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    reason = models.TextField(_("理由"), blank=True)
    # Only non-sensitive facts go here: limited viewers see the timeline.
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(_("日時"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("経過")
        verbose_name_plural = _("経過")
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["case", "created_at"])]

    def __str__(self) -> str:
        return f"{self.case_id} {self.kind} {self.name}"


class CommunitySlip(TimestampedModel):
    """つなぎ票: what a connector noticed on a watching-over round."""

    connector = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("つなぎ役"), on_delete=models.PROTECT, related_name="slips"
    )
    district = models.ForeignKey(District, verbose_name=_("地区"), on_delete=models.PROTECT, related_name="slips")
    name = models.CharField(_("お名前"), max_length=SlipInputs.name.max_length, blank=True)
    name_kana = models.CharField(_("フリガナ"), max_length=SlipInputs.name_kana.max_length, blank=True)
    address_note = models.CharField(_("住所・目印"), max_length=SlipInputs.address_note.max_length, blank=True)
    concern = models.TextField(_("気づいたこと"))
    urgency = models.CharField(_("緊急度"), max_length=10, choices=SlipUrgency.choices, default=SlipUrgency.NORMAL)
    person_agreed_to_contact = models.BooleanField(_("本人が連絡を了承"), default=False)
    case = models.OneToOneField(Case, on_delete=models.PROTECT, related_name="slip")
    # The desk's triage (issue 17): a slip is in the desk's queue until its person is linked to a
    # registered one or confirmed as new.
    triage = models.CharField(_("確認の結果"), max_length=10, choices=SlipTriage.choices, blank=True, default="")
    triaged_at = models.DateTimeField(_("確認日時"), null=True, blank=True)
    triaged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("確認した職員"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        db_constraint=False,  # the slip table counts as large: no constraint added under lock
    )
    history = HistoricalRecords(excluded_fields=["updated_at"], no_db_index=["triaged_by"])

    class Meta:
        verbose_name = _("つなぎ票")
        verbose_name_plural = _("つなぎ票")
        ordering = ["-created_at", "-id"]
        indexes = [
            # The desk's queue: slips not yet triaged (a handful of a growing table).
            models.Index(fields=["created_at"], name="slip_untriaged_idx", condition=Q(triaged_at__isnull=True)),
        ]

    def __str__(self) -> str:
        return f"{self.district} {self.created_at:%Y-%m-%d}"


class Household(TimestampedModel):
    """世帯: the people living together, each with their relation to the household's 本人."""

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("登録者"), on_delete=models.PROTECT, related_name="+"
    )
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        verbose_name = _("世帯")
        verbose_name_plural = _("世帯")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"世帯 {self.pk}"


class HouseholdMember(TimestampedModel):
    """A person's place in a household. A person belongs to one household at most."""

    household = models.ForeignKey(Household, verbose_name=_("世帯"), on_delete=models.PROTECT, related_name="members")
    person = models.ForeignKey(
        Person, verbose_name=_("本人"), on_delete=models.PROTECT, related_name="household_memberships"
    )
    relation = models.CharField(_("続柄"), max_length=20, choices=HouseholdRelation.choices)
    # Not a person flag: what the household record says of this member (the 8050 hint reads it).
    without_work = models.BooleanField(_("就労していない"), default=False)
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        verbose_name = _("世帯員")
        verbose_name_plural = _("世帯員")
        ordering = ["household_id", "id"]
        constraints = [models.UniqueConstraint(fields=["person"], name="household_member_one_household")]

    def __str__(self) -> str:
        return f"{self.household_id}: {self.get_relation_display()}"


class WatchRequest(TimestampedModel):
    """見守り依頼 (DESIGN §11.4): the city asks a district council to watch over a person. A
    disclosure to people outside the city, so it carries a legal basis like a referral. The district's
    connectors see only the person's name, address and what to watch, while it is open and not past
    `until`; the record stays after that."""

    case = models.ForeignKey(Case, verbose_name=_("ケース"), on_delete=models.PROTECT, related_name="watch_requests")
    district = models.ForeignKey(
        District, verbose_name=_("地区"), on_delete=models.PROTECT, related_name="watch_requests"
    )
    department = models.ForeignKey(
        Department, verbose_name=_("依頼元"), on_delete=models.PROTECT, related_name="watch_requests"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("依頼者"), on_delete=models.PROTECT, related_name="watch_requests"
    )
    what_to_watch = models.TextField(_("見守ってほしいこと"), max_length=WatchInputs.what_to_watch.max_length)
    until = models.DateField(_("見守りの期限"))
    basis = models.CharField(_("提供の根拠"), max_length=20, choices=Basis.choices)
    justification = models.TextField(_("根拠の説明"), blank=True)
    consent = models.ForeignKey(
        Consent, verbose_name=_("同意"), on_delete=models.PROTECT, null=True, blank=True, related_name="watch_requests"
    )
    state = models.CharField(_("状態"), max_length=10, choices=WatchState.choices, default=WatchState.OPEN)
    closed_at = models.DateTimeField(_("終了日時"), null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("終了した人"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    last_report_at = models.DateTimeField(_("最後の報告"), null=True, blank=True)
    # When the requester is reminded that no report came (14 days after the request or the last
    # report); None once reminded, until the next report starts a new period.
    remind_at = models.DateTimeField(_("催促の日時"), null=True, blank=True)
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        verbose_name = _("見守り依頼")
        verbose_name_plural = _("見守り依頼")
        ordering = ["-created_at", "-id"]
        indexes = [
            # A connector's list: the open requests of their district.
            models.Index(fields=["district", "until"], name="watch_open_district_idx", condition=Q(state="open")),
            models.Index(fields=["remind_at"], name="watch_remind_idx", condition=Q(state="open")),
        ]

    def __str__(self) -> str:
        return f"{self.case} → {self.district}"


class WatchReport(models.Model):
    """A connector's report of a visit: a few taps and a short note."""

    watch_request = models.ForeignKey(
        WatchRequest, verbose_name=_("見守り依頼"), on_delete=models.PROTECT, related_name="reports"
    )
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("報告者"), on_delete=models.PROTECT, related_name="watch_reports"
    )
    visited_on = models.DateField(_("訪問日"))
    outcome = models.CharField(_("結果"), max_length=10, choices=WatchOutcome.choices)
    note = models.CharField(_("ひとこと"), max_length=WatchInputs.note.max_length, blank=True)
    created_at = models.DateTimeField(_("報告日時"), auto_now_add=True, db_index=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("見守りの報告")
        verbose_name_plural = _("見守りの報告")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.watch_request_id} {self.outcome} {self.visited_on}"


class EvacuationPlan(TimestampedModel):
    """個別避難計画 that lives on (DESIGN §11.5): made from a disaster_prevention referral's record when
    it reaches a plan stage, kept in step with that record, and kept after the referral is completed.
    Its review date drives the `plan_review` reminder to disaster_prevention a month before."""

    person = models.ForeignKey(
        Person, verbose_name=_("本人"), on_delete=models.PROTECT, related_name="evacuation_plans"
    )
    referral = models.OneToOneField(
        Referral, verbose_name=_("作成したつなぎ"), on_delete=models.PROTECT, related_name="evacuation_plan"
    )
    district = models.ForeignKey(
        District, verbose_name=_("地区"), on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    supporters = models.JSONField(_("避難支援者"), default=list, blank=True)
    destination = models.CharField(_("避難先"), max_length=200, blank=True)
    review_date = models.DateField(_("見直し期日"), null=True, blank=True)
    # A month before the review date (09:00 JST); None once reminded, until the date changes.
    review_remind_at = models.DateTimeField(_("見直しの通知日時"), null=True, blank=True)
    made_at = models.DateTimeField(_("作成日時（計画）"))
    is_active = models.BooleanField(_("有効"), default=True)
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        verbose_name = _("個別避難計画")
        verbose_name_plural = _("個別避難計画")
        ordering = ["district_id", "review_date", "id"]
        indexes = [
            models.Index(fields=["review_remind_at"], name="plan_review_idx", condition=Q(is_active=True)),
        ]

    def __str__(self) -> str:
        return f"{self.person} ({self.review_date or '-'})"


class IntakeToken(models.Model):
    """Makes intake idempotent: the same (user, key) returns the first case, never a second one."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=100)
    request_hash = models.CharField(max_length=64)
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="intake_token_unique")]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.key}"
