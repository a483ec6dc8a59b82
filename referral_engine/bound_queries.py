"""Hot queries compiled once per connection, each call binding its own values (issue 23).

Building and compiling a queryset costs more Python than PostgreSQL spends running it: 0.6–0.8 ms of
CPU for the token lookup, the principal's memberships or a clock's lock, against 0.07 ms for sending a
ready statement. `bound_rows(model, build, values)` compiles `build(*values)` once per shape and
connection, with a distinct stand-in per value, and keeps which parameter takes which value; each call
then sends the SQL with its own values and makes the rows the model's instances as the queryset would
(related rows from `select_related`, annotations). The queryset stays the declaration: what it selects,
joins and locks is the ORM's, only its compilation is reused.

It is sound only where every value is a parameter of its own: `_compile` checks that each stand-in is
carried by a parameter and none is written into the SQL text (a lookup that transforms its value,
`contains` say, fails this), and otherwise answers None, so the caller's queryset runs as it is.
Values are ints, strings and datetimes; anything that changes the SQL text (a list's length, a choice
of filter) belongs in `shape`.

Users: `cases.locks.case_for_update` (the case and the actor's permissions in the locking statement),
`access.policy.principals.principal`, `accounts.tokens.api_token_authenticate`, `timers.services`
(a case's or referral's clocks, locked), `audit.history_read` (the timeline's users).

`bound_insert(obj)` is `obj.save(force_insert=True)` for a new row the same way: the INSERT written
once per model and connection, the same signals, each field's own `pre_save` and database value, the
primary key read back. Users: every history row (`audit.records`), the access log, case events.

`BoundSaves` (a model mixin) does the same for `save()`: a new row's INSERT written once per model,
columns and what it reads back, `save(update_fields=...)`'s UPDATE once per (model, columns, which are
NULL, conditions), each per connection. Users: the case, the referral and every model with
`TimestampedModel`'s dates, and the clocks (`timers.Timer`). `bound_bulk_insert(objs)`: the intake's
access rows, one INSERT per table."""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.exceptions import EmptyResultSet, FullResultSet
from django.db import DatabaseError, connections, router, transaction
from django.db.models import DateTimeField, Model, signals
from django.db.models.expressions import Col
from django.db.models.lookups import Exact
from django.db.models.query import get_related_populators
from django.db.models.sql.where import AND
from django.db.transaction import TransactionManagementError

# Per connection (each thread has its own): {key: (compiler, sql, slots, converters) or None}. `slots`:
# per parameter, the index of the value it takes, or ("const", value).
_STATEMENTS = "_referral_bound_statements"
# Stand-ins for the values: none of them is a real id (negative, within a 32-bit integer column's
# range, so no lookup drops them as out of range), a real key or a real time.
_STAND_IN_INT = -1_900_000_000
_STAND_IN_TIME = datetime(1901, 1, 1, tzinfo=UTC)
_STAND_IN_STR = "~bound-stand-in-{}~"
_DATETIME = DateTimeField()


def bound_rows(
    model: type[Model],
    build: Callable[..., Any],
    values: tuple[Any, ...],
    *,
    shape: Hashable = None,
    for_update: bool = False,
) -> list[Any]:
    """`list(build(*values))`, compiled once per (`build`, `shape`, number of values) and connection.
    `build` must make the same SQL for any values of the same shape; `for_update`: it locks (the
    write database, and only inside a transaction, as the queryset itself would insist)."""
    db = router.db_for_write(model) if for_update else router.db_for_read(model)
    statement = _statement(db, (build.__qualname__, shape, len(values)), build, values)
    if statement is None:
        return list(build(*values))
    return _run(db, statement, values)


def bound_get(model: type[Model], build: Callable[..., Any], values: tuple[Any, ...], **kwargs: Any) -> Any:
    """The one row of `bound_rows`, or the model's DoesNotExist (as `QuerySet.get`)."""
    rows = bound_rows(model, build, values, **kwargs)
    if not rows:
        raise model.DoesNotExist(f"{model._meta.object_name} matching query does not exist.")
    return rows[0]


def key_in_range(model: type[Model], value: int, *, for_update: bool = False) -> bool:
    """Whether `value` fits the model's primary key column: a value that does not finds no row (the ORM
    answers so on its own; a bound statement would hand the database an out-of-range parameter)."""
    db = router.db_for_write(model) if for_update else router.db_for_read(model)
    low, high = connections[db].ops.integer_field_range(model._meta.pk.get_internal_type())
    return (low is None or low <= value) and (high is None or value <= high)


