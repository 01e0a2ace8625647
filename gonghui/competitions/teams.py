"""Team contests (entry: team): registering a team, and ranking teams in the preliminary and the finals.

A team has a name, a leader and members, all from one unit; its size is the policy's `contest.team`.
Each member is a `Registration` of the trade pointing at the team (the leader is flagged), so every
member goes through the same identity path as an individual (found by ID number or created,
protected; the membership check of a members-only contest) and takes the theory preliminary. A
person has one registration per trade (database constraint), hence is in one team per trade.

Stated rules (the Shandong example's plan is silent on them):
- a team's theory score is the mean of its members' preliminary scores as a percentage of their
  paper's points, a member without a finished attempt counting 0; teams advance on it by the
  trade's quota (ties on the last place all advance) or cut-off (then read as a percentage);
- a team's practical score is its judges' sheets (`sheets`), the highest and lowest dropped with
  five judges or more; total = theory x weight + practical x weight; ranked by the policy's tie rule.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from gonghui.audit.services import audit_record
from gonghui.orgs.models import Employer, Org
from gonghui.people.models import ConsentChannel
from gonghui.people.services import consent_record, person_find_by_id_number
from gonghui.regions.models import Region

from .models import AdvancementRule, Attempt, AttemptStatus, JudgeScore, Registration, Team, Trade
from .policy import Award, ContestPolicy
from .ranking import Entry, practical_score, rank_entries
from .services import (
    CONSENT_PURPOSE,
    ContestError,
    consent_check,
    policy_of,
    registration_check_open,
    registration_create,
    work_area_check,
)


@dataclass(frozen=True)
class MemberSpec:
    name: str
    id_number: str
    phone: str = ""


@transaction.atomic
def team_register(
    *,
    trade: Trade,
    name: str,
    enterprise_name: str,
    members: list[MemberSpec],
    employer: Employer | None = None,
    union: Org | None = None,
    region: Region | None = None,
    actor: Any | None = None,
) -> Team:
    """Enter a team in a trade of a team contest; `members[0]` is the leader.

    Guarantees: the contest takes teams; the team's size is within the policy's limits; the name is
    new in the trade; every member is a distinct person not yet entered in the trade (in no other
    team of it); every member is registered with the team's unit (and its work area `region`, one of
    `services.work_area_regions`), and one on record as working for another enterprise is refused;
    in a members-only contest every member is an active member. All or nothing: one refused member
    writes nothing. ContestError names the member (第 N 名队员).
    """
    contest = trade.contest
    if contest.entry != "team":
        raise ContestError(f"{contest.name}为个人赛，不能以团队报名")
    policy = policy_of(contest)
    name = (name or "").strip()
    if not name:
        raise ContestError("请填写队名")
    enterprise_name = (enterprise_name or "").strip() or (employer.name if employer else "")
    if not enterprise_name:
        raise ContestError("请填写队伍所在单位")
    work_area_check(contest=contest, region=region, required=False)
    if policy is not None and policy.team is not None:
        low, high = policy.team.min_size, policy.team.max_size
        if not low <= len(members) <= high:
            raise ContestError(f"每队 {low} 至 {high} 人（含队长），现填写 {len(members)} 人")
    elif not members:
        raise ContestError("队伍至少需要一名队员")
    if Team.objects.filter(trade=trade, name=name).exists():
        raise ContestError(f"{trade.name}已有名为“{name}”的队伍")
    seen: set[str] = set()
    for number, member in enumerate(members, start=1):
        key = "".join(member.id_number.split()).upper()
        if key in seen:
            raise ContestError(f"第 {number} 名队员：身份证号与前面的队员重复")
        seen.add(key)
    team = Team.objects.create(
        trade=trade, name=name, employer=employer, enterprise_name=enterprise_name, union=union
    )
    for number, member in enumerate(members, start=1):
        where = f"第 {number} 名队员（{'队长' if number == 1 else '队员'}）"
        try:
            person = person_find_by_id_number(id_number=member.id_number)
            if (
                employer is not None
                and person is not None
                and person.employer_id
                and person.employer_id != employer.pk
            ):
                raise ContestError("登记的工作单位不是本队所在单位，队员应来自同一单位")
            registration_create(
                trade=trade,
                name=member.name,
                id_number=member.id_number,
                phone=(member.phone or "").strip() or None,
                enterprise_name=enterprise_name,
                employer=employer,
                union=union,
                region=region,
                team=team,
                team_leader=number == 1,
                actor=actor,
            )
        except ValueError as exc:  # ContestError and the people errors (ID number, phone)
            raise ContestError(f"{where}：{exc}") from None
    audit_record(
        actor=actor,
        action="contest.team_register",
        target=team,
        detail={"trade": trade.code, "contest": contest.code, "members": len(members)},
    )
    return team


@transaction.atomic
def team_apply(
    *,
    trade: Trade,
    name: str,
    enterprise_name: str,
    region: Region | None,
    members: list[MemberSpec],
    consent_version: str,
    consent_items: list[str],
    ip: str | None = None,
    now: dt.datetime | None = None,
) -> Team:
    """A team leader registers their team from a phone (the public page), as `registration_apply` does for one worker.

    Guarantees: refused outside the registration stage; the leader confirms the notice and the
    separate consents (ID numbers, and phones when any is given) on behalf of each member, recorded
    per member with the team named in the reference; the unit's work area (`region`) is required, as
    on an individual's page; the team, its registrations and the consent records are written
    together or not at all.
    """
    now = now or timezone.now()
    registration_check_open(contest=trade.contest, now=now)
    work_area_check(contest=trade.contest, region=region, required=True)
    consent_check(items=consent_items, phones=[m.phone for m in members])
    team = team_register(
        trade=trade, name=name, enterprise_name=enterprise_name, region=region, members=members
    )
    for registration in team.members.select_related("person"):
        consent_record(
            person=registration.person,
            purpose=CONSENT_PURPOSE,
            version=consent_version,
            items=consent_items,
            channel=ConsentChannel.ONLINE,
            reference=f"contest:{trade.contest.code}:{trade.code}:team:{team.pk}",
            ip=ip,
        )
    return team


# --- ranking teams ---


@dataclass(frozen=True)
class TeamPreliminary:
    team_id: int
    name: str
    enterprise: str
    members: int
    theory: Decimal  # mean of the members' percentages, absent members counting 0
    rank: int
    advances: bool


def _member_percentages(trade: Trade) -> dict[int, list[Decimal]]:
    """team id -> every member's preliminary percentage (0 for a member without a finished attempt)."""
    rows = Registration.objects.filter(trade=trade, team__isnull=False).values_list(
        "team_id", "attempt__score", "attempt__paper__total_points", "attempt__status"
    )
    # One row per member (the attempt is one-to-one); an attempt still in progress counts 0 as well.
    out: dict[int, list[Decimal]] = {}
    for team_id, score, total, status in rows:
        done = status in (AttemptStatus.SUBMITTED, AttemptStatus.CLOSED) and score is not None and total
        out.setdefault(team_id, []).append((score / total * 100) if done else Decimal(0))
    return out


