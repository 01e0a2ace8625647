"""Background weave runs (thin: weave.services does the work).

`weave_run_queue` queues a run and, once committed, calls `start`, which launches
`gonghui weave run-queued ID` as a detached process (it outlives the request that asked for it);
that process calls `run_queued`, which writes its progress to the run row for the page to poll.
With the setting WEAVE_RUN_INLINE (tests) the run happens at once in this process instead.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

from .models import RunStatus, WeaveRun
from .services import weave_run, weave_run_queue


def start(run_id: int) -> subprocess.Popen | None:
    """Run a queued run in the background (inline with WEAVE_RUN_INLINE)."""
    if getattr(settings, "WEAVE_RUN_INLINE", False):
        run_queued(run_id)
        return None
    log_dir = Path(settings.VAR_DIR) / "weave" / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    env = os.environ.copy()
    env.setdefault("DJANGO_SETTINGS_MODULE", "gonghui.settings")
    with open(log_dir / f"run-{run_id}.log", "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "gonghui", "weave", "run-queued", str(run_id)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=str(getattr(settings, "PROJECT_DIR", "")) or None,
            start_new_session=True,
        )


def run_queued(run_id: int, *, progress=None) -> WeaveRun | None:
    """Run the queued run `run_id`; None if it has already started or finished (another process took it)."""
    run = WeaveRun.objects.select_related("requested_by").get(pk=run_id)
    if run.status != RunStatus.QUEUED:
        return None
    return weave_run(run=run, actor=run.requested_by, progress=progress)


def weave_after_census_batch(batch) -> None:
    """A census batch imported through the web: queue a weave run over the new people and run it here.

    Called in the detached `gonghui census run-batch` process, so the run is already in the background.
    """
    run = weave_run_queue(trigger=f"census batch #{batch.pk}", actor=batch.imported_by, launch=False)
    run_queued(run.pk)
