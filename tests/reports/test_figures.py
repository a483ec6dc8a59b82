"""Every figure of the fiscal-year report equals a plain count over the rows it describes: on data
made by the load generator (every state, channel, window, need, district; はざま cases; slips) and on
hand-made cases either side of the fiscal-year boundary (31 March 23:59 vs 1 April 00:00 JST).

The plain counts are written independently of the report's queries: one `count()` per bucket or a
loop over the rows in Python, the percentiles with the standard library."""

from __future__ import annotations

import statistics
from collections import Counter

import pytest
from django.core.management import call_command
from django.db.models import Q

from referral_engine.accounts.models import Department, District
from referral_engine.cases.choices import Channel, ClosureReason, EventKind, Need, ReferralState
from referral_engine.cases.models import Case, CaseEvent, CommunitySlip, Referral, WatchRequest
from referral_engine.cases.services.case_state import case_transition
from referral_engine.cases.services.referrals import referral_transition
from referral_engine.cases.services.slips import slip_submit
from referral_engine.reports.periods import FiscalYear
from referral_engine.reports.selectors import fiscal_year_report, percentile_cont
from tests.reports.conftest import at, jst

pytestmark = pytest.mark.django_db

TO_HEALTH = {"to_department": "health_promotion", "basis": "internal_use", "reason": "訪問をお願いします。"}
TO_LONGEVITY = {"to_department": "longevity_support", "basis": "internal_use", "reason": "介護の確認"}


def plain_report(year: int, department_codes: set[str] | None = None) -> dict:
    """The report's figures computed the obvious way (None: the whole desk)."""
    fy = FiscalYear(year)
    cases = Case.objects.filter(created_at__gte=fy.start, created_at__lt=fy.end)
    referrals = Referral.objects.filter(created_at__gte=fy.start, created_at__lt=fy.end)
    if department_codes is not None:
        ids = set(Department.objects.filter(code__in=department_codes).values_list("pk", flat=True))
        referred = set(Referral.objects.filter(to_department_id__in=ids).values_list("case_id", flat=True))
        kept = [c.pk for c in cases if c.intake_department_id in ids or c.lead_department_id in ids or c.pk in referred]
        cases = Case.objects.filter(pk__in=kept)
        referrals = referrals.filter(Q(to_department_id__in=ids) | Q(from_department_id__in=ids))
    watches = WatchRequest.objects.filter(created_at__gte=fy.start, created_at__lt=fy.end)
    if department_codes is not None:
        watches = [w for w in watches if w.department_id in ids or w.case_id in set(kept)]
    rows = list(cases.select_related("person", "intake_department"))
    needs: Counter[str] = Counter()
    for case in rows:
        needs.update(set(case.needs))
    districts = {d.code: sum(1 for c in rows if c.person.district_id == d.pk) for d in District.objects.all()}
    districts["unknown"] = sum(1 for c in rows if c.person.district_id is None)
    months = {m.key: cases.filter(created_at__gte=m.start, created_at__lt=m.end).count() for m in fy.months()}
    by_department = {
        d.code: {s: referrals.filter(to_department=d, state=s).count() for s in ReferralState.values}
        for d in Department.objects.all()
    }
    waits = [
        (r.responded_at - r.created_at).total_seconds() / 3600
        for r in referrals.filter(state__in=["accepted", "completed", "returned"], responded_at__isnull=False)
    ]
    gap_flagged = set(CaseEvent.objects.filter(kind=EventKind.GAP_FLAGGED).values_list("case_id", flat=True))
    return {
        "consultations": {
            "total": cases.count(),
            "by_channel": {c: cases.filter(channel=c).count() for c in Channel.values},
            "by_window": {d.code: cases.filter(intake_department=d).count() for d in Department.objects.all()},
            "by_need": {n: needs[n] for n in Need.values},
            "by_district": districts,
            "by_month": months,
        },
        "referrals": {
            "total": referrals.count(),
            "by_department": by_department,
            "waits": waits,
        },
        "gap_cases": sum(1 for c in rows if c.pk in gap_flagged),
        "closures": {
            "total": cases.filter(state="closed").count(),
            "by_reason": {r: cases.filter(state="closed", closure_reason=r).count() for r in ClosureReason.values},
        },
        "community_slips": CommunitySlip.objects.filter(
            created_at__gte=fy.start, created_at__lt=fy.end, case__in=cases
        ).count(),
        "watch_requests": len(list(watches)),
    }


