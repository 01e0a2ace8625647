"""The coverage policy (policies/weave_coverage.yaml): the order of the rules, the safety net, the region basis.

The file names its issuer and document and holds dated versions; `coverage_policy(on)` gives the
version in force on a date (the latest whose `effective` date is on or before it). Loading
validates every version, so a typo in the policy fails when it is read, not halfway through a run.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml
from django.utils import timezone

from gonghui.orgs.models import OrgKind

from .models import CoverageRule

POLICY_DIR = Path(__file__).resolve().parents[2] / "policies"
COVERAGE_FILE = "weave_coverage.yaml"
RULES = tuple(CoverageRule.values)
REGION_BASES = ("work", "home")
HOLE = "hole"
# Each rule takes unions of the org kind of the same name (an enterprise rule finds enterprise unions...).
RULE_KIND = {rule: OrgKind(rule).value for rule in RULES}
_PLACEHOLDER = re.compile(r"{([^{}]*)}")


class CoveragePolicyError(ValueError):
    """The coverage policy file is missing, malformed, or names an unknown rule or region basis."""


@dataclass(frozen=True)
class CoveragePolicy:
    issuer: str
    document: str
    effective: dt.date
    version: int
    order: tuple[str, ...]  # rules, first tried first
    safety_net: frozenset[str]  # rules whose unions are the safety net (兜底)
    region_basis: tuple[str, ...]  # "work" / "home", the first known one places a person
    reasons: dict[str, str]  # rule (or "hole") -> words; {org} is the union's name

    def reason(self, rule: str, org_name: str = "") -> str:
        """The words for a primary union found by `rule` ("" or "hole": no union)."""
        if not rule or rule == HOLE:
            return self.reasons[HOLE]
        return self.reasons[rule].replace("{org}", org_name)

    def position(self, rule: str) -> int:
        return self.order.index(rule)


def _date(value, where: str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise CoveragePolicyError(f"{where}: effective 应为日期 YYYY-MM-DD，不是 {value!r}") from None


def _names(value, allowed: tuple[str, ...], where: str, *, empty_ok: bool = False) -> tuple[str, ...]:
    if not isinstance(value, list) or (not value and not empty_ok):
        raise CoveragePolicyError(f"{where} 应为非空列表（可选：{'、'.join(allowed)}）")
    names = tuple(str(v) for v in value)
    unknown = [n for n in names if n not in allowed]
    if unknown:
        raise CoveragePolicyError(f"{where} 中有未知的项 {'、'.join(unknown)}（可选：{'、'.join(allowed)}）")
    if len(set(names)) != len(names):
        raise CoveragePolicyError(f"{where} 中有重复的项")
    return names


def _version(item, issuer: str, document: str, where: str) -> CoveragePolicy:
    if not isinstance(item, dict):
        raise CoveragePolicyError(f"{where}: 每个版本应为一个映射")
    try:
        version = int(item["version"])
        effective = _date(item["effective"], where)
    except KeyError as exc:
        raise CoveragePolicyError(f"{where}: 缺少 {exc.args[0]}") from None
    except (TypeError, ValueError):
        raise CoveragePolicyError(f"{where}: version 应为整数") from None
    order = _names(item.get("order"), RULES, f"{where} order")
    safety_net = _names(item.get("safety_net", []), order, f"{where} safety_net", empty_ok=True)
    basis = _names(item.get("region_basis"), REGION_BASES, f"{where} region_basis")
    reasons = item.get("reasons")
    if not isinstance(reasons, dict):
        raise CoveragePolicyError(f"{where}: 缺少 reasons（每条规则和 hole 的说明）")
    words: dict[str, str] = {}
    for key in (*order, HOLE):
        text = str(reasons.get(key) or "").strip()
        if not text:
            raise CoveragePolicyError(f"{where} reasons: 缺少 {key} 的说明")
        bad = [p for p in _PLACEHOLDER.findall(text) if p != "org"]
        if bad:
            raise CoveragePolicyError(f"{where} reasons.{key}: 只能用 {{org}}，不认识 {{{bad[0]}}}")
        words[key] = text
    return CoveragePolicy(
        issuer=issuer,
        document=document,
        effective=effective,
        version=version,
        order=order,
        safety_net=frozenset(safety_net),
        region_basis=basis,
        reasons=words,
    )


@cache
def _versions(path: Path, mtime: float) -> tuple[CoveragePolicy, ...]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CoveragePolicyError(f"{path}: {exc}") from None
    if not isinstance(data, dict):
        raise CoveragePolicyError(f"{path}: 应为一个映射")
    issuer, document = str(data.get("issuer") or ""), str(data.get("document") or "")
    if not issuer or not document:
        raise CoveragePolicyError(f"{path}: 缺少 issuer（发文单位）或 document（文件名称）")
    items = data.get("versions")
    if not isinstance(items, list) or not items:
        raise CoveragePolicyError(f"{path}: 缺少 versions")
    versions = [
        _version(item, issuer, document, f"{path.name} versions[{i}]") for i, item in enumerate(items)
    ]
    if len({v.effective for v in versions}) != len(versions):
        raise CoveragePolicyError(f"{path}: 两个版本的 effective 日期相同")
    return tuple(sorted(versions, key=lambda v: v.effective))


def coverage_policy(on: dt.date | None = None, *, directory: Path | None = None) -> CoveragePolicy:
    """The coverage policy in force on `on` (default: today); CoveragePolicyError if none is yet."""
    path = (directory or POLICY_DIR) / COVERAGE_FILE
    try:
        mtime = path.stat().st_mtime
    except OSError:
        raise CoveragePolicyError(f"找不到覆盖规则文件 {path}") from None
    on = on or timezone.localdate()
    in_force = [v for v in _versions(path, mtime) if v.effective <= on]
    if not in_force:
        raise CoveragePolicyError(f"{path.name}: {on} 时还没有生效的覆盖规则")
    return in_force[-1]
