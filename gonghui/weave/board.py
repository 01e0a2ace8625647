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
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import Substr
from django.http import Http404
from django.utils import timezone

from gonghui.accounts.models import Role, RoleKind
from gonghui.accounts.selectors import viewer_scope
from gonghui.audit.services import audit_record
from gonghui.orgs.models import Org, OrgKind, OrgStatus
from gonghui.regions.models import PREFIX_LENGTH, Region, RegionLevel

from .models import BoardTask, Coverage, TaskStatus, WeaveRun
from .policy import coverage_policy

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


# Who counts as uncovered in a cell (policy `counts`): people no union covers (holes), or also the
# people whose primary union is a safety-net union (兜底: township / village, per the coverage policy).
COUNT_HOLES = "holes"
COUNT_HOLES_AND_SAFETY_NET = "holes_and_safety_net"


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
    counts: str = COUNT_HOLES  # who is uncovered: holes only, or also those only the safety net covers


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
                counts=str(v.get("counts", COUNT_HOLES)),
            )
        except KeyError as exc:
            raise BoardPolicyError(f"{where}: 缺少字段或取值无效 {exc}") from exc
        if not isinstance(policy.effective, dt.date):
            raise BoardPolicyError(f"{where}: effective_from 应为日期")
        if policy.threshold < 1:
            raise BoardPolicyError(f"{where}: threshold 应为正整数")
        if policy.counts not in (COUNT_HOLES, COUNT_HOLES_AND_SAFETY_NET):
            raise BoardPolicyError(f"{where}: counts 应为 {COUNT_HOLES} 或 {COUNT_HOLES_AND_SAFETY_NET}")
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


def _uncovered_q(policy: BoardPolicy) -> Q:
    uncovered = Q(primary_org__isnull=True)
    if policy.counts == COUNT_HOLES_AND_SAFETY_NET:
        uncovered |= Q(primary_rule__in=sorted(coverage_policy(policy_date()).safety_net))
    return uncovered


def policy_date() -> dt.date:
    return timezone.localdate()


