"""Writes to the register of honours: grant (one, or many set-based), revoke.

Every part of the platform that confers honours calls these; nothing else writes `Honour` rows.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from gonghui.audit.services import audit_record
from gonghui.orgs.models import Org
from gonghui.people.models import Person

from . import numbering
from .models import Honour, HonourKind, HonourLevel


class HonourError(ValueError):
    """A grant or revocation that is not allowed; one line of Chinese naming the item and field."""


@dataclass(frozen=True)
class HonourGrant:
    """One honour to confer: the holder (a person, or a team by name), what, by whom, from where, on which policy."""

    kind: str
    title: str
    level: str
    conferred_by: Org
    source_type: str
    source_id: str
    source_label: str
    conferred_on: dt.date
    person: Person | None = None
    team_name: str = ""
    conferred_with: str = ""
    amount: Decimal | None = None
    policy_file: str = ""
    policy_document: str = ""
    policy_effective: dt.date | None = None
    detail: dict = field(default_factory=dict)

    @property
    def holder_key(self) -> str:
        return f"person:{self.person.pk}" if self.person is not None else f"team:{self.team_name.strip()}"

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.source_type, str(self.source_id), self.holder_key, self.title.strip())


@dataclass(frozen=True)
class GrantReport:
    created: list[Honour]
    existing: list[Honour]

    def __str__(self) -> str:
        return f"新登记 {len(self.created)} 项荣誉，已登记 {len(self.existing)} 项"


def _check(grant: HonourGrant, where: str) -> None:
    if grant.kind not in HonourKind.values:
        raise HonourError(f"{where}：荣誉类别 {grant.kind!r} 不存在")
    if grant.level not in HonourLevel.values:
        raise HonourError(f"{where}：级别 {grant.level!r} 不存在")
    if not grant.title.strip():
        raise HonourError(f"{where}：荣誉名称不能为空")
    if grant.person is None and not grant.team_name.strip():
        raise HonourError(f"{where}：需要获得者（个人或团队）")
    if not grant.source_type or not str(grant.source_id) or not grant.source_label.strip():
        raise HonourError(f"{where}：需要来源（类型、编号与说明）")
    if grant.kind == HonourKind.CASH:
        if grant.amount is None or grant.amount <= 0:
            raise HonourError(f"{where}：现金奖励需要大于 0 的金额")
    elif grant.amount is not None:
        raise HonourError(f"{where}：只有现金奖励才有金额")


def _existing(keys: set[tuple[str, str, str, str]]) -> dict[tuple, Honour]:
    """The rows already registered for these keys: one query per source, each narrowed by holders."""
    by_source: dict[tuple[str, str], set[str]] = defaultdict(set)
    for source_type, source_id, holder_key, _title in keys:
        by_source[(source_type, source_id)].add(holder_key)
    if not by_source:
        return {}
    condition = Q(pk__in=[])
    for (source_type, source_id), holders in by_source.items():
        condition |= Q(source_type=source_type, source_id=source_id, holder_key__in=holders)
    found = {}
    for honour in Honour.objects.filter(condition):
        key = (honour.source_type, honour.source_id, honour.holder_key, honour.title)
        if key in keys:
            found[key] = honour
    return found


@transaction.atomic
def honours_grant_bulk(*, grants: list[HonourGrant], actor: Any | None = None) -> GrantReport:
    """Register many honours at once; idempotent and all or nothing.

    Guarantees: a grant whose (source, holder, title) is already registered creates nothing (the
    database's unique constraint backs this); new rows are written by one bulk INSERT, numbered from
    the conferring unions' rules by one counter update per prefix; one audit row names them all. An
    invalid item refuses the whole call (naming it: 第 N 项). Two grants of the same source at the
    same moment: one wins, the other is refused with HonourError and finds them registered on retry.
    """
    wanted: dict[tuple, HonourGrant] = {}
    for number, grant in enumerate(grants, start=1):
        _check(grant, f"第 {number} 项")
        wanted.setdefault(grant.key, grant)
    existing = _existing(set(wanted))
    new = [g for key, g in wanted.items() if key not in existing]
    plans: dict[tuple[int, dt.date], tuple[numbering.CertificateRule, str]] = {}
    by_prefix: dict[tuple[str, int], list[HonourGrant]] = defaultdict(list)
    for grant in new:
        plan_key = (grant.conferred_by.pk, grant.conferred_on)
        if plan_key not in plans:
            plans[plan_key] = numbering.rule_for(grant.conferred_by, grant.conferred_on)
        rule, prefix = plans[plan_key]
        by_prefix[(prefix, rule.digits)].append(grant)
    rows = []
    for (prefix, digits), group in by_prefix.items():
        first = numbering.reserve(prefix, len(group), digits)
        for offset, grant in enumerate(group):
            rows.append(
                Honour(
                    person=grant.person,
                    team_name=grant.team_name.strip(),
                    holder_name=grant.person.name if grant.person is not None else grant.team_name.strip(),
                    holder_key=grant.holder_key,
                    kind=grant.kind,
                    title=grant.title.strip(),
                    level=grant.level,
                    conferred_by=grant.conferred_by,
                    conferred_with=grant.conferred_with,
                    source_type=grant.source_type,
                    source_id=str(grant.source_id),
                    source_label=grant.source_label.strip(),
                    detail=grant.detail,
                    conferred_on=grant.conferred_on,
                    policy_file=grant.policy_file,
                    policy_document=grant.policy_document,
                    policy_effective=grant.policy_effective,
                    amount=grant.amount,
                    certificate_no=f"{prefix}{first + offset:0{digits}d}",
                    granted_by=actor if getattr(actor, "is_authenticated", False) else None,
                )
            )
    try:
        with transaction.atomic():
            Honour.objects.bulk_create(rows, batch_size=1000)
    except IntegrityError:
        raise HonourError("另一授予操作正在登记同一来源的荣誉，请稍后重试") from None
    # bulk_create sets primary keys on PostgreSQL and SQLite; read them back by number to be sure.
    created = list(Honour.objects.filter(certificate_no__in=[r.certificate_no for r in rows]))
    if grants:
        audit_record(
            actor=actor,
            action="honours.grant",
            detail={
                "sources": sorted({f"{g.source_type}:{g.source_id}" for g in wanted.values()}),
                "created": [h.pk for h in created],
                "existing": len(existing),
            },
        )
    return GrantReport(created=created, existing=list(existing.values()))


def honour_grant(
    *,
    person: Person | None = None,
    team_name: str = "",
    kind: str,
    title: str,
    level: str,
    conferred_by: Org,
    source_type: str,
    source_id: str,
    source_label: str,
    conferred_on: dt.date,
    conferred_with: str = "",
    amount: Decimal | None = None,
    policy_file: str = "",
    policy_document: str = "",
    policy_effective: dt.date | None = None,
    detail: dict | None = None,
    actor: Any | None = None,
) -> Honour:
    """Register one honour, or return the one already registered for the same source, holder and title."""
    report = honours_grant_bulk(
        grants=[
            HonourGrant(
                person=person,
                team_name=team_name,
                kind=kind,
                title=title,
                level=level,
                conferred_by=conferred_by,
                source_type=source_type,
                source_id=str(source_id),
                source_label=source_label,
                conferred_on=conferred_on,
                conferred_with=conferred_with,
                amount=amount,
                policy_file=policy_file,
                policy_document=policy_document,
                policy_effective=policy_effective,
                detail=detail or {},
            )
        ],
        actor=actor,
    )
    return (report.created or report.existing)[0]


@transaction.atomic
def honour_revoke(*, honour: Honour, reason: str, actor: Any | None = None) -> Honour:
    """Revoke an honour with a reason. The row and its certificate number stay (the number is never reused);
    the public check then answers "revoked". A conditional UPDATE: revoking twice is refused."""
    reason = (reason or "").strip()
    if not reason:
        raise HonourError(f"证书 {honour.certificate_no}：撤销需要填写原因")
    now = timezone.now()
    changed = Honour.objects.filter(pk=honour.pk, revoked=False).update(
        revoked=True,
        revoked_reason=reason[:300],
        revoked_at=now,
        revoked_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    if changed != 1:
        raise HonourError(f"证书 {honour.certificate_no} 已撤销")
    audit_record(actor=actor, action="honours.revoke", target=honour, detail={"reason": reason[:300]})
    honour.refresh_from_db()
    return honour
