"""The merged audit timeline: the case's event rows (CaseEvent) and the field-level changes of every
historied object that belongs to it, old → new, labelled with the fields' (Japanese) verbose names,
with who, when and why.

A case's history is read by `audit/history_read.py` (one query for all its rows); this module holds
the entries, the value display and diffing they share, and `user_changes` (what one user changed:
two queries per history model, one for the events, the users and one per related model whose values
appear in a change).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.db import models
from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from referral_engine.access import policy
from referral_engine.accounts.models import Department
from referral_engine.audit.labels import Labeller
from referral_engine.cases import choices
from referral_engine.cases.choices import CaseState, EventKind, ReferralState
from referral_engine.cases.models import Case as CaseModel
from referral_engine.cases.models import CaseEvent
from referral_engine.workflow import registry as workflow_registry

CREATED, CHANGED, DELETED = "created", "changed", "deleted"
HISTORY_TYPE_KIND = {"+": CREATED, "~": CHANGED, "-": DELETED}


@dataclass(frozen=True)
class FieldChange:
    field: str
    label: str
    old: str  # the display text (labels, names, local time)
    new: str
    old_value: Any = None  # the stored value as JSON (codes, ids, ISO dates): the API gives both
    new_value: Any = None


@dataclass(frozen=True)
class Entry:
    at: dt.datetime
    source: str  # "event" (the case timeline) or "history" (a field-level change)
    kind: str  # an EventKind code, or created / changed / deleted
    kind_label: str
    object_type: str  # model name: case, person, referral, activity…
    object_label: str  # e.g. "つなぎ #12 → 健康推進課"
    object_id: int | None
    summary: str
    user_id: int | None
    username: str
    user_display_name: str
    reason: str
    changes: tuple[FieldChange, ...] = ()
    case_id: int | None = None
    data: dict[str, Any] = field(default_factory=dict)
    order: tuple = field(default=(), compare=False, repr=False)
    case_number: str = ""  # R8-000123: what auditors read instead of the id
    reason_label: str = ""  # the reason in words (`referral_request: internal_use` → つなぎ依頼: 庁内利用)

    @property
    def user_label(self) -> str:
        if not self.username:
            return ""
        if self.user_display_name:
            return f"{self.user_display_name} ({self.username})"
        return self.username


# --- Value display ------------------------------------------------------------------------------


def _per_language(build: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """`build(key)` computed once per key and active language (issue 23: a history read asked gettext
    for the same field and choice names some sixty times)."""
    cached = functools.cache(lambda key, _language: build(key))
    return functools.wraps(build)(lambda key: cached(key, translation.get_language()))


@_per_language
def _choice_labels(label: str) -> dict[str, str]:
    table = {"cases.case.needs": choices.Need, "cases.person.flags": choices.PersonFlag}
    found = table.get(label)
    return {k: str(v) for k, v in found.choices} if found else {}


@_per_language
def _field_label(model_field: models.Field) -> str:
    return str(model_field.verbose_name)


@_per_language
def _field_choices(model_field: models.Field) -> dict[Any, str]:
    return {value: str(text) for value, text in model_field.flatchoices}


@_per_language
def _model_label(model: type[models.Model]) -> str:
    return str(model._meta.verbose_name)


class _Resolver:
    """Turns raw values into display text, fetching related objects once per related model."""

    def __init__(self) -> None:
        self.wanted: dict[type[models.Model], set[Any]] = defaultdict(set)
        self.found: dict[type[models.Model], dict[Any, str]] = {}
        self.department_codes: set[str] = set()

    def want(self, model_field: models.Field, *values: Any) -> None:
        if isinstance(model_field, models.ForeignKey):
            target = model_field.related_model
            self.wanted[target].update(v for v in values if v not in (None, ""))
        elif model_field.name == "recipients":
            for value in values:
                if isinstance(value, list):
                    self.department_codes.update(str(v) for v in value)

    def want_department(self, pk: Any) -> None:
        if pk is not None:
            self.wanted[Department].add(pk)

    def resolve(self) -> None:
        user_model = get_user_model()
        if self.department_codes:
            self.wanted[Department]  # departments are few: fetched together with any wanted ids
        for model, pks in self.wanted.items():
            qs = model._default_manager.all()
            if model is Department:
                qs = qs.filter(Q(pk__in=pks) | Q(code__in=self.department_codes))
                self.department_by_code = {d.code: d.name_ja for d in qs}
                self.department_code_by_id = {d.pk: d.code for d in qs}
                self.found[model] = {d.pk: d.name_ja for d in qs}
                continue
            if model is user_model:
                self.found[model] = {u.pk: _user_label(u) for u in qs.filter(pk__in=pks)}
                continue
            self.found[model] = {o.pk: str(o) for o in qs.filter(pk__in=pks)}

    def department_code(self, pk: Any) -> str:
        return getattr(self, "department_code_by_id", {}).get(pk, "")

    def department_name(self, pk: Any) -> str:
        return self.found.get(Department, {}).get(pk, "")

    def display(self, model_field: models.Field, value: Any, *, label_lower: str, row: Any = None) -> str:
        if value is None or value == "" or value == [] or value == {}:
            return ""
        if isinstance(model_field, models.ForeignKey):
            name = self.found.get(model_field.related_model, {}).get(value)
            return f"{name} (#{value})" if name else f"#{value}"
        if model_field.name == "stage" and label_lower == "cases.referral" and row is not None:
            return _stage_label(self.department_code(row.to_department_id), value)
        if model_field.choices:
            return _field_choices(model_field).get(value, str(value))
        if isinstance(model_field, models.BooleanField):
            return _("はい") if value else _("いいえ")
        if isinstance(value, dt.datetime):
            return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
        if isinstance(value, dt.date):
            return value.isoformat()
        if isinstance(value, list):
            if model_field.name == "recipients":
                names = getattr(self, "department_by_code", {})
                return "、".join(names.get(str(v), str(v)) for v in value)
            labels = _choice_labels(f"{label_lower}.{model_field.name}")
            return "、".join(labels.get(str(v), str(v)) for v in value)
        if isinstance(value, dict):
            return ", ".join(f"{k}: {_plain(v)}" for k, v in sorted(value.items()))
        return str(value)


def _raw(value: Any) -> Any:
    """A stored value as JSON: ISO dates, ids and codes as they are."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, dict) and set(value) == {"key", "value"}:
        return _raw(value["value"])
    if isinstance(value, list | tuple):
        return [_raw(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str | dict):
        return value
    return str(value)


def _record_fields() -> dict[str, Any]:
    """The departments' record fields by key (`care_level` → 要介護度), from every workflow's form."""
    found: dict[str, Any] = {}
    for workflow in workflow_registry.all_workflows():
        for name, form_field in getattr(workflow.record_form, "base_fields", {}).items():
            found.setdefault(name, form_field)
    return found


def _record_value(form_field: Any, value: Any) -> str:
    if value in (None, "", []):
        return ""
    options = {str(k): str(v) for k, v in getattr(form_field, "choices", []) or [] if not isinstance(v, list | tuple)}
    if isinstance(value, bool):
        return str(_("はい") if value else _("いいえ"))
    if isinstance(value, list):
        return "、".join(options.get(str(v), str(v)) for v in value)
    return options.get(str(value), str(value))


def _record_text(record_fields: dict[str, Any], value: Any) -> str:
    if not isinstance(value, dict) or not value:
        return ""
    parts = []
    for key, item in sorted(value.items()):
        form_field = record_fields.get(key)
        label = str(form_field.label) if form_field is not None else key
        shown = _record_value(form_field, item) if form_field is not None else _plain(item)
        if shown:
            parts.append(f"{label}: {shown}")
    return "、".join(parts)


def _plain(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    return str(value)


def _stage_label(department_code: str, stage: str) -> str:
    workflow = workflow_registry.get(department_code) if department_code else None
    return workflow.stage_label(stage) if workflow else stage


def _user_label(user: Any) -> str:
    display = getattr(user, "display_name", "")
    return f"{display} ({user.get_username()})" if display else user.get_username()


# --- History rows → entries ---------------------------------------------------------------------

# Fields never shown in a "created" entry: they are the entry itself or its container.
_SKIP_ON_CREATE = {"id", "created_at", "case"}


@dataclass
class _Pending:
    row: Any
    model: type[models.Model]
    kind: str
    raw: list[tuple[models.Field, Any, Any]]  # (field, old, new); for JSON dicts, one per key


def _model_fields(model: type[models.Model]) -> dict[str, models.Field]:
    return {f.name: f for f in model._meta.concrete_fields}


def _diff(model: type[models.Model], row: Any, prev: Any | None) -> list[tuple[models.Field, Any, Any]]:
    fields = _model_fields(model)
    if prev is None:
        initial = []
        for f in row.tracked_fields:
            if not f.editable or f.name in _SKIP_ON_CREATE:
                continue
            value = getattr(row, f.attname)
            if value not in (None, "", [], {}):
                initial.append((fields[f.name], None, value))
        return initial
    out = []
    for change in row.diff_against(prev).changes:
        out += field_changes(fields[change.field], change.old, change.new)
    return out


def field_changes(model_field: models.Field, old: Any, new: Any) -> list[tuple[models.Field, Any, Any]]:
    """One changed field as timeline changes: a JSON object (a department's record) key by key."""
    if isinstance(model_field, models.JSONField) and isinstance(old or {}, dict) and isinstance(new or {}, dict):
        old, new = old or {}, new or {}
        return [
            (model_field, {"key": key, "value": old.get(key)}, {"key": key, "value": new.get(key)})
            for key in sorted(set(old) | set(new))
            if old.get(key) != new.get(key)
        ]
    return [(model_field, old, new)]


def _pending_from_rows(model: type[models.Model], rows: Iterable[Any], prev_of: Callable[[Any], Any]) -> list[_Pending]:
    pending = []
    for row in rows:
        kind = HISTORY_TYPE_KIND.get(row.history_type, CHANGED)
        prev = prev_of(row)
        raw = [] if kind == DELETED else _diff(model, row, prev)
        if kind == CHANGED and prev is not None and not raw:
            continue  # a no-op save recorded before no-op saves were skipped
        pending.append(_Pending(row=row, model=model, kind=kind, raw=raw))
    return pending


def _case_id_of_row(model: type[models.Model], row: Any) -> int | None:
    if model._meta.label_lower == "cases.case":
        return row.id
    return getattr(row, "case_id", None)


def _entries_from_pending(
    pending: list[_Pending],
    resolver: _Resolver,
    users: dict[int, Any],
    labeller: Labeller,
    numbers: dict[int, str],
) -> list[Entry]:
    kind_labels = {CREATED: _("作成"), CHANGED: _("変更"), DELETED: _("削除")}
    record_fields = _record_fields()
    entries = []
    for item in pending:
        model, row = item.model, item.row
        label_lower = model._meta.label_lower
        changes = []
        for model_field, old, new in item.raw:
            label = _field_label(model_field)
            if isinstance(old, dict) and "key" in old and isinstance(new, dict) and "key" in new:
                record_field = record_fields.get(old["key"])
                if record_field is not None:  # a department's record (care_level → 要介護度, its choices)
                    label = f"{label}（{record_field.label}）"
                    old_text = _record_value(record_field, old["value"])
                    new_text = _record_value(record_field, new["value"])
                else:
                    label = f"{label}（{old['key']}）"
                    old_text, new_text = _plain(old["value"]), _plain(new["value"])
            elif label_lower == "cases.stagerecord" and isinstance(new, dict):  # a record as first written
                old_text = _record_text(record_fields, old)
                new_text = _record_text(record_fields, new)
            else:
                old_text = resolver.display(model_field, old, label_lower=label_lower, row=row)
                new_text = resolver.display(model_field, new, label_lower=label_lower, row=row)
                if (
                    isinstance(model_field, models.ForeignKey)
                    and model_field.related_model._meta.model_name == "consent"
                ):
                    # A consent's name lists its recipients by department code.
                    old_text, new_text = labeller.codes_in(old_text), labeller.codes_in(new_text)
                if model_field.name == "rule":  # an escalation's or a clock's rule code
                    old_text, new_text = labeller.rule(old_text) if old_text else "", labeller.rule(new_text)
                elif model_field.name == "stage" and label_lower != "cases.referral":
                    old_text, new_text = (
                        labeller.stages.get(old_text, old_text),
                        labeller.stages.get(new_text, new_text),
                    )
            changes.append(
                FieldChange(
                    field=model_field.name
                    if not isinstance(old, dict) or "key" not in old
                    else f"{model_field.name}.{old['key']}",
                    label=label,
                    old=old_text,
                    new=new_text,
                    old_value=_raw(old),
                    new_value=_raw(new),
                )
            )
        model_label = _model_label(model)
        object_label = f"{model_label} #{row.id}"
        if label_lower == "cases.case":
            object_label = f"{model_label} {row.number}"
        if label_lower == "cases.referral":
            object_label += f" → {resolver.department_name(row.to_department_id)}"
        user = users.get(row.history_user_id)
        entries.append(
            Entry(
                at=row.history_date,
                source="history",
                kind=item.kind,
                kind_label=str(kind_labels[item.kind]),
                object_type=model._meta.model_name,
                object_label=object_label,
                object_id=row.id,
                summary=f"{model_label}を{kind_labels[item.kind]}",
                user_id=row.history_user_id,
                username=user.get_username() if user else "",
                user_display_name=getattr(user, "display_name", "") if user else "",
                reason=row.history_change_reason or "",
                changes=tuple(changes),
                case_id=_case_id_of_row(model, row),
                order=(row.history_date, 0, row.history_id),
                case_number=numbers.get(_case_id_of_row(model, row) or 0, ""),
                reason_label=labeller.reason(row.history_change_reason or ""),
            )
        )
    return entries


def _want_values(pending: list[_Pending], resolver: _Resolver) -> None:
    for item in pending:
        if item.model._meta.label_lower == "cases.referral":
            resolver.want_department(item.row.to_department_id)
        for model_field, old, new in item.raw:
            resolver.want(model_field, old, new)


# --- Events → entries ---------------------------------------------------------------------------


def _state_label(event: Any, value: str) -> str:
    if not value:
        return ""
    if event.kind == EventKind.CASE_TRANSITION or event.kind == EventKind.CASE_OPENED:
        return str(dict(CaseState.choices).get(value, value))
    if event.kind == EventKind.REFERRAL_TRANSITION or event.kind == EventKind.REFERRAL_REQUESTED:
        return str(dict(ReferralState.choices).get(value, value))
    if event.kind == EventKind.STAGE_TRANSITION and event.referral_id:
        return _stage_label(event.referral.to_department.code, value)
    return value


def _event_entries(
    events: Iterable[Any], users: dict[int, Any], labeller: Labeller, numbers: dict[int, str]
) -> list[Entry]:
    entries = []
    for event in events:
        from_label, to_label = _state_label(event, event.from_state), _state_label(event, event.to_state)
        summary = labeller.transition(event.name) if event.name else event.get_kind_display()
        if from_label or to_label:
            summary = f"{summary}: {from_label or '—'} → {to_label or '—'}"
        object_type, object_id, object_label = "case", event.case_id, ""
        if event.referral_id:
            referral = event.referral
            object_type, object_id = "referral", event.referral_id
            object_label = f"{referral._meta.verbose_name} #{referral.pk} → {referral.to_department.name_ja}"
        user = users.get(event.actor_id)
        entries.append(
            Entry(
                at=event.created_at,
                source="event",
                kind=event.kind,
                kind_label=event.get_kind_display(),
                object_type=object_type,
                object_label=object_label,
                object_id=object_id,
                summary=summary,
                user_id=event.actor_id,
                username=user.get_username() if user else "",
                user_display_name=getattr(user, "display_name", "") if user else "",
                reason=event.reason or "",
                case_id=event.case_id,
                data=dict(event.data or {}),
                order=(event.created_at, 1, event.pk),
                case_number=numbers.get(event.case_id, ""),
                reason_label=labeller.reason(event.reason or ""),
            )
        )
    return entries


def _users(ids: Iterable[Any]) -> dict[int, Any]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {u.pk: u for u in get_user_model()._default_manager.filter(pk__in=wanted)}


# --- Public -------------------------------------------------------------------------------------


def _person_entries_for(pending: list[_Pending], *, since: Any, view: Callable[[], Any]) -> list[_Pending]:
    """The person's changes as this case's history shows them to its reader (DESIGN §11.1): from
    `since` on (a case opened for an existing person does not show the person's past), and only the
    flags and fields the reader may see of the person (`view()`: `policy.person_view`, asked only
    when a change needs it)."""
    kept = []
    for item in pending:
        if since is not None and item.row.history_date < since:
            continue
        raw = []
        for model_field, old, new in item.raw:
            if model_field.name == "flags":
                old, new = view().flags(old), view().flags(new)
                if old == new:
                    continue
            elif model_field.name not in policy.IDENTITY_FIELDS and not view().sees_field(model_field.name):
                continue
            raw.append((model_field, old, new))
        if item.kind == CHANGED and not raw:
            continue
        kept.append(_Pending(row=item.row, model=item.model, kind=item.kind, raw=raw))
    return kept


def user_changes(
    *, user_id: int, since: dt.date | None = None, until: dt.date | None = None, limit: int = 200
) -> list[Entry]:
    """What one user changed (history rows they are named on, events they acted in), newest first,
    at most `limit`. Two queries per history model (the rows, then their previous rows)."""
    from referral_engine.audit.append_only import history_models
    from referral_engine.audit.selectors import period_q

    pending: list[_Pending] = []
    for history_model in history_models():
        model = getattr(history_model, "instance_type", None)
        if model is None:
            continue
        prev_id = Subquery(
            history_model._default_manager.filter(id=OuterRef("id"), history_date__lt=OuterRef("history_date"))
            .order_by("-history_date", "-history_id")
            .values("history_id")[:1]
        )
        rows = list(
            history_model._default_manager.filter(history_user_id=user_id)
            .filter(period_q("history_date", since, until))
            .annotate(prev_history_id=prev_id)
            .order_by("-history_date", "-history_id")[:limit]
        )
        if not rows:
            continue
        wanted = [r.prev_history_id for r in rows if r.prev_history_id]
        prevs = history_model._default_manager.in_bulk(wanted) if wanted else {}
        pending.extend(_pending_from_rows(model, rows, lambda row, prevs=prevs: prevs.get(row.prev_history_id)))

    events = list(
        CaseEvent.objects.filter(actor_id=user_id)
        .filter(period_q("created_at", since, until))
        .select_related("referral__to_department")
        .order_by("-created_at", "-id")[:limit]
    )
    resolver = _Resolver()
    _want_values(pending, resolver)
    resolver.resolve()
    users = _users([user_id])
    case_ids = {_case_id_of_row(p.model, p.row) for p in pending} | {e.case_id for e in events}
    numbers = dict(CaseModel.objects.filter(pk__in=case_ids - {None}).values_list("pk", "number"))
    labeller = Labeller()
    entries = _entries_from_pending(pending, resolver, users, labeller, numbers) + _event_entries(
        events, users, labeller, numbers
    )
    entries.sort(key=lambda e: e.order, reverse=True)
    return entries[:limit]
