"""The coverage matrix: people counted, members, coverage rate, holes and overlaps per region × group.

Reads (the matrix page, its drill-down, the export, `gonghui weave coverage`) sum `CoverageCell` rows
by region-code prefix and never scan people: one aggregate query gives every cell of the heat
table, and the by-group / by-region rows and the totals are sums of those cells. The drive's
trend sums `MemberWeek` rows the same way. Every read takes the viewer and is narrowed by
`viewer_scope(viewer).regions_q(...)` on the cells' region codes; a region outside the viewer's
subtree answers 404.

Keeping members current: a weave run writes the cells, but members change between runs (joins
approved, transfers, lapses). `cells_refresh_members()` recomputes `CoverageCell.members` and the
`MemberWeek` rows set-based (one UPDATE ... FROM and INSERT ... SELECTs), for everyone or only
for the cells of the people given. The contract: a service that changes a membership's status
calls `cells_refresh_members(person_ids=[...])` on commit (about 0.2 s at a million people), and
a weave run calls `cells_refresh_members()` after writing the cells (the weekly rows follow the
region each person is counted in). `gonghui weave coverage --refresh-members` runs it by hand.

The drive itself (its start, who should join, how the pace is measured) is policy:
`policies/weave_drive.yaml`, read for a date by `drive_policy()`.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache, reduce
from operator import or_
from pathlib import Path
from typing import Any

import yaml
from django.db import connection, transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import Length, Substr, TruncWeek
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from gonghui.accounts.selectors import ViewerScope, viewer_scope
from gonghui.census.policies import GROUP_CODES
from gonghui.membership.models import Membership, MembershipStatus
from gonghui.orgs.models import OccupationGroup
from gonghui.people.models import Person
from gonghui.people.selectors import person_list, region_prefix
from gonghui.regions.models import PREFIX_LENGTH, Region, RegionLevel

from .models import Coverage, CoverageCell, MemberWeek

POLICY_PATH = Path(__file__).resolve().parents[2] / "policies" / "weave_drive.yaml"
# The key of the column / filter for people the census counted without an occupation group.
NO_GROUP = "_none"
# MemberWeek rows are kept per township area, and summed again per county and per city, so the
# trend of any region down to a township reads only its own rows (about groups x weeks of them).
AREA_LENGTH = PREFIX_LENGTH[RegionLevel.TOWNSHIP]
AREA_LEVELS = (
    PREFIX_LENGTH[RegionLevel.TOWNSHIP],
    PREFIX_LENGTH[RegionLevel.COUNTY],
    PREFIX_LENGTH[RegionLevel.CITY],
)
# Memberships that were, at some time, a real membership (not an application still pending or refused).
EVER_MEMBER = (
    MembershipStatus.ACTIVE,
    MembershipStatus.TRANSFERRED_OUT,
    MembershipStatus.LAPSED,
    MembershipStatus.WITHDRAWN,
)
DRILL_KINDS = ("all", "members", "covered", "holes", "overlaps")


# --------------------------------------------------------------------------- the drive's policy


class DrivePolicyError(ValueError):
    """policies/weave_drive.yaml is missing, malformed, or names an unknown group."""


@dataclass(frozen=True)
class DrivePolicy:
    issuer: str
    document: str
    version: int
    effective: dt.date
    drive_start: dt.date
    should_join_groups: frozenset[str]
    include_ungrouped: bool
    pace_weeks: int

    def should_join(self, group_code: str | None) -> bool:
        """Whether people counted in this group (None: without a group) should join."""
        if group_code is None:
            return self.include_ungrouped
        return group_code in self.should_join_groups


def _date(value: Any, where: str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise DrivePolicyError(f"weave_drive.yaml：{where} 不是日期（{value!r}）") from None


@cache
def _drive_versions(path: Path) -> tuple[DrivePolicy, ...]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DrivePolicyError(f"{path}：无法读取（{exc}）") from None
    if not isinstance(data, dict) or not data.get("versions"):
        raise DrivePolicyError(f"{path}：需要 issuer、document 和 versions")
    versions = []
    for i, item in enumerate(data["versions"], start=1):
        where = f"第 {i} 个版本"
        try:
            should = item["should_join"]
            groups = frozenset(str(g) for g in should["groups"])
            pace_weeks = int(item.get("pace_weeks", 4))
            version = DrivePolicy(
                issuer=str(data["issuer"]),
                document=str(data["document"]),
                version=int(item["version"]),
                effective=_date(item["effective"], f"{where} effective"),
                drive_start=_date(item["drive_start"], f"{where} drive_start"),
                should_join_groups=groups,
                include_ungrouped=bool(should.get("include_ungrouped", False)),
                pace_weeks=pace_weeks,
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, DrivePolicyError):
                raise
            raise DrivePolicyError(f"{path}：{where} 缺少或写错了字段（{exc}）") from None
        unknown = groups - GROUP_CODES
        if unknown:
            raise DrivePolicyError(f"{path}：{where} should_join.groups 有未知群体 {sorted(unknown)}")
        if version.pace_weeks < 1:
            raise DrivePolicyError(f"{path}：{where} pace_weeks 必须至少为 1")
        versions.append(version)
    return tuple(sorted(versions, key=lambda v: v.effective))


def drive_policy(on: dt.date | None = None, *, path: Path | None = None) -> DrivePolicy:
    """The drive's policy in force on `on` (today by default): the latest version effective by then."""
    on = on or timezone.localdate()
    versions = _drive_versions(path or POLICY_PATH)
    in_force = [v for v in versions if v.effective <= on]
    if not in_force:
        raise DrivePolicyError(_("No version of the drive policy is in force on %(date)s.") % {"date": on})
    return in_force[-1]


