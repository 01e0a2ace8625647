"""Writes for membership: one state machine for a membership's status, transfers, numbering.

Every status change goes through `_move` (the transition table `TRANSITIONS`): a conditional
`UPDATE ... WHERE status = <from>` that checks its row count, a `MembershipEvent` (from, to, who,
when, why) and an audit row. Moves that are not in the table raise `TransitionNotAllowed`. The
database holds the invariants as well: at most one active and one pending membership per person,
an active membership always has a number, a number is issued once (`MemberNumber.number` unique)
and no two active memberships share one.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from gonghui.accounts.selectors import viewer_scope
from gonghui.audit.services import audit_record
from gonghui.orgs.models import Org, OrgKind, OrgStatus
from gonghui.people.models import Person

from . import numbering
from .models import (
    Channel,
    MemberNumber,
    Membership,
    MembershipEvent,
    MembershipStatus,
    Transfer,
    TransferRequester,
    TransferStatus,
)

S = MembershipStatus

__all__ = [
    "AlreadyMember",
    "ApplicationPending",
    "MembershipError",
    "NotAuthorised",
    "NotGrassroots",
    "TRANSITIONS",
    "TransferError",
    "TransitionNotAllowed",
    "application_submit",
    "membership_apply",
    "membership_check",
    "membership_approve",
    "membership_lapse",
    "membership_reject",
    "membership_status_for",
    "membership_transfer",
    "membership_withdraw",
    "transfer_cancel",
    "transfer_confirm",
    "transfer_refuse",
    "transfer_request",
]

# (from, to) -> the verb that makes the move. "" is "no membership yet".
TRANSITIONS: dict[tuple[str, str], str] = {
    ("", S.PENDING): "apply",
    (S.PENDING, S.ACTIVE): "approve",
    (S.PENDING, S.REJECTED): "reject",
    (S.PENDING, S.WITHDRAWN): "withdraw",
    (S.ACTIVE, S.TRANSFERRED_OUT): "transfer",
    (S.ACTIVE, S.LAPSED): "lapse",
    (S.ACTIVE, S.WITHDRAWN): "withdraw",
    ("", S.ACTIVE): "transfer_in",  # the new membership a confirmed transfer creates
}

GRASSROOTS_KINDS = frozenset(
    {OrgKind.ENTERPRISE, OrgKind.JOINT, OrgKind.INDUSTRY, OrgKind.TOWNSHIP, OrgKind.VILLAGE}
)


class MembershipError(ValueError):
    """A membership write that cannot be done (the message, in Chinese, says why)."""


class AlreadyMember(MembershipError):
    def __init__(self, message: str, *, membership: Membership) -> None:
        super().__init__(message)
        self.membership = membership


class ApplicationPending(MembershipError):
    def __init__(self, message: str, *, membership: Membership) -> None:
        super().__init__(message)
        self.membership = membership


class NotGrassroots(MembershipError):
    """Members join a grassroots union (enterprise, joint, industry, township, village), not a federation."""


class TransitionNotAllowed(MembershipError):
    """A move the transition table does not allow, or one another request made first."""


class TransferError(MembershipError):
    """A transfer that cannot be requested, confirmed, refused or cancelled."""


class NotAuthorised(MembershipError):
    """The acting user does not hold a role over the union this act belongs to."""


# Domain errors speak Chinese whatever the UI language (the messages reach logs and API callers too).
STATUS_ZH = {
    "": "无",
    S.PENDING: "待审核",
    S.ACTIVE: "在册",
    S.TRANSFERRED_OUT: "已转出",
    S.LAPSED: "已失效",
    S.WITHDRAWN: "已退会",
    S.REJECTED: "已驳回",
}
TRANSFER_STATUS_ZH = {
    TransferStatus.REQUESTED: "待确认",
    TransferStatus.CONFIRMED: "已确认",
    TransferStatus.REFUSED: "已拒绝",
    TransferStatus.CANCELLED: "已撤回",
}


def _status_label(status: str) -> str:
    return STATUS_ZH.get(status, status)


def _actor_may_act_for(by: Any, org: Org) -> bool:
    if by is None:  # the system itself (command line, import): callers checked already
        return True
    scope = viewer_scope(by)
    return Org.objects.filter(scope.orgs_q(), pk=org.pk).exists()


def _check_authority(by: Any, org: Org, what: str) -> None:
    if not _actor_may_act_for(by, org):
        raise NotAuthorised(f"无权{what}：{org.name} 不在您所在工会的范围内")


def _check_grassroots(org: Org) -> None:
    if org.kind not in GRASSROOTS_KINDS:
        raise NotGrassroots(f"{org.name} 是{org.get_kind_display()}，会员只能加入基层工会")
    if org.status == OrgStatus.DISSOLVED:
        raise NotGrassroots(f"{org.name} 已撤销，不能接收会员")


def _record(membership: Membership, from_status: str, to_status: str, by: Any, reason: str, **detail) -> None:
    MembershipEvent.objects.create(
        membership=membership,
        from_status=from_status,
        to_status=to_status,
        by=by if getattr(by, "is_authenticated", False) else None,
        reason=reason[:300],
    )
    audit_record(
        actor=by,
        action=f"membership.{TRANSITIONS[(from_status, to_status)]}",
        target=membership,
        detail={
            "from": from_status,
            "to": to_status,
            "org": membership.org.code,
            "reason": reason[:300],
            **detail,
        },
    )


def coverage_refresh_on_commit(person_ids: list[int] | None) -> None:
    """The weave's contract: after a membership change commits, its coverage cells and weekly member
    counts are brought up to date for those people (`weave.matrix.cells_refresh_members`); `None`
    for everyone (a bulk approval of a whole roster, where recounting is cheaper than listing).

    Robust: a failure there is logged and does not undo the membership change already committed
    (a weave run or `gonghui weave coverage --refresh-members` catches up)."""
    if person_ids is not None and not person_ids:
        return

    def refresh() -> None:
        from gonghui.weave.matrix import cells_refresh_members

        cells_refresh_members(person_ids=person_ids)

    transaction.on_commit(refresh, robust=True)


def _move(membership: Membership, to_status: str, *, by: Any, reason: str = "", **fields: Any) -> Membership:
    """The one place a membership's status changes: checked against TRANSITIONS, conditional, recorded."""
    from_status = membership.status
    if (from_status, to_status) not in TRANSITIONS:
        raise TransitionNotAllowed(
            f"会员关系（{membership.org.name}）当前为“{_status_label(from_status)}”，"
            f"不能改为“{_status_label(to_status)}”"
        )
    values = {"status": to_status, "updated_at": timezone.now(), **fields}
    try:
        with transaction.atomic():
            changed = Membership.objects.filter(pk=membership.pk, status=from_status).update(**values)
    except IntegrityError as error:
        other = (
            Membership.objects.filter(person_id=membership.person_id, status=S.ACTIVE)
            .select_related("org")
            .first()
        )
        if to_status == S.ACTIVE and other is not None:
            raise AlreadyMember(
                f"此人已是 {other.org.name} 的会员，不能再成为会员", membership=other
            ) from error
        raise
    if changed != 1:
        now = Membership.objects.filter(pk=membership.pk).values_list("status", flat=True).first()
        raise TransitionNotAllowed(
            f"会员关系（{membership.org.name}）已被他人改为“{_status_label(now or '')}”，"
            f"不能改为“{_status_label(to_status)}”"
        )
    for key, value in values.items():
        setattr(membership, key, value)
    _record(membership, from_status, to_status, by, reason)
    if S.ACTIVE in (from_status, to_status):
        coverage_refresh_on_commit([membership.person_id])
    return membership


