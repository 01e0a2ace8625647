"""Census pages: upload with preview and mapping, batch reports with progress, the review queue.

Thin views over `census.services` and `census.selectors`: every read goes through a selector that
takes the viewer (a batch or review item outside the viewer's subtree answers 404), every write
through a service. Personal data appears masked only, in pages and in the rejected-rows download.

The upload is two steps. Step 1 posts the file; its bytes are kept on disk under
`var/census/uploads/<sha256>` (not in the session table) and the preview page carries a signed
token naming them, bound to the user. Nothing reaches the database until step 2 confirms.
"""

from __future__ import annotations

import hashlib
import time
from io import BytesIO
from pathlib import Path

from django.contrib.auth.decorators import login_required
from django.core import signing
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.http import require_POST

from gonghui.census import selectors, services
from gonghui.census.forms import ConfirmForm, UploadForm
from gonghui.census.models import ImportBatch, RowStatus, SourceKind

BATCHES_PER_PAGE = 30
ROWS_PER_PAGE = 50
REVIEW_PER_PAGE = 20
PEOPLE_PER_PAGE = 50

UPLOAD_TOKEN_SALT = "gonghui.census.upload"
UPLOAD_TOKEN_MAX_AGE = 6 * 3600  # seconds a previewed file may wait for its confirmation
UPLOAD_KEPT_SECONDS = 24 * 3600  # stashed files older than this are removed on the next upload


def _page(request, queryset, per_page: int):
    return Paginator(queryset, per_page).get_page(request.GET.get("page"))


# --- the stash of uploaded files between the two steps -------------------------------------------


def _stash(data: bytes) -> str:
    """Keep the uploaded bytes where the import will read them (`var/census/uploads/<sha256>`)."""
    sha256 = hashlib.sha256(data).hexdigest()
    path = services.upload_path(sha256)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        partial = path.with_name(f".{sha256}.preview")
        partial.write_bytes(data)
        partial.replace(path)
    _forget_stale(path.parent)
    return sha256


def _forget_stale(folder: Path) -> None:
    """Remove day-old uploads that were previewed but never imported (an imported file is kept)."""
    cutoff = time.time() - UPLOAD_KEPT_SECONDS
    stale = []
    for path in folder.iterdir():
        try:
            if path.stat().st_mtime < cutoff:
                stale.append(path)
        except FileNotFoundError:
            continue  # another request removed it first
    if not stale:
        return
    imported = set(ImportBatch.objects.filter(sha256__in=[p.name for p in stale]).values_list("sha256", flat=True))
    for path in stale:
        if path.name not in imported:
            path.unlink(missing_ok=True)


def _unstash(sha256: str) -> bytes:
    try:
        return services.upload_path(sha256).read_bytes()
    except FileNotFoundError:
        raise Http404(_("The uploaded file is no longer here: upload it again.")) from None


def _token(request, *, sha256: str, file_name: str, sheet: str, headers: list[str]) -> str:
    payload = {"sha256": sha256, "user": request.user.pk, "file_name": file_name, "sheet": sheet, "headers": headers}
    return signing.dumps(payload, salt=UPLOAD_TOKEN_SALT, compress=True)


def _read_token(request, token: str) -> dict:
    """The previewed upload a token names, only for the user it was issued to; 404 otherwise."""
    try:
        payload = signing.loads(token, salt=UPLOAD_TOKEN_SALT, max_age=UPLOAD_TOKEN_MAX_AGE)
    except signing.BadSignature:
        raise Http404(_("The uploaded file is no longer here: upload it again.")) from None
    if payload.get("user") != request.user.pk:
        raise Http404(_("The uploaded file is no longer here: upload it again."))
    return payload


# --- pages -----------------------------------------------------------------------------------------


@login_required
def batches(request):
    """The batches imported by unions in the viewer's subtree, newest first."""
    page = _page(request, selectors.batch_list(viewer=request.user), BATCHES_PER_PAGE)
    return render(request, "census/batches.html", {"page": page})


def _preview_table(preview) -> tuple[list[tuple[str, str]], list[list[str]]]:
    """The preview's columns (header, field) for the mapped fields in file order, and its first rows.

    The service gives the rows as {field: value} (ID numbers and phones masked), so an ignored
    column shows no values: what the table shows is what would be imported.
    """
    columns: list[tuple[str, str]] = []
    seen: set[str] = set()
    for header in preview.headers:
        field = preview.mapping.get(header, "")
        if field and field not in seen:
            seen.add(field)
            columns.append((header, field))
    rows = [[row.get(field, "") for _header, field in columns] for row in preview.rows]
    return columns, rows


