"""Set-based membership writes: collective enrolment (集中入会) from a census batch, bulk approval.

Both are a handful of SQL statements whatever the number of people (INSERT ... SELECT and
UPDATE ... FROM with a window function), never a loop of saves; they keep the guarantees of the
one-at-a-time services: every move has its MembershipEvent, numbers come from the policy's counter
(one conditional UPDATE per prefix reserves the whole range), and the database's constraints (one
pending and one active membership per person, a number issued once) hold. One audit row per call,
with the counts and the number ranges.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, QuerySet
from django.utils import timezone

from gonghui.accounts.selectors import viewer_scope
from gonghui.audit.services import audit_record
from gonghui.lib.bulk import foreign_keys_checked_set_based
from gonghui.orgs.models import Org, OrgStatus
from gonghui.people.models import ConsentRecord

from . import numbering
from .models import Channel, MemberNumber, Membership, MembershipEvent, MembershipStatus
from .services import GRASSROOTS_KINDS, MembershipError, _check_authority, coverage_refresh_on_commit

S = MembershipStatus

CONSENT_PURPOSE = "membership"


@dataclass
class EnrolResult:
    """What a collective enrolment did with a batch's people."""

    batch_id: int
    people: int = 0  # distinct people the batch resolved to (new or linked rows)
    enrolled: int = 0  # new pending applications
    already: int = 0  # already a member or with an application pending (or enrolled from this batch before)
    unplaced: int = (
        0  # no grassroots union to take them (the --union is a federation and the weave gave none under it)
    )
    in_review: int = 0  # rows still in the census review queue (not enrolled until decided)
    consent_version: str = ""
    by_union: dict[str, int] = field(default_factory=dict)


@dataclass
class ApproveResult:
    approved: int = 0
    skipped_active_elsewhere: int = 0
    ranges: list[tuple[str, str]] = field(default_factory=list)  # (first, last) number per prefix


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def _db(model, name: str, value):
    """A Python value as the database takes it for `model.name` (datetimes on SQLite are text)."""
    return model._meta.get_field(name).get_db_prep_save(value, connection)


