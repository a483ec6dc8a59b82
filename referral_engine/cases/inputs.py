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
from datetime import date
from typing import Any

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext as _

from referral_engine.accounts.models import District
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
    if parsed > timezone.localdate() or parsed.year < 1880:
        raise InvalidInput(_("日付が正しくありません。"), fields={"birth_date": [_("ありえない生年月日です。")]})
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


def person_input(data: dict[str, Any]) -> PersonInput:
    """A new person's fields, cleaned: the kana in katakana, the district looked up by its code."""
    if not isinstance(data, dict):
        raise InvalidInput(
            _("本人の情報が正しくありません。"), fields={"person": [_("オブジェクトで指定してください。")]}
        )
    district = None
    if data.get("district"):
        district = District.objects.filter(code=clean_code(data["district"])).first()
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
