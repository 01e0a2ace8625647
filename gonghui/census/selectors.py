"""Census reads a user sees, always scoped to the viewer.

A batch belongs to the union that imported it (`ImportBatch.org`): a viewer sees the batches of
the orgs in their subtree (a superuser sees all, batches without an org included); rows and
review items are seen through their batch. People are seen as elsewhere, by where they work.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.http import Http404
from django.utils.translation import gettext as _

from gonghui.accounts.selectors import viewer_scope
from gonghui.people.models import Person

from .models import BatchRow, BatchStatus, ImportBatch, ReviewItem, ReviewStatus


def _batches_in_scope(viewer: Any) -> QuerySet[ImportBatch]:
    scope = viewer_scope(viewer)
    if scope.is_global:
        return ImportBatch.objects.all()
    if scope.is_empty:
        return ImportBatch.objects.none()
    return ImportBatch.objects.filter(scope.orgs_q("org__"))


def batch_list(*, viewer: Any, source_kind: str = "", status: str = "") -> QuerySet[ImportBatch]:
    """Batches the viewer may see, newest first, with the importing org and user."""
    qs = _batches_in_scope(viewer).select_related("org", "imported_by", "supersedes")
    if source_kind:
        qs = qs.filter(source_kind=source_kind)
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-created_at", "-id")


def access_batch(viewer: Any, batch_id: int) -> ImportBatch:
    """The batch, if the viewer may see it; Http404 otherwise (also for a batch that does not exist)."""
    batch = (
        _batches_in_scope(viewer)
        .select_related("org", "imported_by", "supersedes")
        .filter(pk=batch_id)
        .first()
    )
    if batch is None:
        raise Http404(_("No such import batch."))
    return batch


def batch_rows(*, viewer: Any, batch: ImportBatch, status: str = "") -> QuerySet[BatchRow]:
    """The rows of a batch the viewer may see, in file order (Http404 for a batch out of scope)."""
    batch = access_batch(viewer, batch.pk)
    qs = BatchRow.objects.filter(batch=batch).select_related("person", "group", "region")
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("row_number")


def review_queue(*, viewer: Any, status: str = ReviewStatus.OPEN) -> QuerySet[ReviewItem]:
    """Review items of batches the viewer may see; open ones by default, likeliest first."""
    qs = ReviewItem.objects.filter(row__batch__in=_batches_in_scope(viewer)).select_related(
        "row", "row__batch", "row__group", "candidate", "candidate__group", "candidate__work_region"
    )
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-match_probability", "id")


def access_review_item(viewer: Any, item_id: int) -> ReviewItem:
    """The review item, if the viewer may see its batch; Http404 otherwise."""
    item = review_queue(viewer=viewer, status="").filter(pk=item_id).first()
    if item is None:
        raise Http404(_("No such review item."))
    return item


@dataclass(frozen=True)
class Sighting:
    """One row, in one imported file, that names a person."""

    row_id: int
    batch_id: int
    source_kind: str
    source_kind_label: str
    source_name: str
    file_name: str
    row_number: int
    status: str
    current: bool  # False when a corrected version of the file superseded this batch
    imported_at: Any


def person_sightings(*, viewer: Any, person: Person) -> list[Sighting]:
    """Every batch row that names the person, newest batch first: the 'crossing' of the net.

    Rows of batches the viewer may not see are left out (the person is seen by where they work;
    the batch by who imported it).
    """
    from .models import SourceKind

    labels = dict(SourceKind.choices)
    rows = (
        BatchRow.objects.filter(person=person, batch__in=_batches_in_scope(viewer))
        .annotate(later=Count("batch__superseded_by"))
        .values_list(
            "pk",
            "batch_id",
            "batch__source_kind",
            "batch__name",
            "batch__file_name",
            "row_number",
            "status",
            "later",
            "batch__created_at",
        )
        .order_by("-batch__created_at", "-batch_id", "row_number")
    )
    return [
        Sighting(
            row_id=pk,
            batch_id=batch_id,
            source_kind=kind,
            source_kind_label=str(labels.get(kind, kind)),
            source_name=name,
            file_name=file_name,
            row_number=number,
            status=status,
            current=not later,
            imported_at=created,
        )
        for pk, batch_id, kind, name, file_name, number, status, later, created in rows
    ]


def current_batches() -> QuerySet[ImportBatch]:
    """Batches done and not superseded by a corrected version (for exports run by the operator)."""
    return ImportBatch.objects.filter(status=BatchStatus.DONE, superseded_by__isnull=True)


def people_single_source(*, viewer: Any, source_kind: str = "") -> QuerySet[Person]:
    """People the viewer may see who were found in exactly one source kind (current batches only),
    annotated with `source_kinds` (1); `source_kind` narrows to people found only there. One query."""
    from gonghui.people.selectors import person_list

    current = Q(census_rows__batch__status=BatchStatus.DONE, census_rows__batch__superseded_by__isnull=True)
    qs = (
        person_list(viewer=viewer)
        .annotate(source_kinds=Count("census_rows__batch__source_kind", filter=current, distinct=True))
        .filter(source_kinds=1)
    )
    if source_kind:
        qs = qs.filter(
            census_rows__batch__source_kind=source_kind,
            census_rows__batch__status=BatchStatus.DONE,
            census_rows__batch__superseded_by__isnull=True,
        ).distinct()
    return qs


@dataclass(frozen=True)
class BatchProgress:
    status: str
    done: int
    total: int
    percent: int
    finished: bool
    error: str


def batch_progress(batch: ImportBatch) -> BatchProgress:
    """Where a (background) batch is, read fresh from the database for the polling page."""
    status, done, total, error = (
        ImportBatch.objects.filter(pk=batch.pk)
        .values_list("status", "progress_done", "progress_total", "error")
        .get()
    )
    finished = status in (BatchStatus.DONE, BatchStatus.FAILED)
    if status == BatchStatus.DONE:
        percent = 100
    elif total:
        percent = min(99, int(100 * done / total))
    else:
        percent = 0
    return BatchProgress(
        status=status, done=done, total=total, percent=percent, finished=finished, error=error
    )