def _analyze(*models) -> None:
    """Fresh planner statistics on PostgreSQL for tables a bulk step has just filled (cheap, sampled)."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE " + ", ".join(_quote(model._meta.db_table) for model in models))


def _foreign_keys_checked(model, *, after_id: int):
    """Rows of `model` with an id above `after_id` get their foreign keys checked once per key
    (set-based) instead of one query per row and key at COMMIT (see lib.bulk)."""
    return foreign_keys_checked_set_based(model, "r.id > %s", [after_id])


def _last_id(model) -> int:
    return model.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def _sql(queryset: QuerySet) -> tuple[str, tuple]:
    return queryset.query.sql_with_params()


# --- collective enrolment --------------------------------------------------------------------


@transaction.atomic
def membership_enrol_batch(
    *,
    batch_id: int,
    union: Org,
    by: Any = None,
    consent_version: str = "",
    channel: str = Channel.ROSTER,
    reason: str = "",
) -> EnrolResult:
    """Make the batch's people who are not members and have no application pending into applications.

    The receiving union per person is the weave's primary union (`Coverage.primary_org`) when the
    weave has run and that union lies in `union`'s subtree, else `union` itself (people for whom
    neither is a grassroots union are counted as `unplaced`). Each new application gets a consent
    record from the roster's channel (`people.services.consent_record_bulk`, the text in force).
    Rows still in census review are left until decided. Idempotent: anyone already enrolled from
    this batch, an active member or an applicant is left alone, so the same roster twice enrols
    nobody twice. Set-based: one INSERT ... SELECT, one event INSERT ... SELECT, one consent insert.
    """
    from gonghui.census.models import BatchRow, RowStatus
    from gonghui.people.consent import consent_text
    from gonghui.weave.models import Coverage

    _check_authority(by, union, "为该工会集中入会")
    text = consent_text(CONSENT_PURPOSE) if not consent_version else None
    version = consent_version or text.version
    items = [item.code for item in (text.items if text else _consent_items(version))]

    result = EnrolResult(batch_id=batch_id, consent_version=version)
    rows = BatchRow.objects.filter(batch_id=batch_id)
    result.people = rows.filter(status__in=[RowStatus.NEW, RowStatus.LINKED], person__isnull=False).aggregate(
        n=Count("person_id", distinct=True)
    )["n"]
    result.in_review = rows.filter(status=RowStatus.REVIEW).count()

    m = _quote(Membership._meta.db_table)
    r = _quote(BatchRow._meta.db_table)
    c = _quote(Coverage._meta.db_table)
    o = _quote(Org._meta.db_table)
    kinds = sorted(str(k) for k in GRASSROOTS_KINDS)
    union_takes = union.kind in GRASSROOTS_KINDS and union.status != OrgStatus.DISSOLVED
    now = timezone.now()
    now_db = _db(Membership, "submitted_at", now)
    before = Membership.objects.order_by("-pk").values_list("pk", flat=True).first() or 0

    # The union for each person: the weave's primary union if grassroots and under --union, else --union.
    placed = f"""
        SELECT DISTINCT r.person_id AS person_id, COALESCE(o.id, %s) AS org_id
        FROM {r} r
        LEFT JOIN {c} c ON c.person_id = r.person_id
        LEFT JOIN {o} o ON o.id = c.primary_org_id
             AND substr(o.path, 1, %s) = %s
             AND o.kind IN ({", ".join(["%s"] * len(kinds))})
             AND o.status <> %s
        WHERE r.batch_id = %s AND r.person_id IS NOT NULL AND r.status IN (%s, %s)
    """
    placed_params = [
        union.pk if union_takes else None,
        len(union.path),
        union.path,
        *kinds,
        OrgStatus.DISSOLVED,
        batch_id,
        RowStatus.NEW,
        RowStatus.LINKED,
    ]
    taken = f"""
        NOT EXISTS (SELECT 1 FROM {m} x WHERE x.person_id = p.person_id
                    AND (x.status IN (%s, %s) OR x.source_batch_id = %s))
    """
    taken_params = [S.PENDING, S.ACTIVE, batch_id]
    candidates = _quote(f"membership_enrol_{batch_id}")
    _analyze(Membership, BatchRow, Coverage)
    with ExitStack() as checks:
        checks.enter_context(_foreign_keys_checked(Membership, after_id=before))
        checks.enter_context(_foreign_keys_checked(MembershipEvent, after_id=_last_id(MembershipEvent)))
        checks.enter_context(_foreign_keys_checked(ConsentRecord, after_id=_last_id(ConsentRecord)))
        _enrol_insert(
            result,
            batch_id,
            by,
            union,
            candidates,
            placed,
            placed_params,
            taken,
            taken_params,
            now,
            now_db,
            before,
            version,
            items,
            channel,
            reason,
        )
    _audit_enrol(by, union, result)
    return result


def _enrol_insert(
    result,
    batch_id,
    by,
    union,
    candidates,
    placed,
    placed_params,
    taken,
    taken_params,
    now,
    now_db,
    before,
    version,
    items,
    channel,
    reason,
) -> None:
    from gonghui.people.services import consent_record_bulk

    m = _quote(Membership._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COUNT(*) FROM ({placed}) p WHERE p.org_id IS NULL AND {taken}",
            [*placed_params, *taken_params],
        )
        result.unplaced = cursor.fetchone()[0]
        # The candidates are fixed first, in a temporary table: an INSERT whose own SELECT looks up
        # the table it fills can be planned as a scan of that table per row (quadratic) when the
        # planner believes the table empty.
        cursor.execute(f"DROP TABLE IF EXISTS {candidates}")
        cursor.execute(
            f"CREATE TEMPORARY TABLE {candidates} AS "
            f"SELECT p.person_id, p.org_id FROM ({placed}) p WHERE p.org_id IS NOT NULL AND {taken}",
            [*placed_params, *taken_params],
        )
        try:
            cursor.execute(
                f"""
                INSERT INTO {m} (person_id, org_id, status, member_no, joined_on, ended_on, channel,
                                 consent_version, submitted_at, decided_at, decided_by_id, reject_reason,
                                 source_batch_id, transferred_from_id, created_at, updated_at)
                SELECT c.person_id, c.org_id, %s, NULL, NULL, NULL, %s, %s, %s, NULL, NULL, '', %s, NULL, %s, %s
                FROM {candidates} c WHERE c.person_id IS NOT NULL
                ON CONFLICT DO NOTHING
                """,
                [S.PENDING, channel, version, now_db, batch_id, now_db, now_db],
            )
        finally:
            cursor.execute(f"DROP TABLE {candidates}")
    new = Membership.objects.filter(
        pk__gt=before, source_batch_id=batch_id, status=S.PENDING, submitted_at=now
    )
    result.enrolled = new.count()
    result.already = result.people - result.enrolled - result.unplaced
    if not result.enrolled:
        return

    e = _quote(MembershipEvent._meta.db_table)
    new_sql, new_params = _sql(new.values("pk"))
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {e} (membership_id, from_status, to_status, by_id, at, reason)
            SELECT id, '', %s, %s, %s, %s FROM {m} WHERE id IN ({new_sql})
            """,
            [
                S.PENDING,
                by.pk if getattr(by, "is_authenticated", False) else None,
                _db(MembershipEvent, "at", now),
                (reason or f"集中入会（名册批次 #{batch_id}）")[:300],
                *new_params,
            ],
        )
    person_ids = list(new.values_list("person_id", flat=True))
    consent_record_bulk(
        person_ids=person_ids,
        purpose=CONSENT_PURPOSE,
        version=version,
        items=items,
        channel="roster",
        by=by,
        reference=f"census batch #{batch_id}",
    )
    result.by_union = {
        code: n
        for code, n in new.values_list("org__code")
        .annotate(n=Count("pk"))
        .values_list("org__code", "n")
        .order_by()
    }


