"""Member cards and QR codes: the joining link of a union, the card's verification token.

A card's QR code opens a public page that says whether the card is valid. The URL carries a
signed token (`django.core.signing`, salted for this use, keyed by SECRET_KEY): it names the
membership and its number and cannot be made or altered without the key, so nobody can guess
another member's card or turn a number into a valid page. It holds no ID number, phone or name.
A card is valid while its membership is active with the same number: a transfer that gives a new
number, a lapse or a withdrawal makes the old card invalid without anything to revoke.
"""

from __future__ import annotations

from dataclasses import dataclass

import segno
from django.conf import settings
from django.core import signing
from django.urls import reverse

from gonghui.lib.masking import mask_name
from gonghui.orgs.models import Org

from .models import Membership, MembershipStatus

__all__ = [
    "CardCheck",
    "card_check",
    "card_token",
    "join_path",
    "public_url",
    "qr_png",
    "qr_svg",
]

CARD_SALT = "gonghui.membership.card.v1"


@dataclass(frozen=True)
class CardCheck:
    """What the public verification page may show: valid or not, the masked name, the union."""

    valid: bool
    masked_name: str = ""
    union: str = ""


def card_token(membership: Membership) -> str:
    """The signed token in a member card's QR code (URL-safe; no personal data in it)."""
    # A plain Signer, not dumps' TimestampSigner: one card, one token, however often it is shown.
    return signing.Signer(salt=CARD_SALT).sign_object(
        {"m": membership.pk, "n": membership.member_no or ""}, compress=True
    )


def card_check(token: str) -> CardCheck:
    """Whether the card behind `token` is valid now. A forged or altered token is simply invalid."""
    try:
        data = signing.Signer(salt=CARD_SALT).unsign_object(token)
        membership_id, number = int(data["m"]), str(data["n"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return CardCheck(valid=False)
    membership = Membership.objects.filter(pk=membership_id).select_related("person", "org").first()
    if membership is None or not number:
        return CardCheck(valid=False)
    valid = membership.status == MembershipStatus.ACTIVE and membership.member_no == number
    return CardCheck(valid=valid, masked_name=mask_name(membership.person.name), union=membership.org.name)


def join_path(org: Org) -> str:
    """The joining page with this union chosen (what a union's QR code opens)."""
    return f"{reverse('join:start')}?org={org.code}"


def public_url(request, path: str) -> str:
    """An absolute URL for a QR code: GONGHUI_PUBLIC_URL when the site is behind a proxy, else this host."""
    base = settings.GONGHUI_PUBLIC_URL.rstrip("/")
    return f"{base}{path}" if base else request.build_absolute_uri(path)


def qr_svg(data: str, *, scale: int = 4, title: str = "") -> str:
    """An inline <svg> QR code (error correction M), with a title for screen readers."""
    return segno.make(data, error="m", micro=False).svg_inline(
        scale=scale, border=2, title=title or None, omitsize=False
    )


def qr_png(data: str, *, scale: int = 10) -> bytes:
    """A PNG QR code for printing (error correction M)."""
    import io

    out = io.BytesIO()
    segno.make(data, error="m", micro=False).save(out, kind="png", scale=scale, border=2)
    return out.getvalue()
