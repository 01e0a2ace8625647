"""The 揭榜领办 board: cells with many uncovered people posted as tasks, claimed, closed by a weave run.

Life of a task (`BoardTask.status`, the transition table is `TRANSITIONS`):

    open ──claim──▶ claimed ──(federation created, next run finds no hole in the cell)──▶ done
      │                 │
      └──withdraw──▶ withdrawn ◀──withdraw──┘

- Posting is done by `board_after_run`, which the weave engine calls at the end of every
  successful run: a cell (region at the policy's level × occupation group) whose people with no
  union (`Coverage.primary_org` is null) reach the policy's threshold and that has no live task
  is posted by the federation the policy names (the city federation). An open task whose cell has
  no hole any more is withdrawn (nothing left to claim).
- Claim (认领): a union below the posting federation (in its subtree, not the poster itself) whose
  region is the task's region or contains it — a district federation claims its own district's
  cells, a city-wide union below the city could claim any — and which is a federation or a
  township/street union (the unions that set up industry federations), claims an open task with
  a promised date. One conditional UPDATE … WHERE status='open' makes one winner.
- The claimer creates the industry federation (`task_create_federation`); the task stays claimed
  until a weave run finds the cell covered, then `board_after_run` marks it done with that run.
- Overdue is not a status: claimed and past the promised date.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml
from django.db import transaction
from django.db.models import Count
from django.db.models.functions import Substr
from django.utils import timezone

from gonghui.accounts.models import RoleKind
from gonghui.audit.services import audit_record
from gonghui.orgs.models import Org, OrgKind, OrgStatus
from gonghui.regions.models import PREFIX_LENGTH, Region, RegionLevel

from .models import BoardTask, Coverage, TaskStatus, WeaveRun

POLICY_PATH = Path(__file__).resolve().parents[2] / "policies" / "weave_board.yaml"

LEVELS = {
    "province": RegionLevel.PROVINCE,
    "city": RegionLevel.CITY,
    "county": RegionLevel.COUNTY,
    "township": RegionLevel.TOWNSHIP,
    "village": RegionLevel.VILLAGE,
}

# Which moves are allowed (from -> to); `done` is reached only through board_after_run.
TRANSITIONS: dict[str, frozenset[str]] = {
    TaskStatus.OPEN: frozenset({TaskStatus.CLAIMED, TaskStatus.WITHDRAWN}),
    TaskStatus.CLAIMED: frozenset({TaskStatus.DONE, TaskStatus.WITHDRAWN}),
    TaskStatus.DONE: frozenset(),
    TaskStatus.WITHDRAWN: frozenset(),
}

# Org kinds that may claim a task (they set up industry federations under themselves).
CLAIMER_KINDS = (OrgKind.FEDERATION, OrgKind.TOWNSHIP)
# Roles that act for an org (a viewer or reviewer only looks).
ACTING_ROLES = (RoleKind.ADMIN, RoleKind.STAFF)


class BoardError(ValueError):
    """A board action that is not allowed (task not open, wrong union, bad date...)."""


class BoardPolicyError(ValueError):
    """policies/weave_board.yaml is missing a field or has a bad value."""


# --- policy -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BoardPolicy:
    issuer: str
    document: str
    effective: dt.date
    version: int
    post_level: int  # RegionLevel
    threshold: int
    promise_days: int
    posted_by_level: int  # RegionLevel of the federation that posts


@cache
def _policy_versions(path: Path, mtime: float) -> tuple[BoardPolicy, ...]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise BoardPolicyError(f"{path.name}: 无法读取揭榜政策文件（{exc}）") from exc
    out = []
    for i, v in enumerate(data.get("versions") or [], start=1):
        where = f"{path.name} versions[{i}]"
        try:
            level = LEVELS[v["post_level"]]
            poster = LEVELS[v.get("posted_by", "city")]
            policy = BoardPolicy(
                issuer=str(data["issued_by"]),
                document=str(data.get("document", "")),
                effective=v["effective_from"],
                version=int(v.get("version", i)),
                post_level=level,
                threshold=int(v["threshold"]),
                promise_days=int(v.get("promise_days", 90)),
                posted_by_level=poster,
            )
        except KeyError as exc:
            raise BoardPolicyError(f"{where}: 缺少字段或取值无效 {exc}") from exc
        if not isinstance(policy.effective, dt.date):
            raise BoardPolicyError(f"{where}: effective_from 应为日期")
        if policy.threshold < 1:
            raise BoardPolicyError(f"{where}: threshold 应为正整数")
        if policy.posted_by_level >= policy.post_level:
            raise BoardPolicyError(f"{where}: posted_by 的层级应高于 post_level")
        out.append(policy)
    if not out:
        raise BoardPolicyError(f"{path.name}: 没有任何版本（versions）")
    return tuple(sorted(out, key=lambda p: p.effective))


def board_policy(on: dt.date | None = None, *, path: Path = POLICY_PATH) -> BoardPolicy:
    """The board policy in force on `on` (default today); the earliest version before any is in force."""
    versions = _policy_versions(path, path.stat().st_mtime if path.exists() else 0.0)
    on = on or timezone.localdate()
    in_force = [p for p in versions if p.effective <= on] or [versions[0]]
    return in_force[-1]


# --- after a weave run ----------------------------------------------------------------------------


def _holes_by_cell(level: int) -> dict[tuple[str, int], int]:
    """People with no union per (region code prefix at `level`, group id), one GROUP BY over Coverage."""
    n = PREFIX_LENGTH[RegionLevel(level)]
    rows = (
        Coverage.objects.filter(primary_org__isnull=True, region__isnull=False, group__isnull=False)
        .annotate(prefix=Substr("region__code", 1, n))
        .values("prefix", "group_id")
        .annotate(n=Count("pk"))
        .values_list("prefix", "group_id", "n")
    )
    return {(prefix, group_id): count for prefix, group_id, count in rows}


@dataclass(frozen=True)
class BoardRunResult:
    posted: int
    updated: int
    done: int
    withdrawn: int


@transaction.atomic
def board_after_run(*, run: WeaveRun) -> BoardRunResult:
    """Bring the board in line with the coverage `run` just wrote (the weave engine calls this).

    Guarantees, all in one transaction and set-based (one GROUP BY per region level, bulk writes):
    - every live task's `uncovered_now` is the number of people in its cell with no union;
    - a claimed task whose federation has been created and whose cell has no hole is done, with
      `done_at` and `done_by_run = run`;
    - an open task whose cell has no hole is withdrawn;
    - every cell at the policy's level with at least `threshold` holes and no live task gets an
      open task posted by the federation the policy names (skipped where no such federation exists).
    One audit row for the run lists what was posted, done and withdrawn.
    """
    policy = board_policy(timezone.localdate())
    now = timezone.now()
    live = list(
        BoardTask.objects.select_for_update()
        .filter(status__in=[TaskStatus.OPEN, TaskStatus.CLAIMED])
        .select_related("region")
    )
    holes_at: dict[int, dict[tuple[str, int], int]] = {}
    for level in {policy.post_level, *(t.region.level for t in live)}:
        holes_at[level] = _holes_by_cell(level)

    done_ids, withdrawn_ids, changed = [], [], []
    for task in live:
        count = holes_at[task.region.level].get((task.region.prefix, task.group_id), 0)
        if count != task.uncovered_now:
            task.uncovered_now = count
            changed.append(task)
        if count == 0 and task.status == TaskStatus.CLAIMED and task.created_org_id is not None:
            done_ids.append(task.pk)
        elif count == 0 and task.status == TaskStatus.OPEN:
            withdrawn_ids.append(task.pk)
    BoardTask.objects.bulk_update(changed, ["uncovered_now"], batch_size=500)
    done = BoardTask.objects.filter(pk__in=done_ids, status=TaskStatus.CLAIMED).update(
        status=TaskStatus.DONE, done_at=now, done_by_run=run
    )
    withdrawn = BoardTask.objects.filter(pk__in=withdrawn_ids, status=TaskStatus.OPEN).update(
        status=TaskStatus.WITHDRAWN
    )

    still_live = {
        (t.region_id, t.group_id) for t in live if t.pk not in done_ids and t.pk not in withdrawn_ids
    }
    posted = _post_cells(policy, holes_at[policy.post_level], still_live)

    audit_record(
        actor=run.requested_by,
        action="weave.board_after_run",
        target=run,
        detail={
            "policy_version": policy.version,
            "threshold": policy.threshold,
            "posted": posted,
            "done": done_ids,
            "withdrawn": withdrawn_ids,
            "updated": len(changed),
        },
    )
    return BoardRunResult(posted=len(posted), updated=len(changed), done=done, withdrawn=withdrawn)


def _post_cells(
    policy: BoardPolicy, holes: dict[tuple[str, int], int], live_cells: set[tuple[int, int]]
) -> list[list]:
    """Create open tasks for the cells at or above the threshold; returns [[region code, group id, count]]."""
    wanted = {key: n for key, n in holes.items() if n >= policy.threshold}
    if not wanted:
        return []
    width = PREFIX_LENGTH[RegionLevel(policy.post_level)]
    codes = {prefix.ljust(12, "0") for prefix, _g in wanted}
    regions = {r.code[:width]: r for r in Region.objects.filter(code__in=codes, level=policy.post_level)}
    poster_width = PREFIX_LENGTH[RegionLevel(policy.posted_by_level)]
    posters: dict[str, Org] = {}
    poster_codes = {code[:poster_width].ljust(12, "0") for code in codes}
    for org in (
        Org.objects.filter(
            kind=OrgKind.FEDERATION,
            status=OrgStatus.ACTIVE,
            region__code__in=poster_codes,
            region__level=policy.posted_by_level,
        )
        .select_related("region")
        .order_by("-id")  # the oldest federation of a region wins (written last)
    ):
        posters[org.region.code[:poster_width]] = org
    new, posted = [], []
    for (prefix, group_id), n in sorted(wanted.items()):
        region = regions.get(prefix)
        poster = posters.get(prefix[:poster_width])
        if region is None or poster is None or (region.pk, group_id) in live_cells:
            continue
        new.append(
            BoardTask(
                region=region,
                group_id=group_id,
                posted_by_org=poster,
                uncovered_at_posting=n,
                uncovered_now=n,
                status=TaskStatus.OPEN,
            )
        )
        posted.append([region.code, group_id, n])
    # The partial unique constraint (one live task per cell) backs the check above: a cell posted
    # meanwhile by a concurrent call is skipped, not an error.
    BoardTask.objects.bulk_create(new, batch_size=500, ignore_conflicts=True)
    return posted
