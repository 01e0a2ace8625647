"""Writes for the weave: queue a run, run it (one at a time, all or nothing).

`weave_run` applies the coverage policy in force to everyone (engine.weave_everyone) inside one
transaction: a run that fails leaves the previous answer exactly as it was and is marked failed
with the reason. Only one run works at a time: on PostgreSQL a session advisory lock makes a
second run wait for the first (and lets a run that finds a 'running' row from a dead process mark
it failed); on SQLite, which serialises writers anyway, a second run is refused while one is running.
"""

from __future__ import annotations

import datetime as dt
import importlib
import importlib.util
from contextlib import contextmanager
from typing import Any

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from gonghui.audit.services import audit_record

from .engine import Progress, weave_everyone
from .models import RunStatus, WeaveRun
from .policy import CoveragePolicy, coverage_policy

# Any fixed 64-bit number: the key of the PostgreSQL advisory lock held by the one running weave.
WEAVE_LOCK_KEY = 0x7765_6176_655F_7275  # "weave_ru"
# On SQLite (no advisory lock), a 'running' row older than this is taken to be from a dead process.
STALE_AFTER = dt.timedelta(hours=2)


class WeaveRunError(ValueError):
    """A weave run that cannot start (already done, another one running)."""


def _user(actor: Any | None):
    return actor if getattr(actor, "is_authenticated", False) else None


@transaction.atomic
def weave_run_queue(*, trigger: str, actor: Any | None = None, launch: bool = True) -> WeaveRun:
    """Ask for a weave run; a run already queued and not yet started is reused (one run then serves both).

    With `launch`, once committed a detached `gonghui weave run-queued ID` process runs it (or,
    with the setting WEAVE_RUN_INLINE, it runs at once in this process, for tests). Without, the
    run waits for `gonghui weave run` or the "run now" button.
    """
    run = WeaveRun.objects.filter(status=RunStatus.QUEUED).order_by("id").first()
    if run is not None and run.requested_by_id is None and _user(actor) is not None:
        WeaveRun.objects.filter(pk=run.pk).update(requested_by=_user(actor))  # who asked to run it now
        run.requested_by = _user(actor)
    if run is None:
        run = WeaveRun.objects.create(trigger=trigger[:40], requested_by=_user(actor))
        audit_record(actor=actor, action="weave.run_queued", target=run, detail={"trigger": trigger})
    if launch:
        from . import tasks

        transaction.on_commit(lambda: tasks.start(run.pk))
    return run


@contextmanager
def _one_run_at_a_time():
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [WEAVE_LOCK_KEY])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [WEAVE_LOCK_KEY])


def _claim(run: WeaveRun, policy: CoveragePolicy) -> None:
    """Move the run from queued to running with one conditional UPDATE; WeaveRunError if it cannot."""
    now = timezone.now()
    others = WeaveRun.objects.filter(status=RunStatus.RUNNING).exclude(pk=run.pk)
    if connection.vendor == "postgresql":
        stale = others  # we hold the lock: a 'running' row is from a process that died
    else:
        stale = others.filter(started_at__lt=now - STALE_AFTER)
    stale.update(status=RunStatus.FAILED, error="运行中断（进程已退出），未写入任何数据", finished_at=now)
    claimed = (
        WeaveRun.objects.filter(pk=run.pk, status=RunStatus.QUEUED)
        .filter(~Exists(WeaveRun.objects.filter(status=RunStatus.RUNNING).exclude(pk=OuterRef("pk"))))
        .update(
            status=RunStatus.RUNNING,
            started_at=now,
            progress=0,
            progress_note="",
            error="",
            policy_issuer=policy.issuer[:100],
            policy_version=policy.version,
            policy_effective=policy.effective,
        )
    )
    if claimed:
        return
    current = WeaveRun.objects.filter(pk=run.pk).values_list("status", flat=True).first()
    if current != RunStatus.QUEUED:
        raise WeaveRunError(f"织网运行 #{run.pk} 的状态是 {current}，只能运行排队中的运行")
    busy = others.order_by("id").values_list("pk", flat=True).first()
    raise WeaveRunError(f"另一次织网运行（#{busy}）正在进行，请等它结束后再试")


