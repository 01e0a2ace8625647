"""Certificate numbers: the rule in force per conferring union (policies/honour_certificates.yaml) and the counter.

A certificate number is the rule's prefix (`{union}` and `{year}` filled in) plus a zero-padded
sequence counted per prefix in `CertificateCounter`, taken by a conditional UPDATE (retried), so two
grants never take the same range; `Honour.certificate_no` is unique, so a number is never issued twice
even if a rule were changed to produce numbers seen before.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from gonghui.lib.sequences import SequenceContended, SequenceExhausted, reserve_range
from gonghui.orgs.models import Org

from .models import CertificateCounter

POLICY_DIR = Path(__file__).resolve().parents[2] / "policies"
POLICY_FILE = "honour_certificates.yaml"
DEFAULT = "*"


class CertificateNumberError(ValueError):
    """The certificate-number policy is missing, malformed, or has no rule for a union on a date."""


@dataclass(frozen=True)
class CertificateRule:
    conferring_union: str  # an org code, or "*"
    effective_from: dt.date
    prefix: str
    digits: int


@cache
def _load(directory: str | None = None) -> tuple[CertificateRule, ...]:
    path = Path(directory or POLICY_DIR) / POLICY_FILE
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CertificateNumberError(f"无法读取证书编号规则 {path}（{exc}）") from None
    found: list[CertificateRule] = []
    for entry in (data or {}).get("rules") or []:
        code = str(entry.get("conferring_union", "")).strip()
        if not code:
            raise CertificateNumberError(f"{POLICY_FILE}：rules 缺少 conferring_union")
        for version in entry.get("versions") or []:
            where = f"{POLICY_FILE}：{code} 版本 {version.get('effective_from')}"
            try:
                effective = dt.date.fromisoformat(str(version.get("effective_from")))
            except ValueError:
                raise CertificateNumberError(f"{where}：effective_from 不是日期") from None
            prefix, digits = str(version.get("prefix", "")), version.get("digits")
            if not isinstance(digits, int) or not 3 <= digits <= 12:
                raise CertificateNumberError(f"{where}：digits 应为 3 到 12 的整数")
            try:
                prefix.format(union="X", year=2000)
            except (KeyError, IndexError, ValueError):
                raise CertificateNumberError(f"{where}：prefix 只能使用 {{union}} 和 {{year}}") from None
            found.append(CertificateRule(code, effective, prefix, digits))
    if not any(r.conferring_union == DEFAULT for r in found):
        raise CertificateNumberError(f'{POLICY_FILE}：缺少默认规则（conferring_union: "*"）')
    return tuple(found)


def rule_for(org: Org, on: dt.date) -> tuple[CertificateRule, str]:
    """The rule in force on `on` for certificates conferred by `org`, and the prefix it gives."""
    in_force: dict[str, CertificateRule] = {}
    for rule in sorted(_load(None), key=lambda r: r.effective_from):
        if rule.effective_from <= on:
            in_force[rule.conferring_union] = rule
    ids = [int(i) for i in org.path.strip("/").split("/") if i]
    codes = dict(Org.objects.filter(pk__in=ids).values_list("pk", "code")) if ids else {}
    chain = [codes[i] for i in reversed(ids) if i in codes] or [org.code]
    rule = next((in_force[c] for c in chain if c in in_force), in_force.get(DEFAULT))
    if rule is None:
        raise CertificateNumberError(f"{on.isoformat()} 没有生效的荣誉证书编号规则")
    return rule, rule.prefix.format(union=org.code, year=on.year)


def reserve(prefix: str, count: int, digits: int) -> int:
    """Take `count` consecutive sequence values for `prefix` and return the first (conditional UPDATE, retried).

    Call inside the transaction that writes the honours, so a rolled-back grant gives its range back.
    """
    try:
        return reserve_range(CertificateCounter, prefix=prefix, count=count, digits=digits)
    except SequenceExhausted:
        raise CertificateNumberError(f"证书编号前缀 {prefix} 的 {digits} 位序号已用完") from None
    except SequenceContended:
        raise CertificateNumberError(f"证书编号前缀 {prefix} 争用过多，请重试") from None
