"""A case's merged history read from one query (issue 23): the auditor's page, its CSV and
`GET /api/v1/cases/{id}/history/` all read it here.

One statement returns every row of the timeline, already in display order: a UNION ALL over the
history tables of the case's objects and the case's events, each branch on an index the table
already has (the case and the person by `id`, referrals, activities, consents, escalations and the
community slip by `case_id`, stage records by `referral_id` among the case's referrals, events by
`case_id`). Each history row comes as JSON with the row before it (`lag()` over the object's rows),
so the field-level diff needs no second read and no model instances. What follows is Python on
those rows (the same rules as before: a no-op row is left out, the person's changes from
`policy.person_history_since` on and only what `policy.person_view` lets the reader see) and a
fixed handful of small reads: the users named (once, whether as the author of a row or as a value in
it) and one per other kind of object whose values appear in a change (persons other than the case's
own, consents, referrals…) — none per history model, none per row. The departments and districts
(every one: a few dozen rows) come last in the same statement.

The entries are `timeline.Entry` objects, the same as `user_changes` gives (tests/audit/
test_history_read.py compares them with the reader this replaced, kept as the oracle).
"""

from __future__ import annotations

import functools
import json
from typing import Any

from django.apps import apps
from django.contrib.auth import get_user_model
from django.core import exceptions
from django.db import connection, models
from django.utils import timezone

from referral_engine.access import policy
from referral_engine.accounts.models import Department, District
from referral_engine.audit.history import history_model_for
from referral_engine.audit.labels import Labeller
from referral_engine.audit.stored_dates import far_date_of_text
from referral_engine.audit.timeline import (
    _SKIP_ON_CREATE,
    CHANGED,
    DELETED,
    HISTORY_TYPE_KIND,
    Entry,
    _entries_from_pending,
    _Pending,
    _person_entries_for,
    _Resolver,
    _stage_label,
    _user_label,
    _want_values,
    field_changes,
)
from referral_engine.bound_queries import bound_rows
from referral_engine.cases.choices import CaseState, EventKind, ReferralState
from referral_engine.cases.models import CaseEvent, Referral

# The historied objects of a case and how their rows are found (each on an existing index).
_CASE_SOURCES = (
    ("cases.Case", "h.id = %(case)s"),
    ("cases.Person", "h.id = %(person)s"),
    ("cases.Referral", "h.case_id = %(case)s"),
    ("cases.StageRecord", "h.referral_id IN (SELECT r.id FROM {referral_history} r WHERE r.case_id = %(case)s)"),
    ("cases.Activity", "h.case_id = %(case)s"),
    ("cases.Consent", "h.case_id = %(case)s"),
    ("timers.Escalation", "h.case_id = %(case)s"),
    ("cases.CommunitySlip", "h.case_id = %(case)s"),
)
EVENT_SOURCE = -1  # the `src` of an event row
# What the portable reader (SQLite, `_fetch_portable`) sends beyond PostgreSQL's one statement: a
# query per source and the events', then the places' (the statement budgets allow for it there).
PORTABLE_EXTRA_STATEMENTS = len(_CASE_SOURCES) + 1
PLACE_DEPARTMENT, PLACE_DISTRICT = -2, -3  # the `src` of a department's, a district's row (`_places`)
# (src, model, name column's field) of the places read with every history.
_PLACE_SOURCES = ((PLACE_DEPARTMENT, Department, "name_ja"), (PLACE_DISTRICT, District, "name"))


@functools.cache
def _sources() -> tuple[tuple[str, type[models.Model], type[models.Model]], ...]:
    found = []
    for label, _where in _CASE_SOURCES:
        try:
            model = apps.get_model(label)
        except LookupError:
            continue
        history_model = history_model_for(model)
        if history_model is not None:
            found.append((label, model, history_model))
    return tuple(found)


