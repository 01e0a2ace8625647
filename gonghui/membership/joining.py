"""What the public joining pages do: register the worker, offer unions, apply, look up, ask to move.

The pages under /join/ are open to anyone, so these functions decide what a stranger may learn:
a membership is described (which union, since when) only to someone who gives the ID number AND
the phone on record; the name typed must match the name on record for a known ID number, so a
stranger cannot rewrite another person's details. ID numbers and phones go straight to
`people.services` (ciphertext, keyed hash, masked form) and are never kept anywhere else.
The status changes themselves are `membership.services` (one state machine).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from gonghui.orgs.models import Employer, OccupationGroup, Org, OrgStatus
from gonghui.people.models import ConsentChannel, Person
from gonghui.people.services import (
    consent_record,
    id_number_hash,
    person_create,
    person_update,
    phone_hash,
)
from gonghui.regions.models import PREFIX_LENGTH, Region, RegionLevel

from . import services
from .models import Channel, Membership, MembershipEvent, MembershipStatus, Transfer, TransferStatus

CONSENT_PURPOSE = "membership"

__all__ = [
    "AlreadyJoined",
    "CONSENT_PURPOSE",
    "JoinError",
    "NameMismatch",
    "UnionOffer",
    "join_apply",
    "join_offers",
    "join_register",
    "link_union",
    "member_lookup",
    "member_overview",
]


class JoinError(ValueError):
    """The joining page cannot go on; the message (Chinese) says why."""


class NameMismatch(JoinError):
    """The ID number is registered under another name."""


class AlreadyJoined(JoinError):
    """The person is an active member or has an application pending.

    `disclose` says whether the page may name the union and the date (the phone matched the record).
    """

    def __init__(self, message: str, *, membership: Membership, disclose: bool) -> None:
        super().__init__(message)
        self.membership = membership
        self.disclose = disclose


def _name_key(name: str) -> str:
    return "".join(unicodedata.normalize("NFKC", name or "").split()).replace("•", "·")


def _phone_matches(person: Person, phone: str) -> bool:
    return bool(person.phone_hash) and person.phone_hash == phone_hash(phone)


def _already(person: Person, current: Membership, phone: str) -> AlreadyJoined:
    disclose = _phone_matches(person, phone)
    if current.status == MembershipStatus.ACTIVE:
        message = (
            f"您已是 {current.org.name} 的会员，无需再次申请"
            if disclose
            else "该身份证号已是工会会员，无需再次申请"
        )
    else:
        message = (
            f"您已向 {current.org.name} 提出入会申请，正在审核，请勿重复申请"
            if disclose
            else "该身份证号已有待审核的入会申请，请勿重复申请"
        )
    return AlreadyJoined(message, membership=current, disclose=disclose)


@transaction.atomic
def join_register(
    *,
    name: str,
    id_number: str,
    phone: str,
    work_region: Region,
    consent_version: str,
    consent_items: list[str],
    employer: Employer | None = None,
    group: OccupationGroup | None = None,
    occupation: str = "",
    ip: str | None = None,
) -> Person:
    """Step one of joining: the person found (by keyed hash) or created, and their consent recorded.

    Guarantees: nothing is written for a person who is already an active member or has an
    application pending (AlreadyJoined) or whose ID number is registered under another name
    (NameMismatch); otherwise the person's work facts are brought up to date (audited by
    `person_update`) and one ConsentRecord names the text version and items agreed to.
    Raises InvalidIdNumber / InvalidPhone / ConsentError on bad input.
    """
    person = Person.objects.filter(id_number_hash=id_number_hash(id_number)).first()
    if person is not None:
        if _name_key(person.name) != _name_key(name):
            raise NameMismatch("姓名与该身份证号登记的姓名不一致，请核对；如有疑问请联系当地工会")
        current = services.membership_status_for(person=person)
        if current is not None:
            raise _already(person, current, phone)
        facts: dict[str, Any] = {"phone": phone, "work_region": work_region}
        if employer is not None:
            facts["employer"] = employer
        if group is not None:
            facts["group"] = group
        if occupation:
            facts["occupation"] = occupation
        person_update(person=person, **facts)
    else:
        person = person_create(
            name=name,
            id_number=id_number,
            phone=phone,
            employer=employer,
            group=group,
            occupation=occupation,
            work_region=work_region,
        )
    consent_record(
        person=person,
        purpose=CONSENT_PURPOSE,
        version=consent_version,
        items=consent_items,
        channel=ConsentChannel.ONLINE,
        ip=ip,
    )
    return person


@dataclass(frozen=True)
class UnionOffer:
    """A union the worker may choose: why it covers them, whether the weave puts it first."""

    org: Org
    reason: str = ""
    suggested: bool = False  # the weave's first choice
    from_link: bool = False  # the union whose QR code or link the worker came by


def _grassroots_active():
    return Org.objects.filter(
        kind__in=services.GRASSROOTS_KINDS, status__in=[OrgStatus.ACTIVE, OrgStatus.PREPARING]
    )


def link_union(code: str) -> Org | None:
    """The grassroots union a joining link or QR code names (None for a federation or an unknown code)."""
    return _grassroots_active().filter(code=code).first() if code else None


def _nearby(region: Region | None) -> list[Org]:
    """When no union's rules cover the worker: the grassroots unions of their county, by name."""
    if region is None:
        return []
    county = (
        region.code[: PREFIX_LENGTH[RegionLevel.COUNTY]]
        if region.level >= RegionLevel.COUNTY
        else region.prefix
    )
    return list(_grassroots_active().filter(region__code__startswith=county).order_by("kind", "name")[:50])