def _render_preview(request, *, form: ConfirmForm, preview, file_name: str, error: str = ""):
    columns, rows = _preview_table(preview)
    return render(
        request,
        "census/preview.html",
        {
            "form": form,
            "preview": preview,
            "columns": columns,
            "rows": rows,
            "file_name": file_name,
            "error": error,
        },
    )


def _confirm_form(request, *, preview, sha256: str, file_name: str, source: dict, sheet: str):
    """A step-2 form showing `preview`'s detected (or corrected) mapping, with a fresh token."""
    headers = [str(h) for h in preview.headers]
    # The sheet actually read, so that the sheet selector posts back the same one unless changed.
    sheet = getattr(preview, "sheet", None) or sheet or (preview.sheet_names[0] if preview.sheet_names else "")
    initial = {
        "token": _token(request, sha256=sha256, file_name=file_name, sheet=sheet, headers=headers),
        "previewed_sheet": sheet,
        "sheet": sheet,
        "source_kind": source["source_kind"],
        "name": source["name"],
        "org": source["org"].pk if source["org"] else None,
    }
    for index, header in enumerate(headers):
        initial[f"col_{index}"] = preview.mapping.get(header, "") or ""
    return ConfirmForm(initial=initial, viewer=request.user, headers=headers)


@login_required
def upload(request):
    """Step 1: the file. A readable file goes on to the preview; a refused one shows why. Writes nothing."""
    if request.method != "POST":
        return render(request, "census/upload.html", {"form": UploadForm(viewer=request.user)})
    form = UploadForm(request.POST, request.FILES, viewer=request.user)
    if not form.is_valid():
        return render(request, "census/upload.html", {"form": form})
    upload_file = form.cleaned_data["file"]
    data = upload_file.read()
    file_name = Path(upload_file.name).name
    sheet = form.cleaned_data["sheet"].strip()
    try:
        preview = services.census_preview(source=data, file_name=file_name, sheet=sheet or None, manual_map=None)
    except services.CensusFileRefused as refused:
        form.add_error("file", str(refused))
        return render(request, "census/upload.html", {"form": form, "refused": str(refused)})
    sha256 = _stash(data)
    source = {**form.cleaned_data, "name": form.cleaned_data["name"].strip() or Path(file_name).stem}
    confirm = _confirm_form(request, preview=preview, sha256=sha256, file_name=file_name, source=source, sheet=sheet)
    return _render_preview(request, form=confirm, preview=preview, file_name=file_name)


@login_required
@require_POST
def upload_confirm(request):
    """Step 2: preview again with a corrected mapping or another sheet, or start the import."""
    payload = _read_token(request, request.POST.get("token", ""))
    form = ConfirmForm(request.POST, viewer=request.user, headers=payload["headers"])
    data = _unstash(payload["sha256"])
    file_name = payload["file_name"]
    valid = form.is_valid()
    sheet = (form.cleaned_data.get("sheet") or "").strip() if valid else payload["sheet"]
    sheet_changed = sheet != payload["sheet"]
    # A corrected mapping belongs to the previewed sheet's headers; another sheet starts afresh.
    manual_map = None if sheet_changed or not valid else form.chosen_mapping()
    if not valid or sheet_changed or "import" not in request.POST:
        try:
            preview = services.census_preview(
                source=data, file_name=file_name, sheet=sheet or None, manual_map=manual_map
            )
        except services.CensusFileRefused as refused:
            return render(
                request, "census/upload.html", {"form": UploadForm(viewer=request.user), "refused": str(refused)}
            )
        if not valid:
            # Show the errors on the form as posted (e.g. an org the viewer may not import for).
            return _render_preview(request, form=form, preview=preview, file_name=file_name)
        source = {key: form.cleaned_data[key] for key in ("source_kind", "name", "org")}
        confirm = _confirm_form(
            request, preview=preview, sha256=payload["sha256"], file_name=file_name, source=source, sheet=sheet
        )
        return _render_preview(request, form=confirm, preview=preview, file_name=file_name)
    try:
        batch = services.census_import_start(
            source=data,
            file_name=file_name,
            source_kind=form.cleaned_data["source_kind"],
            name=form.cleaned_data["name"].strip() or Path(file_name).stem,
            org=form.cleaned_data["org"],
            actor=request.user,
            sheet=sheet or None,
            manual_map=manual_map,
        )
    except services.CensusFileRefused as refused:
        preview = services.census_preview(source=data, file_name=file_name, sheet=sheet or None, manual_map=None)
        return _render_preview(request, form=form, preview=preview, file_name=file_name, error=str(refused))
    return redirect("census_batch", batch_id=batch.pk)


