"""Census writes: preview a file, import it as one batch (all or nothing), decide review items.

The pipeline is read -> clean -> resolve -> write. The first three stages touch the database only
to read (regions, employers, people, remembered decisions, each in one set-based query); the write
stage puts the batch, every row as read (encrypted), the new people, the links, the review queue,
the updates to people already known and the audit row in ONE transaction. A crash or a killed
process therefore leaves no half batch, and running the import again starts from a clean slate.

Idempotency: a file is known by its sha256 and source kind. The same file again returns the batch
already imported and writes nothing. A corrected version (same source kind and source name,
different bytes) is a new batch that `supersedes` the old; people linked from it are updated where
the newer source says something different (newest source wins) or says what was missing.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from functools import lru_cache
from itertools import islice
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, connections, router, transaction
from django.db.models import Q
from django.utils import timezone

from gonghui.audit.services import audit_record
from gonghui.lib.bulk import RowWriter, foreign_keys_checked_set_based
from gonghui.lib.crypto import decrypt, encrypt_many, keyed_hash, keyed_hasher
from gonghui.lib.idcard import InvalidIdNumber, id_info_of_canonical, normalize_id_number
from gonghui.lib.masking import mask_id_number, mask_phone
from gonghui.lib.phone import InvalidPhone, normalize_mobile
from gonghui.lib.threads import run_ahead as _ahead
from gonghui.orgs.models import Employer, OccupationGroup, Org
from gonghui.people.models import Person
from gonghui.people.services import ID_NUMBER_PURPOSE, PHONE_PURPOSE, protected_fields
from gonghui.regions.models import Region

from .models import (
    BatchRow,
    BatchStatus,
    ImportBatch,
    LinkDecision,
    ReviewItem,
    ReviewStatus,
    RowStatus,
    SourceKind,
)
from .types import CleanRow, Issue, LinkRow, Resolution

__all__ = [
    "CensusError",
    "CensusFileRefused",
    "ImportResult",
    "Preview",
    "ReviewAlreadyDecided",
    "census_import",
    "census_import_start",
    "census_preview",
    "review_decide",
]

FINGERPRINT_PURPOSE = "census_row"
PREVIEW_ROWS = 10
WRITE_CHUNK = 2000
# Rows per COPY of the columnar write: large enough that Polars' CSV writer does the work, small
# enough that a chunk's frame and CSV text stay a few tens of megabytes.
COPY_CHUNK = 50_000
# Tests only: seconds to sleep inside the write transaction, after everything is written and
# before the commit, so a test can kill the process at the worst moment. Unset in real runs.
TEST_SLEEP_ENV = "GONGHUI_CENSUS_TEST_SLEEP_BEFORE_COMMIT"

Progress = Callable[[int, int, str], None]


class CensusError(ValueError):
    """A census write that cannot be done."""


class CensusFileRefused(CensusError):
    """The file cannot be imported (unreadable, no name column, unknown source kind); nothing was written."""


class ReviewAlreadyDecided(CensusError):
    """The review item was decided already (perhaps by someone else a moment ago)."""


@dataclass
class Preview:
    """What an upload would import, before anything is written."""

    file_name: str
    sheet: str
    sheet_names: list[str]
    header_row: int
    headers: list[str]
    mapping: dict[str, str]  # header as in the file -> field
    rows: list[dict[str, str]]  # first rows as {field: value}, ID numbers and phones masked
    row_count: int


@dataclass
class ImportResult:
    batch: ImportBatch
    created: bool
    unchanged: bool
    people_updated: int = 0


# ---------------------------------------------------------------------------------------------
# reading


def _bytes_of(source: Path | bytes | str) -> bytes:
    if isinstance(source, bytes | bytearray):
        return bytes(source)
    return Path(source).read_bytes()


def _read(data: bytes, file_name: str, sheet, manual_map):
    """The table as read by `gonghui.lib.tabular`, or CensusFileRefused with its one-line reason."""
    from gonghui.census.policies import header_policy
    from gonghui.lib.tabular import UnreadableFile, read_table

    try:
        table = read_table(
            data,
            file_name=file_name,
            sheet=sheet,
            synonyms=header_policy().synonyms,
            manual_map=manual_map or None,
        )
    except UnreadableFile as exc:
        raise CensusFileRefused(f"{file_name}：{exc}") from exc
    if "name" not in set(table.mapping.values()):
        raise CensusFileRefused(f"{file_name}：找不到姓名列（可用 --map 表头=name 指定）")
    return table


def census_preview(
    *,
    source: Path | bytes,
    file_name: str,
    sheet: str | int | None = None,
    manual_map: dict[str, str] | None = None,
) -> Preview:
    """The detected header row and mapping, the sheets, and the first rows with ID numbers and phones
    masked. Writes nothing. Raises CensusFileRefused for a file that cannot be imported."""
    table = _read(_bytes_of(source), file_name, sheet, manual_map)
    rows = []
    for _number, record in islice(table.records(), PREVIEW_ROWS):
        rows.append({field_name: _masked_raw(field_name, value) for field_name, value in record.items()})
    return Preview(
        file_name=file_name,
        sheet=table.sheet_name,
        sheet_names=list(table.sheet_names or []),
        header_row=table.header_row,
        headers=list(table.headers),
        mapping=dict(table.mapping),
        rows=rows,
        row_count=len(table.rows),
    )


def _masked_raw(field_name: str, value: str) -> str:
    """A cell shown before import: an ID number or phone masked whether or not it is valid."""
    value = value.strip()
    if field_name == "id_number":
        return mask_id_number("".join(value.split()))
    if field_name == "phone":
        digits = "".join(ch for ch in value if ch.isdigit())
        return mask_phone(digits[-11:]) if digits else ""
    return value


# ---------------------------------------------------------------------------------------------
# cleaning and linkage input


CLEAN_PROGRESS_EVERY = 5000
# Cleaning on several cores: from this many rows, chunks of CLEAN_CHUNK rows are cleaned, hashed
# and their rows as read encrypted by forked worker processes beside this one (below it, a fork
# costs more than it saves).
PARALLEL_FROM = 40_000
CLEAN_CHUNK = 20_000


def _clean(
    table, *, source_kind: str, source_name: str, progress: Callable[[int], None] = lambda done: None
) -> list[CleanRow]:
    """Every row cleaned in memory: the region look-up is built once, no query per row."""
    from gonghui.census.cleaning import RegionLookup

    return _clean_rows(
        table,
        _clean_context(
            table, source_kind=source_kind, source_name=source_name, regions=RegionLookup.from_db()
        ),
        progress,
    )


def _clean_context(table, *, source_kind: str, source_name: str, regions) -> dict[str, Any]:
    """What cleaning a part of `table` needs, made once (the names pre-cleaned all at once)."""
    from gonghui.census.cleaning import clean_names

    # The names first, all at once (as `Table.records` picks a row's name: the first non-empty).
    name_columns = [i for i, header in enumerate(table.headers) if table.mapping.get(header) == "name"]
    clean_names(next((cells[i] for i in name_columns if cells[i]), "") for _number, cells in table.rows)
    return {
        "headers_by_field": table.headers_by_field,
        "source_kind": source_kind,
        "source_name": source_name,
        "region_lookup": regions,
    }


def _clean_rows(
    table, context: dict[str, Any], progress: Callable[[int], None] = lambda done: None
) -> list[CleanRow]:
    from gonghui.census.cleaning import clean_row

    cleaned = []
    for number, record in table.records():
        cleaned.append(clean_row(record, row_number=number, **context))
        if len(cleaned) % CLEAN_PROGRESS_EVERY == 0:
            progress(len(cleaned))
    return cleaned


def _clean_and_prepare(table, *, source_kind: str, source_name: str, progress: Callable[[int], None]):
    """Every row cleaned, hashed (`_prepare`) and its row as read encrypted, as `_Prepared` in file order.

    A large file is cut into chunks that this process and forked workers (one per further core)
    share: the workers take chunks from the end, this process from the start, until they meet, so
    a busy core does less without anyone waiting. Each chunk is exactly what the one-process path
    does to those rows (the same functions, the same caches pre-filled: identical output); only
    its result travels back, pickled. The workers inherit the table and touch no database; this
    process lets the table's rows go (None) as they are cleaned, to make room for the results.
    """
    from gonghui.census.cleaning import RegionLookup

    context = _clean_context(
        table, source_kind=source_kind, source_name=source_name, regions=RegionLookup.from_db()
    )
    total = len(table.rows)
    workers = _clean_workers(total)
    if not workers:
        prepared = _prepare_part(table, 0, total, context, progress)
        return prepared
    starts = list(range(0, total, CLEAN_CHUNK))
    parts: dict[int, list[_Prepared]] = {}
    global _FORKED
    _FORKED = (table, context)
    try:
        import warnings

        with warnings.catch_warnings():
            # Python warns that fork() in a process with threads may deadlock the child; the
            # children here run only pure-Python cleaning, hashing and AES on inherited data.
            warnings.simplefilter("ignore", DeprecationWarning)
            pool = _fork_pool(workers)
            futures = {
                start: pool.submit(_prepare_forked, start, min(start + CLEAN_CHUNK, total))
                for start in reversed(starts)
            }
        try:
            done = 0
            rows = table.rows
            for start in starts:
                future = futures[start]
                if future.cancel():  # no worker took it yet: clean it here
                    parts[start] = _prepare_part(table, start, min(start + CLEAN_CHUNK, total), context)
                else:
                    # This chunk and all after it are the workers' (they hold their own copy of
                    # the rows since the fork): this process lets its copy go, memory for the results.
                    rows[start:] = [None] * (total - start)
                    parts[start] = _unpack(future.result())
                rows[start : start + CLEAN_CHUNK] = [None] * len(parts[start])
                done += len(parts[start])
                progress(done)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    finally:
        _FORKED = None
    return [item for start in starts for item in parts[start]]


_FORKED: tuple[Any, dict[str, Any]] | None = None  # (table, context) the forked workers inherit


def _clean_workers(total: int) -> int:
    """How many worker processes clean beside this one: one per further core, none for a small file
    or where fork is not available."""
    import multiprocessing

    if total < PARALLEL_FROM or "fork" not in multiprocessing.get_all_start_methods():
        return 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(0, min(cores - 1, 7))


def _fork_pool(workers: int):
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork"))


_CLEAN_FIELDS = tuple(CleanRow.__dataclass_fields__)


def _prepare_forked(start: int, stop: int) -> list[tuple]:
    """A worker's chunk, as plain tuples: they pickle and unpickle several times faster than the
    dataclass instances (`_unpack` makes those again)."""
    table, context = _FORKED
    return [
        (tuple(vars(item.clean).values()), item.id_hash, item.phone_hash, item.fingerprint, item.raw_cipher)
        for item in _prepare_part(table, start, stop, context)
    ]


def _unpack(packed: list[tuple]) -> list[_Prepared]:
    new, fields = CleanRow.__new__, _CLEAN_FIELDS
    out = []
    for values, id_hash, phone_hash, fingerprint, raw_cipher in packed:
        clean = new(CleanRow)
        clean.__dict__.update(zip(fields, values, strict=True))
        out.append(_Prepared(clean, {}, id_hash, phone_hash, fingerprint, raw_cipher))
    return out


def _prepare_part(table, start: int, stop: int, context, progress: Callable[[int], None] = lambda done: None):
    """Rows start..stop cleaned, prepared and their rows as read encrypted."""
    from dataclasses import replace

    part = replace(table, rows=table.rows[start:stop])
    prepared = _prepare(_clean_rows(part, context, progress), [part.raw_record(row) for row in part.rows])
    _encrypt_raw_rows(prepared)
    return prepared


def _fingerprint_text(*, name: str, id_hash: str, phone_hash: str, id_last4: str, birth_date) -> str:
    birth = birth_date.isoformat() if birth_date else ""
    return "|".join((name, id_hash, phone_hash, id_last4, birth))


def row_fingerprint(*, name: str, id_hash: str, phone_hash: str, id_last4: str, birth_date) -> str:
    """The keyed hash of a row's cleaned identity: the same row in a later file meets the same decision."""
    return keyed_hash(
        FINGERPRINT_PURPOSE,
        _fingerprint_text(
            name=name, id_hash=id_hash, phone_hash=phone_hash, id_last4=id_last4, birth_date=birth_date
        ),
    )


