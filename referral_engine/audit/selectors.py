"""Auditor reads: the access log filtered, a user's activity, the case whose history is asked for.
Dates are Asia/Tokyo calendar days (settings.TIME_ZONE); `until` is inclusive."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field, replace
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Count, Max, Min, Q, QuerySet
from django.db.models.functions import TruncDate, TruncMinute
from django.utils import timezone
from django.utils.translation import gettext as _

from referral_engine import errors
from referral_engine.access import policy
from referral_engine.audit.models import AccessLog
from referral_engine.bound_queries import bound_rows, key_in_range
from referral_engine.cases.inputs import parse_filter_date
from referral_engine.cases.models import Case
from referral_engine.cases.selectors import person_search_rate


@dataclass(frozen=True)
class AccessLogFilter:
    since: dt.date | None = None
    until: dt.date | None = None
    user: str = ""  # a username or a user id
    department: str = ""  # a department code
    action: str = ""
    case_id: int | None = None
    object_type: str = ""
    term: str = ""  # a search term: matches searches whose stored fingerprint is this term's
    errors: dict[str, str] = field(default_factory=dict, compare=False)

    @classmethod
    def from_params(cls, params: Any) -> AccessLogFilter:
        """From a QueryDict / dict (`since`, `until`, `user`, `department`, `action`, `case`,
        `object_type`). Bad values are left out and named in `errors`."""
        problems: dict[str, str] = {}

        def text(name: str) -> str:
            # NUL cannot be stored or compared in PostgreSQL text: drop it rather than fail with a 500.
            return (params.get(name) or "").replace("\x00", "").strip()[:200]

        def date(name: str) -> dt.date | None:
            raw = (params.get(name) or "").strip()
            if not raw:
                return None
            try:
                # YYYY-MM-DD within DATE_YEAR_MIN..DATE_YEAR_MAX (cases/inputs.py): `9999-12-31`
                # would overflow when a day is added to make `until` inclusive.
                return parse_filter_date(raw)
            except ValueError as exc:
                problems[name] = str(exc)
                return None

        raw_case = (params.get("case") or "").strip()
        case_id = int(raw_case) if raw_case.isascii() and raw_case.isdigit() and len(raw_case) <= 18 else None
        if raw_case and case_id is None:
            problems["case"] = str(_("ケースIDは数字で入力してください。"))
        action = (params.get("action") or "").strip()
        if action and action not in AccessLog.Action.values:
            problems["action"] = str(_("次のどれかを選んでください：%(v)s") % {"v": ", ".join(AccessLog.Action.values)})
            action = ""
        return cls(
            since=date("since"),
            until=date("until"),
            user=text("user"),
            department=text("department"),
            action=action,
            case_id=case_id,
            object_type=text("object_type"),
            term=text("term"),
            errors=problems,
        )

    def as_params(self) -> dict[str, str]:
        """The filter as query parameters (for pagination links, export links and the log itself)."""
        values = {
            "since": self.since.isoformat() if self.since else "",
            "until": self.until.isoformat() if self.until else "",
            "user": self.user,
            "department": self.department,
            "action": self.action,
            "case": str(self.case_id) if self.case_id is not None else "",
            "object_type": self.object_type,
            "term": self.term,
        }
        return {k: v for k, v in values.items() if v}


def day_start(day: dt.date) -> dt.datetime:
    """Midnight at the start of `day` in the project time zone (Asia/Tokyo)."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min), timezone.get_default_timezone())


def period_q(field_name: str, since: dt.date | None, until: dt.date | None) -> Q:
    q = Q()
    if since:
        q &= Q(**{f"{field_name}__gte": day_start(since)})
    if until:
        q &= Q(**{f"{field_name}__lt": day_start(until + dt.timedelta(days=1))})
    return q


def user_q(value: str, *, id_field: str = "user_id", username_field: str = "username") -> Q:
    """A username or a numeric id."""
    if value.isdigit():
        return Q(**{id_field: int(value)}) | Q(**{username_field: value})
    return Q(**{username_field: value})


