"""Member numbers: the rule in force per issuing union (policies/member_numbers.yaml) and the counter.

A membership's number is issued by the deepest union at or above its grassroots union that has a
rule in the policy ("*" for a tree without one). The number is the rule's prefix (with `{issuer}`
and `{year}` filled in) plus a zero-padded sequence counted per prefix in `MemberNumberCounter`.
The counter is taken with a conditional UPDATE (`next = old + n WHERE next = old`, retried), so two
approvals never take the same range; `MemberNumber.number` is unique, so a number is never issued
twice even if a rule were changed to produce numbers seen before.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from gonghui.lib.sequences import SequenceContended, SequenceExhausted, reserve_range
from gonghui.orgs.models import Org

from .models import MemberNumberCounter

POLICY_DIR = Path(__file__).resolve().parents[2] / "policies"
POLICY_FILE = "member_numbers.yaml"
DEFAULT_ISSUER = "*"
ON_TRANSFER = ("keep", "reissue", "keep_within_issuer")


class NumberingError(ValueError):
    """The member-number policy is missing, malformed, or cannot number this membership."""


@dataclass(frozen=True)
class NumberRule:
    issuing_union: str  # an org code, or "*"
    issuer_name: str
    document: str
    effective_from: dt.date
    prefix: str
    digits: int
    on_transfer: str

    @property
    def label(self) -> str:
        return f"{self.issuing_union}@{self.effective_from.isoformat()}"


@dataclass(frozen=True)
class NumberPlan:
    """How numbers are issued for one union on one date: the rule, the issuing org and the prefix."""

    rule: NumberRule
    issuer: Org
    prefix: str


def _date(value, where: str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise NumberingError(f"会员编号规则 {where}：生效日期 {value!r} 不是日期") from None


@cache
def _load_rules(directory: str | None = None) -> tuple[NumberRule, ...]:
    path = Path(directory or POLICY_DIR) / POLICY_FILE
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NumberingError(f"找不到会员编号规则文件 {path}") from None
    document = str(data.get("document", ""))
    rules: list[NumberRule] = []
    for entry in data.get("rules") or []:
        code = str(entry.get("issuing_union", "")).strip()
        if not code:
            raise NumberingError("会员编号规则：缺少 issuing_union")
        for version in entry.get("versions") or []:
            where = f"{code} 版本 {version.get('effective_from')}"
            prefix = str(version.get("prefix", ""))
            digits = int(version.get("digits", 0))
            on_transfer = str(version.get("on_transfer", "keep_within_issuer"))
            if not 4 <= digits <= 12:
                raise NumberingError(f"会员编号规则 {where}：digits 应在 4 到 12 之间")
            if on_transfer not in ON_TRANSFER:
                raise NumberingError(f"会员编号规则 {where}：on_transfer 只能是 {', '.join(ON_TRANSFER)}")
            try:
                prefix.format(issuer="X", year=2000)
            except (KeyError, IndexError, ValueError):
                raise NumberingError(f"会员编号规则 {where}：前缀只能使用 {{issuer}} 和 {{year}}") from None
            rules.append(
                NumberRule(
                    issuing_union=code,
                    issuer_name=str(entry.get("issuer", "")),
                    document=document,
                    effective_from=_date(version.get("effective_from"), where),
                    prefix=prefix,
                    digits=digits,
                    on_transfer=on_transfer,
                )
            )
    if not any(r.issuing_union == DEFAULT_ISSUER for r in rules):
        raise NumberingError('会员编号规则：缺少默认规则（issuing_union: "*"）')
    return tuple(rules)


def rules() -> tuple[NumberRule, ...]:
    return _load_rules(None)


def _ancestors_deepest_first(org: Org) -> list[Org]:
    ids = [int(i) for i in org.path.strip("/").split("/") if i]
    by_id = Org.objects.in_bulk(ids)
    return [by_id[i] for i in reversed(ids) if i in by_id] or [org]


def plan_for(org: Org, on: dt.date) -> NumberPlan:
    """The rule in force on `on` for memberships of `org`, the org that issues, and the prefix."""
    in_force: dict[str, NumberRule] = {}
    for rule in sorted(rules(), key=lambda r: r.effective_from):
        if rule.effective_from <= on:
            in_force[rule.issuing_union] = rule
    chain = _ancestors_deepest_first(org)
    for candidate in chain:
        if candidate.code in in_force:
            rule, issuer = in_force[candidate.code], candidate
            break
    else:
        if DEFAULT_ISSUER not in in_force:
            raise NumberingError(f"{on.isoformat()} 没有生效的会员编号规则")
        rule, issuer = in_force[DEFAULT_ISSUER], chain[-1]  # the root of the org's tree
    return NumberPlan(rule=rule, issuer=issuer, prefix=rule.prefix.format(issuer=issuer.code, year=on.year))


def reserve(prefix: str, count: int, digits: int) -> int:
    """Take `count` consecutive sequence values for `prefix`; returns the first.

    A conditional UPDATE on the counter row (retried when another transaction moved it first);
    the row is created on first use. Call inside the transaction that uses the numbers, so a
    rolled-back approval gives its range back unissued.
    """
    try:
        return reserve_range(MemberNumberCounter, prefix=prefix, count=count, digits=digits)
    except SequenceExhausted:
        raise NumberingError(f"会员编号前缀 {prefix} 的 {digits} 位序号已用完") from None
    except SequenceContended:
        raise NumberingError(f"会员编号前缀 {prefix} 争用过多，请重试") from None


def format_number(prefix: str, seq: int, digits: int) -> str:
    return f"{prefix}{seq:0{digits}d}"


def keeps_number_on_transfer(*, from_org: Org, to_org: Org, on: dt.date) -> bool:
    """Whether a transfer from `from_org` to `to_org` keeps the member number (the receiving rule decides)."""
    receiving = plan_for(to_org, on)
    if receiving.rule.on_transfer == "keep":
        return True
    if receiving.rule.on_transfer == "reissue":
        return False
    return plan_for(from_org, on).issuer.pk == receiving.issuer.pk
