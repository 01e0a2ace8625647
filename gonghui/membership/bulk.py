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

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Count, QuerySet
from django.utils import timezone

from gonghui.accounts.selectors import viewer_scope
from gonghui.audit.services import audit_record
from gonghui.lib.bulk import foreign_keys_checked_set_based
from gonghui.lib.sql import db_value, quoted_table
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


def _analyze(*models) -> None:
    """Fresh planner statistics on PostgreSQL for tables a bulk step has just filled (cheap, sampled)."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE " + ", ".join(quoted_table(model) for model in models))


def _foreign_keys_checked(model, *, after_id: int):
    """Rows of `model` with an id above `after_id` get their foreign keys checked once per key
    (set-based) instead of one query per row and key at COMMIT (see lib.bulk)."""
    return foreign_keys_checked_set_based(model, "r.id > %s", [after_id])


def _keys_held_already(model):
    """Rows of `model` written inside the block reference only rows that this transaction already
    holds (rows it inserted, rows it locked FOR UPDATE, people whose keys another block of the same
    transaction checks and locks FOR KEY SHARE): their per-row checks at COMMIT are skipped, and
    no set-based check repeats them. Nothing can delete what they reference before the COMMIT, so
    the check would find every key and lock nothing new. The caller says why, at each use.
    """
    return foreign_keys_checked_set_based(model, "FALSE", [])


def _last_id(model) -> int:
    return model.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def _sql(queryset: QuerySet) -> tuple[str, tuple]:
    return queryset.query.sql_with_params()


# --- collective enrolment --------------------------------------------------------------------


@dataclass(frozen=True)
class _Enrolment:
    """What one enrolment writes with each new application (its event, its consent)."""

    batch_id: int
    by_id: int | None
    now: dt.datetime
    version: str
    items: list[str]
    channel: str
    event_reason: str


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
    nobody twice. Set-based: the candidates in one statement, the applications and their events
    in one more (on PostgreSQL; two elsewhere), the consent records in one insert.
    """
    from gonghui.census.models import BatchRow, RowStatus
    from gonghui.people.consent import consent_text

    _check_authority(by, union, "为该工会集中入会")
    text = consent_text(CONSENT_PURPOSE) if not consent_version else None
    version = consent_version or text.version
    enrolment = _Enrolment(
        batch_id=batch_id,
        by_id=by.pk if getattr(by, "is_authenticated", False) else None,
        now=timezone.now(),
        version=version,
        items=[item.code for item in (text.items if text else _consent_items(version))],
        channel=channel,
        event_reason=(reason or f"集中入会（名册批次 #{batch_id}）")[:300],
    )

    result = EnrolResult(batch_id=batch_id, consent_version=version)
    rows = BatchRow.objects.filter(batch_id=batch_id)
    result.people = rows.filter(status__in=[RowStatus.NEW, RowStatus.LINKED], person__isnull=False).aggregate(
        n=Count("person_id", distinct=True)
    )["n"]
    result.in_review = rows.filter(status=RowStatus.REVIEW).count()

    candidates = _quote(f"membership_enrol_{batch_id}")
    with connection.cursor() as cursor:
        result.unplaced = _enrol_candidates(cursor, candidates, batch_id, union)
        try:
            with ExitStack() as checks:
                # The applications' keys are checked (their people locked FOR KEY SHARE); the
                # events reference those new applications, the consents the same people, both
                # the acting user (locked here).
                checks.enter_context(_foreign_keys_checked(Membership, after_id=_last_id(Membership)))
                checks.enter_context(_keys_held_already(MembershipEvent))
                checks.enter_context(_keys_held_already(ConsentRecord))
                _lock_referenced(get_user_model(), {enrolment.by_id}, "操作人账号")
                person_ids, result.by_union = _enrol_insert(cursor, candidates, enrolment)
                _enrol_consents(person_ids, enrolment, by)
        finally:
            cursor.execute(f"DROP TABLE {candidates}")
    result.enrolled = len(person_ids)
    result.already = result.people - result.enrolled - result.unplaced
    _audit_enrol(by, union, result)
    return result