def department_q(code: str) -> Q:
    """AccessLog.department holds the user's department codes joined by commas."""
    return (
        Q(department=code)
        | Q(department__startswith=f"{code},")
        | Q(department__endswith=f",{code}")
        | Q(department__contains=f",{code},")
    )


def access_log_list(*, user: Any, filters: AccessLogFilter) -> QuerySet[AccessLog]:
    """The access log for an auditor, newest first, filtered. Others: Forbidden."""
    if not policy.can_audit(user):
        raise errors.Forbidden()
    qs = AccessLog.objects.select_related("user").filter(period_q("at", filters.since, filters.until))
    if filters.user:
        qs = qs.filter(user_q(filters.user))
    if filters.department:
        qs = qs.filter(department_q(filters.department))
    if filters.action:
        qs = qs.filter(action=filters.action)
    if filters.case_id is not None:
        qs = qs.filter(case_id=filters.case_id)
    if filters.object_type:
        qs = qs.filter(object_type=filters.object_type)
    if filters.term:
        from referral_engine.audit.services import search_term_fingerprint

        fingerprint = search_term_fingerprint(filters.term)
        # A typed search stores the fingerprint itself; a filter search stores it inside its JSON.
        qs = qs.filter(Q(query=fingerprint) | Q(query__contains=f'"{fingerprint}"'))
    return qs.order_by("-at", "-id")


def audited_user_get(*, user: Any, user_id: int) -> Any:
    """The user whose activity an auditor looks at. Others: NotFound (the page is hidden)."""
    if not policy.can_audit(user):
        raise errors.NotFound()
    target = get_user_model().objects.filter(pk=user_id).first()
    if target is None:
        raise errors.NotFound()
    return target


def case_for_audit(*, user: Any, case_id: int) -> Any:
    """A case whose full history an auditor reads. Others: NotFound."""
    if not policy.can_audit(user):
        raise errors.NotFound()
    case = Case.objects.select_related("person", "intake_department", "lead_department").filter(pk=case_id).first()
    if case is None:
        raise errors.NotFound()
    return case


def case_for_history(*, user: Any, case_id: int) -> Any:
    """A case whose history `user` may read (policy.can_view_history): auditors and full viewers.
    Missing and forbidden are the same NotFound. One statement reads the case and its person with the
    user's rows on it (`case_perms_bound_columns`, as a transition's lock does) and its person's first
    case (for `person_history_since`), compiled once per principal shape (`bound_queries`, issue 23)."""
    columns = policy.case_perms_bound_columns(user)
    case = None
    if key_in_range(Case, case_id):
        found = bound_rows(
            Case,
            lambda *v: _case_for_history_query(v[0], columns, v[1:]),
            (case_id, *(columns.values if columns is not None else ())),
            shape=columns.shape if columns is not None else None,
        )
        case = found[0] if found else None
    if case is not None:
        policy.case_perms_from_columns(user, case)
    if case is None or not policy.can_view_history(user, case):
        raise errors.NotFound()
    return case


def _case_for_history_query(case_id: int, columns: Any, column_values: tuple[Any, ...]) -> Any:
    return (
        Case.objects.select_related("person")  # the history reads no department of the case's
        .annotate(
            person_first_case_id=policy.person_first_case_id(),
            **(columns.build(*column_values) if columns is not None else {}),
        )
        .filter(pk=case_id)
        .order_by()
    )


def case_by_number(*, user: Any, number: str) -> Any:
    if not policy.can_audit(user):
        raise errors.NotFound()
    case = Case.objects.filter(number=number.strip()).first()
    if case is None:
        raise errors.NotFound()
    return case


def denied_list(*, user: Any, filters: AccessLogFilter) -> QuerySet[AccessLog]:
    """Denied reads (a 404 on a case, person or referral URL), newest first, filtered. Others: Forbidden."""
    return access_log_list(user=user, filters=replace(filters, action=AccessLog.Action.DENIED))