def _consent_items(version: str) -> list:
    from gonghui.people.consent import consent_text_version

    return list(consent_text_version(CONSENT_PURPOSE, version).items)


def _audit_enrol(by: Any, union: Org, result: EnrolResult) -> None:
    audit_record(
        actor=by,
        action="membership.enrol_batch",
        target=union,
        detail={
            "batch_id": result.batch_id,
            "people": result.people,
            "enrolled": result.enrolled,
            "already": result.already,
            "unplaced": result.unplaced,
            "in_review": result.in_review,
            "consent_version": result.consent_version,
            "by_union": result.by_union,
        },
    )


# --- bulk approval ----------------------------------------------------------------------------


def pending_under(union: Org) -> QuerySet[Membership]:
    """Pending applications to unions in `union`'s subtree."""
    return Membership.objects.filter(status=S.PENDING, org__path__startswith=union.path)


@transaction.atomic
def membership_approve_bulk(*, union: Org, by: Any = None, reason: str = "") -> ApproveResult:
    """Approve every pending application to a union in `union`'s subtree, numbers assigned set-based.

    Guarantees as `membership_approve`: one number each from the policy in force today, consecutive
    per prefix in application order, never issued before; one event each; an applicant who has
    become an active member elsewhere meanwhile is left pending (counted). Staff must hold a role
    over `union`.
    """
    _check_authority(by, union, "批量审批该工会的入会申请")
    _analyze(Membership)  # a roster's applications may have just arrived: plan with their numbers
    return _approve_set(pending_under(union), by=by, reason=reason, scope_note=union.code)


@transaction.atomic
def membership_approve_many(*, ids: list[int], by: Any, reason: str = "") -> ApproveResult:
    """Approve the chosen pending applications (the queue's bulk action); ids outside `by`'s scope are ignored."""
    scope = viewer_scope(by)
    chosen = Membership.objects.filter(status=S.PENDING, pk__in=[int(i) for i in ids]).filter(
        scope.orgs_q("org__")
    )
    return _approve_set(chosen, by=by, reason=reason, scope_note="selected")