def team_preliminary_results(trade: Trade, tie_rule: tuple[str, ...]) -> list[TeamPreliminary]:
    """Every team of the trade with its theory score, rank and advancement (teams without a finished attempt do not advance)."""
    percentages = _member_percentages(trade)
    started = set(
        Attempt.objects.filter(
            registration__trade=trade,
            registration__team__isnull=False,
            status__in=[AttemptStatus.SUBMITTED, AttemptStatus.CLOSED],
        ).values_list("registration__team_id", flat=True)
    )
    teams = list(trade.teams.values_list("id", "name", "enterprise_name"))
    theory = {
        team_id: (
            sum(percentages.get(team_id, []), Decimal(0)) / max(len(percentages.get(team_id, [])), 1)
        ).quantize(Decimal("0.01"))
        for team_id, _name, _enterprise in teams
    }
    # Only the preliminary counts here: total and theory are the team's theory score.
    keys = tuple(k for k in tie_rule if k in ("total_desc", "theory_desc")) or ("total_desc",)
    ranked = {
        r.entry.registration_id: r.rank
        for r in rank_entries([Entry(t, theory[t], theory=theory[t]) for t in started], keys)
    }
    results = []
    for team_id, name, enterprise in teams:
        rank = ranked.get(team_id)
        if rank is None:
            advances = False
        elif trade.advancement == AdvancementRule.QUOTA:
            advances = rank <= (trade.finalist_quota or 0)
        else:
            advances = theory[team_id] >= trade.finalist_cutoff
        results.append(
            TeamPreliminary(
                team_id=team_id,
                name=name,
                enterprise=enterprise,
                members=len(percentages.get(team_id, [])),
                theory=theory[team_id],
                rank=rank or 0,
                advances=advances,
            )
        )
    results.sort(key=lambda r: (r.rank == 0, r.rank, r.name))
    return results