def _enrol_candidates(cursor, candidates: str, batch_id: int, union: Org) -> int:
    """Fill the temporary table `candidates` (person_id, org_id) with the batch's people to enrol,
    each with the union that takes them; returns how many had no grassroots union (unplaced).

    The candidates are fixed before the INSERT: an INSERT whose own SELECT looks up the table it
    fills can be planned as a scan of that table per row (quadratic) when the planner believes
    the table empty.
    """
    from gonghui.census.models import BatchRow, RowStatus
    from gonghui.weave.models import Coverage

    m, r, c, o = (quoted_table(model) for model in (Membership, BatchRow, Coverage, Org))
    kinds = sorted(str(k) for k in GRASSROOTS_KINDS)
    union_takes = union.kind in GRASSROOTS_KINDS and union.status != OrgStatus.DISSOLVED
    # The union for each person: the weave's primary union if grassroots and under --union, else
    # --union; people already a member or an applicant (or enrolled from this batch before) are out.
    cursor.execute(f"DROP TABLE IF EXISTS {candidates}")
    cursor.execute(
        f"""
        CREATE TEMPORARY TABLE {candidates} AS
        SELECT p.person_id, p.org_id FROM (
            SELECT DISTINCT r.person_id AS person_id, COALESCE(o.id, %s) AS org_id
            FROM {r} r
            LEFT JOIN {c} c ON c.person_id = r.person_id
            LEFT JOIN {o} o ON o.id = c.primary_org_id
                 AND substr(o.path, 1, %s) = %s
                 AND o.kind IN ({", ".join(["%s"] * len(kinds))})
                 AND o.status <> %s
            WHERE r.batch_id = %s AND r.person_id IS NOT NULL AND r.status IN (%s, %s)
        ) p
        WHERE NOT EXISTS (SELECT 1 FROM {m} x WHERE x.person_id = p.person_id
                          AND (x.status IN (%s, %s) OR x.source_batch_id = %s))
        """,
        [
            union.pk if union_takes else None,
            len(union.path),
            union.path,
            *kinds,
            OrgStatus.DISSOLVED,
            batch_id,
            RowStatus.NEW,
            RowStatus.LINKED,
            S.PENDING,
            S.ACTIVE,
            batch_id,
        ],
    )
    cursor.execute(f"SELECT COUNT(*) FROM {candidates} WHERE org_id IS NULL")
    return cursor.fetchone()[0]


_MEMBERSHIP_COLUMNS = """person_id, org_id, status, member_no, joined_on, ended_on, channel, consent_version,
    submitted_at, decided_at, decided_by_id, reject_reason, source_batch_id, transferred_from_id,
    created_at, updated_at"""


def _enrol_insert(cursor, candidates: str, enrolment: _Enrolment) -> tuple[list[int], dict[str, int]]:
    """The applications (pending) and one event each; returns the people enrolled and the count
    per union code. On PostgreSQL one statement: the events are inserted from the applications'
    RETURNING, so nothing looks the new rows up again."""
    m, e, o = quoted_table(Membership), quoted_table(MembershipEvent), quoted_table(Org)
    now_db = db_value(Membership, "submitted_at", enrolment.now)
    insert = f"""
        INSERT INTO {m} ({_MEMBERSHIP_COLUMNS})
        SELECT c.person_id, c.org_id, %s, NULL, NULL, NULL, %s, %s, %s, NULL, NULL, '', %s, NULL, %s, %s
        FROM {candidates} c WHERE c.org_id IS NOT NULL
        ON CONFLICT DO NOTHING
    """
    insert_params = [
        S.PENDING,
        enrolment.channel,
        enrolment.version,
        now_db,
        enrolment.batch_id,
        now_db,
        now_db,
    ]
    event_params = [
        S.PENDING,
        enrolment.by_id,
        db_value(MembershipEvent, "at", enrolment.now),
        enrolment.event_reason,
    ]
    if connection.vendor == "postgresql":
        cursor.execute(
            f"""
            WITH new AS ({insert} RETURNING id, person_id, org_id),
            events AS (
                INSERT INTO {e} (membership_id, from_status, to_status, by_id, at, reason)
                SELECT new.id, '', %s, %s, %s, %s FROM new
            )
            SELECT new.person_id, o.code FROM new JOIN {o} o ON o.id = new.org_id
            """,
            [*insert_params, *event_params],
        )
        enrolled = cursor.fetchall()
    else:
        before = _last_id(Membership)
        cursor.execute(insert, insert_params)
        new = f"FROM {m} WHERE id > %s AND source_batch_id = %s AND status = %s AND submitted_at = %s"
        new_params = [before, enrolment.batch_id, S.PENDING, now_db]
        cursor.execute(
            f"""
            INSERT INTO {e} (membership_id, from_status, to_status, by_id, at, reason)
            SELECT id, '', %s, %s, %s, %s {new}
            """,
            [*event_params, *new_params],
        )
        cursor.execute(
            f"SELECT n.person_id, o.code FROM (SELECT person_id, org_id {new}) n JOIN {o} o ON o.id = n.org_id",
            new_params,
        )
        enrolled = cursor.fetchall()
    by_union: dict[str, int] = defaultdict(int)
    for _person_id, code in enrolled:
        by_union[code] += 1
    return [person_id for person_id, _code in enrolled], dict(by_union)


