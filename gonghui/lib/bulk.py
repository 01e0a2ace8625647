"""Set-based inserts of plain rows, without model instances."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from django.db import DatabaseError, IntegrityError, connections, models, router
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


@contextmanager
def foreign_keys_checked_set_based(model, where: str, params: list[Any]):
    """Inside the block, rows inserted into `model`'s table (those matching `where`) have their
    foreign keys checked once for all at the end instead of row by row at COMMIT.

    PostgreSQL checks a deferred foreign key with one query per row and key when the transaction
    commits (four per census row: about 1.8 times the cost of the insert itself, measured). Here,
    on PostgreSQL when the connection may (a superuser: the internal constraint triggers can
    only be switched off by one), the table's triggers are off while the block inserts and back on
    before it ends, and then, per foreign key, one query locks the referenced rows `FOR KEY SHARE`
    (what each per-row check does, so none can be deleted before the commit) and counts the keys
    that reference nothing: any, and IntegrityError is raised, so the transaction rolls back as
    it would have at COMMIT. All of it is inside the caller's transaction: the triggers are never
    off for anyone else (the catalogue change is not visible before the commit, and they are on
    again by then), and `ALTER TABLE` holds a SHARE ROW EXCLUSIVE lock, so nobody else writes to
    the table meanwhile (readers are not blocked). Elsewhere (SQLite, a role that is not a
    superuser) the block runs with the ordinary per-row checks.
    """
    connection = connections[router.db_for_write(model)]
    if connection.vendor != "postgresql" or not connection.in_atomic_block:
        yield
        return
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('is_superuser') = 'on'")
        if not cursor.fetchone()[0]:
            yield
            return
        # Checks still queued from earlier in the transaction (a caller's own writes) would make
        # the ALTER fail ("pending trigger events"): run them now, then defer again as before.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER ALL")
    try:
        yield
    except BaseException:
        # The transaction rolls back (and the ALTER with it); switch them on again all the same in
        # case a caller catches the error and the transaction lives on.
        with contextlib.suppress(DatabaseError), connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER ALL")
        raise
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER ALL")
        for f in model._meta.concrete_fields:
            if not (f.is_relation and f.many_to_one and getattr(f, "db_constraint", False)):
                continue
            target = f.target_field
            column, ref_table, ref_column = (
                quote(f.column),
                quote(target.model._meta.db_table),
                quote(target.column),
            )
            keys = f"SELECT DISTINCT r.{column} FROM {table} r WHERE {where} AND r.{column} IS NOT NULL"  # noqa: S608
            cursor.execute(
                f"WITH keys AS ({keys}), "  # noqa: S608
                f"found AS (SELECT t.{ref_column} FROM {ref_table} t WHERE t.{ref_column} IN (SELECT * FROM keys) "
                f"FOR KEY SHARE OF t) "
                f"SELECT (SELECT count(*) FROM keys) - (SELECT count(*) FROM found)",
                params,
            )
            missing = cursor.fetchone()[0]
            if missing:
                raise IntegrityError(
                    f"{model._meta.db_table}.{f.column}：{missing} 个值在 {target.model._meta.db_table} 中不存在"
                    f" / {missing} keys reference nothing"
                )
