"""What a client may send, declared once, and how the services clean it.

The limits of every text a person types (`PersonInputs`, `IntakeInputs`, `ReferralInputs`, …) are
declared here and read by the model fields, the web forms (`web/forms.py`), the API serializers
(`api/serializers.py`) and the services, which clean every value they receive (from a form, a
serializer, a command or a test) with `TextInput.clean`: control characters go, the length is
checked, a required text must be there. Choices are declared once too, as the TextChoices of
`cases/choices.py`, which the forms, the serializers and `clean_choice` all read. A failure is an
`InvalidInput` naming the field, which the API returns as a 400 and a page shows next to the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext as _

from referral_engine.accounts.models import District
from referral_engine.bound_queries import bound_rows
from referral_engine.cases import normalize
from referral_engine.cases.choices import Need, PersonFlag, Sex
from referral_engine.errors import InvalidInput

MAX_TEXT = 10_000
CODE_MAX = 100  # a department or district code as typed by a client, before it is looked up
REASON_REQUIRED = frozenset({"decline", "return", "hold"})


@dataclass(frozen=True)
class TextInput:
    """A text a client sends: the field an error names, its longest length, whether it is required."""

    field: str
    max_length: int = MAX_TEXT
    required: bool = False

    def clean(self, value: Any) -> str:
        return clean_text(value, field=self.field, required=self.required, max_length=self.max_length)


class PersonInputs:
    family_name = TextInput("family_name", 50, required=True)
    given_name = TextInput("given_name", 50)
    family_name_kana = TextInput("family_name_kana", 100)
    given_name_kana = TextInput("given_name_kana", 100)
    address = TextInput("address", 200)
    phone = TextInput("phone", 30)


class PersonEditInputs:
    reason = TextInput("reason", 1000, required=True)  # why the person's record changes (historied)


# What `PATCH /api/v1/persons/{id}/` and the case page's form may change (DESIGN §11.2).
PERSON_EDITABLE_FIELDS = (
    "family_name",
    "given_name",
    "family_name_kana",
    "given_name_kana",
    "birth_date",
    "sex",
    "address",
    "district",
    "phone",
    "flags",
)


class PersonSearchInputs:
    q = TextInput("q", 100, required=True)
    min_length = 2  # two characters of kana or kanji at least (DESIGN §11.1)


class IntakeInputs:
    summary = TextInput("summary", required=True)  # 主訴
    idempotency_key = TextInput("idempotency_key", 100)


class ReferralInputs:
    reason = TextInput("reason", required=True)  # at intake, the summary when left blank
    justification = TextInput("justification")  # required by some bases: checked with the basis


class TransitionInputs:
    reason = TextInput("reason")  # required by decline, return and hold: `require_reason`


class ActivityInputs:
    body = TextInput("body", required=True)  # also an intake's first note


class ConsentInputs:
    purposes = TextInput("purposes", required=True)
    note = TextInput("note")  # also the note of a withdrawal


class SlipInputs:
    name = TextInput("name", 100)
    name_kana = TextInput("name_kana", 100)
    address_note = TextInput("address_note", 200)
    concern = TextInput("concern", 4000, required=True)


class WatchInputs:
    what_to_watch = TextInput("what_to_watch", 1000, required=True)
    justification = TextInput("justification")  # required by the justified bases
    note = TextInput("note", 500)  # a connector's short note on a visit
    reason = TextInput("reason", 1000)  # why a watch request is closed


def clean_text(value: Any, *, field: str, required: bool = False, max_length: int = MAX_TEXT) -> str:
    text = "" if value is None else str(value)
    # Control characters (except newline and tab) and lone surrogates never belong in a record.
    text = "".join(
        ch for ch in text if ch in "\n\t" or (ch >= " " and ch != "\x7f" and not "\ud800" <= ch <= "\udfff")
    ).strip()
    if required and not text:
        raise InvalidInput(_("入力してください。"), fields={field: [_("この項目は必須です。")]})
    if len(text) > max_length:
        raise InvalidInput(
            _("長すぎます。"), fields={field: [_("%(n)d文字以内で入力してください。") % {"n": max_length}]}
        )
    return text


def clean_choice(value: Any, choices: type[models.Choices], *, field: str, default: str | None = None) -> str:
    if value in (None, "") and default is not None:
        return default
    if value not in choices.values:
        raise InvalidInput(_("選択肢にない値です。"), fields={field: [_("「%(v)s」は選べません。") % {"v": value}]})
    return value


def clean_code(value: Any) -> str:
    """A code as typed by a client, safe to compare in the database (PostgreSQL text holds no NUL)."""
    return str(value or "").replace("\x00", "")[:CODE_MAX]


def clean_needs(needs: Any) -> list[str]:
    if needs in (None, ""):
        return []
    if not isinstance(needs, list | tuple) or any(n not in Need.values for n in needs):
        raise InvalidInput(_("相談分野が正しくありません。"), fields={"needs": [_("選択肢にない値があります。")]})
    return sorted(set(needs), key=Need.values.index)


def clean_birth_date(value: Any) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        parsed = value
    else:
        try:
            parsed = date.fromisoformat(str(value))
        except ValueError:
            raise InvalidInput(
                _("日付が正しくありません。"), fields={"birth_date": [_("YYYY-MM-DD の形式で入力してください。")]}
            ) from None
    clean_moment(parsed, field="birth_date")
    if parsed > timezone.localdate():
        raise InvalidInput(_("日付が正しくありません。"), fields={"birth_date": [_("ありえない生年月日です。")]})
    return parsed


class FollowUpInputs:
    note = TextInput("note", 2000)  # what to do on the day (予定の内容)
    done_note = TextInput("note", 2000)  # what was done
    # How far ahead a follow-up may be set, and the default review of `start_monitoring` (days).
    max_days_ahead = 3 * 366
    monitoring_review_days = 90


def clean_followup_date(value: Any, *, field: str = "due_on") -> date:
    """A follow-up's day: today or later, at most about three years ahead."""
    if isinstance(value, date):
        parsed = value
    else:
        try:
            parsed = date.fromisoformat(str(value))
        except ValueError:
            raise InvalidInput(
                _("日付が正しくありません。"), fields={field: [_("YYYY-MM-DD の形式で入力してください。")]}
            ) from None
    today = timezone.localdate()
    if parsed < today or (parsed - today).days > FollowUpInputs.max_days_ahead:
        raise InvalidInput(
            _("日付が正しくありません。"), fields={field: [_("今日から3年以内の日付を入力してください。")]}
        )
    return parsed