@functools.cache
def timeline_sql() -> str:
    """The one statement (built once per process): columns src, at, rank, key, id, history_type,
    user_id, reason, row, prev, department_code, department_name. Rows come in display order: by
    time, a history row before an event of the same moment, then by id, then by source."""
    quote = connection.ops.quote_name
    where_of = dict(_CASE_SOURCES)
    referral_history = history_model_for(apps.get_model("cases", "Referral"))
    branches = []
    for index, (label, _model, history_model) in enumerate(_sources()):
        where = where_of[label].replace("{referral_history}", quote(referral_history._meta.db_table))
        branches.append(
            f"SELECT {index} AS src, h.history_date AS at, 0 AS rank, h.history_id AS key, h.id AS id, "  # noqa: S608
            "h.history_type AS history_type, h.history_user_id AS user_id, "
            "h.history_change_reason AS reason, to_jsonb(h) AS row, "
            "lag(to_jsonb(h)) OVER (PARTITION BY h.id ORDER BY h.history_date, h.history_id) AS prev, "
            "NULL::text AS department_code, NULL::text AS department_name "
            f"FROM {quote(history_model._meta.db_table)} h WHERE {where}"
        )
    branches.append(
        f"SELECT {EVENT_SOURCE} AS src, e.created_at AS at, 1 AS rank, e.id AS key, e.referral_id AS id, "  # noqa: S608
        "e.kind AS history_type, e.actor_id AS user_id, e.reason AS reason, to_jsonb(e) AS row, "
        "NULL::jsonb AS prev, d.code::text AS department_code, d.name_ja::text AS department_name "
        f"FROM {quote(CaseEvent._meta.db_table)} e "
        f"LEFT JOIN {quote(Referral._meta.db_table)} r ON r.id = e.referral_id "
        f"LEFT JOIN {quote(Department._meta.db_table)} d ON d.id = r.to_department_id "
        "WHERE e.case_id = %(case)s"
    )
    # Every department and district (a few dozen rows, named by nearly every history): read with the
    # rows rather than by a statement of their own. No time: they come last.
    for src, model, name in _PLACE_SOURCES:
        branches.append(
            f"SELECT {src} AS src, NULL AS at, 2 AS rank, p.id AS key, p.id AS id, NULL AS history_type, "  # noqa: S608
            "NULL AS user_id, NULL AS reason, NULL::jsonb AS row, NULL::jsonb AS prev, "
            f"p.code::text AS department_code, p.{quote(model._meta.get_field(name).column)}::text AS department_name "
            f"FROM {quote(model._meta.db_table)} p"
        )
    # Model and table names only, quoted; the values are parameters.
    return " UNION ALL ".join(branches) + " ORDER BY at, rank, key, src"


class _Row:
    """A history row read as JSON: the history columns as attributes, the object's columns by name
    (`row.number`, `row.to_department_id`) — what `timeline._entries_from_pending` reads."""

    __slots__ = ("data", "history_change_reason", "history_date", "history_id", "history_type", "history_user_id", "id")

    def __init__(self, data: dict[str, Any], at: Any, key: int, obj_id: Any, kind: str, user_id: Any, reason: Any):
        self.data = data
        self.history_date = at
        self.history_id = key
        self.id = obj_id
        self.history_type = kind
        self.history_user_id = user_id
        self.history_change_reason = reason

    def __getattr__(self, name: str) -> Any:
        try:
            return self.data[name]
        except KeyError:
            raise AttributeError(name) from None


class _Diffing:
    """Per model, the fields a created entry shows and the fields a change compares, in
    simple-history's own terms (`tracked_fields`; `diff_against` compares the editable ones and
    sorts the changes by name)."""

    def __init__(self, model: type[models.Model], history_model: type[models.Model]) -> None:
        fields = {f.name: f for f in model._meta.concrete_fields}
        tracked = list(history_model.tracked_fields)
        self.on_create = [(fields[f.name], f.column) for f in tracked if f.editable and f.name not in _SKIP_ON_CREATE]
        self.compared = sorted(((fields[f.name], f.column) for f in tracked if f.editable), key=lambda p: p[0].name)


@functools.cache
def _diffing(label: str) -> _Diffing:
    for found, model, history_model in _sources():
        if found == label:
            return _Diffing(model, history_model)
    raise LookupError(label)


def _typed(model_field: models.Field, value: Any) -> Any:
    """A value from the row's JSON as the ORM gives it (dates and times parsed; the rest as JSON)."""
    if value is None or isinstance(model_field, models.JSONField):
        return value
    try:
        return model_field.to_python(value)
    except exceptions.ValidationError:
        # A date outside Python's years 1-9999 (`0001-12-31T14:41:01+00:00 BC`): read as the loaders
        # read it from a column (audit/stored_dates.py), never a 500.
        if isinstance(model_field, models.DateField) and isinstance(value, str):
            return far_date_of_text(value, date_only=not isinstance(model_field, models.DateTimeField))
        raise


