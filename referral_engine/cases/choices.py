"""Codes used in payloads and the database (DESIGN §3, §4, §8.1). Values are contracts."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class CaseState(models.TextChoices):
    RECEIVED = "received", _("受付")
    ASSESSING = "assessing", _("アセスメント")
    IN_SUPPORT = "in_support", _("支援中")
    MONITORING = "monitoring", _("モニタリング")
    ON_HOLD = "on_hold", _("中断・保留")
    CLOSED = "closed", _("終結")


class ReferralState(models.TextChoices):
    REQUESTED = "requested", _("依頼中")
    ACCEPTED = "accepted", _("受理")
    COMPLETED = "completed", _("完了")
    DECLINED = "declined", _("辞退")
    CANCELLED = "cancelled", _("取消")
    RETURNED = "returned", _("差し戻し")


OPEN_REFERRAL_STATES = (ReferralState.REQUESTED, ReferralState.ACCEPTED)
TAKEN_ON_REFERRAL_STATES = (ReferralState.ACCEPTED, ReferralState.COMPLETED)


class Channel(models.TextChoices):
    COUNTER = "counter", _("窓口")
    PHONE = "phone", _("電話")
    VISIT = "visit", _("訪問")
    COMMUNITY = "community", _("地域（つなぎ票）")
    PARTNER = "partner", _("関係機関")
    WEB = "web", _("ウェブ")
    OTHER = "other", _("その他")


class Need(models.TextChoices):
    ISOLATION = "isolation", _("孤独・孤立")
    CARE = "care", _("介護")
    HEALTH = "health", _("健康")
    MENTAL_HEALTH = "mental_health", _("こころ")
    POVERTY = "poverty", _("生活困窮")
    HOUSING = "housing", _("住まい")
    FAMILY = "family", _("家族")
    EVACUATION = "evacuation", _("防災・避難支援")
    GAP = "gap", _("はざま")
    OTHER = "other", _("その他")


class Risk(models.TextChoices):
    URGENT = "urgent", _("緊急")
    HIGH = "high", _("高")
    NORMAL = "normal", _("通常")
    LOW = "low", _("低")


class ClosureReason(models.TextChoices):
    RESOLVED = "resolved", _("課題解決")
    MOVED_AWAY = "moved_away", _("転出")
    DECEASED = "deceased", _("死亡")
    DECLINED_BY_PERSON = "declined_by_person", _("本人の辞退")
    HANDED_OVER = "handed_over", _("他制度へ移行")


class Basis(models.TextChoices):
    CONSENT = "consent", _("本人同意")
    INTERNAL_USE = "internal_use", _("庁内利用")
    SUPPORT_MEETING = "support_meeting", _("支援会議（社会福祉法第106条の6）")
    VITAL_INTEREST = "vital_interest", _("生命・身体の保護")
    DISASTER = "disaster", _("災害対策基本法")
    LEGAL_DUTY = "legal_duty", _("法令に基づく")


# Bases that let a disclosure cross to/from an external body without consent, with a justification.
JUSTIFIED_BASES = (Basis.SUPPORT_MEETING, Basis.VITAL_INTEREST, Basis.DISASTER, Basis.LEGAL_DUTY)


class Sex(models.TextChoices):
    FEMALE = "female", _("女性")
    MALE = "male", _("男性")
    OTHER = "other", _("その他")


class PersonFlag(models.TextChoices):
    LIVES_ALONE = "lives_alone", _("独居")
    NEEDS_CARE = "needs_care", _("要介護")
    DISABILITY = "disability", _("障害")
    HIKIKOMORI = "hikikomori", _("ひきこもり")
    EVACUATION_SUPPORT = "evacuation_support", _("避難行動要支援者")
    ELDERLY_HOUSEHOLD = "elderly_household", _("高齢者のみ世帯")
    MENTAL_ILLNESS = "mental_illness", _("精神疾患")
    LIVELIHOOD = "livelihood", _("生活保護受給")


# 要配慮個人情報 (APPI art. 2(3)): shown only to full viewers.
SENSITIVE_FLAGS = frozenset(
    {PersonFlag.DISABILITY, PersonFlag.HIKIKOMORI, PersonFlag.MENTAL_ILLNESS, PersonFlag.LIVELIHOOD}
)


class ActivityKind(models.TextChoices):
    VISIT = "visit", _("訪問")
    CALL = "call", _("電話")
    MEETING = "meeting", _("会議")
    NOTE = "note", _("記録")


class ConsentMethod(models.TextChoices):
    WRITTEN = "written", _("書面")
    ORAL = "oral", _("口頭")


class SlipUrgency(models.TextChoices):
    URGENT = "urgent", _("急ぎ")
    NORMAL = "normal", _("通常")


class SlipStatus(models.TextChoices):
    RECEIVED = "received", _("受付済み")
    CONNECTED = "connected", _("つながりました")
    CLOSED = "closed", _("終了")


class EventKind(models.TextChoices):
    CASE_OPENED = "case_opened", _("受付")
    CASE_TRANSITION = "case_transition", _("状態変更")
    REFERRAL_REQUESTED = "referral_requested", _("つなぎ依頼")
    REFERRAL_TRANSITION = "referral_transition", _("つなぎ状態変更")
    STAGE_TRANSITION = "stage_transition", _("部署内の進捗")
    STAGE_DATA = "stage_data", _("部署記録の更新")
    DISCLOSURE = "disclosure", _("情報提供")
    ACTIVITY = "activity", _("支援記録")
    CONSENT = "consent", _("同意")
    ESCALATION = "escalation", _("エスカレーション")
    LEAD_CHANGED = "lead_changed", _("主担当の変更")
    GAP_FLAGGED = "gap_flagged", _("はざま判定")
    RECORD_REPAIRED = "record_repaired", _("記録の修正（範囲外の日付）")
    REASSESSED = "reassessed", _("再アセスメント")
    PERSON_MERGED = "person_merged", _("本人の統合")
    SLIP_TRIAGED = "slip_triaged", _("つなぎ票の確認")
    GAP_CLEARED = "gap_cleared", _("はざま解消")
    REFERRAL_ASSIGNED = "referral_assigned", _("担当者の割り当て")
    FOLLOWUP = "followup", _("予定")
    WATCH_REQUESTED = "watch_requested", _("見守り依頼")
    WATCH_REPORT = "watch_report", _("見守りの報告")
    WATCH_CLOSED = "watch_closed", _("見守り依頼の終了")


class SlipTriage(models.TextChoices):
    """How the desk settled a community slip's person (issue 17, §11.2)."""

    LINKED = "linked", _("登録済みの本人に統合")
    NEW = "new", _("新しい本人として確認")


class HouseholdRelation(models.TextChoices):
    """A member's relation to the household's 本人 (the person the household was recorded for)."""

    SELF = "self", _("本人")
    SPOUSE = "spouse", _("配偶者")
    CHILD = "child", _("子")
    PARENT = "parent", _("親")
    SIBLING = "sibling", _("兄弟姉妹")
    GRANDCHILD = "grandchild", _("孫")
    GRANDPARENT = "grandparent", _("祖父母")
    OTHER_RELATIVE = "other_relative", _("その他の親族")
    COHABITANT = "cohabitant", _("同居人")


class FollowUpState(models.TextChoices):
    OPEN = "open", _("予定")
    DONE = "done", _("済み")


class WatchState(models.TextChoices):
    OPEN = "open", _("依頼中")
    CLOSED = "closed", _("終了")


class WatchOutcome(models.TextChoices):
    MET = "met", _("会えた")
    ABSENT = "absent", _("不在")
    CONCERN = "concern", _("気になることがある")
    URGENT = "urgent", _("すぐに対応が必要")
    REFUSED = "refused", _("断られた")


# The scope entry of a consent that lets a district's connectors be told (DESIGN §11.4).
DISTRICT_SCOPE_PREFIX = "district:"
