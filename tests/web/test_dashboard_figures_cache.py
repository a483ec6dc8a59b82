"""The dashboard's aggregate figures (per-department table, charts) are kept for a minute per scope;
lists and totals stay live, and a dashboard for an explicit moment is always computed."""

import pytest
from django.core.cache import cache
from django.utils import timezone

from referral_engine.timers.selectors import dashboard_data


@pytest.fixture
def figures_cached(settings):
    settings.DASHBOARD_FIGURES_SECONDS = 60
    cache.clear()
    yield
    cache.clear()


def _open_cases(data, code):
    return next(d["open_cases"] for d in data["departments"] if d["code"] == code)


def test_figures_are_kept_for_the_minute_and_lists_stay_live(figures_cached, users, fresh, open_case):
    first = dashboard_data(user=fresh(users["chief_welfare"]))
    open_case("desk_welfare")

    second = dashboard_data(user=fresh(users["chief_welfare"]))
    assert second["figures_at"] == first["figures_at"] < second["generated_at"]
    assert _open_cases(second, "social_welfare") == _open_cases(first, "social_welfare")

    as_of_now = dashboard_data(user=fresh(users["chief_welfare"]), now=timezone.now())
    assert _open_cases(as_of_now, "social_welfare") == _open_cases(first, "social_welfare") + 1

    cache.clear()
    third = dashboard_data(user=fresh(users["chief_welfare"]))
    assert _open_cases(third, "social_welfare") == _open_cases(first, "social_welfare") + 1


def test_each_scope_has_its_own_figures(figures_cached, users, fresh):
    desk = dashboard_data(user=fresh(users["chief_welfare"]))
    health = dashboard_data(user=fresh(users["chief_health"]))
    assert {d["code"] for d in health["departments"]} == {"health_promotion"}
    assert len(desk["departments"]) > 1
