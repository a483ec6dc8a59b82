"""A connector's つなぎ票 (community slip): it opens a case at the social_welfare desk (channel
`community`) and tells the desk; the connector later sees only the slip's status, never contents."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from referral_engine.access import policy
from referral_engine.accounts.models import Department, District, User
from referral_engine.accounts.roles import DESK_DEPARTMENT_CODE, Role
from referral_engine.audit.history import save_with_history
from referral_engine.cases import normalize
from referral_engine.cases.choices import Channel, Need, Risk, SlipUrgency
from referral_engine.cases.inputs import PersonInput, PersonInputs, SlipInputs, clean_choice, clean_code
from referral_engine.cases.models import CommunitySlip
from referral_engine.cases.services.departments import department_members
from referral_engine.cases.services.guards import checks
from referral_engine.cases.services.intake import _case_write
from referral_engine.cases.services.persons import _person_write
from referral_engine.errors import Forbidden, InvalidInput
from referral_engine.notifications.services import notifications_queue


@checks(policy.can_submit_slip)
@transaction.atomic
def slip_submit(
    *,
    actor: User,
    concern: str,
    district: str | None = None,
    name: str = "",
    name_kana: str = "",
    address_note: str = "",
    urgency: str = SlipUrgency.NORMAL,
    person_agreed_to_contact: bool = False,
) -> CommunitySlip:
    """A connector's つなぎ票 opens a case at the social_welfare desk (channel `community`): the
    connector is the principal and `policy.can_submit_slip` the rule; the case is then written at the
    desk window, which the connector does not belong to, by the intake's writer."""
    if not policy.can_submit_slip(actor):
        raise Forbidden(_("つなぎ票を出せるのは地区のつなぎ役です。"))
    p = policy.principal(actor)
    districts = District.objects.filter(pk__in=p.district_ids)
    chosen = districts.filter(code=clean_code(district)).first() if district else districts.order_by("pk").first()
    if chosen is None:
        raise InvalidInput(_("地区を確認してください。"), fields={"district": [_("あなたの地区を選んでください。")]})
    urgency = clean_choice(urgency, SlipUrgency, field="urgency", default=SlipUrgency.NORMAL)
    concern = SlipInputs.concern.clean(concern)
    name = SlipInputs.name.clean(name)
    name_kana = normalize.to_katakana(SlipInputs.name_kana.clean(name_kana))
    address_note = SlipInputs.address_note.clean(address_note)
    family, _sep, given = (name or _("氏名不詳")).partition(" ")
    kana_family, _sep, kana_given = name_kana.partition(" ")
    person = _person_write(
        PersonInput(
            family_name=family[: PersonInputs.family_name.max_length],
            given_name=given[: PersonInputs.given_name.max_length],
            family_name_kana=kana_family,
            given_name_kana=kana_given,
            birth_date=None,
            sex="",
            address=address_note,
            district=chosen,
            phone="",
            flags=[],
        ),
        actor=actor,
    )
    desk = Department.objects.get(code=DESK_DEPARTMENT_CODE)
    case = _case_write(
        actor=actor,
        window=desk,
        person=person,
        channel=Channel.COMMUNITY,
        summary=concern,
        needs=[Need.ISOLATION],
        risk=Risk.URGENT if urgency == SlipUrgency.URGENT else Risk.NORMAL,
        now=timezone.now(),
        referrer=actor,
    )
    slip = CommunitySlip(
        connector=actor,
        district=chosen,
        name=name,
        name_kana=name_kana,
        address_note=address_note,
        concern=concern,
        urgency=urgency,
        person_agreed_to_contact=bool(person_agreed_to_contact),
        case=case,
    )
    save_with_history(slip, actor=actor, reason="slip_submit")
    notifications_queue(
        recipients=department_members(desk.pk, (Role.FRONT_DESK, Role.CASEWORKER, Role.SUPERVISOR)),
        kind="slip_submitted",
        title=_("つなぎ票が届きました: %(n)s（%(d)s）") % {"n": case.number, "d": chosen.name},
        case_id=case.pk,
    )
    return slip