@dataclass
class _Prepared:
    """One cleaned row with what the write needs: hashes, masked forms, fingerprint."""

    clean: CleanRow
    raw: dict[str, Any]
    id_hash: str = ""
    phone_hash: str = ""
    fingerprint: str = ""
    raw_cipher: str | None = None  # the row as read, encrypted (filled while the linkage runs)


def _prepare(clean_rows: list[CleanRow], raws: list[dict[str, Any]]) -> list[_Prepared]:
    """Hashes and fingerprints as `keyed_hash` and `row_fingerprint` give them (keys looked up once)."""
    id_hash, phone_hash = keyed_hasher(ID_NUMBER_PURPOSE), keyed_hasher(PHONE_PURPOSE)
    fingerprint = keyed_hasher(FINGERPRINT_PURPOSE)
    prepared = []
    for clean, raw in zip(clean_rows, raws, strict=True):
        item = _Prepared(clean=clean, raw=raw)
        if not clean.rejected:
            item.id_hash = id_hash(clean.id_number)
            item.phone_hash = phone_hash(clean.phone)
            item.fingerprint = fingerprint(
                _fingerprint_text(
                    name=clean.name,
                    id_hash=item.id_hash,
                    phone_hash=item.phone_hash,
                    id_last4=clean.id_last4,
                    birth_date=clean.birth_date,
                )
            )
        prepared.append(item)
    return prepared


