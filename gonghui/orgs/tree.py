"""Keeping `Org.path` and `Org.depth` right when a subtree moves: one UPDATE per moved subtree."""

from __future__ import annotations

from django.db.models import CharField, F, Value
from django.db.models.functions import Concat, Substr

from .models import Org


def rebase_subtree(old_path: str, new_path: str, depth_delta: int) -> int:
    """Rewrite the path prefix and depth of every org under `old_path` (inclusive) in one UPDATE.

    Uses only SUBSTR and string concatenation, which SQLite and PostgreSQL both have.
    """
    if old_path == new_path and depth_delta == 0:
        return 0
    return Org.objects.filter(path__startswith=old_path).update(
        path=Concat(Value(new_path), Substr("path", len(old_path) + 1), output_field=CharField()),
        depth=F("depth") + depth_delta,
    )
