"""見守り依頼 (DESIGN §11.4, issue 19): the legal basis of a request to a district, what its connectors
may see and do, the report on the case timeline, the urgent escalation, the silent-watch reminder."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from referral_engine.accounts.system import system_user
from referral_engine.cases.choices import EventKind, WatchState
from referral_engine.cases.models import CaseEvent, WatchReport, WatchRequest
from referral_engine.cases.services.records import consent_record, consent_withdraw
from referral_engine.cases.services.watch import (
    watch_reminders_send,
    watch_report_add,
    watch_request_close,
    watch_request_create,
)
from referral_engine.errors import Forbidden, InvalidInput, NotFound
from referral_engine.notifications.models import Notification
from referral_engine.timers.models import Escalation

pytestmark = pytest.mark.django_db

BASES = ["consent", "internal_use", "support_meeting", "vital_interest", "disaster", "legal_duty"]
CONSENT_STATES = ["present", "absent", "withdrawn", "other_district"]


def _until(days: int = 60):
    return timezone.localdate() + timedelta(days=days)


@pytest.fixture
def case(open_case):
    return open_case("worker_welfare")


def _ask(users, fresh, case, **overrides):
    data = {
        "district": "kawakami",
        "what_to_watch": "新聞がたまっていないか、夜に明かりがつくか",
        "basis": "support_meeting",
        "justification": "支援会議（令和8年5月）で見守りを合意",
        "until": _until(),
    }
    data.update(overrides)
    return watch_request_create(case_id=case.pk, actor=fresh(users["worker_welfare"]), **data)


def _consent(users, fresh, case, state):
    if state == "absent":
        return None
    scope = "district:aoe" if state == "other_district" else "district:kawakami"
    consent = consent_record(
        case_id=case.pk, actor=fresh(users["worker_welfare"]), recipients=[scope], purposes="見守り", method="oral"
    )
    if state == "withdrawn":
        consent_withdraw(consent_id=consent.pk, actor=fresh(users["worker_welfare"]))
    return consent


# --- Basis × consent --------------------------------------------------------------------------------


def _expected(basis: str, consent_state: str, justified: bool) -> bool:
    if basis == "consent":
        return consent_state == "present"
    if basis in ("support_meeting", "vital_interest", "disaster"):
        return justified
    return False  # internal_use: volunteers are outside the city; legal_duty: no statute reaches them


@pytest.mark.parametrize("consent_state", CONSENT_STATES)
@pytest.mark.parametrize("basis", BASES)
@pytest.mark.parametrize("justified", [True, False], ids=["justified", "unjustified"])
def test_basis_rules(users, fresh, case, basis, consent_state, justified):
    _consent(users, fresh, case, consent_state)
    before = (WatchRequest.objects.count(), CaseEvent.objects.filter(case=case).count())
    call = lambda: _ask(users, fresh, case, basis=basis, justification="支援会議で合意" if justified else "")  # noqa: E731
    if _expected(basis, consent_state, justified):
        watch = call()
        assert watch.basis == basis and watch.state == WatchState.OPEN
        disclosure = CaseEvent.objects.get(case=case, kind=EventKind.DISCLOSURE, data__watch_request_id=watch.pk)
        assert disclosure.data["to"] == "district:kawakami" and disclosure.name == basis
        assert (watch.consent_id is not None) == (basis == "consent")
    else:
        with pytest.raises(InvalidInput) as refused:
            call()
        assert set(refused.value.fields) & {"basis", "consent_id", "justification"}
        assert (WatchRequest.objects.count(), CaseEvent.objects.filter(case=case).count()) == before


def test_only_staff_with_full_view_ask(users, fresh, open_case):
    limited = open_case(
        "worker_welfare", referrals=[{"to_department": "longevity_support", "basis": "internal_use", "reason": "介護"}]
    )
    with pytest.raises(Forbidden):  # sees the case (requested referral), but not all of it
        watch_request_create(
            case_id=limited.pk,
            actor=fresh(users["worker_longevity"]),
            district="kawakami",
            what_to_watch="様子",
            basis="vital_interest",
            justification="連絡がとれない",
            until=_until(),
        )
    with pytest.raises(NotFound):
        watch_request_create(
            case_id=limited.pk,
            actor=fresh(users["minsei_kawakami"]),
            district="kawakami",
            what_to_watch="様子",
            basis="vital_interest",
            justification="連絡がとれない",
            until=_until(),
        )
    assert not WatchRequest.objects.exists()


def test_until_must_be_within_a_year(users, fresh, case):
    for bad in (timezone.localdate() - timedelta(days=1), _until(400), "not-a-date"):
        with pytest.raises(InvalidInput) as refused:
            _ask(users, fresh, case, until=bad)
        assert "until" in refused.value.fields


# --- A connector's report ----------------------------------------------------------------------------


def test_report_lands_on_the_timeline_and_tells_the_requester(users, fresh, case):
    watch = _ask(users, fresh, case)
    report = watch_report_add(
        watch_request_id=watch.pk, actor=fresh(users["minsei_kawakami"]), outcome="met", note="元気そう"
    )
    event = CaseEvent.objects.get(case=case, kind=EventKind.WATCH_REPORT)
    assert event.data["outcome"] == "met" and event.data["report_id"] == report.pk
    assert "元気そう" not in str(event.data) + event.reason  # the note stays on the report
    told = Notification.objects.get(kind="watch_report")
    assert told.recipient == users["worker_welfare"]
    assert case.number in told.title and "元気そう" not in told.title + told.body
    assert case.person.family_name not in told.title + told.body
    watch.refresh_from_db()
    assert watch.last_report_at is not None
    assert not Escalation.objects.exists()


def test_urgent_escalates_to_the_lead_supervisor_at_once(users, fresh, case):
    watch = _ask(users, fresh, case)
    watch_report_add(watch_request_id=watch.pk, actor=fresh(users["minsei_kawakami"]), outcome="urgent")
    escalation = Escalation.objects.get()
    assert escalation.case == case and escalation.department == case.lead_department
    assert escalation.rule == "watch_urgent" and escalation.state == Escalation.State.OPEN
    supervisors = set(
        Notification.objects.filter(escalation_id=escalation.pk).values_list("recipient__username", flat=True)
    )
    assert supervisors == {"chief_welfare"}
    assert CaseEvent.objects.filter(case=case, kind=EventKind.ESCALATION).exists()
    # A second urgent report is its own escalation (one per report).
    watch_report_add(watch_request_id=watch.pk, actor=fresh(users["minsei_kawakami"]), outcome="urgent")
    assert Escalation.objects.count() == 2


def test_other_district_and_staff_cannot_report(users, fresh, case):
    watch = _ask(users, fresh, case)
    with pytest.raises(NotFound):
        watch_report_add(watch_request_id=watch.pk, actor=fresh(users["minsei_aoe"]), outcome="met")
    with pytest.raises(Forbidden):
        watch_report_add(watch_request_id=watch.pk, actor=fresh(users["worker_welfare"]), outcome="met")
    with pytest.raises(InvalidInput):
        watch_report_add(watch_request_id=watch.pk, actor=fresh(users["minsei_kawakami"]), outcome="fine")
    with pytest.raises(InvalidInput) as refused:
        watch_report_add(
            watch_request_id=watch.pk,
            actor=fresh(users["minsei_kawakami"]),
            outcome="met",
            visited_on=timezone.localdate() + timedelta(days=1),
        )
    assert "visited_on" in refused.value.fields
    assert not WatchReport.objects.exists()


def test_closed_or_expired_requests_leave_the_connectors_view_but_stay(users, fresh, case):
    closing = _ask(users, fresh, case)
    expiring = _ask(users, fresh, case, until=timezone.localdate())
    watch_request_close(watch_request_id=closing.pk, actor=fresh(users["worker_welfare"]), reason="入院")
    with pytest.raises(NotFound):
        watch_report_add(watch_request_id=closing.pk, actor=fresh(users["minsei_kawakami"]), outcome="met")
    WatchRequest.objects.filter(pk=expiring.pk).update(until=timezone.localdate() - timedelta(days=1))
    with pytest.raises(NotFound):
        watch_report_add(watch_request_id=expiring.pk, actor=fresh(users["minsei_kawakami"]), outcome="met")
    assert WatchRequest.objects.filter(pk__in=[closing.pk, expiring.pk]).count() == 2
    assert CaseEvent.objects.filter(case=case, kind=EventKind.WATCH_CLOSED).count() == 1


# --- The silent-watch reminder ---------------------------------------------------------------------


def test_a_request_without_a_report_in_14_days_reminds_the_requester_once(users, fresh, case):
    watch = _ask(users, fresh, case)
    reported = _ask(users, fresh, case)
    watch_report_add(watch_request_id=reported.pk, actor=fresh(users["minsei_kawakami"]), outcome="absent")
    system = system_user()
    assert watch_reminders_send(actor=system, now=timezone.now() + timedelta(days=13)) == 0
    later = timezone.now() + timedelta(days=14, minutes=1)
    assert watch_reminders_send(actor=system, now=later) == 2
    assert Notification.objects.filter(kind="watch_silent", recipient=users["worker_welfare"]).count() == 2
    assert watch_reminders_send(actor=system, now=later + timedelta(days=1)) == 0  # once per silent period
    watch_report_add(watch_request_id=watch.pk, actor=fresh(users["minsei_kawakami"]), outcome="met")
    watch.refresh_from_db()
    assert watch.remind_at > timezone.now() + timedelta(days=13)


def test_only_the_system_sends_reminders(users, fresh):
    with pytest.raises(Forbidden):
        watch_reminders_send(actor=fresh(users["chief_welfare"]))