# --------------------------------------------------------------------------- counts and the matrix


@dataclass
class Counts:
    people: int = 0
    members: int = 0
    covered: int = 0
    holes: int = 0
    overlaps: int = 0

    def add(self, other: Counts) -> None:
        self.people += other.people
        self.members += other.members
        self.covered += other.covered
        self.holes += other.holes
        self.overlaps += other.overlaps

    @property
    def rate(self) -> float | None:
        """Coverage rate: members / people counted (None when nobody was counted)."""
        return self.members / self.people if self.people else None


@dataclass
class MatrixRow:
    """One row of the by-group or by-region table: `key` is a group code or a region code."""

    key: str
    label: str
    counts: Counts


@dataclass
class Matrix:
    region: Region
    group: OccupationGroup | None  # the group filter, None for all groups
    group_key: str  # "" for all groups, a group code, or NO_GROUP
    columns: list[tuple[str, str]]  # (group key, label) of the heat table
    rows: list[tuple[str, str]]  # (region key, label): child regions, then "" for this level only
    cells: dict[tuple[str, str], Counts]
    totals: Counts
    by_group: list[MatrixRow]
    by_region: list[MatrixRow]
    should_join: int  # people who should join (policy), under the filters
    should_join_members: int  # of whom are members now
    group_choices: list[tuple[str, str]] = field(default_factory=list)  # every group, for a filter

    def cell(self, row_key: str, column_key: str) -> Counts:
        return self.cells.get((row_key, column_key), Counts())


def _scope(viewer: Any) -> ViewerScope:
    return viewer if isinstance(viewer, ViewerScope) else viewer_scope(viewer)


# The operator of the installation (the command line): everything.
EVERYTHING = ViewerScope(True, (), ())


def matrix_default_region(viewer: Any) -> Region:
    """Where the matrix opens: the viewer's top region (for the whole installation, the top one)."""
    scope = _scope(viewer)
    if scope.is_global:
        region = Region.objects.filter(parent__isnull=True).order_by("code").first()
    else:
        codes = [p.ljust(12, "0") for p in scope.region_prefixes]
        region = Region.objects.filter(code__in=codes).order_by("code").first()
    if region is None:
        raise Http404(_("No region to show."))
    return region


def access_matrix_region(viewer: Any, code: str | None) -> Region:
    """The region of that code if it lies in the viewer's subtree (any level); Http404 otherwise.

    A blank code gives the viewer's default region.
    """
    if not (code or "").strip():
        return matrix_default_region(viewer)
    prefix = region_prefix(code)
    if not prefix or not prefix.isdigit():
        raise Http404(_("No such region."))
    region = Region.objects.filter(_scope(viewer).regions_q(), code=prefix.ljust(12, "0")).first()
    if region is None:
        raise Http404(_("No such region."))
    return region