class _ProgressWriter:
    """Writes a run's progress where a page can see it while the run's own transaction is still open.

    On PostgreSQL it uses a second connection in autocommit (only when the run itself was claimed
    in autocommit: inside a caller's transaction the row is locked by that transaction). Elsewhere
    progress reaches the row when the run ends.
    """

    def __init__(self, run_id: int, echo: Progress | None):
        self.run_id, self.echo, self.last = run_id, echo, -1
        self.side = None
        if connection.vendor == "postgresql" and not connection.in_atomic_block:
            real = connections[DEFAULT_DB_ALIAS]  # `connection` is a proxy; its class is not the backend's
            self.side = real.__class__({**real.settings_dict}, alias="weave_progress")

    def __call__(self, percent: int, note: str) -> None:
        if self.echo:
            self.echo(percent, note)
        if self.side is None or percent == self.last:
            return
        self.last = percent
        try:
            with self.side.cursor() as cur:
                cur.execute("SET lock_timeout = '2s'")
                cur.execute(
                    f"UPDATE {WeaveRun._meta.db_table} SET progress = %s, progress_note = %s WHERE id = %s",
                    [percent, note[:200], self.run_id],
                )
        except DatabaseError:
            self.close()  # progress is a courtesy: the run goes on without it

    def close(self) -> None:
        if self.side is not None:
            self.side.close()
            self.side = None


def _board_after_run(run: WeaveRun) -> None:
    """The 揭榜 board's update after a run, if the board module (and its hook) is installed."""
    if importlib.util.find_spec("gonghui.weave.board") is None:
        return
    hook = getattr(importlib.import_module("gonghui.weave.board"), "board_after_run", None)
    if hook is not None:
        hook(run=run)


def weave_run(
    *,
    run: WeaveRun | None = None,
    trigger: str = "command line",
    actor: Any | None = None,
    on: dt.date | None = None,
    policy: CoveragePolicy | None = None,
    progress: Progress | None = None,
) -> WeaveRun:
    """Run the weave over everyone and return the finished run.

    Guarantees: the policy in force on `on` (default today) is read first (a bad policy fails
    before anything is written); the run given, else the oldest queued one, else a new one, moves
    queued -> running -> done with its counts, or -> failed with the reason and the previous
    answer (Coverage, CoveringOrg, CoverageCell) untouched. One run at a time (see the module).
    The matrix's cells and weekly member counts (rebuilt by the engine) and the board's
    `board_after_run` run inside the same transaction. One audit row per run.
    """
    policy = policy or coverage_policy(on)
    if run is None:
        run = weave_run_queue(trigger=trigger, actor=actor, launch=False)
    with _one_run_at_a_time():
        _claim(run, policy)
        writer = _ProgressWriter(run.pk, progress)
        try:
            with transaction.atomic():
                diff = WeaveRun.objects.filter(status=RunStatus.DONE).exists()
                counts = weave_everyone(run_id=run.pk, policy=policy, diff=diff, progress=writer)
                writer.close()
                WeaveRun.objects.filter(pk=run.pk).update(
                    status=RunStatus.DONE,
                    finished_at=timezone.now(),
                    progress=100,
                    progress_note="",
                    **vars(counts),
                )
                run.refresh_from_db()
                _board_after_run(run)
                audit_record(
                    actor=actor or run.requested_by,
                    action="weave.run",
                    target=run,
                    detail={"policy_version": policy.version, "trigger": run.trigger, **vars(counts)},
                )
        except Exception as exc:
            # Nothing of the run was written (one transaction); say so on the run, then fail loudly.
            writer.close()
            WeaveRun.objects.filter(pk=run.pk).update(
                status=RunStatus.FAILED,
                finished_at=timezone.now(),
                error=f"运行失败，未写入任何数据：{exc.__class__.__name__}: {exc}"[:2000],
            )
            run.refresh_from_db()
            raise
    return run