def membership_status_for(*, person: Person) -> Membership | None:
    """The person's current membership: the active one, else the pending application; None if neither."""
    return (
        Membership.objects.filter(person=person, status__in=[S.ACTIVE, S.PENDING])
        .select_related("org")
        .order_by("status")  # "active" sorts before "pending"
        .first()
    )


def _refuse_duplicate(person: Person) -> None:
    current = membership_status_for(person=person)
    if current is None:
        return
    if current.status == S.ACTIVE:
        raise AlreadyMember(
            f"{person.name}（{person.id_number_masked or '无身份证号'}）已是 {current.org.name} 的会员，"
            f"会员编号 {current.member_no}，无需再次申请",
            membership=current,
        )
    raise ApplicationPending(
        f"{person.name}（{person.id_number_masked or '无身份证号'}）已向 {current.org.name} 提出入会申请，"
        f"正在审核，请勿重复申请",
        membership=current,
    )


@transaction.atomic
def membership_apply(
    *,
    person: Person,
    org: Org,
    channel: str,
    by: Any = None,
    reason: str = "",
    consent_version: str = "",
) -> Membership:
    """An application to join `org`: a pending membership, with its event and audit row.

    Refuses (AlreadyMember / ApplicationPending, naming the union) a person who is an active member
    or has an application pending, also when two applications race (the database allows one
    pending per person). Raises NotGrassroots for a federation or a dissolved union, and
    MembershipError for an unknown channel.
    """
    if channel not in Channel.values or channel == Channel.TRANSFER:
        raise MembershipError(f"入会渠道 {channel!r} 无效（可选：online、onsite、roster、api）")
    _check_grassroots(org)
    _refuse_duplicate(person)
    membership = Membership(
        person=person,
        org=org,
        status=S.PENDING,
        channel=channel,
        consent_version=consent_version[:40],
        submitted_at=timezone.now(),
    )
    try:
        with transaction.atomic():
            membership.save(force_insert=True)
    except IntegrityError:
        _refuse_duplicate(person)
        raise
    _record(membership, "", S.PENDING, by, reason, channel=channel)
    return membership