def denied_by_user(*, user: Any, filters: AccessLogFilter) -> list[dict[str, Any]]:
    """Who was denied how often in the period: rows written, denials counted in summary rows (a scan
    past the per-minute limit), first and last time. Most denied first."""
    rows = denied_list(user=user, filters=filters).order_by()
    found: dict[int, dict[str, Any]] = {}
    grouped = rows.values("user_id", "username", "object_type").annotate(n=Count("id"), first=Min("at"), last=Max("at"))
    for group in grouped:
        item = found.setdefault(
            group["user_id"],
            {"user_id": group["user_id"], "username": group["username"], "denials": 0, "first": None, "last": None},
        )
        if group["object_type"] != "denied_summary":
            item["denials"] += group["n"]
        item["first"] = min(filter(None, [item["first"], group["first"]]))
        item["last"] = max(filter(None, [item["last"], group["last"]]))
    # A summary row stands for many denials (a scan past the per-minute limit): few rows, read each.
    for user_id, query in rows.filter(object_type="denied_summary").values_list("user_id", "query"):
        try:
            found[user_id]["denials"] += int(json.loads(query).get("suppressed", 0))
        except (ValueError, AttributeError, TypeError, KeyError):
            continue
    return sorted(found.values(), key=lambda i: (-i["denials"], i["username"]))


# --- Search volume (issue 17: scraping the register stands out) -----------------------------------

SEARCH_VOLUME_DAYS = 14  # the default period: the last two weeks
# A day with more person searches than this, or any refused search, or a minute at the throttle's
# limit is marked: a desk clerk searches a few dozen times a day; a scraper thousands.
SEARCH_VOLUME_ALERT_PER_DAY = 100


@dataclass(frozen=True)
class SearchVolumeRow:
    user_id: int
    username: str
    display_name: str
    department: str
    day: dt.date
    searches: int  # person searches answered
    refused: int  # person searches refused by the rate limit
    peak_minute: int  # the most searches (answered or refused) in one minute of that day
    alert: bool


def person_search_volume(*, user: Any, since: dt.date | None, until: dt.date | None) -> list[SearchVolumeRow]:
    """Person searches per user and day (Asia/Tokyo), the busiest first: answered, refused and the
    peak minute. For auditors only (others: Forbidden). Two queries whatever the period."""
    if not policy.can_audit(user):
        raise errors.Forbidden()
    tz = timezone.get_default_timezone()
    rows = AccessLog.objects.filter(
        period_q("at", since, until),
        action=AccessLog.Action.SEARCH,
        object_type__in=["person", "person_throttled"],
    )
    per_day = (
        rows.annotate(day=TruncDate("at", tzinfo=tz))
        .values("user_id", "department", "day")
        .annotate(
            searches=Count("id", filter=Q(object_type="person")),
            refused=Count("id", filter=Q(object_type="person_throttled")),
        )
        .order_by()
    )
    peaks: dict[tuple[int, dt.date], int] = {}
    per_minute = rows.annotate(minute=TruncMinute("at", tzinfo=tz)).values("user_id", "minute").annotate(n=Count("id"))
    for item in per_minute.order_by():
        key = (item["user_id"], timezone.localtime(item["minute"], tz).date())
        peaks[key] = max(peaks.get(key, 0), item["n"])
    names = {
        u.pk: u
        for u in get_user_model()
        .objects.filter(pk__in={r["user_id"] for r in per_day})
        .only("username", "display_name")
    }
    allowed, _seconds = person_search_rate()
    result = []
    for item in per_day:
        account = names.get(item["user_id"])
        peak = peaks.get((item["user_id"], item["day"]), 0)
        result.append(
            SearchVolumeRow(
                user_id=item["user_id"],
                username=account.username if account else "",
                display_name=getattr(account, "display_name", "") if account else "",
                department=item["department"],
                day=item["day"],
                searches=item["searches"],
                refused=item["refused"],
                peak_minute=peak,
                alert=item["searches"] > SEARCH_VOLUME_ALERT_PER_DAY or item["refused"] > 0 or peak >= allowed,
            )
        )
    result.sort(key=lambda r: (-r.searches - r.refused, r.day, r.username))
    return result
