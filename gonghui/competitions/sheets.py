"""Practical score sheets by criterion at the finals, and the judges assigned to each trade.

A trade's sheet is its policy's `criteria` (code, name, most points; they add up to 100). Each
judge fills in one sheet per finalist (or per finalist team in a team contest); the sheet is a
`JudgeScore` row keeping who, when and the points of every criterion, and its `score` is their sum,
which is what `ranking.practical_score` averages (dropping the highest and lowest with five judges
or more). A trade without criteria in its policy takes one score of 0-100 per judge.

Judges are staff users assigned to a trade (`TradeJudge`); the judging pages show a judge the
finalists of their trades only, and answer 404 for anything else.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, QuerySet
from django.http import Http404

from gonghui.accounts.models import RoleKind
from gonghui.audit.services import audit_record

from .models import JudgeScore, Registration, Team, Trade, TradeJudge
from .policy import Criterion
from .services import ContestError, policy_of


def trade_criteria(trade: Trade) -> tuple[Criterion, ...]:
    """The trade's score sheet from its contest's policy (empty: one score per judge)."""
    policy = policy_of(trade.contest)
    rules = policy.trade(trade.code) if policy else None
    return rules.criteria if rules else ()


def _points(value: Any, where: str) -> Decimal:
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ContestError(f"{where}：{value!r} 不是数字") from None
    if not number.is_finite():
        raise ContestError(f"{where}：{value!r} 不是数字")
    return number


def sheet_total(*, criteria: tuple[Criterion, ...], points: dict[str, Any]) -> tuple[dict[str, str], Decimal]:
    """Validated points per criterion (as strings, for the JSON column) and their sum.

    Every criterion of the sheet must be scored, from 0 to its most points, with at most two decimals;
    a code not on the sheet is refused. Messages name the criterion.
    """
    unknown = sorted(set(points) - {c.code for c in criteria})
    if unknown:
        raise ContestError(f"评分表没有评分项 {unknown[0]}")
    kept: dict[str, str] = {}
    total = Decimal(0)
    for criterion in criteria:
        where = f"评分项“{criterion.name}”"
        raw = points.get(criterion.code)
        if raw is None or str(raw).strip() == "":
            raise ContestError(f"{where}未评分")
        value = _points(raw, where)
        if value != value.quantize(Decimal("0.01")):
            raise ContestError(f"{where}：最多两位小数")
        if not Decimal(0) <= value <= criterion.max_points:
            raise ContestError(f"{where}：{value} 应在 0 到 {criterion.max_points} 之间")
        kept[criterion.code] = str(value.quantize(Decimal("0.01")))
        total += value
    return kept, total.quantize(Decimal("0.01"))


def _entry_trade(registration: Registration | None, team: Team | None) -> Trade:
    if (registration is None) == (team is None):
        raise ContestError("应为一名选手或一支队伍评分")
    return registration.trade if registration is not None else team.trade


def entry_is_finalist(*, registration: Registration | None = None, team: Team | None = None) -> bool:
    from .ranking import is_finalist
    from .teams import team_is_finalist

    if team is not None:
        return team_is_finalist(team)
    return is_finalist(registration)


def _entry_label(registration: Registration | None, team: Team | None) -> str:
    return f"准考证号 {registration.ticket} 的选手" if registration is not None else f"队伍“{team.name}”"


@transaction.atomic
def sheet_record(
    *,
    registration: Registration | None = None,
    team: Team | None = None,
    judge: str,
    judge_user: Any | None = None,
    score: Decimal | None = None,
    criteria: dict[str, Any] | None = None,
    replace: bool = False,
    actor: Any | None = None,
    assignment: TradeJudge | None = None,
) -> JudgeScore:
    """Record one judge's sheet for one finalist (individual) or finalist team (team contest).

    Guarantees: the entry advanced to the finals; with a sheet in the policy every criterion is
    scored within its points and the score is their sum (a `score` given too must equal it); without
    one, `score` is 0-100. A judge has one sheet per entry (database constraint): a second is refused
    unless `replace`, which overwrites it and audits the previous points. Audited either way.
    With the judge's `assignment` (the judging pages), its row is locked first and a removed
    assignment refuses: a sheet and `judge_unassign` of the same judge run one after the other, so a
    judge is never removed with a sheet recorded.
    """
    if assignment is not None:
        _assignment_locked(assignment)
    trade = _entry_trade(registration, team)
    judge = (judge or "").strip()
    if not judge:
        raise ContestError("请填写评委")
    sheet = trade_criteria(trade)
    if sheet:
        if not criteria:
            raise ContestError(f"{trade.name}按评分表评分，请逐项填写评分")
        kept, total = sheet_total(criteria=sheet, points=criteria)
        if score is not None and Decimal(score) != total:
            raise ContestError(f"评分 {score} 与各评分项之和 {total} 不符")
        score = total
    else:
        if criteria:
            raise ContestError(f"{trade.name}的政策没有评分表，只能填写总分")
        if score is None:
            raise ContestError("请填写评分")
        kept = {}
        if not Decimal(0) <= Decimal(score) <= Decimal(100):
            raise ContestError(f"评分 {score} 应在 0 到 100 之间")
    if not entry_is_finalist(registration=registration, team=team):
        raise ContestError(f"{_entry_label(registration, team)}未进入决赛")
    entry = {"registration": registration} if registration is not None else {"team": team}
    # order_by("pk"): the model's ordering joins the nullable team/registration, which PostgreSQL
    # refuses to lock (FOR UPDATE cannot be applied to the nullable side of an outer join).
    existing = JudgeScore.objects.select_for_update().filter(judge=judge, **entry).order_by("pk").first()
    previous = None
    if existing is not None:
        if not replace:
            raise ContestError(f"评委 {judge} 已为{_entry_label(registration, team)}评分")
        previous = {"score": str(existing.score), "criteria": existing.criteria}
        existing.score, existing.criteria = score, kept
        existing.judge_user = judge_user or existing.judge_user
        existing.save(update_fields=["score", "criteria", "judge_user", "updated_at"])
        row = existing
    else:
        try:
            with transaction.atomic():
                row = JudgeScore.objects.create(
                    judge=judge, judge_user=judge_user, score=score, criteria=kept, **entry
                )
        except IntegrityError:
            raise ContestError(f"评委 {judge} 已为{_entry_label(registration, team)}评分") from None
    audit_record(
        actor=actor or judge_user,
        action="contest.judge_score",
        target=registration if registration is not None else team,
        detail={"judge": judge, "score": str(score), "criteria": kept, "previous": previous},
    )
    return row


class JudgeNotEligible(ContestError):
    """The account is not staff of the contest's organising union or a union below it."""


