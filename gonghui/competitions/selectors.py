"""Contest reads a staff user sees, scoped to the viewer: a contest belongs to its organising union.

A viewer sees the contests organised by unions in their subtree (a superuser sees all); anything
else answers 404, the same as a contest that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Avg, Count, Q, QuerySet
from django.http import Http404

from gonghui.accounts.selectors import viewer_scope

from .models import AttemptStatus, Contest, Trade

_FINISHED = [AttemptStatus.SUBMITTED, AttemptStatus.CLOSED]


def contest_list(*, viewer: Any) -> QuerySet[Contest]:
    scope = viewer_scope(viewer)
    if scope.is_empty:
        return Contest.objects.none()
    return Contest.objects.filter(scope.orgs_q("organiser__")).select_related("organiser")


def access_contest(viewer: Any, code: str) -> Contest:
    contest = contest_list(viewer=viewer).filter(code=code).first()
    if contest is None:
        raise Http404
    return contest


def access_trade(viewer: Any, code: str, trade_code: str) -> Trade:
    """A trade of a contest the viewer may manage (organising union or above); 404 otherwise."""
    trade = (
        Trade.objects.select_related("contest")
        .filter(contest=access_contest(viewer, code), code=trade_code)
        .first()
    )
    if trade is None:
        raise Http404
    return trade


@dataclass(frozen=True)
class TradeProgress:
    code: str
    name: str
    registered: int
    enterprises: int
    papers: int
    started: int
    in_progress: int
    finished: int
    average: Decimal | None


def contest_progress(*, viewer: Any, contest: Contest) -> list[TradeProgress]:
    """Per trade: registrations, enterprises, papers, attempts started / in progress / finished, average score.

    One query (aggregates over the trade's registrations and their 1:1 paper and attempt).
    """
    access_contest(viewer, contest.code)
    rows = (
        contest.trades.order_by("sort", "code")
        .annotate(
            n_registered=Count("registrations", distinct=True),
            n_enterprises=Count("registrations__enterprise_name", distinct=True),
            n_papers=Count("registrations__paper", distinct=True),
            n_started=Count("registrations__attempt", distinct=True),
            n_in_progress=Count(
                "registrations__attempt",
                filter=Q(registrations__attempt__status=AttemptStatus.IN_PROGRESS),
                distinct=True,
            ),
            n_finished=Count(
                "registrations__attempt",
                filter=Q(registrations__attempt__status__in=_FINISHED),
                distinct=True,
            ),
            average=Avg(
                "registrations__attempt__score", filter=Q(registrations__attempt__status__in=_FINISHED)
            ),
        )
        .values_list(
            "code",
            "name",
            "n_registered",
            "n_enterprises",
            "n_papers",
            "n_started",
            "n_in_progress",
            "n_finished",
            "average",
        )  # fmt: skip
    )
    return [
        TradeProgress(
            code=code,
            name=name,
            registered=registered,
            enterprises=enterprises,
            papers=papers,
            started=started,
            in_progress=in_progress,
            finished=finished,
            average=Decimal(str(average)).quantize(Decimal("0.01")) if average is not None else None,
        )
        for code, name, registered, enterprises, papers, started, in_progress, finished, average in rows
    ]


@dataclass(frozen=True)
class ContestStatistics:
    """The figures a contest reports publicly (as the newspaper did for Jilin): counts only, no one named."""

    registrations: int
    enterprises: int
    practice_sessions: int
    preliminary_candidates: int
    finalists: int
    average_preliminary: Decimal | None
    teams: int = 0  # team contests: teams entered
    unions: int = 0  # unions the entrants were members of (recorded at registration) or registered with


def contest_statistics(contest: Contest) -> ContestStatistics:
    """Public totals of a contest: registrations, enterprises, practice sessions, preliminary candidates, finalists."""
    from .models import Attempt, PracticeSession, Registration, Team
    from .policy import contest_policy
    from .ranking import preliminary_results

    registrations = Registration.objects.filter(trade__contest=contest)
    finished = Attempt.objects.filter(registration__trade__contest=contest, status__in=_FINISHED)
    tie_rule = contest_policy(contest.policy_file).tie_rule if contest.policy_file else ("total_desc",)
    finalists = 0
    if finished.exists():
        for trade in contest.trades.all():
            finalists += sum(1 for r in preliminary_results(trade, tie_rule) if r.advances)
    average = finished.aggregate(a=Avg("score"))["a"]
    unions = (
        registrations.filter(member_union__isnull=False)
        .values_list("member_union_id", flat=True)
        .union(registrations.filter(union__isnull=False).values_list("union_id", flat=True))
    )
    return ContestStatistics(
        teams=Team.objects.filter(trade__contest=contest).count(),
        unions=unions.count(),
        registrations=registrations.count(),
        enterprises=registrations.values("enterprise_name").distinct().count(),
        practice_sessions=PracticeSession.objects.filter(trade__contest=contest).count(),
        preliminary_candidates=finished.count(),
        finalists=finalists,
        average_preliminary=Decimal(str(average)).quantize(Decimal("0.01")) if average is not None else None,
    )