def _diff(label: str, row: dict[str, Any], prev: dict[str, Any] | None) -> list[tuple[models.Field, Any, Any]]:
    diffing = _diffing(label)
    if prev is None:
        initial = []
        for model_field, column in diffing.on_create:
            value = _typed(model_field, row.get(column))
            if value not in (None, "", [], {}):
                initial.append((model_field, None, value))
        return initial
    out = []
    for model_field, column in diffing.compared:
        old, new = prev.get(column), row.get(column)
        if old == new:
            continue
        old, new = _typed(model_field, old), _typed(model_field, new)
        if old == new:
            continue
        out += field_changes(model_field, old, new)
    return out


def _fetch(case: Any) -> tuple[list[tuple], dict[type, list[tuple]]]:
    """The case's timeline rows in display order, and the places (`_places`): one statement on
    PostgreSQL; elsewhere (SQLite in development) the same rows read per table through the ORM and
    put in the same order."""
    if connection.vendor != "postgresql":
        return _fetch_portable(case), _places()
    with connection.cursor() as cursor:
        cursor.execute(timeline_sql(), {"case": case.pk, "person": case.person_id})
        rows = cursor.fetchall()
    places: dict[type, list[tuple]] = {Department: [], District: []}
    records = []
    for r in rows:
        if r[0] == PLACE_DEPARTMENT or r[0] == PLACE_DISTRICT:
            places[Department if r[0] == PLACE_DEPARTMENT else District].append((r[3], r[10], r[11]))
        else:
            # Django has psycopg hand jsonb over as text (JSONField decodes it itself): decoded here.
            records.append((*r[:8], _json(r[8]), _json(r[9]), r[10], r[11]))
    return records, places


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


def _portable_filter(label: str, case: Any) -> dict[str, Any]:
    if label == "cases.Case":
        return {"id": case.pk}
    if label == "cases.Person":
        return {"id": case.person_id}
    if label == "cases.StageRecord":
        referral_history = history_model_for(apps.get_model("cases", "Referral"))
        return {"referral_id__in": referral_history._default_manager.filter(case_id=case.pk).values("id")}
    return {"case_id": case.pk}


def _fetch_portable(case: Any) -> list[tuple]:
    records = []
    for index, (label, _model, history_model) in enumerate(_sources()):
        fields = history_model._meta.concrete_fields
        rows = history_model._default_manager.filter(**_portable_filter(label, case)).order_by(
            "id", "history_date", "history_id"
        )
        previous: dict[Any, dict[str, Any]] = {}
        for values in rows.values_list(*(f.attname for f in fields)):
            data = {f.column: value for f, value in zip(fields, values, strict=True)}
            prev = previous.get(data["id"])
            previous[data["id"]] = data
            records.append(
                (
                    index,
                    data["history_date"],
                    0,
                    data["history_id"],
                    data["id"],
                    data["history_type"],
                    data["history_user_id"],
                    data["history_change_reason"],
                    data,
                    prev,
                    None,
                    None,
                )
            )
    names = ("id", "case_id", "referral_id", "kind", "name", "from_state", "to_state", "actor_id", "reason", "data")
    events = CaseEvent.objects.filter(case_id=case.pk).values_list(
        *names, "created_at", "referral__to_department__code", "referral__to_department__name_ja"
    )
    for *values, at, code, name in events:
        data = dict(zip(names, values, strict=True))
        records.append(
            (EVENT_SOURCE, at, 1, data["id"], data["referral_id"], data["kind"], data["actor_id"], data["reason"])
            + (data, None, code, name)
        )
    records.sort(key=lambda r: (r[1], r[2], r[3], r[0]))
    return records


# --- Events → entries ---------------------------------------------------------------------------


def _event_state_label(kind: str, department_code: str | None, referral_id: Any, value: str) -> str:
    if not value:
        return ""
    if kind in (EventKind.CASE_TRANSITION, EventKind.CASE_OPENED):
        return str(dict(CaseState.choices).get(value, value))
    if kind in (EventKind.REFERRAL_TRANSITION, EventKind.REFERRAL_REQUESTED):
        return str(dict(ReferralState.choices).get(value, value))
    if kind == EventKind.STAGE_TRANSITION and referral_id:
        return _stage_label(department_code or "", value)
    return value