def assert_matches(report: dict, plain: dict) -> None:
    assert report["consultations"] == plain["consultations"]
    assert report["referrals"]["total"] == plain["referrals"]["total"]
    assert report["referrals"]["by_department"] == plain["referrals"]["by_department"]
    waits = plain["referrals"]["waits"]
    acceptance = report["referrals"]["acceptance_hours"]
    assert acceptance["count"] == len(waits)
    if waits:
        assert acceptance["median"] == round(statistics.median(waits), 1)
        p90 = statistics.quantiles(waits, n=10, method="inclusive")[8] if len(waits) > 1 else waits[0]
        assert acceptance["p90"] == round(p90, 1)
    else:
        assert acceptance == {"median": None, "p90": None, "count": 0}
    assert report["gap_cases"] == plain["gap_cases"]
    assert report["closures"] == plain["closures"]
    assert report["community_slips"] == plain["community_slips"]
    assert report["watch_requests"] == plain["watch_requests"]
    # Every breakdown adds up to the total (a need may count a case twice: not that one).
    total = report["consultations"]["total"]
    for figure in ("by_channel", "by_window", "by_district", "by_month"):
        assert sum(report["consultations"][figure].values()) == total, figure
    assert sum(report["closures"]["by_reason"].values()) == report["closures"]["total"]
    assert sum(sum(s.values()) for s in report["referrals"]["by_department"].values()) == report["referrals"]["total"]


# --- Generated data ---------------------------------------------------------------------------------


@pytest.fixture
def generated(users):
    """300 cases over two years up to 10 June 2026, made by `manage.py generate_load`."""
    call_command("generate_load", cases=300, seed=21, batch=100, workers=1, years=2.0, now="2026-06-10T10:00:00+09:00")
    assert Case.objects.count() >= 300


@pytest.mark.slow
def test_every_figure_is_a_plain_count_on_generated_data(generated, users, fresh):
    for year in (2024, 2025, 2026):
        report = fiscal_year_report(user=fresh(users["auditor"]), year=year)
        assert_matches(report, plain_report(year))
    # The full year in the middle has real content in every part of the report.
    full = fiscal_year_report(user=fresh(users["auditor"]), year=2025)
    assert full["consultations"]["total"] > 100
    assert full["gap_cases"] > 0 and full["closures"]["total"] > 0 and full["community_slips"] > 0
    assert full["referrals"]["acceptance_hours"]["count"] > 10
    assert all(full["consultations"]["by_month"].values())


@pytest.mark.slow
def test_a_supervisor_s_figures_are_plain_counts_over_their_department(generated, users, fresh):
    for username, codes in (("chief_health", {"health_promotion"}), ("chief_shakyo", {"shakyo"})):
        report = fiscal_year_report(user=fresh(users[username]), year=2025)
        assert report["scope"] == {"all": False, "departments": sorted(codes)}
        assert_matches(report, plain_report(2025, codes))
        whole = fiscal_year_report(user=fresh(users["chief_welfare"]), year=2025)
        assert 0 < report["consultations"]["total"] < whole["consultations"]["total"]


# --- Hand-made cases at the boundary --------------------------------------------------------------


@pytest.fixture(autouse=True)
def staff_joined_before_the_years(db, users):
    """The cases below happen in FY2025-2027 (the services' clock is patched); the demo staff joined
    today. A caseworker's reach starts with their membership (access/policy/principals.py), so a world in
    which they act in April 2026 needs them to have joined before it."""
    from referral_engine.accounts.models import Membership

    Membership.objects.update(started_at=jst(2020, 4, 1, 0, 0))


@pytest.fixture
def boundary(open_case, users, fresh):
    """Cases opened at 31 March 23:59 (FY2025), 1 April 00:00 (FY2026), 31 March 23:59:59.999999
    (FY2026's last instant) and 1 April 00:00 a year later (FY2027); referrals, a decline, a close and
    a slip on either side."""
    with at(jst(2026, 3, 31, 23, 59)):
        before = open_case("desk_welfare", channel="phone", needs=["isolation", "care"], referrals=[TO_HEALTH])
    with at(jst(2026, 4, 1, 0, 0)):
        first = open_case(
            "desk_health", channel="visit", needs=["health", "isolation", "isolation"], referrals=[TO_LONGEVITY]
        )
        slip = slip_submit(actor=fresh(users["minsei_aoe"]), concern="郵便受けがいっぱい")
    with at(jst(2026, 4, 2, 9, 0)):
        referral_transition(referral_id=first.referrals.get().pk, name="accept", actor=fresh(users["worker_longevity"]))
    with at(jst(2026, 4, 1, 0, 0, 30)):
        referral_transition(
            referral_id=before.referrals.get().pk, name="decline", actor=fresh(users["worker_health"]), reason="対象外"
        )
    with at(jst(2027, 3, 31, 23, 59, 59, 999999)):
        last = open_case("desk_welfare", channel="counter", needs=["poverty"])
    with at(jst(2027, 4, 1, 0, 0)):
        case_transition(case_id=last.pk, name="close", actor=fresh(users["worker_welfare"]), closure_reason="resolved")
        after = open_case("desk_welfare", channel="phone")
    return {"before": before, "first": first, "last": last, "after": after, "slip": slip}


