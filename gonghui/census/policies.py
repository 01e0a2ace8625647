"""The census policies kept as data under `policies/`: header synonyms and the occupation-group dictionary.

Each file names its issuer, document, effective date and version; loading validates the fields and
group codes it uses, so a typo in a policy fails at load time rather than misfiling rows.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from gonghui.census.types import FIELDS

POLICY_DIR = Path(__file__).resolve().parents[2] / "policies"
HEADERS_FILE = "census_headers.yaml"
GROUPS_FILE = "occupation_groups.yaml"
# The occupation group codes (gonghui/orgs/migrations/0002_occupation_groups.py).
GROUP_CODES = frozenset(
    "truck_driver courier rider carer housekeeper mall_staff estate_agent security_guard "
    "ride_hailing platform_other".split()
)


class PolicyError(ValueError):
    """A policy file that is missing, malformed or names an unknown field or group."""


@dataclass(frozen=True)
class PolicyInfo:
    issuer: str
    document: str
    effective: dt.date
    version: int


@dataclass(frozen=True)
class HeaderPolicy:
    info: PolicyInfo
    synonyms: dict[str, list[str]]  # field -> header texts


@dataclass(frozen=True)
class Rule:
    group: str
    keywords: tuple[str, ...]


@dataclass(frozen=True)
class AmbiguousWords:
    words: tuple[str, ...]
    groups: frozenset[str]  # the groups the employer or source may choose among
    employer_groups: dict[
        str, str
    ]  # hinted group -> group for this word (a courier firm's driver drives trucks)
    default: str


@dataclass(frozen=True)
class GroupPolicy:
    info: PolicyInfo
    occupation: tuple[Rule, ...]
    ambiguous: tuple[AmbiguousWords, ...]
    employers: tuple[Rule, ...]
    sources: tuple[Rule, ...]
    source_kind_default: dict[str, str]


def fold(text: str) -> str:
    """How occupation, employer and source texts and keywords are compared: NFKC, no spaces, lower-case."""
    return "".join(unicodedata.normalize("NFKC", text or "").split()).lower()


def _load(name: str, directory: Path | None) -> dict:
    path = (directory or POLICY_DIR) / name
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise PolicyError(f"{path}: {exc}") from None
    if not isinstance(data, dict):
        raise PolicyError(f"{path}: not a mapping")
    return data


def _info(data: dict, name: str) -> PolicyInfo:
    try:
        effective = data["effective"]
        if isinstance(effective, str):
            effective = dt.date.fromisoformat(effective)
        return PolicyInfo(
            issuer=str(data["issuer"]),
            document=str(data["document"]),
            effective=effective,
            version=int(data["version"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise PolicyError(
            f"{name}: header needs issuer, document, effective date and version ({exc})"
        ) from None


def _group(code: str, where: str) -> str:
    if code not in GROUP_CODES:
        raise PolicyError(f"{GROUPS_FILE}: unknown group {code!r} in {where}")
    return code


def _rules(items, where: str) -> tuple[Rule, ...]:
    return tuple(
        Rule(group=_group(item["group"], where), keywords=tuple(fold(str(k)) for k in item["keywords"]))
        for item in items or ()
    )


@cache
def header_policy(directory: Path | None = None) -> HeaderPolicy:
    """The header synonyms in force (policies/census_headers.yaml)."""
    data = _load(HEADERS_FILE, directory)
    fields = data.get("fields") or {}
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise PolicyError(f"{HEADERS_FILE}: unknown fields {sorted(unknown)}")
    if "name" not in fields:
        raise PolicyError(f"{HEADERS_FILE}: needs synonyms for name")
    return HeaderPolicy(
        info=_info(data, HEADERS_FILE),
        synonyms={f: [str(w) for w in words] for f, words in fields.items()},
    )


@cache
def group_policy(directory: Path | None = None) -> GroupPolicy:
    """The occupation-group dictionary in force (policies/occupation_groups.yaml)."""
    data = _load(GROUPS_FILE, directory)
    try:
        ambiguous = tuple(
            AmbiguousWords(
                words=tuple(fold(str(w)) for w in item["words"]),
                groups=frozenset(_group(g, "ambiguous") for g in item["groups"]),
                employer_groups={
                    _group(k, "ambiguous"): _group(v, "ambiguous")
                    for k, v in (item.get("employer_groups") or {}).items()
                },
                default=_group(item["default"], "ambiguous") if item.get("default") else "",
            )
            for item in data.get("ambiguous") or ()
        )
        return GroupPolicy(
            info=_info(data, GROUPS_FILE),
            occupation=_rules(data["occupation"], "occupation"),
            ambiguous=ambiguous,
            employers=_rules(data.get("employers"), "employers"),
            sources=_rules(data.get("sources"), "sources"),
            source_kind_default={
                str(k): _group(v, "source_kind_default")
                for k, v in (data.get("source_kind_default") or {}).items()
            },
        )
    except (KeyError, TypeError) as exc:
        raise PolicyError(f"{GROUPS_FILE}: malformed ({exc})") from None