def _enrol_consents(person_ids: list[int], enrolment: _Enrolment, by: Any) -> None:
    from gonghui.people.services import consent_record_bulk

    if not person_ids:
        return
    consent_record_bulk(
        person_ids=person_ids,
        purpose=CONSENT_PURPOSE,
        version=enrolment.version,
        items=enrolment.items,
        channel="roster",
        by=by,
        reference=f"census batch #{enrolment.batch_id}",
    )


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


@dataclass(frozen=True)
class _NumberRange:
    """The numbers reserved for the applications of some unions: one prefix of one rule."""

    prefix: str
    digits: int
    issuer_id: int
    rule_label: str
    org_ids: list[int]
    wanted: int
    start: int

    @property
    def first(self) -> str:
        return numbering.format_number(self.prefix, self.start, self.digits)

    @property
    def last(self) -> str:
        return numbering.format_number(self.prefix, self.start + self.wanted - 1, self.digits)


@dataclass(frozen=True)
class _Decision:
    by_id: int | None
    now: dt.datetime
    today: dt.date
    reason: str


# Above this many people, the weave's member counts are recomputed whole on commit rather than for
# the listed people: finding the places of 100,000 listed people (one IN list) costs more than
# recounting every cell.
REFRESH_ALL_ABOVE = 20_000


def _approve_set(pending: QuerySet[Membership], *, by: Any, reason: str, scope_note: str) -> ApproveResult:
    result = ApproveResult()
    active_people = Membership.objects.filter(status=S.ACTIVE).values("person_id")
    blocked = pending.filter(person_id__in=active_people)
    result.skipped_active_elsewhere = blocked.count()
    candidates = pending.exclude(person_id__in=active_people)
    if connection.vendor == "postgresql":
        # Lock the rows: a one-at-a-time decision racing with us waits, then finds them decided.
        locked_sql, locked_params = _sql(candidates.select_for_update(of=("self",)).values("pk"))
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM ({locked_sql}) locked", locked_params)
    per_org = dict(
        candidates.values_list("org_id").annotate(n=Count("pk")).values_list("org_id", "n").order_by()
    )
    if not per_org:
        return result
    now = timezone.now()
    decision = _Decision(
        by_id=by.pk if getattr(by, "is_authenticated", False) else None,
        now=now,
        today=timezone.localdate(now),
        reason=(reason or "批量审批")[:300],
    )
    groups: dict[tuple[str, int, int, str], list[int]] = defaultdict(list)
    for org in Org.objects.filter(pk__in=per_org):
        plan = numbering.plan_for(org, decision.today)
        groups[(plan.prefix, plan.rule.digits, plan.issuer.pk, plan.rule.label)].append(org.pk)
    # Every range is reserved before the tables are locked for the set-based key checks, so a
    # single approval holding a counter never waits on us while we wait on it.
    ranges = []
    for (prefix, digits, issuer_id, rule_label), org_ids in sorted(groups.items()):
        wanted = sum(per_org[pk] for pk in org_ids)
        start = numbering.reserve(prefix, wanted, digits)
        ranges.append(_NumberRange(prefix, digits, issuer_id, rule_label, org_ids, wanted, start))
    approved_people: list[int] = []
    with ExitStack() as checks:
        # The events and the numbers reference the applications locked FOR UPDATE above and their
        # people (whom a committed membership row references: no one can delete them while we hold
        # it); the issuing unions and the acting user are locked here as the check would.
        checks.enter_context(_keys_held_already(MemberNumber))
        checks.enter_context(_keys_held_already(MembershipEvent))
        _lock_referenced(Org, {numbers.issuer_id for numbers in ranges}, "发放会员编号的工会")
        _lock_referenced(get_user_model(), {decision.by_id}, "审批人账号")
        for numbers in ranges:
            people = _approve_range(candidates.filter(org_id__in=numbers.org_ids), numbers, decision)
            approved_people += people
            result.approved += len(people)
            result.ranges.append((numbers.first, numbers.last))
    coverage_refresh_on_commit(approved_people if len(approved_people) <= REFRESH_ALL_ABOVE else None)
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