def matrix_group(key: str | None) -> tuple[str, OccupationGroup | None]:
    """The group filter from a request: ("", None) for all, (NO_GROUP, None), or (code, group)."""
    key = (key or "").strip()
    if not key:
        return "", None
    if key == NO_GROUP:
        return NO_GROUP, None
    group = OccupationGroup.objects.filter(code=key).first()
    if group is None:
        raise Http404(_("No such occupation group."))
    return key, group


def _group_q(group_key: str, group: OccupationGroup | None, field: str = "group") -> Q:
    if group_key == NO_GROUP:
        return Q(**{f"{field}__isnull": True})
    if group is not None:
        return Q(**{field: group})
    return Q()


def _child_regions(region: Region) -> tuple[list[Region], int]:
    """The region's children and the prefix length that names them (its own when it has none)."""
    children = list(Region.objects.filter(parent=region).order_by("code"))
    if not children:
        return [], len(region.prefix)
    return children, PREFIX_LENGTH[RegionLevel(children[0].level)]


def coverage_matrix(
    *, viewer: Any, region: Region, group_key: str = "", group: OccupationGroup | None = None
) -> Matrix:
    """The matrix of a region (rows: its child regions; columns: groups), scoped to the viewer.

    Three queries whatever the size of the city: the child regions, the groups, and one aggregate
    of the cells under the region's prefix grouped by (child prefix, group).
    """
    scope = _scope(viewer)
    prefix = region.prefix
    children, part_length = _child_regions(region)
    groups = list(OccupationGroup.objects.order_by("sort", "code").values_list("id", "code", "name"))
    code_of = {gid: code for gid, code, _name in groups}

    sums = (
        CoverageCell.objects.filter(scope.regions_q("region_"), region_code__startswith=prefix)
        .filter(_group_q(group_key, group))
        .annotate(part=Substr("region_code", 1, part_length))
        .values("part", "group_id")
        .annotate(
            people=Sum("people"),
            members=Sum("members"),
            covered=Sum("covered"),
            holes=Sum("holes"),
            overlaps=Sum("overlaps"),
        )
        .order_by()
    )
    child_keys = {child.prefix: child.code for child in children}
    if not children:
        child_keys = {prefix: region.code}
    cells: dict[tuple[str, str], Counts] = {}
    for row in sums:
        row_key = child_keys.get(row["part"], "")
        column_key = code_of.get(row["group_id"], NO_GROUP) if row["group_id"] else NO_GROUP
        counts = cells.setdefault((row_key, column_key), Counts())
        counts.add(
            Counts(
                people=row["people"] or 0,
                members=row["members"] or 0,
                covered=row["covered"] or 0,
                holes=row["holes"] or 0,
                overlaps=row["overlaps"] or 0,
            )
        )

    present_columns = {column for _row, column in cells}
    columns = [(code, name) for _gid, code, name in groups if not group_key or code == group_key]
    if NO_GROUP in present_columns or group_key == NO_GROUP:
        columns.append((NO_GROUP, _("no group")))
    rows = [(child.code, child.name) for child in children] or [(region.code, region.name)]
    if any(row == "" for row, _column in cells):
        rows.append(("", _("%(region)s itself (not placed lower)") % {"region": region.name}))

    totals = Counts()
    by_group = {key: Counts() for key, _label in columns}
    by_region = {key: Counts() for key, _label in rows}
    policy = drive_policy()
    should_join = should_join_members = 0
    for (row_key, column_key), counts in cells.items():
        totals.add(counts)
        by_group.setdefault(column_key, Counts()).add(counts)
        by_region.setdefault(row_key, Counts()).add(counts)
        if policy.should_join(None if column_key == NO_GROUP else column_key):
            should_join += counts.people
            should_join_members += counts.members
    return Matrix(
        region=region,
        group=group,
        group_key=group_key,
        columns=columns,
        rows=rows,
        cells=cells,
        totals=totals,
        by_group=[MatrixRow(key, label, by_group[key]) for key, label in columns],
        by_region=[MatrixRow(key, label, by_region[key]) for key, label in rows],
        should_join=should_join,
        should_join_members=should_join_members,
        group_choices=[(code, name) for _gid, code, name in groups] + [(NO_GROUP, _("no group"))],
    )


