"""Periodic work of the contests (thin: `exam` does it), run by `gonghui worker` (lib/periodic.py)."""

from __future__ import annotations

import datetime as dt

from .exam import attempts_close_overdue


def close_overdue(now: dt.datetime) -> int:
    """Close every preliminary attempt past its deadline, scored on its last saved answers; how many.

    Cheap when there is nothing to do (one indexed query on status and deadline), so the worker
    runs it every minute whether or not a preliminary window is open.
    """
    return attempts_close_overdue(now=now)
