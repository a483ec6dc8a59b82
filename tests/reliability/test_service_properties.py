"""Hostile input to the write services (issue 11 §3): whatever a client sends, `case_open`,
`referral_create`, `referral_transition`, `case_transition` and `activity_add` either give a valid
result or raise a DomainError, and an error leaves every count unchanged (nothing half-saved).

Inputs: any Unicode (astral kanji 𠮷 𩸽, emoji, combining marks, control and format characters),
very long text, odd JSON types where a string is expected, impossible and edge dates (1900-02-29,
2019-02-29, leap days, 令和元年 / 平成31年 boundaries, 和暦 strings the API does not accept).
Each example runs in a savepoint that is rolled back, so examples are independent.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from referral_engine.audit.models import AccessLog
from referral_engine.cases.choices import ActivityKind, Basis, Channel, ClosureReason, Need, PersonFlag, Risk
from referral_engine.cases.inputs import MAX_TEXT
from referral_engine.cases.models import Activity, Case, CaseEvent, Consent, IntakeToken, Person, Referral
from referral_engine.cases.services.case_state import CASE_TRANSITIONS, case_transition
from referral_engine.cases.services.intake import case_open
from referral_engine.cases.services.records import activity_add
from referral_engine.cases.services.referrals import HANDOFF_TRANSITIONS, referral_create, referral_transition
from referral_engine.errors import DomainError
from referral_engine.notifications.models import Notification
from referral_engine.timers.models import Escalation, Timer

PROPERTY = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)

DEPARTMENTS = ["social_welfare", "health_promotion", "longevity_support", "disaster_prevention", "shakyo"]
ACTORS = ["desk_welfare", "worker_welfare", "worker_health", "chief_welfare", "auditor", "minsei_aoe", "admin"]

# --- Strategies -----------------------------------------------------------------------------------

RARE = [
    "𠮷",
    "𩸽",
    "髙",
    "﨑",
    "㈱",
    "ｶﾞ",
    "ヴ",
    "👨‍👩‍👧",
    "🧓🏽",
    "\u200d",
    "\ufeff",
    "\u202e",
    "e\u0301",
    "\x00",
    "\x7f",
    "\x85",
]
unicode_text = st.lists(st.one_of(st.characters(exclude_categories=["Cs"]), st.sampled_from(RARE)), max_size=40).map(
    "".join
)
long_text = st.builds(lambda ch, n: ch * n, st.sampled_from(["あ", "𠮷", "a", "\n", " "]), st.integers(9_990, 10_020))
any_text = st.one_of(unicode_text, long_text, st.sampled_from(["", " ", "\n\t", "\x00\x01", "=cmd|' /C calc'!A0"]))
json_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    unicode_text,
)
json_value = st.recursive(
    json_scalar,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(unicode_text, inner, max_size=3),
    max_leaves=6,
)


def text_or(*values) -> st.SearchStrategy:
    return st.one_of(st.sampled_from(list(values)), any_text, json_value)


EDGE_DATES = [
    "2019-05-01",  # 令和元年5月1日
    "2019-04-30",  # 平成31年4月30日
    "1989-01-07",  # 昭和64年1月7日
    "1989-01-08",  # 平成元年1月8日
    "2020-02-29",  # leap day, 令和2年
    "2000-02-29",  # leap day of a century divisible by 400
    "1900-02-29",  # impossible: 1900 is not a leap year
    "2019-02-29",  # impossible
    "2023-02-30",
    "2024-13-01",
    "0000-00-00",
    "1879-12-31",  # before any plausible birth
    "9999-12-31",  # future
    "令和元年5月1日",
    "平成31年4月30日",
    "R1.5.1",
    "H31/04/30",
    "２０１９－０５－０１",  # full-width digits
    "2019-5-1",
    "20190501",
    "2019-W18-3",
]
birth_dates = st.one_of(
    st.sampled_from(EDGE_DATES),
    st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)),
    st.dates().map(date.isoformat),
    json_value,
)
person_data = st.fixed_dictionaries(
    {
        "family_name": text_or("津久見", "𠮷田"),
        "given_name": text_or("花子", "𩸽"),
        "family_name_kana": text_or("ツクミ", "ﾂｸﾐ", "つくみ"),
        "given_name_kana": text_or("ハナコ"),
        "birth_date": birth_dates,
    },
    optional={
        "district": text_or("kawakami", "aoe", "nowhere"),
        "address": any_text,
        "phone": text_or("0972-00-0001", "０９７２００００１"),
        "sex": text_or("female", "male", "x"),
        "flags": st.one_of(st.lists(st.sampled_from(list(PersonFlag.values) + ["bogus"]), max_size=3), json_value),
    },
)
referral_spec = st.fixed_dictionaries(
    {
        "to_department": text_or(*DEPARTMENTS, "city_hall"),
        "basis": text_or(*Basis.values),
        "reason": any_text,
    },
    optional={"justification": any_text, "urgent": json_value, "consent_id": json_value},
)
aware_datetimes = st.datetimes(
    min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
).filter(lambda d: d.year > 1900)


# --- Evidence -------------------------------------------------------------------------------------


def counts() -> dict[str, int]:
    return {
        "person": Person.objects.count(),
        "case": Case.objects.count(),
        "referral": Referral.objects.count(),
        "event": CaseEvent.objects.count(),
        "activity": Activity.objects.count(),
        "consent": Consent.objects.count(),
        "notification": Notification.objects.count(),
        "timer": Timer.objects.count(),
        "escalation": Escalation.objects.count(),
        "intake_token": IntakeToken.objects.count(),
        "access_log": AccessLog.objects.count(),
        "history_person": Person.history.count(),
        "history_case": Case.history.count(),
        "history_referral": Referral.history.count(),
        "history_activity": Activity.history.count(),
    }


class _Rollback(Exception):
    pass


def outcome(call):
    """Run `call` in a savepoint rolled back afterwards; return ("ok", result, delta) or
    ("error", exc, delta). Any exception other than a DomainError fails the test as it is."""
    result: list = []
    try:
        with transaction.atomic():
            before = counts()
            try:
                value = call()
            except DomainError as exc:
                after = counts()
                result[:] = ["error", exc, {k: after[k] - before[k] for k in after}]
            else:
                after = counts()
                result[:] = ["ok", value, {k: after[k] - before[k] for k in after}]
            raise _Rollback
    except _Rollback:
        pass
    return tuple(result)


def assert_nothing_saved(delta: dict[str, int], exc: DomainError) -> None:
    changed = {k: v for k, v in delta.items() if v}
    assert not changed, f"{type(exc).__name__}({exc.message!r}) left rows behind: {changed}"


def assert_clean_text(value: str) -> None:
    assert len(value) <= MAX_TEXT
    assert not re.search(r"[\x00-\x08\x0b-\x1f]", value), repr(value[:80])


# --- case_open ------------------------------------------------------------------------------------


@pytest.mark.django_db
@PROPERTY
@given(
    summary=any_text,
    person=st.one_of(person_data, json_value),
    needs=st.one_of(st.lists(st.sampled_from(list(Need.values) + ["bogus"]), max_size=4), json_value),
    risk=text_or(*Risk.values),
    channel=text_or(*Channel.values),
    referrals=st.one_of(st.none(), st.lists(st.one_of(referral_spec, json_value), max_size=3)),
    first_note=any_text,
    confirm=st.booleans(),
)
def test_case_open_any_input(users, fresh, summary, person, needs, risk, channel, referrals, first_note, confirm):
    kind, value, delta = outcome(
        lambda: case_open(
            actor=fresh(users["desk_welfare"]),
            summary=summary,
            person=person,
            needs=needs,
            risk=risk,
            channel=channel,
            referrals=referrals,
            first_note=first_note,
            confirm_new_person=confirm,
        )
    )
    if kind == "error":
        assert_nothing_saved(delta, value)
        return
    case = value
    assert re.fullmatch(r"R\d+-\d{6}", case.number)
    assert case.state == "received"
    assert case.summary and case.summary == case.summary.strip()
    assert_clean_text(case.summary)
    assert_clean_text(case.person.family_name)
    assert case.channel in Channel.values and case.risk in Risk.values
    assert set(case.needs) <= set(Need.values)
    birth = case.person.birth_date
    assert birth is None or date(1880, 1, 1) <= birth <= date.today() + timedelta(days=1)
    assert delta["case"] == 1 and delta["event"] >= 1 and delta["history_case"] >= 1
    assert delta["referral"] == len(referrals or [])


@pytest.mark.django_db
@PROPERTY
@given(birth_date=birth_dates)
def test_birth_dates_are_a_valid_date_or_an_invalid_input(users, fresh, birth_date):
    person = {"family_name": "保戸島", "given_name": "一郎", "family_name_kana": "ホトジマ", "birth_date": birth_date}
    kind, value, delta = outcome(
        lambda: case_open(actor=fresh(users["desk_welfare"]), summary="相談", person=person, confirm_new_person=True)
    )
    if kind == "error":
        assert_nothing_saved(delta, value)
        assert value.status == 400
        return
    stored = value.person.birth_date
    assert stored is None or isinstance(stored, date)
    if isinstance(birth_date, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", birth_date):
        assert stored == date.fromisoformat(birth_date)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("birth_date", "valid"),
    [
        ("2019-05-01", True),  # 令和元年5月1日
        ("2019-04-30", True),  # 平成31年4月30日
        ("1989-01-07", True),  # 昭和64年1月7日
        ("2020-02-29", True),  # 令和2年2月29日
        ("1900-02-29", False),
        ("2019-02-29", False),
        ("令和元年5月1日", False),  # 和暦 text: the API takes ISO dates only
        ("9999-12-31", False),
    ],
)
def test_era_and_leap_day_edges(users, fresh, birth_date, valid):
    person = {"family_name": "彦ノ内", "family_name_kana": "ヒコノウチ", "birth_date": birth_date}
    kind, value, delta = outcome(
        lambda: case_open(actor=fresh(users["desk_welfare"]), summary="相談", person=person, confirm_new_person=True)
    )
    assert (kind == "ok") is valid, value
    if valid:
        assert value.person.birth_date == date.fromisoformat(birth_date)
    else:
        assert_nothing_saved(delta, value)


# --- referral_create ------------------------------------------------------------------------------


@pytest.fixture
def case_with_referral(open_case):
    return open_case(
        "worker_welfare",
        referrals=[{"to_department": "health_promotion", "basis": "internal_use", "reason": "家庭訪問の依頼"}],
    )


@pytest.mark.django_db
@PROPERTY
@given(
    actor=st.sampled_from(ACTORS),
    to_department=text_or(*DEPARTMENTS),
    basis=text_or(*Basis.values),
    reason=any_text,
    justification=any_text,
    urgent=json_value,
    consent_id=st.one_of(st.none(), json_value),
    previous_id=st.one_of(st.none(), st.integers(-5, 2**63 + 5)),
)
def test_referral_create_any_input(
    case_with_referral,
    users,
    fresh,
    actor,
    to_department,
    basis,
    reason,
    justification,
    urgent,
    consent_id,
    previous_id,
):
    case = case_with_referral
    kind, value, delta = outcome(
        lambda: referral_create(
            case_id=case.pk,
            actor=fresh(users[actor]),
            to_department=to_department,
            basis=basis,
            reason=reason,
            justification=justification,
            urgent=urgent,
            consent_id=consent_id,
            previous_id=previous_id,
        )
    )
    if kind == "error":
        assert_nothing_saved(delta, value)
        return
    referral = value
    assert referral.state == "requested" and referral.basis in Basis.values
    assert referral.to_department.code in DEPARTMENTS
    assert_clean_text(referral.reason)
    assert delta["referral"] == 1 and delta["event"] == 2  # the request and the disclosure


# --- referral_transition / case_transition ---------------------------------------------------------


@pytest.mark.django_db
@PROPERTY
@given(
    actor=st.sampled_from(ACTORS + ["worker_longevity"]),
    name=st.one_of(st.sampled_from(list(HANDOFF_TRANSITIONS) + ["return_", "arrange_visit", "__class__"]), any_text),
    reason=any_text,
    referral_id=st.one_of(st.none(), st.integers(-5, 2**64), st.just("x"), json_value),
    use_real_id=st.booleans(),
)
def test_referral_transition_any_input(case_with_referral, users, fresh, actor, name, reason, referral_id, use_real_id):
    referral = case_with_referral.referrals.get()
    target_id = referral.pk if use_real_id else referral_id
    kind, value, delta = outcome(
        lambda: referral_transition(referral_id=target_id, name=name, actor=fresh(users[actor]), reason=reason)
    )
    if kind == "error":
        assert_nothing_saved(delta, value)
        return
    assert value.pk == referral.pk
    assert value.state in {"requested", "accepted", "declined", "cancelled", "returned", "completed"}
    assert delta["event"] == 1 and delta["history_referral"] == 1


@pytest.mark.django_db
@PROPERTY
@given(
    actor=st.sampled_from(ACTORS),
    steps=st.lists(
        st.tuples(
            st.one_of(st.sampled_from(CASE_TRANSITIONS), any_text),
            any_text,
            text_or(*ClosureReason.values),
        ),
        min_size=1,
        max_size=4,
    ),
    case_id=st.one_of(st.none(), st.integers(-5, 2**64), json_value),
    use_real_id=st.booleans(),
)
def test_case_transition_any_input(open_case, users, fresh, actor, steps, case_id, use_real_id):
    case = open_case("worker_welfare")
    for name, reason, closure_reason in steps:
        target_id = case.pk if use_real_id else case_id
        kind, value, delta = outcome(
            functools.partial(
                case_transition,
                case_id=target_id,
                name=name,
                actor=fresh(users[actor]),
                reason=reason,
                closure_reason=closure_reason,
            )
        )
        if kind == "error":
            assert_nothing_saved(delta, value)
            continue
        assert value.state in {"received", "assessing", "in_support", "monitoring", "on_hold", "closed"}
        assert delta["event"] == 1 and delta["history_case"] >= 1
        assert value.state != "closed" or value.closure_reason in ClosureReason.values


# --- activity_add ---------------------------------------------------------------------------------


@pytest.mark.django_db
@PROPERTY
@given(
    actor=st.sampled_from(ACTORS),
    kind=text_or(*ActivityKind.values),
    body=any_text,
    sensitive=json_value,
    occurred_at=st.one_of(st.none(), aware_datetimes),
)
def test_activity_add_any_input(open_case, users, fresh, actor, kind, body, sensitive, occurred_at):
    case = open_case("worker_welfare")
    result = outcome(
        lambda: activity_add(
            case_id=case.pk,
            actor=fresh(users[actor]),
            kind=kind,
            body=body,
            sensitive=sensitive,
            occurred_at=occurred_at,
        )
    )
    status, value, delta = result
    if status == "error":
        assert_nothing_saved(delta, value)
        return
    assert value.kind in ActivityKind.values
    assert value.body and len(value.body) <= MAX_TEXT
    assert delta["activity"] == 1 and delta["event"] == 1
