"""The Django admin for master data (departments, districts, users and their memberships) and a
read-only window on the case records. Japanese labels come from the models' verbose names.

Changes that carry rules go through the services, as everywhere else: a membership starts and ends
with `membership_start` / `membership_end` (which sync the department and district groups that the
guardian grants hang on); a department or district is created with its group by `*_ensure`. Case
records are read-only here (every change to a case is a service call with its timeline event), and
opening one is written to the access log like any other read. Only the admin role may enter.
(timers, notifications and audit register their own models in their own admin.py.)
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from referral_engine.access import policy
from referral_engine.accounts import services as accounts
from referral_engine.accounts import tokens
from referral_engine.accounts.models import ApiToken, Department, District, Membership, User
from referral_engine.audit.history import save_with_history
from referral_engine.audit.models import AccessLog
from referral_engine.audit.services import access_log_record
from referral_engine.cases.choices import Need, PersonFlag
from referral_engine.cases.models import (
    Activity,
    Case,
    CaseEvent,
    CommunitySlip,
    Consent,
    EvacuationPlan,
    FollowUp,
    Person,
    Referral,
    StageRecord,
    WatchReport,
    WatchRequest,
)
from referral_engine.workflow import registry as workflow_registry

admin.site.site_header = _("津久見市 まるごと受け止める相談窓口 管理")
admin.site.site_title = _("相談窓口 管理")
admin.site.index_title = _("マスタデータと記録の閲覧")


def _admin_only(request) -> bool:
    """The admin role only (is_staff alone is not enough: DESIGN §2)."""
    user = request.user
    return bool(user.is_active and user.is_staff and policy.can_manage_master_data(user))


admin.site.has_permission = _admin_only


# --- Organisation -------------------------------------------------------------------------------


@admin.register(Department)
class DepartmentAdmin(SimpleHistoryAdmin):
    list_display = ("code", "name_ja", "name_en", "kind", "is_active")
    list_filter = ("kind", "is_active")
    search_fields = ("code", "name_ja", "name_en")
    exclude = ("group",)

    def get_readonly_fields(self, request, obj=None):
        return ("code",) if obj else ()

    def save_model(self, request, obj, form, change):
        if change:
            save_with_history(obj, actor=request.user, reason="admin")
            return
        created = accounts.department_ensure(code=obj.code, name_ja=obj.name_ja, name_en=obj.name_en, kind=obj.kind)
        obj.pk, obj.group_id = created.pk, created.group_id
        for name in ("email", "is_active"):
            setattr(created, name, getattr(obj, name))
        save_with_history(created, actor=request.user, reason="admin", update_fields=["email", "is_active"])

    def has_delete_permission(self, request, obj=None):
        return False  # cases and history point at departments: deactivate instead


@admin.register(District)
class DistrictAdmin(SimpleHistoryAdmin):
    list_display = ("code", "name", "name_kana", "is_active")
    list_filter = ("is_active",)
    search_fields = ("code", "name", "name_kana")
    exclude = ("group",)

    def get_readonly_fields(self, request, obj=None):
        return ("code",) if obj else ()

    def save_model(self, request, obj, form, change):
        if change:
            save_with_history(obj, actor=request.user, reason="admin")
            return
        created = accounts.district_ensure(code=obj.code, name=obj.name, name_kana=obj.name_kana)
        obj.pk, obj.group_id = created.pk, created.group_id
        if created.is_active != obj.is_active:
            created.is_active = obj.is_active
            save_with_history(created, actor=request.user, reason="admin", update_fields=["is_active"])

    def has_delete_permission(self, request, obj=None):
        return False


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    can_delete = False
    fields = ("role", "department", "district", "started_at", "ended_at")
    readonly_fields = ("started_at",)
    verbose_name = _("所属")
    verbose_name_plural = _("所属（終了するには終了日時を入れます。削除はできません）")

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields


def _membership_save(request, membership: Membership, *, is_new: bool) -> None:
    """Start or end a membership through the accounts services (groups and grants follow)."""
    if is_new:
        started = accounts.membership_start(
            user=membership.user,
            role=membership.role,
            department=membership.department,
            district=membership.district,
            actor=request.user,
        )
        membership.pk = started.pk
        if membership.ended_at:
            accounts.membership_end(membership=started, actor=request.user, reason="admin")
        return
    current = Membership.objects.get(pk=membership.pk)
    if membership.ended_at and current.ended_at is None:
        accounts.membership_end(membership=current, actor=request.user, reason="admin")


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    inlines = [MembershipInline]
    list_display = ("username", "display_name", "email", "is_active", "is_staff", "is_system", "last_login")
    list_filter = ("is_active", "is_staff", "is_system", "memberships__role")
    search_fields = ("username", "display_name", "email")
    ordering = ("username",)
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        (_("個人情報"), {"fields": ("display_name", "first_name", "last_name", "email")}),
        (
            _("権限"),
            {
                "fields": ("is_active", "is_staff", "is_superuser", "is_system"),
                "description": _(
                    "役割と部署・地区は下の「所属」で設定します。グループとケースへの権限は所属から自動で決まります。"
                    "管理画面に入れるのはシステム管理者の役割の利用者だけです。"
                ),
            },
        ),
        (_("日時"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("username", "display_name", "email", "password1", "password2")}),
    )
    readonly_fields = ("last_login", "date_joined", "is_system")
    actions = ["revoke_api_tokens"]

    @admin.action(description=_("選択した利用者のAPIトークンをすべて取り消す"))
    def revoke_api_tokens(self, request, queryset):
        count = tokens.api_tokens_revoke_by_admin(users=queryset)
        self.message_user(request, _("%(n)d件のAPIトークンを取り消しました。") % {"n": count})

    def save_formset(self, request, form, formset, change):
        if formset.model is not Membership:
            return super().save_formset(request, form, formset, change)
        # The admin's change message reads these lists, which formset.save() would have filled.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for inline_form in formset.forms:
            if not inline_form.has_changed() or not inline_form.is_valid():
                continue
            membership = inline_form.save(commit=False)
            membership.user = form.instance
            is_new = membership.pk is None
            _membership_save(request, membership, is_new=is_new)
            if is_new:
                formset.new_objects.append(membership)
            else:
                formset.changed_objects.append((membership, inline_form.changed_data))
        return None

    def has_delete_permission(self, request, obj=None):
        return False  # history and the access log name users: deactivate instead


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """The users' API tokens (only a hash of each key is stored): read-only, revoked by the action."""

    list_display = ("prefix", "user", "created_at", "expires_at", "last_used_at", "revoked_at", "revoked_reason")
    list_filter = ("revoked_reason", ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("user__username", "user__display_name", "prefix")
    list_select_related = ("user",)
    fields = list_display
    readonly_fields = list_display
    actions = ["revoke"]

    @admin.action(description=_("選択したAPIトークンを取り消す"))
    def revoke(self, request, queryset):
        count = tokens.api_tokens_revoke_by_admin(tokens=queryset.values("pk"))
        self.message_user(request, _("%(n)d件のAPIトークンを取り消しました。") % {"n": count})

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


try:  # DRF's plain-text token table is no longer used (accounts.ApiToken replaced it): keep it out of sight
    from rest_framework.authtoken.models import TokenProxy

    admin.site.unregister(TokenProxy)
except admin.sites.NotRegistered:
    pass


@admin.register(Membership)
class MembershipAdmin(SimpleHistoryAdmin):
    list_display = ("user", "role", "department", "district", "started_at", "ended_at")
    list_filter = ("role", "department", "district", ("ended_at", admin.EmptyFieldListFilter))
    search_fields = ("user__username", "user__display_name")
    autocomplete_fields = ("user",)

    def get_readonly_fields(self, request, obj=None):
        # Once started, only the end can be recorded (異動・退職): a new role is a new membership.
        return ("user", "role", "department", "district", "started_at") if obj else ("started_at",)

    def save_model(self, request, obj, form, change):
        _membership_save(request, obj, is_new=not change)

    def has_delete_permission(self, request, obj=None):
        return False


# Groups are the roles and the department / district groups that guardian grants hang on: only the
# grants module changes who is in them (from memberships), so here they are read-only.
if admin.site.is_registered(Group):
    admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(DjangoGroupAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- Case records: read-only --------------------------------------------------------------------


class ReadOnlyAdmin(admin.ModelAdmin):
    """Inspection only: every change to these records is a service call with its timeline event."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        if response.status_code == 200 and str(object_id).isdigit():
            case_id = self.case_id_of(int(object_id))
            access_log_record(
                user=request.user,
                action=AccessLog.Action.VIEW,
                object_type=self.model._meta.model_name,
                object_id=int(object_id),
                case_id=case_id,
                request=request,
                via="admin",
            )
        return response

    def case_id_of(self, object_id: int) -> int | None:
        if self.model is Case:
            return object_id
        if hasattr(self.model, "case_id") or any(f.name == "case" for f in self.model._meta.fields):
            return self.model.objects.filter(pk=object_id).values_list("case_id", flat=True).first()
        return None


def _code_labels(codes, choices) -> str:
    """A JSON list of codes as their labels (an unknown code stays as it is, never dropped)."""
    labels = dict(choices)
    return "、".join(str(labels.get(code, code)) for code in (codes or [])) or "—"


def _department_labels(codes) -> str:
    names = dict(Department.objects.filter(code__in=list(codes or [])).values_list("code", "name_ja"))
    return "、".join(names.get(code, code) for code in (codes or [])) or "—"


@admin.register(Person)
class PersonAdmin(ReadOnlyAdmin):
    list_display = ("id", "family_name", "given_name", "family_name_kana", "given_name_kana", "birth_date", "district")
    list_filter = ("district",)
    search_fields = ("family_name", "given_name", "family_name_kana", "given_name_kana", "kana_key")
    exclude = ("kana_key", "name_key", "phone_key", "flags")
    readonly_fields = ("flag_labels",)

    @admin.display(description=_("特記事項"))
    def flag_labels(self, obj):
        return _code_labels(obj.flags, PersonFlag.choices)


@admin.register(Case)
class CaseAdmin(ReadOnlyAdmin):
    list_display = ("number", "person", "state", "risk", "intake_department", "lead_department", "created_at")
    list_filter = ("state", "risk", "channel", "lead_department", "is_gap")
    search_fields = ("number",)
    list_select_related = ("person", "intake_department", "lead_department")
    date_hierarchy = "created_at"
    exclude = ("needs",)
    readonly_fields = ("need_labels",)

    @admin.display(description=_("相談分野"))
    def need_labels(self, obj):
        return _code_labels(obj.needs, Need.choices)


@admin.register(Referral)
class ReferralAdmin(ReadOnlyAdmin):
    list_display = (
        "id", "case", "from_department", "to_department", "state", "stage_label", "basis", "urgent", "due_at",
    )  # fmt: skip
    list_filter = ("state", "basis", "urgent", "to_department")
    search_fields = ("case__number",)
    list_select_related = ("case", "from_department", "to_department")
    exclude = ("stage",)
    readonly_fields = ("stage_label",)

    @admin.display(description=_("段階"))
    def stage_label(self, obj):
        if not obj.stage:
            return "—"
        workflow = workflow_registry.get(obj.to_department.code)
        return workflow.stage_label(obj.stage) if workflow else obj.stage


@admin.register(Consent)
class ConsentAdmin(ReadOnlyAdmin):
    list_display = ("id", "person", "case", "method", "obtained_at", "withdrawn_at")
    list_filter = ("method",)
    list_select_related = ("person", "case")
    exclude = ("recipients",)
    readonly_fields = ("recipient_labels",)

    @admin.display(description=_("提供先"))
    def recipient_labels(self, obj):
        return _department_labels(obj.recipients)


@admin.register(Activity)
class ActivityAdmin(ReadOnlyAdmin):
    # The body is not in the list: sensitive records are read one at a time (and logged).
    list_display = ("id", "case", "kind", "author", "department", "occurred_at", "sensitive")
    list_filter = ("kind", "sensitive", "department")
    search_fields = ("case__number",)
    list_select_related = ("case", "author", "department")


@admin.register(CaseEvent)
class CaseEventAdmin(ReadOnlyAdmin):
    list_display = ("id", "case", "kind", "name", "from_state", "to_state", "actor", "department", "created_at")
    list_filter = ("kind", "department")
    search_fields = ("case__number", "name")
    list_select_related = ("case", "actor", "department")


@admin.register(CommunitySlip)
class CommunitySlipAdmin(ReadOnlyAdmin):
    list_display = ("id", "district", "connector", "urgency", "person_agreed_to_contact", "case", "created_at")
    list_filter = ("district", "urgency")
    list_select_related = ("district", "connector", "case")


@admin.register(FollowUp)
class FollowUpAdmin(ReadOnlyAdmin):
    # Notes are not in the list: they are read one at a time (and logged).
    list_display = ("id", "case", "due_on", "assignee", "department", "state", "done_at")
    list_filter = ("state", "department")
    search_fields = ("case__number",)
    list_select_related = ("case", "assignee", "department")


@admin.register(StageRecord)
class StageRecordAdmin(ReadOnlyAdmin):
    list_display = ("id", "referral", "updated_at")
    list_select_related = ("referral", "referral__case", "referral__to_department")
    exclude = ("data",)
    readonly_fields = ("record_summary",)

    @admin.display(description=_("記録"))
    def record_summary(self, obj):
        """The workflow's own labels for the record's fields and choices, as on the case page."""
        workflow = workflow_registry.get(obj.referral.to_department.code)
        rows = workflow.record_summary(obj.data) if workflow else []
        if not rows:
            return "—" if not obj.data else ", ".join(f"{k}: {v}" for k, v in obj.data.items())
        return format_html_join("", "<div>{}: {}</div>", rows)

    def case_id_of(self, object_id: int) -> int | None:
        return StageRecord.objects.filter(pk=object_id).values_list("referral__case_id", flat=True).first()


@admin.register(WatchRequest)
class WatchRequestAdmin(ReadOnlyAdmin):
    # What to watch is not in the list: it is read one at a time (and logged), like an activity's body.
    list_display = ("id", "case", "district", "department", "state", "until", "last_report_at", "created_at")
    list_filter = ("state", "district", "basis")
    search_fields = ("case__number",)
    list_select_related = ("case", "district", "department")


@admin.register(WatchReport)
class WatchReportAdmin(ReadOnlyAdmin):
    list_display = ("id", "watch_request", "reporter", "visited_on", "outcome", "created_at")
    list_filter = ("outcome",)
    list_select_related = ("watch_request", "reporter")

    def case_id_of(self, object_id: int) -> int | None:
        return WatchReport.objects.filter(pk=object_id).values_list("watch_request__case_id", flat=True).first()


@admin.register(EvacuationPlan)
class EvacuationPlanAdmin(ReadOnlyAdmin):
    list_display = ("id", "person", "district", "destination", "review_date", "is_active", "made_at")
    list_filter = ("is_active", "district")
    list_select_related = ("person", "district")
    exclude = ("supporters",)
    readonly_fields = ("supporter_lines",)

    @admin.display(description=_("避難支援者"))
    def supporter_lines(self, obj):
        """One line per supporter (name, relation, contact), not the stored JSON."""
        rows = [s for s in obj.supporters or [] if isinstance(s, dict)]
        if not rows:
            return "—"
        return format_html_join(
            "", "<div>{} {} {}</div>", ((s.get("name", ""), s.get("relation", ""), s.get("contact", "")) for s in rows)
        )

    def case_id_of(self, object_id: int) -> int | None:
        return EvacuationPlan.objects.filter(pk=object_id).values_list("referral__case_id", flat=True).first()