class JudgeHasScores(ContestError):
    """The judge has score sheets in the trade, so their assignment stays (the sheets name them)."""


# Roles that make an account staff of a union: they may be given a trade to judge from the staff page.
JUDGE_ROLES = (RoleKind.ADMIN, RoleKind.STAFF)


def _judge_candidates(trade: Trade) -> QuerySet:
    """Active accounts holding a staff or admin role in the organising union or a union below it."""
    return (
        get_user_model()
        .objects.filter(
            is_active=True,
            roles__role__in=JUDGE_ROLES,
            roles__org__path__startswith=trade.contest.organiser.path,
        )
        .distinct()
        .order_by("username")
    )


def _may_manage(actor: Any, trade: Trade) -> bool:
    from .selectors import contest_list

    return contest_list(viewer=actor).filter(pk=trade.contest_id).exists()


@transaction.atomic
def judge_assign(
    *,
    trade: Trade,
    user: Any,
    name: str = "",
    actor: Any | None = None,
    organiser_staff_only: bool = False,
) -> TradeJudge:
    """Assign a staff user to judge a trade's finals, under the name their sheets carry (default: the username).

    Refuses (ContestError) an actor who may not manage the contest, and a second assignment. With
    `organiser_staff_only` (the staff page) the account must be staff or admin of the organising union
    or a union below it (JudgeNotEligible, naming the 评委账号 field); the command line, run by an
    operator, may assign any account as before. Audited.
    """
    if actor is not None and not _may_manage(actor, trade):
        raise ContestError("无权为该竞赛指派评委")
    if organiser_staff_only and not _judge_candidates(trade).filter(pk=user.pk).exists():
        raise JudgeNotEligible(
            f"评委账号：{user.get_username()} 不是{trade.contest.organiser.name}或其下级工会的工作人员，不能担任评委"
        )
    name = (name or "").strip() or user.get_username()
    if TradeJudge.objects.filter(trade=trade, user=user).exists():
        raise ContestError(f"评委账号：{user.get_username()} 已是{trade.name}的评委")
    if TradeJudge.objects.filter(trade=trade, name=name).exists():
        raise ContestError(f"评委姓名：{trade.name}已有名为 {name} 的评委")
    judge = TradeJudge.objects.create(trade=trade, user=user, name=name)
    audit_record(
        actor=actor, action="contest.judge_assign", target=trade, detail={"user_id": user.pk, "name": name}
    )
    return judge