def _approve_set(pending: QuerySet[Membership], *, by: Any, reason: str, scope_note: str) -> ApproveResult:
    result = ApproveResult()
    active_people = Membership.objects.filter(status=S.ACTIVE).values("person_id")
    blocked = pending.filter(person_id__in=active_people)
    result.skipped_active_elsewhere = blocked.count()
    candidates = pending.exclude(person_id__in=active_people)
    if connection.vendor == "postgresql":
        # Lock the rows: a one-at-a-time decision racing with us waits, then finds them decided.
        list(candidates.select_for_update(of=("self",)).values_list("pk", flat=True))
    per_org = dict(
        candidates.values_list("org_id").annotate(n=Count("pk")).values_list("org_id", "n").order_by()
    )
    if not per_org:
        return result
    now = timezone.now()
    today = timezone.localdate(now)
    groups: dict[tuple[str, int, int, str], list[int]] = defaultdict(list)
    for org in Org.objects.filter(pk__in=per_org):
        plan = numbering.plan_for(org, today)
        groups[(plan.prefix, plan.rule.digits, plan.issuer.pk, plan.rule.label)].append(org.pk)
    # Every range is reserved before the tables are locked for the set-based key checks, so a
    # single approval holding a counter never waits on us while we wait on it.
    reserved = []
    for (prefix, digits, issuer_id, rule_label), org_ids in sorted(groups.items()):
        wanted = sum(per_org[pk] for pk in org_ids)
        reserved.append(
            (
                prefix,
                digits,
                issuer_id,
                rule_label,
                org_ids,
                wanted,
                numbering.reserve(prefix, wanted, digits),
            )
        )
    with ExitStack() as checks:
        checks.enter_context(_foreign_keys_checked(MemberNumber, after_id=_last_id(MemberNumber)))
        checks.enter_context(_foreign_keys_checked(MembershipEvent, after_id=_last_id(MembershipEvent)))
        for prefix, digits, issuer_id, rule_label, org_ids, wanted, start in reserved:
            _approve_group(
                result,
                candidates,
                org_ids,
                prefix,
                digits,
                issuer_id,
                rule_label,
                wanted,
                start,
                now,
                today,
                by,
                reason,
            )
    audit_record(
        actor=by,
        action="membership.approve_bulk",
        detail={
            "scope": scope_note,
            "approved": result.approved,
            "skipped_active_elsewhere": result.skipped_active_elsewhere,
            "ranges": result.ranges,
            "reason": reason[:300],
        },
    )
    return result


def _approve_group(
    result, candidates, org_ids, prefix, digits, issuer_id, rule_label, wanted, start, now, today, by, reason
) -> None:
    done = _number_group(
        candidates.filter(org_id__in=org_ids),
        prefix=prefix,
        digits=digits,
        start=start,
        wanted=wanted,
        now=now,
        today=today,
        by=by,
    )
    first = numbering.format_number(prefix, start, digits)
    last = numbering.format_number(prefix, start + wanted - 1, digits)
    _record_group(prefix, digits, first, last, issuer_id, rule_label, by, now, reason)
    result.approved += done
    result.ranges.append((first, last))
    coverage_refresh_on_commit(
        list(
            MemberNumber.objects.filter(number__gte=first, number__lte=last).values_list(
                "person_id", flat=True
            )
        )
    )


