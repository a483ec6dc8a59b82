"""`bound_queries`: a hot queryset compiled once per shape and connection, each call binding its own
values (issue 23) — the rows are the queryset's own, whatever the values, and a build whose values do
not all become parameters runs as the queryset it is."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from referral_engine import bound_queries
from referral_engine.accounts.models import ApiToken, Membership
from referral_engine.accounts.tokens import api_token_issue
from referral_engine.timers.models import Timer

pytestmark = pytest.mark.django_db


def _memberships(user_id, since):
    return (
        Membership.objects.filter(user_id=user_id, started_at__gte=since)
        .select_related("department", "district")
        .order_by("pk")
    )


def _facts(members):
    return [(m.pk, m.role, m.department and m.department.code, m.district and m.district.code) for m in members]


def test_each_call_binds_its_own_values_to_a_statement_compiled_once(users):
    built = []

    def build(user_id, since):
        built.append((user_id, since))
        return _memberships(user_id, since)

    long_ago = timezone.now() - timedelta(days=3650)
    for username in ("worker_welfare", "chief_welfare", "desk_welfare", "auditor", "worker_health"):
        user = users[username]
        rows = bound_queries.bound_rows(Membership, build, (user.pk, long_ago))
        assert _facts(rows) == _facts(_memberships(user.pk, long_ago)) != []
        assert all("department" in m._state.fields_cache for m in rows)  # select_related, no query later
    assert len(built) == 1 and built[0][0] < 0  # compiled once, with stand-ins
    future = timezone.now() + timedelta(days=1)
    assert bound_queries.bound_rows(Membership, build, (users["worker_welfare"].pk, future)) == []
    with CaptureQueriesContext(connection) as ctx:
        bound_queries.bound_rows(Membership, build, (users["worker_welfare"].pk, long_ago))
    assert len(ctx.captured_queries) == 1


def test_a_string_value_is_a_parameter_and_finds_its_row(users):
    token, key = api_token_issue(user=users["worker_welfare"])

    def build(digest):
        return ApiToken.objects.select_related("user").filter(key_digest=digest)[:1]

    found = bound_queries.bound_rows(ApiToken, build, (token.key_digest,))
    assert [(t.pk, t.user.username) for t in found] == [(token.pk, "worker_welfare")]
    assert bound_queries.bound_rows(ApiToken, build, ("0" * 64,)) == []
    assert "'" not in bound_queries._statement(connection.alias, (build.__qualname__, None, 1), build, ("x",))[1]


def test_a_value_the_lookup_transforms_falls_back_to_the_queryset(users):
    calls = []

    def build(fragment):
        calls.append(fragment)
        return Membership.objects.filter(user__username__contains=fragment).order_by("pk")

    assert bound_queries._statement(connection.alias, ("contains", None, 1), build, ("x",)) is None
    rows = bound_queries.bound_rows(Membership, build, ("welfare",))
    assert [m.pk for m in rows] == list(
        Membership.objects.filter(user__username__contains="welfare").order_by("pk").values_list("pk", flat=True)
    )
    assert calls[-1] == "welfare"  # the queryset itself ran


def test_a_value_of_another_type_falls_back_to_the_queryset(users):
    def build(flag):
        return Membership.objects.filter(ended_at__isnull=flag).order_by("pk")

    rows = bound_queries.bound_rows(Membership, build, (True,))
    assert [m.pk for m in rows] == list(Membership.objects.filter(ended_at__isnull=True).values_list("pk", flat=True))


def test_get_answers_does_not_exist(users):
    with pytest.raises(Membership.DoesNotExist):
        bound_queries.bound_get(Membership, lambda pk: Membership.objects.filter(pk=pk), (-7,))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_locking_statement_outside_a_transaction_is_refused_as_the_queryset_would():
    def build(key):
        return Timer.objects.select_for_update().filter(object_key=key)

    with pytest.raises(TransactionManagementError):
        bound_queries.bound_rows(Timer, build, ("case:1",), for_update=True)
    with transaction.atomic():
        assert bound_queries.bound_rows(Timer, build, ("case:1",), for_update=True) == list(build("case:1"))


# --- bound_insert --------------------------------------------------------------------------------


def _log(user, **fields):
    from referral_engine.audit.models import AccessLog

    return AccessLog(user=user, username=user.username, action="view", object_type="case", **fields)


def test_an_insert_writes_the_row_the_orm_would_and_sends_its_signals(users):
    from django.db.models import signals

    from referral_engine.audit.models import AccessLog

    heard = []

    def pre(sender, instance, **kwargs):
        heard.append(("pre", sender, instance.pk, kwargs["update_fields"]))

    def post(sender, instance, created, **kwargs):
        heard.append(("post", sender, instance.pk, created))

    signals.pre_save.connect(pre, sender=AccessLog)
    signals.post_save.connect(post, sender=AccessLog)
    try:
        ours = bound_queries.bound_insert(_log(users["auditor"], object_id=7, case_id=7, ip_address="10.0.0.1"))
    finally:
        signals.pre_save.disconnect(pre, sender=AccessLog)
        signals.post_save.disconnect(post, sender=AccessLog)
    theirs = _log(users["auditor"], object_id=7, case_id=7, ip_address="10.0.0.1")
    theirs.save(force_insert=True)
    assert ours.pk is not None and not ours._state.adding and ours.at is not None
    assert heard == [("pre", AccessLog, None, None), ("post", AccessLog, ours.pk, True)]
    columns = [f.attname for f in AccessLog._meta.concrete_fields if f.attname not in ("id", "at")]
    stored = AccessLog.objects.values(*columns, "at")
    assert {k: v for k, v in stored.get(pk=ours.pk).items() if k != "at"} == {
        k: v for k, v in stored.get(pk=theirs.pk).items() if k != "at"
    }
    assert stored.get(pk=ours.pk)["at"] == ours.at  # auto_now_add: the field's own pre_save


def test_a_history_row_is_written_by_the_insert_and_reads_back_whole(users, open_case, fresh, monkeypatch):
    from referral_engine.audit import records
    from referral_engine.cases.services.case_state import case_transition

    case = open_case("worker_welfare")
    inserted = []
    monkeypatch.setattr(records, "bound_insert", lambda obj: inserted.append(type(obj).__name__) or real(obj))
    real = bound_queries.bound_insert
    case_transition(case_id=case.pk, name="start_assessment", actor=fresh(users["worker_welfare"]), reason="訪問")
    assert {"HistoricalCase", "HistoricalTimer"} <= set(inserted)
    last = case.history.order_by("-history_id").first()
    assert (last.state, last.history_user.username, last.history_change_reason, last.history_type) == (
        "assessing",
        "worker_welfare",
        "start_assessment: 訪問",
        "~",
    )
    assert last.summary == case.summary and last.person_id == case.person_id


def test_an_expression_value_is_saved_the_orms_way(users):
    from django.db.models import Value

    from referral_engine.audit.models import AccessLog

    log = bound_queries.bound_insert(_log(users["auditor"], object_id=Value(5)))
    assert AccessLog.objects.get(pk=log.pk).object_id == 5


def test_every_historied_model_declares_the_engines_historical_records():
    """A model that took simple-history's `HistoricalRecords` directly would build a manager class per
    history row and compile each row's INSERT: `referral_engine.audit.records` is the one to use."""
    from django.apps import apps

    from referral_engine.audit.history import history_model_for
    from referral_engine.audit.records import HistoryManager, HistoryRow

    historied = [m for m in apps.get_models() if history_model_for(m) is not None]
    assert len(historied) >= 20
    for model in historied:
        manager = getattr(model, model._meta.simple_history_manager_attribute)
        assert issubclass(history_model_for(model), HistoryRow), model
        assert isinstance(manager, HistoryManager), model