def _issue_number(*, person: Person, org: Org, on: dt.date) -> str:
    plan = numbering.plan_for(org, on)
    seq = numbering.reserve(plan.prefix, 1, plan.rule.digits)
    number = numbering.format_number(plan.prefix, seq, plan.rule.digits)
    MemberNumber.objects.create(number=number, person=person, issued_by=plan.issuer, rule=plan.rule.label)
    return number


def _locked(membership: Membership) -> Membership:
    """The membership re-read under a row lock (PostgreSQL), so a racing decision waits and then sees ours."""
    return Membership.objects.select_for_update().select_related("org", "person").get(pk=membership.pk)


@transaction.atomic
def membership_approve(*, membership: Membership, by: Any = None, reason: str = "") -> Membership:
    """Approve a pending application: active, with a member number from the policy, joined today.

    Guarantees: two approvals of one application at once give one active membership and one
    number (row lock + conditional UPDATE; the loser gets TransitionNotAllowed); a person already
    active elsewhere is refused (AlreadyMember). `by` must hold a role over the union.
    """
    current = _locked(membership)
    _check_authority(by, current.org, "审批该入会申请")
    if current.status != S.PENDING:
        return _move(current, S.ACTIVE, by=by, reason=reason)  # raises TransitionNotAllowed
    now = timezone.now()
    today = timezone.localdate(now)
    number = _issue_number(person=current.person, org=current.org, on=today)
    moved = _move(
        current,
        S.ACTIVE,
        by=by,
        reason=reason,
        member_no=number,
        joined_on=today,
        decided_at=now,
        decided_by=by if getattr(by, "is_authenticated", False) else None,
    )
    membership.__dict__.update({k: v for k, v in moved.__dict__.items() if not k.startswith("_")})
    return moved


@transaction.atomic
def membership_reject(*, membership: Membership, reason: str, by: Any = None) -> Membership:
    """Refuse a pending application with a reason (required); the worker sees it on the outcome page."""
    reason = (reason or "").strip()
    if not reason:
        raise MembershipError("驳回入会申请必须填写理由")
    current = _locked(membership)
    _check_authority(by, current.org, "审批该入会申请")
    now = timezone.now()
    return _move(
        current,
        S.REJECTED,
        by=by,
        reason=reason,
        reject_reason=reason[:300],
        decided_at=now,
        decided_by=by if getattr(by, "is_authenticated", False) else None,
    )