def _event_entry(event: tuple, users: dict[int, Any], labeller: Labeller, number: str) -> Entry:
    _src, at, _rank, pk, referral_id, kind, actor_id, reason, data, _prev, department_code, department_name = event
    kind_label = str(dict(CaseEvent._meta.get_field("kind").flatchoices).get(kind, kind))
    from_label = _event_state_label(kind, department_code, referral_id, data.get("from_state") or "")
    to_label = _event_state_label(kind, department_code, referral_id, data.get("to_state") or "")
    name = data.get("name") or ""
    summary = labeller.transition(name) if name else kind_label
    if from_label or to_label:
        summary = f"{summary}: {from_label or '—'} → {to_label or '—'}"
    object_type, object_id, object_label = "case", data.get("case_id"), ""
    if referral_id:
        object_type, object_id = "referral", referral_id
        object_label = f"{Referral._meta.verbose_name} #{referral_id} → {department_name or ''}"
    user = users.get(actor_id)
    return Entry(
        at=at,
        source="event",
        kind=kind,
        kind_label=kind_label,
        object_type=object_type,
        object_label=object_label,
        object_id=object_id,
        summary=summary,
        user_id=actor_id,
        username=user.get_username() if user else "",
        user_display_name=getattr(user, "display_name", "") if user else "",
        reason=reason or "",
        case_id=data.get("case_id"),
        data=dict(data.get("data") or {}),
        order=(at, 1, pk),
        case_number=number,
        reason_label=labeller.reason(reason or ""),
    )


# --- Values → display ---------------------------------------------------------------------------


# What each kind of object's `__str__` reads besides its row: read with it, not once per value.
_STR_RELATED = {
    "cases.referral": ("case", "to_department"),
    "cases.stagerecord": ("referral__case", "referral__to_department"),
    "cases.consent": ("person",),
    "cases.activity": ("case",),
    "cases.followup": ("case",),
    "cases.communityslip": ("district",),
}


class _CaseResolver(_Resolver):
    """`timeline._Resolver` with the users read once for the whole history, the departments and
    districts (few) all at once for the values and the labels alike, the case's own person taken
    from the case (the selectors read it with the case), and what an object's name needs read with
    it (a referral is named by its case and department)."""

    def resolve_from(
        self, *, users: dict[int, Any], places: dict[type, list[tuple]], person: Any, labeller: Labeller
    ) -> None:
        """`places`: (id, code, name) of every department and district (`_places`)."""
        user_model = get_user_model()
        departments, districts = places[Department], places[District]
        self.department_by_code = {code: name for _pk, code, name in departments}
        self.department_code_by_id = {pk: code for pk, code, _name in departments}
        self.found[Department] = {pk: name for pk, _code, name in departments}  # str(department)
        self.found[District] = {pk: name for pk, _code, name in districts}  # str(district)
        labeller.__dict__["departments"] = self.department_by_code  # what Labeller would read
        labeller.__dict__["districts"] = {code: name for _pk, code, name in districts}
        for model, pks in self.wanted.items():
            if model is Department or model is District:
                continue
            if model is user_model:
                self.found[model] = {pk: _user_label(users[pk]) for pk in pks if pk in users}
                continue
            if person is not None and model is type(person) and pks <= {person.pk}:
                self.found[model] = {person.pk: str(person)}
                continue
            qs = model._default_manager.filter(pk__in=pks)
            if related := _STR_RELATED.get(model._meta.label_lower):
                qs = qs.select_related(*related)
            self.found[model] = {o.pk: str(o) for o in qs}


@functools.cache
def _places_sql() -> str:
    quote = connection.ops.quote_name
    return " UNION ALL ".join(
        f"SELECT {src}, {quote(model._meta.pk.column)}, {quote('code')}, "  # noqa: S608
        f"{quote(model._meta.get_field(name).column)} FROM {quote(model._meta.db_table)}"
        for src, model, name in _PLACE_SOURCES
    )


def _places() -> dict[type, list[tuple]]:
    """Every department and district, (id, code, name), in one statement: both are a few dozen rows,
    and nearly every history names both (an intake's departments, the person's district). On
    PostgreSQL they come with the timeline's rows (`timeline_sql`)."""
    found: dict[type, list[tuple]] = {Department: [], District: []}
    with connection.cursor() as cursor:
        cursor.execute(_places_sql())
        for kind, pk, code, name in cursor.fetchall():
            found[Department if kind == PLACE_DEPARTMENT else District].append((pk, code, name))
    return found