def join_offers(
    *,
    employer_id: int | None,
    group_id: int | None,
    work_region: Region | None,
    link_code: str = "",
    exclude_org_id: int | None = None,
) -> list[UnionOffer]:
    """The unions to offer, in order: the one the worker came by (a QR code), then the weave's suggestions.

    The weave's first suggestion is marked `suggested`; when the weave finds none, the grassroots
    unions of the worker's county are offered so the application can still go somewhere.
    """
    from gonghui.weave.engine import suggest_unions

    offers: list[UnionOffer] = []
    seen: set[int] = set()
    if exclude_org_id:
        seen.add(exclude_org_id)
    if link_code:
        org = link_union(link_code)
        if org is not None and org.pk not in seen:
            offers.append(UnionOffer(org=org, from_link=True))
            seen.add(org.pk)
    suggestions = suggest_unions(
        employer_id=employer_id, group_id=group_id, work_region_id=work_region.pk if work_region else None
    )
    for n, suggestion in enumerate(suggestions):
        if suggestion.org.pk in seen:
            offers = [
                UnionOffer(org=o.org, reason=suggestion.reason, suggested=n == 0, from_link=o.from_link)
                if o.org.pk == suggestion.org.pk
                else o
                for o in offers
            ]
            continue
        offers.append(UnionOffer(org=suggestion.org, reason=suggestion.reason, suggested=n == 0))
        seen.add(suggestion.org.pk)
    if not suggestions:
        offers += [UnionOffer(org=org) for org in _nearby(work_region) if org.pk not in seen]
    return offers


def join_apply(*, person: Person, org: Org, consent_version: str, note: str = "") -> Membership:
    """Step two: the application to the chosen union (pending), through the membership state machine.

    Raises AlreadyJoined (disclosing: the worker has just shown their phone) if another request
    got there first, and membership errors (NotGrassroots ...) as they are.
    """
    try:
        return services.membership_apply(
            person=person, org=org, channel=Channel.ONLINE, reason=note[:300], consent_version=consent_version
        )
    except (services.AlreadyMember, services.ApplicationPending) as exc:
        current = exc.membership
        raise AlreadyJoined(str(exc), membership=current, disclose=True) from None


def member_lookup(*, id_number: str, phone: str) -> Person | None:
    """The person with this ID number whose phone on record is this phone; None otherwise (either wrong).

    Raises InvalidIdNumber / InvalidPhone for input that is not a number at all.
    """
    person = Person.objects.filter(id_number_hash=id_number_hash(id_number)).first()
    if person is None or not _phone_matches(person, phone):
        return None
    return person


@dataclass
class MemberOverview:
    person: Person
    current: Membership | None  # active, else pending, else the latest (rejected, lapsed ...)
    memberships: list[Membership] = field(default_factory=list)
    events: list[MembershipEvent] = field(default_factory=list)
    open_transfer: Transfer | None = None


def member_overview(*, person: Person) -> MemberOverview:
    """What the member's own page shows: the membership that matters now, every one, their history."""
    memberships = list(
        Membership.objects.filter(person=person).select_related("org").order_by("-created_at", "-id")
    )
    current = services.membership_status_for(person=person) or (memberships[0] if memberships else None)
    events = list(
        MembershipEvent.objects.filter(membership__person=person)
        .select_related("membership__org")
        .order_by("-at", "-id")
    )
    open_transfer = None
    if current is not None and current.status == MembershipStatus.ACTIVE:
        open_transfer = (
            Transfer.objects.filter(membership=current, status=TransferStatus.REQUESTED)
            .select_related("to_org")
            .first()
        )
    return MemberOverview(
        person=person, current=current, memberships=memberships, events=events, open_transfer=open_transfer
    )
