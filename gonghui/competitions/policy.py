"""A contest's rules as data: stages, trades, advancement, weights, the tie rule and the award table.

Each contest's document is a YAML file under `policies/` (`contest_<who>_<year>.yaml`) naming its
issuer, document, effective date and version. Loading validates every value, so a typo in a policy
fails at load time (with the file and the key) rather than mis-ranking anybody.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

import yaml

POLICY_DIR = Path(__file__).resolve().parents[2] / "policies"

LEVELS = ("national", "province", "city", "county", "industry", "enterprise")
ENTRIES = ("individual", "team")
TIE_KEYS = ("total_desc", "practical_desc", "theory_desc", "theory_duration_asc")
AWARD_KINDS = ("honour", "title", "cash", "promotion")
# Who may enter: union members only, or members and non-members alike.
ELIGIBILITIES = ("members_only", "members_and_non_members")


class ContestPolicyError(ValueError):
    """A contest policy file that is missing, malformed or out of range; the message names file and key."""


@dataclass(frozen=True)
class Award:
    first_rank: int
    last_rank: int
    kind: str
    name: str
    amount: Decimal | None = None  # yuan before tax, for cash awards
    conferred_by: tuple[str, ...] = ()  # the bodies the document names as conferring it (else the organiser)

    def covers(self, rank: int) -> bool:
        return self.first_rank <= rank <= self.last_rank


@dataclass(frozen=True)
class Criterion:
    """One line of a trade's practical score sheet: a code, its name and the most points it gives."""

    code: str
    name: str
    max_points: Decimal


@dataclass(frozen=True)
class TeamRules:
    """A team contest's team: how many members (the leader counted) it may have."""

    min_size: int
    max_size: int


@dataclass(frozen=True)
class TradeRules:
    code: str
    name: str
    advancement: str  # "quota" or "cutoff"
    quota: int | None
    cutoff: Decimal | None
    theory_weight: Decimal
    practical_weight: Decimal
    time_limit_minutes: int
    # The practical score sheet, in the order judges fill it in; points add up to 100. Empty: one score per judge.
    criteria: tuple[Criterion, ...] = ()


@dataclass(frozen=True)
class ContestPolicy:
    file_name: str
    issuer: str
    document: str
    effective: dt.date
    version: int
    code: str
    name: str
    level: str
    entry: str
    bank_public: bool
    co_organisers: tuple[str, ...]
    registration: tuple[dt.datetime, dt.datetime]
    training: tuple[dt.datetime, dt.datetime]
    preliminary: tuple[dt.datetime, dt.datetime]
    finals: tuple[dt.date, dt.date]
    trades: tuple[TradeRules, ...]
    tie_rule: tuple[str, ...]
    awards: tuple[Award, ...]
    eligibility: str = "members_and_non_members"
    team: TeamRules | None = None  # set (and required) when entry is "team"

    @property
    def members_only(self) -> bool:
        return self.eligibility == "members_only"

    def trade(self, code: str) -> TradeRules | None:
        return next((t for t in self.trades if t.code == code), None)

    def awards_for_rank(self, rank: int) -> list[Award]:
        """The awards a finalist of this rank receives in their trade, in the table's order."""
        return [award for award in self.awards if award.covers(rank)]


# China Standard Time: dates in a policy are dates in China.
CST = dt.timezone(dt.timedelta(hours=8))


def _fail(file_name: str, key: str, why: str) -> ContestPolicyError:
    return ContestPolicyError(f"{file_name}：{key} {why}")