def _statement(db: str, key: Hashable, build: Callable[..., Any], values: tuple[Any, ...]) -> Any:
    connection = connections[db]
    cache = connection.__dict__.setdefault(_STATEMENTS, {})
    if key not in cache:
        cache[key] = _compile(connection, db, build, values)
    return cache[key]


def _prep(value: Any, connection: Any) -> Any:
    if isinstance(value, datetime):
        return _DATETIME.get_db_prep_value(value, connection)
    if isinstance(value, (int, str)) and not isinstance(value, bool):
        return value
    raise TypeError(f"no stand-in for {type(value).__name__}")


def _stand_in(index: int, value: Any) -> Any:
    if isinstance(value, datetime):
        return _STAND_IN_TIME + timedelta(seconds=index)
    if isinstance(value, str):
        return _STAND_IN_STR.format(index)
    if isinstance(value, int) and not isinstance(value, bool):
        return _STAND_IN_INT - index
    raise TypeError(f"no stand-in for {type(value).__name__}")


def _compile(connection: Any, db: str, build: Callable[..., Any], values: tuple[Any, ...]) -> Any:
    """The statement of `build` with a distinct stand-in per value, and each parameter that is a
    stand-in's made a slot for that value; None when that is not sound (a value the SQL text holds
    itself, a value no parameter carries, a type with no stand-in)."""
    try:
        stand_ins = [_stand_in(i, v) for i, v in enumerate(values)]
        prepped = {_prep(s, connection): i for i, s in enumerate(stand_ins)}
        compiler = build(*stand_ins).query.get_compiler(using=db)
        sql, params = compiler.as_sql()
    except (TypeError, ValueError, DatabaseError, EmptyResultSet, FullResultSet):  # a build refusing stand-ins
        return None
    slots = [prepped[p] if _hashable(p) and p in prepped else ("const", p) for p in params]
    carried = {slot for slot in slots if isinstance(slot, int)}
    in_text = str(_STAND_IN_TIME.year) in sql or any(
        (s if isinstance(s, str) else str(abs(s))) in sql for s in stand_ins if not isinstance(s, datetime)
    )
    if len(carried) != len(values) or in_text:
        return None
    # The columns' converters (dates, JSON, decimals…): the queryset finds them per run, column by column.
    converters = compiler.get_converters([column[0] for column in compiler.select[: compiler.col_count]])
    return compiler, sql, slots, converters


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _run(db: str, statement: Any, values: tuple[Any, ...]) -> list[Any]:
    """Run the statement with these values and make its rows the model's instances as the queryset
    would (related rows and annotations set)."""
    compiler, sql, slots, converters = statement
    connection = connections[db]
    features = connection.features
    if (
        compiler.query.select_for_update
        and features.has_select_for_update
        and features.supports_transactions
        and connection.get_autocommit()
    ):
        # What the compiler says for a locking statement outside a transaction.
        raise TransactionManagementError("select_for_update cannot be used outside of a transaction.")
    params = tuple(_prep(values[slot], connection) if isinstance(slot, int) else slot[1] for slot in slots)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if not rows:
        return []
    if compiler.has_extra_select:
        rows = [row[: compiler.col_count] for row in rows]
    select, klass_info = compiler.select, compiler.klass_info
    start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
    init_list = [column[0].target.attname for column in select[start:end]]
    model = klass_info["model"]
    populators = get_related_populators(klass_info, select, db)
    objects = []
    for row in compiler.apply_converters(rows, converters) if converters else rows:
        obj = model.from_db(db, init_list, row[start:end])
        for populator in populators:
            populator.populate(row, obj)
        for name, position in compiler.annotation_col_map.items():
            setattr(obj, name, row[position])
        objects.append(obj)
    return objects


# --- Inserts ------------------------------------------------------------------------------------