def _lock_referenced(model, ids: set[int | None], what: str) -> None:
    """The few rows of `model` that skipped key checks reference (the acting user, the issuing
    unions) exist and stay until COMMIT: locked FOR KEY SHARE, as a key check would."""
    wanted = sorted(pk for pk in ids if pk is not None)
    if not wanted:
        return
    lock = " FOR KEY SHARE" if connection.vendor == "postgresql" else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id FROM {quoted_table(model)} WHERE id IN ({', '.join(['%s'] * len(wanted))}){lock}",
            wanted,
        )
        found = len(cursor.fetchall())
    if found != len(wanted):
        raise MembershipError(f"{what}已不存在，请重试")


def _approve_range(rows: QuerySet[Membership], numbers: _NumberRange, decision: _Decision) -> list[int]:
    """Approve `rows`: the n-th (by id) gets the number prefix + (start + n - 1), padded; each number
    is registered (MemberNumber) and each approval gets its event. Returns the people approved.

    On PostgreSQL one statement: an UPDATE ... FROM a row_number() window, whose RETURNING feeds
    the numbers' and the events' INSERTs. Elsewhere the same in three statements.
    """
    m, n, e = quoted_table(Membership), quoted_table(MemberNumber), quoted_table(MembershipEvent)
    sub_sql, sub_params = _sql(rows.values("pk"))
    digits = numbers.digits
    if connection.vendor == "postgresql":
        number = f"%s::text || lpad((%s + r.rn - 1)::text, {digits}, '0')"
    else:
        number = f"%s || substr('{'0' * digits}' || (%s + r.rn - 1), -{digits}, {digits})"
    update = f"""
        UPDATE {m} SET status = %s, member_no = {number}, joined_on = %s, decided_at = %s,
               decided_by_id = %s, updated_at = %s
        FROM (SELECT id, row_number() OVER (ORDER BY id) AS rn FROM {m} WHERE id IN ({sub_sql})) r
        WHERE {m}.id = r.id AND r.rn <= %s AND {m}.status = %s
    """
    update_params = [
        S.ACTIVE,
        numbers.prefix,
        numbers.start,
        db_value(Membership, "joined_on", decision.today),
        db_value(Membership, "decided_at", decision.now),
        decision.by_id,
        db_value(Membership, "updated_at", decision.now),
        *sub_params,
        numbers.wanted,
        S.PENDING,
    ]
    number_params = [numbers.issuer_id, numbers.rule_label, db_value(MemberNumber, "issued_at", decision.now)]
    event_params = [
        S.PENDING,
        S.ACTIVE,
        decision.by_id,
        db_value(MembershipEvent, "at", decision.now),
        decision.reason,
    ]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"""
                WITH approved AS ({update} RETURNING {m}.id, {m}.person_id, {m}.member_no),
                numbers AS (
                    INSERT INTO {n} (number, person_id, issued_by_id, rule, issued_at)
                    SELECT member_no, person_id, %s, %s, %s FROM approved
                ),
                events AS (
                    INSERT INTO {e} (membership_id, from_status, to_status, by_id, at, reason)
                    SELECT id, %s, %s, %s, %s, %s FROM approved
                )
                SELECT person_id FROM approved
                """,
                [*update_params, *number_params, *event_params],
            )
            return [person_id for (person_id,) in cursor.fetchall()]
        cursor.execute(update, update_params)
        # The rows just numbered: active with a number of this range (a number is held by one
        # active membership at most, and none of this range was issued before).
        issued = f"""
            FROM {m} WHERE status = %s AND substr(member_no, 1, %s) = %s AND length(member_no) = %s
            AND member_no BETWEEN %s AND %s
        """
        issued_params = [
            S.ACTIVE,
            len(numbers.prefix),
            numbers.prefix,
            len(numbers.prefix) + digits,
            numbers.first,
            numbers.last,
        ]
        cursor.execute(
            f"INSERT INTO {n} (number, person_id, issued_by_id, rule, issued_at) "
            f"SELECT member_no, person_id, %s, %s, %s {issued}",
            [*number_params, *issued_params],
        )
        cursor.execute(
            f"INSERT INTO {e} (membership_id, from_status, to_status, by_id, at, reason) "
            f"SELECT id, %s, %s, %s, %s, %s {issued}",
            [*event_params, *issued_params],
        )
        cursor.execute(f"SELECT person_id {issued}", issued_params)
        return [person_id for (person_id,) in cursor.fetchall()]


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