# --- Updates ------------------------------------------------------------------------------------


def _compilations(monkeypatch, compiler_class):
    """The models whose statements `compiler_class` compiles from now on (none when a bound statement
    is sent instead)."""
    compiled = []
    real = compiler_class.as_sql

    def as_sql(self, *args, **kwargs):
        compiled.append(self.query.model.__name__)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(compiler_class, "as_sql", as_sql)
    return compiled


@pytest.fixture
def orm_updates(monkeypatch):
    """The UpdateQuery compilations the ORM runs."""
    from django.db.models.sql.compiler import SQLUpdateCompiler

    return _compilations(monkeypatch, SQLUpdateCompiler)


def _updates(ctx):
    return [q["sql"] for q in ctx.captured_queries if q["sql"].startswith("UPDATE")]


def test_an_update_writes_the_columns_asked_and_none_other(users, open_case, orm_updates):
    from referral_engine.cases.models import Case

    case = open_case("worker_welfare")
    other = Case.objects.get(pk=case.pk)
    other.summary = "別の画面での書き換え"  # a column the next save does not name keeps this value
    other.save(update_fields=["summary"])
    case.closure_reason, case.lead_worker, case.needs = "", None, ["isolation", "poverty"]
    with CaptureQueriesContext(connection) as ctx:
        case.save(update_fields=["closure_reason", "lead_worker", "needs"])
    (sql,) = _updates(ctx)
    assert '"lead_worker_id" = NULL' in sql and '"summary"' not in sql and '"state" = ' in sql  # fsm's condition
    assert orm_updates == []  # neither save compiled an UpdateQuery
    again = Case.objects.get(pk=case.pk)
    assert (again.summary, again.lead_worker_id, again.needs, again.updated_at) == (
        "別の画面での書き換え",
        None,
        ["isolation", "poverty"],
        case.updated_at,  # auto_now: the field's own pre_save, as the ORM's update
    )