@dataclass
class _Known:
    """People already known, as the linkage sees them (a Polars frame of `PEOPLE_COLUMNS`), plus
    what the update step compares: person id -> (phone_hash, group_id, work_region_id, employer_id, id_hash)."""

    frame: Any
    current: dict[int, tuple]
    previous: ImportBatch | None = None  # the batch a corrected version corrects (its rows keep their people)


def _known_people() -> _Known:
    """Every person in one query, as columns (no model instances)."""
    import polars as pl

    from gonghui.census.linkage import PEOPLE_COLUMNS

    columns: dict[str, list] = {name: [] for name in PEOPLE_COLUMNS}
    current = {}
    rows = Person.objects.values_list(
        "id",
        "name",
        "id_number_hash",
        "id_number_masked",
        "phone_hash",
        "birth_date",
        "sex",
        "work_region__code",
        "group_id",
        "work_region_id",
        "employer_id",
    ).order_by()
    for (
        pid,
        name,
        id_hash,
        id_masked,
        p_hash,
        birth,
        sex,
        region_code,
        group_id,
        region_id,
        employer_id,
    ) in rows.iterator(chunk_size=20000):
        columns["person_id"].append(pid)
        columns["name"].append(name)
        columns["id_hash"].append(id_hash or "")
        columns["id_last4"].append((id_masked or "")[-4:])
        columns["phone_hash"].append(p_hash or "")
        columns["birth_date"].append(birth)
        columns["sex"].append(sex or "")
        columns["region_code"].append(region_code or "")
        current[pid] = (p_hash or "", group_id, region_id, employer_id, id_hash or "")
    # A person without a valid ID number keeps the last four its rows had (a 身份证后四位 column,
    # or an ID number with a wrong check character): evidence the next file's rows can meet.
    # The value most of its rows had (the first of those in a tie).
    seen: dict[int, Counter] = defaultdict(Counter)
    last4_rows = (
        BatchRow.objects.filter(person__id_number_masked="")
        .exclude(id_last4="")
        .order_by("id")
        .values_list("person_id", "id_last4")
    )
    for pid, last4 in last4_rows.iterator(chunk_size=20000):
        seen[pid][last4] += 1
    position = {pid: i for i, pid in enumerate(columns["person_id"])}
    for pid, counts in seen.items():
        columns["id_last4"][position[pid]] = counts.most_common(1)[0][0]
    schema = {name: pl.String for name in PEOPLE_COLUMNS}
    schema.update(person_id=pl.Int64, birth_date=pl.Date)
    return _Known(frame=pl.DataFrame(columns, schema=schema), current=current)


def _decisions(previous: ImportBatch | None = None) -> dict[tuple[str, int], bool]:
    """Remembered decisions: (row fingerprint, person id) -> same person.

    Staff decisions first. For a corrected version, a row unchanged from the version it corrects
    (same fingerprint) also stays with the person that row was resolved to, even when it holds too
    little to be linked by score (a name alone) — unless staff decided about that fingerprint, or
    the old version gave the fingerprint to several people.
    """
    staff = {
        (fingerprint, person_id): same
        for fingerprint, person_id, same in LinkDecision.objects.values_list(
            "fingerprint", "person_id", "same_person"
        )
    }
    if previous is None:
        return staff
    decided = {fingerprint for fingerprint, _person in staff}
    people_of: dict[str, set[int]] = {}
    rows = BatchRow.objects.filter(batch=previous, person__isnull=False).exclude(fingerprint="")
    for fingerprint, person_id in rows.values_list("fingerprint", "person_id"):
        people_of.setdefault(fingerprint, set()).add(person_id)
    carried = {
        (fingerprint, next(iter(people))): True
        for fingerprint, people in people_of.items()
        if len(people) == 1 and fingerprint not in decided
    }
    return {**carried, **staff}


def _previous_version(*, source_kind: str, name: str, sha256: str) -> ImportBatch | None:
    """The current batch this file corrects: same source kind and name, other bytes, not superseded."""
    return (
        ImportBatch.objects.filter(source_kind=source_kind, name=name, status=BatchStatus.DONE)
        .exclude(sha256=sha256)
        .filter(superseded_by__isnull=True)
        .order_by("-id")
        .first()
    )


def _resolve(prepared: list[_Prepared], known: _Known) -> dict[int, Resolution]:
    from gonghui.census.linkage import resolve

    link_rows = [
        LinkRow(
            key=key,
            name=item.clean.name,
            id_hash=item.id_hash,
            id_last4=item.clean.id_last4,
            phone_hash=item.phone_hash,
            birth_date=item.clean.birth_date,
            sex=item.clean.sex,
            region_code=item.clean.region_code,
            fingerprint=item.fingerprint,
        )
        for key, item in enumerate(prepared)
        if not item.clean.rejected
    ]
    resolutions = resolve(link_rows, known.frame, decisions=_decisions(known.previous))
    return {r.key: r for r in resolutions}


# ---------------------------------------------------------------------------------------------
# the import


def _default_name(file_name: str) -> str:
    return Path(file_name).stem or file_name


def _set_batch(batch: ImportBatch, **values) -> None:
    """Update the batch row at once (autocommit outside the import's transaction): pages poll it."""
    for key, value in values.items():
        setattr(batch, key, value)
    ImportBatch.objects.filter(pk=batch.pk).update(**values)