def team_is_finalist(team: Team) -> bool:
    policy = policy_of(team.trade.contest)
    tie_rule = policy.tie_rule if policy else ("total_desc",)
    return any(r.team_id == team.pk and r.advances for r in team_preliminary_results(team.trade, tie_rule))


@dataclass(frozen=True)
class TeamFinal:
    team_id: int
    name: str
    enterprise: str
    theory: Decimal
    practical: Decimal | None
    total: Decimal | None
    rank: int | None
    awards: tuple[Award, ...]


def team_final_results(trade: Trade, policy: ContestPolicy) -> list[TeamFinal]:
    """The finalist teams of a trade ranked on total = theory x weight + practical x weight, with their awards.

    A team without judges' sheets yet is listed unranked, with no award.
    """
    finalists = [r for r in team_preliminary_results(trade, policy.tie_rule) if r.advances]
    judged: dict[int, list[Decimal]] = {}
    for team_id, score in JudgeScore.objects.filter(team_id__in=[f.team_id for f in finalists]).values_list(
        "team_id", "score"
    ):
        judged.setdefault(team_id, []).append(score)
    entries, rows = [], {}
    for f in finalists:
        practical = practical_score(judged.get(f.team_id, []))
        total = None
        if practical is not None:
            total = (f.theory * trade.theory_weight + practical * trade.practical_weight).quantize(
                Decimal("0.01")
            )
            entries.append(Entry(f.team_id, total, theory=f.theory, practical=practical))
        rows[f.team_id] = (f, practical, total)
    ranked = {r.entry.registration_id: r.rank for r in rank_entries(entries, policy.tie_rule)}
    results = [
        TeamFinal(
            team_id=team_id,
            name=f.name,
            enterprise=f.enterprise,
            theory=f.theory,
            practical=practical,
            total=total,
            rank=ranked.get(team_id),
            awards=tuple(policy.awards_for_rank(ranked[team_id])) if team_id in ranked else (),
        )
        for team_id, (f, practical, total) in rows.items()
    ]
    results.sort(key=lambda r: (r.rank is None, r.rank or 0, r.name))
    return results


TEAM_COLUMNS = ["名次", "队名", "单位", "队员数", "理论（百分制，队员平均）", "进入决赛"]
TEAM_FINAL_COLUMNS = ["名次", "队名", "单位", "理论（百分制）", "实操", "总成绩", "奖励"]


def team_results_sheets(book, trade: Trade, policy: ContestPolicy | None) -> None:
    """Add the trade's team preliminary sheet (and its finals sheet once any team has a total) to `book`."""
    tie_rule = policy.tie_rule if policy else ("total_desc",)
    sheet = book.create_sheet(title=trade.name[:31])
    sheet.append(TEAM_COLUMNS)
    for r in team_preliminary_results(trade, tie_rule):
        sheet.append(
            [r.rank or None, r.name, r.enterprise, r.members, float(r.theory), "是" if r.advances else "否"]
        )
    finals = team_final_results(trade, policy) if policy else []
    if any(r.total is not None for r in finals):
        sheet = book.create_sheet(title=f"{trade.name[:28]}决赛")
        sheet.append(TEAM_FINAL_COLUMNS)
        for r in finals:
            sheet.append(
                [r.rank, r.name, r.enterprise, float(r.theory),
                 float(r.practical) if r.practical is not None else None,
                 float(r.total) if r.total is not None else None,
                 "；".join(a.name + (f" {a.amount:,.0f} 元" if a.amount else "") for a in r.awards)]
            )  # fmt: skip