def _progress_context(batch) -> dict:
    progress = selectors.batch_progress(batch)
    batch.status, batch.error = progress.status, progress.error
    return {"batch": batch, "progress": progress, "running": not progress.finished}


@login_required
def batch_detail(request, batch_id: int):
    """A batch's report: who/when/sha256, counts, progress while it runs, its rows by status."""
    batch = selectors.access_batch(request.user, batch_id)
    status = request.GET.get("status", "")
    if status not in RowStatus.values:
        status = ""
    page = _page(request, selectors.batch_rows(viewer=request.user, batch=batch, status=status), ROWS_PER_PAGE)
    return render(
        request,
        "census/batch.html",
        {**_progress_context(batch), "page": page, "status": status, "statuses": RowStatus.choices},
    )


@login_required
def batch_progress(request, batch_id: int):
    """The progress fragment; it polls itself every second until the batch has finished."""
    batch = selectors.access_batch(request.user, batch_id)
    # Polled from a page opened while the batch ran: when it ends, offer the rows now written.
    return render(request, "census/_progress.html", {**_progress_context(batch), "finished_now": True})


# Cells starting with these would be read as a formula by a spreadsheet program.
_FORMULA_START = ("=", "+", "-", "@")


def _cell(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _issues_text(issues) -> str:
    parts = []
    for issue in issues or []:
        if isinstance(issue, dict):
            column, reason = issue.get("column", ""), issue.get("reason", "")
        else:
            column, reason = getattr(issue, "column", ""), getattr(issue, "reason", str(issue))
        parts.append(f"{column}：{reason}" if column else str(reason))
    return "；".join(parts)


@login_required
def batch_rejected_xlsx(request, batch_id: int):
    """The batch's rejected rows as .xlsx, masked values only, with the reason in the last column."""
    from openpyxl import Workbook

    batch = selectors.access_batch(request.user, batch_id)
    rows = selectors.batch_rows(viewer=request.user, batch=batch, status=RowStatus.REJECTED)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_("Rejected rows"))
    sheet.append(
        [
            _("Row"),
            pgettext("person", "Name"),
            _("ID number"),
            _("Mobile"),
            _("Employer"),
            _("Occupation"),
            _("Address"),
            _("Reason"),
        ]
    )
    for row in rows.iterator(chunk_size=2000):
        sheet.append(
            [
                row.row_number,
                _cell(row.name),
                _cell(row.id_number_masked),
                _cell(row.phone_masked),
                _cell(row.employer_name),
                _cell(row.occupation),
                _cell(row.address),
                _cell(_issues_text(row.issues)),
            ]
        )
    buffer = BytesIO()
    workbook.save(buffer)
    response = HttpResponse(
        buffer.getvalue(), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    stem = Path(batch.file_name).stem or "batch"
    response["Content-Disposition"] = _attachment(f"{stem}-rejected-{batch.pk}.xlsx")
    return response


def _attachment(file_name: str) -> str:
    from urllib.parse import quote

    ascii_name = file_name.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(file_name)}"


@login_required
def review_queue(request):
    """Rows that may be an existing person, side by side with the candidate, for staff to decide."""
    page = _page(request, selectors.review_queue(viewer=request.user), REVIEW_PER_PAGE)
    return render(request, "census/review.html", {"page": page})


@login_required
@require_POST
def review_decide(request, item_id: int):
    """Confirm (same person) or reject (different people); htmx swaps the item, else back to the queue."""
    item = selectors.access_review_item(request.user, item_id)
    choice = request.POST.get("same_person", "")
    error = ""
    if choice not in ("1", "0"):
        error = _("Choose same person or different people.")
    else:
        try:
            services.review_decide(viewer=request.user, item=item, same_person=choice == "1")
        except ValueError as refused:
            error = str(refused)
        item = selectors.access_review_item(request.user, item_id)
    if request.headers.get("HX-Request"):
        return render(request, "census/_review_item.html", {"item": item, "error": error})
    if error:
        from django.contrib import messages

        messages.error(request, error)
    return redirect("census_review")


@login_required
def single_source(request):
    """People found by one source only: the ones the crossing of the net has not confirmed."""
    kind = request.GET.get("kind", "")
    if kind not in SourceKind.values:
        kind = ""
    people = selectors.people_single_source(viewer=request.user, source_kind=kind).order_by("name", "pk")
    page = _page(request, people, PEOPLE_PER_PAGE)
    return render(request, "census/single_source.html", {"page": page, "kind": kind, "kinds": SourceKind.choices})
