"""Background work for the census: run a queued import batch (thin: the service does the work).

`census_import_start` queues a batch and launches `gonghui census run-batch ID` as a detached
process, which calls `run_batch`. Progress is written to the batch row for the page to poll.
"""

from __future__ import annotations

from django.utils import timezone

from gonghui.weave.tasks import weave_after_census_batch

from .models import BatchStatus, ImportBatch
from .services import CensusFileRefused, ImportResult, census_import, upload_path


def run_batch(batch_id: int, *, progress=None) -> ImportResult | None:
    """Import the upload of a queued (or failed, or interrupted) batch; None if it is already done.

    A refused file marks the batch failed with the reason (CensusFileRefused is re-raised); a
    missing upload too; any other error marks it failed and is re-raised. A killed process leaves
    the batch 'running' with nothing else written. Either way, running this again starts over.
    """
    batch = ImportBatch.objects.select_related("org", "imported_by").get(pk=batch_id)
    if batch.status == BatchStatus.DONE:
        return None
    path = upload_path(batch.sha256)
    if not path.is_file():
        reason = f"找不到上传的文件 {batch.file_name}（{batch.sha256[:12]}）"
        ImportBatch.objects.filter(pk=batch.pk).update(
            status=BatchStatus.FAILED, error=reason, finished_at=timezone.now()
        )
        raise CensusFileRefused(reason)
    try:
        result = _import(batch, path, progress)
    except CensusFileRefused:
        raise  # census_import marked the batch failed with the reason
    except Exception as exc:
        # Nothing of the batch was written (one transaction); say so on the batch page, then fail loudly.
        ImportBatch.objects.filter(pk=batch.pk).update(
            status=BatchStatus.FAILED,
            error=f"导入中断，未写入任何数据：{exc.__class__.__name__}",
            finished_at=timezone.now(),
        )
        raise
    weave_after_census_batch(batch)  # new people: weave again (this process is already in the background)
    return result


def _import(batch: ImportBatch, path, progress) -> ImportResult:
    return census_import(
        source=path,
        file_name=batch.file_name,
        source_kind=batch.source_kind,
        name=batch.name,
        org=batch.org,
        actor=batch.imported_by,
        sheet=batch.sheet or None,
        manual_map=dict(batch.mapping or {}) or None,
        progress=progress,
        batch=batch,
    )
