"""`gonghui demo drive`: the demo city's membership drive (应入尽入), so the new pages have data.

After `demo seed` the city has people and unions but no weave run and no members. `demo_drive`
runs the weave, enrols about 55% of the people into their primary union through the membership
app's set-based paths (pending applications by INSERT ... SELECT, approved by
`membership_approve_bulk`), spreads their join dates over the weeks since the drive began with a
rising weekly pace (a demo-only set-based UPDATE), leaves a few dozen applications pending in
郊区 (some overdue), and refreshes the weave's member counts. Everything here is demo data.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from gonghui.lib.sql import db_value, quoted_table
from gonghui.membership.bulk import CONSENT_PURPOSE, membership_approve_bulk
from gonghui.membership.models import Channel, Membership, MembershipEvent, MembershipStatus
from gonghui.membership.services import GRASSROOTS_KINDS
from gonghui.orgs.models import Org, OrgStatus
from gonghui.regions.models import Region, RegionLevel

from .services import DemoError

S = MembershipStatus

CITY_UNION = "F230800"
SUBURB_UNION = "F230811"  # 郊区: its unions get the pending applications
MEMBER_SHARE = 550  # per mille of the people, on average over the counties
PENDING_IN_SUBURB = 36
PENDING_DAYS = 15  # pending applications submitted over the last 15 days (some overdue)


class DemoAlreadyDriven(DemoError):
    """The database already holds memberships: the drive would enrol on top of real decisions."""


@dataclass
class DriveReport:
    weave_run: int = 0
    members: int = 0
    first_joined: dt.date | None = None
    last_joined: dt.date | None = None
    weeks: int = 0
    pending: int = 0
    pending_overdue: int = 0
    step_seconds: dict[str, float] | None = None
    seconds: float = 0.0


def demo_is_driven() -> bool:
    return Membership.objects.exists()


def demo_drive(*, today: dt.date | None = None) -> DriveReport:
    """Run the weave, make ~55% of the people members, leave some applications pending in 郊区.

    Guarantees: refuses (DemoAlreadyDriven, nothing written) when any membership exists, and
    (DemoError) when the demo city is not seeded; members are enrolled only into their weave
    primary union when it is a grassroots union; set-based throughout (a few statements whatever
    the number of people); afterwards `CoverageCell.members` and `MemberWeek` match the memberships.
    """
    from gonghui.people.consent import consent_text
    from gonghui.people.services import consent_record_bulk
    from gonghui.weave.matrix import cells_refresh_members, drive_policy
    from gonghui.weave.services import weave_run

    if demo_is_driven():
        raise DemoAlreadyDriven(
            "数据库中已有会员关系，拒绝重复推进演示入会 / the database already holds memberships: "
            "refusing to drive the demo city again (use --if-empty)"
        )
    city = Org.objects.filter(code=CITY_UNION).first()
    suburb = Org.objects.filter(code=SUBURB_UNION).first()
    if city is None or suburb is None:
        raise DemoError("演示城市尚未生成，请先运行 gonghui demo seed / the demo city is not seeded yet")
    today = today or timezone.localdate()
    report = DriveReport(step_seconds={})
    started = time.perf_counter()

    def timed(step: str, t: float) -> None:
        report.step_seconds[step] = round(time.perf_counter() - t, 2)

    t = time.perf_counter()
    run = weave_run(trigger="demo drive")
    report.weave_run = run.pk
    timed("weave", t)

    text = consent_text(CONSENT_PURPOSE, on=today)
    items = [item.code for item in text.items]
    policy = drive_policy(today)
    with transaction.atomic():
        t = time.perf_counter()
        before = Membership.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        _insert_applications(city, text.version, before)
        new = Membership.objects.filter(pk__gt=before, status=S.PENDING)
        consent_record_bulk(
            person_ids=list(new.values_list("person_id", flat=True)),
            purpose=CONSENT_PURPOSE,
            version=text.version,
            items=items,
            channel="roster",
            reference="demo drive",
        )
        timed("applications", t)

        t = time.perf_counter()
        approved = membership_approve_bulk(union=city, reason="演示数据：应入尽入集中行动")
        report.members = approved.approved
        timed("approve", t)

        t = time.perf_counter()
        _spread_join_dates(before, policy.drive_start, today)
        timed("join dates", t)

        t = time.perf_counter()
        report.pending, report.pending_overdue = _pending_in_suburb(suburb, text, items, today)
        timed("pending", t)

        t = time.perf_counter()
        cells_refresh_members()
        timed("matrix", t)

    dates = Membership.objects.filter(status=S.ACTIVE, pk__gt=before).values_list("joined_on", flat=True)
    report.first_joined = dates.order_by("joined_on").first()
    report.last_joined = dates.order_by("-joined_on").first()
    if report.first_joined and report.last_joined:
        report.weeks = (report.last_joined - report.first_joined).days // 7 + 1
    report.seconds = round(time.perf_counter() - started, 2)
    return report


def _insert_applications(city: Org, version: str, before: int) -> None:
    """Pending applications, one INSERT ... SELECT: the people picked (a fixed hash of their id,
    a share varying by county between ~42% and ~68%) into their weave primary union; then one
    event each. The membership app's bulk approval takes them from there."""
    m = quoted_table(Membership)
    e = quoted_table(MembershipEvent)
    from gonghui.weave.models import Coverage

    c = quoted_table(Coverage)
    o = quoted_table(Org)
    r = quoted_table(Region)
    counties = sorted(
        Region.objects.filter(code__startswith=CITY_UNION[1:5], level=RegionLevel.COUNTY).values_list(
            "code", flat=True
        )
    )
    # Demo data: each county its own share, so the coverage page shows differences.
    shares = [MEMBER_SHARE + ((i * 7) % 11 - 5) * 26 for i in range(len(counties))]
    case_params: list = []
    case = "CASE SUBSTR(COALESCE(r.code, ''), 1, 6)"
    for code, share in zip(counties, shares, strict=True):
        case += " WHEN %s THEN %s"
        case_params += [code[:6], share]
    case += " ELSE %s END"
    case_params.append(MEMBER_SHARE)
    kinds = sorted(str(k) for k in GRASSROOTS_KINDS)
    now_db = db_value(Membership, "submitted_at", timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {m} (person_id, org_id, status, member_no, joined_on, ended_on, channel,
                             consent_version, submitted_at, decided_at, decided_by_id, reject_reason,
                             source_batch_id, transferred_from_id, created_at, updated_at)
            SELECT c.person_id, c.primary_org_id, %s, NULL, NULL, NULL, %s, %s, %s, NULL, NULL, '',
                   NULL, NULL, %s, %s
            FROM {c} c
            JOIN {o} o ON o.id = c.primary_org_id
            LEFT JOIN {r} r ON r.id = c.region_id
            WHERE o.kind IN ({", ".join(["%s"] * len(kinds))}) AND o.status <> %s
              AND (c.person_id * 761) %% 1000 < {case}
              AND NOT EXISTS (SELECT 1 FROM {m} x WHERE x.person_id = c.person_id AND x.status IN (%s, %s))
            """,
            [
                S.PENDING,
                Channel.ROSTER,
                version,
                now_db,
                now_db,
                now_db,
                *kinds,
                OrgStatus.DISSOLVED,
                *case_params,
                S.PENDING,
                S.ACTIVE,
            ],
        )
        cursor.execute(
            f"""
            INSERT INTO {e} (membership_id, from_status, to_status, by_id, at, reason)
            SELECT id, '', %s, NULL, %s, %s FROM {m} WHERE status = %s AND id > %s
            """,
            [
                S.PENDING,
                db_value(MembershipEvent, "at", timezone.now()),
                "演示数据：应入尽入集中行动",
                S.PENDING,
                before,
            ],
        )


def _day_table(start: dt.date, end: dt.date, total: int) -> list[tuple[int, int, dt.date]]:
    """(first rank, last rank, day): `total` joins over the days from `start` to `end`, the daily
    pace rising linearly from the start (weekends at a third of a weekday)."""
    days = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
    weights = [(i + 1) * (1 if day.weekday() < 5 else 1 / 3) for i, day in enumerate(days)]
    whole = sum(weights)
    rows, done, running = [], 0, 0.0
    for day, weight in zip(days, weights, strict=True):
        running += weight
        upto = round(total * running / whole)
        if upto > done:
            rows.append((done + 1, upto, day))
            done = upto
    return rows


def _spread_join_dates(before: int, start: dt.date, today: dt.date) -> None:
    """DEMO DATA ONLY: the bulk approval dated every join today; here the new members' joined_on
    is spread over the days since the drive began (one UPDATE ... FROM a small table of days, the
    members ranked by a fixed hash of their person id), so the trend has a history and a pace.
    Nothing in the platform's real paths backdates a membership."""
    m = quoted_table(Membership)
    members = Membership.objects.filter(pk__gt=before, status=S.ACTIVE)
    total = members.count()
    if not total:
        return
    end = today - dt.timedelta(days=1)
    table = connection.ops.quote_name("demo_drive_days")
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {table}")
        cursor.execute(f"CREATE TEMPORARY TABLE {table} (lo integer, hi integer, day date)")
        try:
            cursor.executemany(
                f"INSERT INTO {table} (lo, hi, day) VALUES (%s, %s, %s)",
                [
                    (lo, hi, db_value(Membership, "joined_on", day))
                    for lo, hi, day in _day_table(start, end, total)
                ],
            )
            cursor.execute(
                f"""
                UPDATE {m} SET joined_on = d.day
                FROM (SELECT id, row_number() OVER (ORDER BY (person_id * 40503) %% 65537, id) AS rn
                      FROM {m} WHERE id > %s AND status = %s) x, {table} d
                WHERE {m}.id = x.id AND x.rn BETWEEN d.lo AND d.hi
                """,
                [before, S.ACTIVE],
            )
        finally:
            cursor.execute(f"DROP TABLE {table}")


def _pending_in_suburb(suburb: Org, text, items: list[str], today: dt.date) -> tuple[int, int]:
    """A few dozen applications left in the queue of 郊区's unions, submitted over the last
    PENDING_DAYS days (bulk_create of a few dozen rows, with their events and consents)."""
    from gonghui.membership.selectors import overdue_cutoff
    from gonghui.people.services import consent_record_bulk
    from gonghui.weave.models import Coverage

    taken = Membership.objects.filter(status__in=[S.PENDING, S.ACTIVE]).values("person_id")
    candidates = list(
        Coverage.objects.filter(
            primary_org__path__startswith=suburb.path,
            primary_org__kind__in=GRASSROOTS_KINDS,
        )
        .exclude(primary_org__status=OrgStatus.DISSOLVED)
        .exclude(person_id__in=taken)
        .order_by("person_id")
        .values_list("person_id", "primary_org_id")
    )
    # Evenly spread over 郊区's non-members (a few thousand ids read at most, a few dozen written).
    step = max(len(candidates) // PENDING_IN_SUBURB, 1)
    picked = candidates[::step][:PENDING_IN_SUBURB]
    now = timezone.now()
    rows = [
        Membership(
            person_id=person_id,
            org_id=org_id,
            status=S.PENDING,
            channel=Channel.ONLINE if i % 3 else Channel.ONSITE,
            consent_version=text.version,
            # Demo data: submitted over the last PENDING_DAYS days, so some are overdue.
            submitted_at=now - dt.timedelta(days=i % PENDING_DAYS, hours=i % 7),
        )
        for i, (person_id, org_id) in enumerate(picked)
    ]
    created = Membership.objects.bulk_create(rows)
    made = Membership.objects.filter(status=S.PENDING, person_id__in=[p for p, _o in picked])
    MembershipEvent.objects.bulk_create(
        [
            MembershipEvent(
                membership_id=pk, from_status="", to_status=S.PENDING, reason="演示数据：在线申请"
            )
            for pk in made.values_list("pk", flat=True)
        ]
    )
    consent_record_bulk(
        person_ids=[p for p, _o in picked],
        purpose=CONSENT_PURPOSE,
        version=text.version,
        items=items,
        channel="online",
        reference="demo drive",
    )
    overdue = made.filter(submitted_at__date__lte=overdue_cutoff(today)).count()
    return len(created), overdue


__all__ = ["DemoAlreadyDriven", "DriveReport", "demo_drive", "demo_is_driven"]
