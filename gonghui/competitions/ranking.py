"""Ranking by a contest's tie rule, advancement to the finals, and awards from the policy's table.

The tie rule is the policy's ordered list of keys (`total_desc`, `practical_desc`, `theory_desc`,
`theory_duration_asc`). Entries equal on every key share a rank and the next rank is skipped
(standard competition ranking: 1, 2, 2, 4). A missing value sorts after every present one.
Stated rules (the Jilin plan is silent on them):
- advancement by quota: every entry ranked within the quota advances, so a tie on the last place
  takes all the tied entries (the quota may be exceeded); by cut-off: every score at or above it;
- awards: an entry receives the awards of its rank; tied entries each receive them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from .models import AdvancementRule, Attempt, AttemptStatus, Trade
from .policy import Award, ContestPolicy

_FIELDS = {
    "total_desc": ("total", True),
    "practical_desc": ("practical", True),
    "theory_desc": ("theory", True),
    "theory_duration_asc": ("theory_duration", False),
}


@dataclass(frozen=True)
class Entry:
    registration_id: int
    total: Decimal | None
    theory: Decimal | None = None
    practical: Decimal | None = None
    theory_duration: dt.timedelta | None = None


@dataclass(frozen=True)
class Ranked:
    entry: Entry
    rank: int


def _key(entry: Entry, tie_rule: tuple[str, ...]) -> tuple:
    parts = []
    for name in tie_rule:
        field, descending = _FIELDS[name]
        value = getattr(entry, field)
        if value is None:
            parts.append((1, 0))
        elif isinstance(value, dt.timedelta):
            seconds = value.total_seconds()
            parts.append((0, -seconds if descending else seconds))
        else:
            parts.append((0, -value if descending else value))
    return tuple(parts)


def rank_entries(entries: list[Entry], tie_rule: tuple[str, ...]) -> list[Ranked]:
    """Entries in rank order with their ranks; entries equal on every tie key share a rank."""
    keyed = sorted(
        ((_key(e, tie_rule), e) for e in entries), key=lambda pair: (pair[0], pair[1].registration_id)
    )
    ranked: list[Ranked] = []
    previous = None
    for position, (key, entry) in enumerate(keyed, start=1):
        rank = ranked[-1].rank if previous is not None and key == previous else position
        ranked.append(Ranked(entry=entry, rank=rank))
        previous = key
    return ranked


def awards_for(ranked: list[Ranked], policy: ContestPolicy) -> list[tuple[Ranked, list[Award]]]:
    """Each ranked entry with the awards of its rank from the policy's table (ties each receive them)."""
    return [(r, policy.awards_for_rank(r.rank)) for r in ranked]


@dataclass(frozen=True)
class PreliminaryResult:
    registration_id: int
    ticket: str
    name: str
    enterprise: str
    score: Decimal | None
    duration: dt.timedelta | None
    rank: int | None
    advances: bool


def preliminary_results(trade: Trade, tie_rule: tuple[str, ...]) -> list[PreliminaryResult]:
    """Every registration of the trade with its preliminary score, rank (finished attempts only) and advancement."""
    finished = {
        a.registration_id: a
        for a in Attempt.objects.filter(
            registration__trade=trade, status__in=[AttemptStatus.SUBMITTED, AttemptStatus.CLOSED]
        ).only("registration_id", "score", "started_at", "submitted_at")
    }
    entries = [
        Entry(
            registration_id=a.registration_id,
            total=a.score,
            theory=a.score,
            theory_duration=a.submitted_at - a.started_at,
        )
        for a in finished.values()
    ]
    ranks = {r.entry.registration_id: r.rank for r in rank_entries(entries, tie_rule)}
    results = []
    for registration_id, ticket, name, enterprise in trade.registrations.values_list(
        "id", "ticket", "person__name", "enterprise_name"
    ):
        attempt = finished.get(registration_id)
        rank = ranks.get(registration_id)
        if attempt is None:
            advances = False
        elif trade.advancement == AdvancementRule.QUOTA:
            advances = rank is not None and rank <= (trade.finalist_quota or 0)
        else:
            advances = attempt.score is not None and attempt.score >= trade.finalist_cutoff
        results.append(
            PreliminaryResult(
                registration_id=registration_id,
                ticket=ticket,
                name=name,
                enterprise=enterprise,
                score=attempt.score if attempt else None,
                duration=(attempt.submitted_at - attempt.started_at) if attempt else None,
                rank=rank,
                advances=advances,
            )
        )
    results.sort(key=lambda r: (r.rank is None, r.rank or 0, r.ticket))
    return results


RESULT_COLUMNS = ["名次", "准考证号", "姓名", "工作单位", "理论成绩", "用时（分钟）", "进入决赛"]


def results_xlsx(contest) -> bytes:
    """The preliminary results of every trade of `contest`, one sheet per trade, ranked by the policy's tie rule."""
    import io

    from openpyxl import Workbook

    from .policy import contest_policy

    tie_rule = contest_policy(contest.policy_file).tie_rule if contest.policy_file else ("total_desc",)
    book = Workbook()
    book.remove(book.active)
    for trade in contest.trades.all():
        sheet = book.create_sheet(title=trade.name[:31])
        sheet.append(RESULT_COLUMNS)
        for r in preliminary_results(trade, tie_rule):
            sheet.append(
                [
                    r.rank,
                    r.ticket,
                    r.name,
                    r.enterprise,
                    float(r.score) if r.score is not None else None,
                    round(r.duration.total_seconds() / 60, 1) if r.duration else None,
                    "是" if r.advances else "否",
                ]
            )
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