def bound_insert(obj: Model) -> Model:
    """`obj.save(force_insert=True)` for a new row with no primary key yet: `pre_save`, the INSERT
    (written once per model and connection), the key read back, `post_save` (created). A model with
    parents, a key already set or a value that is an expression saves the ORM's way."""
    model = type(obj)
    meta = model._meta
    db = router.db_for_write(model, instance=obj)
    connection = connections[db]
    fields = _insertable(model)
    if obj.pk is not None or meta.auto_field is None or not _bindable(obj, connection, fields, (meta.pk,)):
        obj.save(force_insert=True)  # a key, parents, a placeholder or an expression: the ORM's insert
        return obj
    signals.pre_save.send(sender=model, instance=obj, raw=False, using=db, update_fields=None)
    with transaction.mark_for_rollback_on_error(db):
        (obj.pk,) = _insert_row(obj, connection, fields, returning=(meta.pk,))
    obj._state.adding = False
    obj._state.db = db
    signals.post_save.send(sender=model, instance=obj, created=True, update_fields=None, raw=False, using=db)
    return obj


def bound_bulk_insert(objs: list[Model]) -> None:
    """`Model.objects.bulk_create(objs)` for new rows of one model whose keys nobody reads back (the
    access rows of `access.grants`): one INSERT of them all, written once per model, number of rows and
    connection, no signals (as `bulk_create`); the objects keep no key. Rows with a key or a value that
    is an expression go to `bulk_create`."""
    if not objs:
        return
    model = type(objs[0])
    meta = model._meta
    db = router.db_for_write(model)
    connection = connections[db]
    fields = _insertable(model)
    sql = _insert_sql(connection, model, fields, len(objs), returning=())
    if (
        sql is None
        or meta.parents
        or any(type(obj) is not model or obj.pk is not None or _expression_in(obj, fields) for obj in objs)
    ):
        model._base_manager.using(db).bulk_create(objs)
        return
    params = []
    for obj in objs:
        obj._prepare_related_fields_for_save(operation_name="bulk_create")
        params += [field.get_db_prep_save(field.pre_save(obj, True), connection) for field in fields]
    with transaction.mark_for_rollback_on_error(db), connection.cursor() as cursor:
        cursor.execute(sql, params)
    for obj in objs:
        obj._state.adding = False
        obj._state.db = db


@functools.cache
def _insertable(model: type[Model]) -> list[Any]:
    """The columns of a new row whose key the database makes (as `Model._save_table` lists them)."""
    meta = model._meta
    return [f for f in meta.local_concrete_fields if f is not meta.auto_field and not f.generated]


def _bindable(obj: Model, connection: Any, fields: list[Any], returning: tuple[Any, ...]) -> bool:
    """Whether one new row of `obj` can be inserted by a statement written once: no parent tables, the
    key the database's (the columns all but the auto key), columns read back as the database gives
    them, no value an expression, every placeholder a plain parameter."""
    model = type(obj)
    return (
        not model._meta.parents
        and len(fields) == len(_insertable(model))
        and _plain_returning(connection, model, returning)
        and not _expression_in(obj, fields)
        and _insert_sql(connection, model, fields, 1, returning=returning) is not None
    )


def _expression_in(obj: Model, fields: list[Any]) -> bool:
    return any(hasattr(obj.__dict__.get(field.attname), "resolve_expression") for field in fields)


