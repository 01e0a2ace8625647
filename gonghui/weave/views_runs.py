"""Weave run pages under /weave/runs/: the list, one run with its progress and what it changed, a person's coverage.

Thin views over `weave.selectors` and `weave.services`. A run's changes are listed only for the
people in the viewer's subtree (by work region), names with masked ID numbers; a person's
coverage outside the subtree answers 404. Staff may start a run now (it runs in the background).
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from gonghui.accounts.selectors import viewer_scope

from . import selectors, services
from .models import ChangeKind, RunStatus

RUNS_PER_PAGE = 30
CHANGES_PER_PAGE = 50


def _page(request, queryset, per_page: int):
    return Paginator(queryset, per_page).get_page(request.GET.get("page"))


def _progress_context(request, run) -> dict:
    return {
        "run": run,
        "running": run.status in (RunStatus.QUEUED, RunStatus.RUNNING),
        "changed": selectors.run_change_counts(viewer=request.user, run=run),
        "city_wide": viewer_scope(request.user).is_global,
    }


@login_required
def runs(request):
    """Every weave run, newest first, and (for staff) a button to run the weave now."""
    page = _page(request, selectors.run_list(viewer=request.user), RUNS_PER_PAGE)
    return render(
        request,
        "weave/runs.html",
        {
            "page": page,
            "pending": selectors.pending_run(viewer=request.user),
            "can_start": selectors.can_start_run(request.user),
        },
    )


@login_required
@require_POST
def run_start(request):
    """Queue a run (or join the one already queued) and start it in the background."""
    if not selectors.can_start_run(request.user):
        raise PermissionDenied
    run = services.weave_run_queue(trigger="web", actor=request.user, launch=True)
    return redirect("weave_run", run_id=run.pk)


@login_required
def run_detail(request, run_id: int):
    """A run: its progress while it works, its counts, and who gained, lost or switched their union."""
    run = selectors.access_run(request.user, run_id)
    kind = request.GET.get("kind", "")
    if kind not in ChangeKind.values:
        kind = ""
    changes = selectors.run_changes(viewer=request.user, run=run, kind=kind)
    return render(
        request,
        "weave/run.html",
        {
            **_progress_context(request, run),
            "page": _page(request, changes, CHANGES_PER_PAGE),
            "kind": kind,
            "kinds": ChangeKind.choices,
        },
    )


@login_required
def run_progress(request, run_id: int):
    """The progress fragment; it polls itself every second until the run has finished."""
    run = selectors.access_run(request.user, run_id)
    return render(
        request, "weave/run_progress.html", {**_progress_context(request, run), "finished_now": True}
    )


@login_required
def person_coverage(request, person_id: int):
    """Which unions cover one person, why, and what recent runs changed for them."""
    found = selectors.person_coverage(viewer=request.user, person_id=person_id)
    return render(request, "weave/run_person.html", {"found": found, "person": found.person})