# --- Public -------------------------------------------------------------------------------------


def case_history(*, case: Any, reader: Any) -> list[Entry]:
    """Every event of `case` and every field-level change of its historied objects (the case, the
    person, referrals, stage records, activities, consents, escalations, the community slip), oldest
    first. Whether `reader` may read it is decided by the caller (selectors.case_for_history /
    case_for_audit); what of the person it shows them, by the policy (`timeline._person_entries_for`)."""
    sources = _sources()
    labels = [label for label, _m, _h in sources]
    pending: list[_Pending] = []
    person_pending: list[_Pending] = []
    positions: dict[int, int] = {}  # id(pending item) → its place in the statement's order
    events: list[tuple[int, tuple]] = []
    records, places = _fetch(case)
    for position, record in enumerate(records):
        src = record[0]
        if src == EVENT_SOURCE:
            events.append((position, record))
            continue
        _src, at, _rank, key, obj_id, history_type, user_id, reason, data, prev, _code, _name = record
        label = labels[src]
        kind = HISTORY_TYPE_KIND.get(history_type, CHANGED)
        raw = [] if kind == DELETED else _diff(label, data, prev)
        if kind == CHANGED and prev is not None and not raw:
            continue  # a no-op save recorded before no-op saves were skipped
        item = _Pending(
            row=_Row(data, at, key, obj_id, history_type, user_id, reason), model=sources[src][1], kind=kind, raw=raw
        )
        positions[id(item.row)] = position
        (person_pending if label == "cases.Person" else pending).append(item)
    if person_pending:
        pending.extend(
            _person_entries_for(
                person_pending,
                since=policy.person_history_since(case),
                view=functools.cache(lambda: policy.person_view(reader, case.person)),
            )
        )

    resolver = _CaseResolver()
    _want_values(pending, resolver)
    user_model = get_user_model()
    user_ids = resolver.wanted.get(user_model, set()) | {p.row.history_user_id for p in pending}
    user_ids |= {record[6] for _pos, record in events}
    user_ids.discard(None)
    users = {u.pk: u for u in _users(user_model, tuple(sorted(user_ids)))} if user_ids else {}
    labeller = Labeller()
    resolver.resolve_from(users=users, places=places, person=getattr(case, "person", None), labeller=labeller)
    numbers = {case.pk: case.number, 0: case.number}  # the person's rows carry no case id: key 0

    placed = list(
        zip(
            (positions[id(p.row)] for p in pending),
            _entries_from_pending(pending, resolver, users, labeller, numbers),
            strict=True,
        )
    )
    placed.extend((position, _event_entry(record, users, labeller, case.number)) for position, record in events)
    placed.sort(key=lambda pair: pair[0])
    return [entry for _position, entry in placed]


def _users(user_model: Any, ids: tuple[int, ...]) -> list[Any]:
    """The users by id, in a statement compiled once per number of ids (`bound_queries`)."""
    return bound_rows(user_model, lambda *pks: user_model._default_manager.filter(pk__in=pks), ids, shape=len(ids))


# --- The API's JSON ------------------------------------------------------------------------------


def _api_datetime(value: Any) -> str:
    """As DRF's DateTimeField writes it: ISO 8601 in the current time zone, `Z` for UTC."""
    text = timezone.localtime(value).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def entry_json(entry: Entry) -> dict[str, Any]:
    """One entry as the API gives it (the fields of `audit.api.HistoryEntrySerializer`, which stays
    for the schema): plain dicts of plain values, for the C JSON encoder."""
    return {
        "at": _api_datetime(entry.at),
        "source": entry.source,
        "kind": entry.kind,
        "kind_label": entry.kind_label,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "object_label": entry.object_label,
        "summary": entry.summary,
        "user": None
        if entry.user_id is None
        else {"id": entry.user_id, "username": entry.username, "display_name": entry.user_display_name},
        "reason": entry.reason,
        "reason_label": entry.reason_label,
        "case_number": entry.case_number,
        "changes": [
            {
                "field": c.field,
                "label": c.label,
                "old": c.old,
                "new": c.new,
                "old_value": c.old_value,
                "new_value": c.new_value,
            }
            for c in entry.changes
        ],
        "data": {str(k): v for k, v in entry.data.items()},
    }
