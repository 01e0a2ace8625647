"""Importing union organisations from CSV: `orgs_import_csv` (re-exported by orgs.services).

Columns: code,name,kind,parent_code,region_code,covers_regions,covers_groups,employer_credit_codes
and optionally founded_on,status. Lists are separated by ";". Row numbers count the header as
row 1, as a spreadsheet shows them.

The import is all or nothing and set-based: the whole file is checked against the database
loaded once into dicts (regions, groups, employers, the orgs it names and their ancestors),
then written with bulk inserts and updates, a few statements per tree depth.
"""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date

from django.db import transaction
from django.db.models import CharField, OuterRef, Subquery, Value
from django.db.models.functions import Cast, Coalesce, Concat
from django.utils import timezone

from gonghui.audit.services import audit_record
from gonghui.lib.creditcode import InvalidCreditCode, normalize_credit_code
from gonghui.lib.csvtable import CsvTableError, read_table
from gonghui.regions.models import Region
from gonghui.regions.services import RegionCodeError, normalize_region_code

from .models import Employer, OccupationGroup, Org, OrgKind, OrgStatus
from .tree import rebase_subtree

COLUMNS = (
    "code",
    "name",
    "kind",
    "parent_code",
    "region_code",
    "covers_regions",
    "covers_groups",
    "employer_credit_codes",
)
OPTIONAL_COLUMNS = ("founded_on", "status")

KIND_WORDS: dict[str, str] = {
    **{v: v for v in OrgKind.values},
    "总工会": OrgKind.FEDERATION,
    "地方总工会": OrgKind.FEDERATION,
    "乡镇工会": OrgKind.TOWNSHIP,
    "街道工会": OrgKind.TOWNSHIP,
    "乡镇（街道）工会": OrgKind.TOWNSHIP,
    "村工会": OrgKind.VILLAGE,
    "社区工会": OrgKind.VILLAGE,
    "村（社区）工会": OrgKind.VILLAGE,
    "企业工会": OrgKind.ENTERPRISE,
    "单独建会": OrgKind.ENTERPRISE,
    "区域联合工会": OrgKind.JOINT,
    "联合工会": OrgKind.JOINT,
    "行业工会联合会": OrgKind.INDUSTRY,
    "行业工会": OrgKind.INDUSTRY,
}
STATUS_WORDS: dict[str, str] = {
    **{v: v for v in OrgStatus.values},
    "正常": OrgStatus.ACTIVE,
    "在册": OrgStatus.ACTIVE,
    "筹建": OrgStatus.PREPARING,
    "筹备": OrgStatus.PREPARING,
    "撤销": OrgStatus.DISSOLVED,
    "已撤销": OrgStatus.DISSOLVED,
    "解散": OrgStatus.DISSOLVED,
    "注销": OrgStatus.DISSOLVED,
}
LIST_SEPARATORS = re.compile(r"[;；]")
UNION_SUFFIXES = ("工会委员会", "联合工会", "工会")
CHUNK = 500


@dataclass(frozen=True, order=True)
class OrgRowError:
    """One problem in an import file, at a row and column."""

    row: int
    column_order: int
    column: str
    message: str

    def __str__(self) -> str:
        where = f"第 {self.row} 行 {self.column}" if self.column else f"第 {self.row} 行"
        return f"{where}：{self.message}"


