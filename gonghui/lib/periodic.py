"""Periodic jobs run by one long-lived process (`gonghui worker`), without a broker or a schedule table.

A job is a name, an interval and a function of the current time. `Scheduler.tick(now)` runs every
job that is due (each runs on the first tick, then `every` after its previous start) and returns
what each did; `Scheduler.loop` ticks until stopped. A job that raises is logged and tried again
at its next turn: one broken job must not stop the others (the loop is the edge where errors end).

Durability comes from the jobs, not from the loop: every job reads what is due from the database
(attempts past their deadline, runs still queued), does it with conditional updates and can be run
twice or by two workers at once without harm. So the worker keeps no state of its own; run it
under systemd or supervisor with a restart policy (see README, "Background worker").
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger("gonghui.worker")


@dataclass
class Job:
    name: str
    every: dt.timedelta
    run: Callable[[dt.datetime], Any]
    next_at: dt.datetime | None = field(default=None, compare=False)


@dataclass
class Outcome:
    job: str
    result: Any = None
    error: str = ""


class Scheduler:
    def __init__(self, jobs: list[Job]):
        self.jobs = jobs

    def tick(self, now: dt.datetime) -> list[Outcome]:
        """Run the jobs due at `now`, in order; what each returned (or the error it raised)."""
        done = []
        for job in self.jobs:
            if job.next_at is not None and now < job.next_at:
                continue
            job.next_at = now + job.every
            try:
                done.append(Outcome(job.name, job.run(now)))
            except Exception as exc:  # noqa: BLE001 - the loop's edge: log, keep the other jobs running
                logger.exception("periodic job %s failed", job.name)
                done.append(Outcome(job.name, error=f"{type(exc).__name__}: {exc}"))
        return done

    def seconds_to_next(self, now: dt.datetime) -> float:
        pending = [(job.next_at - now).total_seconds() for job in self.jobs if job.next_at is not None]
        return max(0.0, min(pending, default=0.0))

    def loop(
        self,
        *,
        clock: Callable[[], dt.datetime],
        stop: threading.Event,
        report: Callable[[list[Outcome]], None] | None = None,
        max_sleep: float = 5.0,
    ) -> None:
        """Tick until `stop` is set, sleeping until the next job is due (at most `max_sleep` seconds)."""
        while not stop.is_set():
            outcomes = self.tick(clock())
            if outcomes and report:
                report(outcomes)
            stop.wait(min(max_sleep, self.seconds_to_next(clock())))
