"""Technical documents (技术文件) of a trade: uploaded by staff, published for anyone to download.

Files are PDF, Word (.docx) or Excel (.xlsx), at most `MAX_DOCUMENT_BYTES`; the content is checked,
not only the name (a PDF starts with `%PDF-`, a .docx/.xlsx is a zip holding `word/` or `xl/`).
A file is stored under `<MEDIA_ROOT or var/media>/contest-documents/` by its SHA-256 digest, never
under the uploader's name, so no name can climb out of the directory or overwrite another file.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import Http404
from django.utils import timezone

from gonghui.audit.services import audit_record

from .models import TechnicalDocument, Trade
from .services import ContestError

MAX_DOCUMENT_BYTES = 20 * 1024 * 1024
CONTENT_TYPES = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
_ZIP_PART = {"docx": "word/", "xlsx": "xl/"}


def documents_root() -> Path:
    media = getattr(settings, "MEDIA_ROOT", "") or ""
    return (Path(media) if media else Path(settings.VAR_DIR) / "media") / "contest-documents"


def document_path(document: TechnicalDocument) -> Path:
    return documents_root() / document.stored_name


def _kind(name: str, data: bytes) -> str:
    """The file's kind from its extension, confirmed by its content; ContestError names the file."""
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if extension not in CONTENT_TYPES:
        raise ContestError(f"文件 {name}：只接受 PDF、Word（.docx）或 Excel（.xlsx）文件")
    if extension == "pdf":
        if not data.startswith(b"%PDF-"):
            raise ContestError(f"文件 {name}：内容不是 PDF")
        return extension
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            parts = archive.namelist()
    except zipfile.BadZipFile:
        raise ContestError(f"文件 {name}：内容不是 .{extension} 文件") from None
    if not any(p.startswith(_ZIP_PART[extension]) for p in parts):
        raise ContestError(f"文件 {name}：内容不是 .{extension} 文件")
    return extension


@transaction.atomic
def document_upload(
    *, trade: Trade, title: str, name: str, data: bytes, actor: Any | None = None
) -> TechnicalDocument:
    """Store a technical document for a trade, unpublished.

    Guarantees: the kind and size are checked (ContestError naming the file); the same content twice
    in a trade is refused; the file is written under its digest before the row and removed again if
    the row cannot be written (a file left by a later rollback is harmless: the same content would
    be stored under the same name); audited.
    """
    title = (title or "").strip() or name
    if not data:
        raise ContestError(f"文件 {name}：是空文件")
    if len(data) > MAX_DOCUMENT_BYTES:
        raise ContestError(f"文件 {name}：超过 {MAX_DOCUMENT_BYTES // (1024 * 1024)} MB")
    extension = _kind(name, data)
    digest = hashlib.sha256(data).hexdigest()
    if TechnicalDocument.objects.filter(trade=trade, sha256=digest).exists():
        raise ContestError(f"文件 {name}：{trade.name}已有内容相同的技术文件")
    stored_name = f"{trade.contest.code}/{trade.code}/{digest}.{extension}"
    path = documents_root() / stored_name
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh = not path.exists()
    if fresh:
        path.write_bytes(data)
    try:
        document = TechnicalDocument.objects.create(
            trade=trade,
            title=title[:200],
            original_name=Path(name).name[:200],
            stored_name=stored_name,
            content_type=CONTENT_TYPES[extension],
            size=len(data),
            sha256=digest,
            uploaded_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
    except Exception:
        if fresh:
            path.unlink(missing_ok=True)
        raise
    audit_record(
        actor=actor,
        action="contest.document_upload",
        target=document,
        detail={"trade": trade.code, "sha256": digest, "size": len(data), "name": document.original_name},
    )
    return document


@transaction.atomic
def document_publish(
    *, document: TechnicalDocument, published: bool, actor: Any | None = None
) -> TechnicalDocument:
    """Publish (anyone may download it, for a public contest) or withdraw a technical document; audited."""
    if document.published == published:
        return document
    document.published = published
    document.published_at = timezone.now() if published else None
    document.save(update_fields=["published", "published_at"])
    audit_record(
        actor=actor,
        action="contest.document_publish" if published else "contest.document_unpublish",
        target=document,
        detail={"trade": document.trade.code},
    )
    return document


def public_documents(trade: Trade):
    """The published documents of a trade of a public contest (none for a contest that is not public)."""
    if not trade.contest.bank_public:
        return TechnicalDocument.objects.none()
    return trade.documents.filter(published=True).order_by("-published_at")


def access_public_document(code: str, trade_code: str, document_id: int) -> TechnicalDocument:
    """A published document of a public contest; 404 for anything else."""
    found = (
        TechnicalDocument.objects.select_related("trade__contest")
        .filter(
            pk=document_id,
            trade__code=trade_code,
            trade__contest__code=code,
            trade__contest__bank_public=True,
            published=True,
        )
        .first()
    )
    if found is None:
        raise Http404
    return found
