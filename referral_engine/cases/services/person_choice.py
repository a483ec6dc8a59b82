"""Proof that an existing person was offered to this user (issue 17 leftover): person ids are
sequential, so an intake naming a bare id would let anyone who may open a case learn the identity of
any person. Every candidate a user is shown — a search hit (web and API), a duplicate warning at
intake — carries `choice`, a short-lived token signed for that user and that person; an intake for an
existing person must bring it back (`person_choice` beside `person_id` in the API, `use_person` or
`person_choice` on the web), unless the user already sees a case of that person, whose identity they
hold anyway (`policy.sees_a_case_of`).

A signed token rather than a table of the candidates shown: nothing to write on every search, nothing
to sweep; it names the user, so it cannot be handed on. `PERSON_CHOICE_MAX_AGE` (seconds, default one
hour: a conversation at the counter) bounds it.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import signing

from referral_engine.accounts.models import User
from referral_engine.cases.services.guards import unchecked

_SALT = "referral_engine.cases.person_choice"
DEFAULT_MAX_AGE = 3600


def _signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=_SALT)


def _max_age() -> int:
    return int(getattr(settings, "PERSON_CHOICE_MAX_AGE", DEFAULT_MAX_AGE))


@unchecked("signs a person the caller was already shown as a candidate; reads and writes nothing")
def person_choice_issue(user: User, person_id: int) -> str:
    return _signer().sign(f"{user.pk}.{int(person_id)}")


@unchecked("verifies a signature; reads and writes nothing")
def person_choice_valid(user: User, person_id: Any, token: Any) -> bool:
    """The token was issued to `user` for `person_id` less than `_max_age()` seconds ago."""
    if not token or not isinstance(token, str) or len(token) > 200:
        return False
    try:
        value = _signer().unsign(token, max_age=_max_age())
    except signing.BadSignature:  # SignatureExpired is one
        return False
    return value == f"{user.pk}.{person_id}"


@unchecked("reads the person id a token names, without trusting it: the intake verifies it")
def person_choice_person_id(token: Any) -> int | None:
    """The person a token names (the web's "use this person" button sends the token alone)."""
    if not token or not isinstance(token, str) or len(token) > 200:
        return None
    _user, _dot, person = token.split(":", 1)[0].partition(".")
    return int(person) if person.isdigit() and len(person) < 19 else None