def matrix_breadcrumbs(viewer: Any, region: Region) -> list[Region]:
    """The region's ancestors the viewer may open, top first, ending with the region (one query)."""
    scope = _scope(viewer)
    prefixes = {region.code[:n].ljust(12, "0") for n in PREFIX_LENGTH.values() if n <= len(region.prefix)}
    return list(Region.objects.filter(scope.regions_q(), code__in=prefixes).order_by("level"))


# --------------------------------------------------------------------------- the drive's trend


@dataclass
class Trend:
    weeks: list[dt.date]  # Mondays, from the drive's start to this week
    members: list[int]  # members at the end of each week (should-join groups, under the filters)
    joined: list[int]
    left: list[int]
    pace: float  # average weekly net joins over the last `pace_weeks` complete weeks
    pace_weeks: int
    drive_start: dt.date
    should_join: int
    members_now: int
    reached: bool
    eta: dt.date | None  # None with not reached: never at the current pace
    projection: list[tuple[dt.date, int]] = field(default_factory=list)


def _monday(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def _should_join_q(policy: DrivePolicy, field: str = "group") -> Q:
    q = Q(**{f"{field}__code__in": sorted(policy.should_join_groups)})
    if policy.include_ungrouped:
        q |= Q(**{f"{field}__isnull": True})
    return q


def _weekly_net(
    scope: ViewerScope, region: Region, group_key: str, group: OccupationGroup | None, policy: DrivePolicy
) -> dict[dt.date, tuple[int, int]]:
    """Joined and left per week (Monday -> (joined, left)), all weeks on record."""
    prefix = region.prefix
    out: dict[dt.date, list[int]] = {}
    if len(prefix) <= AREA_LENGTH:
        weeks = MemberWeek.objects.filter(scope.regions_q("area_"))
        if len(prefix) in AREA_LEVELS:
            weeks = weeks.filter(area_code=prefix)
        else:  # a province: the sum of its cities' rows
            city = PREFIX_LENGTH[RegionLevel.CITY]
            weeks = weeks.annotate(n=Length("area_code")).filter(area_code__startswith=prefix, n=city)
        rows = (
            weeks.filter(_group_q(group_key, group))
            .filter(_should_join_q(policy))
            .values("week")
            .annotate(joined=Sum("joined"), left=Sum("left"))
            .order_by()
        )
        for row in rows:
            out[row["week"]] = [row["joined"] or 0, row["left"] or 0]
        return {week: (j, left) for week, (j, left) in out.items()}
    # A village: few people, read their memberships directly (two small queries).
    memberships = Membership.objects.filter(
        scope.regions_q("person__coverage__region__"),
        person__coverage__region__code__startswith=prefix,
        status__in=EVER_MEMBER,
        joined_on__isnull=False,
    ).filter(
        _group_q(group_key, group, "person__coverage__group"),
        _should_join_q(policy, "person__coverage__group"),
    )
    for index, date_field in ((0, "joined_on"), (1, "ended_on")):
        rows = (
            memberships.filter(**{f"{date_field}__isnull": False})
            .annotate(week=TruncWeek(date_field))
            .values("week")
            .annotate(n=Count("pk"))
            .order_by()
        )
        for row in rows:
            week = row["week"].date() if isinstance(row["week"], dt.datetime) else row["week"]
            out.setdefault(week, [0, 0])[index] += row["n"]
    return {week: (j, left) for week, (j, left) in out.items()}


def member_trend(
    *,
    viewer: Any,
    matrix: Matrix,
    today: dt.date | None = None,
) -> Trend:
    """Members by week since the drive began, and when 应入尽入 is reached at the current pace.

    The pace is the average weekly net joins (joined - left) over the policy's last `pace_weeks`
    complete weeks (this week not counted). Members now and people who should join come from the
    matrix (the cells); the weekly series from `MemberWeek` (one query), or, for a village, from
    its memberships.
    """
    scope = _scope(viewer)
    today = today or timezone.localdate()
    policy = drive_policy(today)
    net = _weekly_net(scope, matrix.region, matrix.group_key, matrix.group, policy)
    this_week = _monday(today)
    start = _monday(policy.drive_start)
    before = sum(j - left for week, (j, left) in net.items() if week < start)
    weeks, members, joined, left = [], [], [], []
    running = before
    week = start
    while week <= this_week:
        j, gone = net.get(week, (0, 0))
        running += j - gone
        weeks.append(week)
        members.append(running)
        joined.append(j)
        left.append(gone)
        week += dt.timedelta(days=7)
    recent = [net.get(this_week - dt.timedelta(days=7 * k), (0, 0)) for k in range(1, policy.pace_weeks + 1)]
    pace = sum(j - gone for j, gone in recent) / policy.pace_weeks
    members_now = matrix.should_join_members
    remaining = matrix.should_join - members_now
    reached = matrix.should_join > 0 and remaining <= 0
    eta = None
    projection: list[tuple[dt.date, int]] = []
    if not reached and pace > 0:
        weeks_needed = math.ceil(remaining / pace)
        eta = today + dt.timedelta(days=7 * weeks_needed)
        projection = [(today, members_now), (eta, matrix.should_join)]
    return Trend(
        weeks=weeks,
        members=members,
        joined=joined,
        left=left,
        pace=pace,
        pace_weeks=policy.pace_weeks,
        drive_start=policy.drive_start,
        should_join=matrix.should_join,
        members_now=members_now,
        reached=reached,
        eta=eta,
        projection=projection,
    )


# --------------------------------------------------------------------------- drill-down


def matrix_people(
    *,
    viewer: Any,
    region: Region,
    group_key: str = "",
    group: OccupationGroup | None = None,
    kind: str = "all",
    row_key: str | None = None,
) -> QuerySet[Person]:
    """The people behind a number of the matrix, scoped as every list of people is (work region).

    `kind`: all, members (an active membership), covered (a primary union), holes (none: no union
    can take them), overlaps (more than one union can), as the weave run counts its cells. `row_key` "" means the people placed at the
    region's own level, not in any of its children (the matrix's "itself" row).
    """
    if kind not in DRILL_KINDS:
        raise Http404(_("No such list."))
    scope = _scope(viewer)
    people = (
        person_list(viewer=viewer)
        .filter(scope.regions_q("coverage__region__"), coverage__region__code__startswith=region.prefix)
        .filter(_group_q(group_key, group, "coverage__group"))
        # Only what the list shows: fewer joins for the planner (person_list also joins the employer).
        .select_related(None)
        .select_related("group", "coverage", "coverage__primary_org", "coverage__region")
    )
    if row_key == "":
        children, _length = _child_regions(region)
        if children:
            people = people.exclude(
                reduce(or_, (Q(coverage__region__code__startswith=c.prefix) for c in children))
            )
    active = Membership.objects.filter(person=OuterRef("pk"), status=MembershipStatus.ACTIVE)
    if kind == "members":
        people = people.filter(Exists(active))
    elif kind == "covered":
        people = people.filter(coverage__primary_org__isnull=False)
    elif kind == "holes":
        people = people.filter(coverage__primary_org__isnull=True)
    elif kind == "overlaps":
        people = people.filter(coverage__n_covering__gte=2)
    return people.annotate(is_member=Exists(active)).order_by("pk")


# --------------------------------------------------------------------------- keeping members current


def _week_sql(column: str) -> str:
    if connection.vendor == "postgresql":
        return f"CAST(date_trunc('week', {column}) AS date)"
    # SQLite: back to Monday (strftime %w: Sunday = 0).
    return f"date({column}, '-' || ((CAST(strftime('%%w', {column}) AS integer) + 6) %% 7) || ' days')"


def _in_list(column: str, values: list, params: list) -> str:
    """`column IN (...)` with NULL handled (a NULL in `values` matches a NULL column)."""
    present = [v for v in values if v is not None]
    parts = []
    if present:
        parts.append(f"{column} IN ({', '.join(['%s'] * len(present))})")
        params.extend(present)
    if len(present) != len(values):
        parts.append(f"{column} IS NULL")
    return "(" + " OR ".join(parts) + ")" if parts else "1 = 0"


@transaction.atomic
def cells_refresh_members(*, person_ids: Iterable[int] | None = None) -> int:
    """Make `CoverageCell.members` and `MemberWeek` match the memberships, set-based.

    With `person_ids`, only the cells of the regions those people are counted in (all groups) and
    the weeks of their township, county and city are recomputed, reading only the memberships of
    that township (through the coverage index): cheap enough to call on commit of every membership
    change. Without, everything (after a weave run, or by hand). Returns how many cells were
    recomputed. Guarantees: afterwards each cell's members is the number of people counted in it
    with an active membership; each area's weeks hold the joins and departures of its members.
    """
    cell = CoverageCell._meta.db_table
    cov = Coverage._meta.db_table
    region_ids, townships = _places_of(person_ids)
    if region_ids == []:
        return 0
    now = timezone.now()
    cell_params: list = []
    cov_params: list = []
    cell_where = "1 = 1" if region_ids is None else _in_list("region_id", region_ids, cell_params)
    cov_where = "1 = 1" if region_ids is None else _in_list("c.region_id", region_ids, cov_params)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {cell} SET members = 0, refreshed_at = %s WHERE {cell_where}", [now, *cell_params]
        )
        recomputed = cursor.rowcount
        cursor.execute(
            f"""
            UPDATE {cell} SET members = s.n, refreshed_at = %s
            FROM (
                SELECT c.region_id, c.group_id, COUNT(*) AS n
                FROM {cov} c JOIN {Membership._meta.db_table} m ON m.person_id = c.person_id AND m.status = %s
                WHERE {cov_where}
                GROUP BY c.region_id, c.group_id
            ) s
            WHERE COALESCE({cell}.region_id, 0) = COALESCE(s.region_id, 0)
              AND COALESCE({cell}.group_id, 0) = COALESCE(s.group_id, 0)
            """,
            [now, MembershipStatus.ACTIVE.value, *cov_params],
        )
        member_weeks_rebuild(cursor, townships)
    return recomputed


