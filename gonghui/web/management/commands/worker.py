"""`gonghui worker`: the background process that runs the platform's periodic jobs (lib/periodic.py).

Jobs (each safe to run twice, or from two workers at once):

- every minute, `contest close-overdue`: preliminary attempts past their deadline are closed and
  scored on their last saved answers (competitions/tasks.py);
- every five minutes, weave runs still queued ten minutes after they were asked for (their
  detached `weave run-queued` process never started, e.g. the server restarted) are launched again,
  one at a time, when no run is running (weave/tasks.py `start`).

Run it under systemd or supervisor with a restart policy (README, "Background worker");
`--once` runs every job once and exits (for cron or a check).
"""

from __future__ import annotations

import datetime as dt
import signal
import threading

from django.core.management.base import BaseCommand
from django.db import close_old_connections, connection
from django.utils import timezone

from gonghui.competitions.tasks import close_overdue
from gonghui.lib.periodic import Job, Outcome, Scheduler

WEAVE_QUEUED_GRACE = dt.timedelta(minutes=10)


def weave_relaunch_stale(now: dt.datetime) -> int:
    """Launch the oldest weave run still queued after WEAVE_QUEUED_GRACE, if none is running; how many (0 or 1)."""
    from gonghui.weave import tasks
    from gonghui.weave.models import RunStatus, WeaveRun

    if WeaveRun.objects.filter(status=RunStatus.RUNNING).exists():
        return 0
    stale = (
        WeaveRun.objects.filter(status=RunStatus.QUEUED, created_at__lt=now - WEAVE_QUEUED_GRACE)
        .order_by("created_at")
        .values_list("pk", flat=True)
        .first()
    )
    if stale is None:
        return 0
    tasks.start(stale)
    return 1


def jobs() -> list[Job]:
    return [
        Job("contest close-overdue", dt.timedelta(minutes=1), close_overdue),
        Job("weave queued runs", dt.timedelta(minutes=5), weave_relaunch_stale),
    ]


def _fresh_connection_then(run):
    """A long-lived process: drop a database connection that broke or aged before each job (as a request would)."""

    def wrapped(now: dt.datetime):
        if not connection.in_atomic_block:  # (a test's transaction; never so in the worker)
            close_old_connections()
        return run(now)

    return wrapped


class Command(BaseCommand):
    help = (
        "Run the periodic jobs (closing overdue exam attempts, relaunching stuck weave runs) until stopped."
    )

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="run every job once and exit")

    def handle(self, *args, once: bool = False, **options):
        scheduler = Scheduler([Job(j.name, j.every, _fresh_connection_then(j.run)) for j in jobs()])
        if once:
            outcomes = scheduler.tick(timezone.now())
            self._report(outcomes, quiet=False)
            if any(o.error for o in outcomes):
                raise SystemExit(1)
            return
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        self.stdout.write(f"worker: {', '.join(j.name for j in scheduler.jobs)}")
        scheduler.loop(clock=timezone.now, stop=stop, report=self._report)
        self.stdout.write("worker: stopped")

    def _report(self, outcomes: list[Outcome], quiet: bool = True) -> None:
        stamp = timezone.localtime().strftime("%Y-%m-%d %H:%M:%S")
        for outcome in outcomes:
            if outcome.error:
                self.stderr.write(f"{stamp} {outcome.job}: {outcome.error}")
            elif outcome.result or not quiet:
                self.stdout.write(f"{stamp} {outcome.job}: {outcome.result}")