def require_reason(name: str, reason: str) -> None:
    """Decline, return and hold say why. Checked after the permission: a 403 comes before a 400."""
    if name in REASON_REQUIRED and not reason:
        raise InvalidInput(_("理由を入力してください。"), fields={"reason": [_("この項目は必須です。")]})


# --- A person as a client sends it ---------------------------------------------------------------


@dataclass(frozen=True)
class PersonInput:
    family_name: str
    given_name: str
    family_name_kana: str
    given_name_kana: str
    birth_date: date | None
    sex: str
    address: str
    district: District | None
    phone: str
    flags: list[str]


def _district_by_code(code: str) -> Any:
    return District.objects.filter(code=code).order_by("pk")[:1]


def person_input(data: dict[str, Any]) -> PersonInput:
    """A new person's fields, cleaned: the kana in katakana, the district looked up by its code."""
    if not isinstance(data, dict):
        raise InvalidInput(
            _("本人の情報が正しくありません。"), fields={"person": [_("オブジェクトで指定してください。")]}
        )
    district = None
    if data.get("district"):
        found = bound_rows(District, _district_by_code, (clean_code(data["district"]),))
        district = found[0] if found else None
        if district is None:
            raise InvalidInput(
                _("地区が見つかりません。"),
                fields={"district": [_("「%(v)s」という地区はありません。") % {"v": data["district"]}]},
            )
    flags = data.get("flags") or []
    if not isinstance(flags, list) or any(f not in PersonFlag.values for f in flags):
        raise InvalidInput(_("特記事項が正しくありません。"), fields={"flags": [_("選択肢にない値があります。")]})
    return PersonInput(
        family_name=PersonInputs.family_name.clean(data.get("family_name")),
        given_name=PersonInputs.given_name.clean(data.get("given_name")),
        family_name_kana=normalize.to_katakana(PersonInputs.family_name_kana.clean(data.get("family_name_kana"))),
        given_name_kana=normalize.to_katakana(PersonInputs.given_name_kana.clean(data.get("given_name_kana"))),
        birth_date=clean_birth_date(data.get("birth_date")),
        sex=clean_choice(data.get("sex") or "", Sex, field="sex", default=""),
        address=PersonInputs.address.clean(data.get("address")),
        district=district,
        phone=PersonInputs.phone.clean(data.get("phone")),
        flags=sorted(set(flags)),
    )


# --- Dates and times: one sane range for every entry point (issue 16) ---------------------------
#
# A date outside DATE_YEAR_MIN..DATE_YEAR_MAX (settings; 1900..2100) is refused wherever it comes
# from: a web form field (`InRangeDateField`, `InRangeDateTimeField`), an API serializer field (the
# same `validate_in_range` as a validator), a filter (`parse_filter_date`) and the services
# (`clean_moment`). Year 1 at 00:00 in Asia/Tokyo is a BC timestamp in UTC, which PostgreSQL stores
# and psycopg cannot read back; year 9999 overflows when a day is added to it.


def date_year_bounds() -> tuple[int, int]:
    return settings.DATE_YEAR_MIN, settings.DATE_YEAR_MAX


def date_range_message() -> str:
    low, high = date_year_bounds()
    return _("%(low)d年から%(high)d年までの日付を入力してください。") % {"low": low, "high": high}


def in_date_range(value: date | datetime | None) -> bool:
    """True for None and for a date or moment within the years, in its own zone and in UTC."""
    if value is None:
        return True
    low, high = date_year_bounds()
    if not low <= value.year <= high:
        return False
    if isinstance(value, datetime) and value.tzinfo is not None:
        try:
            return low <= value.astimezone(UTC).year <= high
        except OverflowError:
            return False
    return True