def _holes_by_cell(level: int, uncovered: Q) -> dict[tuple[str, int], int]:
    """Uncovered people per (region code prefix at `level`, group id), one GROUP BY over Coverage."""
    n = PREFIX_LENGTH[RegionLevel(level)]
    rows = (
        Coverage.objects.filter(uncovered, region__isnull=False, group__isnull=False)
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
def board_after_run(*, run: WeaveRun, policy: BoardPolicy | None = None) -> BoardRunResult:
    """Bring the board in line with the coverage `run` just wrote (the weave engine calls this).

    Guarantees, all in one transaction and set-based (one GROUP BY per region level, bulk writes):
    - every live task's `uncovered_now` is the number of people in its cell with no union (with
      the policy's `counts: holes_and_safety_net`, also those only a safety-net union covers);
    - a claimed task whose federation has been created and whose cell has no hole is done, with
      `done_at` and `done_by_run = run`;
    - an open task whose cell has no hole is withdrawn;
    - every cell at the policy's level with at least `threshold` holes and no live task gets an
      open task posted by the federation the policy names (skipped where no such federation exists).
    One audit row for the run lists what was posted, done and withdrawn.
    """
    policy = policy or board_policy(policy_date())
    uncovered = _uncovered_q(policy)
    now = timezone.now()
    live = list(
        BoardTask.objects.select_for_update()
        .filter(status__in=[TaskStatus.OPEN, TaskStatus.CLAIMED])
        .select_related("region")
    )
    holes_at: dict[int, dict[tuple[str, int], int]] = {}
    for level in {policy.post_level, *(t.region.level for t in live)}:
        holes_at[level] = _holes_by_cell(level, uncovered)

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
            "counts": policy.counts,
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


# --- selectors --------------------------------------------------------------------------------------


class Tab:
    OPEN = "open"
    CLAIMED = "claimed"
    OVERDUE = "overdue"
    DONE = "done"
    ALL = (OPEN, CLAIMED, OVERDUE, DONE)


def board_tasks(*, viewer, tab: str = Tab.OPEN, today: dt.date | None = None) -> QuerySet[BoardTask]:
    """The tasks whose cell lies in the viewer's regions, for one tab (claimed includes overdue ones)."""
    today = today or timezone.localdate()
    qs = BoardTask.objects.filter(viewer_scope(viewer).regions_q("region__")).select_related(
        "region", "group", "posted_by_org", "claimed_by_org", "created_org"
    )
    if tab == Tab.OVERDUE:
        return qs.filter(status=TaskStatus.CLAIMED, promised_on__lt=today).order_by("promised_on", "id")
    if tab == Tab.DONE:
        return qs.filter(status=TaskStatus.DONE).order_by("-done_at", "-id")
    if tab == Tab.CLAIMED:
        return qs.filter(status=TaskStatus.CLAIMED).order_by("promised_on", "id")
    return qs.filter(status=TaskStatus.OPEN).order_by("-uncovered_now", "id")


def board_counts(*, viewer, today: dt.date | None = None) -> dict[str, int]:
    """How many tasks each tab holds for the viewer, in one query."""
    today = today or timezone.localdate()
    return BoardTask.objects.filter(viewer_scope(viewer).regions_q("region__")).aggregate(
        open=Count("pk", filter=Q(status=TaskStatus.OPEN)),
        claimed=Count("pk", filter=Q(status=TaskStatus.CLAIMED)),
        overdue=Count("pk", filter=Q(status=TaskStatus.CLAIMED, promised_on__lt=today)),
        done=Count("pk", filter=Q(status=TaskStatus.DONE)),
    )


def access_board_task(viewer, task_id: int) -> BoardTask:
    """The task if its cell lies in the viewer's regions; Http404 otherwise (as for no such task)."""
    task = (
        BoardTask.objects.filter(viewer_scope(viewer).regions_q("region__"))
        .select_related("region", "group", "posted_by_org", "claimed_by_org", "created_org", "claimed_by")
        .filter(pk=task_id)
        .first()
    )
    if task is None:
        raise Http404("no such task")
    return task


def acting_q(viewer, field: str = "") -> Q:
    """Orgs the viewer acts for: the subtrees of the orgs they are admin or staff of (everything for a superuser)."""
    if viewer is None or not getattr(viewer, "is_authenticated", False) or not viewer.is_active:
        return Q(pk__in=[])
    if viewer.is_superuser:
        return Q()
    paths = getattr(viewer, "_gonghui_acting_paths", None)
    if paths is None:  # once per request, like viewer_scope
        paths = list(
            Role.objects.filter(user=viewer, role__in=ACTING_ROLES)
            .values_list("org__path", flat=True)
            .distinct()
        )
        viewer._gonghui_acting_paths = paths
    if not paths:
        return Q(pk__in=[])
    q = Q()
    for p in paths:
        q |= Q(**{f"{field}path__startswith": p})
    return q


def _region_and_above_codes(region: Region) -> list[str]:
    """The codes of `region` and every region above it (by prefix), up to the province."""
    return [
        region.code[: PREFIX_LENGTH[RegionLevel(level)]].ljust(12, "0")
        for level in RegionLevel.values
        if level <= region.level
    ]


def claimer_orgs(*, viewer, task: BoardTask) -> QuerySet[Org]:
    """The unions the viewer may claim `task` for.

    A union may claim when it is below the posting federation (in its subtree, not the poster
    itself), active, a federation or township/street union, sits in the task's region or a region
    containing it, and the viewer is admin or staff of it or of a union above it.
    """
    poster = task.posted_by_org
    return (
        Org.objects.filter(acting_q(viewer))
        .filter(
            path__startswith=poster.path,
            kind__in=CLAIMER_KINDS,
            status=OrgStatus.ACTIVE,
            region__code__in=_region_and_above_codes(task.region),
        )
        .exclude(pk=poster.pk)
        .select_related("region")
        .order_by("-depth", "path")
    )


def can_create_federation(*, viewer, task: BoardTask) -> bool:
    """True when the task is claimed, has no federation yet, and the viewer acts for its claimer."""
    return (
        task.status == TaskStatus.CLAIMED
        and task.created_org_id is None
        and Org.objects.filter(acting_q(viewer)).filter(pk=task.claimed_by_org_id).exists()
    )


def can_withdraw(*, viewer, task: BoardTask) -> bool:
    """True when the task is live and the viewer acts for the federation that posted it."""
    return (
        task.status in (TaskStatus.OPEN, TaskStatus.CLAIMED)
        and Org.objects.filter(acting_q(viewer)).filter(pk=task.posted_by_org_id).exists()
    )


# --- services ---------------------------------------------------------------------------------------


def _check_move(task: BoardTask, to: str) -> None:
    if to not in TRANSITIONS[task.status]:
        raise BoardError(
            f"揭榜任务 #{task.pk}（{task.region.name} × {task.group.name}）当前状态为"
            f"“{task.get_status_display()}”，不能改为“{TaskStatus(to).label}”"
        )


@transaction.atomic
def task_claim(
    *, viewer, task: BoardTask, org: Org, promised_on: dt.date, ip: str | None = None
) -> BoardTask:
    """`org` claims the open `task`, promising a federation by `promised_on`.

    Guarantees: the claimer is one of `claimer_orgs(viewer, task)`; the promised date is after
    today; exactly one claim wins (a conditional UPDATE … WHERE status='open', row count checked),
    a losing or late claim raises BoardError and writes nothing; audited.
    """
    _check_move(task, TaskStatus.CLAIMED)
    if not claimer_orgs(viewer=viewer, task=task).filter(pk=org.pk).exists():
        raise BoardError(
            f"{org.name}（{org.code}）不能认领揭榜任务 #{task.pk}：须为发榜单位下级、辖区包含该任务地区的工会"
        )
    today = timezone.localdate()
    if promised_on is None or promised_on <= today:
        raise BoardError(f"承诺完成日期（promised_on）须晚于今天 {today:%Y-%m-%d}")
    now = timezone.now()
    won = BoardTask.objects.filter(pk=task.pk, status=TaskStatus.OPEN).update(
        status=TaskStatus.CLAIMED,
        claimed_by_org=org,
        claimed_by=viewer,
        claimed_at=now,
        promised_on=promised_on,
    )
    if won != 1:
        raise BoardError(f"揭榜任务 #{task.pk} 已被其他工会认领或已撤下")
    task.refresh_from_db()
    audit_record(
        actor=viewer,
        action="weave.board_claim",
        target=task,
        detail={
            "from": TaskStatus.OPEN,
            "to": TaskStatus.CLAIMED,
            "org": org.code,
            "promised_on": str(promised_on),
        },
        ip=ip,
    )
    return task


@transaction.atomic
def task_create_federation(*, viewer, task: BoardTask, code: str, name: str, ip: str | None = None) -> Org:
    """Create the industry federation a claimed task promised, under the claiming union.

    The new org (kind 'industry', active, founded today) covers the task's group in the task's
    region and is linked as `task.created_org` (a conditional UPDATE: one federation per task).
    The task stays claimed; the next weave run that finds the cell without holes marks it done.
    A weave run is queued (launched once committed) when the engine offers `weave_run_queue`.
    """
    from gonghui.orgs.services import OrgError, org_create, org_set_coverage

    if not can_create_federation(viewer=viewer, task=task):
        raise BoardError(f"揭榜任务 #{task.pk} 不是由您的工会认领且尚未建会的任务，不能在此建会")
    code, name = (code or "").strip(), (name or "").strip()
    if not code:
        raise BoardError("组织代码（code）不能为空")
    if not name:
        raise BoardError("组织名称（name）不能为空")
    if Org.objects.filter(code=code).exists():
        raise BoardError(f"组织代码（code）{code} 已被使用")
    try:
        org = org_create(
            code=code,
            name=name,
            kind=OrgKind.INDUSTRY,
            parent=task.claimed_by_org,
            region=task.region,
            founded_on=timezone.localdate(),
            status=OrgStatus.ACTIVE,
        )
    except OrgError as exc:
        raise BoardError(str(exc)) from exc
    org_set_coverage(org=org, regions=[task.region], groups=[task.group], employers=[])
    linked = BoardTask.objects.filter(pk=task.pk, status=TaskStatus.CLAIMED, created_org__isnull=True).update(
        created_org=org
    )
    if linked != 1:
        raise BoardError(f"揭榜任务 #{task.pk} 已建会或已不在认领状态")
    task.created_org = org
    audit_record(
        actor=viewer,
        action="weave.board_federation_created",
        target=task,
        detail={"org": org.code, "org_id": org.pk, "region": task.region.code, "group": task.group.code},
        ip=ip,
    )
    queue = weave_run_queue()
    if queue is not None:
        # Queued in this transaction; the engine launches the run once it commits.
        queue(trigger="board federation", actor=viewer)
    return org


def weave_run_queue():
    """The engine's `weave.services.weave_run_queue(*, trigger, actor)`, if installed (else None)."""
    try:
        from gonghui.weave import services
    except ImportError:
        return None
    return getattr(services, "weave_run_queue", None)


@transaction.atomic
def task_withdraw(*, viewer, task: BoardTask, reason: str, ip: str | None = None) -> BoardTask:
    """The posting federation takes an open or claimed task off the board (reason required); audited."""
    _check_move(task, TaskStatus.WITHDRAWN)
    if not can_withdraw(viewer=viewer, task=task):
        raise BoardError(f"只有发榜单位 {task.posted_by_org.name} 可以撤下揭榜任务 #{task.pk}")
    reason = (reason or "").strip()
    if not reason:
        raise BoardError("撤下揭榜任务须填写原因（reason）")
    before = task.status
    moved = BoardTask.objects.filter(pk=task.pk, status=before).update(status=TaskStatus.WITHDRAWN)
    if moved != 1:
        raise BoardError(f"揭榜任务 #{task.pk} 的状态已被他人改变，请刷新后重试")
    task.status = TaskStatus.WITHDRAWN
    audit_record(
        actor=viewer,
        action="weave.board_withdraw",
        target=task,
        detail={"from": before, "to": TaskStatus.WITHDRAWN, "reason": reason},
        ip=ip,
    )
    return task
