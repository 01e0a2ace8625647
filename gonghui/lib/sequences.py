"""Ranges of sequence values taken from a counter row per prefix (member numbers, certificate numbers).

A counter model has a unique `prefix` and a `next_value`. A range is taken by a conditional UPDATE
(`next_value` moves only if nobody moved it since it was read), retried when another transaction
moved it first; the row is created on first use. Call it inside the transaction that uses the
values, so a rolled-back write gives its range back unissued.
"""

from __future__ import annotations

from django.db import models


class SequenceExhausted(Exception):
    """The prefix has fewer than `count` values left within its number of digits."""


class SequenceContended(Exception):
    """Other transactions kept moving the counter: the caller may try again."""


def reserve_range(
    counter: type[models.Model], *, prefix: str, count: int, digits: int, tries: int = 100
) -> int:
    """Take `count` consecutive values of `prefix` from `counter`; return the first (0 when count <= 0)."""
    if count <= 0:
        return 0
    counter.objects.get_or_create(prefix=prefix)
    rows = counter.objects.filter(prefix=prefix)
    for _attempt in range(tries):
        current = rows.values_list("next_value", flat=True).get()
        if current + count - 1 >= 10**digits:
            raise SequenceExhausted(prefix)
        if rows.filter(next_value=current).update(next_value=current + count) == 1:
            return current
    raise SequenceContended(prefix)