def validate_in_range(value: Any) -> None:
    """A Django validator (forms and DRF serializer fields both run it)."""
    if isinstance(value, date) and not in_date_range(value):
        raise ValidationError(date_range_message(), code="date_range")


def clean_moment(value: Any, *, field: str) -> Any:
    """The services' check of a date or moment they are given (a form, a serializer, a command)."""
    if isinstance(value, date) and not in_date_range(value):
        raise InvalidInput(_("日付が正しくありません。"), fields={field: [date_range_message()]})
    return value


def parse_filter_date(raw: Any) -> date:
    """A `?since=` / `?until=` value: YYYY-MM-DD within the years. ValueError with the message."""
    text = str(raw or "").strip()
    try:
        value = date.fromisoformat(text[:10]) if len(text) >= 10 else None
    except ValueError:
        value = None
    if value is None:
        raise ValueError(_("YYYY-MM-DD の形式で入力してください。"))
    if not in_date_range(value):
        raise ValueError(date_range_message())
    return value


class _RangeWidgetMixin:
    """The browser's picker offers only the allowed years (min / max attributes)."""

    range_format = "%Y-%m-%d"

    def widget_attrs(self, widget: Any) -> dict[str, Any]:
        attrs = super().widget_attrs(widget)  # type: ignore[misc]
        low, high = date_year_bounds()
        suffix = "T00:00" if self.range_format != "%Y-%m-%d" else ""
        attrs.setdefault("min", f"{low:04d}-01-01{suffix}")
        attrs.setdefault("max", f"{high:04d}-12-31{'T23:59' if suffix else ''}")
        return attrs


class InRangeDateField(_RangeWidgetMixin, forms.DateField):
    """A form's date within DATE_YEAR_MIN..DATE_YEAR_MAX: outside it, a field error."""

    default_validators = [validate_in_range]


class InRangeDateTimeField(_RangeWidgetMixin, forms.DateTimeField):
    """A form's date and time within the years, checked before any time-zone arithmetic."""

    default_validators = [validate_in_range]
    range_format = "%Y-%m-%dT%H:%M"

    def to_python(self, value: Any) -> Any:
        try:
            result = super().to_python(value)
        except OverflowError:
            raise ValidationError(date_range_message(), code="date_range") from None
        if isinstance(result, datetime) and not in_date_range(result):
            raise ValidationError(date_range_message(), code="date_range")
        return result


def _district(value: Any) -> District | None:
    if not value:
        return None
    district = District.objects.filter(code=clean_code(value)).first()
    if district is None:
        raise InvalidInput(
            _("地区が見つかりません。"),
            fields={"district": [_("「%(v)s」という地区はありません。") % {"v": value}]},
        )
    return district


def _flags(value: Any) -> list[str]:
    flags = value or []
    if not isinstance(flags, list | tuple) or any(f not in PersonFlag.values for f in flags):
        raise InvalidInput(_("特記事項が正しくありません。"), fields={"flags": [_("選択肢にない値があります。")]})
    return sorted(set(flags))


def person_changes_input(data: Any) -> dict[str, Any]:
    """The fields of an edit, cleaned as a new person's are: only those sent, each by its rule."""
    if not isinstance(data, dict):
        raise InvalidInput(
            _("本人の情報が正しくありません。"), fields={"person": [_("オブジェクトで指定してください。")]}
        )
    unknown = sorted(str(k) for k in data if k not in PERSON_EDITABLE_FIELDS)
    if unknown:
        raise InvalidInput(
            _("変更できない項目です。"), fields={k[:100]: [_("この項目は変更できません。")] for k in unknown}
        )
    cleaners = {
        "family_name": PersonInputs.family_name.clean,
        "given_name": PersonInputs.given_name.clean,
        "family_name_kana": lambda v: normalize.to_katakana(PersonInputs.family_name_kana.clean(v)),
        "given_name_kana": lambda v: normalize.to_katakana(PersonInputs.given_name_kana.clean(v)),
        "birth_date": clean_birth_date,
        "sex": lambda v: clean_choice(v or "", Sex, field="sex", default=""),
        "address": PersonInputs.address.clean,
        "district": _district,
        "phone": PersonInputs.phone.clean,
        "flags": _flags,
    }
    return {name: cleaners[name](value) for name, value in data.items()}


def search_query(value: Any) -> str:
    """A person search: at least two characters (not counting spaces), at most 100."""
    query = PersonSearchInputs.q.clean(value)
    if len("".join(query.split())) < PersonSearchInputs.min_length:
        raise InvalidInput(
            _("2文字以上で検索してください。"),
            fields={"q": [_("%(n)d文字以上入力してください。") % {"n": PersonSearchInputs.min_length}]},
        )
    return query


# --- Keeping the records right (issue 17: reassessment, merge, households) ----------------------


class UpkeepInputs:
    reason = TextInput("reason", 2000, required=True)  # every reassessment, merge and household change says why
    summary = TextInput("summary", required=True)  # a reassessed 主訴, as at intake
