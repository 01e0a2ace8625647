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
FINAL_COLUMNS = ["名次", "准考证号", "姓名", "工作单位", "理论（百分制）", "实操", "总成绩", "奖励"]


def results_xlsx(contest) -> bytes:
    """The preliminary results of every trade of `contest`, one sheet per trade, ranked by the policy's tie rule."""
    import io

    from openpyxl import Workbook

    from .policy import contest_policy

    policy = contest_policy(contest.policy_file) if contest.policy_file else None
    tie_rule = policy.tie_rule if policy else ("total_desc",)
    book = Workbook()
    book.remove(book.active)
    for trade in contest.trades.all():
        if contest.entry == "team":
            from .teams import team_results_sheets

            team_results_sheets(book, trade, policy)
            continue
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
        finals = final_results(trade, policy) if policy else []
        if any(r.total is not None for r in finals):
            sheet = book.create_sheet(title=f"{trade.name[:28]}决赛")
            sheet.append(FINAL_COLUMNS)
            for r in finals:
                sheet.append(
                    [r.rank, r.ticket, r.name, r.enterprise, float(r.theory),
                     float(r.practical) if r.practical is not None else None,
                     float(r.total) if r.total is not None else None,
                     "；".join(a.name + (f" {a.amount:,.0f} 元" if a.amount else "") for a in r.awards)]
                )  # fmt: skip
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def is_finalist(registration) -> bool:
    """Whether the registration advanced from the preliminary (by its trade's rule and the policy's tie rule)."""
    from .policy import contest_policy

    trade = registration.trade
    if registration.team_id is not None:  # a member of a team goes to the finals with the team
        from .teams import team_is_finalist

        return team_is_finalist(registration.team)
    tie_rule = (
        contest_policy(trade.contest.policy_file).tie_rule if trade.contest.policy_file else ("total_desc",)
    )
    return any(
        r.registration_id == registration.pk and r.advances for r in preliminary_results(trade, tie_rule)
    )


def practical_score(scores: list[Decimal]) -> Decimal | None:
    """The judges' mean; with five or more judges the highest and the lowest are dropped first."""
    if not scores:
        return None
    kept = sorted(scores)[1:-1] if len(scores) >= 5 else list(scores)
    return (sum(kept, Decimal(0)) / len(kept)).quantize(Decimal("0.01"))


@dataclass(frozen=True)
class FinalResult:
    registration_id: int
    ticket: str
    name: str
    enterprise: str
    theory: Decimal  # the preliminary score as a percentage of the paper's points
    practical: Decimal | None
    total: Decimal | None
    rank: int | None
    awards: tuple[Award, ...]


def final_results(trade: Trade, policy: ContestPolicy) -> list[FinalResult]:
    """The finalists of a trade ranked on total = theory x weight + practical x weight, with their awards.

    Theory is the preliminary score as a percentage of the paper's points; practical is the judges'
    mean (`practical_score`). A finalist without practical scores is listed unranked, with no award.
    """
    from .models import JudgeScore

    finalists = [r for r in preliminary_results(trade, policy.tie_rule) if r.advances]
    papers = dict(
        Attempt.objects.filter(registration_id__in=[f.registration_id for f in finalists]).values_list(
            "registration_id", "paper__total_points"
        )
    )
    judged: dict[int, list[Decimal]] = {}
    for registration_id, score in JudgeScore.objects.filter(
        registration_id__in=[f.registration_id for f in finalists]
    ).values_list("registration_id", "score"):
        judged.setdefault(registration_id, []).append(score)
    entries, rows = [], {}
    for f in finalists:
        theory = (f.score / papers[f.registration_id] * 100).quantize(Decimal("0.01"))
        practical = practical_score(judged.get(f.registration_id, []))
        total = None
        if practical is not None:
            total = (theory * trade.theory_weight + practical * trade.practical_weight).quantize(
                Decimal("0.01")
            )
            entries.append(
                Entry(
                    f.registration_id, total, theory=theory, practical=practical, theory_duration=f.duration
                )
            )
        rows[f.registration_id] = (f, theory, practical, total)
    ranked = {r.entry.registration_id: r.rank for r in rank_entries(entries, policy.tie_rule)}
    results = []
    for registration_id, (f, theory, practical, total) in rows.items():
        rank = ranked.get(registration_id)
        results.append(
            FinalResult(
                registration_id=registration_id,
                ticket=f.ticket,
                name=f.name,
                enterprise=f.enterprise,
                theory=theory,
                practical=practical,
                total=total,
                rank=rank,
                awards=tuple(policy.awards_for_rank(rank)) if rank else (),
            )
        )
    results.sort(key=lambda r: (r.rank is None, r.rank or 0, r.ticket))
    return results
