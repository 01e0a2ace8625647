"""Small helpers for hand-written SQL over a model's table (set-based writes, raw statements)."""

from __future__ import annotations

from typing import Any

from django.db import connections, router


def quoted_table(model) -> str:
    """The model's table name, quoted for the database the model writes to."""
    connection = connections[router.db_for_write(model)]
    return connection.ops.quote_name(model._meta.db_table)


def db_value(model, field_name: str, value: Any) -> Any:
    """A Python value as the database stores it in `model.field_name` (on SQLite a datetime is
    text; PostgreSQL takes it as it is): for parameters of raw statements."""
    connection = connections[router.db_for_write(model)]
    return model._meta.get_field(field_name).get_db_prep_save(value, connection)
