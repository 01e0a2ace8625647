"""Set-based inserts of plain rows, without model instances."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

from django.db import connections, models, router
from django.utils import timezone


class RowWriter:
    """Insert plain rows into a model's table: COPY on PostgreSQL, one executemany elsewhere.

    Why not `bulk_create`: for tens of thousands of rows it spends several times as long building
    the SQL value by value and constructing model instances as the database spends inserting (4x
    for the 27,000 demo people, 10x for a 10,000-row census batch). Columns come from the model's
    own fields; a field a row does not give gets its default (`auto_now*` fields: the writer's
    creation time). Only the fields in `convert` (by default every date and datetime field) go
    through the backend's value conversion, and only when a row gives them; text, numbers and JSON
    text go as they are. `include_pk` inserts ids the caller reserved.
    """

    def __init__(self, model, *, include_pk: bool = False, convert: Iterable[str] | None = None):
        self.connection = connections[router.db_for_write(model)]
        self.fields = [f for f in model._meta.concrete_fields if include_pk or not f.primary_key]
        if convert is None:
            self.convert = {f.attname: f for f in self.fields if isinstance(f, models.DateField)}
        else:
            wanted = set(convert)
            self.convert = {f.attname: f for f in self.fields if f.attname in wanted}
        now = timezone.now()
        self.defaults = {}
        for f in self.fields:
            auto = getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
            self.defaults[f.attname] = f.get_db_prep_save(now if auto else f.get_default(), self.connection)
        quote = self.connection.ops.quote_name
        table, columns = quote(model._meta.db_table), ", ".join(quote(f.column) for f in self.fields)
        self.sql = f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(self.fields))})"
        self.copy_sql = f"COPY {table} ({columns}) FROM STDIN"

    def row(self, **values) -> tuple:
        for attname, f in self.convert.items():
            if attname in values:
                values[attname] = f.get_db_prep_save(values[attname], self.connection)
        defaults = self.defaults
        return tuple(values[f.attname] if f.attname in values else defaults[f.attname] for f in self.fields)

    def payload(self, columns: dict[str, Sequence[Any]]) -> bytes | list[tuple]:
        """Rows given column by column (attname -> values, all the same length), made ready for
        `insert_payload`. Touches no connection, so a helper thread can make the next payload
        while the database takes this one (`lib.threads.run_ahead`).

        On PostgreSQL the columns become one Polars frame written as CSV (in Rust, without the
        GIL) for one COPY: no Python work per row beyond building the lists. Values go as they
        are, so give them in the column's storage form (ids, not instances; JSON as text); dates
        may be `date` objects. A field not given gets its default. Elsewhere: row tuples for
        `insert`.
        """
        count = len(next(iter(columns.values()))) if columns else 0
        if any(len(values) != count for values in columns.values()):
            raise ValueError("RowWriter.payload: columns of different lengths")
        if self.connection.vendor != "postgresql":
            for attname, f in self.convert.items():
                if attname in columns:
                    prep = f.get_db_prep_save
                    columns[attname] = [prep(v, self.connection) for v in columns[attname]]
            filled = [
                columns[f.attname] if f.attname in columns else [self.defaults[f.attname]] * count
                for f in self.fields
            ]
            return list(zip(*filled, strict=True))
        if count == 0:
            return b""
        buffer = io.BytesIO()
        self._frame(columns, count).write_csv(buffer, include_header=False, quote_style="non_numeric")
        return buffer.getvalue()

    def insert_payload(self, payload: bytes | list[tuple]) -> None:
        """Insert what `payload` made: one COPY (CSV) on PostgreSQL, one executemany elsewhere."""
        if isinstance(payload, list):
            self.insert(payload)
            return
        if not payload:
            return
        with self.connection.cursor() as cursor:
            with cursor.cursor.copy(f"{self.copy_sql} (FORMAT csv)") as copy:
                copy.write(payload)

    def insert_columns(self, columns: dict[str, Sequence[Any]]) -> None:
        """Insert rows given column by column (see `payload`)."""
        self.insert_payload(self.payload(columns))

    def _frame(self, columns: dict[str, Sequence[Any]], count: int):
        """A Polars frame of every field in order: the given columns, typed by their field (a
        value of another type is an error, never a silent null), and each missing field's
        default as its COPY text."""
        import polars as pl

        series = []
        for f in self.fields:
            if f.attname in columns:
                dtype = _polars_types().get(_storage_type(f))
                series.append(pl.Series(f.attname, columns[f.attname], dtype=dtype, strict=True))
            else:
                default = self.defaults[f.attname]
                text = None if default is None else _copy_text(default)
                series.append(pl.repeat(text, count, dtype=pl.String, eager=True).alias(f.attname))
        return pl.DataFrame(series)

    def insert(self, rows: list[tuple]) -> None:
        if not rows:
            return
        with self.connection.cursor() as cursor:
            if self.connection.vendor == "postgresql":
                with cursor.cursor.copy(self.copy_sql) as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                cursor.executemany(self.sql, rows)


def _storage_type(f) -> str:
    """The internal type of what the column stores (a foreign key stores its target's key)."""
    while f.is_relation:
        f = f.target_field
    return f.get_internal_type()


@lru_cache(maxsize=1)
def _polars_types() -> dict[str, Any]:
    import polars as pl

    text = pl.String
    whole = pl.Int64
    return {
        "CharField": text,
        "TextField": text,
        "SlugField": text,
        "EmailField": text,
        "JSONField": text,
        "IntegerField": whole,
        "BigIntegerField": whole,
        "SmallIntegerField": whole,
        "PositiveIntegerField": whole,
        "PositiveBigIntegerField": whole,
        "PositiveSmallIntegerField": whole,
        "AutoField": whole,
        "BigAutoField": whole,
        "FloatField": pl.Float64,
        "BooleanField": pl.Boolean,
        "DateField": pl.Date,
    }


def _copy_text(value: Any) -> str:
    """A default value as COPY's CSV reads it (a database-adapted JSON value as JSON text)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    obj = getattr(value, "obj", value)  # psycopg's Jsonb wrapper
    return json.dumps(obj, ensure_ascii=False)
