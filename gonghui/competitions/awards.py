"""A contest's awards into the register of honours (`gonghui.honours`).

After the finals, each trade's final ranking (`ranking.final_results`, the policy's tie rule) gives
every ranked finalist (a team, in a team contest) the awards of their rank from the policy's table; this module turns them into
honours conferred by the contest's organising union and registers them in one set-based call. The
source of each honour is the trade (`competitions.trade`, its id) with a readable label naming the
contest, the trade and the rank; granting the same contest twice creates nothing twice.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone

from gonghui.audit.services import audit_record
from gonghui.honours.models import HonourKind
from gonghui.honours.services import GrantReport, HonourGrant, honours_grant_bulk
from gonghui.people.models import Person

from .models import Contest, Registration
from .policy import contest_policy
from .ranking import final_results
from .services import ContestError
from .teams import team_final_results

SOURCE_TYPE = "competitions.trade"
# The policy's award kinds (policy.AWARD_KINDS) as kinds of honour.
HONOUR_KIND = {
    "honour": HonourKind.MEDAL,
    "title": HonourKind.TITLE,
    "cash": HonourKind.CASH,
    "promotion": HonourKind.PROMOTION,
}


def contest_honour_grants(*, contest: Contest, conferred_on: dt.date) -> list[HonourGrant]:
    """The honours the policy's award table gives the ranked finalists of every trade (nothing written).

    In a team contest the ranked finalist is the team: the team holds the honour (by its name, its
    members listed in the detail), as a collective award is conferred on the team, not on each member.
    """
    if not contest.policy_file:
        raise ContestError(f"竞赛 {contest.code} 没有政策文件，无法按奖励表授予荣誉")
    policy = contest_policy(contest.policy_file)
    trades = list(contest.trades.order_by("sort", "code"))
    organiser = contest.organiser

    def grant(award, *, trade, rank: int, person=None, team_name: str = "", detail: dict) -> HonourGrant:
        return HonourGrant(
            person=person,
            team_name=team_name,
            kind=HONOUR_KIND[award.kind],
            title=award.name,
            level=contest.level,
            conferred_by=organiser,
            conferred_with="、".join(n for n in award.conferred_by if n != organiser.name),
            amount=award.amount,
            source_type=SOURCE_TYPE,
            source_id=str(trade.pk),
            source_label=f"{contest.name} {trade.name} 第{rank}名",
            conferred_on=conferred_on,
            policy_file=policy.file_name,
            policy_document=policy.document,
            policy_effective=policy.effective,
            detail={"contest": contest.code, "trade": trade.code, "rank": rank, **detail},
        )

    grants = []
    if contest.entry == "team":
        members: dict[int, list[tuple[str, bool]]] = {}
        for team_id, ticket, leader in Registration.objects.filter(
            trade__contest=contest, team__isnull=False
        ).values_list("team_id", "ticket", "team_leader"):
            members.setdefault(team_id, []).append((ticket, leader))
        for trade in trades:
            for result in team_final_results(trade, policy):
                if result.rank is None:
                    continue
                tickets = [
                    t for t, _leader in sorted(members.get(result.team_id, []), key=lambda m: not m[1])
                ]
                for award in result.awards:
                    grants.append(
                        grant(
                            award,
                            trade=trade,
                            rank=result.rank,
                            team_name=result.name,
                            detail={
                                "team": result.team_id,
                                "enterprise": result.enterprise,
                                "tickets": tickets,
                            },
                        )
                    )
        return grants

    person_of = dict(Registration.objects.filter(trade__contest=contest).values_list("id", "person_id"))
    results = {trade: final_results(trade, policy) for trade in trades}
    people = Person.objects.in_bulk(
        {person_of[r.registration_id] for rows in results.values() for r in rows if r.awards}
    )
    for trade, rows in results.items():
        for result in rows:
            if result.rank is None:
                continue
            for award in result.awards:
                grants.append(
                    grant(
                        award,
                        trade=trade,
                        rank=result.rank,
                        person=people[person_of[result.registration_id]],
                        detail={"registration": result.registration_id, "ticket": result.ticket},
                    )
                )
    return grants


@transaction.atomic
def contest_grant_honours(
    *, contest: Contest, actor: Any | None = None, conferred_on: dt.date | None = None
) -> GrantReport:
    """Register the awards of a finished contest's final ranking as honours; idempotent, audited.

    Refused (ContestError) before the finals have ended, for a contest without a policy, and when no
    finalist is ranked yet. A finalist ranked later (a judge's score added) is granted on the next call;
    an honour already registered is never changed here (revoke it in the register).
    """
    today = timezone.localdate()
    if today <= contest.finals_end:
        raise ContestError(f"决赛于 {contest.finals_end:%Y-%m-%d} 结束，之后才能授予荣誉")
    grants = contest_honour_grants(contest=contest, conferred_on=conferred_on or today)
    if not grants:
        raise ContestError(f"竞赛 {contest.code} 还没有排定名次的决赛选手，没有可授予的荣誉")
    report = honours_grant_bulk(grants=grants, actor=actor)
    audit_record(
        actor=actor,
        action="contest.grant_honours",
        target=contest,
        detail={"created": len(report.created), "existing": len(report.existing)},
    )
    return report
