"""Counting page views: one set-based upsert per view, bots left out, nothing personal kept."""

from __future__ import annotations

import datetime as dt
import re

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Sum
from django.utils import timezone

from .models import DailyCounter

# Crawlers and scripts say who they are in the user agent; the ones that lie are not worth more code.
_BOT = re.compile(
    r"bot|crawl|spider|slurp|scan|monitor|preview|fetch|python|curl|wget|httpclient|java/|go-http|"
    r"headless|lighthouse|phantom|okhttp|axios|node-fetch|libwww|scrapy",
    re.IGNORECASE,
)


def is_bot(user_agent: str | None) -> bool:
    """True for an empty user agent or one that names a crawler, a monitor or an HTTP library."""
    return not (user_agent or "").strip() or bool(_BOT.search(user_agent))


def counter_add(*, key: str, day: dt.date | None = None, by: int = 1) -> None:
    """Add `by` to the (key, day) counter, creating it: one statement, safe under concurrency.

    PostgreSQL and SQLite (3.24 and later) take the same INSERT ... ON CONFLICT DO UPDATE; another
    database takes the portable path (UPDATE, then INSERT, and UPDATE again if a concurrent INSERT won).
    """
    day = day or timezone.localdate()
    if connection.vendor in ("postgresql", "sqlite"):
        q = connection.ops.quote_name
        table, k, d, n = q(DailyCounter._meta.db_table), q("key"), q("day"), q("count")
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} ({k}, {d}, {n}) VALUES (%s, %s, %s) "  # noqa: S608 - names are ours
                f"ON CONFLICT ({k}, {d}) DO UPDATE SET {n} = {table}.{n} + excluded.{n}",
                [key, day, by],
            )
        return
    if DailyCounter.objects.filter(key=key, day=day).update(count=F("count") + by):  # pragma: no cover
        return
    try:  # pragma: no cover - only on databases without ON CONFLICT
        with transaction.atomic():
            DailyCounter.objects.create(key=key, day=day, count=by)
    except IntegrityError:  # pragma: no cover
        DailyCounter.objects.filter(key=key, day=day).update(count=F("count") + by)


def view_count(request, key: str) -> bool:
    """Count one view of `key` unless the request comes from a bot; True when it was counted."""
    if is_bot(request.META.get("HTTP_USER_AGENT")):
        return False
    counter_add(key=key)
    return True


def views_total(*, prefix: str) -> int:
    """All views of the keys starting with `prefix` (one aggregate query)."""
    return DailyCounter.objects.filter(key__startswith=prefix).aggregate(n=Sum("count"))["n"] or 0


def views_by_day(*, prefix: str) -> list[tuple[dt.date, int]]:
    """Views per day of the keys starting with `prefix`, oldest first (one GROUP BY query)."""
    return list(
        DailyCounter.objects.filter(key__startswith=prefix)
        .values("day")
        .annotate(n=Sum("count"))
        .order_by("day")
        .values_list("day", "n")
    )