def census_import(
    *,
    source: Path | bytes,
    file_name: str,
    source_kind: str,
    name: str = "",
    org: Org | None = None,
    actor: Any | None = None,
    sheet: str | int | None = None,
    manual_map: dict[str, str] | None = None,
    progress: Progress | None = None,
    batch: ImportBatch | None = None,
) -> ImportResult:
    """Import one file as one batch, all or nothing.

    Guarantees: the same file (sha256) of the same source kind imported before returns that batch
    with `unchanged=True` and writes nothing; a file that cannot be read, has no name column or
    names an unknown source kind raises CensusFileRefused and writes nothing (a queued `batch` is
    marked failed with the reason); otherwise the batch, its rows, new people, links, review items,
    updates to linked people and the audit row are written in one transaction, so a crash leaves
    none of them. `progress(done, total, stage)` is called per stage (read, clean, link, write).
    """
    report = progress or (lambda done, total, stage: None)
    try:
        return _census_import(
            source=source,
            file_name=file_name,
            source_kind=source_kind,
            name=name,
            org=org,
            actor=actor,
            sheet=sheet,
            manual_map=manual_map,
            report=report,
            batch=batch,
        )
    except CensusFileRefused as exc:
        if batch is not None:
            _set_batch(batch, status=BatchStatus.FAILED, error=str(exc), finished_at=timezone.now())
        raise


# Any fixed 64-bit number: the key of the PostgreSQL advisory lock that lets one import at a time
# link and write (a second waits), so each links against the people the one before it wrote.
IMPORT_LOCK_KEY = 0x636E_7375_735F_696D  # "cnsus_im"


@contextmanager
def _one_import_at_a_time():
    """Serialise imports on PostgreSQL with a session advisory lock (released if the process dies).

    SQLite serialises the writes themselves; two imports running at the same moment there could
    link against people the other has not committed yet, which an installation on SQLite (one desk)
    does not meet in practice.
    """
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [IMPORT_LOCK_KEY])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [IMPORT_LOCK_KEY])


def _census_import(**kwargs):
    with _one_import_at_a_time(), _no_cycle_collection() as settle:
        return _census_import_locked(settle=settle, **kwargs)


@contextmanager
def _no_cycle_collection():
    """Python's cycle collector off while the file is read and cleaned, then on again for the
    objects made afterwards only; back to how it was at the end.

    Why: reading and cleaning make millions of small objects (cells, cleaned rows, hashes) that
    live until the write, and every collection walks them again to find no garbage: a third of
    the import's CPU time at 100,000 rows (17.2 s with it, 11.6 s without, measured). Reference
    counting still frees everything that is not a cycle. Once cleaning is done (`_settle`), what
    exists is frozen (never walked again) and the collector runs again, so the cycles the
    linkage's libraries make are collected as before.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield lambda: (gc.freeze(), gc.enable() if was_enabled else None)
    finally:
        gc.unfreeze()
        if was_enabled:
            gc.enable()
        else:
            gc.disable()


def _census_import_locked(
    *, source, file_name, source_kind, name, org, actor, sheet, manual_map, report, batch, settle=lambda: None
):
    if source_kind not in SourceKind.values:
        raise CensusFileRefused(f"未知的来源类型 {source_kind}（可选：{'、'.join(SourceKind.values)}）")
    data = _bytes_of(source)
    sha256 = hashlib.sha256(data).hexdigest()
    name = (name or "").strip() or _default_name(file_name)

    same = ImportBatch.objects.filter(sha256=sha256, source_kind=source_kind, status=BatchStatus.DONE)
    if batch is not None:
        same = same.exclude(pk=batch.pk)
    existing = same.order_by("-id").first()
    if existing is not None:
        if batch is not None:
            _set_batch(
                batch,
                status=BatchStatus.FAILED,
                error=f"与批次 #{existing.pk} 是同一文件，未重复导入",
                finished_at=timezone.now(),
            )
        return ImportResult(batch=existing, created=False, unchanged=True)

    if batch is not None:
        _set_batch(batch, status=BatchStatus.RUNNING, error="", progress_done=0, progress_total=0)

    table = _read(data, file_name, sheet, manual_map)
    total = len(table.rows)
    report(total, total, "read")
    if batch is not None:
        _set_batch(batch, progress_total=total * 3, progress_done=0)

    report(0, total, "clean")

    def cleaning(done: int) -> None:
        report(done, total, "clean")
        if batch is not None:
            _set_batch(batch, progress_done=done)

    prepared = _clean_and_prepare(table, source_kind=source_kind, source_name=name, progress=cleaning)
    # Keep what the batch row needs of the table and let the cells go (memory: about a kilobyte a row).
    sheet_name, header_row, mapping = table.sheet_name, table.header_row, dict(table.mapping)
    del table
    settle()  # the cycle collector on again, for what is made from here on
    report(total, total, "clean")
    if batch is not None:
        _set_batch(batch, progress_done=total)

    linkable = sum(1 for p in prepared if not p.clean.rejected)
    report(0, linkable, "link")
    known = _known_people()
    previous = known.previous = _previous_version(source_kind=source_kind, name=name, sha256=sha256)
    resolutions = _resolve(prepared, known)
    report(linkable, linkable, "link")
    if batch is not None:
        _set_batch(batch, progress_done=total * 2)

    writer = _Writer(
        prepared=prepared,
        resolutions=resolutions,
        known=known,
        report=report,
        total=total,
    )
    with transaction.atomic():
        result = writer.write(
            batch=batch,
            previous=previous,
            source_kind=source_kind,
            name=name,
            file_name=file_name,
            sha256=sha256,
            sheet=sheet_name,
            header_row=header_row,
            mapping=mapping,
            org=org,
            actor=actor,
        )
        sleep = os.environ.get(TEST_SLEEP_ENV)
        if sleep:
            report(total, total, "commit-pending")
            time.sleep(float(sleep))
        report(0, total, "commit")  # the deferred constraint checks run at COMMIT
    report(total, total, "commit")
    if batch is not None:
        # Visible to pollers only now that the transaction committed.
        _set_batch(batch, progress_done=total * 3)
    return result


def _protected_column_lists(items: list[_Prepared]) -> dict[str, list[Any]]:
    """The Person columns `people.services.protected_fields` gives, for cleaned rows, column by column.

    Why not call `protected_fields` per row: cleaning has already made the ID number and the phone
    canonical and `_prepare` has hashed them, and re-normalising and re-hashing is two fifths of
    its cost; the encryption goes through `encrypt_many` (one key look-up and one draw of nonces
    for all). The masks and the ID facts are the same library calls; `_check_protected_columns`
    holds the two paths equal at every import that makes people, and the tests hold them equal too.
    """
    cleans = [item.clean for item in items]
    infos = [id_info_of_canonical(c.id_number) if c.id_number else None for c in cleans]
    return {
        "id_number_cipher": encrypt_many([c.id_number for c in cleans]),
        "id_number_hash": [item.id_hash if item.clean.id_number else None for item in items],
        "id_number_masked": [mask_id_number(c.id_number) for c in cleans],
        "birth_date": [info.birth_date if info else None for info in infos],
        "sex": [info.sex if info else "" for info in infos],
        "birthplace_code": [info.birthplace_code if info else "" for info in infos],
        "phone_cipher": encrypt_many([c.phone for c in cleans]),
        "phone_hash": [item.phone_hash for item in items],
        "phone_masked": [mask_phone(c.phone) for c in cleans],
    }


def _protected_columns(item: _Prepared) -> dict[str, Any]:
    """`_protected_column_lists` of one row, as `protected_fields` returns it."""
    return {name: values[0] for name, values in _protected_column_lists([item]).items()}


def _check_protected_columns(item: _Prepared) -> None:
    """Refuse to write people if the fast path and `protected_fields` disagree on anything but the ciphertext."""
    fast = _protected_columns(item)
    slow = protected_fields(id_number=item.clean.id_number or None, phone=item.clean.phone or None)
    ciphers = {"id_number_cipher", "phone_cipher"}
    same = fast.keys() == slow.keys() and all(
        decrypt(fast[k]) == decrypt(slow[k]) if k in ciphers else fast[k] == slow[k] for k in slow
    )
    if not same:
        raise CensusError(
            "人员的个人信息字段与 protected_fields 不一致，未写入 / person columns differ from protected_fields"
        )


RAW_CHUNK = 10_000


def _raw_ciphers(items: list[_Prepared]) -> list[str]:
    dumps = json.dumps
    return encrypt_many([dumps(item.raw, ensure_ascii=False, default=str) for item in items])


def _encrypt_raw_rows(prepared: list[_Prepared]) -> None:
    """Encrypt every row as read (one token per row, so one row can be read back alone), and drop
    the plaintext dict once its ciphertext is kept."""
    for start in range(0, len(prepared), RAW_CHUNK):
        chunk = prepared[start : start + RAW_CHUNK]
        for item, cipher in zip(chunk, _raw_ciphers(chunk), strict=True):
            item.raw_cipher = cipher
            item.raw = {}


@lru_cache(maxsize=1 << 14)
def _issues_json_of(issues: tuple[Issue, ...]) -> str:
    return json.dumps(
        [{"column": i.column, "reason": i.reason, "severity": i.severity} for i in issues], ensure_ascii=False
    )


def _issues_json(issues: list[Issue]) -> str:
    """A row's issues as the JSON text the column stores (many rows share the same issues)."""
    return _issues_json_of(tuple(issues)) if issues else "[]"


