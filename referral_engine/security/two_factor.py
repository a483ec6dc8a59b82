"""Optional TOTP two-factor login (django-otp) for supervisors, auditors and admins.

- Eligible roles (TWO_FACTOR_ROLES, default supervisor, auditor, admin) may set up an authenticator
  app at /accounts/2fa/setup/; once a device is confirmed, every later login asks for its code.
- REQUIRE_2FA_FOR_ROLES (default empty: optional for everyone) forces it: a user with such a role
  and no device is sent to the setup page before anything else.
- The secret is shown once as a QR code (inline SVG made here, no external service) and as base32
  text; it lives in django-otp's TOTPDevice row, whose verification is throttled after failures.
"""

from __future__ import annotations

import base64
import re
from typing import Any
from xml.etree import ElementTree

from django.conf import settings
from django.db import transaction
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from referral_engine.access import policy
from referral_engine.accounts import tokens

DEVICE_NAME = "authenticator"
OTP_CODE = re.compile(r"[0-9]{6}")  # ASCII digits only: \d would take full-width and other scripts' digits
SVG_NS = "http://www.w3.org/2000/svg"


def _roles(user: Any) -> set[str]:
    roles = set(policy.principal(user).roles)
    if getattr(user, "is_superuser", False):
        roles.add("admin")
    return roles


def eligible(user: Any) -> bool:
    return bool(_roles(user) & set(getattr(settings, "TWO_FACTOR_ROLES", ())))


def required(user: Any) -> bool:
    return bool(_roles(user) & set(getattr(settings, "REQUIRE_2FA_FOR_ROLES", ())))


def confirmed_device(user: Any) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


def is_verified(user: Any) -> bool:
    check = getattr(user, "is_verified", None)
    return bool(check and check())


def pending_step(user: Any) -> str | None:
    """What the user still owes before the app opens: "verify", "setup" or nothing."""
    if confirmed_device(user) is not None:
        return "verify"
    if required(user):
        return "setup"
    return None


def session_pending_step(request: Any) -> str | None:
    """`pending_step` of the session's user, or None once the session is verified. Remembered on the
    request: TwoFactorMiddleware and the API's session authentication both ask, one query between them."""
    user = request.user
    if not user.is_authenticated or is_verified(user):
        return None
    if not hasattr(request, "_two_factor_pending_step"):
        request._two_factor_pending_step = pending_step(user)
    return request._two_factor_pending_step


@transaction.atomic
def device_for_setup(user: Any) -> TOTPDevice:
    """The user's unconfirmed device (a new secret when there is none), kept across page reloads."""
    device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    return device


def base32_secret(device: TOTPDevice) -> str:
    return base64.b32encode(device.bin_key).decode("ascii")


def verify_code(device: TOTPDevice, code: str) -> bool:
    code = "".join(ch for ch in str(code) if ch.isdigit())
    return bool(code) and device.verify_token(code)


@transaction.atomic
def device_confirm(*, request: Any, device: TOTPDevice, code: str) -> bool:
    """Confirm a new device with a code from the app; the session counts as verified from now."""
    device = TOTPDevice.objects.select_for_update().get(pk=device.pk, user=request.user)
    if not verify_code(device, code):
        return False
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    # One authenticator per user: a confirmed device replaces any earlier one.
    TOTPDevice.objects.filter(user=request.user).exclude(pk=device.pk).delete()
    # An API token got on the password alone would outlive the second factor: the next one needs a code.
    tokens.api_tokens_revoke_on_second_factor(user=request.user)
    otp_login(request, device)
    return True


@transaction.atomic
def token_code_verify(*, user: Any, code: str) -> bool:
    """A code sent with the password to the API token endpoint. Exactly six digits, checked by
    django-otp on the row locked: two requests with one code cannot both pass (django-otp refuses a
    code whose time step was used already), and its throttling after failures applies as on the web."""
    device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True).order_by("pk").first()
    if device is None:
        return False
    if not isinstance(code, str) or not OTP_CODE.fullmatch(code):
        device.throttle_increment(commit=True)  # a malformed code is a wrong one, throttled alike
        return False
    return device.verify_token(code)


def session_verify(*, request: Any, code: str) -> bool:
    device = confirmed_device(request.user)
    if device is None or not verify_code(device, code):
        return False
    otp_login(request, device)
    return True


def qr_svg(data: str) -> str:
    """The otpauth:// URL as an inline <svg> (no XML declaration, no style attribute: CSP-safe)."""
    import qrcode
    import qrcode.image.svg

    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    root = ElementTree.fromstring(image.to_string(encoding="unicode"))  # noqa: S314 - qrcode output we just made
    root.set("role", "img")
    root.set("width", "220")
    root.set("height", "220")
    ElementTree.register_namespace("", SVG_NS)
    return ElementTree.tostring(root, encoding="unicode")
