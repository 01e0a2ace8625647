"""Writes for people, and the one way to see their ID number or phone unmasked.

The resident ID number and the phone are sensitive personal information (PIPL). Every write
goes through `protected_fields`, so the database only ever receives ciphertext, a keyed hash and
the masked form; `person_unmask` is the only path back to plaintext, and it is permission-checked,
scope-checked and audited (refusals too). Audit rows carry field names and masked forms, never
the values.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, connections, router, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from gonghui.accounts.selectors import viewer_scope
from gonghui.audit.services import audit_record
from gonghui.lib.crypto import decrypt, encrypt, keyed_hash
from gonghui.lib.idcard import InvalidIdNumber, id_info_of_canonical, normalize_id_number
from gonghui.lib.masking import mask_id_number, mask_name, mask_phone
from gonghui.lib.phone import InvalidPhone, normalize_mobile
from gonghui.orgs.models import Employer, OccupationGroup
from gonghui.regions.models import Region

from .consent import ConsentPolicyError, consent_text_version
from .models import ConsentChannel, ConsentRecord, Person

__all__ = [
    "ConsentError",
    "DuplicatePerson",
    "InvalidIdNumber",
    "InvalidPhone",
    "PersonError",
    "consent_record",
    "consent_record_bulk",
    "id_number_hash",
    "person_create",
    "person_find_by_id_number",
    "person_unmask",
    "person_update",
    "phone_hash",
    "protected_fields",
]

ID_NUMBER_PURPOSE = "id_number"
PHONE_PURPOSE = "phone"
UNMASKABLE_FIELDS = ("id_number", "phone")
UNMASK_PERMISSION = "people.view_unmasked"


class PersonError(ValueError):
    """A person write that cannot be done."""


class DuplicatePerson(PersonError):
    """The ID number is already registered to another person (one row per real person)."""

    def __init__(self, message: str, *, existing_id: int | None = None) -> None:
        super().__init__(message)
        self.existing_id = existing_id


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


def id_number_hash(value: str) -> str:
    """The keyed hash that finds a person by ID number, however it was typed (15 or 18 digits, x/X...)."""
    return keyed_hash(ID_NUMBER_PURPOSE, normalize_id_number(value))


def phone_hash(value: str) -> str:
    """The keyed hash that finds people by mobile number, however it was typed (+86, spaces...)."""
    return keyed_hash(PHONE_PURPOSE, normalize_mobile(value))


def _id_number_fields(id_number: str | None) -> dict[str, Any]:
    if id_number is None or not id_number.strip():
        return {
            "id_number_cipher": "",
            "id_number_hash": None,
            "id_number_masked": "",
            "birth_date": None,
            "sex": "",
            "birthplace_code": "",
        }
    canonical = normalize_id_number(id_number)
    info = id_info_of_canonical(canonical)
    return {
        "id_number_cipher": encrypt(canonical),
        "id_number_hash": keyed_hash(ID_NUMBER_PURPOSE, canonical),
        "id_number_masked": mask_id_number(canonical),
        "birth_date": info.birth_date,
        "sex": info.sex,
        "birthplace_code": info.birthplace_code,
    }


def _phone_fields(phone: str | None) -> dict[str, Any]:
    if phone is None or not phone.strip():
        return {"phone_cipher": "", "phone_hash": "", "phone_masked": ""}
    canonical = normalize_mobile(phone)
    return {
        "phone_cipher": encrypt(canonical),
        "phone_hash": keyed_hash(PHONE_PURPOSE, canonical),
        "phone_masked": mask_phone(canonical),
    }


def protected_fields(*, id_number: str | None, phone: str | None) -> dict[str, Any]:
    """The Person column values for an ID number and a phone (raw or normalised; None or "" for none).

    Guarantees: the values hold no plaintext (ciphertext, keyed hash, masked form, and what the ID
    number says: birth date, sex, birthplace); equal numbers typed differently give equal hashes.
    Raises InvalidIdNumber / InvalidPhone. Touches no database, so bulk paths can call it per row.
    """
    return {**_id_number_fields(id_number), **_phone_fields(phone)}


def _clean_name(name: str) -> str:
    cleaned = " ".join((name or "").split())
    if not cleaned:
        raise PersonError("姓名不能为空")
    if len(cleaned) > Person._meta.get_field("name").max_length:
        raise PersonError("姓名过长（最多100字）")
    return cleaned


def _duplicate(masked: str, hash_value: str) -> DuplicatePerson:
    existing_id = Person.objects.filter(id_number_hash=hash_value).values_list("pk", flat=True).first()
    return DuplicatePerson(f"身份证号 {masked} 已登记，不能重复建档", existing_id=existing_id)


@transaction.atomic
def person_create(
    *,
    name: str,
    id_number: str | None = None,
    phone: str | None = None,
    employer: Employer | None = None,
    group: OccupationGroup | None = None,
    occupation: str = "",
    work_region: Region | None = None,
    home_region: Region | None = None,
    actor: Any | None = None,
) -> Person:
    """Create one person with their ID number and phone stored protected, and audit it.

    Guarantees one row per real person: an ID number already registered (in any typing, 15 or 18
    digits) raises DuplicatePerson naming the masked number, also when two requests race (the
    unique keyed hash decides). Raises InvalidIdNumber / InvalidPhone / PersonError on bad input.
    """
    fields = protected_fields(id_number=id_number, phone=phone)
    hash_value = fields["id_number_hash"]
    if hash_value and Person.objects.filter(id_number_hash=hash_value).exists():
        raise _duplicate(fields["id_number_masked"], hash_value)
    person = Person(
        name=_clean_name(name),
        employer=employer,
        group=group,
        occupation=(occupation or "").strip(),
        work_region=work_region,
        home_region=home_region,
        **fields,
    )
    try:
        with transaction.atomic():
            person.save(force_insert=True)
    except IntegrityError:
        if hash_value and Person.objects.filter(id_number_hash=hash_value).exists():
            raise _duplicate(fields["id_number_masked"], hash_value) from None
        raise
    audit_record(
        actor=actor,
        action="person.create",
        target=person,
        detail={
            "id_number_masked": person.id_number_masked,
            "phone_masked": person.phone_masked,
            "work_region": work_region.code if work_region else "",
            "group": group.code if group else "",
            "employer_id": employer.pk if employer else None,
        },
    )
    return person


def _ref(value: Any) -> Any:
    """How a related row appears in an audit row: its code, else its id."""
    if value is None:
        return None
    return getattr(value, "code", None) or value.pk


@transaction.atomic
def person_update(
    *,
    person: Person,
    actor: Any | None = None,
    name: str = UNSET,
    phone: str | None = UNSET,
    employer: Employer | None = UNSET,
    group: OccupationGroup | None = UNSET,
    occupation: str = UNSET,
    work_region: Region | None = UNSET,
    home_region: Region | None = UNSET,
) -> Person:
    """Change what is passed (None clears a phone or a relation) and audit each change from -> to.

    The phone is stored protected as on create; the audit row shows names and phones only masked.
    Passing nothing that differs writes nothing. Raises InvalidPhone / PersonError on bad input.
    """
    changes: dict[str, dict[str, Any]] = {}
    update_fields: list[str] = []

    if name is not UNSET:
        cleaned = _clean_name(name)
        if cleaned != person.name:
            changes["name"] = {"from": mask_name(person.name), "to": mask_name(cleaned)}
            person.name = cleaned
            update_fields.append("name")
    if phone is not UNSET:
        new_phone = _phone_fields(phone)
        if new_phone["phone_hash"] != person.phone_hash:
            changes["phone"] = {"from": person.phone_masked, "to": new_phone["phone_masked"]}
            for field, value in new_phone.items():
                setattr(person, field, value)
            update_fields += list(new_phone)
    if occupation is not UNSET:
        cleaned = (occupation or "").strip()
        if cleaned != person.occupation:
            changes["occupation"] = {"from": person.occupation, "to": cleaned}
            person.occupation = cleaned
            update_fields.append("occupation")
    relations = {"employer": employer, "group": group, "work_region": work_region, "home_region": home_region}
    for field, value in relations.items():
        if value is UNSET:
            continue
        current = getattr(person, field)
        if (current.pk if current else None) != (value.pk if value else None):
            changes[field] = {"from": _ref(current), "to": _ref(value)}
            setattr(person, field, value)
            update_fields.append(field)

    if not update_fields:
        return person
    person.save(update_fields=[*update_fields, "updated_at"])
    audit_record(actor=actor, action="person.update", target=person, detail={"changes": changes})
    return person


def _in_scope(viewer: Any, person: Person) -> bool:
    scope = viewer_scope(viewer)
    if scope.is_global:
        return True
    return Person.objects.filter(scope.regions_q("work_region__"), pk=person.pk).exists()


def person_unmask(
    *,
    viewer: Any,
    person: Person,
    fields: Iterable[str] = UNMASKABLE_FIELDS,
    ip: str | None = None,
) -> dict[str, str]:
    """The plaintext of the requested fields ("id_number", "phone"; "" when not on record).

    Guarantees: only a viewer holding `people.view_unmasked` AND seeing the person (by where they
    work) gets the values; every call is audited: `person.unmask` with the field names, or
    `person.unmask_refused` with the reason, then PermissionDenied. The audit row is written
    before raising and outside any transaction of this function; a caller that wraps this in a
    transaction it rolls back on PermissionDenied would lose the refusal row, so don't.
    """
    requested = list(dict.fromkeys(fields))
    unknown = [f for f in requested if f not in UNMASKABLE_FIELDS]
    if unknown or not requested:
        raise PersonError(f"只能查看身份证号或手机号原文，不支持：{', '.join(unknown) or '（空）'}")

    reason = ""
    if viewer is None or not viewer.has_perm(UNMASK_PERMISSION):
        reason = "permission"
    elif not _in_scope(viewer, person):
        reason = "scope"
    if reason:
        audit_record(
            actor=viewer,
            action="person.unmask_refused",
            target=person,
            detail={"fields": requested, "reason": reason},
            ip=ip,
        )
        raise PermissionDenied(_("You may not view this person's ID number or phone unmasked."))

    values = {}
    for field in requested:
        values[field] = decrypt(getattr(person, f"{field}_cipher"))
    audit_record(actor=viewer, action="person.unmask", target=person, detail={"fields": requested}, ip=ip)
    return values


def person_find_by_id_number(*, id_number: str) -> Person | None:
    """The person registered with this ID number (in any typing), found by keyed hash; not scoped.

    For services and imports, not for showing to a user (use people.selectors). Raises
    InvalidIdNumber if `id_number` is not a valid number.
    """
    return Person.objects.filter(id_number_hash=id_number_hash(id_number)).first()


# --- consent (PIPL) ------------------------------------------------------------------------------


class ConsentError(PersonError):
    """A consent that cannot be recorded: unknown text version, item or channel, or no such person."""


def _checked_consent(*, purpose: str, version: str, items: Iterable[str], channel: str) -> list[str]:
    """The items as stored (in the text's order), after checking them against the versioned text."""
    try:
        text = consent_text_version(purpose, version)
    except ConsentPolicyError:
        raise ConsentError(f"告知同意文本 {purpose} 没有版本 {version}，不能记录同意") from None
    wanted = list(dict.fromkeys(items))
    unknown = [code for code in wanted if code not in text.item_codes]
    if unknown:
        raise ConsentError(f"告知同意文本 {purpose} {version} 版没有同意事项：{', '.join(unknown)}")
    if "notice" not in wanted:
        raise ConsentError("同意事项须包含个人信息处理告知（notice）")
    if channel not in ConsentChannel.values:
        raise ConsentError(f"同意渠道 {channel!r} 无效，应为：{', '.join(ConsentChannel.values)}")
    return [code for code in text.item_codes if code in wanted]


@transaction.atomic
def consent_record(
    *,
    person: Person,
    purpose: str,
    version: str,
    items: Iterable[str],
    channel: str,
    by: Any | None = None,
    reference: str = "",
    ip: str | None = None,
) -> ConsentRecord:
    """Record that `person` consented to `items` of version `version` of the `purpose` text, now.

    Guarantees: the version and every item exist in `policies/consent/<purpose>.yaml` and the items
    include the notice (ConsentError otherwise, nothing written); one append-only row with the time
    it was given and the channel, and one audit row `consent.record`.
    """
    stored = _checked_consent(purpose=purpose, version=version, items=items, channel=channel)
    record = ConsentRecord.objects.create(
        person=person,
        purpose=purpose,
        version=version,
        items=stored,
        channel=channel,
        reference=reference[:200],
        given_at=timezone.now(),
        by=by if getattr(by, "is_authenticated", False) else None,
    )
    audit_record(
        actor=by,
        action="consent.record",
        target=person,
        detail={"purpose": purpose, "version": version, "items": stored, "channel": channel},
        ip=ip,
    )
    return record


_SQLITE_CHUNK = 900  # below SQLite's oldest limit on bound parameters


@transaction.atomic
def consent_record_bulk(
    *,
    person_ids: Iterable[int],
    purpose: str,
    version: str,
    items: Iterable[str],
    channel: str,
    by: Any | None = None,
    reference: str = "",
) -> int:
    """Record the same consent for many people at once (a roster's people); returns the rows written.

    Set-based: one INSERT ... SELECT from the people table (per chunk of ids on SQLite), never a
    loop of saves; one audit row `consent.record_bulk` with the count. Guarantees: every id is a
    person (ConsentError naming up to ten missing ids otherwise, nothing written); an id given
    twice gets one row; all rows carry the same `given_at`.
    """
    stored = _checked_consent(purpose=purpose, version=version, items=items, channel=channel)
    ids = sorted({int(pk) for pk in person_ids})
    if not ids:
        return 0
    connection = connections[router.db_for_write(ConsentRecord)]
    quote = connection.ops.quote_name
    table = quote(ConsentRecord._meta.db_table)
    people = quote(Person._meta.db_table)
    given_at = ConsentRecord._meta.get_field("given_at").get_db_prep_save(timezone.now(), connection)
    by_id = by.pk if getattr(by, "is_authenticated", False) else None
    items_json = json.dumps(stored)
    columns = ", ".join(
        quote(c)
        for c in ("person_id", "purpose", "version", "items", "channel", "reference", "given_at", "by_id")
    )
    common = [purpose, version, items_json, channel, reference[:200], given_at, by_id]
    written = 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"INSERT INTO {table} ({columns}) "
                f"SELECT p.id, %s, %s, %s::jsonb, %s, %s, %s, %s FROM {people} p WHERE p.id = ANY(%s)",
                [*common, ids],
            )
            written = cursor.rowcount
        else:
            for start in range(0, len(ids), _SQLITE_CHUNK):
                chunk = ids[start : start + _SQLITE_CHUNK]
                cursor.execute(
                    f"INSERT INTO {table} ({columns}) "
                    f"SELECT p.id, %s, %s, %s, %s, %s, %s, %s FROM {people} p "
                    f"WHERE p.id IN ({', '.join(['%s'] * len(chunk))})",
                    [*common, *chunk],
                )
                written += cursor.rowcount
    if written != len(ids):
        known = set(Person.objects.filter(pk__in=ids).values_list("pk", flat=True))
        missing = [pk for pk in ids if pk not in known]
        raise ConsentError(f"以下人员不存在，未记录同意：{', '.join(map(str, missing[:10]))}")
    audit_record(
        actor=by,
        action="consent.record_bulk",
        detail={
            "purpose": purpose,
            "version": version,
            "items": stored,
            "channel": channel,
            "count": written,
            "reference": reference[:200],
        },
    )
    return written