def test_the_boundary_splits_31_march_23_59_from_1_april_00_00(boundary, users, fresh):
    auditor = fresh(users["auditor"])
    fy2025 = fiscal_year_report(user=auditor, year=2025)
    fy2026 = fiscal_year_report(user=auditor, year=2026)
    fy2027 = fiscal_year_report(user=auditor, year=2027)

    assert fy2025["consultations"]["total"] == 1
    assert fy2025["consultations"]["by_month"]["2026-03"] == 1
    assert fy2025["consultations"]["by_channel"]["phone"] == 1
    assert fy2026["consultations"]["total"] == 3  # first, the slip's case, last
    assert fy2026["consultations"]["by_month"]["2026-04"] == 2
    assert fy2026["consultations"]["by_month"]["2027-03"] == 1
    assert list(fy2026["consultations"]["by_month"])[0] == "2026-04"
    assert list(fy2026["consultations"]["by_month"])[-1] == "2027-03"
    assert fy2027["consultations"]["total"] == 1
    # The referral requested on 31 March counts in FY2025 though it was declined on 1 April.
    assert fy2025["referrals"]["by_department"]["health_promotion"]["declined"] == 1
    assert fy2026["referrals"]["by_department"]["health_promotion"]["declined"] == 0
    assert fy2026["referrals"]["by_department"]["longevity_support"]["accepted"] == 1
    assert fy2026["referrals"]["acceptance_hours"] == {"median": 33.0, "p90": 33.0, "count": 1}
    # A need listed twice counts once; a case with two needs counts under each.
    assert fy2026["consultations"]["by_need"]["isolation"] == 1 + 1  # first (twice listed) + the slip's case
    assert fy2025["consultations"]["by_need"] == {**dict.fromkeys(Need.values, 0), "isolation": 1, "care": 1}
    # Closed on 1 April 2027, opened in FY2026: a closure of the FY2026 cohort.
    assert fy2026["closures"] == {"total": 1, "by_reason": {**dict.fromkeys(ClosureReason.values, 0), "resolved": 1}}
    assert fy2027["closures"]["total"] == 0
    assert fy2026["community_slips"] == 1 and fy2025["community_slips"] == 0
    assert fy2026["period"] == {"start": "2026-04-01T00:00:00+09:00", "end": "2027-03-31T23:59:59.999999+09:00"}
    assert fy2026["label"] == "令和8年度" and fy2025["label"] == "令和7年度"
    for year, report in ((2025, fy2025), (2026, fy2026), (2027, fy2027)):
        assert_matches(report, plain_report(year))


def test_gap_cases_are_the_year_s_cases_flagged_at_any_time(open_case, users, fresh, calendar_and_rules):
    with at(jst(2026, 3, 31, 23, 59)):
        old = open_case("desk_welfare", referrals=[TO_HEALTH, TO_LONGEVITY])
    with at(jst(2026, 5, 1, 10, 0)):
        new = open_case("desk_welfare", referrals=[TO_HEALTH, TO_LONGEVITY])
        for case in (old, new):  # two declines: たらい回し, flagged はざま (a GAP_FLAGGED event)
            for referral, worker in zip(
                case.referrals.order_by("to_department_id"), ("worker_health", "worker_longevity"), strict=True
            ):
                referral_transition(
                    referral_id=referral.pk, name="decline", actor=fresh(users[worker]), reason="対象外"
                )
        case_transition(case_id=new.pk, name="close", actor=fresh(users["worker_welfare"]), closure_reason="resolved")

    assert CaseEvent.objects.filter(kind=EventKind.GAP_FLAGGED, case__in=[old, new]).count() == 2
    auditor = fresh(users["auditor"])
    # Closed since: still a はざま case of its year (flagged at any time).
    assert fiscal_year_report(user=auditor, year=2026)["gap_cases"] == 1
    assert fiscal_year_report(user=auditor, year=2025)["gap_cases"] == 1
    assert_matches(fiscal_year_report(user=auditor, year=2026), plain_report(2026))


