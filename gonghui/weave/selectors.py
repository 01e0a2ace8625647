"""Reads of weave runs and of a person's coverage, scoped to the viewer.

A run is city-wide (it covers everyone), so any viewer with a scope sees the list of runs and
their progress; what a run changed is listed only for the people in the viewer's subtree (by work
region), and a person's coverage answers 404 outside it, as the people pages do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.http import Http404
from django.utils.translation import gettext as _

from gonghui.accounts.models import Role, RoleKind
from gonghui.accounts.selectors import viewer_scope
from gonghui.people.selectors import access_person

from .models import ChangeKind, Coverage, CoverageChange, CoverageRule, CoveringUnion, RunStatus, WeaveRun


def run_list(*, viewer: Any) -> QuerySet[WeaveRun]:
    """Weave runs, newest first; none for a viewer without a scope."""
    if viewer_scope(viewer).is_empty:
        return WeaveRun.objects.none()
    return WeaveRun.objects.select_related("requested_by").order_by("-id")


def access_run(viewer: Any, run_id: Any) -> WeaveRun:
    """One run by id for a viewer with a scope; Http404 otherwise."""
    try:
        pk = int(run_id)
    except (TypeError, ValueError):
        raise Http404(_("No such weave run.")) from None
    run = run_list(viewer=viewer).filter(pk=pk).first()
    if run is None:
        raise Http404(_("No such weave run."))
    return run


def can_start_run(viewer: Any) -> bool:
    """Staff (an admin or staff role in any union, or a superuser) may start a run now."""
    if not getattr(viewer, "is_authenticated", False) or not viewer.is_active:
        return False
    if viewer.is_superuser:
        return True
    return Role.objects.filter(user=viewer, role__in=[RoleKind.ADMIN, RoleKind.STAFF]).exists()


def pending_run(*, viewer: Any) -> WeaveRun | None:
    """The run queued or running now, if any (what a new request would join)."""
    return (
        run_list(viewer=viewer)
        .filter(status__in=[RunStatus.QUEUED, RunStatus.RUNNING])
        .order_by("id")
        .first()
    )


def run_changes(*, viewer: Any, run: WeaveRun, kind: str = "") -> QuerySet[CoverageChange]:
    """What `run` changed for the people in the viewer's subtree (by work region), optionally of one kind."""
    qs = CoverageChange.objects.filter(run=run).filter(
        viewer_scope(viewer).regions_q("person__work_region__")
    )
    if kind:
        qs = qs.filter(kind=kind)
    return qs.select_related("person", "before_org", "after_org").order_by("kind", "person_id")


def run_change_counts(*, viewer: Any, run: WeaveRun) -> dict[str, int]:
    """Changes of `run` in the viewer's subtree, per kind (every kind present, 0 if none)."""
    counts = dict.fromkeys(ChangeKind.values, 0)
    rows = run_changes(viewer=viewer, run=run).order_by().values("kind").annotate(n=Count("pk"))
    counts.update({row["kind"]: row["n"] for row in rows})
    return counts


@dataclass(frozen=True)
class Covering:
    """One union that can take a person, at its rank in the person's order (1 = the primary union)."""

    rank: int
    org: Any
    rule: str

    def get_rule_display(self) -> str:
        return str(CoverageRule(self.rule).label)


def covering_of(coverage: Coverage | None) -> list[Covering]:
    """Every union that can take the person of `coverage`, primary first, as the run that wrote it ordered them.

    The merge of the covering unions of the person's employer and of their place (region, group):
    one query. Unscoped: the caller has checked the viewer may see the person.
    """
    if coverage is None:
        return []
    keys = Q(pk__in=[])
    if coverage.employer_id is not None:
        keys |= Q(employer_id=coverage.employer_id)
    if coverage.region_id is not None:
        keys |= Q(employer__isnull=True, region_id=coverage.region_id, group_id=coverage.group_id)
    rows = CoveringUnion.objects.filter(keys).select_related("org").order_by("pos", "rank")
    return [Covering(rank=rank, org=row.org, rule=row.rule) for rank, row in enumerate(rows, 1)]


@dataclass(frozen=True)
class PersonCoverage:
    person: Any
    coverage: Coverage | None  # None: not yet woven (no run since the person was added)
    covering: list[Covering]
    changes: list[CoverageChange]


def person_coverage(*, viewer: Any, person_id: Any) -> PersonCoverage:
    """A person's current coverage (primary union, every covering union in rank order, recent changes); Http404 outside the viewer's subtree."""
    person = access_person(viewer, person_id)
    coverage = (
        Coverage.objects.filter(person=person).select_related("primary_org", "run", "region", "group").first()
    )
    covering = covering_of(coverage)
    changes = list(
        CoverageChange.objects.filter(person=person)
        .select_related("run", "before_org", "after_org")
        .order_by("-run_id")[:10]
    )
    return PersonCoverage(person=person, coverage=coverage, covering=covering, changes=changes)