def test_a_state_moved_by_another_save_is_a_concurrent_transition(users, open_case):
    from django_fsm import ConcurrentTransition

    from referral_engine.cases.models import Case

    case = open_case("worker_welfare")
    Case.objects.filter(pk=case.pk).update(state="assessing")  # behind the loaded copy's back
    case.summary = "古い状態のまま保存"
    with pytest.raises(ConcurrentTransition), transaction.atomic():
        case.save(update_fields=["summary"])
    assert Case.objects.get(pk=case.pk).summary != "古い状態のまま保存"


def test_a_row_that_is_gone_is_reported_as_the_orm_reports_it(users, open_case, orm_updates):
    from django.db import DatabaseError

    timer = Timer.objects.get(case=open_case("worker_welfare"))
    Timer.objects.filter(pk=timer.pk).delete()
    timer.cycle = 2
    with pytest.raises(DatabaseError, match="did not affect any rows"), transaction.atomic():
        timer.save(update_fields=["cycle"])
    assert orm_updates == []


def test_an_expression_in_an_update_is_the_orms(users, open_case, orm_updates):
    from django.db.models import F

    timer = Timer.objects.get(case=open_case("worker_welfare"))
    cycle = timer.cycle
    timer.cycle = F("cycle") + 4
    timer.skip_history_when_saving = True  # simple-history cannot copy an expression into its row
    timer.save(update_fields=["cycle"])
    assert orm_updates == ["Timer"] and Timer.objects.get(pk=timer.pk).cycle == cycle + 4


@pytest.fixture
def orm_inserts(monkeypatch):
    """The InsertQuery compilations the ORM runs, by model."""
    from django.db.models.sql.compiler import SQLInsertCompiler

    return _compilations(monkeypatch, SQLInsertCompiler)


def _person(**fields):
    from referral_engine.cases.models import Person

    return Person(
        family_name="津久見", given_name="花子", family_name_kana="ツクミ", given_name_kana="ハナコ", **fields
    )