def _judge_sheets(assignment: TradeJudge) -> QuerySet[JudgeScore]:
    """The sheets in the assignment's trade carrying the judge's name or recorded from their account."""
    return JudgeScore.objects.filter(
        Q(registration__trade_id=assignment.trade_id) | Q(team__trade_id=assignment.trade_id),
        Q(judge=assignment.name) | Q(judge_user_id=assignment.user_id),
    )


@transaction.atomic
def _assignment_locked(assignment: TradeJudge) -> TradeJudge:
    """The assignment's row, locked FOR UPDATE; ContestError when the judge was removed meanwhile."""
    # order_by("pk"): the model's ordering joins the trade and the contest, and FOR UPDATE would lock
    # their rows too (every other sheet of the contest would wait).
    locked = TradeJudge.objects.select_for_update().filter(pk=assignment.pk).order_by("pk").first()
    if locked is None:
        raise ContestError(f"评委：{assignment.name} 已不是{assignment.trade.name}的评委")
    return locked


def judge_unassign(*, assignment: TradeJudge, actor: Any | None = None) -> None:
    """Remove a judge from a trade, only while no sheet of theirs is recorded in it.

    Refuses (ContestError) an actor who may not manage the contest, and (JudgeHasScores) a judge with
    sheets: the sheets carry the judge's name and count in the finals, so the assignment stays with
    them. The row is locked first, so two removals do not both pass. Audited with the name and account.
    """
    trade = assignment.trade
    if actor is not None and not _may_manage(actor, trade):
        raise ContestError("无权为该竞赛撤销评委")
    locked = _assignment_locked(assignment)
    sheets = _judge_sheets(locked).count()
    if sheets:
        raise JudgeHasScores(f"评委：{locked.name} 已评分 {sheets} 份，不能撤销")
    locked.delete()
    audit_record(
        actor=actor,
        action="contest.judge_unassign",
        target=trade,
        detail={"user_id": locked.user_id, "name": locked.name},
    )


# --- reads for the staff judges page (the viewer manages the contest) ---


@dataclass(frozen=True)
class TradeJudgeRow:
    assignment: TradeJudge
    sheets: int  # sheets this judge has recorded in the trade

    @property
    def removable(self) -> bool:
        return self.sheets == 0