def _best_row(items: list[_Prepared]) -> _Prepared:
    """The row a new person is made from: a valid ID first, then a phone, then the most filled in."""

    def score(item: _Prepared) -> tuple:
        c = item.clean
        filled = sum(
            bool(v) for v in (c.employer, c.occupation, c.region_code, c.group_code, c.birth_date, c.sex)
        )
        return (bool(c.id_number), bool(c.phone), filled, -c.row_number)

    return max(items, key=score)


class _Writer:
    """The write stage: everything set-based, inside the caller's transaction."""

    def __init__(self, *, prepared, resolutions, known, report, total):
        self.prepared: list[_Prepared] = prepared
        self.resolutions: dict[int, Resolution] = resolutions
        self.known: _Known = known
        self.report = report
        self.total = total

    # -- look-ups, each one query -------------------------------------------------------------

    def _lookups(self) -> None:
        cleans = [p.clean for p in self.prepared]
        region_codes = {c.region_code for c in cleans if c.region_code}
        self.region_ids = dict(Region.objects.filter(code__in=region_codes).values_list("code", "id"))
        self.group_ids = dict(OccupationGroup.objects.values_list("code", "id"))
        credit_codes = {c.employer_credit_code for c in cleans if c.employer_credit_code}
        employer_names = {c.employer for c in cleans if c.employer}
        by_code, by_name = {}, {}
        for eid, code, ename in Employer.objects.filter(
            Q(credit_code__in=credit_codes) | Q(name__in=employer_names)
        ).values_list("id", "credit_code", "name"):
            by_code[code] = eid
            by_name.setdefault(ename, eid)
        self.employer_by_code, self.employer_by_name = by_code, by_name

    def _employer_id(self, clean: CleanRow) -> int | None:
        if clean.employer_credit_code and clean.employer_credit_code in self.employer_by_code:
            return self.employer_by_code[clean.employer_credit_code]
        return self.employer_by_name.get(clean.employer) if clean.employer else None

    # -- the write ------------------------------------------------------------------------------

    def write(
        self, *, batch, previous, source_kind, name, file_name, sha256, sheet, header_row, mapping, org, actor
    ):
        self._lookups()
        counts = self._counts()
        values = {
            "source_kind": source_kind,
            "name": name,
            "file_name": file_name,
            "sha256": sha256,
            "sheet": sheet,
            "header_row": header_row,
            "mapping": mapping,
            "org": org,
            "supersedes": previous,
            "status": BatchStatus.DONE,
            "error": "",
            "finished_at": timezone.now(),
            **counts,
        }
        if batch is None:
            actor_user = actor if getattr(actor, "is_authenticated", False) else None
            batch = ImportBatch.objects.create(imported_by=actor_user, **values)
        else:
            for key, value in values.items():
                setattr(batch, key, value)
            batch.save()

        self.report(0, self.total, "write")
        cluster_people = self._create_people()
        with foreign_keys_checked_set_based(
            BatchRow, f"{BatchRow._meta.get_field('batch').column} = %s", [batch.pk]
        ):
            rows = self._create_rows(batch, cluster_people)
        reviews = self._create_reviews(rows, cluster_people)
        updated = self._update_people()
        self.report(self.total, self.total, "write")
        audit_record(
            actor=actor,
            action="census.import",
            target=batch,
            detail={
                "source_kind": source_kind,
                "name": name,
                "file_name": file_name,
                "sha256": sha256,
                "supersedes": previous.pk if previous else None,
                **counts,
                "review_items": reviews,
                "people_updated": updated,
            },
        )
        return ImportResult(batch=batch, created=True, unchanged=False, people_updated=updated)

    def _counts(self) -> dict[str, int]:
        statuses = [
            self.resolutions[k].status if k in self.resolutions else "rejected"
            for k in range(len(self.prepared))
        ]
        new_clusters = {
            r.new_cluster
            for r in self.resolutions.values()
            if r.person_id is None and r.new_cluster is not None
        }
        linked_people = {r.person_id for r in self.resolutions.values() if r.status == "linked"}
        rejected = statuses.count("rejected")
        return {
            "rows_total": len(self.prepared),
            "rows_valid": len(self.prepared) - rejected,
            "rows_rejected": rejected,
            "people_new": len(new_clusters),
            "people_linked": len(linked_people),
            "rows_review": statuses.count("review"),
        }

    def _create_people(self) -> dict[int, int]:
        """One new Person per new cluster, from the cluster's best row; returns cluster -> person id."""
        members: dict[int, list[_Prepared]] = {}
        for key, res in self.resolutions.items():
            if res.person_id is None and res.new_cluster is not None:
                members.setdefault(res.new_cluster, []).append(self.prepared[key])
        clusters = sorted(members)
        if clusters:
            _check_protected_columns(_best_row(members[clusters[0]]))
        ids = _reserve_ids(Person, len(clusters))
        insert = RowWriter(Person, include_pk=True)

        def chunks():
            for start in range(0, len(clusters), COPY_CHUNK):
                part = clusters[start : start + COPY_CHUNK]
                yield insert.payload(
                    self._person_columns(ids[start : start + len(part)], [members[c] for c in part])
                )

        # The new people's own keys (employer, group, regions) checked once for all, as the rows' are.
        where = f"{Person._meta.pk.column} BETWEEN %s AND %s"
        checked = (
            foreign_keys_checked_set_based(Person, where, [min(ids), max(ids)]) if ids else nullcontext()
        )
        with checked:
            for payload in _ahead(chunks()):
                insert.insert_payload(payload)
        return dict(zip(clusters, ids, strict=True))

    def _person_columns(self, ids: list[int], groups: list[list[_Prepared]]) -> dict[str, list]:
        """The Person columns of new people, one per group of rows (made from its best row)."""
        best = [_best_row(members) for members in groups]
        cleans = [item.clean for item in best]
        columns = _protected_column_lists(best)
        # Without an ID number, the birth date and sex the rows give (with one, the number's).
        columns["birth_date"] = [
            born if c.id_number else c.birth_date
            for born, c in zip(columns["birth_date"], cleans, strict=True)
        ]
        columns["sex"] = [
            sex if c.id_number else c.sex for sex, c in zip(columns["sex"], cleans, strict=True)
        ]
        group_ids = self.group_ids
        region_ids = self.region_ids
        return {
            "id": ids,
            "name": [c.name[:100] for c in cleans],
            "employer_id": [self._employer_id(c) for c in cleans],
            "group_id": [
                group_ids.get(
                    c.group_code or next((m.clean.group_code for m in ms if m.clean.group_code), "")
                )
                for c, ms in zip(cleans, groups, strict=True)
            ],
            "occupation": [c.occupation[:100] for c in cleans],
            "work_region_id": [region_ids.get(c.region_code) for c in cleans],
            **columns,
        }

    def _row_person(self, res: Resolution | None, cluster_people: dict[int, int]) -> int | None:
        if res is None:
            return None
        if res.person_id is not None:
            return res.person_id
        return cluster_people.get(res.new_cluster)

    def _create_rows(self, batch, cluster_people) -> list[tuple[int, int | None]]:
        """Every row as read (encrypted) and as cleaned; returns (row id, person id) in file order."""
        insert = RowWriter(BatchRow, include_pk=True)
        ids = _reserve_ids(BatchRow, len(self.prepared))
        persons = [
            self._row_person(self.resolutions.get(key), cluster_people) for key in range(len(self.prepared))
        ]

        def chunks():
            for start in range(0, len(self.prepared), COPY_CHUNK):
                stop = min(start + COPY_CHUNK, len(self.prepared))
                yield stop - start, insert.payload(self._row_columns(batch.pk, start, stop, ids, persons))

        done = 0
        for size, payload in _ahead(chunks()):
            insert.insert_payload(payload)
            done += size
            self.report(done, self.total, "write")
        return list(zip(ids, persons, strict=True))

    def _row_columns(
        self, batch_id: int, start: int, stop: int, ids: list[int], persons: list
    ) -> dict[str, list]:
        """The BatchRow columns of rows start..stop, as `RowWriter.payload` takes them."""
        items = self.prepared[start:stop]
        cleans = [item.clean for item in items]
        results = [self.resolutions.get(key) for key in range(start, stop)]
        missing = [item for item in items if item.raw_cipher is None]
        if missing:  # not encrypted beside the linkage (e.g. a test calls the writer alone)
            for item, cipher in zip(missing, _raw_ciphers(missing), strict=True):
                item.raw_cipher = cipher
        region_ids, group_ids = self.region_ids, self.group_ids
        return {
            "id": ids[start:stop],
            "batch_id": [batch_id] * len(items),
            "row_number": [c.row_number for c in cleans],
            "raw_cipher": [item.raw_cipher for item in items],
            "fingerprint": [item.fingerprint for item in items],
            "name": [c.name[:100] for c in cleans],
            "id_number_hash": [item.id_hash for item in items],
            "id_number_masked": [mask_id_number(c.id_number) for c in cleans],
            "id_last4": [c.id_last4[:4] for c in cleans],
            "phone_hash": [item.phone_hash for item in items],
            "phone_masked": [mask_phone(c.phone) for c in cleans],
            "birth_date": [c.birth_date for c in cleans],
            "sex": [c.sex for c in cleans],
            "employer_name": [c.employer[:200] for c in cleans],
            "occupation": [c.occupation[:100] for c in cleans],
            "address": [c.address[:255] for c in cleans],
            "region_id": [region_ids.get(c.region_code) for c in cleans],
            "group_id": [group_ids.get(c.group_code) for c in cleans],
            "status": [res.status if res is not None else RowStatus.REJECTED.value for res in results],
            "person_id": persons[start:stop],
            "match_probability": [res.probability if res is not None else None for res in results],
            # JSON text as the column stores it (SQLite text, PostgreSQL jsonb through COPY's text form).
            "issues": [_issues_json(c.issues) for c in cleans],
        }

    def _create_reviews(self, rows: list[tuple[int, int | None]], cluster_people: dict[int, int]) -> int:
        items = []
        for key, (row_id, row_person) in enumerate(rows):
            res = self.resolutions.get(key)
            if res is None or res.status != "review":
                continue
            seen = set()
            pairs = list(res.candidates) + [
                (cluster_people.get(cluster), p) for cluster, p in res.cluster_candidates
            ]
            for candidate, probability in pairs:
                if candidate is None or candidate in seen:
                    continue
                if candidate == row_person and (candidate, probability) not in res.candidates:
                    continue  # the row's own new person
                seen.add(candidate)
                items.append(ReviewItem(row_id=row_id, candidate_id=candidate, match_probability=probability))
        ReviewItem.objects.bulk_create(items, batch_size=WRITE_CHUNK)
        return len(items)

    def _update_people(self) -> int:
        """Newest source wins: linked people take the row's phone, group, region, employer (and a
        missing ID number) where the row says something and it differs. Returns people changed."""
        latest: dict[int, _Prepared] = {}
        for key, res in sorted(self.resolutions.items()):
            if res.status == "linked" and res.person_id is not None:
                latest[res.person_id] = self.prepared[key]
        taken_ids = {cur[4] for cur in self.known.current.values() if cur[4]}
        phone, group, region, employer, id_number = [], [], [], [], []
        for pid, item in latest.items():
            c = item.clean
            cur_phone, cur_group, cur_region, cur_employer, cur_id = self.known.current.get(
                pid, ("", None, None, None, "")
            )
            if c.phone and item.phone_hash != cur_phone:
                fields = protected_fields(id_number=None, phone=c.phone)
                phone.append({"id": pid, **{k: v for k, v in fields.items() if k.startswith("phone_")}})
            group_id = self.group_ids.get(c.group_code)
            if group_id and group_id != cur_group:
                group.append({"id": pid, "group_id": group_id})
            region_id = self.region_ids.get(c.region_code)
            if region_id and region_id != cur_region:
                region.append({"id": pid, "work_region_id": region_id})
            employer_id = self._employer_id(c)
            if employer_id and employer_id != cur_employer:
                employer.append({"id": pid, "employer_id": employer_id})
            if c.id_number and not cur_id and item.id_hash not in taken_ids:
                taken_ids.add(item.id_hash)
                fields = protected_fields(id_number=c.id_number, phone=None)
                id_number.append(
                    {"id": pid, **{k: v for k, v in fields.items() if not k.startswith("phone_")}}
                )
        changed = set()
        for updates in (phone, group, region, employer, id_number):
            if updates:
                _update(Person, updates)
                changed.update(values["id"] for values in updates)
        return len(changed)


