"""Row locks, in one place (Saleor's lock_objects): every state change loads its row through here
inside `transaction.atomic()`, so concurrent accepts serialise and the loser re-reads the new state.
(On SQLite select_for_update is a no-op; IMMEDIATE transactions serialise writers instead.)"""

from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.exceptions import EmptyResultSet, FullResultSet
from django.db import DatabaseError, connections, router
from django.db.models import DateTimeField, OuterRef, Subquery
from django.db.transaction import TransactionManagementError

from referral_engine.cases.models import Case, HouseholdMember, Person, Referral


def case_for_update(case_id: int, columns: Any = None) -> Case:
    """The case locked (its row only), with what the services and the case's response read of it
    in the same statement: its person with their district, its departments and lead worker, and
    whether the person belongs to a household (most do not: then the response need not ask).
    `columns`: more to read with it, a `policy.BoundColumns` (`case_perms_bound_columns`) or None.

    Issue 23: building and compiling this statement cost more CPU than the rest of a transition's
    policy, so it is compiled once per shape (`columns.shape`) and connection, with stand-in values,
    and each call binds its own (`_bound_statement`)."""
    shape = columns.shape if columns is not None else None
    values = (int(case_id), *(columns.values if columns is not None else ()))
    db = router.db_for_write(Case)
    low, high = connections[db].ops.integer_field_range(Case._meta.pk.get_internal_type())
    statement = None
    if (low is None or low <= values[0]) and (high is None or values[0] <= high):
        statement = _bound_statement(db, shape, lambda *v: _case_for_update_query(v[0], columns, v[1:]), values)
    if statement is None:  # an id out of the column's range, a shape the stand-ins cannot compile: the ORM
        case = _case_for_update_query(values[0], columns, values[1:]).get()
    else:
        case = _run_bound(db, statement, values, Case)
    if case.person_household_id is None:
        person_household_none(case.person)
    return case


def _case_for_update_query(case_id: Any, columns: Any, column_values: tuple[Any, ...]) -> Any:
    return (
        Case.objects.select_for_update(of=("self",))
        .select_related("person__district", "intake_department", "lead_department", "lead_worker")
        .annotate(
            person_household_id=Subquery(
                HouseholdMember.objects.filter(person_id=OuterRef("person_id")).values("household_id")[:1]
            ),
            **(columns.build(*column_values) if columns is not None else {}),
        )
        .filter(pk=case_id)
        .order_by()
    )


# Statements compiled once, per connection (each thread has its own): {key: (compiler, sql, slots)
# or None}. `slots`: per parameter, the index of the value it takes, or ("const", value).
_STATEMENTS = "_referral_lock_statements"
# Stand-ins for the values: none of them is a real id (negative, within a 32-bit integer column's
# range, so no lookup drops them as out of range) or a real time of a grant.
_STAND_IN_INT = -1_900_000_000
_STAND_IN_TIME = datetime(1901, 1, 1, tzinfo=UTC)
_DATETIME = DateTimeField()


def _prep(value: Any, connection: Any) -> Any:
    if isinstance(value, datetime):
        return _DATETIME.get_db_prep_value(value, connection)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise TypeError(f"no stand-in for {type(value).__name__}")


def _stand_in(index: int, value: Any) -> Any:
    if isinstance(value, datetime):
        return _STAND_IN_TIME + timedelta(seconds=index)
    return _STAND_IN_INT - index


def _bound_statement(db: str, shape: Any, build: Any, values: tuple[Any, ...]) -> Any:
    """The statement of `build(*values)` for this shape, compiled once on this connection: the query
    is built with a distinct stand-in per value, and each parameter that is a stand-in's becomes a
    slot for that value. None when that is not sound (a value the SQL text holds itself, a value no
    parameter carries, a type with no stand-in): then the caller builds its query each time."""
    connection = connections[db]
    cache = connection.__dict__.setdefault(_STATEMENTS, {})
    key = (build.__qualname__, shape, len(values))
    if key not in cache:
        cache[key] = _compile_bound(connection, db, build, values)
    return cache[key]


def _compile_bound(connection: Any, db: str, build: Any, values: tuple[Any, ...]) -> Any:
    try:
        stand_ins = [_stand_in(i, v) for i, v in enumerate(values)]
        prepped = {_prep(s, connection): i for i, s in enumerate(stand_ins)}
        compiler = build(*stand_ins).query.get_compiler(using=db)
        sql, params = compiler.as_sql()
    except (TypeError, DatabaseError, EmptyResultSet, FullResultSet):
        return None
    slots = [prepped[p] if _hashable(p) and p in prepped else ("const", p) for p in params]
    carried = {slot for slot in slots if isinstance(slot, int)}
    in_text = str(_STAND_IN_TIME.year) in sql or any(
        str(abs(s)) in sql for s in stand_ins if not isinstance(s, datetime)
    )
    if len(carried) != len(values) or in_text:
        return None
    return compiler, sql, slots


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _run_bound(db: str, statement: Any, values: tuple[Any, ...], model: Any) -> Any:
    """Run a statement of `_bound_statement` with these values, and make its one row the model's
    instance as `QuerySet.get` would (related rows and annotations set); DoesNotExist for none."""
    compiler, sql, slots = statement
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
        raise model.DoesNotExist(f"{model._meta.object_name} matching query does not exist.")
    if compiler.has_extra_select:
        rows = [row[: compiler.col_count] for row in rows]
    from django.db.models.query import get_related_populators

    row = next(iter(compiler.results_iter([rows[:1]])))
    select, klass_info = compiler.select, compiler.klass_info
    start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
    init_list = [column[0].target.attname for column in select[start:end]]
    obj = klass_info["model"].from_db(db, init_list, row[start:end])
    for populator in get_related_populators(klass_info, select, db):
        populator.populate(row, obj)
    for name, position in compiler.annotation_col_map.items():
        setattr(obj, name, row[position])
    return obj


def person_household_none(person: Person) -> None:
    """Mark a person known to belong to no household (as if their memberships had been prefetched):
    `selectors.person_household_for` answers None without a query."""
    person._prefetched_objects_cache = {
        **getattr(person, "_prefetched_objects_cache", {}),
        "household_memberships": HouseholdMember.objects.none(),
    }


def referral_for_update(referral_id: int) -> Referral:
    return (
        Referral.objects.select_for_update(of=("self",))
        .select_related("case", "from_department", "to_department", "requested_by")
        .get(pk=referral_id)
    )


def person_for_update(person_id: int) -> Person:
    return Person.objects.select_for_update(of=("self",)).select_related("district").get(pk=person_id)