def _date(value, file_name: str, key: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise _fail(file_name, key, f"不是日期：{value!r}") from None


def _moment(value, file_name: str, key: str, *, end: bool) -> dt.datetime:
    """A datetime; a bare date means the start of that day (or, for the end of a stage, its last second) in China."""
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime.combine(value, dt.time(23, 59, 59) if end else dt.time(0, 0))
    else:
        try:
            moment = dt.datetime.fromisoformat(str(value))
        except ValueError:
            raise _fail(file_name, key, f"不是日期或时间：{value!r}") from None
        if len(str(value)) == 10:
            moment = dt.datetime.combine(moment.date(), dt.time(23, 59, 59) if end else dt.time(0, 0))
    return moment if moment.tzinfo else moment.replace(tzinfo=CST)


def _span(stages: dict, name: str, file_name: str, *, dates_only: bool = False):
    value = stages.get(name)
    key = f"contest.stages.{name}"
    if not isinstance(value, list) or len(value) != 2:
        raise _fail(file_name, key, "应为 [开始, 结束]")
    if dates_only:
        start, end = _date(value[0], file_name, key), _date(value[1], file_name, key)
    else:
        start = _moment(value[0], file_name, key, end=False)
        end = _moment(value[1], file_name, key, end=True)
    if start > end:
        raise _fail(file_name, key, "开始晚于结束")
    return start, end


def _decimal(
    value, file_name: str, key: str, *, low: Decimal = Decimal(0), high: Decimal | None = None
) -> Decimal:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise _fail(file_name, key, f"不是数字：{value!r}") from None
    if number < low or (high is not None and number > high):
        raise _fail(file_name, key, f"超出范围：{value!r}")
    return number


def _trade(item: dict, defaults: dict, file_name: str, index: int) -> TradeRules:
    key = f"trades[{index}]"
    if not isinstance(item, dict) or not item.get("code") or not item.get("name"):
        raise _fail(file_name, key, "需要 code 与 name")
    merged = {**defaults, **item}
    advancement = merged.get("advancement") or {}
    rule = advancement.get("rule")
    quota = cutoff = None
    if rule == "quota":
        quota = advancement.get("quota")
        if not isinstance(quota, int) or quota < 1:
            raise _fail(file_name, f"{key}.advancement.quota", "应为正整数")
    elif rule == "cutoff":
        cutoff = _decimal(advancement.get("cutoff"), file_name, f"{key}.advancement.cutoff")
    else:
        raise _fail(file_name, f"{key}.advancement.rule", "应为 quota 或 cutoff")
    weights = merged.get("weights") or {}
    theory = _decimal(weights.get("theory"), file_name, f"{key}.weights.theory", high=Decimal(1))
    practical = _decimal(weights.get("practical"), file_name, f"{key}.weights.practical", high=Decimal(1))
    if theory + practical != 1:
        raise _fail(file_name, f"{key}.weights", "理论与实操权重之和应为 1")
    minutes = merged.get("time_limit_minutes")
    if not isinstance(minutes, int) or minutes < 1:
        raise _fail(file_name, f"{key}.time_limit_minutes", "应为正整数")
    criteria = _criteria(merged.get("criteria"), file_name, f"{key}.criteria")
    return TradeRules(
        code=str(item["code"]),
        name=str(item["name"]),
        advancement=rule,
        quota=quota,
        cutoff=cutoff,
        theory_weight=theory,
        practical_weight=practical,
        time_limit_minutes=minutes,
        criteria=criteria,
    )


def _criteria(items, file_name: str, key: str) -> tuple[Criterion, ...]:
    """A score sheet: a list of {code, name, max_points}; codes unique, points positive and adding up to 100."""
    if items is None:
        return ()
    if not isinstance(items, list) or not items:
        raise _fail(file_name, key, "应为评分项列表")
    criteria = []
    for index, item in enumerate(items):
        where = f"{key}[{index}]"
        if not isinstance(item, dict) or not item.get("code") or not item.get("name"):
            raise _fail(file_name, where, "需要 code 与 name")
        points = _decimal(item.get("max_points"), file_name, f"{where}.max_points", low=Decimal("0.01"))
        criteria.append(Criterion(code=str(item["code"]), name=str(item["name"]), max_points=points))
    codes = [c.code for c in criteria]
    if len(set(codes)) != len(codes):
        raise _fail(file_name, key, "评分项代码重复")
    total = sum((c.max_points for c in criteria), Decimal(0))
    if total != 100:
        raise _fail(file_name, key, f"各评分项满分之和应为 100（现为 {total}）")
    return tuple(criteria)


def _team(value, entry: str, file_name: str) -> TeamRules | None:
    key = "contest.team"
    if entry != "team":
        if value:
            raise _fail(file_name, key, "只有团体赛（entry: team）才设团队规模")
        return None
    if not isinstance(value, dict):
        raise _fail(file_name, key, "团体赛需要 {min_size, max_size}")
    low, high = value.get("min_size"), value.get("max_size")
    if not isinstance(low, int) or low < 1:
        raise _fail(file_name, f"{key}.min_size", "应为正整数")
    if not isinstance(high, int) or high < low:
        raise _fail(file_name, f"{key}.max_size", "应为不小于 min_size 的整数")
    return TeamRules(min_size=low, max_size=high)


def _award(item: dict, file_name: str, index: int) -> Award:
    key = f"awards[{index}]"
    if not isinstance(item, dict):
        raise _fail(file_name, key, "格式不对")
    ranks = item.get("ranks")
    if not (
        isinstance(ranks, list) and len(ranks) == 2 and all(isinstance(r, int) and r >= 1 for r in ranks)
    ):
        raise _fail(file_name, f"{key}.ranks", "应为 [起始名次, 结束名次]")
    if ranks[0] > ranks[1]:
        raise _fail(file_name, f"{key}.ranks", "起始名次大于结束名次")
    kind = item.get("kind")
    if kind not in AWARD_KINDS:
        raise _fail(file_name, f"{key}.kind", f"应为 {'/'.join(AWARD_KINDS)} 之一")
    if not item.get("name"):
        raise _fail(file_name, f"{key}.name", "不能为空")
    amount = None
    if kind == "cash":
        amount = _decimal(item.get("amount"), file_name, f"{key}.amount", low=Decimal("0.01"))
    conferred_by = item.get("conferred_by") or ()
    if isinstance(conferred_by, str):
        conferred_by = (conferred_by,)
    return Award(
        first_rank=ranks[0], last_rank=ranks[1], kind=kind, name=str(item["name"]), amount=amount,
        conferred_by=tuple(str(x) for x in conferred_by),
    )  # fmt: skip


def contest_policy(file_name: str, *, directory: Path | None = None) -> ContestPolicy:
    """The contest policy in `policies/<file_name>`, validated; `ContestPolicyError` names the key at fault."""
    if "/" in file_name or "\\" in file_name or not file_name.endswith(".yaml"):
        raise ContestPolicyError(f"政策文件名不合法：{file_name}")
    path = (directory or POLICY_DIR) / file_name
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ContestPolicyError(f"{file_name}：无法读取（{exc}）") from None
    if not isinstance(data, dict):
        raise ContestPolicyError(f"{file_name}：不是键值表")
    for key in ("issuer", "document", "effective", "version", "contest", "trades", "awards"):
        if key not in data:
            raise _fail(file_name, key, "缺失")
    contest = data["contest"] or {}
    for key in ("code", "name", "level", "stages"):
        if not contest.get(key):
            raise _fail(file_name, f"contest.{key}", "缺失")
    if contest["level"] not in LEVELS:
        raise _fail(file_name, "contest.level", f"应为 {'/'.join(LEVELS)} 之一")
    entry = contest.get("entry", "individual")
    if entry not in ENTRIES:
        raise _fail(file_name, "contest.entry", f"应为 {'/'.join(ENTRIES)} 之一")
    eligibility = contest.get("eligibility", "members_and_non_members")
    if eligibility not in ELIGIBILITIES:
        raise _fail(file_name, "contest.eligibility", f"应为 {'/'.join(ELIGIBILITIES)} 之一")
    team = _team(contest.get("team"), entry, file_name)
    stages = contest["stages"]
    registration = _span(stages, "registration", file_name)
    training = _span(stages, "training", file_name)
    preliminary = _span(stages, "preliminary", file_name)
    finals = _span(stages, "finals", file_name, dates_only=True)
    if preliminary[1].astimezone(CST).date() > finals[0]:
        raise _fail(file_name, "contest.stages", "预赛应在决赛之前结束")
    defaults = data.get("defaults") or {}
    if not isinstance(data["trades"], list) or not data["trades"]:
        raise _fail(file_name, "trades", "至少需要一个工种")
    trades = tuple(_trade(item, defaults, file_name, i) for i, item in enumerate(data["trades"]))
    codes = [t.code for t in trades]
    if len(set(codes)) != len(codes):
        raise _fail(file_name, "trades", "工种代码重复")
    tie_rule = tuple(data.get("tie_rule") or ("total_desc",))
    unknown = [key for key in tie_rule if key not in TIE_KEYS]
    if unknown:
        raise _fail(file_name, "tie_rule", f"未知的排序键 {unknown[0]}")
    try:
        version = int(data["version"])
    except (TypeError, ValueError):
        raise _fail(file_name, "version", "应为整数") from None
    return ContestPolicy(
        file_name=file_name,
        issuer=str(data["issuer"]),
        document=str(data["document"]),
        effective=_date(data["effective"], file_name, "effective"),
        version=version,
        code=str(contest["code"]),
        name=str(contest["name"]),
        level=contest["level"],
        entry=entry,
        bank_public=bool(contest.get("bank_public", False)),
        co_organisers=tuple(str(x) for x in contest.get("co_organisers") or ()),
        registration=registration,
        training=training,
        preliminary=preliminary,
        finals=finals,
        trades=trades,
        tie_rule=tie_rule,
        awards=tuple(_award(item, file_name, i) for i, item in enumerate(data["awards"] or ())),
        eligibility=eligibility,
        team=team,
    )
