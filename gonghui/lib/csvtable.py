"""Reading a CSV table a person prepared: from a path or a file (text or binary), UTF-8 with or without BOM.

Rows carry their spreadsheet row number (the header is row 1) so that errors can name them.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path


class CsvTableError(ValueError):
    """The file cannot be read as a table; the message names the row."""

    def __init__(self, row: int, reason: str):
        self.row = row
        self.reason = reason
        super().__init__(f"第 {row} 行：{reason}")


@dataclass(frozen=True)
class CsvTable:
    columns: list[str]
    rows: list[tuple[int, dict[str, str]]]  # (spreadsheet row number, column -> stripped value)


def read_text(source) -> str:
    """The whole text of `source`: a path, or a file object opened in text or binary mode."""
    if isinstance(source, str | Path):
        data: str | bytes = Path(source).read_bytes()
    else:
        data = source.read()
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise CsvTableError(
                1, f"文件不是 UTF-8 编码（第 {exc.start} 字节）；请另存为 UTF-8 CSV"
            ) from None
    return data.removeprefix("\ufeff")


def read_table(source, *, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> CsvTable:
    """The table's rows as dicts keyed by lower-cased column names; blank lines are skipped.

    Refuses (CsvTableError) an empty file, a header lacking a required column, an unknown column,
    and a row with more cells than the header.
    """
    reader = csv.reader(io.StringIO(read_text(source), newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise CsvTableError(1, f"文件为空，缺少表头 {','.join(required)}") from None
    except csv.Error as exc:
        raise CsvTableError(1, f"无法读取 CSV：{exc}") from None
    columns = [h.strip().lower() for h in header]
    expected = ",".join(required) + "".join(f"[,{c}]" for c in optional)
    missing = [c for c in required if c not in columns]
    if missing:
        raise CsvTableError(1, f"表头缺少列 {', '.join(missing)}（应为 {expected}）")
    unknown = [c for c in columns if c and c not in required and c not in optional]
    if unknown:
        raise CsvTableError(1, f"表头有未知的列 {', '.join(unknown)}（应为 {expected}）")
    rows: list[tuple[int, dict[str, str]]] = []
    try:
        for values in reader:
            if not any(v.strip() for v in values):
                continue
            if len(values) > len(columns):
                raise CsvTableError(reader.line_num, f"有 {len(values)} 列，多于表头的 {len(columns)} 列")
            cells = {c: "" for c in columns}
            cells.update(zip(columns, (v.strip() for v in values), strict=False))
            rows.append((reader.line_num, cells))
    except csv.Error as exc:
        raise CsvTableError(reader.line_num, f"无法读取 CSV：{exc}") from None
    return CsvTable(columns=columns, rows=rows)