def _places_of(person_ids: Iterable[int] | None) -> tuple[list | None, list[str] | None]:
    """The regions (ids) and township areas the people are counted in; (None, None) for everyone."""
    if person_ids is None:
        return None, None
    ids = list({int(i) for i in person_ids})
    region_ids = list(
        Coverage.objects.filter(person_id__in=ids).values_list("region_id", flat=True).distinct()
    )
    codes = Region.objects.filter(pk__in=[r for r in region_ids if r is not None]).values_list(
        "code", flat=True
    )
    townships = sorted({code[:AREA_LENGTH] for code in codes} | ({""} if None in region_ids else set()))
    return region_ids, townships


@transaction.atomic
def member_weeks_refresh(*, person_ids: Iterable[int] | None = None) -> None:
    """Only the `MemberWeek` rows (all, or of the townships those people are counted in), set-based.

    For a caller that has just written the cells' members itself (a weave run counts them in its
    INSERT ... SELECT): the weekly rows follow the region each person is now counted in.
    """
    region_ids, townships = _places_of(person_ids)
    if region_ids == []:
        return
    with connection.cursor() as cursor:
        member_weeks_rebuild(cursor, townships)


def member_weeks_rebuild(cursor, townships: list[str] | None, *, coverage_table: str | None = None) -> None:
    """Township rows from the memberships (all, or of `townships`), then county and city rows as their sums.

    Each person counts where `coverage_table` (default Coverage's) places them: a weave run passes
    its staging table of the new answer, narrower than Coverage and the same rows.
    """
    qn = connection.ops.quote_name
    cov = coverage_table or Coverage._meta.db_table
    mem = Membership._meta.db_table
    reg = Region._meta.db_table
    weeks = MemberWeek._meta.db_table
    ever = [s.value for s in EVER_MEMBER]
    ever_in = ", ".join(["%s"] * len(ever))
    area = f"COALESCE(SUBSTR(r.code, 1, {AREA_LENGTH}), '')"
    where, params = "1 = 1", []
    if townships is None:
        cursor.execute(f"DELETE FROM {weeks}")
    else:
        cursor.execute(f"DELETE FROM {weeks} WHERE {_in_list('area_code', townships, [])}", townships)
        # Through the coverage index on region: only the regions of these townships.
        q = reduce(or_, (Q(code__startswith=t) for t in townships if t), Q(pk__in=[]))
        region_ids: list = list(Region.objects.filter(q).values_list("pk", flat=True))
        if "" in townships:
            region_ids.append(None)
        where = _in_list("c.region_id", region_ids, params)
    # The memberships are read once (a CTE), for the week they joined and the week they left.
    cursor.execute(
        f"""
        WITH src AS (
            SELECT {area} AS area, c.group_id AS group_id, m.joined_on AS joined_on, m.ended_on AS ended_on
            FROM {mem} m JOIN {cov} c ON c.person_id = m.person_id LEFT JOIN {reg} r ON r.id = c.region_id
            WHERE m.status IN ({ever_in}) AND m.joined_on IS NOT NULL AND {where}
        )
        INSERT INTO {weeks} (area_code, group_id, week, joined, {qn("left")})
        SELECT area, group_id, week, SUM(j), SUM(l) FROM (
            SELECT area, group_id, {_week_sql("joined_on")} AS week, 1 AS j, 0 AS l FROM src
            UNION ALL
            SELECT area, group_id, {_week_sql("ended_on")}, 0, 1 FROM src WHERE ended_on IS NOT NULL
        ) x
        GROUP BY area, group_id, week
        """,
        [*ever, *params],
    )
    # Counties from townships, then cities from counties: sums of a few thousand rows at most.
    for length, child in zip(AREA_LEVELS[1:], AREA_LEVELS, strict=False):
        params = []
        if townships is None:
            cursor.execute(f"DELETE FROM {weeks} WHERE LENGTH(area_code) = %s", [length])
            parents_where = "1 = 1"
        else:
            parents = sorted({t[:length] for t in townships if t})
            if not parents:
                continue
            cursor.execute(f"DELETE FROM {weeks} WHERE {_in_list('area_code', parents, [])}", parents)
            parents_where = _in_list(f"SUBSTR(area_code, 1, {length})", parents, params)
        cursor.execute(
            f"""
            INSERT INTO {weeks} (area_code, group_id, week, joined, {qn("left")})
            SELECT SUBSTR(area_code, 1, {length}), group_id, week, SUM(joined), SUM({qn("left")})
            FROM {weeks}
            WHERE LENGTH(area_code) = %s AND area_code <> '' AND {parents_where}
            GROUP BY SUBSTR(area_code, 1, {length}), group_id, week
            """,
            [child, *params],
        )