def test_compare_adds_last_year_with_the_same_shape(boundary, users, fresh):
    report = fiscal_year_report(user=fresh(users["chief_welfare"]), year=2026, compare=True)
    previous = report["previous"]
    assert previous["fiscal_year"] == 2025
    assert previous["consultations"]["total"] == 1
    assert set(previous) == set(report) - {"previous"}
    assert "previous" not in fiscal_year_report(user=fresh(users["chief_welfare"]), year=2026)


def test_percentile_cont_interpolates_like_postgresql():
    assert percentile_cont([], 0.5) is None
    assert percentile_cont([4.0], 0.9) == 4.0
    assert percentile_cont([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert percentile_cont([10.0, 0.0, 5.0], 0.9) == pytest.approx(9.0)
    values = [float(v) for v in range(1, 101)]
    assert percentile_cont(values, 0.9) == pytest.approx(statistics.quantiles(values, n=10, method="inclusive")[8])


def test_fiscal_year_names_and_months():
    assert FiscalYear(2026).label_ja == "令和8年度"
    assert FiscalYear(2019).label_ja == "令和元年度"
    assert FiscalYear(2018).label_ja == "平成30年度"
    assert [m.key for m in FiscalYear(2026).months()][:2] == ["2026-04", "2026-05"]
    assert FiscalYear(2026).months()[-1].end == jst(2027, 4, 1)
    assert FiscalYear.of(jst(2026, 3, 31, 23, 59, 59)).year == 2025
    assert FiscalYear.of(jst(2026, 4, 1)).year == 2026


def test_figures_are_kept_for_a_while_per_scope_and_year(open_case, users, fresh, settings):
    settings.REPORT_FIGURES_SECONDS = 300
    from django.core.cache import cache

    cache.clear()
    with at(jst(2026, 5, 1, 10)):
        open_case("desk_health")
    first = fiscal_year_report(user=fresh(users["chief_welfare"]), year=2026)
    with at(jst(2026, 5, 2, 10)):
        open_case("desk_health")
    again = fiscal_year_report(user=fresh(users["auditor"]), year=2026)  # the same scope: the whole desk
    assert again["consultations"]["total"] == first["consultations"]["total"] == 1
    assert again["generated_at"] == first["generated_at"]
    # Another scope or year is counted afresh; with the cache off, every request counts.
    assert fiscal_year_report(user=fresh(users["chief_health"]), year=2026)["consultations"]["total"] == 2
    settings.REPORT_FIGURES_SECONDS = 0
    assert fiscal_year_report(user=fresh(users["auditor"]), year=2026)["consultations"]["total"] == 2
    cache.clear()


def test_watch_requests_count_by_the_day_they_were_made_and_who_asked(open_case, users, fresh):
    from referral_engine.cases.services.watch import watch_request_create

    def ask(case, username):
        return watch_request_create(
            case_id=case.pk,
            actor=fresh(users[username]),
            district="kawakami",
            what_to_watch="夜に明かりがつくか",
            basis="support_meeting",
            justification="支援会議で合意",
            until="2026-12-31",
        )

    with at(jst(2026, 3, 31, 23, 59)):
        old = open_case("worker_welfare")
        ask(old, "worker_welfare")
    with at(jst(2026, 4, 1, 0, 0)):
        ask(old, "worker_welfare")  # a case of FY2025, a request of FY2026
        new = open_case("worker_health")
        ask(new, "worker_health")
    auditor = fresh(users["auditor"])
    assert fiscal_year_report(user=auditor, year=2025)["watch_requests"] == 1
    assert fiscal_year_report(user=auditor, year=2026)["watch_requests"] == 2
    health = fiscal_year_report(user=fresh(users["chief_health"]), year=2026)
    assert health["watch_requests"] == 1
    assert fiscal_year_report(user=fresh(users["chief_longevity"]), year=2026)["watch_requests"] == 0
    assert_matches(health, plain_report(2026, {"health_promotion"}))
    assert_matches(fiscal_year_report(user=auditor, year=2026), plain_report(2026))