def trade_judge_list(*, viewer: Any, trade: Trade) -> list[TradeJudgeRow]:
    """The trade's judges with their accounts and how many sheets each has scored; 404 outside the scope.

    Two queries: the assignments, and one GROUP BY of the trade's sheets by judge name and account.
    """
    if not _may_manage(viewer, trade):
        raise Http404
    judges = list(TradeJudge.objects.filter(trade=trade).select_related("user").order_by("assigned_at", "pk"))
    counts = (
        JudgeScore.objects.filter(Q(registration__trade=trade) | Q(team__trade=trade))
        .values("judge", "judge_user_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    by_name = {j.name: j.pk for j in judges}
    by_user = {j.user_id: j.pk for j in judges}
    sheets: dict[int, int] = {}
    for row in counts:
        # A sheet is the judge's by the name it carries (as the ranking reads it), else by its account.
        owner = by_name.get(row["judge"]) or by_user.get(row["judge_user_id"])
        if owner is not None:
            sheets[owner] = sheets.get(owner, 0) + row["n"]
    return [TradeJudgeRow(assignment=j, sheets=sheets.get(j.pk, 0)) for j in judges]


def judge_candidate_list(*, viewer: Any, trade: Trade) -> QuerySet:
    """Accounts the viewer may make judges of the trade: staff or admin of the organising union or below,
    not already judging it; 404 outside the viewer's scope."""
    if not _may_manage(viewer, trade):
        raise Http404
    return _judge_candidates(trade).exclude(contest_judging__trade=trade).prefetch_related("roles__org")


def access_trade_judge(viewer: Any, trade: Trade, judge_id: int) -> TradeJudge:
    """One judge of the trade, for a viewer who manages its contest; 404 otherwise."""
    if not _may_manage(viewer, trade):
        raise Http404
    found = TradeJudge.objects.filter(trade=trade, pk=judge_id).select_related("trade__contest").first()
    if found is None:
        raise Http404
    return found


# --- reads for the judging pages (the viewer is the judge) ---


def judge_assignments(*, viewer: Any):
    """The trades the viewer judges (nothing for an anonymous viewer)."""
    if not getattr(viewer, "is_authenticated", False):
        return TradeJudge.objects.none()
    return (
        TradeJudge.objects.filter(user=viewer)
        .select_related("trade__contest")
        .order_by("trade__contest", "trade")
    )


def access_judging(viewer: Any, trade_id: int) -> TradeJudge:
    """The viewer's assignment to the trade; 404 for a trade they do not judge."""
    assignment = judge_assignments(viewer=viewer).filter(trade_id=trade_id).first()
    if assignment is None:
        raise Http404
    return assignment


@dataclass(frozen=True)
class JudgingEntry:
    entry_id: int  # the registration (individual) or the team
    label: str  # admission ticket, or team name
    detail: str  # name, or the team's unit
    sheet: JudgeScore | None  # this judge's sheet, if filled in


def judging_entries(*, assignment: TradeJudge) -> list[JudgingEntry]:
    """The finalists (or finalist teams) of the judge's trade, each with this judge's sheet if any."""
    from .ranking import preliminary_results
    from .teams import team_preliminary_results

    trade = assignment.trade
    policy = policy_of(trade.contest)
    tie_rule = policy.tie_rule if policy else ("total_desc",)
    if trade.contest.entry == "team":
        finalists = [
            (r.team_id, r.name, r.enterprise) for r in team_preliminary_results(trade, tie_rule) if r.advances
        ]
        sheets = {s.team_id: s for s in JudgeScore.objects.filter(team__trade=trade, judge=assignment.name)}
    else:
        # Finalists are shown by admission ticket only: the judges score the work, not the name.
        finalists = [
            (r.registration_id, r.ticket, "") for r in preliminary_results(trade, tie_rule) if r.advances
        ]
        sheets = {
            s.registration_id: s
            for s in JudgeScore.objects.filter(registration__trade=trade, judge=assignment.name)
        }
    return [
        JudgingEntry(entry_id=i, label=label, detail=detail, sheet=sheets.get(i))
        for i, label, detail in finalists
    ]


def access_judging_entry(assignment: TradeJudge, entry_id: int) -> JudgingEntry:
    """One finalist of the judge's trade; 404 for anybody else (not a finalist, another trade)."""
    found = next((e for e in judging_entries(assignment=assignment) if e.entry_id == entry_id), None)
    if found is None:
        raise Http404
    return found
