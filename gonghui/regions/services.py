"""Writes for administrative divisions: loading a division table from CSV.

A table has the header `code,name,level,parent_code` and optionally `is_demo`. Row numbers in
messages count the header as row 1, as a spreadsheet shows them.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from gonghui.lib.csvtable import CsvTableError, read_table

from .models import PREFIX_LENGTH, Region, RegionLevel

REQUIRED_COLUMNS = ("code", "name", "level", "parent_code")
CODE_LENGTHS = (2, 4, 6, 9, 12)

LEVEL_WORDS = {
    "province": RegionLevel.PROVINCE,
    "city": RegionLevel.CITY,
    "county": RegionLevel.COUNTY,
    "township": RegionLevel.TOWNSHIP,
    "village": RegionLevel.VILLAGE,
    "省": RegionLevel.PROVINCE,
    "市": RegionLevel.CITY,
    "县": RegionLevel.COUNTY,
    "乡": RegionLevel.TOWNSHIP,
    "村": RegionLevel.VILLAGE,
    **{str(int(level)): level for level in RegionLevel},
}
LEVEL_NAMES = {
    RegionLevel.PROVINCE: "省级",
    RegionLevel.CITY: "地级",
    RegionLevel.COUNTY: "县级",
    RegionLevel.TOWNSHIP: "乡级",
    RegionLevel.VILLAGE: "村级",
}
TRUE_WORDS = {"1", "true", "yes", "y", "是"}
FALSE_WORDS = {"", "0", "false", "no", "n", "否"}


class RegionCodeError(ValueError):
    """A division code that is not 2, 4, 6, 9 or 12 digits."""


class RegionTableError(ValueError):
    """A division table refused as a whole, naming the first bad row and why."""

    def __init__(self, row: int, reason: str):
        self.row = row
        self.reason = reason
        super().__init__(f"第 {row} 行：{reason}")


@dataclass(frozen=True)
class RegionLoadReport:
    created: int
    updated: int
    unchanged: int

    def __str__(self) -> str:
        return f"created {self.created}, updated {self.updated}, unchanged {self.unchanged}"


def normalize_region_code(raw: str) -> str:
    """A division code written as 2/4/6/9/12 digits, as the stored 12 digits (right-padded with zeros)."""
    code = (raw or "").strip()
    if not code.isascii() or not code.isdigit():
        raise RegionCodeError(f"代码 {code!r} 应只含数字")
    if len(code) not in CODE_LENGTHS:
        raise RegionCodeError(f"代码 {code} 应为 2、4、6、9 或 12 位数字，实为 {len(code)} 位")
    return code.ljust(12, "0")


def level_of_code(code: str) -> RegionLevel:
    """The level a 12-digit code denotes: the deepest segment that is not all zeros."""
    for level in reversed(RegionLevel):
        start = PREFIX_LENGTH.get(RegionLevel(level - 1), 0) if level > RegionLevel.PROVINCE else 0
        if code[start : PREFIX_LENGTH[level]].strip("0"):
            return RegionLevel(level)
    raise RegionCodeError(f"代码 {code} 全为零")


@dataclass
class _Row:
    number: int
    code: str
    name: str
    level: RegionLevel
    parent_code: str
    is_demo: bool | None


def _parse_row(number: int, raw: dict[str, str], has_demo_column: bool) -> _Row:

    def fail(reason: str):
        raise RegionTableError(number, reason)

    try:
        code = normalize_region_code(raw.get("code", ""))
    except RegionCodeError as exc:
        fail(f"代码不对：{exc}")
    name = raw.get("name", "")
    if not name:
        fail(f"代码 {code} 缺少名称")
    if len(name) > 100:
        fail(f"名称超过 100 字：{name[:20]}…")
    level_word = raw.get("level", "").lower()
    level = LEVEL_WORDS.get(level_word)
    if level is None:
        fail(f"级别 {level_word!r} 不对（应为 province/city/county/township/village、省/市/县/乡/村 或 1-5）")
    try:
        code_level = level_of_code(code)
    except RegionCodeError as exc:
        fail(f"代码不对：{exc}")
    if code_level != level:
        fail(f"代码 {code} 是{LEVEL_NAMES[code_level]}代码，与级别 {level_word} 不符")
    parent_code = raw.get("parent_code", "")
    if parent_code:
        try:
            parent_code = normalize_region_code(parent_code)
        except RegionCodeError as exc:
            fail(f"上级代码不对：{exc}")
    is_demo = None
    if has_demo_column:
        word = raw.get("is_demo", "").lower()
        if word in TRUE_WORDS:
            is_demo = True
        elif word in FALSE_WORDS:
            is_demo = False
        else:
            fail(f"is_demo 应为 1 或 0，实为 {word!r}")
    return _Row(number, code, name, level, parent_code, is_demo)


def _check_parent(row: _Row, parent_level: RegionLevel | None) -> str | None:
    """Why `row` cannot sit under its parent (of `parent_level`, None when unknown), or None."""
    if not row.parent_code:
        if row.level != RegionLevel.PROVINCE:
            return f"代码 {row.code} 缺少上级代码（只有省级可以没有上级）"
        return None
    if row.level == RegionLevel.PROVINCE:
        return f"省级 {row.code} 不应有上级代码 {row.parent_code}"
    if parent_level is None:
        return f"上级代码 {row.parent_code} 不存在"
    if parent_level != row.level - 1:
        return (
            f"级别顺序不对：{LEVEL_NAMES[row.level]} {row.code} 的上级 {row.parent_code} "
            f"是{LEVEL_NAMES[parent_level]}，应为{LEVEL_NAMES[RegionLevel(row.level - 1)]}"
        )
    prefix = row.parent_code[: PREFIX_LENGTH[parent_level]]
    if not row.code.startswith(prefix):
        return f"代码 {row.code} 不以上级代码的前缀 {prefix} 开头"
    return None


def _validate(raw_rows: list[tuple[int, dict[str, str]]], has_demo_column: bool) -> list[_Row]:
    """Every row parsed and checked; the error raised is the one on the lowest row number."""
    errors: list[RegionTableError] = []
    rows: list[_Row] = []
    first_seen: dict[str, int] = {}
    broken: set[str] = set()  # codes of rows refused above: their children are not blamed for them
    for number, raw in raw_rows:
        try:
            row = _parse_row(number, raw, has_demo_column)
        except RegionTableError as exc:
            errors.append(exc)
            try:
                broken.add(normalize_region_code(raw.get("code", "")))
            except RegionCodeError:
                pass
            continue
        if row.code in first_seen:
            errors.append(
                RegionTableError(row.number, f"代码 {row.code} 重复（已见于第 {first_seen[row.code]} 行）")
            )
            continue
        first_seen[row.code] = row.number
        rows.append(row)

    in_file = {r.code: r.level for r in rows}
    outside = {r.parent_code for r in rows if r.parent_code and r.parent_code not in in_file}
    in_db = dict(Region.objects.filter(code__in=outside).values_list("code", "level")) if outside else {}
    for row in rows:
        if row.parent_code in broken:
            continue
        parent_level = in_file.get(row.parent_code) or in_db.get(row.parent_code)
        reason = _check_parent(row, RegionLevel(parent_level) if parent_level else None)
        if reason:
            errors.append(RegionTableError(row.number, reason))
    if errors:
        raise min(errors, key=lambda e: e.row)
    return rows


@transaction.atomic
def regions_load_csv(*, source) -> RegionLoadReport:
    """Load a division table (path or text/binary file), all or nothing.

    Guarantees: every row is checked before anything is written (the first bad row is named in a
    RegionTableError and the database is untouched); rows are then written set-based, parents
    before children; loading the same table twice changes nothing. Regions not in the table are
    left alone. Without an `is_demo` column the demo flag of existing rows is kept.
    """
    try:
        table = read_table(source, required=REQUIRED_COLUMNS, optional=("is_demo",))
    except CsvTableError as exc:
        raise RegionTableError(exc.row, exc.reason) from None
    rows = _validate(table.rows, "is_demo" in table.columns)

    existing = {r.code: r for r in Region.objects.filter(code__in=[r.code for r in rows])}
    parent_ids = dict(
        Region.objects.filter(code__in={r.parent_code for r in rows if r.parent_code}).values_list(
            "code", "id"
        )
    )
    created = 0
    for level in RegionLevel:
        new = [
            Region(
                code=r.code,
                name=r.name,
                level=r.level,
                parent_id=parent_ids.get(r.parent_code),
                is_demo=bool(r.is_demo),
            )
            for r in rows
            if r.level == level and r.code not in existing
        ]
        if new:
            Region.objects.bulk_create(new, batch_size=500)
            created += len(new)
            # Not every backend returns primary keys from a bulk insert: read them back.
            parent_ids.update(Region.objects.filter(code__in=[n.code for n in new]).values_list("code", "id"))

    changed: list[Region] = []
    for r in rows:
        region = existing.get(r.code)
        if region is None:
            continue
        wanted = {"name": r.name, "level": int(r.level), "parent_id": parent_ids.get(r.parent_code)}
        if r.is_demo is not None:
            wanted["is_demo"] = r.is_demo
        if any(getattr(region, f) != v for f, v in wanted.items()):
            for f, v in wanted.items():
                setattr(region, f, v)
            changed.append(region)
    if changed:
        Region.objects.bulk_update(changed, ["name", "level", "parent", "is_demo"], batch_size=500)
    return RegionLoadReport(
        created=created, updated=len(changed), unchanged=len(rows) - created - len(changed)
    )
