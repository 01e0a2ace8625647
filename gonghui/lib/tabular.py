"""Reading the tables departments actually send: .xlsx, .xls, .ods and .csv, title block and all.

A department's list is a spreadsheet in its own shape: a merged title line ("…摸底登记表"), a
date line, blank lines, then the header row, then the data. `read_table` finds the header row by
its known column names (synonyms kept as data by the caller), maps the columns it recognises to
fields, and returns every data row as strings with its row number as a spreadsheet shows it.

Cells become text the way a person reads them in the spreadsheet: whole numbers without ".0",
dates as ISO `YYYY-MM-DD`. A number too long for a spreadsheet to keep exactly (an 18-digit ID
number typed into a General cell: Excel keeps 15 significant digits) is kept in scientific form,
e.g. "2.30803199001011E+17", so that cleaning can say its last digits are lost instead of
inventing them.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Table", "UnreadableFile", "header_key", "read_table"]


class UnreadableFile(ValueError):
    """The file cannot be read as a table of people; the message is one line of Chinese."""


# Spreadsheet formats calamine reads; anything else is read as delimited text.
_SPREADSHEET_SUFFIXES = {".xlsx", ".xlsm", ".xlsb", ".xls", ".ods"}
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls (and other old Office files)
_DELIMITERS = (",", "\t", ";", "|")
# Integers beyond 2**53 are not exact in a float: the digits a spreadsheet shows are not the ones typed.
_EXACT_FLOAT_LIMIT = 2**53

# What a header carries besides its name: spaces, required-marks, "（必填）"-style notes, a colon.
_HEADER_NOISE = re.compile(r"[\s*＊:：\u200b\ufeff]+")
_HEADER_NOTE = re.compile(r"\([^)]*\)|\[[^\]]*\]|【[^】]*】|<[^>]*>|〔[^〕]*〕")


def header_key(text: str) -> str:
    """The form in which a header is compared with synonyms: NFKC, no spaces, marks or notes.

    "身份证号码（必填）", "* 姓 名" and "手机号：" become "身份证号码", "姓名" and "手机号".
    """
    key = _HEADER_NOISE.sub("", unicodedata.normalize("NFKC", text or ""))
    bare = _HEADER_NOTE.sub("", key)
    return (bare or key).lower()


@dataclass
class Table:
    """One sheet of a file: its header row, how its columns map to fields, and its data rows."""

    file_name: str
    sheet_name: str
    sheet_names: list[str]
    header_row: int  # 1-based, as a spreadsheet shows it
    headers: list[str]  # as in the file, stripped; an empty header is named by its column ("F列")
    mapping: dict[str, str]  # header -> field, for the columns that map to a field
    rows: list[tuple[int, list[str]]] = field(default_factory=list)  # (row number, one cell per header)

    @property
    def headers_by_field(self) -> dict[str, str]:
        """field -> the (first) header mapped to it, for naming the column in an issue."""
        found: dict[str, str] = {}
        for header in self.headers:
            target = self.mapping.get(header)
            if target and target not in found:
                found[target] = header
        return found

    def records(self) -> Iterator[tuple[int, dict[str, str]]]:
        """(row number, {field: value}) per data row; a field mapped from two columns takes the first non-empty."""
        by_field: dict[str, list[int]] = {}
        for index, header in enumerate(self.headers):
            target = self.mapping.get(header)
            if target:
                by_field.setdefault(target, []).append(index)
        single = [(f, idx[0]) for f, idx in by_field.items() if len(idx) == 1]
        multiple = [(f, idx) for f, idx in by_field.items() if len(idx) > 1]
        for row_number, cells in self.rows:
            record = {f: cells[i] for f, i in single}
            for f, indexes in multiple:
                record[f] = next((cells[i] for i in indexes if cells[i]), "")
            yield row_number, record

    def raw_record(self, row: tuple[int, list[str]] | list[str]) -> dict[str, str]:
        """{header: value} of a row (the tuple from `rows` or its cells), to store the row as read."""
        cells = row[1] if isinstance(row, tuple) else row
        return dict(zip(self.headers, cells, strict=False))


def read_table(
    source: str | Path | bytes,
    *,
    file_name: str,
    sheet: str | int | None = None,
    synonyms: dict[str, list[str]],
    manual_map: dict[str, str] | None = None,
    max_header_scan: int = 20,
    key_field: str = "name",
    key_label: str = "姓名",
) -> Table:
    """The table in `source` (a path or the file's bytes), or `UnreadableFile` with a one-line reason.

    `synonyms` maps each field to the header texts that mean it; the `key_field` ("name", shown as
    `key_label` in messages) must be found.
    `manual_map` maps a header (as in the file) to a field, overriding the synonyms; mapping to ""
    leaves the column unmapped. `sheet` is a sheet name or 1-based index; by default the first
    sheet with a recognisable header row. The header row is the first of the first `max_header_scan`
    rows where at least two cells are known headers and one of them is the name.
    """
    data = _read_bytes(source)
    manual = {(k or "").strip(): (v or "").strip() for k, v in (manual_map or {}).items()}
    fields = set(synonyms)
    for target in manual.values():
        if target and target not in fields:
            raise UnreadableFile(f"--map 中的字段「{target}」不存在（可用：{'、'.join(sorted(fields))}）")
    known = {}
    for target, words in synonyms.items():
        for word in [target, *words]:
            known.setdefault(header_key(word), target)

    sheets = _sheets(data, file_name)
    names = [name for name, _ in sheets]
    if sheet is not None and sheet != "":
        chosen = [_pick_sheet(sheets, sheet)]
    else:
        chosen = sheets
    first_failure: UnreadableFile | None = None
    for sheet_name, grid in chosen:
        try:
            return _table_of(
                grid, file_name, sheet_name, names, known, manual, max_header_scan, key_field, key_label
            )
        except UnreadableFile as exc:
            first_failure = first_failure or exc
    assert first_failure is not None
    raise first_failure


def _read_bytes(source: str | Path | bytes) -> bytes:
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
    else:
        try:
            data = Path(source).read_bytes()
        except OSError as exc:
            raise UnreadableFile(f"无法读取文件：{exc.strerror or exc}") from None
    if not data.strip():
        raise UnreadableFile("无法读取文件：文件是空的")
    return data


def _sheets(data: bytes, file_name: str) -> list[tuple[str, list[list]]]:
    suffix = Path(file_name).suffix.lower()
    if data.startswith(_ZIP_MAGIC) or data.startswith(_OLE_MAGIC) or suffix in _SPREADSHEET_SUFFIXES:
        return _spreadsheet_sheets(data)
    return [(Path(file_name).stem or "CSV", _csv_grid(data))]


def _spreadsheet_sheets(data: bytes) -> list[tuple[str, list[list]]]:
    import python_calamine

    try:
        book = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
        sheets = []
        for name in book.sheet_names:
            grid = book.get_sheet_by_name(name).to_python(skip_empty_area=False)
            sheets.append((name, grid))
    except python_calamine.PasswordError:
        raise UnreadableFile("无法读取文件：文件有密码保护，请去掉密码后再导入") from None
    except Exception:  # calamine raises several unrelated types for a damaged file; all mean the same here
        raise UnreadableFile("无法读取文件：不是 Excel 或 CSV 文件，或文件已损坏") from None
    if not sheets:
        raise UnreadableFile("无法读取文件：文件中没有工作表")
    return sheets


def _decode(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # Excel's "Unicode text" export
        return data.decode("utf-16", errors="replace")
    if b"\x00" in data:
        raise UnreadableFile("无法读取文件：不是 Excel 或 CSV 文件")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("gb18030")  # covers GBK and GB2312
    except UnicodeDecodeError:
        raise UnreadableFile("无法读取文件：无法识别文字编码（应为 UTF-8 或 GBK/GB18030）") from None
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\r\n\t")
    if controls > len(text) // 100:
        raise UnreadableFile("无法读取文件：不是 Excel 或 CSV 文件")
    return text


def _sniff_delimiter(text: str) -> str:
    """The delimiter that splits the most of the first lines into the same number (> 1) of cells."""
    sample = [line for line in text.splitlines()[:60] if line.strip()]
    best, best_score = ",", 0
    for delimiter in _DELIMITERS:
        counts: dict[int, int] = {}
        for cells in csv.reader(sample, delimiter=delimiter):
            if len(cells) > 1:
                counts[len(cells)] = counts.get(len(cells), 0) + 1
        score = max(counts.values(), default=0)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _csv_grid(data: bytes) -> list[list]:
    text = _decode(data)
    delimiter = _sniff_delimiter(text)
    try:
        # A blank line is an empty row (csv yields []), so list positions are spreadsheet rows.
        return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        raise UnreadableFile(f"无法读取 CSV 文件：{exc}") from None


def _pick_sheet(sheets: list[tuple[str, list[list]]], sheet: str | int) -> tuple[str, list[list]]:
    names = [name for name, _ in sheets]
    if isinstance(sheet, str):
        wanted = sheet.strip()
        for name, grid in sheets:
            if name == wanted or name.strip() == wanted:
                return name, grid
        if not wanted.isdigit():
            raise UnreadableFile(f"未找到工作表「{wanted}」（文件中有：{'、'.join(names)}）")
        sheet = int(wanted)
    if not 1 <= sheet <= len(sheets):
        raise UnreadableFile(f"没有第 {sheet} 个工作表（文件中有 {len(sheets)} 个：{'、'.join(names)}）")
    return sheets[sheet - 1]


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def cell_text(value) -> str:
    """A cell as the text a person reads in the spreadsheet."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer():
            if abs(value) >= _EXACT_FLOAT_LIMIT:
                return f"{value:.14E}"  # 15 significant digits, as Excel shows them
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value).strip()