# ---------------------------------------------------------------------------------------------
# background runs


def upload_path(sha256: str) -> Path:
    return Path(settings.VAR_DIR) / "census" / "uploads" / sha256


def census_import_start(
    *,
    source: bytes,
    file_name: str,
    source_kind: str,
    name: str = "",
    org: Org | None = None,
    actor: Any | None = None,
    sheet: str | int | None = None,
    manual_map: dict[str, str] | None = None,
) -> ImportBatch:
    """Queue an upload for import in the background and return its batch without waiting.

    Guarantees: the bytes are kept under var/census/uploads/<sha256>; the same file of the same
    source kind imported (or queued) before returns that batch and queues nothing; otherwise a QUEUED
    batch is created and, once committed, a detached `gonghui census run-batch ID` process imports
    it (or, with the setting CENSUS_RUN_INLINE, it runs at once in this process, for tests).
    """
    if source_kind not in SourceKind.values:
        raise CensusFileRefused(f"未知的来源类型 {source_kind}（可选：{'、'.join(SourceKind.values)}）")
    sha256 = hashlib.sha256(source).hexdigest()
    existing = (
        ImportBatch.objects.filter(
            sha256=sha256,
            source_kind=source_kind,
            status__in=(BatchStatus.DONE, BatchStatus.QUEUED),
        )
        .order_by("-id")
        .first()
    )
    if existing is not None:
        return existing
    path = upload_path(sha256)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        tmp = path.with_suffix(".part")
        tmp.write_bytes(source)
        tmp.replace(path)
    actor_user = actor if getattr(actor, "is_authenticated", False) else None
    batch = ImportBatch.objects.create(
        source_kind=source_kind,
        name=(name or "").strip() or _default_name(file_name),
        file_name=file_name,
        sha256=sha256,
        sheet="" if sheet is None else str(sheet),
        mapping=dict(manual_map or {}),
        org=org,
        imported_by=actor_user,
        status=BatchStatus.QUEUED,
    )
    audit_record(
        actor=actor,
        action="census.import_queued",
        target=batch,
        detail={"file_name": file_name, "sha256": sha256},
    )
    if getattr(settings, "CENSUS_RUN_INLINE", False):
        from .tasks import run_batch

        transaction.on_commit(lambda: run_batch(batch.pk))
    else:
        transaction.on_commit(lambda: _launch(batch.pk))
    return batch


