"""Membership endpoints under /api/v1/members/: submit applications, read their status, check a member.

Thin handlers over `membership.services` and `membership.selectors`; the viewer is the token's
user. Domain errors are mapped to JSON by the API's handlers (api.py). ID numbers travel only in
request bodies, never in URLs, and leave only masked.
"""

from __future__ import annotations

from datetime import date, datetime

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404
from ninja import Field, Router, Schema, Status

from gonghui.membership import services
from gonghui.membership.models import Channel
from gonghui.membership.selectors import access_membership
from gonghui.orgs.selectors import org_list

router = Router(tags=["members"])

MAX_BATCH = 500


class ApplicationIn(Schema):
    """One worker's application, with the consent the caller collected from them (PIPL)."""

    union_code: str = Field(..., max_length=40, description="Code of the grassroots union applied to")
    name: str = Field(..., max_length=100)
    id_number: str = Field(..., max_length=24, description="Resident ID number (18 or 15 characters)")
    phone: str = Field(..., max_length=24, description="Mobile number")
    occupation: str = Field("", max_length=100)
    consent_version: str = Field(
        ..., max_length=20, description="Version of the membership consent text shown"
    )
    consent_items: list[str] = Field(
        ..., description="Item codes agreed to: notice, and each separately consented item (id_number, phone)"
    )
    reference: str = Field("", max_length=200, description="The caller's own reference for this application")


class ApplicationOut(Schema):
    id: int
    status: str = Field(..., description="pending, active, rejected, withdrawn, lapsed, transferred_out")
    union_code: str
    union_name: str
    channel: str
    submitted_at: datetime | None = None
    decided_at: datetime | None = None
    reject_reason: str = ""
    member_no: str | None = None
    joined_on: date | None = None
    name: str = Field(..., description="Name as on record")
    id_number_masked: str


class BatchIn(Schema):
    applications: list[ApplicationIn] = Field(..., max_length=MAX_BATCH)


class BatchItemOut(Schema):
    index: int = Field(..., description="0-based position in the request")
    ok: bool
    application: ApplicationOut | None = None
    detail: str = Field("", description="Why this one was refused (Chinese)")


class BatchOut(Schema):
    accepted: int
    refused: int
    items: list[BatchItemOut]


class CheckIn(Schema):
    id_number: str = Field(..., max_length=24, description="Resident ID number, in the body (never in a URL)")


class CheckOut(Schema):
    active_member: bool
    union_code: str | None = None
    union_name: str | None = None


class ErrorOut(Schema):
    detail: str


def _out(m) -> dict:
    return {
        "id": m.pk,
        "status": m.status,
        "union_code": m.org.code,
        "union_name": m.org.name,
        "channel": m.channel,
        "submitted_at": m.submitted_at,
        "decided_at": m.decided_at,
        "reject_reason": m.reject_reason,
        "member_no": m.member_no,
        "joined_on": m.joined_on,
        "name": m.person.name,
        "id_number_masked": m.person.id_number_masked,
    }


def _union(viewer, code: str):
    """A union in the caller's subtree, by code; Http404 for one outside it or unknown."""
    org = org_list(viewer=viewer).filter(code=code.strip()).first()
    if org is None:
        raise Http404("no such union")
    return org


def _submit(viewer, body: ApplicationIn):
    return services.application_submit(
        name=body.name,
        id_number=body.id_number,
        phone=body.phone,
        org=_union(viewer, body.union_code),
        channel=Channel.API,
        consent_version=body.consent_version,
        consent_items=body.consent_items,
        by=viewer,
        occupation=body.occupation,
        reference=body.reference,
    )


@router.post(
    "/applications",
    response={201: ApplicationOut, 400: ErrorOut, 404: ErrorOut},
    summary="Submit one application (404 for a union outside the caller's subtree)",
)
def application_create(request, body: ApplicationIn):
    """Register the worker (or find them by ID number), record their consent, and apply.

    400 with a Chinese message when the worker is already a member or has an application pending
    (naming the union), when the name does not match the ID number on record, or for a bad ID
    number, phone or consent."""
    return Status(201, _out(_submit(request.auth, body)))


@router.post(
    "/applications/batch",
    response={200: BatchOut},
    summary=f"Submit up to {MAX_BATCH} applications; each is accepted or refused on its own",
)
def application_batch(request, body: BatchIn):
    """Each application is all or nothing on its own (a savepoint each); the answer lists, in order,
    the application made or the reason it was refused."""
    items = []
    for index, one in enumerate(body.applications):
        try:
            with transaction.atomic():
                made = _submit(request.auth, one)
            items.append({"index": index, "ok": True, "application": _out(made)})
        except Http404:
            items.append({"index": index, "ok": False, "detail": "未找到该工会 / no such union"})
        except ValueError as exc:
            items.append({"index": index, "ok": False, "detail": str(exc)})
    accepted = sum(1 for i in items if i["ok"])
    return {"accepted": accepted, "refused": len(items) - accepted, "items": items}


@router.get(
    "/applications/{application_id}",
    response={200: ApplicationOut, 404: ErrorOut},
    summary="One application's status (404 outside the caller's subtree)",
)
def application_status(request, application_id: int):
    return _out(access_membership(request.auth, application_id))


@router.post(
    "/check",
    response={200: CheckOut, 400: ErrorOut, 403: ErrorOut},
    summary="Is this ID number an active member? (permission membership.check_membership; audited)",
)
def member_check(request, body: CheckIn):
    """Yes or no, and the union. The ID number goes in the body; every call is an audit row."""
    try:
        found = services.membership_check(
            viewer=request.auth, id_number=body.id_number, ip=request.META.get("REMOTE_ADDR")
        )
    except PermissionDenied:
        return Status(403, {"detail": "无权查询会员身份 / this token may not check membership"})
    if found is None:
        return {"active_member": False}
    return {"active_member": True, "union_code": found.org.code, "union_name": found.org.name}