def _table_of(
    grid: list[list],
    file_name: str,
    sheet_name: str,
    sheet_names: list[str],
    known: dict[str, str],
    manual: dict[str, str],
    max_header_scan: int,
    key_field: str = "name",
    key_label: str = "姓名",
) -> Table:
    header_index = None
    for index, row in enumerate(grid[:max_header_scan]):
        texts = [t for t in (cell_text(v) for v in row) if t]
        # A header counts when known, even if the manual map then leaves it unmapped.
        recognised = [t for t in texts if t in manual or header_key(t) in known]
        mapped = {manual[t] if manual.get(t) else known.get(header_key(t), "") for t in recognised}
        if len(recognised) >= 2 and key_field in mapped:
            header_index = index
            break
    if header_index is None:
        where = f"工作表「{sheet_name}」" if len(sheet_names) > 1 else ""
        if not any(any(cell_text(v) for v in row) for row in grid):
            raise UnreadableFile(f"{where or '文件'}是空的")
        raise UnreadableFile(f"{where}未找到{key_label}列（表头可用 --map 指定）")

    raw_headers = [cell_text(v) for v in grid[header_index]]
    while raw_headers and not raw_headers[-1]:
        raw_headers.pop()
    headers: list[str] = []
    seen: dict[str, int] = {}
    for index, text in enumerate(raw_headers):
        text = text or f"{_column_letter(index)}列"
        if text in seen:
            seen[text] += 1
            text = f"{text}({seen[text]})"
        else:
            seen[text] = 1
        headers.append(text)

    unknown = [h for h in manual if h not in headers]
    if unknown:
        raise UnreadableFile(f"--map 中的表头「{unknown[0]}」不在文件的表头中（第 {header_index + 1} 行）")
    mapping: dict[str, str] = {}
    for header in headers:
        target = known.get(header_key(header))
        if target:
            mapping[header] = target
    overridden = {target for target in manual.values() if target}
    mapping = {h: f for h, f in mapping.items() if f not in overridden}
    for header, target in manual.items():
        if target:
            mapping[header] = target
        else:
            mapping.pop(header, None)
    if key_field not in mapping.values():
        raise UnreadableFile(f"未找到{key_label}列（表头可用 --map 指定）")

    width = len(headers)
    rows: list[tuple[int, list[str]]] = []
    for index in range(header_index + 1, len(grid)):
        values = grid[index]
        cells = [cell_text(v) for v in values[:width]]
        if not any(cells):
            continue
        if len(cells) < width:
            cells.extend([""] * (width - len(cells)))
        rows.append((index + 1, cells))
    return Table(
        file_name=file_name,
        sheet_name=sheet_name,
        sheet_names=sheet_names,
        header_row=header_index + 1,
        headers=headers,
        mapping=mapping,
        rows=rows,
    )