# --------------------------------------------------------------------------- the command line

CSV_COLUMNS = ("code", "name", "people", "members", "coverage_rate", "covered", "holes", "overlaps")
TABLE_HEADER = ("代码", "名称", "摸底人数", "会员", "覆盖率", "有工会覆盖", "无工会覆盖", "多重覆盖")


def matrix_lines(matrix: Matrix, by: str) -> list[MatrixRow]:
    """The rows `gonghui weave coverage` prints: one per group, or one per child region.

    The region's own people not placed in any child region get a row with the region's code.
    """
    if by == "group":
        return list(matrix.by_group)
    return [
        MatrixRow(row.key or matrix.region.code, row.label, row.counts) if row.key == "" else row
        for row in matrix.by_region
    ]


def matrix_csv(rows: list[MatrixRow]) -> str:
    """CSV with a header: code,name,people,members,coverage_rate (0..1, 4 decimals, blank: nobody),..."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        c = row.counts
        rate = "" if c.rate is None else f"{c.rate:.4f}"
        writer.writerow([row.key, row.label, c.people, c.members, rate, c.covered, c.holes, c.overlaps])
    return out.getvalue()


def display_width(text: str) -> int:
    """Columns a terminal gives the text: two for wide and full-width (CJK) characters."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int, right: bool) -> str:
    gap = " " * (width - display_width(text))
    return gap + text if right else text + gap


def matrix_table(rows: list[MatrixRow], totals: Counts, total_label: str = "合计") -> str:
    """An aligned table for a terminal (CJK width aware), with a total row."""

    def cells(key: str, label: str, c: Counts) -> list[str]:
        rate = "—" if c.rate is None else f"{100 * c.rate:.1f}%"
        return [
            key,
            label,
            str(c.people),
            str(c.members),
            rate,
            str(c.covered),
            str(c.holes),
            str(c.overlaps),
        ]

    body = [cells(r.key, r.label, r.counts) for r in rows] + [cells("", total_label, totals)]
    table = [list(TABLE_HEADER), *body]
    widths = [max(display_width(line[i]) for line in table) for i in range(len(TABLE_HEADER))]
    right = [False, False] + [True] * (len(TABLE_HEADER) - 2)

    def line(values: list[str]) -> str:
        return "  ".join(_pad(v, w, r) for v, w, r in zip(values, widths, right, strict=True))

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(table[0]), rule, *(line(v) for v in body[:-1]), rule, line(body[-1])]) + "\n"