def test_a_new_rows_save_writes_what_the_orms_insert_writes(users, orm_inserts):
    from referral_engine.cases.models import Person

    ours = _person(phone="0972-00-0000")
    ours.save()
    assert orm_inserts == []  # the person's INSERT and its history row's are bound
    theirs = _person(phone="0972-00-0000")
    Person._base_manager.bulk_create([theirs])  # the ORM's own INSERT of the same values
    assert "Person" in orm_inserts
    skip = {"id", "created_at", "updated_at"}
    stored = [
        {k: v for k, v in row.items() if k not in skip}
        for row in Person.objects.filter(pk__in=[ours.pk, theirs.pk]).values()
    ]
    assert ours.pk is not None and not ours._state.adding and stored[0] == stored[1]
    assert Person.objects.get(pk=ours.pk).created_at == ours.created_at  # auto_now_add: the field's pre_save


def test_a_row_with_its_key_set_is_inserted_the_orms_way(users, orm_inserts):
    from referral_engine.cases.models import Person

    taken = Person.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    person = _person(pk=taken + 1000)
    person.save(force_insert=True)
    assert "Person" in orm_inserts and Person.objects.filter(pk=taken + 1000).exists()


def test_bulk_rows_are_one_statement_with_what_bulk_create_writes(users, open_case, orm_inserts):
    from django.contrib.auth.models import Group

    from referral_engine.access.models import CaseGroupObjectPermission
    from referral_engine.access.permissions import permission_id

    case = open_case("worker_welfare")
    assert orm_inserts == ["CaseNumberSequence"]  # the case, its person, clock, event and rows: all bound
    orm_inserts.clear()
    groups = list(Group.objects.order_by("pk")[:3])
    CaseGroupObjectPermission.objects.filter(content_object=case).delete()
    now = timezone.now()

    def rows(code):
        perm = permission_id("case", code)
        return [
            CaseGroupObjectPermission(group=g, permission_id=perm, content_object=case, granted_at=now) for g in groups
        ]

    with CaptureQueriesContext(connection) as ctx:
        bound_queries.bound_bulk_insert(rows("view_case_limited"))
    assert len(ctx.captured_queries) == 1 and orm_inserts == []
    CaseGroupObjectPermission.objects.bulk_create(rows("work_case"))
    stored = CaseGroupObjectPermission.objects.filter(content_object=case).values_list(
        "group_id", "permission__codename", "granted_at"
    )
    assert (
        sorted((g, t) for g, code, t in stored if code == "view_case_limited")
        == sorted((g, t) for g, code, t in stored if code == "work_case")
        == sorted((g.pk, now) for g in groups)
    )


def test_a_referral_finds_its_department_and_tells_its_supervisors_as_the_queryset_would(users, open_case, fresh):
    """The receiving department (by code) and its members (the notification's recipients) are bound
    statements (`cases.services.departments`): the same people as the queryset, an inactive
    department refused."""
    from referral_engine.accounts.models import Department, User
    from referral_engine.accounts.roles import Role
    from referral_engine.cases.models import Referral
    from referral_engine.cases.services.referrals import referral_create
    from referral_engine.errors import InvalidInput
    from referral_engine.notifications.models import Notification

    worker = users["worker_welfare"]
    told = set()
    for code in ("health_promotion", "longevity_support"):
        case = open_case("worker_welfare")
        referral = referral_create(
            case_id=case.pk, actor=fresh(worker), to_department=code, basis="internal_use", reason="支援の依頼"
        )
        expected = User.objects.filter(
            memberships__department__code=code,
            memberships__role=Role.SUPERVISOR,
            memberships__ended_at__isnull=True,
            is_active=True,
        ).distinct()
        recipients = Notification.objects.filter(referral_id=referral.pk).values_list("recipient__username", flat=True)
        assert referral.to_department.code == code
        assert sorted(recipients) == sorted(u.username for u in expected) != []
        told |= set(recipients)
    assert len(told) >= 2
    Department.objects.filter(code="longevity_support").update(is_active=False)
    before = Referral.objects.count()
    with pytest.raises(InvalidInput) as refused:
        referral_create(
            case_id=open_case("worker_welfare").pk,
            actor=fresh(worker),
            to_department="longevity_support",
            basis="internal_use",
            reason="支援の依頼",
        )
    assert "to_department" in refused.value.fields and Referral.objects.count() == before