def _number_group(
    rows: QuerySet[Membership],
    *,
    prefix: str,
    digits: int,
    start: int,
    wanted: int,
    now: dt.datetime,
    today: dt.date,
    by: Any,
) -> int:
    """One UPDATE ... FROM: the n-th row (by id) gets prefix + (start + n - 1), padded."""
    m = _quote(Membership._meta.db_table)
    sub_sql, sub_params = _sql(rows.values("pk"))
    if connection.vendor == "postgresql":
        number = f"%s::text || lpad((%s + r.rn - 1)::text, {digits}, '0')"
    else:
        number = f"%s || substr('{'0' * digits}' || (%s + r.rn - 1), -{digits}, {digits})"
    by_id = by.pk if getattr(by, "is_authenticated", False) else None
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {m} SET status = %s, member_no = {number}, joined_on = %s, decided_at = %s,
                   decided_by_id = %s, updated_at = %s
            FROM (SELECT id, row_number() OVER (ORDER BY id) AS rn FROM {m} WHERE id IN ({sub_sql})) r
            WHERE {m}.id = r.id AND r.rn <= %s AND {m}.status = %s
            """,
            [
                S.ACTIVE,
                prefix,
                start,
                _db(Membership, "joined_on", today),
                _db(Membership, "decided_at", now),
                by_id,
                _db(Membership, "updated_at", now),
                *sub_params,
                wanted,
                S.PENDING,
            ],
        )
        return cursor.rowcount


def _record_group(
    prefix: str,
    digits: int,
    first: str,
    last: str,
    issuer_id: int,
    rule_label: str,
    by: Any,
    now: dt.datetime,
    reason: str,
) -> None:
    """The numbers just issued (registered once each) and one event per approved membership."""
    m = _quote(Membership._meta.db_table)
    n = _quote(MemberNumber._meta.db_table)
    e = _quote(MembershipEvent._meta.db_table)
    issued = f"""
        {m}.status = %s AND substr({m}.member_no, 1, %s) = %s AND length({m}.member_no) = %s
        AND {m}.member_no BETWEEN %s AND %s
    """
    issued_params = [S.ACTIVE, len(prefix), prefix, len(prefix) + digits, first, last]
    by_id = by.pk if getattr(by, "is_authenticated", False) else None
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {n} (number, person_id, issued_by_id, rule, issued_at)
            SELECT {m}.member_no, {m}.person_id, %s, %s, %s FROM {m} WHERE {issued}
            """,
            [issuer_id, rule_label, _db(MemberNumber, "issued_at", now), *issued_params],
        )
        cursor.execute(
            f"""
            INSERT INTO {e} (membership_id, from_status, to_status, by_id, at, reason)
            SELECT {m}.id, %s, %s, %s, %s, %s FROM {m} WHERE {issued}
            """,
            [
                S.PENDING,
                S.ACTIVE,
                by_id,
                _db(MembershipEvent, "at", now),
                (reason or "批量审批")[:300],
                *issued_params,
            ],
        )


# --- a roster, end to end ---------------------------------------------------------------------


@dataclass
class RosterResult:
    census: Any  # census.services.ImportResult
    enrolment: EnrolResult
    census_seconds: float = 0.0
    enrol_seconds: float = 0.0


def membership_import_roster(
    *,
    source: Any,
    file_name: str,
    union: Org,
    source_kind: str = "platform",
    name: str = "",
    manual_map: dict[str, str] | None = None,
    sheet: str | int | None = None,
    by: Any = None,
    progress: Any = None,
) -> RosterResult:
    """Collective enrolment of a roster: the census import path (one batch, its own transaction),
    then `membership_enrol_batch` for the batch's people. The same file again: the census answers
    "unchanged" with the batch it made before and the enrolment finds everyone enrolled already.
    """
    from gonghui.census.services import census_import

    _check_authority(by, union, "为该工会集中入会")
    started = time.perf_counter()
    imported = census_import(
        source=source,
        file_name=file_name,
        source_kind=source_kind,
        name=name,
        org=union,
        actor=by,
        sheet=sheet,
        manual_map=manual_map,
        progress=progress,
    )
    if imported.batch.status != "done":
        raise MembershipError(
            f"名册批次 #{imported.batch.pk} 未导入完成（{imported.batch.status}），不能集中入会"
        )
    census_done = time.perf_counter()
    enrolment = membership_enrol_batch(batch_id=imported.batch.pk, union=union, by=by)
    return RosterResult(
        census=imported,
        enrolment=enrolment,
        census_seconds=census_done - started,
        enrol_seconds=time.perf_counter() - census_done,
    )
