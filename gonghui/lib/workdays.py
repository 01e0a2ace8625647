"""Working days: Monday to Friday, minus public holidays, plus adjusted working weekend days (调休).

The calendar is data (`policies/holidays.yaml`); without it, weekends alone are left out.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

POLICY_FILE = Path(__file__).resolve().parents[2] / "policies" / "holidays.yaml"


@dataclass(frozen=True)
class Calendar:
    holidays: frozenset[dt.date]
    workdays: frozenset[dt.date]  # weekend days that are working days

    def is_working_day(self, day: dt.date) -> bool:
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def working_days_between(self, start: dt.date, end: dt.date) -> int:
        """Working days after `start` up to and including `end` (0 when end <= start)."""
        if end <= start:
            return 0
        days = (end - start).days
        weeks, rest = divmod(days, 7)
        count = weeks * 5
        for offset in range(1, rest + 1):
            if (start + dt.timedelta(days=offset)).weekday() < 5:
                count += 1
        count -= sum(1 for d in self.holidays if start < d <= end and d.weekday() < 5)
        count += sum(1 for d in self.workdays if start < d <= end and d.weekday() >= 5)
        return count

    def add_working_days(self, start: dt.date, n: int) -> dt.date:
        """The n-th working day after `start` (n >= 0; 0 gives `start`)."""
        day = start
        while n > 0:
            day += dt.timedelta(days=1)
            if self.is_working_day(day):
                n -= 1
        return day

    def subtract_working_days(self, end: dt.date, n: int) -> dt.date:
        """The latest day `d` with exactly `n` working days after it up to `end` (n >= 1)."""
        day, counted = end, 0
        while True:
            if self.is_working_day(day):
                counted += 1
                if counted == n:
                    return day - dt.timedelta(days=1)
            day -= dt.timedelta(days=1)


def _dates(values, where: str) -> frozenset[dt.date]:
    out = set()
    for value in values or []:
        if not isinstance(value, dt.date):
            try:
                value = dt.date.fromisoformat(str(value))
            except ValueError:
                raise ValueError(f"{where}: {value!r} 不是日期") from None
        out.add(value)
    return frozenset(out)


@cache
def calendar(path: str | None = None) -> Calendar:
    """The working-day calendar from the holidays policy (cached)."""
    file = Path(path) if path else POLICY_FILE
    if not file.exists():
        return Calendar(frozenset(), frozenset())
    data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    holidays: set[dt.date] = set()
    workdays: set[dt.date] = set()
    for year, entry in (data.get("years") or {}).items():
        holidays |= _dates(entry.get("holidays"), f"{file.name} {year} holidays")
        workdays |= _dates(entry.get("workdays"), f"{file.name} {year} workdays")
    return Calendar(frozenset(holidays), frozenset(workdays))