def _insert_row(obj: Model, connection: Any, fields: list[Any], *, returning: tuple[Any, ...]) -> tuple[Any, ...]:
    """Insert one row (each field's `pre_save` and database value); the `returning` columns' values."""
    meta = obj._meta
    sql = _insert_sql(connection, type(obj), fields, 1, returning=returning)
    params = [field.get_db_prep_save(field.pre_save(obj, True), connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if not returning:
            return ()
        if connection.features.can_return_columns_from_insert:
            return tuple(cursor.fetchone())
        return (connection.ops.last_insert_id(cursor, meta.db_table, meta.pk.column),)


def _plain_returning(connection: Any, model: type[Model], returning: tuple[Any, ...]) -> bool:
    """Whether the columns an insert reads back can be taken as the database gives them: the key, or
    (where the database can return columns) columns with no converter of the field or the backend."""
    if returning in ((), (model._meta.pk,)):
        return True
    if not connection.features.can_return_columns_from_insert:
        return False
    return not any(
        connection.ops.get_db_converters(col) + col.get_db_converters(connection)
        for col in (field.get_col(model._meta.db_table) for field in returning)
    )


def _insert_sql(
    connection: Any, model: type[Model], fields: list[Any], rows: int, *, returning: tuple[Any, ...]
) -> str | None:
    """The INSERT of `rows` rows of these columns, reading back the `returning` columns, written once
    per model, columns, rows and connection; None when a field's placeholder is not a plain parameter.
    The columns of a model's insert are always the same list (all, or all but the auto key): their
    count tells them apart."""
    cache = connection.__dict__.setdefault(_STATEMENTS, {})
    key = ("insert", model, len(fields), rows, returning)
    if key not in cache:
        meta = model._meta
        quote = connection.ops.quote_name
        if any(hasattr(f, "get_placeholder") for f in fields):
            cache[key] = None
            return None
        row = f"({', '.join(['%s'] * len(fields))})"
        sql = (
            f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "  # noqa: S608
            f"VALUES {', '.join([row] * rows)}"
        )
        if returning and connection.features.can_return_columns_from_insert:
            returning_sql, _params = connection.ops.return_insert_columns(list(returning))
            sql = f"{sql} {returning_sql}"
        cache[key] = sql
    return cache[key]


# --- Saves of a model's own rows ------------------------------------------------------------------


class BoundSaves:
    """Model mixin: `save()` of a new row sends an INSERT, and `save(update_fields=...)` an UPDATE,
    written once per shape and connection (`_insert_row`, `bound_update`) instead of building and
    compiling an InsertQuery or an UpdateQuery for every save (a transition updates the case and its
    stall clock; an intake inserts the person, the case and the clock). Everything else about the save —
    signals, `pre_save` of each field, django-fsm's check that the state did not move (its condition
    arrives in `base_qs`), the answer "no row matched", expressions — is the ORM's."""

    def _do_insert(self, manager: Any, using: str, fields: Any, returning_fields: Any, raw: bool) -> Any:
        connection = connections[using]
        returning = tuple(returning_fields or ())
        if not raw and _bindable(self, connection, fields, returning):  # type: ignore[arg-type]
            row = _insert_row(self, connection, fields, returning=returning)  # type: ignore[arg-type]
            return [row] if returning else []
        return super()._do_insert(manager, using, fields, returning_fields, raw)  # type: ignore[misc]

    def _do_update(
        self, base_qs: Any, using: str, pk_val: Any, values: Any, update_fields: Any, forced_update: bool
    ) -> bool:
        if update_fields is not None and values and not self._meta.select_on_save:  # type: ignore[attr-defined]
            matched = bound_update(base_qs, using, pk_val, values)
            if matched is not None:
                return matched > 0
        return super()._do_update(base_qs, using, pk_val, values, update_fields, forced_update)  # type: ignore[misc]


def bound_update(base_qs: Any, using: str, pk_val: Any, values: Any) -> int | None:
    """`base_qs.filter(pk=pk_val)._update(values)` with the statement written once: the rows matched,
    or None when the update is not one this can write (a value that is an expression or has its own
    placeholder, a condition other than column = value) — the caller then runs the ORM's."""
    query = base_qs.query
    model = query.model
    meta = model._meta
    if query.where.connector != AND or query.where.negated or query.alias_map.keys() - {meta.db_table}:
        return None
    conditions = []
    for child in query.where.children:
        if not (
            isinstance(child, Exact)
            and isinstance(child.lhs, Col)
            and child.lhs.alias == meta.db_table
            and not hasattr(child.rhs, "resolve_expression")
        ):
            return None
        conditions.append((child.lhs.target, child.rhs))
    connection = connections[using]
    sets, params = [], []
    for field, _model, value in values:
        if hasattr(value, "resolve_expression") or hasattr(value, "prepare_database_save"):
            return None
        prepped = field.get_db_prep_save(value, connection)
        if hasattr(field, "get_placeholder") or hasattr(prepped, "as_sql"):
            return None
        sets.append((field.column, prepped is None))
        if prepped is not None:
            params.append(prepped)
    params.append(meta.pk.get_db_prep_value(pk_val, connection))
    # A lookup's value is prepared when the lookup is made (`Lookup.get_prep_lookup`).
    params.extend(field.get_db_prep_value(value, connection, prepared=True) for field, value in conditions)
    key = ("update", model, tuple(sets), tuple(field.column for field, _value in conditions))
    cache = connection.__dict__.setdefault(_STATEMENTS, {})
    if key not in cache:
        quote, table = connection.ops.quote_name, connection.ops.quote_name(meta.db_table)
        assignments = ", ".join(f"{quote(column)} = {'NULL' if null else '%s'}" for column, null in sets)
        where = " AND ".join(f"{table}.{quote(f.column)} = %s" for f in (meta.pk, *(f for f, _v in conditions)))
        cache[key] = f"UPDATE {table} SET {assignments} WHERE {where}"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(cache[key], params)
        return cursor.rowcount