def _launch(batch_id: int) -> subprocess.Popen:
    """Start `python -m gonghui census run-batch ID` detached: it outlives the request that queued it."""
    log_dir = Path(settings.VAR_DIR) / "census" / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    env = os.environ.copy()
    env.setdefault("DJANGO_SETTINGS_MODULE", "gonghui.settings")
    with open(log_dir / f"batch-{batch_id}.log", "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "gonghui", "census", "run-batch", str(batch_id)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=str(getattr(settings, "PROJECT_DIR", "")) or None,
            start_new_session=True,
        )


# ---------------------------------------------------------------------------------------------
# review decisions


def _person_from_row(row: BatchRow) -> int:
    """A new Person made from a row as read (its ID number and phone decrypted, checked, protected)."""
    raw = json.loads(decrypt(row.raw_cipher) or "{}")
    by_field: dict[str, str] = {}
    for header, field_name in (row.batch.mapping or {}).items():
        if header in raw and field_name not in by_field:
            by_field[field_name] = str(raw[header] or "")
    id_number = phone = None
    try:
        id_number = normalize_id_number(by_field.get("id_number", "")) if by_field.get("id_number") else None
    except InvalidIdNumber:
        id_number = None
    try:
        phone = normalize_mobile(by_field.get("phone", "")) if by_field.get("phone") else None
    except InvalidPhone:
        phone = None
    if id_number:
        same_id = Person.objects.filter(id_number_hash=keyed_hash(ID_NUMBER_PURPOSE, id_number)).first()
        if same_id is not None:
            return same_id.pk
    fields = protected_fields(id_number=id_number, phone=phone)
    if not id_number:
        fields["birth_date"] = row.birth_date
        fields["sex"] = row.sex
    person = Person.objects.create(
        name=row.name,
        group_id=row.group_id,
        occupation=row.occupation,
        work_region_id=row.region_id,
        **fields,
    )
    return person.pk


