"""Set-based inserts of plain rows, without model instances."""

from __future__ import annotations

from collections.abc import Iterable

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
