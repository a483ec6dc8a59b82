"""A connector's つなぎ票 (community slip): it opens a case at the social_welfare desk (channel
`community`) with a provisional person; the connector later sees only the slip's status, never
contents. The slip waits in the desk's queue (`selectors.slips_queue`) until the desk links its
person to a registered one (`slip_link`, a merge) or confirms a new one (`slip_confirm_new`).
The queue replaces the notification every desk member used to get for each slip: only an urgent
slip still tells the desk's supervisors at once."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from referral_engine.access import policy
from referral_engine.accounts.models import Department, District, User
from referral_engine.accounts.roles import DESK_DEPARTMENT_CODE, Role
from referral_engine.audit.history import save_with_history
from referral_engine.cases import events, normalize
from referral_engine.cases.choices import Channel, Need, Risk, SlipTriage, SlipUrgency
from referral_engine.cases.inputs import PersonInput, PersonInputs, SlipInputs, clean_choice, clean_code
from referral_engine.cases.models import CommunitySlip, Person
from referral_engine.cases.services.departments import department_members
from referral_engine.cases.services.guards import checks
from referral_engine.cases.services.intake import _case_write
from referral_engine.cases.services.merge import _person_merge_write
from referral_engine.cases.services.persons import _person_write
from referral_engine.errors import Conflict, Forbidden, InvalidInput, NotFound
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
    if urgency == SlipUrgency.URGENT:
        notifications_queue(
            recipients=department_members(desk.pk, (Role.SUPERVISOR,)),
            kind="slip_submitted",
            title=_("急ぎのつなぎ票が届きました: %(n)s（%(d)s）") % {"n": case.number, "d": chosen.name},
            case_id=case.pk,
        )
    return slip


def _slip_for_triage(slip_id: Any) -> CommunitySlip:
    """The slip, locked, still waiting in the queue (a second triage is a 409)."""
    try:
        slip = CommunitySlip.objects.select_for_update(of=("self",)).select_related("case").get(pk=int(slip_id))
    except (CommunitySlip.DoesNotExist, TypeError, ValueError):
        raise NotFound(_("つなぎ票が見つかりません。")) from None
    if slip.triaged_at is not None:
        raise Conflict(_("このつなぎ票は確認済みです。"))
    return slip


def _slip_triaged(slip: CommunitySlip, *, actor: User, outcome: str) -> None:
    slip.triage = outcome
    slip.triaged_at = timezone.now()
    slip.triaged_by = actor
    save_with_history(
        slip, actor=actor, reason=f"slip_triage: {outcome}", update_fields=["triage", "triaged_at", "triaged_by"]
    )
    events.slip_triaged(case=slip.case, actor=actor, outcome=outcome)


@checks(policy.can_triage_slips)
@transaction.atomic
def slip_link(*, slip_id: int, actor: User, person_id: int) -> CommunitySlip:
    """The slip is about a registered person: its provisional person is merged into them (its case
    moves; the provisional record keeps its history and `merged_into`: no orphan is left)."""
    if not policy.can_triage_slips(actor):
        raise Forbidden(_("つなぎ票を確認できるのは社会福祉課の職員です。"))
    slip = _slip_for_triage(slip_id)
    try:
        into = Person.objects.select_for_update().get(pk=int(person_id), merged_into__isnull=True)
    except (Person.DoesNotExist, TypeError, ValueError):
        raise InvalidInput(
            _("本人が見つかりません。"), fields={"person_id": [_("登録済みの本人を選んでください。")]}
        ) from None
    provisional = Person.objects.select_for_update().get(pk=slip.case.person_id)
    _person_merge_write(person=provisional, into=into, actor=actor, reason=f"community slip {slip.pk}", via="slip_link")
    slip.case.person = into
    _slip_triaged(slip, actor=actor, outcome=SlipTriage.LINKED)
    return slip


@checks(policy.can_triage_slips)
@transaction.atomic
def slip_confirm_new(*, slip_id: int, actor: User) -> CommunitySlip:
    """The slip is about somebody not yet registered: its person stays, and the slip leaves the queue."""
    if not policy.can_triage_slips(actor):
        raise Forbidden(_("つなぎ票を確認できるのは社会福祉課の職員です。"))
    slip = _slip_for_triage(slip_id)
    _slip_triaged(slip, actor=actor, outcome=SlipTriage.NEW)
    return slip