def review_decide(*, viewer: Any, item: ReviewItem, same_person: bool) -> ReviewItem:
    """Decide a review item: the row is (confirmed) or is not (rejected) the candidate person.

    Guarantees: only a viewer who sees the batch may decide (else Http404); an item is decided once
    (a second decision, even a concurrent one, raises ReviewAlreadyDecided: the move from open is a
    conditional UPDATE); confirmed links the row to the candidate; rejected moves a row provisionally
    linked to the candidate to the next open candidate or to a new person made from the row; the
    decision is remembered by the row's fingerprint for later imports, and audited.
    """
    from .selectors import access_review_item

    item = access_review_item(viewer, item.pk)
    new_status = ReviewStatus.CONFIRMED if same_person else ReviewStatus.REJECTED
    with transaction.atomic():
        now = timezone.now()
        decider = viewer if getattr(viewer, "is_authenticated", False) else None
        moved = ReviewItem.objects.filter(pk=item.pk, status=ReviewStatus.OPEN).update(
            status=new_status, decided_by=decider, decided_at=now
        )
        if moved != 1:
            raise ReviewAlreadyDecided(f"该复核项已处理（#{item.pk}），不能重复决定")
        row = BatchRow.objects.select_for_update().select_related("batch").get(pk=item.row_id)
        before = {"status": row.status, "person": row.person_id}
        open_items = ReviewItem.objects.filter(row=row, status=ReviewStatus.OPEN)
        provisional = None
        if same_person:
            others = list(open_items.values_list("pk", flat=True))
            open_items.update(status=ReviewStatus.REJECTED, decided_by=decider, decided_at=now)
            provisional = row.person_id
            row.person_id = item.candidate_id
            row.status = RowStatus.LINKED
        else:
            others = []
            if row.person_id == item.candidate_id:
                nxt = open_items.order_by("-match_probability", "id").first()
                if nxt is not None and nxt.match_probability >= 0.5:
                    row.person_id = nxt.candidate_id
                else:
                    row.person_id = _person_from_row(row)
            if not open_items.exists():
                row.status = RowStatus.NEW if row.person_id not in _linked_before(row) else RowStatus.LINKED
        row.save(update_fields=["person", "status"])
        dropped = None
        if same_person and provisional and provisional != row.person_id:
            dropped = _drop_if_orphan(provisional, row.batch)
        LinkDecision.objects.update_or_create(
            fingerprint=row.fingerprint,
            person_id=item.candidate_id,
            defaults={"same_person": same_person, "decided_by": decider},
        )
        audit_record(
            actor=viewer,
            action="census.review_decide",
            target=item,
            detail={
                "row": row.pk,
                "batch": row.batch_id,
                "candidate": item.candidate_id,
                "same_person": same_person,
                "from": before,
                "to": {"status": row.status, "person": row.person_id},
                "also_closed": others,
                "dropped_person": dropped,
            },
        )
    item.refresh_from_db()
    return item


def _drop_if_orphan(person_id: int, batch: ImportBatch) -> int | None:
    """Delete the person a batch made for a row now confirmed to be someone else, when nothing else
    names them (no other row, review item or record of any app); returns the id dropped, or None."""
    person = Person.objects.filter(pk=person_id, created_at__gte=batch.created_at).first()
    if person is None:
        return None
    for relation in Person._meta.related_objects:
        manager = relation.related_model._default_manager
        if manager.filter(**{relation.field.name: person_id}).exists():
            return None
    person.delete()
    return person_id


def _linked_before(row: BatchRow) -> set[int]:
    """People that existed before the row's batch (so a row pointing at one is 'linked', not 'new')."""
    if row.person_id is None:
        return set()
    existed = Person.objects.filter(pk=row.person_id, created_at__lt=row.batch.created_at).values_list(
        "pk", flat=True
    )
    return set(existed)


# ---------------------------------------------------------------------------------------------
# set-based writes without model instances


def _reserve_ids(model, count: int) -> list[int]:
    """`count` fresh primary keys for `model`, taken inside the import's transaction.

    PostgreSQL: from the table's own sequence (nextval never hands a number out twice).
    SQLite: after the highest id ever used; safe because the import's transaction already holds
    SQLite's single write lock (the batch row is written first), so no other writer can interleave.
    """
    if count == 0:
        return []
    connection = connections[router.db_for_write(model)]
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [table, model._meta.pk.column, count],
            )
            return [pk for (pk,) in cursor.fetchall()]
        if connection.vendor != "sqlite":
            raise NotImplementedError(connection.vendor)
        cursor.execute(f"SELECT coalesce(max({model._meta.pk.column}), 0) FROM {table}")  # noqa: S608
        highest = cursor.fetchone()[0]
        cursor.execute("SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = %s", [table])
        highest = max(highest, cursor.fetchone()[0])
    return list(range(highest + 1, highest + 1 + count))


def _update(model, updates: list[dict[str, Any]]) -> None:
    """One executemany UPDATE for rows that change the same columns (each dict: id + new values)."""
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    columns = [name for name in updates[0] if name != "id"]
    fields = {f.attname: f for f in model._meta.concrete_fields}
    sets = ", ".join(f"{quote(fields[name].column)} = %s" for name in columns)
    sql = f"UPDATE {quote(model._meta.db_table)} SET {sets}, {quote('updated_at')} = %s WHERE id = %s"
    now = (
        fields["updated_at"].get_db_prep_save(timezone.now(), connection) if "updated_at" in fields else None
    )
    params = [
        [*(fields[name].get_db_prep_save(values[name], connection) for name in columns), now, values["id"]]
        for values in updates
    ]
    with connection.cursor() as cursor:
        for start in range(0, len(params), WRITE_CHUNK):
            cursor.executemany(sql, params[start : start + WRITE_CHUNK])


@contextmanager
def _beside(work: Callable[[], None]):
    """Run `work` in a helper thread while the with-block runs; wait for it at the end of the block
    and raise its error, if any (an error of the block itself goes first)."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:  # noqa: BLE001 - raised in the caller's thread below
            failure.append(exc)

    helper = threading.Thread(target=run, name="census-beside", daemon=True)
    helper.start()
    try:
        yield
    finally:
        helper.join()
    if failure:
        raise failure[0]