@dataclass
class OrgImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[OrgRowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def __str__(self) -> str:
        return f"created {self.created}, updated {self.updated}, unchanged {self.unchanged}"


@dataclass
class _Row:
    number: int
    code: str
    name: str = ""
    kind: str = ""
    parent_code: str = ""
    region_code: str = ""
    covers_regions: list[str] = field(default_factory=list)
    covers_groups: list[str] = field(default_factory=list)  # raw words until resolved
    employer_codes: list[str] = field(default_factory=list)
    founded_on: date | None = None  # None: not stated
    status: str = ""  # "": not stated


@dataclass(frozen=True)
class _Existing:
    id: int
    code: str
    name: str
    kind: str
    parent_id: int | None
    path: str
    depth: int
    region_id: int | None
    founded_on: date | None
    status: str


def _chunks(items: Iterable, size: int = CHUNK) -> Iterator[list]:
    batch: list = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _split(cell: str) -> list[str]:
    seen: dict[str, None] = {}
    for part in LIST_SEPARATORS.split(cell):
        if part.strip():
            seen[part.strip()] = None
    return list(seen)


def _employer_name(org_name: str, code: str, shared: bool) -> str:
    """A name for an employer first met in an import: the enterprise union's name without 工会."""
    if shared:
        return f"统一社会信用代码 {code} 的单位"
    for suffix in UNION_SUFFIXES:
        if org_name.endswith(suffix) and len(org_name) > len(suffix):
            return org_name[: -len(suffix)]
    return org_name


def _parse_date(text: str) -> date:
    return date.fromisoformat(text.replace("/", "-").replace(".", "-"))


class _Import:
    """One import run: parse, resolve against the database, check, then write."""

    def __init__(self, rows: list[tuple[int, dict[str, str]]], columns: list[str]):
        self.raw = rows
        self.has_founded = "founded_on" in columns
        self.has_status = "status" in columns
        self.errors: list[OrgRowError] = []
        self.rows: list[_Row] = []
        self.by_code: dict[str, _Row] = {}

    def error(self, row: int, column: str, message: str) -> None:
        order = (COLUMNS + OPTIONAL_COLUMNS).index(column) if column else -1
        self.errors.append(OrgRowError(row, order, column, message))

    # --- pass 1: each row on its own -------------------------------------------------------
    def parse(self) -> None:
        for number, cells in self.raw:
            code = cells.get("code", "")
            if not code:
                self.error(number, "code", "缺少组织代码")
                continue
            if len(code) > 40:
                self.error(number, "code", f"组织代码 {code[:20]}… 超过 40 个字符")
                continue
            if code in self.by_code:
                self.error(number, "code", f"组织代码 {code} 重复（已见于第 {self.by_code[code].number} 行）")
                continue
            row = _Row(number=number, code=code)
            self.by_code[code] = row
            self.rows.append(row)

            row.name = cells.get("name", "")
            if not row.name:
                self.error(number, "name", "缺少组织名称")
            elif len(row.name) > 200:
                self.error(number, "name", "组织名称超过 200 字")

            kind_word = cells.get("kind", "")
            row.kind = KIND_WORDS.get(kind_word.lower(), KIND_WORDS.get(kind_word, ""))
            if not row.kind:
                self.error(
                    number,
                    "kind",
                    f"未知的组织类型 {kind_word!r}（应为 {'/'.join(OrgKind.values)} 或 总工会、乡镇工会、"
                    "街道工会、村工会、社区工会、企业工会、区域联合工会、行业工会联合会）",
                )

            row.parent_code = cells.get("parent_code", "")
            if row.parent_code == code:
                self.error(number, "parent_code", f"上级组织不能是自己（{code}）")

            region_cell = cells.get("region_code", "")
            if region_cell:
                try:
                    row.region_code = normalize_region_code(region_cell)
                except RegionCodeError as exc:
                    self.error(number, "region_code", f"行政区划代码不对：{exc}")
            for word in _split(cells.get("covers_regions", "")):
                try:
                    row.covers_regions.append(normalize_region_code(word))
                except RegionCodeError as exc:
                    self.error(number, "covers_regions", f"行政区划代码不对：{exc}")
            row.covers_groups = _split(cells.get("covers_groups", ""))
            for word in _split(cells.get("employer_credit_codes", "")):
                try:
                    credit = normalize_credit_code(word)
                except InvalidCreditCode as exc:
                    self.error(number, "employer_credit_codes", f"{word}：{exc}")
                else:
                    if credit not in row.employer_codes:
                        row.employer_codes.append(credit)

            if self.has_founded and cells.get("founded_on"):
                try:
                    row.founded_on = _parse_date(cells["founded_on"])
                except ValueError:
                    self.error(number, "founded_on", f"日期 {cells['founded_on']!r} 应写作 YYYY-MM-DD")
            if self.has_status and cells.get("status"):
                row.status = STATUS_WORDS.get(cells["status"].lower(), "")
                if not row.status:
                    self.error(
                        number,
                        "status",
                        f"未知的组织状态 {cells['status']!r}（应为 {'/'.join(OrgStatus.values)}）",
                    )

    # --- pass 2: against the database --------------------------------------------------------
    def load_database(self) -> None:
        region_codes = {r.region_code for r in self.rows if r.region_code}
        region_codes.update(c for r in self.rows for c in r.covers_regions)
        self.region_ids: dict[str, int] = {}
        for batch in _chunks(region_codes):
            self.region_ids.update(Region.objects.filter(code__in=batch).values_list("code", "id"))

        self.group_ids: dict[str, int] = {}
        for gid, code, name, name_en in OccupationGroup.objects.values_list("id", "code", "name", "name_en"):
            self.group_ids[code] = gid
            self.group_ids[name] = gid
            if name_en:
                self.group_ids[name_en.lower()] = gid

        employer_codes = {c for r in self.rows for c in r.employer_codes}
        self.employer_ids: dict[str, int] = {}
        for batch in _chunks(employer_codes):
            self.employer_ids.update(
                Employer.objects.filter(credit_code__in=batch).values_list("credit_code", "id")
            )

        # The orgs the file names (as rows or parents), then every ancestor of those, by id.
        names = set(self.by_code) | {r.parent_code for r in self.rows if r.parent_code}
        self.existing: dict[str, _Existing] = {}
        for batch in _chunks(names):
            self._remember(Org.objects.filter(code__in=batch))
        ancestor_ids = {int(i) for e in self.existing.values() for i in e.path.strip("/").split("/") if i}
        ancestor_ids -= {e.id for e in self.existing.values()}
        for batch in _chunks(ancestor_ids):
            self._remember(Org.objects.filter(pk__in=batch))
        self.code_of_id = {e.id: e.code for e in self.existing.values()}

    def _remember(self, qs) -> None:
        fields = [f for f in _Existing.__dataclass_fields__]
        for values in qs.values_list(*fields):
            e = _Existing(*values)
            self.existing[e.code] = e

    def resolve(self) -> None:
        for row in self.rows:
            if (
                row.parent_code
                and row.parent_code not in self.by_code
                and row.parent_code not in self.existing
            ):
                self.error(
                    row.number, "parent_code", f"上级组织 {row.parent_code} 不存在（文件和数据库中都没有）"
                )
            if row.region_code and row.region_code not in self.region_ids:
                self.error(row.number, "region_code", f"行政区划 {_short(row.region_code)} 不存在")
            for code in row.covers_regions:
                if code not in self.region_ids:
                    self.error(row.number, "covers_regions", f"行政区划 {_short(code)} 不存在")
            for word in row.covers_groups:
                if word not in self.group_ids and word.lower() not in self.group_ids:
                    self.error(row.number, "covers_groups", f"未知的职业群体 {word}")
        self._resolve_depths()

    def _parent_code(self, code: str) -> str | None:
        """The parent of `code` once the file is applied."""
        row = self.by_code.get(code)
        if row is not None:
            return (
                row.parent_code
                if row.parent_code in self.by_code or row.parent_code in self.existing
                else None
            )
        e = self.existing.get(code)
        if e is None or e.parent_id is None:
            return None
        return self.code_of_id.get(e.parent_id)

    def _resolve_depths(self) -> None:
        """Final depth of every row; a parent chain that loops is an error on each row in the loop."""
        self.depth: dict[str, int | None] = {}  # None: on or above a loop
        for start in self.by_code:
            chain: list[str] = []
            on_chain: set[str] = set()
            node: str | None = start
            base: int | None = -1
            while node is not None:
                if node in self.depth:
                    base = self.depth[node]
                    break
                if node in on_chain:
                    loop = chain[chain.index(node) :] + [node]
                    for code in loop[:-1]:
                        if code in self.by_code:
                            self.error(
                                self.by_code[code].number,
                                "parent_code",
                                f"上级组织形成循环：{' → '.join(loop)}",
                            )
                    base = None
                    break
                chain.append(node)
                on_chain.add(node)
                node = self._parent_code(node)
            for code in reversed(chain):
                base = None if base is None else base + 1
                self.depth[code] = base

    # --- pass 3: write -----------------------------------------------------------------------
    def write(self, actor) -> OrgImportReport:
        now = timezone.now()
        self._create_employers()
        groups = {r.code: sorted({self._group_id(w) for w in r.covers_groups}) for r in self.rows}
        regions = {r.code: sorted({self.region_ids[c] for c in r.covers_regions}) for r in self.rows}
        employers = {r.code: sorted({self.employer_ids[c] for c in r.employer_codes}) for r in self.rows}
        wanted_cover = {"covers_regions": regions, "covers_groups": groups, "covers_employers": employers}

        new_rows = [r for r in self.rows if r.code not in self.existing]
        old_rows = [r for r in self.rows if r.code in self.existing]
        current_cover = self._current_coverage([self.existing[r.code].id for r in old_rows])

        changed: list[Org] = []
        moved: list[_Row] = []
        cover_changed: set[str] = set()
        for row in old_rows:
            e = self.existing[row.code]
            fields = {
                "name": row.name,
                "kind": row.kind,
                "region_id": self.region_ids.get(row.region_code),
                "founded_on": row.founded_on if row.founded_on is not None else e.founded_on,
                "status": row.status or e.status,
            }
            differs = any(getattr(e, f) != v for f, v in fields.items())
            parent_now = self.code_of_id.get(e.parent_id) if e.parent_id else None
            if (row.parent_code or None) != parent_now:
                moved.append(row)
            for m2m, wanted in wanted_cover.items():
                if sorted(current_cover[m2m].get(e.id, ())) != wanted[row.code]:
                    cover_changed.add(row.code)
            if differs or row.code in cover_changed:
                changed.append(Org(id=e.id, updated_at=now, **fields))
        if changed:
            Org.objects.bulk_update(
                changed, ["name", "kind", "region", "founded_on", "status", "updated_at"], batch_size=CHUNK
            )

        ids = {code: e.id for code, e in self.existing.items()}
        self._place(new_rows, moved, ids, now)
        self._write_coverage(wanted_cover, new_rows, cover_changed, ids)

        updated_ids = {o.id for o in changed} | {self.existing[r.code].id for r in moved}
        report = OrgImportReport(
            created=len(new_rows), updated=len(updated_ids), unchanged=len(old_rows) - len(updated_ids)
        )
        audit_record(
            actor=actor,
            action="orgs.import",
            detail={"rows": len(self.rows), "created": report.created, "updated": report.updated},
        )
        return report

    def _group_id(self, word: str) -> int:
        return self.group_ids.get(word) or self.group_ids[word.lower()]

    def _create_employers(self) -> None:
        listed_by: dict[str, list[_Row]] = defaultdict(list)
        for row in self.rows:
            for code in row.employer_codes:
                listed_by[code].append(row)
        new = []
        for code, rows in listed_by.items():
            if code in self.employer_ids:
                continue
            first = rows[0]
            shared = len(first.employer_codes) > 1
            new.append(
                Employer(
                    credit_code=code,
                    name=_employer_name(first.name, code, shared),
                    region_id=self.region_ids.get(first.region_code),
                )
            )
        Employer.objects.bulk_create(new, batch_size=CHUNK)
        for batch in _chunks([e.credit_code for e in new]):
            self.employer_ids.update(
                Employer.objects.filter(credit_code__in=batch).values_list("credit_code", "id")
            )

    def _place(self, new_rows: list[_Row], moved: list[_Row], ids: dict[str, int], now) -> None:
        """Insert new orgs and move existing ones by final depth, so every parent is placed before its children.

        Per depth: one bulk insert of the new orgs (their parents already have ids), one UPDATE that
        sets their paths from their parents' paths in SQL, and one subtree UPDATE per moved org.
        """
        by_depth: dict[int, tuple[list[_Row], list[_Row]]] = defaultdict(lambda: ([], []))
        for row in new_rows:
            by_depth[self.depth[row.code]][0].append(row)
        for row in moved:
            by_depth[self.depth[row.code]][1].append(row)
        # New rows carry this until their path is set, so the UPDATE finds exactly them.
        marker = f"~import-{uuid.uuid4().hex}"
        parent = Org.objects.filter(pk=OuterRef("parent_id"))
        for depth in sorted(by_depth):
            news, moves = by_depth[depth]
            Org.objects.bulk_create(
                [
                    Org(
                        code=r.code,
                        name=r.name,
                        kind=r.kind,
                        parent_id=ids[r.parent_code] if r.parent_code else None,
                        region_id=self.region_ids.get(r.region_code),
                        founded_on=r.founded_on,
                        status=r.status or OrgStatus.ACTIVE,
                        path=marker,
                        depth=depth,
                    )
                    for r in news
                ],
                batch_size=CHUNK,
            )
            Org.objects.filter(path=marker).update(
                path=Concat(
                    Coalesce(Subquery(parent.values("path")[:1]), Value("/")),
                    Cast("id", output_field=CharField()),
                    Value("/"),
                    output_field=CharField(),
                )
            )
            for batch in _chunks([r.code for r in news]):
                ids.update(Org.objects.filter(code__in=batch).values_list("code", "id"))
            for row in moves:
                org_id = ids[row.code]
                parent_id = ids[row.parent_code] if row.parent_code else None
                old_path, old_depth = Org.objects.filter(pk=org_id).values_list("path", "depth").get()
                if parent_id:
                    parent_path, parent_depth = (
                        Org.objects.filter(pk=parent_id).values_list("path", "depth").get()
                    )
                else:
                    parent_path, parent_depth = "/", -1
                Org.objects.filter(pk=org_id).update(parent_id=parent_id, updated_at=now)
                rebase_subtree(old_path, f"{parent_path}{org_id}/", parent_depth + 1 - old_depth)

    @staticmethod
    def _through(m2m: str):
        f = Org._meta.get_field(m2m)
        through = f.remote_field.through
        return through, f.m2m_field_name() + "_id", f.m2m_reverse_field_name() + "_id"

    def _current_coverage(self, org_ids: list[int]) -> dict[str, dict[int, list[int]]]:
        current: dict[str, dict[int, list[int]]] = {}
        for m2m in ("covers_regions", "covers_groups", "covers_employers"):
            through, org_col, target_col = self._through(m2m)
            links: dict[int, list[int]] = defaultdict(list)
            for batch in _chunks(org_ids):
                for org_id, target_id in through.objects.filter(**{f"{org_col}__in": batch}).values_list(
                    org_col, target_col
                ):
                    links[org_id].append(target_id)
            current[m2m] = links
        return current

    def _write_coverage(self, wanted_cover, new_rows, cover_changed: set[str], ids: dict[str, int]) -> None:
        rewrite = [r.code for r in new_rows] + sorted(cover_changed)
        for m2m, wanted in wanted_cover.items():
            through, org_col, target_col = self._through(m2m)
            for batch in _chunks([ids[c] for c in cover_changed]):
                through.objects.filter(**{f"{org_col}__in": batch}).delete()
            through.objects.bulk_create(
                [through(**{org_col: ids[code], target_col: t}) for code in rewrite for t in wanted[code]],
                batch_size=CHUNK,
            )


def _short(code: str) -> str:
    """A 12-digit division code as people write it: 6 digits at county level and above, else 9 or 12."""
    if code.endswith("000000"):
        return code[:6]
    if code.endswith("000"):
        return code[:9]
    return code


@transaction.atomic
def orgs_import_csv(*, source, actor=None) -> OrgImportReport:
    """Create or update the orgs in a CSV file (path or file object), all or nothing.

    Guarantees: if any row is bad, the report lists every problem by row number and column and
    the database is untouched. Otherwise orgs are created or updated so that each matches its row
    (name, kind, parent, region, coverage; founded_on and status when stated), parents may come
    after their children in the file, moved subtrees get their paths recomputed, unknown
    employers are created from their checked credit codes, and importing the same file again
    reports everything unchanged. One audit row records the run.
    """
    try:
        table = read_table(source, required=COLUMNS, optional=OPTIONAL_COLUMNS)
    except CsvTableError as exc:
        return OrgImportReport(errors=[OrgRowError(exc.row, -1, "", exc.reason)])
    run = _Import(table.rows, table.columns)
    run.parse()
    run.load_database()
    run.resolve()
    if run.errors:
        return OrgImportReport(errors=sorted(set(run.errors)))
    return run.write(actor)
