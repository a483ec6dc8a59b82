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
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from referral_engine.access import policy
from referral_engine.accounts import services as accounts
from referral_engine.accounts.models import Department, District, Membership, User
from referral_engine.audit.history import save_with_history
from referral_engine.audit.models import AccessLog
from referral_engine.audit.services import access_log_record
from referral_engine.cases.models import (
    Activity,
    Case,
    CaseEvent,
    CommunitySlip,
    Consent,
    FollowUp,
    Person,
    Referral,
    StageRecord,
)

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


@admin.register(Person)
class PersonAdmin(ReadOnlyAdmin):
    list_display = ("id", "family_name", "given_name", "family_name_kana", "given_name_kana", "birth_date", "district")
    list_filter = ("district",)
    search_fields = ("family_name", "given_name", "family_name_kana", "given_name_kana", "kana_key")
    exclude = ("kana_key", "name_key", "phone_key")


@admin.register(Case)
class CaseAdmin(ReadOnlyAdmin):
    list_display = ("number", "person", "state", "risk", "intake_department", "lead_department", "created_at")
    list_filter = ("state", "risk", "channel", "lead_department", "is_gap")
    search_fields = ("number",)
    list_select_related = ("person", "intake_department", "lead_department")
    date_hierarchy = "created_at"


@admin.register(Referral)
class ReferralAdmin(ReadOnlyAdmin):
    list_display = ("id", "case", "from_department", "to_department", "state", "stage", "basis", "urgent", "due_at")
    list_filter = ("state", "basis", "urgent", "to_department")
    search_fields = ("case__number",)
    list_select_related = ("case", "from_department", "to_department")


@admin.register(Consent)
class ConsentAdmin(ReadOnlyAdmin):
    list_display = ("id", "person", "case", "method", "obtained_at", "withdrawn_at")
    list_filter = ("method",)
    list_select_related = ("person", "case")


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

    def case_id_of(self, object_id: int) -> int | None:
        return StageRecord.objects.filter(pk=object_id).values_list("referral__case_id", flat=True).first()