@transaction.atomic
def membership_lapse(*, membership: Membership, by: Any = None, reason: str = "") -> Membership:
    """An active membership lapses (e.g. dues unpaid, contact lost); the number stays with the history."""
    current = _locked(membership)
    _check_authority(by, current.org, "变更该会员的会籍")
    return _move(current, S.LAPSED, by=by, reason=reason, ended_on=timezone.localdate())


@transaction.atomic
def membership_withdraw(*, membership: Membership, by: Any = None, reason: str = "") -> Membership:
    """The worker leaves (an active membership) or takes back an application (a pending one)."""
    current = _locked(membership)
    _check_authority(by, current.org, "变更该会员的会籍")
    ended = timezone.localdate() if current.status == S.ACTIVE else None
    return _move(current, S.WITHDRAWN, by=by, reason=reason, ended_on=ended)


# --- transfers (转会) ---------------------------------------------------------------------------


@transaction.atomic
def transfer_request(
    *,
    membership: Membership,
    to_org: Org,
    requested_by_kind: str,
    by: Any = None,
    reason: str = "",
) -> Transfer:
    """Ask to move an active member to `to_org`; the receiving union confirms (`transfer_confirm`).

    Requested by the worker, the union they leave or the receiving union (`requested_by_kind`);
    a staff requester must hold a role over the side they speak for. One open request per
    membership (a database constraint).
    """
    current = _locked(membership)
    if requested_by_kind not in TransferRequester.values:
        raise TransferError(f"转会申请人类型 {requested_by_kind!r} 无效")
    if current.status != S.ACTIVE:
        raise TransferError(
            f"只有在册会员可以转会（{current.org.name} 的会员关系为“{_status_label(current.status)}”）"
        )
    _check_grassroots(to_org)
    if to_org.pk == current.org_id:
        raise TransferError(f"转入工会与原工会相同（{to_org.name}）")
    if requested_by_kind == TransferRequester.FROM_UNION:
        _check_authority(by, current.org, "代原工会申请转会")
    elif requested_by_kind == TransferRequester.TO_UNION:
        _check_authority(by, to_org, "代接收工会申请转会")
    if Transfer.objects.filter(membership=current, status=TransferStatus.REQUESTED).exists():
        raise TransferError(f"{current.person.name} 已有一份待确认的转会申请")
    transfer = Transfer(
        membership=current,
        person=current.person,
        from_org=current.org,
        to_org=to_org,
        requested_by_kind=requested_by_kind,
        requested_by=by if getattr(by, "is_authenticated", False) else None,
        reason=reason[:300],
    )
    try:
        with transaction.atomic():
            transfer.save(force_insert=True)
    except IntegrityError:
        raise TransferError(f"{current.person.name} 已有一份待确认的转会申请") from None
    audit_record(
        actor=by,
        action="membership.transfer_request",
        target=transfer,
        detail={
            "from": current.org.code,
            "to": to_org.code,
            "by_kind": requested_by_kind,
            "membership": current.pk,
        },
    )
    return transfer


def _decide_transfer(transfer: Transfer, to_status: str, by: Any, reason: str) -> Transfer:
    now = timezone.now()
    changed = Transfer.objects.filter(pk=transfer.pk, status=TransferStatus.REQUESTED).update(
        status=to_status,
        decided_at=now,
        decided_by=by if getattr(by, "is_authenticated", False) else None,
        decision_reason=reason[:300],
    )
    if changed != 1:
        status = Transfer.objects.filter(pk=transfer.pk).values_list("status", flat=True).first() or ""
        label = TRANSFER_STATUS_ZH.get(status, "不存在")
        raise TransferError(f"该转会申请已是“{label}”，不能再处理")
    transfer.refresh_from_db()
    return transfer


