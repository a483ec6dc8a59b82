"""The one way templates show a date (issue 18, item 8): `{{ value|wareki }}`, in the signed-in user's
date style (`User.date_style`, activated per request by web/date_style.py, no query):

- 和暦 with 西暦 (the default): 令和8年11月26日 (2026), English "26 Nov 2026 (Reiwa 8)";
- 西暦 only: 2026-11-26.

A datetime adds the Tokyo time (14:05); `wareki:"date"` drops it, `wareki:"seconds"` shows 14:05:09
(the audit pages). Machine formats stay as they are: `<time datetime="…|date:'c'">`, the values of
`<input type="date">` and the CSV exports are not display dates.

Era boundaries are the days the new era began (a change in the middle of a year splits that year:
1989-01-07 is 昭和64年, 1989-01-08 is 平成元年). Dates before 明治 have no era here and show 西暦 only.
"""

from __future__ import annotations

from datetime import date, datetime

from django import template
from django.utils import timezone
from django.utils.translation import get_language

from referral_engine.accounts.models import DateStyle
from referral_engine.web import date_style

register = template.Library()

# (first day, kanji, romaji initial, romaji name), newest first.
ERAS = (
    (date(2019, 5, 1), "令和", "R", "Reiwa"),
    (date(1989, 1, 8), "平成", "H", "Heisei"),
    (date(1926, 12, 25), "昭和", "S", "Showa"),
    (date(1912, 7, 30), "大正", "T", "Taisho"),
    (date(1873, 1, 1), "明治", "M", "Meiji"),  # the Gregorian calendar was adopted on 明治6年1月1日
)
EN_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def era_of(day: date) -> tuple[str, str, str, int] | None:
    """(kanji, initial, name, year in the era) or None before 明治6年."""
    for start, kanji, initial, name in ERAS:
        if day >= start:
            # 明治 counts from 1868 although the table starts at the calendar reform of 1873.
            first_year = 1868 if kanji == "明治" else start.year
            return kanji, initial, name, day.year - first_year + 1
    return None


def _as_local(value: date | datetime) -> tuple[date, datetime | None]:
    if isinstance(value, datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value)
        return value.date(), value
    return value, None


def _english() -> bool:
    return (get_language() or "ja").startswith("en")


def wareki_date_text(day: date) -> str:
    era = era_of(day)
    if _english():
        base = f"{day.day} {EN_MONTHS[day.month - 1]} {day.year}"
        return f"{base} ({era[2]} {era[3]})" if era else base
    if era is None:
        return f"{day.year}年{day.month}月{day.day}日"
    year = "元" if era[3] == 1 else str(era[3])
    return f"{era[0]}{year}年{day.month}月{day.day}日 ({day.year})"


def _western() -> bool:
    return date_style.current() == DateStyle.WESTERN


@register.filter
def wareki(value: date | datetime | None, arg: str = "") -> str:
    """`{{ d|wareki }}`: 令和8年11月26日 (2026), or 2026-11-26 in the 西暦 style; a datetime adds the
    Tokyo time (14:05). `{{ dt|wareki:"date" }}` drops the time, `"seconds"` adds the seconds."""
    if value in (None, ""):
        return ""
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            return value
    day, moment = _as_local(value)
    text = day.isoformat() if _western() else wareki_date_text(day)
    if moment is not None and arg != "date":
        text = f"{text} {moment:%H:%M:%S}" if arg == "seconds" else f"{text} {moment:%H:%M}"
    return text


# Kept so that a template still written with it shows the user's one style; new templates use `wareki`
# (tests/web/test_date_style.py holds that no template does).
register.filter("wareki_short", wareki)


def wareki_short(value: date | datetime | None) -> str:
    """Compact label for chart axes (not a template filter): R8.11.26, or 2026-11-26 in the 西暦
    style (a datetime adds 14:05)."""
    if value in (None, ""):
        return ""
    day, moment = _as_local(value)
    if _western():
        return f"{day.isoformat()} {moment:%H:%M}" if moment is not None else day.isoformat()
    era = era_of(day)
    text = f"{era[1]}{era[3]}.{day.month}.{day.day}" if era else f"{day.year}.{day.month}.{day.day}"
    if moment is not None:
        text = f"{text} {moment:%H:%M}"
    return text


@register.filter
def age(value: date | None) -> int | str:
    """Age in full years today (Tokyo), for a birth date."""
    if not value:
        return ""
    today = timezone.localdate()
    return today.year - value.year - ((today.month, today.day) < (value.month, value.day))