@transaction.atomic
def transfer_confirm(*, transfer: Transfer, by: Any = None, reason: str = "") -> Membership:
    """The receiving union confirms: the old membership is transferred out and the new one is active.

    All in one transaction: conditional UPDATEs on the transfer (requested -> confirmed) and on the
    old membership (active -> transferred_out), so two confirmations, or two transfers of one
    member, at once give one move; the number is kept or reissued as the policy says.
    """
    transfer = Transfer.objects.select_related("to_org", "from_org").get(pk=transfer.pk)
    _check_authority(by, transfer.to_org, "确认转入本会")
    _check_grassroots(transfer.to_org)
    old = _locked(transfer.membership)
    transfer = _decide_transfer(transfer, TransferStatus.CONFIRMED, by, reason)
    new = _transfer_move(old, transfer.to_org, by=by, reason=reason or transfer.reason)
    transfer.new_membership = new
    transfer.save(update_fields=["new_membership"])
    return new


def _transfer_move(old: Membership, to_org: Org, *, by: Any, reason: str) -> Membership:
    today = timezone.localdate()
    if old.status != S.ACTIVE:
        raise TransferError(f"{old.person.name} 在 {old.org.name} 已不是在册会员，不能转会")
    keep = numbering.keeps_number_on_transfer(from_org=old.org, to_org=to_org, on=today)
    _move(old, S.TRANSFERRED_OUT, by=by, reason=f"转入 {to_org.name}：{reason}".rstrip("："), ended_on=today)
    number = old.member_no if keep else _issue_number(person=old.person, org=to_org, on=today)
    new = Membership(
        person=old.person,
        org=to_org,
        status=S.ACTIVE,
        member_no=number,
        joined_on=today,
        channel=Channel.TRANSFER,
        submitted_at=timezone.now(),
        decided_at=timezone.now(),
        decided_by=by if getattr(by, "is_authenticated", False) else None,
        transferred_from=old,
    )
    new.save(force_insert=True)
    _record(new, "", S.ACTIVE, by, f"转自 {old.org.name}：{reason}".rstrip("："), number_kept=keep)
    coverage_refresh_on_commit([new.person_id])
    return new


@transaction.atomic
def membership_transfer(
    *, membership: Membership, to_org: Org, by: Any = None, reason: str = ""
) -> Membership:
    """Request and confirm in one step (the receiving union moves a member in); returns the new membership.

    The same guarantees as `transfer_confirm`: two transfers of one member at once give one.
    """
    transfer = transfer_request(
        membership=membership,
        to_org=to_org,
        requested_by_kind=TransferRequester.TO_UNION,
        by=by,
        reason=reason,
    )
    return transfer_confirm(transfer=transfer, by=by, reason=reason)


@transaction.atomic
def transfer_refuse(*, transfer: Transfer, reason: str, by: Any = None) -> Transfer:
    """The receiving union refuses the transfer (reason required); the member stays where they are."""
    reason = (reason or "").strip()
    if not reason:
        raise TransferError("拒绝转会必须填写理由")
    transfer = Transfer.objects.select_related("to_org").get(pk=transfer.pk)
    _check_authority(by, transfer.to_org, "处理转入本会的申请")
    transfer = _decide_transfer(transfer, TransferStatus.REFUSED, by, reason)
    audit_record(
        actor=by, action="membership.transfer_refuse", target=transfer, detail={"reason": reason[:300]}
    )
    return transfer


@transaction.atomic
def transfer_cancel(*, transfer: Transfer, by: Any = None, reason: str = "") -> Transfer:
    """The requester (or either union) takes back an open transfer request."""
    transfer = Transfer.objects.select_related("to_org", "from_org").get(pk=transfer.pk)
    if not (_actor_may_act_for(by, transfer.from_org) or _actor_may_act_for(by, transfer.to_org)):
        raise NotAuthorised("无权撤回该转会申请")
    transfer = _decide_transfer(transfer, TransferStatus.CANCELLED, by, reason or "撤回")
    audit_record(
        actor=by, action="membership.transfer_cancel", target=transfer, detail={"reason": reason[:300]}
    )
    return transfer


# --- an application with the person's details (API, counter) ---------------------------------

CONSENT_PURPOSE = "membership"
CONSENT_CHANNEL_OF = {
    Channel.ONLINE: "online",
    Channel.API: "api",
    Channel.ONSITE: "counter",
    Channel.ROSTER: "roster",
}


def _name_key(name: str) -> str:
    return "".join(unicodedata.normalize("NFKC", name or "").split()).replace("•", "·")


@transaction.atomic
def application_submit(
    *,
    name: str,
    id_number: str,
    phone: str,
    org: Org,
    channel: str,
    consent_version: str,
    consent_items: list[str],
    by: Any = None,
    occupation: str = "",
    reference: str = "",
) -> Membership:
    """An application with the worker's details, as a platform's app or a service counter sends it.

    All or nothing: the person is found by the keyed hash of the ID number (the name must match the
    one on record: MembershipError otherwise) or created with the number and phone protected; the
    consent (text version and items, which must include the notice) is recorded with the channel;
    then `membership_apply`. `by` must hold a role over `org` (NotAuthorised otherwise).
    """
    from gonghui.people.services import consent_record, id_number_hash, person_create

    _check_authority(by, org, "向该工会提交入会申请")
    person = Person.objects.filter(id_number_hash=id_number_hash(id_number)).first()
    if person is not None and _name_key(person.name) != _name_key(name):
        raise MembershipError(f"姓名与身份证号 {person.id_number_masked} 登记的姓名不一致")
    if person is None:
        person = person_create(name=name, id_number=id_number, phone=phone, occupation=occupation, actor=by)
    else:
        _refuse_duplicate(person)
    consent_record(
        person=person,
        purpose=CONSENT_PURPOSE,
        version=consent_version,
        items=consent_items,
        channel=CONSENT_CHANNEL_OF.get(channel, "api"),
        by=by,
        reference=reference,
    )
    return membership_apply(person=person, org=org, channel=channel, by=by, consent_version=consent_version)


def membership_check(*, viewer: Any, id_number: str, ip: str | None = None) -> Membership | None:
    """Whether an ID number belongs to an active member: the active membership, else None.

    Only for a viewer holding `membership.check_membership` (PermissionDenied otherwise); every
    call, answered or refused, is an audit row with the masked number and the answer (never the
    number itself). Not limited to the viewer's subtree: a platform asks about its workers
    wherever they joined, and learns only yes/no and the union.
    """
    from django.core.exceptions import PermissionDenied

    from gonghui.lib.idcard import InvalidIdNumber, normalize_id_number
    from gonghui.lib.masking import mask_id_number
    from gonghui.people.services import id_number_hash

    try:
        canonical = normalize_id_number(id_number)
    except InvalidIdNumber:
        canonical = ""
    masked = mask_id_number(canonical) if canonical else ""
    if viewer is None or not viewer.has_perm(CHECK_PERMISSION):
        audit_record(
            actor=viewer, action="membership.check_refused", detail={"id_number_masked": masked}, ip=ip
        )
        raise PermissionDenied("无权查询会员身份")
    if not canonical:
        normalize_id_number(id_number)  # raises InvalidIdNumber with the reason
    found = (
        Membership.objects.filter(person__id_number_hash=id_number_hash(canonical), status=S.ACTIVE)
        .select_related("org")
        .first()
    )
    audit_record(
        actor=viewer,
        action="membership.check",
        target=found,
        detail={
            "id_number_masked": masked,
            "active": found is not None,
            "org": found.org.code if found else "",
        },
        ip=ip,
    )
    return found


CHECK_PERMISSION = "membership.check_membership"


def membership_check_allow(*, user: Any, allow: bool = True, by: Any = None) -> None:
    """Give (or take back) a user's `membership.check_membership` permission, audited."""
    from django.contrib.auth.models import Permission

    permission = Permission.objects.get(content_type__app_label="membership", codename="check_membership")
    if allow:
        user.user_permissions.add(permission)
    else:
        user.user_permissions.remove(permission)
    audit_record(
        actor=by,
        action="membership.check_allow" if allow else "membership.check_revoke",
        target=user,
        detail={"username": user.get_username()},
    )
